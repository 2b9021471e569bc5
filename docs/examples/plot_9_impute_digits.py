"""
======================================
Filling in missing pixels of digits
======================================

We hide 40 % of the pixels of the 8×8 digits of
:func:`~sklearn.datasets.load_digits`, at random, and fill them in again with
:class:`~skae.AutoencoderImputer`, with :class:`~sklearn.impute.KNNImputer` and
with :class:`~sklearn.impute.IterativeImputer`. The autoencoder learns from the
observed pixels only: its loss counts them and nothing else, and the holes
enter the network as the pixel's mean, with the mask of observed pixels as
further inputs. The imputers see the raw pixel intensities (0 to 16): the
autoencoder standardizes them itself and answers in the same units.
"""

# %%
# Hide pixels, impute them
# ------------------------
# Every imputer gets the same masked images; we measure the mean squared error
# over the hidden pixels only (in intensity units, 0 to 16), and the fit time.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer

from skae import AutoencoderImputer

X, y = load_digits(return_X_y=True)
rng = np.random.RandomState(0)
hidden = rng.uniform(size=X.shape) < 0.4
X_missing = np.where(hidden, np.nan, X)

imputers = {
    "skae": AutoencoderImputer(random_state=0),
    "KNN": KNNImputer(n_neighbors=5, keep_empty_features=True),
    "iterative": IterativeImputer(max_iter=10, random_state=0, keep_empty_features=True),
}
imputed = {}
for name, imputer in imputers.items():
    tic = time.perf_counter()
    imputed[name] = imputer.fit_transform(X_missing)
    seconds = time.perf_counter() - tic
    error = np.mean((imputed[name][hidden] - X[hidden]) ** 2)
    print(f"{name:>9}: MSE on the hidden pixels {error:5.2f}, fit {seconds:4.1f} s")

# %%
# Every observed pixel comes back exactly as it was; only the holes are new.
observed = ~hidden
print(all(np.array_equal(imputed[name][observed], X[observed]) for name in imputers))

# %%
# What the imputations look like
# ------------------------------
# One row per image: the original, what the imputers saw (hidden pixels in
# red), and each imputation.
rows = [0, 5, 17, 42, 64]
columns = ["original", "with holes", *imputers]
fig, axes = plt.subplots(len(rows), len(columns), figsize=(8, 7.5), layout="constrained")
cmap = plt.get_cmap("gray_r").with_extremes(bad="tab:red")
for i, row in enumerate(rows):
    images = [X[row], X_missing[row], *(imputed[name][row] for name in imputers)]
    for ax, image in zip(axes[i], images, strict=True):
        ax.imshow(np.ma.masked_invalid(image.reshape(8, 8)), cmap=cmap, vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
for ax, title in zip(axes[0], columns, strict=True):
    ax.set_title(title)
plt.show()

# %%
# The autoencoder fills the holes from what it learned of whole digits; KNN
# averages five similar images, so its strokes blur where the neighbours
# disagree; the iterative imputer regresses each pixel linearly on the others.
# :ref:`missing` has the benchmark over more datasets and missing rates.
