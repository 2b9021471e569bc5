"""Property-based tests: any finite input gives finite, well-shaped, row-independent output."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def datasets(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12))
    # Finite values over many orders of magnitude; the divergence tests cover
    # values large enough to overflow.
    elements = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
    return draw(arrays(dtype, shape, elements=elements))


def fit_quietly(ae, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ae.fit(X)


@SETTINGS
@given(
    X=datasets(),
    n_components=st.integers(1, 4),
    activation=st.sampled_from(["relu", "tanh", "logistic", "elu", "identity"]),
)
def test_finite_input_gives_finite_output_of_right_shape_and_dtype(X, n_components, activation):
    ae = AutoencoderTransformer(
        n_components, hidden_layer_sizes=(6,), activation=activation, max_iter=3, random_state=0
    )
    codes = fit_quietly(ae, X).transform(X)
    assert codes.shape == (X.shape[0], n_components) and codes.dtype == X.dtype
    rec = ae.inverse_transform(codes)
    assert rec.shape == X.shape and rec.dtype == X.dtype
    scores = ae.score_samples(X)
    assert scores.shape == (X.shape[0],)
    for out in (codes, rec, scores, ae._params):
        assert np.all(np.isfinite(out))
    assert np.isfinite(ae.score(X))


@SETTINGS
@given(X=datasets(), data=st.data())
def test_transform_is_row_independent(X, data):
    ae = fit_quietly(AutoencoderTransformer(2, hidden_layer_sizes=(5,), max_iter=2), X)
    rows = data.draw(st.lists(st.integers(0, X.shape[0] - 1), min_size=1, max_size=8))
    full = ae.transform(X)
    subset = ae.transform(X[rows])
    rtol = 1e-4 if X.dtype == np.float32 else 1e-10
    scale = np.abs(full).max() + 1
    assert_allclose(subset, full[rows], rtol=rtol, atol=rtol * scale)
    assert_allclose(
        ae.score_samples(X[rows]), ae.score_samples(X)[rows], rtol=rtol, atol=rtol * scale**2
    )


@SETTINGS
@given(X=datasets(), seed=st.integers(0, 2**32 - 1))
def test_refit_with_same_int_seed_reproduces(X, seed):
    params = dict(n_components=2, hidden_layer_sizes=(4,), max_iter=3, random_state=seed)
    a = fit_quietly(AutoencoderTransformer(**params), X)
    b = fit_quietly(AutoencoderTransformer(**params), X)
    assert_array_equal(a._params, b._params)
    assert_array_equal(a.transform(X), b.transform(X))
