"""AutoencoderOutlierDetector: the outlier API, the threshold, robust training, contributions."""

import pickle
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._data import BatchSource
from skae._objectives import FEATURE_ERRORS, LOSSES
from skae._outlier import _Trimming, fence_offset, quantile_offset, weighted_quantile
from skae._training import DivergenceError
from skae.datasets import make_embedded_manifold

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"hidden_layer_sizes": (16,), "max_iter": 30}


def small(**params):
    return AutoencoderOutlierDetector(**{**FAST, "random_state": 0, **params})


# -- the weighted quantile -------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.0, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("n", [1, 2, 7, 20, 101])
def test_weighted_quantile_is_numpys_averaged_inverted_cdf(q, n, seed):
    values = np.random.default_rng(seed).normal(size=n)
    expected = np.quantile(values, q, method="averaged_inverted_cdf")
    assert_allclose(weighted_quantile(values, q), expected)
    assert_allclose(weighted_quantile(values, q, np.ones(n)), expected)
    assert_allclose(weighted_quantile(values, q, np.full(n, 0.3)), expected)  # scale-free


@pytest.mark.parametrize("q", [0.05, 0.1, 0.25, 0.5, 0.75])
def test_weighted_quantile_weights_are_repetitions(q, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=30)
    weights = rng.integers(0, 5, size=30)
    weights[0] = 1
    repeated = np.repeat(values, weights)
    assert_allclose(
        weighted_quantile(values, q, weights.astype(float)),
        np.quantile(repeated, q, method="averaged_inverted_cdf"),
    )


def test_weighted_quantile_ignores_zero_weights():
    values = np.array([-100.0, 1.0, 2.0, 3.0, 100.0])
    weights = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    assert weighted_quantile(values, 0.0, weights) == 1.0
    assert weighted_quantile(values, 1.0, weights) == 3.0
    assert weighted_quantile(values, 0.5, weights) == 2.0


def test_fence_offset_formula():
    errors = np.random.default_rng(0).lognormal(size=200)
    log_errors = np.log(errors)
    q1, q3 = np.quantile(log_errors, [0.25, 0.75], method="averaged_inverted_cdf")
    assert_allclose(fence_offset(-errors), -np.exp(q3 + 1.5 * (q3 - q1)))
    assert np.isfinite(fence_offset(np.zeros(10)))  # zero errors: no log(0)
    # Negative errors (binary cross-entropy off [0, 1]) at the lower quartile: Tukey's
    # fence on the errors themselves, not an exp() beyond float64 (no row flagged).
    errors = np.r_[-np.linspace(1, 5, 60), np.linspace(0.1, 1.0, 130), [40.0, 80.0]]
    q1, q3 = np.quantile(errors, [0.25, 0.75], method="averaged_inverted_cdf")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        offset = fence_offset(-errors)
    assert_allclose(offset, -(q3 + 1.5 * (q3 - q1)))
    assert (-errors < offset).sum() == 2
    # Every error negative: the fence stays where Tukey puts it, below zero.
    errors = np.r_[-np.linspace(19, 21, 100), [-5.0]]
    q1, q3 = np.quantile(errors, [0.25, 0.75], method="averaged_inverted_cdf")
    offset = fence_offset(-errors)
    assert_allclose(offset, -(q3 + 1.5 * (q3 - q1)))
    assert (-errors < offset).sum() == 1


@pytest.mark.parametrize("n_not_positive", [24, 25, 26])
@pytest.mark.parametrize("sign", [0.0, -0.1])
def test_fence_with_a_quarter_of_errors_not_positive_is_on_the_errors(n_not_positive, sign):
    # At exactly a quarter, the lower quartile averages an error of 0 (or a negative
    # one) with a positive one: it is positive, but the log errors' quartile would
    # average log(tiny) = -708 in, and the fence would be exp(531), flagging nothing.
    positive = np.random.default_rng(0).uniform(0.5, 1.5, size=100)
    errors = np.r_[np.full(n_not_positive, sign), positive[: 100 - n_not_positive]]
    errors[-1] = 1e6  # one gross outlier
    offset = fence_offset(-errors)
    assert -10 < offset < -1.5
    assert (-errors < offset).sum() == 1
    if n_not_positive >= 25:
        q1, q3 = np.quantile(errors, [0.25, 0.75], method="averaged_inverted_cdf")
        assert_allclose(offset, -(q3 + 1.5 * (q3 - q1)))
    # The same share by weight (3 rows of weight 1 against 7 of 9 / 7).
    weights = np.r_[np.ones(3), np.full(7, 9 / 7)]
    few = np.r_[np.full(3, sign), positive[:7]]
    few[-1] = 1e6
    assert -10 < fence_offset(-few, weights) < -1.5


def test_the_fence_is_finite_and_overflowing_scores_are_outliers_whatever_the_threshold(
    blobs,
):
    # Errors near float64's edge: the fence overflows; it stays finite, below which
    # no finite error lies, and a score of -inf (an overflowing reconstruction) is
    # below it.
    errors = np.r_[np.linspace(1e60, 2e60, 75), [1e300] * 25]
    for weights in (None, np.ones(100)):
        offset = fence_offset(-errors, weights)
        assert np.isfinite(offset)
        assert not (-errors < offset).any()
    errors[:25] = 0.0
    assert np.isfinite(fence_offset(-errors))
    # A threshold of -inf (the contamination's quantile on scores of -inf) still
    # leaves a score of -inf an outlier, not NaN.
    detector = small().fit(blobs)
    huge = np.vstack([blobs[:3], np.full((2, blobs.shape[1]), np.finfo(np.float64).max)])
    detector.offset_ = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        decision = detector.decision_function(huge)
    assert_array_equal(decision[3:], -np.inf)
    assert_array_equal(decision[:3], np.inf)
    assert_array_equal(detector.predict(huge), [1, 1, 1, -1, -1])


@pytest.mark.parametrize("weighted", [False, True])
def test_quantile_offset_flags_the_quantile_rows_and_sits_on_none(weighted):
    rng = np.random.default_rng(0)
    for n in (7, 40, 178):
        scores = -rng.lognormal(size=n)
        weights = rng.integers(0, 3, n).astype(float) if weighted else None
        for q in (0.01, 0.05, 0.1, 0.2, 0.25, 0.5):
            quantile = weighted_quantile(scores, q, weights)
            offset = quantile_offset(scores, q, weights)
            counted = scores if weights is None else scores[weights > 0]
            assert_array_equal(counted < offset, counted < quantile)
            assert not np.any(counted == offset) or not np.any(counted < quantile)
    # No midpoint with -inf: just below the lowest finite score.
    assert -1.0 - 1e-2 < quantile_offset([-np.inf, -1.0, -0.5, -0.2], 0.3) < -1.0
    assert quantile_offset([-np.inf, -np.inf, -1.0], 0.5) == -np.inf
    # At float64's edge the margin would overflow: the tied scores' own value.
    edge = -np.finfo(np.float64).max
    assert quantile_offset([edge] * 3 + [-1.0] * 7, 0.15) == edge


@pytest.mark.parametrize("lowest", [-3.0, -1e-300, 0.0])
@pytest.mark.parametrize("n_tied", [2, 5, 20])
def test_quantile_on_tied_lowest_scores_sits_below_them(lowest, n_tied):
    """The quantile falls on the lowest scores, tied (duplicated rows): nothing lies
    below to take a midpoint with, so the threshold goes just under them."""
    rng = np.random.default_rng(0)
    scores = np.r_[np.full(n_tied, lowest), lowest + rng.uniform(0.5, 1.0, 30)]
    for q in (0.01, 0.05, 0.06):
        assert weighted_quantile(scores, q) == lowest
        offset = quantile_offset(scores, q)
        assert offset < lowest and not np.any(scores < offset)
        assert offset >= lowest - 1e-3 * max(abs(lowest), np.finfo(float).tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.2])
def test_a_rows_label_does_not_depend_on_its_batch(dtype, contamination):
    """Scores differ in their last digits between batches; no training row sits on
    the threshold, so predicting a row alone or with the others agrees."""
    from sklearn.datasets import load_wine

    X = StandardScaler().fit_transform(load_wine().data).astype(dtype)
    detector = AutoencoderOutlierDetector(
        contamination=contamination, hidden_layer_sizes=(16,), max_iter=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        detector.fit(X)
    alone = np.array([detector.predict(X[i : i + 1])[0] for i in range(len(X))])
    assert_array_equal(alone, detector.predict(X))
    assert np.sum(detector.predict(X) == -1) == int(contamination * len(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_duplicated_worst_rows_keep_their_label_alone(dtype):
    """Duplicated rows with the worst error, more of them than the contamination
    share: the quantile falls on their tied score; they are inliers in any batch."""
    rng = np.random.default_rng(0)
    n_worst = 0
    for seed in range(40):
        X = np.r_[np.repeat([[4.0, -4.0, 4.0]], 5, axis=0), rng.normal(size=(24, 3))]
        X = X.astype(dtype)
        detector = AutoencoderOutlierDetector(
            contamination=0.1, hidden_layer_sizes=(4,), max_iter=5, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            detector.fit(X)
        scores = detector.score_samples(X)
        assert np.all(scores[:5] == scores[0])
        if scores[0] != scores.min():
            continue  # the duplicates are not the worst rows of this fit
        n_worst += 1
        assert scores[0] * (1 + 2e-3) < detector.offset_ < scores[0]
        assert_array_equal(detector.predict(X), 1)  # nothing to flag but the tie
        alone = [detector.predict(X[i : i + 1])[0] for i in range(5)]
        assert_array_equal(alone, 1)
    assert n_worst >= 3


@pytest.mark.parametrize("n_tied", [1, 8, 40])
def test_fence_stays_above_tied_errors(n_tied):
    """With the quartiles tied (duplicated rows), exp(log(e)) rounds below e for many
    e: the fence must not cut the tied rows off, nor sit on their error exactly."""
    rng = np.random.default_rng(0)
    for e in rng.uniform(0.01, 10, 2000):
        scores = np.r_[np.full(n_tied, -e), -rng.uniform(0, e, n_tied // 8)]
        offset = fence_offset(scores)
        assert -e * (1 + 1e-6) > offset > -e * (1 + 1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_duplicated_training_rows_are_inliers_on_their_own_or_together(seed):
    rng = np.random.RandomState(seed)
    X = np.r_[np.repeat(rng.randn(1, 4), 40, axis=0), rng.randn(10, 4)]
    detector = AutoencoderOutlierDetector(
        n_components=2, hidden_layer_sizes=(8,), max_iter=20, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        detector.fit(X)
    assert (detector.predict(X)[:40] == 1).all()
    assert all(detector.predict(X[[i]])[0] == 1 for i in (0, 39))


# -- per-feature error terms ------------------------------------------------------------------
@pytest.mark.parametrize("loss", list(LOSSES))
def test_feature_errors_sum_to_the_sample_errors(loss):
    rng = np.random.default_rng(0)
    R, T = rng.normal(size=(9, 5)), rng.uniform(size=(9, 5))
    R_copy = R.copy()
    per_sample = LOSSES[loss][1](R, T)
    assert_allclose(FEATURE_ERRORS[loss](R, T).mean(axis=1), per_sample)
    assert_array_equal(R, R_copy)  # the raw output is not modified


# -- the outlier API -------------------------------------------------------------------------
def test_decision_function_predict_and_fit_predict(blobs):
    detector = small(contamination=0.1).fit(blobs)
    scores = detector.score_samples(blobs)
    assert_allclose(detector.decision_function(blobs), scores - detector.offset_)
    expected = np.where(scores - detector.offset_ < 0, -1, 1)
    assert_array_equal(detector.predict(blobs), expected)
    assert set(np.unique(expected)) == {-1, 1}
    assert_array_equal(small(contamination=0.1).fit_predict(blobs), expected)
    assert detector.__sklearn_tags__().estimator_type == "outlier_detector"


def test_scores_are_minus_the_reconstruction_error_and_deterministic(blobs):
    detector = small(noise="gaussian", noise_level=0.5).fit(blobs)
    scores = detector.score_samples(blobs)
    assert_array_equal(scores, detector.score_samples(blobs))
    network = detector._network()
    reconstruction = network.raw_output(blobs)
    assert_allclose(scores, -np.mean((reconstruction - blobs) ** 2, axis=1))
    assert np.all(scores <= 0)


@pytest.mark.parametrize("n_samples", [100, 200, 120])
@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25, 0.5])
def test_training_outlier_fraction_is_the_contamination(n_samples, contamination):
    X = np.random.default_rng(n_samples).normal(size=(n_samples, 4))
    labels = small(contamination=contamination).fit_predict(X)
    n_outliers = int(np.sum(labels == -1))
    assert n_outliers == int(np.floor(contamination * n_samples + 1e-9))
    assert labels.dtype.kind == "i"


def test_weighted_training_outlier_fraction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    weights = np.r_[np.full(50, 3.0), np.ones(50)]  # total weight 200
    detector = small(contamination=0.1).fit(X, sample_weight=weights)
    outlier = detector.predict(X) == -1
    # At most the contamination, short of it by less than the heaviest row.
    share = weights[outlier].sum() / weights.sum()
    assert 0.1 - 3 / 200 < share <= 0.1 + 1e-12


def test_auto_contamination_uses_the_fence(blobs):
    far = 6 * np.random.default_rng(0).normal(size=(3, blobs.shape[1]))
    X = np.vstack([blobs, far])  # three rows far off the data's 2-D structure
    detector = small(n_components=2, max_iter=60).fit(X)
    assert_allclose(detector.offset_, fence_offset(detector.score_samples(X)))
    labels = detector.predict(X)
    assert_array_equal(labels[-3:], -1)
    assert np.mean(labels[:-3] == -1) < 0.1


def test_offset_is_set_from_the_final_model_with_early_stopping(blobs):
    detector = small(early_stopping=True, contamination=0.2).fit(blobs)
    assert_allclose(detector.offset_, quantile_offset(detector.score_samples(blobs), 0.2))


def test_warm_start_recomputes_the_offset(blobs):
    detector = small(warm_start=True, contamination=0.1, max_iter=5).fit(blobs)
    first = detector.offset_
    detector.fit(blobs[:60])
    assert detector.n_iter_ == 10
    assert detector.offset_ != first
    assert_allclose(detector.offset_, quantile_offset(detector.score_samples(blobs[:60]), 0.1))


def test_same_network_as_the_transformer(blobs, monkeypatch):
    """The detector trains the transformer's network, with its own initialisation."""
    params = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 10, "random_state": 0}
    detector = AutoencoderOutlierDetector(trim_fraction=0.0, **params).fit(blobs)
    monkeypatch.setattr(AutoencoderTransformer, "_init_scheme", "he")
    transformer = AutoencoderTransformer(  # the detector's default ReLU units
        n_init=1, early_stopping=False, init="random", activation="relu", **params
    ).fit(blobs)
    assert_array_equal(detector._params, transformer._params)
    assert_array_equal(detector.score_samples(blobs), transformer.score_samples(blobs))


def test_shared_parameters_match_the_transformer():
    ours = AutoencoderOutlierDetector._parameter_constraints
    theirs = AutoencoderTransformer._parameter_constraints
    assert set(ours) - set(theirs) == {"contamination", "trim_fraction"}
    training = (
        "learning_rate_init tol batch_size shuffle validation_fraction beta_1 beta_2 "
        "epsilon warm_start verbose random_state"
    ).split()
    detector, transformer = AutoencoderOutlierDetector(), AutoencoderTransformer()
    for name in training:
        assert getattr(detector, name) == getattr(transformer, name), name
    # The transformer's training defaults measured against the tuned PyTorch model
    # (several starts, held-out rows from 200 on, a longer patience) are its own: the
    # detector's were measured by its benchmark, on contaminated data.
    assert (detector.early_stopping, detector.n_iter_no_change) == (False, 10)
    assert (transformer.early_stopping, transformer.n_iter_no_change) == ("auto", 20)
    assert "n_init" not in ours and transformer.n_init == "auto"
    # The detector's budget is longer: on a table of at most 32 training rows an epoch
    # is one Adam step, and from its He-uniform start Linnerud's 20 rows need up to
    # 1,241 epochs (the transformer's LeCun-uniform starts 718).
    assert (detector.max_iter, transformer.max_iter) == (2000, 1000)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"contamination": 0.0}, "'contamination' parameter"),
        ({"contamination": 0.6}, "'contamination' parameter"),
        ({"contamination": "half"}, "'contamination' parameter"),
        ({"trim_fraction": 0.5}, "'trim_fraction' parameter"),
        ({"trim_fraction": -0.1}, "'trim_fraction' parameter"),
        ({"n_components": 0}, "'n_components' parameter"),
    ],
)
def test_bad_parameters(params, match, blobs):
    with pytest.raises(InvalidParameterError, match=match):
        small(**params).fit(blobs)


def test_unfitted_and_bad_input(blobs):
    detector = small()
    for method in ("predict", "decision_function", "score_samples", "score_samples_per_feature"):
        with pytest.raises(NotFittedError):
            getattr(detector, method)(blobs)
    detector.fit(blobs)
    with pytest.raises(ValueError, match="features"):
        detector.predict(blobs[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        detector.decision_function(np.full_like(blobs, np.nan))


def test_failed_fit_leaves_the_detector_as_it_was(blobs):
    detector = small(contamination=0.1).fit(blobs)
    state = pickle.dumps(detector)
    offset, scores = detector.offset_, detector.score_samples(blobs)
    bad = blobs.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detector.fit(bad)
    with pytest.raises(ValueError, match="non-zero"):
        detector.fit(blobs, sample_weight=np.zeros(len(blobs)))
    assert detector.offset_ == offset
    assert_array_equal(detector.score_samples(blobs), scores)
    assert pickle.dumps(detector) == state


def test_callers_data_unchanged(blobs):
    X, weights = blobs.copy(), np.linspace(0.5, 2.0, len(blobs))
    weights_copy = weights.copy()
    small(trim_fraction=0.2, max_iter=15).fit(X, sample_weight=weights)
    assert_array_equal(X, blobs)
    assert_array_equal(weights, weights_copy)
    X_sparse = sp.csr_matrix(blobs)
    data_copy = X_sparse.data.copy()
    small(max_iter=15).fit(X_sparse)
    assert_array_equal(X_sparse.data, data_copy)


def test_pickle_round_trip(blobs):
    detector = small(contamination=0.1).fit(blobs)
    loaded = pickle.loads(pickle.dumps(detector))
    assert loaded.offset_ == detector.offset_
    assert_array_equal(loaded.decision_function(blobs), detector.decision_function(blobs))
    assert_array_equal(loaded.predict(blobs), detector.predict(blobs))


# -- robust training -------------------------------------------------------------------------
def _fake_context(errors, sample_weight=None, train_rows=None):
    """A fit context whose objective gives fixed per-row errors."""
    n = errors.size
    X = np.arange(n, dtype=float)[:, None]
    rows = np.arange(n) if train_rows is None else train_rows
    objective = SimpleNamespace(sample_errors=lambda chunk: errors[chunk[:, 0].astype(int)])
    source = BatchSource(X, rows, sample_weight, batch_size=n, shuffle=False)
    return SimpleNamespace(
        X=X, sample_weight=sample_weight, train_rows=rows, source=source, objective=objective
    )


def _robust_factors(errors, fraction, sample_weight=None):
    """What robust training multiplies each finite row's weight by: 1 up to the
    threshold τ (the larger of the fence and the (1 - fraction)-quantile), (τ / e)²
    beyond."""
    scores = -errors
    tau = -min(fence_offset(scores, sample_weight),
               weighted_quantile(scores, fraction, sample_weight))
    return np.where(errors <= tau, 1.0, (tau / errors) ** 2), tau


def _normalised(weights):
    """As the batch source scales the weights: to average 1."""
    return weights * weights.size / weights.sum()


def test_robust_training_down_weights_far_rows_only_after_the_warmup():
    errors = np.r_[np.random.default_rng(0).uniform(1, 2, size=95), np.full(5, 50.0)]
    context = _fake_context(errors)
    monitor = _Trimming(0.1, context, warmup=3)
    for epoch in (1, 2, 3):
        monitor.begin_epoch(epoch)
        assert monitor(epoch, 0.0, None, 0.0) is False
    assert context.source.weights is None  # every row at its weight during the warm-up
    monitor.begin_epoch(4)
    factors, tau = _robust_factors(errors, 0.1)
    assert 2 < tau < 50 and np.all(factors[:95] == 1) and np.all(factors[-5:] < 0.01)
    assert_allclose(context.source.weights, _normalised(factors), rtol=1e-12)


def test_robust_training_down_weights_at_most_the_fraction():
    errors = np.r_[np.ones(80), np.full(20, 50.0)]  # 20 % far away, at most 10 % weigh less
    errors[80:] += np.arange(20)
    context = _fake_context(errors)
    _Trimming(0.1, context, warmup=1).begin_epoch(2)
    weights = context.source.weights
    assert np.all(weights[:90] == weights[0])
    assert np.all(weights[90:] < weights[0]) and np.all(np.diff(weights[90:]) < 0)
    assert_allclose(weights, _normalised(_robust_factors(errors, 0.1)[0]), rtol=1e-12)


def test_robust_training_keeps_clean_rows_and_multiplies_the_sample_weights():
    errors = np.random.default_rng(1).uniform(1.0, 1.5, size=50)  # nothing beyond the fence
    weights = np.linspace(1.0, 2.0, 50)
    errors[7] = 100.0
    context = _fake_context(errors, sample_weight=weights)
    _Trimming(0.1, context, warmup=1).begin_epoch(2)
    factors, tau = _robust_factors(errors, 0.1, weights)
    assert tau < 2 and np.flatnonzero(factors < 1).tolist() == [7]
    assert_allclose(context.source.weights, _normalised(weights * factors), rtol=1e-12)


def test_robust_training_leaves_out_the_rows_beyond_a_threshold_that_is_not_positive():
    """The cross-entropy of data off [0, 1] can be negative: (τ / e)² would weigh rows
    beyond τ ≤ 0 more than the others (τ = -2, e = -1: 4 times); they are left out."""
    errors = np.r_[np.linspace(-3.0, -2.5, 95), np.linspace(-1.0, -0.5, 5)]
    context = _fake_context(errors)
    _Trimming(0.1, context, warmup=1).begin_epoch(2)
    weights = context.source.weights
    factors, tau = _robust_factors(errors, 0.1)
    assert tau <= 0 and np.all(factors[-5:] > 1)  # what the plain rule would give
    assert_array_equal(weights[-5:], 0)
    assert np.all(weights[:95] == weights[0])


def test_robust_training_drops_rows_whose_errors_overflow_and_fences_the_others():
    errors = np.r_[np.random.default_rng(0).uniform(1, 2, size=95), np.full(4, 50.0), np.inf]
    context = _fake_context(errors)
    _Trimming(0.1, context, warmup=1).begin_epoch(2)
    finite = _fake_context(errors[:-1])
    _Trimming(0.1, finite, warmup=1).begin_epoch(2)
    assert context.source.weights[-1] == 0
    # the others as if the row were not there: the same factors, up to the scaling
    assert_allclose(_normalised(context.source.weights[:-1]), finite.source.weights,
                    rtol=1e-12)
    assert np.all(finite.source.weights[95:] < 0.01 * finite.source.weights[0])
    everything = _fake_context(np.full(20, np.inf))
    _Trimming(0.1, everything, warmup=1).begin_epoch(2)
    assert everything.source.weights is None  # nothing to fence: the loss reports it


def test_a_warm_fit_on_badly_scaled_data_reports_the_divergence(blobs):
    """Not "sample_weight sums to zero" from a fence drawn on infinite errors."""
    detector = small(max_iter=12, warm_start=True).fit(blobs)
    params = detector._params.copy()
    with pytest.raises(DivergenceError, match="standardize them"):
        detector.fit(blobs * 1e200)
    assert_array_equal(detector._params, params)


def test_overflowing_rows_score_minus_infinity_and_are_outliers(blobs):
    detector = small().fit(blobs)
    huge = np.vstack([blobs[:3], np.full((2, blobs.shape[1]), np.finfo(np.float64).max)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # -inf says it: no NumPy warnings
        scores = detector.score_samples(huge)
        assert_array_equal(detector.predict(huge)[3:], -1)
        per_feature = detector.score_samples_per_feature(huge)
    assert_array_equal(scores[3:], -np.inf)
    assert np.isfinite(scores[:3]).all()
    assert_array_equal(per_feature[3:], -np.inf)  # not NaN: the rows still sum to the scores
    assert_allclose(per_feature.sum(axis=1), scores)


def test_binary_crossentropy_whose_loss_overflows_below_scores_minus_infinity(blobs):
    """Off [0, 1], x * logit can overflow to an error of -inf: overflowed, not a perfect fit."""
    X = (blobs > 0).astype(float)
    detector = small(loss="binary_crossentropy").fit(X)
    far = -1e300 * np.vstack([X[:20], 1.0 - X[:20]])
    far = far[(far != 0).any(axis=1)]  # a row of zeros is in range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # off [0, 1]: tested below
        per_feature = detector.score_samples_per_feature(far)
        scores = detector.score_samples(far)
        labels = detector.predict(far)
    assert_array_equal(scores, -np.inf)
    assert_array_equal(labels, -1)
    assert not np.isposinf(per_feature).any() and not np.isnan(per_feature).any()
    assert (per_feature == -np.inf).any(axis=1).all()


def test_binary_crossentropy_warns_on_out_of_range_data_at_every_method(blobs):
    """BCE is unbounded below outside [0, 1]: such rows can look like inliers, so it warns."""
    X = (blobs > 0).astype(float)
    detector = small(loss="binary_crossentropy").fit(X)
    far = np.full((2, X.shape[1]), 50.0)
    for method in ("score_samples", "decision_function", "predict"):
        with pytest.warns(UserWarning, match=r"expects data in \[0, 1\].*ranges over \[50, 50\].*"
                          r"Scale new data as the training data were scaled"):
            getattr(detector, method)(far)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        detector.predict(X)


def test_the_warmup_counts_the_epochs_of_warm_started_fits(blobs):
    """Fits of 5 epochs with warm_start trim from the 11th epoch on, as one fit would."""
    X = blobs.copy()
    X[:6] = 8 * np.random.default_rng(0).uniform(-1, 1, size=(6, X.shape[1]))  # anomalies
    params = dict(max_iter=5, warm_start=True, random_state=0, learning_rate="constant", tol=0)
    trimmed, plain = small(trim_fraction=0.1, **params), small(trim_fraction=0.0, **params)
    for n_iter in (5, 10, 15):
        trimmed.fit(X)
        plain.fit(X)
        assert trimmed.n_iter_ == plain.n_iter_ == n_iter
        same = np.array_equal(trimmed._params, plain._params)
        assert same == (n_iter <= 10), n_iter  # epochs 1-10 on every row, then trimmed


def test_robust_training_never_touches_validation_rows():
    errors = np.r_[np.ones(40), np.full(10, 100.0)]
    errors[:40] += np.linspace(0, 0.1, 40)
    train_rows = np.arange(45)  # rows 45-49 are validation rows, never down-weighted
    context = _fake_context(errors, train_rows=train_rows)
    _Trimming(0.2, context, warmup=1).begin_epoch(2)
    weights = context.source.weights
    assert np.all(weights[40:45] < 1e-3 * weights[0])
    assert np.all(weights[45:] == weights[0])


def _manifold_split(seed, contamination):
    """A curved 2-D sheet in 20-D; anomalies are midpoints of two normal points."""
    X, _ = make_embedded_manifold(900, n_features=20, n_latent=2, random_state=seed)
    rng = np.random.RandomState(seed)

    def midpoints(n):
        return (X[rng.randint(600, size=n)] + X[rng.randint(600, size=n)]) / 2

    n_added = int(round(contamination / (1 - contamination) * 600))
    X_train = np.vstack([X[:600], midpoints(n_added)])
    X_test = np.vstack([X[600:], midpoints(60)])
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), np.r_[np.zeros(300), np.ones(60)]


def _held_out_auc(seed, contamination, trim_fraction):
    X_train, X_test, y_test = _manifold_split(seed, contamination)
    detector = AutoencoderOutlierDetector(trim_fraction=trim_fraction, random_state=seed)
    with threadpool_limits(1):
        detector.fit(X_train)
    return roc_auc_score(y_test, -detector.score_samples(X_test))


def test_robust_training_helps_on_contaminated_data():
    # Measured at the defaults: +0.032, +0.021, -0.002 for seeds 0, 1, 2 (mean 0.017;
    # +0.029 over seeds 0-9): a clear gain on average, and no real loss.
    gains = [_held_out_auc(seed, 0.1, 0.1) - _held_out_auc(seed, 0.1, 0.0) for seed in range(3)]
    assert np.mean(gains) > 0.01
    assert min(gains) > -0.01


def test_robust_training_does_little_harm_on_clean_data(seed):
    # Measured at the defaults: -0.003, -0.001, +0.000 for seeds 0, 1, 2.
    robust = _held_out_auc(seed, 0.0, 0.1)
    plain = _held_out_auc(seed, 0.0, 0.0)
    assert robust > plain - 0.01


def flat_sensor(n_rows, n_spikes, seed=0):
    """One reading repeated, and a few rows far from it: standardized."""
    rng = np.random.default_rng(seed)
    X = np.tile(rng.normal(size=(1, 5)), (n_rows, 1))
    X[:n_spikes] += 3 * rng.normal(size=(n_spikes, 5))
    return StandardScaler().fit_transform(X)


@pytest.mark.parametrize("n_rows, n_spikes", [(300, 3), (300, 25), (1000, 5)])
def test_a_repeated_row_with_a_few_spikes_converges_and_flags_them(n_rows, n_spikes):
    """Trimming trains on the copies of one row: a network follows their loss down to 0
    for ever, and the relative tolerance never saw a plateau (1,000 epochs and a
    ConvergenceWarning at all three sizes; now 360, 280 and 61). The spikes are flagged,
    and nothing else, either way."""
    X = flat_sensor(n_rows, n_spikes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        detector = AutoencoderOutlierDetector(random_state=0).fit(X)
    assert detector.n_iter_ < 500
    flagged = detector.predict(X) == -1
    assert flagged[:n_spikes].all() and not flagged[n_spikes:].any()


def test_only_a_row_carrying_all_but_the_trimmed_share_makes_the_tolerance_absolute(
    plateau_scales,
):
    params = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    fits = [
        (dict(), flat_sensor(100, 9), None),  # the repeated row carries 91 %: absolute
        (dict(trim_fraction=0.05), flat_sensor(100, 9), None),  # more than 5 % vary
        (dict(trim_fraction=0.0), flat_sensor(100, 9), None),  # no trimming: all train
        (dict(), flat_sensor(100, 11), None),  # 89 %
        (dict(), flat_sensor(100, 11), np.r_[np.ones(11), np.full(89, 1.25)]),  # 91 %
        (dict(), np.random.default_rng(0).normal(size=(100, 5)), None),
    ]
    for extra, data, sample_weight in fits:
        AutoencoderOutlierDetector(**params, **extra).fit(data, sample_weight=sample_weight)
    assert plateau_scales == [1.0, None, None, None, 1.0, None]


def test_one_row_carries_compares_values_not_only_hashes(monkeypatch):
    import skae._outlier as outlier_module

    X = flat_sensor(50, 2)
    rows = np.arange(50)
    assert outlier_module._one_row_carries(X, rows, None, 0.9)
    assert not outlier_module._one_row_carries(X, rows, None, 0.97)
    # Missing entries at the same places are equal; elsewhere they are not.
    X[2:, 1] = np.nan
    assert outlier_module._one_row_carries(X, rows, None, 0.95)  # 48 copies of 50
    X[3, 1] = 0.0
    X[4, 2] = np.nan
    assert not outlier_module._one_row_carries(X, rows, None, 0.95)  # 46
    # Colliding keys: the values still decide.
    monkeypatch.setattr(outlier_module, "row_keys", lambda X, seed: np.zeros(X.shape[0]))
    assert not outlier_module._one_row_carries(X, rows, None, 0.5)
    assert outlier_module._one_row_carries(np.ones((50, 3)), rows, None, 0.9)


def test_one_row_carries_finds_periodic_spikes_and_weighted_copies():
    import skae._outlier as outlier_module

    # A spike every 20th row: 95 % copies, which rows evenly spaced 20 apart would miss.
    X = np.tile(np.arange(4.0), (1261, 1))
    X[::20] += 5.0
    rows = np.arange(1261)
    assert outlier_module._one_row_carries(X, rows, None, 0.9)
    # Copies as half the rows but 95 % of the weight.
    X = np.tile(np.arange(4.0), (400, 1))
    X[1::2] = np.random.default_rng(0).normal(size=(200, 4))
    weights = np.where(np.arange(400) % 2 == 0, 19.0, 1.0)
    assert outlier_module._one_row_carries(X, np.arange(400), weights, 0.9)
    assert not outlier_module._one_row_carries(X, np.arange(400), None, 0.9)


def test_one_row_carries_reads_a_few_rows_of_data_that_vary(gathered_rows):
    import skae._outlier as outlier_module

    read = gathered_rows(outlier_module)
    X = np.random.default_rng(0).normal(size=(5000, 4))
    assert not outlier_module._one_row_carries(X, np.arange(5000), None, 0.9)
    assert read == [outlier_module._MAJORITY_PROBE]


def test_clean_rows_just_beyond_the_fence_go_on_training():
    """Left out entirely (zero weight), such rows stayed out for good: on this clean
    split the held-out ROC AUC fell by 0.038 and contamination="auto" flagged 6.8 % of
    the training rows, against 1.7 % without robust training (now 0.004 lower and 2.2 %)."""
    X_train, X_test, y_test = _manifold_split(6, 0.0)
    fitted = {}
    for trim_fraction in (0.1, 0.0):
        detector = AutoencoderOutlierDetector(trim_fraction=trim_fraction, random_state=6)
        with threadpool_limits(1):
            detector.fit(X_train)
        fitted[trim_fraction] = (
            roc_auc_score(y_test, -detector.score_samples(X_test)),
            np.mean(detector.predict(X_train) == -1),
        )
    (robust_auc, robust_flagged), (plain_auc, plain_flagged) = fitted[0.1], fitted[0.0]
    assert robust_auc > plain_auc - 0.01
    assert robust_flagged < plain_flagged + 0.02


# -- per-feature contributions ---------------------------------------------------------------
@pytest.mark.parametrize("loss", ["squared_error", "binary_crossentropy"])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_contributions_sum_to_the_score(loss, container, dtype, blobs):
    X = ((blobs - blobs.min()) / np.ptp(blobs)).astype(dtype)  # in [0, 1] for the BCE
    detector = small(loss=loss).fit(X)
    contributions = detector.score_samples_per_feature(container(X))
    assert contributions.shape == X.shape
    assert contributions.dtype == np.float64
    assert np.all(contributions <= 0)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(contributions.sum(axis=1), detector.score_samples(X), rtol=rtol)


def test_contributions_point_at_the_anomalous_feature(digits):
    X, _ = digits
    detector = small(n_components=8, hidden_layer_sizes=(32,)).fit(X)
    rows, columns = np.arange(40), np.random.default_rng(0).permutation(64)[:40]
    corrupted = X[rows].copy()
    corrupted[rows, columns] += 6.0  # one pixel per image, far off
    contributions = detector.score_samples_per_feature(corrupted)
    found = np.argmin(contributions, axis=1) == columns
    assert found.mean() >= 0.9


def test_contributions_of_a_data_frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(40, 3)), columns=["a", "b", "c"], index=[f"r{i}" for i in range(40)]
    )
    detector = small().fit(frame)
    contributions = detector.score_samples_per_feature(frame)
    assert isinstance(contributions, pd.DataFrame)
    assert list(contributions.columns) == ["a", "b", "c"]
    assert list(contributions.index) == list(frame.index)
    assert_allclose(contributions.sum(axis=1).to_numpy(), detector.score_samples(frame))
    # A plain array in, a plain array out.
    with pytest.warns(UserWarning, match="feature names"):
        assert isinstance(detector.score_samples_per_feature(frame.to_numpy()), np.ndarray)


def test_contributions_of_a_polars_frame():
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(rng.normal(size=(40, 3)), schema=["a", "b", "c"], orient="row")
    detector = small().fit(frame)
    contributions = detector.score_samples_per_feature(frame)
    assert isinstance(contributions, pl.DataFrame)
    assert contributions.columns == ["a", "b", "c"]
    assert contributions.dtypes == [pl.Float64] * 3
    assert_allclose(contributions.to_numpy().sum(axis=1), detector.score_samples(frame))


def test_a_refit_sets_the_threshold_in_the_same_step_as_the_weights(blobs, monkeypatch):
    """While the threshold is computed, the detector still holds the old model whole:
    a reader never finds new weights with the old offset_."""
    detector = small().fit(blobs)
    old = (detector._params.copy(), detector.offset_)
    seen = []
    score = AutoencoderOutlierDetector._sample_errors

    def spy(self, X, **kwargs):
        seen.append((detector._params.copy(), detector.offset_))
        return score(self, X, **kwargs)

    monkeypatch.setattr(AutoencoderOutlierDetector, "_sample_errors", spy)
    detector.set_params(random_state=1).fit(3 * blobs + 1)
    assert seen and detector.offset_ != old[1]
    for params, offset in seen:
        assert np.array_equal(params, old[0]) and offset == old[1]


def test_a_decision_of_exactly_zero_is_an_inlier(blobs):
    # IsolationForest's convention: outliers are decision_function < 0.
    detector = small(trim_fraction=0.0).fit(blobs)
    detector.offset_ = float(detector.score_samples(blobs[:1])[0])
    assert detector.decision_function(blobs[:1])[0] == 0.0
    assert detector.predict(blobs[:1])[0] == 1


def test_trimming_leaves_out_every_row_whose_error_overflows_even_past_the_fraction():
    class FirstColumnErrors:
        def sample_errors(self, X):
            return np.array(X[:, 0], dtype=np.float64)

    class Source:
        def set_weights(self, weights):
            self.weights = weights

    n = 100
    X = np.zeros((n, 2))
    X[:, 0] = np.linspace(1.0, 2.0, n)
    X[60:, 0] = np.inf  # 40 % of the rows overflow, over trim_fraction=0.1
    context = SimpleNamespace(
        X=X, train_rows=np.arange(n), sample_weight=None, objective=FirstColumnErrors(),
        source=Source(),
    )
    _Trimming(0.1, context, warmup=0).begin_epoch(1)
    weights = context.source.weights
    assert (weights[60:] == 0).all()
    # The fence is drawn on the finite errors: few of those rows weigh less.
    assert (weights[:60] == weights[:60].max()).sum() >= 54
