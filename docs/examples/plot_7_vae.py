"""
==================================================
A variational autoencoder of handwritten digits
==================================================

:class:`~skae.VariationalAutoencoder` is a generative model: every image comes
from a code drawn from ``N(0, I)``, decoded into pixels. We fit one with a 2-D
code to the 8×8 :func:`~sklearn.datasets.load_digits`, look at the codes it gives
held-out digits, draw new digits from it next to real ones, and compare its
held-out log-likelihood with probabilistic PCA's, in the same units (nats per
image, on the standardized pixels).
"""

# %%
# The latent space
# ----------------
# :meth:`~skae.VariationalAutoencoder.transform` returns the posterior mean of
# each image's code. The KL term of the objective keeps the codes of the
# training images spread like ``N(0, I)``: a disc around the origin, with the
# digit classes in regions of it.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import VariationalAutoencoder
from skae.plotting import LatentSpaceDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# 150 epochs on all the training rows, the first 50 a KL warm-up (see the user
# guide's VAE page: on digits the validation ELBO of held-out rows would stop
# training too early); the stopping rule would run longer, hence the filter on
# its warning.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
vae = make_pipeline(
    StandardScaler(),
    VariationalAutoencoder(
        n_components=2, kl_warmup=50, max_iter=150, early_stopping=False, random_state=0
    ),
).fit(X_train)
codes = vae.transform(X_test)

fig, ax = plt.subplots(figsize=(5.5, 4.8), layout="constrained")
display = LatentSpaceDisplay(codes, y_test, name="posterior means of held-out digits")
display.plot(ax=ax)
display.legend_.set_title("digit")
circle = plt.Circle((0, 0), 2, fill=False, linestyle="--", color="grey")
ax.add_patch(circle)  # 2 standard deviations of the prior
ax.set_aspect("equal")
plt.show()

# %%
# New digits from the model
# -------------------------
# :meth:`~skae.VariationalAutoencoder.sample` draws codes from the prior and
# decodes them (here the decoder's mean, ``decoder_mean=True``: a draw from
# ``p(x|z)`` would add independent pixel noise). The pipeline's scaler maps
# them back to pixel intensities. Real held-out digits on top, samples below.
samples = vae[-1].sample(10, random_state=0, decoder_mean=True)
samples = vae[0].inverse_transform(samples)
fig, axes = plt.subplots(2, 10, figsize=(9, 2.2), layout="constrained")
for ax, image in zip(axes.ravel(), np.vstack([X_test[:10], samples]), strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
    ax.set_axis_off()
axes[0, 0].set_title("real", loc="left", fontsize=9)
axes[1, 0].set_title("sampled", loc="left", fontsize=9)
plt.show()

# %%
# The decoder over a grid of codes
# --------------------------------
# Decoding a grid of codes shows how the model lays the digits out: moving
# through the latent space morphs one digit into the next.
grid = np.linspace(-2, 2, 9)
fig, axes = plt.subplots(9, 9, figsize=(5, 5), layout="constrained")
for i, b in enumerate(grid[::-1]):
    images = vae[0].inverse_transform(
        vae[-1].inverse_transform(np.column_stack([grid, np.full(9, b)]))
    )
    for ax, image in zip(axes[i], images, strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_axis_off()
plt.show()

# %%
# Held-out log-likelihood against probabilistic PCA
# --------------------------------------------------
# :meth:`PCA.score <sklearn.decomposition.PCA.score>` is probabilistic PCA's
# exact mean log-likelihood; the VAE's ``score`` is a lower bound on its own,
# tighter with more importance samples. Both are in nats per image of
# standardized pixels, so they compare directly (higher is better).
pca = make_pipeline(StandardScaler(), PCA(n_components=2)).fit(X_train)
vae[-1].set_params(n_importance_samples=100)  # read when scoring: no refit
print(f"PCA:  {pca.score(X_test):8.2f} nats per image")
print(f"VAE:  {vae.score(X_test):8.2f} nats per image (a lower bound)")
