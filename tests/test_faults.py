"""The training loop's fault policy: divergence, interrupts, degenerate data."""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderOutlierDetector, AutoencoderTransformer, VariationalAutoencoder
from skae._optim import Adam
from skae._training import DivergenceError


@pytest.fixture(autouse=True)
def _ignore_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def snapshot(estimator):
    """Everything the estimator holds, deep-copied, for before/after comparison."""
    return pickle.dumps(copy.deepcopy(estimator.__dict__))


DIVERGING = {
    "huge inputs": (dict(), lambda X: X * 1e200),
    "huge float32 inputs": (dict(), lambda X: (X * 1e25).astype(np.float32)),
    "huge learning rate": (dict(learning_rate_init=1e38), lambda X: X.astype(np.float32)),
}


@pytest.mark.parametrize("case", list(DIVERGING))
def test_divergence_raises_and_first_fit_leaves_estimator_unfitted(blobs, case):
    params, make_X = DIVERGING[case]
    ae = AutoencoderTransformer(2, random_state=0, max_iter=50, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy noise on the way
        with pytest.raises(ValueError, match=r"diverged at epoch \d+.*StandardScaler.*"):
            ae.fit(make_X(blobs))
    assert not hasattr(ae, "n_features_in_")
    with pytest.raises(NotFittedError):
        ae.transform(blobs)


def test_divergence_message_names_epoch_batch_and_remedy(blobs):
    ae = AutoencoderTransformer(2, batch_size=40, random_state=0)
    with pytest.raises(ValueError) as info:
        ae.fit(blobs * 1e200)
    message = str(info.value)
    assert "epoch 1, batch 1" in message
    assert "learning_rate_init" in message and "StandardScaler" in message


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_divergence_leaves_previous_model_intact(blobs, method):
    ae = AutoencoderTransformer(2, random_state=0, max_iter=5).fit(blobs)
    before = snapshot(ae)
    codes = ae.transform(blobs)
    with pytest.raises(ValueError, match="diverged"):
        if method == "partial_fit":
            ae.partial_fit(blobs * 1e200)
        else:
            ae.set_params(warm_start=True).fit(blobs * 1e200)
    ae.set_params(warm_start=False)
    assert snapshot(ae) == before
    assert_array_equal(ae.transform(blobs), codes)


@pytest.mark.parametrize(
    "rate, low, high",
    [(0.3, -4.3, -3.3),  # the user guide's -3.8 (the BLAS kernel's rounding moves it)
     (1.0, -np.inf, -1e6)],  # the guide's -2e8
)
def test_a_rate_too_large_but_finite_ends_on_a_poor_fit_without_an_error(rate, low, high):
    """What the user guide says of a divergence that stays finite: no error, a
    converged fit worse than the mean reconstruction, a first-epoch loss above 1e5."""
    from sklearn.datasets import load_iris

    X = StandardScaler().fit_transform(load_iris().data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = AutoencoderTransformer(learning_rate_init=rate, random_state=0).fit(X)
    assert low < model.score(X) < high < -1.0  # the mean reconstruction scores -1
    assert model.loss_curve_[0] > 1e5
    assert np.isfinite(model.loss_curve_).all()


def test_infinity_under_assume_finite_is_caught(blobs):
    # NaN is a missing value (tests/test_missing.py); an unchecked infinity diverges.
    X = blobs.copy()
    X[3, 2] = np.inf
    ae = AutoencoderTransformer(2, max_iter=3)
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="diverged at epoch 1"):
            ae.fit(X)
    assert not hasattr(ae, "_params")


def interrupt_after(monkeypatch, n_steps):
    # Counts the training's steps: the fits that use it start at random (init="random"),
    # as a guided start's regressions step Adam too (an interrupt there propagates:
    # test_interrupt_during_the_guided_start_propagates).
    original = Adam.step
    calls = {"n": 0}

    def step(self, grad):
        calls["n"] += 1
        if calls["n"] > n_steps:
            raise KeyboardInterrupt
        original(self, grad)

    monkeypatch.setattr(Adam, "step", step)


def test_interrupt_keeps_last_complete_epoch(blobs, monkeypatch):
    # 120 rows in batches of 40: 3 steps an epoch; interrupt during epoch 3. One
    # start (test_interrupt_during_the_starts keeps the best of several).
    params = dict(n_components=2, batch_size=40, random_state=0, n_init=1, init="random")
    reference = AutoencoderTransformer(max_iter=2, **params).fit(blobs)
    interrupt_after(monkeypatch, 7)
    ae = AutoencoderTransformer(max_iter=50, **params)
    with pytest.warns(UserWarning, match="interrupted after 2 complete epoch.*keeps the "
                      "weights of its last complete epoch"):
        ae.fit(blobs)
    assert ae.n_iter_ == len(ae.loss_curve_) == 2
    assert ae.t_ == 2 * blobs.shape[0]
    assert_array_equal(ae._params, reference._params)
    assert ae._optimizer_state["t"] == 6
    assert_array_equal(ae.transform(blobs), reference.transform(blobs))


def test_interrupt_with_early_stopping_keeps_best_weights(blobs, monkeypatch):
    params = dict(batch_size=40, early_stopping=True, random_state=0, n_init=1, init="random")
    reference = AutoencoderTransformer(2, max_iter=6, **params).fit(blobs)
    interrupt_after(monkeypatch, 20)  # 108 training rows: 3 steps an epoch, in epoch 7
    ae = AutoencoderTransformer(2, **params)
    with pytest.warns(UserWarning, match="interrupted.*weights of its best validation epoch"):
        ae.fit(blobs)
    assert len(ae.validation_loss_curve_) == ae.n_iter_ == len(ae.loss_curve_) == 6
    assert ae.best_validation_loss_ == min(ae.validation_loss_curve_)
    # The unfinished epoch leaves no trace in the optimizer either.
    assert ae._optimizer_state["t"] == 18 == reference._optimizer_state["t"]
    assert_array_equal(ae._optimizer_state["m"], reference._optimizer_state["m"])


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("where", ["optimizer state", "counts"])
def test_interrupt_while_an_epoch_is_recorded_drops_it_whole(
    blobs, monkeypatch, early_stopping, where
):
    """An interrupt landing in the end-of-epoch bookkeeping (copying the optimizer's
    state for the checkpoint, or after the counts and best weights are updated but
    before the checkpoint is) drops that epoch from the counts and the weights alike:
    the model is the two-epoch fit's, whatever it reports."""
    import skae._training as training

    params = dict(n_components=2, batch_size=40, random_state=0, n_init=1,
                  early_stopping=early_stopping)
    reference = AutoencoderTransformer(max_iter=2, **params).fit(blobs)
    # Call 1 records the state before any epoch, calls 2 and 3 epochs 1 and 2.
    owner, name = (Adam, "state") if where == "optimizer state" else (training, "_counts")
    original, calls = getattr(owner, name), {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(owner, name, interrupted)
    ae = AutoencoderTransformer(max_iter=50, **params)
    with pytest.warns(UserWarning, match="interrupted after 2 complete epoch"):
        ae.fit(blobs)
    assert calls["n"] >= 4  # the fit reads the optimizer state once more at its end
    assert ae.n_iter_ == len(ae.loss_curve_) == 2
    assert ae.t_ == reference.t_
    assert ae.loss_curve_ == reference.loss_curve_
    if early_stopping:
        assert ae.validation_loss_curve_ == reference.validation_loss_curve_
        assert ae.best_validation_loss_ == reference.best_validation_loss_
    assert_array_equal(ae._params, reference._params)
    assert ae._optimizer_state["t"] == reference._optimizer_state["t"]
    assert_array_equal(ae._optimizer_state["m"], reference._optimizer_state["m"])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_interrupt_while_the_best_start_is_set_to_go_on_keeps_it(blobs, monkeypatch,
                                                                  early_stopping):
    """Interrupted in the setup of the call that goes on from the contest's winner (before
    its first epoch), the fit keeps that start as the contest left it: the model of a fit
    whose epochs end with the contest, not an unfitted estimator."""
    import skae._training as training

    X = np.random.default_rng(0).normal(size=(240, 5))
    params = dict(n_components=2, hidden_layer_sizes=(8,), batch_size=40, random_state=0,
                  n_init=2, early_stopping=early_stopping)
    reference = AutoencoderTransformer(max_iter=10, **params).fit(X)
    counts, seen = training._counts, []

    def interrupted(result):
        seen.append(result.n_epochs)
        # Two starts of 10 epochs: 11 calls each (the setup's and one an epoch); the
        # 23rd is the setup of the winner's going on.
        if len(seen) == 23:
            raise KeyboardInterrupt
        return counts(result)

    monkeypatch.setattr(training, "_counts", interrupted)
    ae = AutoencoderTransformer(max_iter=50, **params)
    with pytest.warns(UserWarning, match="interrupted after 10 complete epoch"):
        ae.fit(X)
    assert seen[-1] == 10 and len(seen) == 23
    assert ae.n_iter_ == len(ae.loss_curve_) == 10 and ae.t_ == reference.t_
    assert ae.loss_curve_ == reference.loss_curve_
    assert_array_equal(ae._params, reference._params)
    assert_array_equal(ae.transform(X), reference.transform(X))


def test_interrupt_in_first_epoch_propagates_and_leaves_estimator_unfitted(blobs, monkeypatch):
    interrupt_after(monkeypatch, 1)
    ae = AutoencoderTransformer(2, batch_size=40, init="random")
    with pytest.raises(KeyboardInterrupt):
        ae.fit(blobs)
    assert not hasattr(ae, "_params") and not hasattr(ae, "n_features_in_")


def test_interrupt_during_the_guided_start_propagates(blobs, monkeypatch):
    """Before any epoch, as in the first: the interrupt propagates, and a fitted
    estimator keeps its model."""
    import skae._guide as guide_module

    ae = AutoencoderTransformer(2, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(blobs)
    params, n_iter = ae._params.copy(), ae.n_iter_

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(guide_module, "_regress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ae.fit(blobs)
    assert_array_equal(ae._params, params)
    assert ae.n_iter_ == n_iter
    fresh = AutoencoderTransformer(2, max_iter=3, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(blobs)
    assert not hasattr(fresh, "_params")


def test_failed_validation_leaves_fitted_model_untouched(blobs):
    ae = AutoencoderTransformer(2, max_iter=3).fit(blobs)
    before = snapshot(ae)
    with pytest.raises(ValueError):
        ae.fit(blobs[:, :3].tolist() + [["a", 1, 2]])
    with pytest.raises(ValueError):
        ae.fit(np.full((5, 6), np.inf))
    assert snapshot(ae) == before


@pytest.mark.parametrize(
    "X",
    [
        pytest.param(np.column_stack([np.ones(50), np.arange(50.0) / 50]), id="constant column"),
        pytest.param(np.tile([[1.0, 2.0, 3.0]], (40, 1)), id="all rows equal"),
        pytest.param(np.array([[0.5, -1.0, 2.0]]), id="single sample"),
        pytest.param(np.linspace(-1, 1, 30)[:, None], id="single feature"),
    ],
)
def test_degenerate_data_trains_to_finite_model(X):
    ae = AutoencoderTransformer(2, max_iter=20, random_state=0).fit(X)
    assert np.all(np.isfinite(ae._params))
    codes = ae.transform(X)
    assert codes.shape == (X.shape[0], 2) and np.all(np.isfinite(codes))
    assert np.isfinite(ae.score(X))


def test_all_rows_equal_reconstructs_the_row(seed):
    X = np.tile([[1.0, 2.0, 3.0]], (64, 1))
    # No weight decay and no early stop on a plateau: the point is that constant data
    # is learnt exactly, not how the penalty or the stopping rule trade it off.
    ae = AutoencoderTransformer(
        1,
        alpha=0.0,
        max_iter=600,
        n_iter_no_change=600,
        learning_rate_init=0.01,
        random_state=seed,
    )
    ae.fit(X)
    assert -ae.score(X) < 1e-8


def interrupt_validation_at(monkeypatch, epoch):
    """Raise KeyboardInterrupt inside the validation pass of epoch ``epoch``."""
    import skae._estimator as estimator_module

    original = estimator_module._validation_loss

    def wrapped(*args, **kwargs):
        validate = original(*args, **kwargs)
        calls = {"n": 0}

        def interrupted():
            calls["n"] += 1
            if calls["n"] == epoch:
                raise KeyboardInterrupt
            return validate()

        return interrupted

    monkeypatch.setattr(estimator_module, "_validation_loss", wrapped)


def test_interrupt_during_validation_drops_that_epoch(blobs, monkeypatch):
    params = dict(n_components=2, batch_size=40, early_stopping=True, random_state=0, n_init=1)
    reference = AutoencoderTransformer(max_iter=1, **params).fit(blobs)
    interrupt_validation_at(monkeypatch, 2)
    ae = AutoencoderTransformer(max_iter=50, **params)
    with pytest.warns(UserWarning, match="interrupted after 1 complete epoch"):
        ae.fit(blobs)
    assert ae.n_iter_ == len(ae.loss_curve_) == len(ae.validation_loss_curve_) == 1
    assert ae.best_validation_loss_ == reference.best_validation_loss_
    assert_array_equal(ae._params, reference._params)


def test_interrupt_during_the_first_validation_leaves_estimator_unfitted(blobs, monkeypatch):
    interrupt_validation_at(monkeypatch, 1)
    ae = AutoencoderTransformer(2, batch_size=40, early_stopping=True, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        ae.fit(blobs)
    assert not hasattr(ae, "_params")


def test_early_stopping_error_counts_samples_with_positive_weight():
    X = np.random.RandomState(0).normal(size=(100, 3))
    weights = np.r_[1.0, np.zeros(99)]
    with pytest.raises(ValueError, match="of which 1 distinct with positive weight"):
        AutoencoderTransformer(early_stopping=True).fit(X, sample_weight=weights)


def test_a_divergence_under_auto_alpha_and_tiny_weights_names_the_penalty():
    from sklearn.datasets import load_iris

    X = StandardScaler().fit_transform(load_iris().data).astype(np.float32)
    tiny = np.full(X.shape[0], 1e-30)
    with pytest.raises(DivergenceError, match=r'alpha="auto" .* here 4.27e\+27: rescale'):
        AutoencoderTransformer(2, random_state=0, max_iter=5).fit(X, sample_weight=tiny)
    # Not for a divergence it cannot explain: a fixed alpha, or no weights.
    for params, weights in [({"alpha": 1e-3}, None), ({}, None), ({}, np.ones(len(X)))]:
        with pytest.raises(DivergenceError) as info:
            AutoencoderTransformer(2, learning_rate_init=1e30, max_iter=5, **params).fit(
                X, sample_weight=weights
            )
        assert "alpha" not in str(info.value)


def test_divergence_of_the_weights_is_worded_as_such():
    from skae._training import diverged

    weights = diverged(3, None, "weights became non-finite", 1e-3)
    assert "the weights became non-finite." in str(weights)
    assert "the loss became nan." in str(diverged(3, 2, float("nan"), 1e-3))


@pytest.mark.parametrize(
    "params, named",
    [
        ({"alpha": 1e200}, "lower alpha=1e+200"),
        ({"contraction": 1e200}, "lower contraction=1e+200"),
        ({"noise": "gaussian", "noise_level": 1e160}, "lower noise_level=1e+160"),
    ],
)
def test_a_divergence_names_the_strong_penalties_and_noise_in_use(blobs, params, named):
    X = StandardScaler().fit_transform(blobs)  # scaled data, a usual learning rate
    with pytest.raises(DivergenceError, match=f"Strong penalties or noise .*: {re.escape(named)}"):
        AutoencoderTransformer(2, n_init=1, max_iter=5, random_state=0, **params).fit(X)
    with pytest.raises(DivergenceError) as info:  # settings it cannot blame: none named
        AutoencoderTransformer(
            2, learning_rate_init=1e30, max_iter=5, noise="gaussian", sparsity=0.1
        ).fit(X)
    assert "Strong penalties" not in str(info.value)


# -- inference on finite values the network cannot represent --------------------------------
HUGE = np.finfo(np.float64).max


def _fitted(cls, X, **params):
    from skae import VariationalAutoencoder  # noqa: F401 (cls may be either)

    return cls(2, hidden_layer_sizes=(8,), max_iter=5, random_state=0, **params).fit(X)


@pytest.mark.parametrize("cls_name", ["AutoencoderTransformer", "VariationalAutoencoder"])
def test_inference_that_overflows_raises_or_scores_minus_infinity_never_nan(blobs, cls_name):
    import skae

    model = _fitted(getattr(skae, cls_name), blobs)
    huge = np.vstack([blobs[:3], np.full((2, blobs.shape[1]), HUGE)])
    before = snapshot(model)
    # Silent but for the errors: NumPy's overflow warnings would add nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"codes of 2 row\(s\) of X \(the first: row 3\) "
                           r"overflow float64.*Scale X as the training data"):
            model.transform(huge)
        corners = HUGE * np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
        with pytest.raises(ValueError, match=r"reconstructions of \d row.*Decode codes like"):
            model.inverse_transform(np.vstack([np.zeros((1, 2)), corners]))
        scores = model.score_samples(huge)
        assert model.score(huge) == -np.inf
    assert_array_equal(scores[3:], -np.inf)
    assert np.isfinite(scores[:3]).all()
    assert snapshot(model) == before
    # With missing entries too (their own path): the observed huge entries overflow.
    holes = huge.copy()
    holes[:, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scores = model.score_samples(holes)
        # Rows of zero weight do not count, though they score -inf.
        weights = np.array([1.0, 2.0, 1.0, 0.0, 0.0])
        assert_allclose(
            model.score(holes, sample_weight=weights),
            model.score(holes[:3], sample_weight=weights[:3]),
            rtol=1e-12,
        )
    assert_array_equal(scores[3:], -np.inf)
    assert np.isfinite(scores[:3]).all()


def test_the_variational_bound_of_a_row_with_nothing_observed_is_exactly_zero(blobs):
    from skae import VariationalAutoencoder

    vae = _fitted(VariationalAutoencoder, blobs, n_importance_samples=5)
    X = blobs[:4].copy()
    X[1:3] = np.nan
    scores = vae.score_samples(X)
    assert_array_equal(scores[1:3], 0.0)  # log p() = 0, not an estimate of it
    assert (scores[[0, 3]] < 0).all()
    assert_array_equal(scores[[0, 3]], vae.score_samples(blobs[[0, 3]]))


def test_imputations_that_overflow_raise_and_huge_values_of_both_signs_standardize(blobs):
    from skae import AutoencoderImputer

    X = blobs.copy()
    # Two rows in three positive: a mean of ~0.3 HUGE, from which -0.9 HUGE overflows.
    X[:, 0] = np.where(np.arange(len(X)) % 3, 0.9 * HUGE, -0.9 * HUGE)
    X[::5, 0] = np.random.RandomState(0).uniform(-0.5, 0.5, size=len(X[::5])) * HUGE
    X[3, 1] = np.nan
    imputer = AutoencoderImputer(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X)
    assert np.isfinite(imputer.transform(X)).all()
    assert np.isfinite(imputer.mean_).all() and np.isfinite(imputer.scale_).all()
    # Only the entries whose difference from the mean overflows divide first: the
    # others standardize as always, whatever rows come with them.
    with np.errstate(over="ignore"):
        plain = (X - imputer.mean_) / imputer.scale_
    Z, learned = imputer._standardized(X, continuing=True)
    assert learned == {}  # nothing new learned when continuing
    overflowing = np.isinf(plain)
    assert overflowing.any() and not overflowing.all()
    assert_array_equal(Z[~overflowing], plain[~overflowing])
    assert np.isfinite(Z[overflowing]).all()
    # Far beyond the training data: the imputations overflow, and it says so.
    small = AutoencoderImputer(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    small.fit(np.where(X == X[3, 1], np.nan, blobs))
    far = np.full((2, X.shape[1]), HUGE)
    far[:, 0] = np.nan
    with warnings.catch_warnings(), pytest.raises(
        ValueError, match="imputed values of 2 row.*Check the observed values of those rows"
    ):
        warnings.simplefilter("error", RuntimeWarning)  # the error says it all
        small.transform(far)
    # float32 data for a model whose means lie beyond float32: refused up front, saying
    # which feature and what to do, with no RuntimeWarning first, whichever entries are
    # missing; float64 data of the same rows are imputed.
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((50, 2))
    wide[:, 0] = wide[:, 0] * 1e39 + 1e40
    f32 = AutoencoderImputer(max_iter=2, random_state=0).fit(wide)
    for hole in (0, 1):
        query = rng.standard_normal((3, 2)).astype(np.float32)
        query[:, hole] = np.nan
        given = query.copy()
        with warnings.catch_warnings(), pytest.raises(
            ValueError, match=r"fitted on data beyond float32's range \(feature 0: mean "
            r"9.99e\+39, scale .*pass X as float64"
        ):
            warnings.simplefilter("error", RuntimeWarning)
            f32.transform(query)
        assert_array_equal(query, given)
        assert np.isfinite(f32.transform(query.astype(np.float64))).all()


# -- a fitted model read by other threads while a call on it fails --------------------------
class _NeverEmptied(dict):
    """An estimator's __dict__ that must never be emptied (another thread may read it)."""

    def clear(self):
        raise AssertionError("the estimator was emptied")


def test_a_failed_fit_restores_the_model_without_ever_emptying_it(blobs):
    ae = AutoencoderTransformer(2, max_iter=3, random_state=0).fit(blobs)
    codes = ae.transform(blobs)
    ae.__dict__ = _NeverEmptied(ae.__dict__)
    for call in (lambda: ae.partial_fit(blobs[:, :3]), lambda: ae.fit(blobs * np.inf)):
        with pytest.raises(ValueError):
            call()
        assert_array_equal(ae.transform(blobs), codes)


class PickleEachEpoch:
    """A callback pickling the estimator it watches at the end of each epoch."""

    pickles = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name == "epoch":
            PickleEachEpoch.pickles.append(pickle.dumps(estimator))
        return False


def test_an_estimator_pickles_while_it_is_being_fitted(blobs):
    pytest.importorskip("sklearn.callback")
    pickles = PickleEachEpoch.pickles
    pickles.clear()
    fitted = AutoencoderTransformer(2, max_iter=2, random_state=0).fit(blobs)
    fitted.set_callbacks(PickleEachEpoch())
    fitted.partial_fit(blobs)  # the estimator holds its fit's machinery meanwhile
    assert pickles
    loaded = pickle.loads(pickles[-1])
    assert not {"_skae_epoch_tasks", "_callback_fit_ctx"} & set(vars(loaded))
    assert loaded.transform(blobs).shape == (len(blobs), 2)
    assert len(pickles[-1]) < 3 * len(pickle.dumps(AutoencoderTransformer(2).fit(blobs[:5])))


def test_the_variational_bound_uses_the_seed_of_the_parameters_it_scores(blobs, monkeypatch):
    from skae import VariationalAutoencoder

    vae = VariationalAutoencoder(2, hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    vae.fit(blobs)
    expected = vae.score_samples(blobs)
    # Another thread's fit commits new parameters (and their seed) while this one scores.
    original = VariationalAutoencoder._inference_missing

    def commit_meanwhile(self, *args, **kwargs):
        self.__dict__["_score_seed"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(VariationalAutoencoder, "_inference_missing", commit_meanwhile)
    assert_array_equal(vae.score_samples(blobs), expected)


def test_float32_training_with_zero_moment_decay_stays_finite_as_in_float64():
    """beta_1 = beta_2 = 0 are allowed: a float32 fit diverged where float64 trained."""
    X = np.random.default_rng(0).standard_normal((20, 4))
    params = dict(
        hidden_layer_sizes=(8,), batch_size=1, beta_1=0.0, beta_2=0.0,
        learning_rate_init=1e-4, max_iter=20, n_init=1, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = {dt: AutoencoderTransformer(**params).fit(X.astype(dt)) for dt in ("f4", "f8")}
    for ae in fits.values():
        assert max(np.abs(W).max() for W in ae.coefs_) < 10  # steps of at most lr each
    assert_allclose(fits["f4"].loss_curve_, fits["f8"].loss_curve_, rtol=1e-3)


def test_a_divergence_blames_auto_alpha_with_the_penalty_the_fit_used():
    """Tiny sample weights make alpha="auto" huge, which the divergence error says,
    with the weight the fit used: for the cross-entropy, scaled to its units."""
    import skae._estimator as estimator_module

    X = 1 / (1 + np.exp(-np.random.default_rng(0).normal(size=(40, 5))))
    diverging = dict(early_stopping=False, learning_rate_init=1e200, max_iter=5,
                     random_state=0, n_init=1)
    rows = np.arange(40)
    scale = estimator_module._auto_alpha_scale("binary_crossentropy", X, rows, None)
    assert 0.05 < scale < 0.5
    for loss, weight, factor in [("squared_error", 0.001, 1.0),
                                 ("binary_crossentropy", 0.001, scale)]:
        model = AutoencoderTransformer(2, loss=loss, **diverging)
        alpha = 0.64 * factor / (40 * weight)
        assert alpha > 1
        scaled = "" if loss == "squared_error" else re.escape(f" (times {scale:.3g}, for the "
                                                              "loss's units)")
        with pytest.raises(DivergenceError, match=rf'alpha="auto" the L2 penalty is 0.64'
                           rf"{scaled} over the training rows' total sample weight \(0.04\), "
                           rf"here {alpha:.3g}"):
            model.fit(X, sample_weight=np.full(40, weight))
    # Scaled below 1, the penalty is not what to blame.
    weight = 0.64 * scale / 40 / 0.5  # a scaled penalty of 0.5 (unscaled > 1)
    with pytest.raises(DivergenceError) as info:
        AutoencoderTransformer(2, loss="binary_crossentropy", **diverging).fit(
            X, sample_weight=np.full(40, weight)
        )
    assert "alpha=" not in str(info.value) and 0.64 / (40 * weight) > 1


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("cls", [AutoencoderTransformer, VariationalAutoencoder,
                                 AutoencoderOutlierDetector])
def test_float32_data_that_overflow_are_named_as_such(blobs, cls, sparse):
    # Adam's squared gradients of data at 1e10 overflow float32, whatever the rate;
    # the same data in float64 train (or at least are not blamed on float32).
    X = (StandardScaler().fit_transform(blobs) * 1e10).astype(np.float32)
    with pytest.raises(DivergenceError, match=r"X is float32 and reaches \d\.\d+e\+10"):
        cls(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
            sp.csr_matrix(X) if sparse else X
        )
    try:
        cls(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X.astype(np.float64))
    except DivergenceError as error:
        assert "float32" not in str(error)
    # A float32 divergence of standardized data, or of data at 1e7 (where float32
    # holds) with a huge rate, is not blamed on the precision.
    for scale in (1.0, 1e7):
        with pytest.raises(DivergenceError) as info:
            cls(hidden_layer_sizes=(8,), max_iter=5, random_state=0,
                learning_rate_init=1e30).fit(X / 1e10 * scale)
        assert "float32" not in str(info.value)
