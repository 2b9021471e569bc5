"""Missing values and categorical groups in the engine and in AutoencoderTransformer."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import skae._estimator as estimator_module
from skae import AutoencoderImputer, AutoencoderTransformer
from skae._data import (
    BatchSource,
    Corruption,
    MissingEntries,
    has_missing,
    row_keys,
    validation_split,
)
from skae._model import Network
from skae._objectives import Objective

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small(**params):
    defaults = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    return AutoencoderTransformer(**{**defaults, **params})


def with_holes(X, rate=0.2, seed=0):
    rng = np.random.RandomState(seed)
    return np.where(rng.uniform(size=X.shape) < rate, np.nan, X)


@pytest.fixture
def holes(blobs):
    return with_holes(blobs)


# -- the path without NaN is the one that existed before -----------------------------------
def _fail(*args, **kwargs):
    raise AssertionError("the masked machinery ran on data without missing values")


PLAIN_CONFIGS = [
    {},
    {"noise": "masking", "noise_level": 0.3},
    {"noise": "salt_and_pepper"},
    {"early_stopping": True},
    {"sparsity": 1e-2, "contraction": 1e-2, "activation": "tanh"},
    {"tied_weights": True},
]


@pytest.mark.parametrize("params", PLAIN_CONFIGS, ids=str)
@pytest.mark.parametrize("kind", ["dense", "sparse", "float32", "weighted"])
def test_a_fit_without_nan_is_bitwise_the_one_without_the_masked_machinery(
    blobs, params, kind, monkeypatch
):
    X = {
        "dense": blobs,
        "sparse": sp.csr_matrix(np.where(blobs > 0, blobs, 0)),
        "float32": blobs.astype(np.float32),
        "weighted": blobs,
    }[kind]
    weights = np.random.RandomState(1).uniform(size=blobs.shape[0]) if kind == "weighted" else None
    reference = small(**params).fit(X, sample_weight=weights)
    # Disabled: any use of the masked path fails the fit.
    monkeypatch.setattr(MissingEntries, "fill", _fail)
    monkeypatch.setattr(Objective, "_masked_reconstruction", _fail)
    monkeypatch.setattr(Objective, "observed_errors", _fail)
    plain = small(**params).fit(X, sample_weight=weights)
    assert_array_equal(plain._params, reference._params)
    assert plain.loss_curve_ == reference.loss_curve_
    assert_array_equal(plain.transform(X), reference.transform(X))
    assert_array_equal(plain.score_samples(X), reference.score_samples(X))
    assert plain.score(X) == reference.score(X)


def test_batch_source_without_mask_yields_three_elements(blobs):
    source = BatchSource(blobs, np.arange(100), None, 32)
    assert all(len(batch) == 3 for batch in source.epoch(np.random.default_rng(0)))


# -- the data layer -------------------------------------------------------------------------
def test_has_missing():
    X = np.zeros((3, 2))
    assert not has_missing(X)
    X[1, 1] = np.nan
    assert has_missing(X) and has_missing(sp.csr_matrix(X))
    for n in (2, 300):  # checked entry by entry, and by the sum (which overflows here)
        huge = np.full((n, n), np.finfo(np.float32).max, dtype=np.float32)
        assert not has_missing(huge)
        huge[-1, -1] = np.nan
        assert has_missing(huge)
    assert not has_missing(np.ones((300, 300))) and has_missing(sp.csr_matrix(huge))


def test_fill_sets_missing_entries_to_zero_and_groups_as_a_whole():
    X = np.array(
        [
            [1.0, np.nan, 0, 1, 0],
            [2.0, 3.0, 0, 0, 0],  # all-zero group: an unknown category
            [np.nan, 4.0, 1, np.nan, 0],  # a NaN beside a 1: a 0 of the known category
            [7.0, np.nan, 0, np.nan, 0],  # 0s and a NaN: the category is hidden
            [5.0, 6.0, 0, 0, 1],
        ]
    )
    missing = MissingEntries(5, [(2, 3, 4)])
    batch, observed = X.copy(), np.empty_like(X)
    missing.fill(batch, observed)
    assert_array_equal(
        observed,
        [[1, 0, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]],
    )
    assert_array_equal(batch[2], [0, 4, 1, 0, 0])
    assert_array_equal(batch[3], [7, 0, 0, 0, 0])
    assert not np.isnan(batch).any()
    assert_array_equal(missing.row_counts(observed), [2, 2, 2, 1, 3])
    assert missing.n_variables == 3


def test_network_inputs_append_what_is_present(blobs):
    missing = MissingEntries(3, as_input=True)
    filled = np.array([[1.0, 0.0, 2.0]])
    observed = np.array([[1.0, 0.0, 1.0]])
    dropped = np.array([[False, False, True]])
    assert_array_equal(missing.network_inputs(filled, observed), [[1, 0, 2, 1, 0, 1]])
    assert_array_equal(missing.network_inputs(filled, observed, dropped), [[1, 0, 2, 1, 0, 0]])


@pytest.mark.parametrize("weighted", [False, True])
def test_an_epoch_of_masked_minibatches_sums_to_the_observed_mean_loss(holes, weighted):
    """Σ_batches b/n · loss = Σ_i w_i Σ_j M_ij ℓ_ij / Σ_i w_i Σ_j M_ij, exactly."""
    n, d = holes.shape
    w = np.random.RandomState(0).uniform(size=n) if weighted else None
    missing = MissingEntries(d)
    source = BatchSource(holes, np.arange(n), w, 32, mask=missing)
    net = Network((d, 4, 2, 4, d), 2, "tanh")
    net.initialize(np.random.default_rng(0))
    objective = Objective(net, "squared_error")
    total = sum(
        objective.loss_gradient(*batch) * batch[1].shape[0] / n
        for batch in source.epoch(np.random.default_rng(0))
    )
    observed = ~np.isnan(holes)
    R = net.raw_output(np.nan_to_num(holes))
    losses = np.where(observed, (R - np.nan_to_num(holes)) ** 2, 0)
    weights = np.ones(n) if w is None else w
    expected = np.dot(weights, losses.sum(axis=1)) / np.dot(weights, observed.sum(axis=1))
    assert_allclose(total, expected, rtol=1e-12)


def test_masked_minibatches_are_the_same_from_dense_and_sparse_data(holes):
    def batches(X):
        source = BatchSource(X, np.arange(X.shape[0]), None, 32, mask=MissingEntries(6))
        return [[a.copy() for a in batch[1:] if a is not None]
                for batch in source.epoch(np.random.default_rng(3))]

    for dense, sparse in zip(batches(holes), batches(sp.csr_matrix(holes)), strict=True):
        for a, b in zip(dense, sparse, strict=True):
            assert_array_equal(a, b)


def test_an_all_missing_training_set_is_refused():
    X = np.full((10, 3), np.nan)
    with pytest.raises(ValueError, match="Every entry of the training data is missing"):
        BatchSource(X, np.arange(10), None, 4, mask=MissingEntries(3))
    with pytest.raises(ValueError, match="Every entry of the training data is missing"):
        small().fit(X)
    # No sample weights: no mention of them; the advice names what fills such data.
    imputer = AutoencoderImputer(max_iter=2, keep_empty_features=True)
    with pytest.raises(ValueError, match=r"is missing: there is nothing to learn from\. "
                                         r"Fit on .*SimpleImputer\(keep_empty_features=True\)"):
        imputer.fit(X)
    assert not hasattr(imputer, "n_features_in_")
    observed_where_weightless = X.copy()
    observed_where_weightless[5:, 0] = 1.0
    weights = np.r_[np.ones(5), np.zeros(5)]
    with pytest.raises(ValueError, match=r"missing \(or has zero weight\)"):
        BatchSource(observed_where_weightless, np.arange(10), weights, 4, mask=MissingEntries(3))


# -- the masked objective: gradients by finite differences ----------------------------------
def _masked_problem(loss, groups, as_input, weighted, seed=0):
    rng = np.random.RandomState(seed)
    d, b = 7, 9
    T = rng.uniform(size=(b, d)) if loss == "binary_crossentropy" else rng.normal(size=(b, d))
    for g in groups:
        T[:, g] = np.eye(len(g))[rng.randint(len(g), size=b)]
    mask = (rng.uniform(size=(b, d)) > 0.3).astype(float)
    for g in groups:
        mask[:, g] = mask[:, [g[0]]]
    mask[0] = 0  # a fully missing row
    mask *= 1.7  # the 1/ρ scale
    T[mask == 0] = 0
    inputs = MissingEntries(d, groups, as_input=as_input).network_inputs(T, mask)
    weights = rng.uniform(size=b) if weighted else None
    net = Network((inputs.shape[1], 5, 3, 5, d), 2, "tanh")
    net.initialize(np.random.default_rng(seed))
    objective = Objective(net, loss, alpha=0.01, sparsity=0.05, groups=groups)
    return objective, (np.ascontiguousarray(inputs), T, weights, mask)


@pytest.mark.parametrize("loss", ["squared_error", "binary_crossentropy"])
@pytest.mark.parametrize("groups", [[], [[1, 2, 3], [5, 6]]], ids=["numeric", "groups"])
@pytest.mark.parametrize("as_input", [False, True], ids=["zeros", "mask_as_input"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_masked_gradient_matches_finite_differences(loss, groups, as_input, weighted):
    objective, batch = _masked_problem(loss, groups, as_input, weighted)
    params = objective.network.params
    objective.loss_gradient(*batch)
    grad = objective.network.grad.copy()
    eps = 1e-6
    numeric = np.empty_like(grad)
    for k in range(params.size):
        saved = params[k]
        params[k] = saved + eps
        up = objective.loss_gradient(*batch)
        params[k] = saved - eps
        down = objective.loss_gradient(*batch)
        params[k] = saved
        numeric[k] = (up - down) / (2 * eps)
    assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_group_gradient_is_softmax_minus_target():
    net = Network((3, 3), 1, "identity")  # one linear layer: raw output = X W + b
    net.params[:] = 0.0
    net.intercepts[0][:] = [0.5, -1.0, 2.0]
    objective = Objective(net, "squared_error", groups=[[0, 1, 2]])
    T = np.array([[0.0, 1.0, 0.0]])
    value = objective.loss_gradient(np.zeros((1, 3)), T, None, np.ones((1, 3)))
    p = np.exp([0.5, -1.0, 2.0]) / np.exp([0.5, -1.0, 2.0]).sum()
    assert_allclose(value, -np.log(p[1]), rtol=1e-12)  # one variable: V = 1
    assert_allclose(net.intercept_grads[0], p - T[0], rtol=1e-12)


def test_a_full_mask_gives_the_plain_loss_and_gradient(blobs):
    net = Network((6, 4, 2, 4, 6), 2, "relu")
    net.initialize(np.random.default_rng(0))
    objective = Objective(net, "squared_error", alpha=0.01)
    X = np.ascontiguousarray(blobs[:32])
    w = np.random.RandomState(0).uniform(size=32)
    plain = objective.loss_gradient(X, X, w)
    plain_grad = net.grad.copy()
    masked = objective.loss_gradient(X, X, w, np.ones_like(X))
    assert_allclose(masked, plain, rtol=1e-12)
    assert_allclose(net.grad, plain_grad, rtol=1e-10, atol=1e-14)


def test_a_minibatch_of_fully_missing_rows_contributes_nothing():
    net = Network((4, 3, 2, 3, 4), 2, "relu")
    net.initialize(np.random.default_rng(0))
    objective = Objective(net, "squared_error")
    zeros = np.zeros((5, 4))
    value = objective.loss_gradient(zeros, zeros, None, np.zeros((5, 4)))
    assert value == 0.0
    assert_array_equal(net.grad, 0.0)


# -- AutoencoderTransformer with NaN --------------------------------------------------------
def test_nan_is_accepted_everywhere(holes):
    ae = small().fit(holes)
    assert ae.__sklearn_tags__().input_tags.allow_nan
    assert np.isfinite(ae.transform(holes)).all()
    assert np.isfinite(ae.score_samples(holes)).all()
    assert np.isfinite(ae.score(holes))
    ae.partial_fit(holes)
    assert ae.n_iter_ == 11
    assert np.isfinite(ae._params).all()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score", "score_samples"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_infinity_is_still_refused(holes, value, method, sparse):
    fitted = small(max_iter=2).fit(holes)
    bad = holes.copy()
    bad[3, 1] = value
    bad = sp.csr_matrix(bad) if sparse else bad
    target = small() if method in ("fit", "partial_fit") else fitted
    with pytest.raises(ValueError, match="Input X contains infinity"):
        getattr(target, method)(bad)


def test_an_estimator_refusing_nan_keeps_its_message(blobs):
    class NoNaN(AutoencoderTransformer):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = False
            return tags

    with pytest.raises(ValueError, match="NoNaN does not accept missing values yet"):
        NoNaN().fit(with_holes(blobs))


def test_missing_inputs_enter_the_network_as_zero(holes):
    ae = small().fit(holes)
    assert_array_equal(ae.transform(holes), ae.transform(np.nan_to_num(holes)))


def elu(a):
    """The default hidden units, written out: ``a`` above 0, else ``exp(a) - 1``."""
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


def test_mask_as_input_appends_the_mask(holes):
    ae = small(mask_as_input=True).fit(holes)
    assert ae.coefs_[0].shape == (12, 8)
    filled = np.nan_to_num(holes)
    inputs = np.hstack([filled, (~np.isnan(holes)).astype(float)])
    hidden = elu(inputs @ ae.coefs_[0] + ae.intercepts_[0])
    assert_allclose(ae.transform(holes), hidden @ ae.coefs_[1] + ae.intercepts_[1], rtol=1e-10)
    # Complete data gets a mask of ones.
    X = np.nan_to_num(holes)
    ones = np.hstack([X, np.ones_like(X)])
    hidden = elu(ones @ ae.coefs_[0] + ae.intercepts_[0])
    assert_allclose(ae.transform(X), hidden @ ae.coefs_[1] + ae.intercepts_[1], rtol=1e-10)


def test_mask_as_input_with_tied_weights_is_refused(holes):
    with pytest.raises(ValueError, match="tied_weights=True cannot be combined with mask_as"):
        small(mask_as_input=True, tied_weights=True).fit(holes)


def test_score_samples_is_the_error_over_observed_entries(holes):
    ae = small().fit(holes)
    rec = ae.inverse_transform(ae.transform(holes))
    observed = ~np.isnan(holes)
    squared = np.where(observed, (rec - np.nan_to_num(holes)) ** 2, 0)
    expected = squared.sum(axis=1) / observed.sum(axis=1)
    assert_allclose(ae.score_samples(holes), -expected, rtol=1e-10)
    # score weighs each sample by its observed entries: minus the training objective's term.
    assert_allclose(ae.score(holes), -squared.sum() / observed.sum(), rtol=1e-10)
    w = np.random.RandomState(0).uniform(size=holes.shape[0])
    weighted = np.dot(w, squared.sum(axis=1)) / np.dot(w, observed.sum(axis=1))
    assert_allclose(ae.score(holes, sample_weight=w), -weighted, rtol=1e-10)


def test_an_all_nan_row(holes):
    X = holes.copy()
    X[5] = np.nan
    ae = small().fit(X)
    scores = ae.score_samples(X)
    assert np.isnan(scores[5]) and np.isfinite(np.delete(scores, 5)).all()
    assert np.isfinite(ae.score(X))
    assert np.isfinite(ae.transform(X)).all()
    with pytest.raises(ValueError, match="no observed entries"):
        ae.score(X[[5]])


def test_an_all_nan_column(holes):
    X = holes.copy()
    X[:, 2] = np.nan
    ae = small().fit(X)
    assert np.isfinite(ae._params).all()
    assert np.isfinite(ae.transform(X)).all() and np.isfinite(ae.score_samples(X)).all()
    # The column gets no gradient: its output weights only decay.
    assert np.abs(ae.coefs_[-1][:, 2]).max() < np.abs(ae.coefs_[-1]).max()


def test_a_nan_in_every_row_still_learns(blobs):
    X = blobs.copy()
    X[np.arange(X.shape[0]), np.arange(X.shape[0]) % X.shape[1]] = np.nan
    ae = small(max_iter=60).fit(X)
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]


def test_all_nan_noise_and_salt_and_pepper(holes):
    X = holes.copy()
    X[:, 0] = np.nan  # no range for salt and pepper: [0, 0]
    ae = small(noise="salt_and_pepper", noise_level=0.3).fit(X)
    assert np.isfinite(ae._params).all()


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_nan_in_sparse_data(holes, fmt):
    """A stored NaN is missing; an implicit zero is an observed 0."""
    dense = np.where(np.abs(np.nan_to_num(holes, nan=1.0)) > 0.3, holes, 0.0)
    sparse = sp.csr_matrix(dense).asformat(fmt)
    before = sparse.copy()
    a, b = small(mask_as_input=True).fit(dense), small(mask_as_input=True).fit(sparse)
    assert_allclose(b._params, a._params, rtol=1e-12, atol=1e-14)
    assert_allclose(b.transform(sparse), a.transform(dense), rtol=1e-12)
    assert_allclose(b.score_samples(sparse), a.score_samples(dense), rtol=1e-12)
    assert_array_equal(sparse.toarray(), before.toarray())


def test_the_callers_data_is_never_written(holes):
    X = holes.copy()
    small(noise="masking", noise_level=0.3, early_stopping=True, mask_as_input=True).fit(X)
    assert_array_equal(X, holes)  # NaN in the same places, values the same
    ae = small().fit(X)
    for method in ("transform", "score_samples", "score", "partial_fit"):
        getattr(ae, method)(X)
        assert_array_equal(X, holes)


def test_early_stopping_with_nan(holes):
    ae = small(early_stopping=True, validation_fraction=0.25, max_iter=30).fit(holes)
    curve = np.asarray(ae.validation_loss_curve_)
    assert np.isfinite(curve).all() and ae.best_validation_loss_ == curve.min()
    _, validation = validation_split(holes, None, 0.25, ae._validation_seed)
    assert_allclose(-ae.score(holes[validation]), ae.best_validation_loss_, rtol=1e-10)


def test_early_stopping_with_a_validation_set_without_observed_entries(blobs, monkeypatch):
    X = blobs[:20].copy()
    X[:5] = np.nan
    monkeypatch.setattr(
        estimator_module,
        "validation_split",
        lambda X, *a, **k: (np.arange(5, 20), np.arange(5), row_keys(X, 0)),
    )
    with pytest.raises(ValueError, match="held out for early stopping have no observed"):
        small(early_stopping=True, validation_fraction=0.5).fit(X)


def test_sample_weight_with_nan_equals_repeated_rows(holes):
    params = dict(batch_size=1000, shuffle=False, max_iter=5)
    weights = np.ones(holes.shape[0])
    weights[:10] = 3
    repeated = np.vstack([holes, holes[:10], holes[:10]])
    a = small(**params).fit(holes, sample_weight=weights)
    b = small(**params).fit(repeated)
    assert_allclose(a._params, b._params, rtol=1e-9, atol=1e-12)


def test_partial_fit_with_nan_continues(holes):
    ae = small(max_iter=1)
    for _ in range(3):
        ae.partial_fit(holes)
    assert ae.n_iter_ == 3 and len(ae.loss_curve_) == 3


@pytest.mark.parametrize(
    "change, match",
    [
        ({"mask_as_input": True}, "The mask_as_input True differs from the fitted False"),
        ({"categorical_groups": [[0, 1]]}, "categorical"),
    ],
)
def test_continuing_cannot_change_how_missing_values_are_handled(holes, change, match):
    ae = small(warm_start=True, max_iter=2).fit(holes)
    with pytest.raises(ValueError, match=match):
        ae.set_params(**change).fit(holes)


def test_a_failed_fit_with_nan_leaves_the_estimator_as_it_was(holes):
    ae = small().fit(holes)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(ae).items()}
    with pytest.raises(ValueError):
        ae.set_params(categorical_groups=[[0, 9]]).fit(holes)
    assert_array_equal(ae._params, state["_params"])
    assert ae.n_iter_ == state["n_iter_"]


def test_missing_entries_help_over_zeros(blobs):
    """Masking the loss beats treating the holes as zeros, once both have converged."""
    X = with_holes(blobs, rate=0.4, seed=3)
    hidden = np.isnan(X)
    # Measured (hidden entries' MSE, masked vs zeros): 0.236 vs 0.261, 0.167 vs 0.265,
    # 0.167 vs 0.247 for seeds 0, 1, 2 (a few hundred epochs each).
    for seed in range(3):
        params = dict(max_iter=1000, noise="masking", noise_level=0.2, random_state=seed)
        masked = small(mask_as_input=True, **params).fit(X)
        zeros = small(**params).fit(np.nan_to_num(X))
        err = {}
        for name, ae in (("masked", masked), ("zeros", zeros)):
            inputs = X if name == "masked" else np.nan_to_num(X)
            rec = ae.inverse_transform(ae.transform(inputs))
            err[name] = np.mean((rec[hidden] - blobs[hidden]) ** 2)
        assert err["masked"] < err["zeros"], seed


def test_binary_crossentropy_range_warning_ignores_nan():
    X = np.where(np.random.RandomState(0).uniform(size=(40, 4)) < 0.2, np.nan, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        small(loss="binary_crossentropy").fit(X)
    X[0, 0] = 2.0
    with pytest.warns(UserWarning, match=r"ranges over \[0\.5, 2\]"):
        small(loss="binary_crossentropy").fit(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_crossentropy_range_warning_allows_rounding(dtype):
    """MinMaxScaler's output, a few ulps outside [0, 1], does not warn; more does."""
    X = np.full((40, 4), 0.5, dtype=dtype)
    eps = np.finfo(dtype).eps
    X[0, 0], X[1, 1] = 1 + 64 * eps, -64 * eps
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        small(loss="binary_crossentropy").fit(X)
    X[0, 0], X[1, 1] = 1 + 1e-3, -1e-3
    with pytest.warns(UserWarning, match=r"ranges over \[-0\.001, 1\.001"):
        small(loss="binary_crossentropy").fit(X)
    X[1, 1] = 0.5
    with pytest.warns(UserWarning, match=r"ranges over \[0\.5, 1\.001"):  # not [0.5, 1]
        small(loss="binary_crossentropy").fit(X)


def test_onnx_export_refuses_masked_models(holes):
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    import skae.onnx  # noqa: F401

    for params in ({"mask_as_input": True}, {"categorical_groups": [[0, 1]]}):
        X = np.nan_to_num(holes)
        if "categorical_groups" in params:
            X[:, :2] = np.eye(2)[np.arange(X.shape[0]) % 2]
        ae = small(**params).fit(X)
        with pytest.raises(NotImplementedError, match="ONNX export of a model fitted with"):
            to_onnx(ae, X[:1].astype(np.float32))


def test_inference_chunks_match_one_pass(holes, monkeypatch):
    ae = small(mask_as_input=True).fit(holes)
    whole = ae.transform(holes), ae.score_samples(holes)
    monkeypatch.setattr(estimator_module, "_INFERENCE_MEMORY_MIB", 1e-4)
    chunked = ae.transform(holes), ae.score_samples(holes)
    for a, b in zip(whole, chunked, strict=True):
        assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
@pytest.mark.parametrize("as_input", [False, True])
def test_noise_leaves_missing_entries_at_zero_as_inference_sees_them(holes, noise, as_input):
    """Denoising corrupts what was observed; a missing entry enters the network as 0
    (and marked absent) in training as at inference."""
    d = holes.shape[1]
    low, high = np.full(d, -5.0), np.full(d, 5.0)
    corrupt = Corruption(noise, 0.9, np.random.default_rng(0), low, high)
    source = BatchSource(holes, np.arange(holes.shape[0]), None, 32, corruption=corrupt,
                         mask=MissingEntries(d, as_input=as_input))
    changed = 0
    for inputs, targets, _, mask in source.epoch(np.random.default_rng(1)):
        values = inputs[:, :d]
        assert (values[mask == 0] == 0).all()
        if as_input:
            assert (inputs[:, d:][mask == 0] == 0).all()
        changed += int((values != targets)[mask != 0].sum())
    assert changed > 0.5 * np.count_nonzero(~np.isnan(holes))  # the observed are corrupted


def test_corruption_records_the_entries_masking_dropped(blobs):
    corrupt = Corruption("masking", 0.5, np.random.default_rng(0))
    out = corrupt(blobs)
    assert_array_equal(corrupt.dropped, (out == 0) & (blobs != 0))


def unobserved_warnings(estimator, X, **fit_params):
    """The messages of warnings that name features no training row observes."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator.fit(X, **fit_params)
    return [str(w.message) for w in record if "have no observed entry" in str(w.message)]


@pytest.mark.parametrize("estimator", ["transformer", "vae"])
def test_features_no_training_row_observes_are_named(blobs, estimator):
    """The network learns nothing of them: a fresh fit says so (categorical groups are
    refused instead); partial_fit and warm starts, whose data may observe them later,
    do not; nor does the imputer, which drops such features with its own warning."""
    from skae import VariationalAutoencoder

    make = small if estimator == "transformer" else (
        lambda **p: VariationalAutoencoder(hidden_layer_sizes=(8,), max_iter=2, **p)
    )
    X = blobs[:60].copy()
    X[:, 2] = np.nan
    [message] = unobserved_warnings(make(), X)
    assert message.startswith("Feature(s) 2 have no observed entry in the training rows")
    assert "Drop them" in message
    # Observed only in a row of zero weight; sparse with stored NaN; names.
    Y = X.copy()
    Y[7, 2] = 1.0
    weights = np.ones(60)
    weights[7] = 0.0
    assert len(unobserved_warnings(make(), Y, sample_weight=weights)) == 1
    assert unobserved_warnings(make(), Y) == []  # one observed entry is enough
    assert len(unobserved_warnings(make(), sp.csr_matrix(X))) == 1
    pd = pytest.importorskip("pandas")
    wide = pd.DataFrame(np.c_[X, np.full((60, 6), np.nan)], columns=list("abcdefghijkl"))
    [message] = unobserved_warnings(make(), wide)
    assert message.startswith("Feature(s) c, g, h, i, j and 2 more have no observed entry")
    # Continued fits do not check; a fresh fit on observed data is silent.
    model = make(warm_start=True).fit(blobs[:60])
    assert unobserved_warnings(model, X) == []
    assert unobserved_warnings(make(), blobs[:60]) == []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        make().partial_fit(X)
    assert not [w for w in record if "have no observed entry" in str(w.message)]
    assert unobserved_warnings(AutoencoderImputer(hidden_layer_sizes=(8,), max_iter=2), X) == []
