"""
=============================================
Unfolding a curved 2-D manifold: skae vs PCA
=============================================

Points in four clusters on a plane are mapped into ten dimensions by a smooth
nonlinear function, so the data lie on a curved two-dimensional sheet. PCA can
only project that sheet onto the plane that fits it best, folding distant parts
of it onto each other; an autoencoder with a two-unit bottleneck can learn to
flatten it. We train both on the same standardized data and compare their 2-D
codes, their reconstructions, and two numbers: the held-out reconstruction error
(lower is better) and the trustworthiness of the codes (the share of
neighbourhoods kept, 1 is best).
"""

# %%
# The data
# --------
# :func:`~skae.datasets.make_manifold_clusters` returns the 10-D data, the
# cluster of each point and its 2-D coordinates before the nonlinear map, which
# we keep to look at the ground truth.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import make_manifold_clusters
from skae.plotting import LatentSpaceDisplay, LossCurveDisplay

X, y, latent = make_manifold_clusters(1500, random_state=0)
X_train, X_test, y_train, y_test, latent_train, latent_test = train_test_split(
    X, y, latent, random_state=0
)
print(X.shape)

# %%
# Training
# --------
# Both reducers sit behind a :class:`~sklearn.preprocessing.StandardScaler` in a
# pipeline. ``early_stopping=True`` holds out 10% of the training data, stops
# when their reconstruction loss stops improving and keeps the best weights.
autoencoder = make_pipeline(
    StandardScaler(),
    AutoencoderTransformer(n_components=2, early_stopping=True, random_state=0),
)
pca = make_pipeline(StandardScaler(), PCA(n_components=2))
autoencoder.fit(X_train)
pca.fit(X_train)

# %%
# The loss curves show the training and validation reconstruction losses per
# epoch; the dotted line marks the epoch whose weights were kept.
LossCurveDisplay.from_estimator(autoencoder)
plt.show()


# %%
# Scores
# ------
# Both are measured on the held-out test set, in the standardized space the
# reducers see.
def evaluate(pipe, X):
    X_scaled = pipe[0].transform(X)
    codes = pipe[-1].transform(X_scaled)
    mse = np.mean((X_scaled - pipe[-1].inverse_transform(codes)) ** 2)
    return mse, trustworthiness(X_scaled, codes, n_neighbors=10)


scores = {"skae": evaluate(autoencoder, X_test), "PCA": evaluate(pca, X_test)}
summary = "   ".join(
    f"{name}: MSE {mse:.3f}, trustworthiness {trust:.3f}" for name, (mse, trust) in scores.items()
)
print(summary)

# %%
# The latent spaces
# -----------------
# Left, the planar coordinates the data were made from; then the codes of the
# test points by PCA and by the autoencoder, coloured by cluster. A 2-D code is
# only defined up to a smooth deformation, so look for the clusters and their
# neighbours, not for the exact orientation.
# sphinx_gallery_thumbnail_number = 2
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
displays = [
    LatentSpaceDisplay(latent_test, y_test, name="ground truth (before the map)").plot(ax=axes[0]),
    LatentSpaceDisplay.from_estimator(pca, X_test, y_test, ax=axes[1], name="PCA"),
    LatentSpaceDisplay.from_estimator(autoencoder, X_test, y_test, ax=axes[2], name="skae"),
]
for display in displays:
    display.legend_.set_title("cluster")
fig.suptitle(summary)
plt.show()

# %%
# Original vs reconstructed features
# ----------------------------------
# Each point is one feature of one test sample: its standardized value against
# its reconstruction from the 2-D code. A perfect reconstruction lies on the
# diagonal.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True, layout="constrained")
X_test_scaled = autoencoder[0].transform(X_test)
for ax, (name, pipe) in zip(axes, [("PCA", pca), ("skae", autoencoder)], strict=True):
    X_rec = pipe[-1].inverse_transform(pipe[-1].transform(pipe[0].transform(X_test)))
    ax.scatter(X_test_scaled.ravel(), X_rec.ravel(), s=2, alpha=0.3, linewidths=0)
    lims = [X_test_scaled.min(), X_test_scaled.max()]
    ax.plot(lims, lims, color="k", linewidth=1)
    ax.set(title=f"{name}: MSE {scores[name][0]:.3f}", xlabel="original (standardized)")
axes[0].set_ylabel("reconstruction")
fig.suptitle(summary)
plt.show()
