"""
=================================================
Handwritten digits: 2-D maps and reconstructions
=================================================

The 8×8 images of :func:`~sklearn.datasets.load_digits` are points in 64
dimensions. We map them to two dimensions with an autoencoder, with PCA and
with :class:`~sklearn.manifold.Isomap`, and compare how well each map keeps
neighbouring images together (trustworthiness, 1 is best). Then we look at what
the autoencoder keeps of an image as its code widens: the originals above their
reconstructions from 2, 4, 8 and 16 numbers.
"""

# %%
# Three 2-D maps
# --------------
# Every reducer gets the same standardized pixels. The maps are fitted on three
# quarters of the images and drawn for the held-out quarter.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import Isomap, trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.plotting import LatentSpaceDisplay, ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

reducers = {
    "skae": AutoencoderTransformer(n_components=2, early_stopping=True, random_state=0),
    "PCA": PCA(n_components=2),
    "Isomap": Isomap(n_components=2, n_neighbors=10),
}
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), layout="constrained")
for ax, (name, reducer) in zip(axes, reducers.items(), strict=True):
    pipe = make_pipeline(StandardScaler(), reducer).fit(X_train)
    codes = pipe.transform(X_test)
    trust = trustworthiness(pipe[0].transform(X_test), codes, n_neighbors=5)
    display = LatentSpaceDisplay(codes, y_test, name=f"{name}: trustworthiness {trust:.3f}")
    display.plot(ax=ax)
    display.legend_.set_title("digit")
    # A few held-out images may get codes far from all others; frame 98% of the
    # points so the bulk of the map stays readable.
    low, high = np.percentile(codes, [1, 99], axis=0)
    margin = 0.1 * (high - low)
    ax.set(
        xlim=(low[0] - margin[0], high[0] + margin[0]),
        ylim=(low[1] - margin[1], high[1] + margin[1]),
    )
plt.show()

# %%
# Reconstructions at several code widths
# --------------------------------------
# A code of ``n_components`` numbers per image, decoded back into pixels: the
# pipeline's ``inverse_transform`` also undoes the scaling. We print the
# held-out reconstruction error of the autoencoder and of PCA with the same
# number of components, on the standardized pixels.
widths = [2, 4, 8, 16]
originals = X_test[:10]
rows, errors = [], []
for n_components in widths:
    ae = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(n_components=n_components, early_stopping=True, random_state=0),
    ).fit(X_train)
    pca = make_pipeline(StandardScaler(), PCA(n_components=n_components)).fit(X_train)
    rows.append(ae.inverse_transform(ae.transform(originals)))
    X_scaled = ae[0].transform(X_test)
    errors.append(
        [
            np.mean((X_scaled - p[-1].inverse_transform(p[-1].transform(X_scaled))) ** 2)
            for p in (ae, pca)
        ]
    )
    print(
        f"n_components={n_components:2d}   MSE skae {errors[-1][0]:.3f}   PCA {errors[-1][1]:.3f}"
    )

display = ReconstructionDisplay(
    originals, rows, labels=[f"{k} codes" for k in widths], image_shape=(8, 8)
).plot()
display.figure_.suptitle("Held-out digits (top) and their reconstructions by skae")
plt.show()

# %%
# The reconstruction error against the width of the code, for both methods.
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(widths, [e[0] for e in errors], "o-", label="skae")
ax.plot(widths, [e[1] for e in errors], "s--", label="PCA")
ax.set_xscale("log", base=2)
ax.set_xticks(widths, labels=[str(k) for k in widths])
ax.set(xlabel="n_components", ylabel="held-out MSE (standardized pixels)")
ax.legend()
plt.show()
