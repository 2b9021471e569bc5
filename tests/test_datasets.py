"""The synthetic data generators of skae.datasets."""

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skae.datasets import make_embedded_manifold, make_manifold_clusters


@pytest.mark.parametrize(
    ("make", "params"),
    [
        (make_manifold_clusters, {"n_samples": 10.0}),
        (make_manifold_clusters, {"n_samples": 0}),
        (make_manifold_clusters, {"n_features": 0}),
        (make_manifold_clusters, {"n_clusters": 0}),
        (make_manifold_clusters, {"noise": -0.1}),
        (make_manifold_clusters, {"noise": np.nan}),
        (make_manifold_clusters, {"random_state": "0"}),
        (make_embedded_manifold, {"n_latent": 0}),
        (make_embedded_manifold, {"n_latent": 65}),  # beyond the map's hidden width
        (make_embedded_manifold, {"noise": np.inf}),
    ],
)
def test_bad_parameters_are_refused_by_name(make, params):
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {make.__name__}"):
        make(**{"n_samples": 20, **params})


def test_an_embedding_needs_as_many_features_as_latent_dimensions():
    with pytest.raises(ValueError, match=re.escape("n_features must be >= 5, got 3")):
        make_embedded_manifold(20, n_features=3, n_latent=5)
    X, latent = make_embedded_manifold(20, n_features=5, n_latent=5, random_state=0)
    assert X.shape == latent.shape == (20, 5)


def test_the_manifold_has_the_dimension_it_is_drawn_with():
    """Without noise, the local spread of the points spans n_latent directions, no more."""
    X, _ = make_embedded_manifold(20000, n_features=40, n_latent=3, noise=0.0, random_state=0)
    near = X[np.argsort(np.linalg.norm(X - X[0], axis=1))[:40]]
    singular = np.linalg.svd(near - near.mean(axis=0), compute_uv=False)
    assert singular[2] > 8 * singular[3]  # the fourth is the curvature's, second order


def test_the_same_seed_draws_the_same_data():
    first = make_manifold_clusters(50, random_state=3)
    again = make_manifold_clusters(50, random_state=np.random.RandomState(3))
    for a, b in zip(first, again, strict=True):
        assert_array_equal(a, b)
    assert not np.array_equal(first[0], make_manifold_clusters(50, random_state=4)[0])


@pytest.mark.parametrize("maker", [make_manifold_clusters, make_embedded_manifold])
def test_integer_counts_of_any_integer_type(maker):
    """NumPy integers and bools pass the Integral rule, as in scikit-learn's make_*."""
    X, *_ = maker(np.int64(5), random_state=0)
    assert_array_equal(X, maker(5, random_state=0)[0])
    assert maker(True, random_state=0)[0].shape[0] == 1


@pytest.mark.parametrize("n_latent", [np.int32(3), True])
def test_the_manifolds_dimension_of_any_integer_type(n_latent):
    X, latent = make_embedded_manifold(20, n_features=4, n_latent=n_latent, random_state=0)
    assert latent.shape == (20, int(n_latent)) and X.shape == (20, 4)
    assert_array_equal(X, make_embedded_manifold(20, n_features=4, n_latent=int(n_latent),
                                                 random_state=0)[0])
