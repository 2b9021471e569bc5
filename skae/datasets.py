"""Synthetic data on low-dimensional nonlinear manifolds, for examples and benchmarks."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

#: The width of the hidden layer of :func:`make_embedded_manifold`'s map, which
#: bounds the dimension of the manifold it draws.
_EMBEDDING_WIDTH = 64

#: The parameters both generators take, validated alike.
_SHARED_CONSTRAINTS = {
    "n_samples": [Interval(Integral, 1, None, closed="left")],
    "n_features": [Interval(Integral, 1, None, closed="left")],
    "noise": [Interval(Real, 0, None, closed="left")],
    "random_state": ["random_state"],
}


def _random_smooth_map(latent, n_features, hidden, rng):
    """A fixed random two-layer tanh map from the latent space to ``n_features``."""
    W1 = rng.normal(scale=1.0 / np.sqrt(latent.shape[1]), size=(latent.shape[1], hidden))
    b1 = rng.normal(scale=0.5, size=hidden)
    W2 = rng.normal(scale=1.0 / np.sqrt(hidden), size=(hidden, n_features))
    return np.tanh(latent @ W1 + b1) @ W2


@validate_params(
    {**_SHARED_CONSTRAINTS, "n_clusters": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def make_manifold_clusters(
    n_samples=2000, *, n_features=10, n_clusters=4, noise=0.05, random_state=None
):
    """Clustered points on a 2-D manifold embedded nonlinearly in ``n_features`` dimensions.

    Latent points come from a mixture of ``n_clusters`` Gaussian blobs in the
    plane, are mapped into ``n_features`` dimensions by a fixed random smooth
    nonlinear map (a one-hidden-layer tanh network with sine features), and get
    isotropic Gaussian noise. PCA sees a curved sheet; an autoencoder can flatten it.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of points.
    n_features : int, default=10
        Dimension of the ambient space.
    n_clusters : int, default=4
        Number of Gaussian clusters in the latent plane.
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added in the ambient space,
        relative to the standard deviation of all the noiseless data's entries
        (one number for every feature).
    random_state : int, RandomState instance or None, default=None
        Seeds the latent points, the map and the noise. The map is drawn after
        the points, so the same seed with another ``n_samples`` gives another
        map: draw one data set and split it (``train_test_split``) for
        training and test data on the same manifold.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data.
    y : ndarray of shape (n_samples,)
        The cluster of each point.
    latent : ndarray of shape (n_samples, 2)
        The 2-D latent coordinates.

    Examples
    --------
    >>> from skae.datasets import make_manifold_clusters
    >>> X, y, latent = make_manifold_clusters(500, random_state=0)
    >>> X.shape, y.shape, latent.shape
    ((500, 10), (500,), (500, 2))
    """
    rng = check_random_state(random_state)
    n_samples, n_features = int(n_samples), int(n_features)  # NumPy integers and bools too
    angles = 2 * np.pi * np.arange(n_clusters) / n_clusters
    centers = 1.6 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = rng.randint(n_clusters, size=n_samples)
    latent = centers[y] + 0.45 * rng.normal(size=(n_samples, 2))
    features = np.column_stack([latent, np.sin(1.5 * latent), np.cos(1.5 * latent)])
    X = _random_smooth_map(features, n_features, 32, rng)
    X += noise * X.std() * rng.normal(size=X.shape)
    return X, y, latent


@validate_params(
    {**_SHARED_CONSTRAINTS, "n_latent": [Interval(Integral, 1, _EMBEDDING_WIDTH, closed="both")]},
    prefer_skip_nested_validation=True,
)
def make_embedded_manifold(
    n_samples=5000, *, n_features=100, n_latent=5, noise=0.01, random_state=None
):
    """A smooth ``n_latent``-dimensional manifold embedded in ``n_features`` dimensions.

    Latent points are uniform in ``[-1, 1]^n_latent``; a fixed random
    one-hidden-layer tanh network maps them smoothly into ``n_features``
    dimensions, and isotropic Gaussian noise is added.

    Parameters
    ----------
    n_samples : int, default=5000
        Number of points.
    n_features : int, default=100
        Dimension of the ambient space, at least ``n_latent``.
    n_latent : int, default=5
        Intrinsic dimension of the manifold, at most 64 (the width of the
        map's hidden layer).
    noise : float, default=0.01
        Standard deviation of the noise, relative to that of all the noiseless
        data's entries (one number for every feature).
    random_state : int, RandomState instance or None, default=None
        Seeds the latent points, the map and the noise. The map is drawn after
        the points, so the same seed with another ``n_samples`` gives another
        map: draw one data set and split it (``train_test_split``) for
        training and test data on the same manifold.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data.
    latent : ndarray of shape (n_samples, n_latent)
        The latent coordinates.

    Examples
    --------
    >>> from skae.datasets import make_embedded_manifold
    >>> X, latent = make_embedded_manifold(300, random_state=0)
    >>> X.shape, latent.shape
    ((300, 100), (300, 5))
    """
    if n_features < n_latent:
        raise ValueError(
            f"A manifold of dimension n_latent={n_latent} is embedded in at least as "
            f"many dimensions: n_features must be >= {n_latent}, got {n_features}."
        )
    rng = check_random_state(random_state)
    # NumPy integers and bools too
    n_samples, n_features, n_latent = int(n_samples), int(n_features), int(n_latent)
    latent = rng.uniform(-1, 1, size=(n_samples, n_latent))
    X = _random_smooth_map(2.0 * latent, n_features, _EMBEDDING_WIDTH, rng)
    X += noise * X.std() * rng.normal(size=X.shape)
    return X, latent
