"""Random starts (n_init), the initialisation, the validated L2 weight, early_stopping="auto"."""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import entr, expit, logit
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae._estimator as estimator_module
from skae import AutoencoderOutlierDetector, AutoencoderTransformer, VariationalAutoencoder
from skae._callbacks import HAS_CALLBACKS
from skae._model import Network
from skae._objectives import Objective
from skae._optim import Adam, Schedule
from skae._training import DivergenceError, TrainingResult, best_start, train


def quiet_fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


# -- initialisation -----------------------------------------------------------------------
@pytest.mark.parametrize("diverging", [False, True])
@pytest.mark.parametrize("with_callback", [False, True])
def test_the_starts_dropped_are_freed_as_the_contest_goes_on(
    blobs, monkeypatch, with_callback, diverging
):
    """No reference cycle keeps a start's model, gradients and optimizer alive: once
    the contest moves on from a start, it is freed (without the garbage collector)."""
    import gc
    import weakref

    optimizers = []
    original = Adam.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        optimizers.append(weakref.ref(self))

    monkeypatch.setattr(Adam, "__init__", init)
    if diverging:  # the second start's weights turn NaN at its first step: it drops out
        step = Adam.step

        def diverge(self, grad):
            step(self, grad)
            if len(optimizers) == 2:
                self.params[:] = np.nan

        monkeypatch.setattr(Adam, "step", diverge)
    # Random starts: one Adam per start (a guided start's regressions have their own).
    estimator = AutoencoderTransformer(
        hidden_layer_sizes=(8,), max_iter=15, n_init=4, early_stopping=True, random_state=0,
        init="random",
    )
    if with_callback:
        if not HAS_CALLBACKS:
            pytest.skip("this scikit-learn has no callback API (sklearn.callback)")
        from sklearn.callback import ScoringMonitor

        estimator.set_callbacks(ScoringMonitor(scoring={"s": lambda est, X, y=None: 0.0}))
    gc.disable()
    try:
        quiet_fit(estimator, blobs)
        alive = sum(ref() is not None for ref in optimizers)
    finally:
        gc.enable()
    assert len(optimizers) == 4
    assert alive == 0  # the winner's optimizer state is saved, not the optimizer


def test_lecun_initialisation_draws_weights_and_biases_by_fan_in():
    net = Network((300, 400, 2, 400, 300), 2, "relu")
    net.initialize(np.random.default_rng(0), "lecun")
    for W, b in zip(net.coefs, net.intercepts, strict=True):
        fan_in = W.shape[0]
        assert np.abs(W).max() <= math.sqrt(3 / fan_in)
        assert np.abs(b).max() <= 1 / math.sqrt(fan_in)
        assert_allclose(W.var(), 1 / fan_in, rtol=0.1)  # LeCun: variance 1 / fan_in
        if b.size > 100:
            assert_allclose(b.var(), 1 / (3 * fan_in), rtol=0.3)  # U(±1/√fan_in)
    he = Network((300, 400, 2, 400, 300), 2, "relu")
    he.initialize(np.random.default_rng(0))
    assert all(not b.any() for b in he.intercepts)
    assert_allclose(he.coefs[0].var(), 2 / 300, rtol=0.1)
    with pytest.raises(ValueError, match="unknown initialisation"):
        he.initialize(np.random.default_rng(0), "xavier")


def test_lecun_initialisation_keeps_tied_weights_tied():
    net = Network((6, 4, 2, 4, 6), 2, "relu", tied=True)
    net.initialize(np.random.default_rng(0), "lecun")
    for k, j in net.tied_to.items():
        assert np.shares_memory(net.coefs[k], net.coefs[j])
        assert_array_equal(net.coefs[k], net.coefs[j].T)
        assert net.intercepts[k].any()  # a tied layer's biases are its own, and drawn


def test_the_transformer_starts_from_lecun_and_the_detector_from_he(blobs):
    # A step size that moves nothing: the fitted weights are the initial ones.
    params = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=1, learning_rate_init=1e-300,
                  random_state=0)
    transformer = quiet_fit(AutoencoderTransformer(**params), blobs)
    detector = quiet_fit(AutoencoderOutlierDetector(**params), blobs)
    for W, b in zip(transformer.coefs_, transformer.intercepts_, strict=True):
        assert np.abs(W).max() <= math.sqrt(3 / W.shape[0])
        assert 0.1 / math.sqrt(W.shape[0]) < np.abs(b).max() <= 1 / math.sqrt(W.shape[0])
    assert all(np.abs(b).max() < 1e-200 for b in detector.intercepts_)  # zeros, + 1e-300 steps


# -- the contest between starts --------------------------------------------------------------
class Candidate:
    """A start whose run returns a scripted result."""

    def __init__(self, name, losses=(), validation=(), stop=None):
        self.name, self.losses, self.validation, self.stop = name, losses, validation, stop
        self.ran = []

    def run(self, epochs):
        self.ran.append(epochs)
        if self.stop == "interrupt-at-once":
            raise KeyboardInterrupt
        result = TrainingResult(loss_curve=list(self.losses),
                                validation_loss_curve=list(self.validation))
        result.n_epochs = len(self.losses)
        result.best_loss = min(self.losses)
        if self.validation:
            result.best_validation_loss = min(self.validation)
        result.interrupted = self.stop == "interrupt"
        result.stopped_by_monitor = self.stop == "monitor"
        return result


def test_best_start_keeps_the_lowest_best_loss():
    starts = [Candidate("a", [3, 2]), Candidate("b", [3, 1.5, 1.7]), Candidate("c", [2, 1.6])]
    chosen, result = best_start(iter(starts), 10)
    assert chosen.name == "b" and result.best_loss == 1.5
    assert [s.ran for s in starts] == [[10], [10], [10]]


def test_best_start_compares_validation_losses_when_there_are_some():
    starts = [Candidate("a", [1.0], validation=[5.0]), Candidate("b", [2.0], validation=[4.0])]
    assert best_start(iter(starts), 1)[0].name == "b"


@pytest.mark.parametrize("stop", ["interrupt", "monitor"])
def test_an_interrupt_or_a_monitor_ends_the_contest(stop):
    starts = [Candidate("a", [1.0]), Candidate("b", [2.0], stop=stop), Candidate("c", [0.1])]
    chosen, result = best_start(iter(starts), 1)
    assert chosen.name == "a" and starts[2].ran == []
    assert result.interrupted == (stop == "interrupt")
    assert result.stopped_by_monitor == (stop == "monitor")


def test_an_interrupt_before_any_epoch_propagates_only_without_a_start_done():
    with pytest.raises(KeyboardInterrupt):
        best_start(iter([Candidate("a", stop="interrupt-at-once")]), 1)
    starts = [
        Candidate("a", [1.0]), Candidate("b", stop="interrupt-at-once"), Candidate("c", [0.1])
    ]
    chosen, result = best_start(iter(starts), 1)
    assert chosen.name == "a" and result.interrupted and starts[2].ran == []


def test_an_interrupt_while_a_start_is_set_up_keeps_the_starts_done():
    """The candidates are made lazily: Ctrl-C while making one ends the contest too."""
    done = Candidate("a", [1.0])

    def candidates():
        yield done
        raise KeyboardInterrupt  # while initialising the second start's network

    chosen, result = best_start(candidates(), 1)
    assert chosen is done and result.interrupted

    def none_made():
        raise KeyboardInterrupt
        yield

    with pytest.raises(KeyboardInterrupt):  # no start done: nothing to keep
        best_start(none_made(), 1)


def test_a_diverging_start_drops_out_unless_all_do():
    class Diverging(Candidate):
        def run(self, epochs):
            self.ran.append(epochs)
            raise DivergenceError(f"start {self.name} diverged")

    starts = [Diverging("a"), Candidate("b", [2.0]), Diverging("c"), Candidate("d", [1.0])]
    chosen, result = best_start(iter(starts), 3)
    assert chosen.name == "d" and all(s.ran == [3] for s in starts)
    with pytest.raises(DivergenceError, match="start a diverged"):
        best_start(iter([Diverging("a"), Diverging("b")]), 3)


class ScriptedObjective:
    """Epoch losses as given; parameters that move by one each step."""

    def __init__(self, losses):
        self.losses = iter(losses)
        self.network = SimpleNamespace(params=np.zeros(1), grad=-np.ones(1))

    def loss_gradient(self, inputs, targets, weights):
        return next(self.losses)


class OneBatch:
    n_rows = 1

    def epoch(self, rng):
        yield np.zeros((1, 1)), np.zeros((1, 1)), None


def test_training_goes_on_from_an_earlier_result():
    """The bests carry over: a continuation that never improves keeps the earlier best."""
    objective = ScriptedObjective(np.ones(100))
    optimizer = Adam(objective.network.params, learning_rate=1.0)
    validation = iter([5.0, 4.0, 4.5, 6.0, 7.0, 8.0])

    def run(max_epochs, **kwargs):
        return train(objective, optimizer, OneBatch(), rng=None, max_epochs=max_epochs,
                     validate=lambda: next(validation), tol=0.0, n_iter_no_change=50, **kwargs)

    first = run(3)
    kept = objective.network.params.copy()  # the second epoch's, the best of three
    result = run(3, first_epoch=4, result=first)
    assert result is first and result.n_epochs == 6
    assert result.validation_loss_curve == [5.0, 4.0, 4.5, 6.0, 7.0, 8.0]
    assert result.best_validation_loss == 4.0
    assert_array_equal(objective.network.params, kept)


def test_the_stopping_count_goes_on_too():
    """Epochs without improvement before the break count towards the plateau after it."""
    objective = ScriptedObjective([3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    optimizer = Adam(objective.network.params)

    def run(max_epochs, **kwargs):
        return train(objective, optimizer, OneBatch(), rng=None, max_epochs=max_epochs,
                     tol=0.0, n_iter_no_change=3, **kwargs)

    first = run(3)  # the third epoch does not improve on the second's 2.0
    assert not first.converged
    result = run(5, first_epoch=4, result=first)
    assert result.converged and result.n_epochs == 5  # the third epoch without is the 5th


def test_the_plateau_rules_average_goes_on_too():
    """The averaged epochs and their best carry over a break: it ends where one call would."""
    losses = [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]

    def run(objective, max_epochs, **kwargs):
        return train(objective, Adam(objective.network.params), OneBatch(), rng=None,
                     max_epochs=max_epochs, tol=0.0, n_iter_no_change=4, plateau_window=2,
                     **kwargs)

    # A window of 2: the average improves until epoch 3, epochs 4 to 7 make the plateau.
    whole = run(ScriptedObjective(losses), 11)
    assert whole.converged and whole.n_epochs == 7
    objective = ScriptedObjective(losses)
    first = run(objective, 4)
    assert not first.converged
    # Afresh, epoch 5 would improve on no best and the plateau would end at epoch 9.
    result = run(objective, 7, first_epoch=5, result=first)
    assert result.converged and result.n_epochs == 7


def test_a_partial_cosine_schedule_has_not_run_its_course():
    schedule = Schedule("cosine", Adam(np.zeros(1)), 20)
    for _ in range(10):
        schedule.start_epoch()
    assert not schedule.completes
    for _ in range(10):
        schedule.start_epoch()
    assert schedule.completes


# -- n_init in fits ------------------------------------------------------------------------
def record_starts(monkeypatch):
    """Record every start's TrainingResult and the one chosen."""
    seen = {"starts": [], "validation": [], "chosen": None}
    original = estimator_module.best_start

    def recording(candidates, n_epochs, **kwargs):
        def wrapped():
            for candidate in candidates:
                run = candidate.run

                def logged(epochs, run=run, **kwargs):
                    result = run(epochs, **kwargs)
                    if "result" not in kwargs:  # the start's own epochs, not what follows
                        seen["starts"].append(list(result.loss_curve))
                        seen["validation"].append(list(result.validation_loss_curve))
                    return result

                candidate.run = logged
                yield candidate

        chosen, result = original(wrapped(), n_epochs, **kwargs)
        seen["chosen"] = list(result.loss_curve)
        return chosen, result

    monkeypatch.setattr(estimator_module, "best_start", recording)
    return seen


def test_the_fit_goes_on_from_the_start_with_the_lowest_loss(blobs, seed, monkeypatch):
    seen = record_starts(monkeypatch)
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=5, max_iter=25,
                                          tol=0.0, random_state=seed), blobs)
    starts = seen["starts"]
    assert len(starts) == 5 and all(len(curve) == 10 for curve in starts)
    best = min(range(5), key=lambda k: min(starts[k]))
    assert seen["chosen"][:10] == starts[best]
    assert ae.loss_curve_[:10] == starts[best] and ae.n_iter_ == len(ae.loss_curve_) == 25
    assert ae.t_ == 25 * blobs.shape[0]
    # The first start is the fit with n_init=1.
    single = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=1, max_iter=10,
                                              tol=0.0, random_state=seed), blobs)
    assert single.loss_curve_ == starts[0]


def test_starts_with_held_out_rows_compare_validation_losses(seed, monkeypatch):
    seen = record_starts(monkeypatch)
    rng = np.random.RandomState(0)  # noisy rows: training and validation losses disagree
    X = np.tanh(rng.normal(size=(240, 2)) @ rng.normal(size=(2, 6)))
    X += 0.3 * rng.normal(size=X.shape)
    # Random starts and ReLU units, as when the seeds below were read.
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(32,), n_init=4, max_iter=10,
                                          learning_rate_init=0.02, random_state=seed,
                                          init="random", activation="relu"), X)
    assert ae.validation_loss_curve_ is not None  # 240 rows: "auto" holds some out
    validation = seen["validation"]
    assert len(validation) == 4
    best = min(range(4), key=lambda k: min(validation[k]))
    assert ae.validation_loss_curve_ == validation[best]
    # At seeds 0 and 1 the start with the lowest training loss is another one.
    by_training = min(range(4), key=lambda k: min(seen["starts"][k]))
    assert (by_training != best) == (seed in (0, 1))


@pytest.mark.parametrize(
    "variant",
    [{}, {"noise": "gaussian"}, {"noise": "masking", "noise_level": 0.2},
     {"noise": "salt_and_pepper", "noise_level": 0.1}, {"contraction": 1e-2}],
)
def test_the_chosen_start_goes_on_as_if_it_had_been_alone(blobs, monkeypatch, variant):
    """Its continuation is seamless: the same fit as one start, bitwise.

    The best start is forced to be the first: the continuation then starts from
    the last epoch's weights (not the best validation epoch's) with the optimizer
    state, schedule and stopping count they go with, and its own noise stream
    (the other starts drew theirs from their own).
    """
    X = np.tile(blobs, (2, 1)) + 0.01 * np.random.default_rng(0).normal(size=(240, 6))
    params = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=60, n_iter_no_change=4,
                  tol=1e-2, learning_rate_init=0.05, random_state=0, early_stopping=True,
                  **variant)
    alone = quiet_fit(AutoencoderTransformer(n_init=1, **params), X)
    original = estimator_module.best_start

    def first_start(candidates, n_epochs, **kwargs):
        candidates = list(candidates)
        chosen, result = original(iter(candidates[:1]), n_epochs, **kwargs)
        for other in candidates[1:]:
            other.run(n_epochs)
        return chosen, result

    monkeypatch.setattr(estimator_module, "best_start", first_start)
    forced = quiet_fit(AutoencoderTransformer(n_init=3, **params), X)
    if not variant:  # the validation loss peaked inside the first ten epochs: a rewind shows
        assert np.argmin(alone.validation_loss_curve_[:10]) < 9
    assert forced.validation_loss_curve_ == alone.validation_loss_curve_
    assert forced.n_iter_ == alone.n_iter_ < 60  # stopped by the rule, as alone
    assert_array_equal(forced._params, alone._params)
    assert forced._optimizer_state["t"] == alone._optimizer_state["t"]


def test_starts_are_reproducible_and_differ_from_each_other(blobs, monkeypatch):
    seen = record_starts(monkeypatch)
    params = dict(n_components=2, hidden_layer_sizes=(8,), n_init=3, max_iter=12, random_state=0)
    a = quiet_fit(AutoencoderTransformer(**params), blobs)
    b = quiet_fit(AutoencoderTransformer(**params), blobs)
    assert_array_equal(a._params, b._params)
    first_three = seen["starts"][:3]
    assert len({tuple(curve) for curve in first_three}) == 3


def test_continued_fits_do_not_draw_new_starts(blobs, monkeypatch):
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=3, max_iter=12,
                                          random_state=0, warm_start=True), blobs)

    def refuse(*args, **kwargs):
        raise AssertionError("a continued fit drew new starts")

    monkeypatch.setattr(estimator_module, "best_start", refuse)
    quiet_fit(ae, blobs)
    ae.partial_fit(blobs)
    assert ae.n_iter_ == 12 + 12 + 1
    assert ae._epoch_budget() == 12
    assert AutoencoderTransformer(n_init=3, max_iter=12)._epoch_budget() == 12 + 2 * 10
    assert AutoencoderTransformer(n_init=3, max_iter=4)._epoch_budget() == 4 + 2 * 4


@pytest.fixture(scope="module")
def diabetes():
    """Diabetes split 75/25 (seed 0), standardized on the 75: 331 training rows, which
    ``init="auto"`` guides to 2 components."""
    X = load_diabetes().data
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def test_auto_trains_a_guided_start_alone(diabetes, monkeypatch):
    """n_init="auto" (the default) runs no contest where the first start is guided:
    the fit is the one of n_init=1, bit for bit. Here a random start leads the
    guided one ten epochs in, so n_init=4 goes on from it, and ends worse."""
    X_train, X_test = diabetes
    seen = record_starts(monkeypatch)
    auto = AutoencoderTransformer(2, random_state=0).fit(X_train)
    assert seen["starts"] == []  # no contest
    one = AutoencoderTransformer(2, random_state=0, n_init=1).fit(X_train)
    assert_array_equal(auto._params, one._params)
    assert auto.n_iter_ == one.n_iter_ and auto.loss_curve_ == one.loss_curve_
    four = AutoencoderTransformer(2, random_state=0, n_init=4).fit(X_train)
    starts = seen["starts"]
    assert len(starts) == 4
    assert auto.validation_loss_curve_[:10] == seen["validation"][0]  # the guided start
    assert min(seen["validation"][0]) > min(map(min, seen["validation"][1:]))
    assert four.n_iter_ != auto.n_iter_

    def error(model):
        return float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))

    assert error(auto) < 0.95 * error(four)  # measured 0.358 against 0.406


@pytest.mark.parametrize(
    "params",
    [{"init": "random"}, {"n_components": 4}, {"init": "isomap", "clumps": True}],
    ids=["random", "wide-codes", "isomap-cannot-embed"],
)
def test_auto_lets_four_starts_compete_where_the_first_is_random(diabetes, params,
                                                                 monkeypatch):
    """init="random", a fit "auto" does not guide (4 components) and a guided start
    that stays random (Isomap cannot embed 30 far-apart clumps): four starts, the
    fit of n_init=4 bit for bit."""
    params = dict(params)
    X = diabetes[0]
    if params.pop("clumps", False):
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(30, 1, 3)) * 1e3
        X = (centres + rng.normal(size=(30, 20, 3))).reshape(-1, 3)
    params = dict(n_components=2, max_iter=15, random_state=0) | params
    seen = record_starts(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "init='isomap': the first start is random", UserWarning)
        auto = AutoencoderTransformer(**params).fit(X)
        assert len(seen["starts"]) == 4
        four = AutoencoderTransformer(**params, n_init=4).fit(X)
    assert_array_equal(auto._params, four._params)
    assert seen["starts"][:4] == seen["starts"][4:]


def test_verbose_names_the_starts_only_where_they_compete(diabetes, capsys):
    X_train = diabetes[0]
    quiet_fit(AutoencoderTransformer(2, random_state=0, max_iter=12, verbose=True), X_train)
    guided = capsys.readouterr().out
    quiet_fit(AutoencoderTransformer(2, random_state=0, max_iter=12, verbose=True,
                                     init="random"), X_train)
    random = capsys.readouterr().out
    assert "Start" not in guided and guided.count("Epoch ") == 12
    assert [line for line in random.splitlines() if line.startswith("Start")] == [
        f"Start {k} of 4:" for k in range(1, 5)
    ]


def test_n_init_refuses_other_strings_and_zero():
    for bad in ("best", 0):
        with pytest.raises(InvalidParameterError, match="n_init"):
            AutoencoderTransformer(n_init=bad).fit(np.eye(4))


def test_an_interrupt_during_the_starts_keeps_the_best_start_so_far(blobs, monkeypatch):
    # 120 rows in batches of 40: 3 steps an epoch; interrupt in the second start's first.
    original, calls = Adam.step, {"n": 0}

    def step(self, grad):
        calls["n"] += 1
        if calls["n"] > 31:
            raise KeyboardInterrupt
        original(self, grad)

    monkeypatch.setattr(Adam, "step", step)
    # Random starts: the training's steps are counted (a guided start's regressions step).
    params = dict(n_components=2, batch_size=40, random_state=0, max_iter=50, init="random")
    with pytest.warns(UserWarning, match="interrupted after 10 complete epoch"):
        ae = AutoencoderTransformer(n_init=3, **params).fit(blobs)
    monkeypatch.setattr(Adam, "step", original)
    reference = quiet_fit(AutoencoderTransformer(n_init=1, **{**params, "max_iter": 10}), blobs)
    assert_array_equal(ae._params, reference._params)
    assert ae.n_iter_ == 10


def test_a_diverging_start_raises_and_leaves_the_model_as_it_was(blobs):
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=3,
                                          random_state=0, warm_start=False), blobs)
    before = ae._params.copy()
    ae.set_params(learning_rate_init=1e150, n_init=3)
    with pytest.raises(ValueError, match="Training diverged"):
        ae.fit(blobs)
    assert_array_equal(ae._params, before)


# -- alpha="auto" with held-out rows -------------------------------------------------------
def record_alphas(monkeypatch):
    """The L2 weight of every minibatch, by epoch of the start that goes on."""
    seen = []
    original = Objective.loss_gradient

    def loss_gradient(self, *batch):
        seen.append(self.alpha)
        return original(self, *batch)

    monkeypatch.setattr(Objective, "loss_gradient", loss_gradient)
    return seen


@pytest.mark.parametrize("weighted", [False, True])
def test_auto_alpha_follows_the_validation_loss(blobs, monkeypatch, weighted):
    seen = record_alphas(monkeypatch)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=120) if weighted else None
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=1, max_iter=6,
                                          batch_size=120, early_stopping=True, random_state=0),
                   blobs, sample_weight=w)
    train_rows = np.setdiff1d(np.arange(120), _validation_rows(ae, blobs, w))
    n = train_rows.size if w is None else w[train_rows].sum()
    assert len(seen) == 6  # full batch: one minibatch an epoch
    assert_allclose(seen[0], 0.64 / n, rtol=1e-12)
    expected = [5 * v / n for v in ae.validation_loss_curve_[:-1]]
    assert_allclose(seen[1:], expected, rtol=1e-12)


def _entropy_floor(T, w):
    """The least mean binary cross-entropy of ``T`` (NaN: missing), computed apart."""
    H = np.where(np.isnan(T), 0.0, entr(T) + entr(1 - T))
    counts = (~np.isnan(T)).sum(axis=1)
    w = np.ones(T.shape[0]) if w is None else w
    return float(np.dot(w, H.sum(axis=1)) / np.dot(w, counts))


def _mean_cross_entropy_above_entropy(T, w):
    """The cross-entropy of reconstructing ``T`` (NaN: missing) by its columns' weighted
    means, above its entropy, per observed entry as the loss averages: computed apart."""
    observed = ~np.isnan(T)
    w = np.ones(T.shape[0]) if w is None else w
    W = w[:, None] * observed
    means = np.nansum(W * np.nan_to_num(T), axis=0) / W.sum(axis=0)
    T0 = np.nan_to_num(T)
    cross = -(T0 * np.log(means) + (1 - T0) * np.log(1 - means))
    return float((W * cross).sum() / W.sum()) - _entropy_floor(T, w)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("holes", [False, True])
def test_auto_alpha_stays_fixed_for_the_cross_entropy_with_held_out_rows(blobs, monkeypatch,
                                                                         weighted, holes):
    """A Bernoulli likelihood has no noise variance for the validation loss to estimate:
    held-out rows leave the cross-entropy's weight at 0.64 / n in its units."""
    X = expit(2 * blobs)
    if holes:
        X[np.random.default_rng(2).uniform(size=X.shape) < 0.1] = np.nan
    seen = record_alphas(monkeypatch)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=120) if weighted else None
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=1, max_iter=6,
                                          batch_size=120, early_stopping=True, random_state=0,
                                          loss="binary_crossentropy"),
                   X, sample_weight=w)
    train_rows = np.setdiff1d(np.arange(120), _validation_rows(ae, X, w))
    n = train_rows.size if w is None else w[train_rows].sum()
    scale = _mean_cross_entropy_above_entropy(X[train_rows],
                                              None if w is None else w[train_rows])
    assert 0.01 < scale < math.log(2) and len(seen) == 6
    assert_allclose(seen, [0.64 / n * scale] * 6, rtol=1e-9)


def test_held_out_rows_cost_a_cross_entropy_fit_little():
    """A penalty that followed the validation loss above its floor held wine's fit to 6
    dimensions at 1.6-2.7 times the held-out error of a fit without held-out rows (now
    1.04-1.12 on three splits)."""
    X_train, X_test = train_test_split(load_wine().data, test_size=0.25, random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), np.clip(scaler.transform(X_test), 0, 1)
    errors = {}
    for early_stopping in (True, False):
        ae = quiet_fit(AutoencoderTransformer(6, loss="binary_crossentropy", random_state=0,
                                              early_stopping=early_stopping), X_train)
        errors[early_stopping] = np.mean(
            (ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2
        )
    assert errors[True] < 1.3 * errors[False]


@pytest.mark.parametrize("high, counted", [(1 + 1e-15, True), (1.5, False)])
def test_the_cross_entropys_floor_counts_rounding_but_not_data_off_the_unit_interval(
    blobs, monkeypatch, high, counted
):
    """MinMaxScaler's output can exceed 1 by rounding; beyond that the loss has no least
    value, and the stopping rule counts the whole validation loss, as for other losses."""
    X = expit(2 * blobs)
    X[:, 0] = high  # in every row, so in the held-out ones the floor is taken over
    floors = record_floors(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # off [0, 1]: warned, tested elsewhere
        ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=1, max_iter=4,
                                              batch_size=120, early_stopping=True,
                                              random_state=0, loss="binary_crossentropy"), X)
    validation_rows = _validation_rows(ae, X, None)
    floor = _entropy_floor(np.clip(X[validation_rows], 0, 1), None) if counted else 0.0
    assert (floor > 0.3) == counted
    assert_allclose(floors, [floor], rtol=1e-9, atol=0)


def _perfect_network(d, dtype):
    """A stand-in network whose logits reproduce its input exactly: loss at its floor."""

    def raw_output(inputs):
        T = np.asarray(inputs[:, :d], dtype=np.float64)
        R = logit(np.clip(T, 1e-300, 1 - 1e-16))
        R[T == 0], R[T == 1] = -60.0, 60.0  # past expit's reach of 0 and 1
        return R.astype(dtype)

    return SimpleNamespace(layer_sizes=(d, 3, d), dtype=np.dtype(dtype), n_encoder_layers=1,
                           raw_output=raw_output)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("groups", [(), ([4, 5, 6],)])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weights", [None, "positive", "some zero"])
def test_the_cross_entropys_floor_is_the_validation_loss_of_a_perfect_reconstruction(
    dtype, holes, groups, sparse, weights
):
    from skae._data import MissingEntries
    from skae._estimator import _loss_floor, _validation_loss

    rng = np.random.default_rng(0)
    n, d = 60, 7
    X = rng.uniform(0.05, 0.95, size=(n, d))
    X[:, 1] = rng.integers(0, 2, n)  # a binary column: entropy 0
    if groups:
        X[:, 4:] = 0.0
        X[np.arange(n), 4 + rng.integers(0, 3, n)] = 1.0
        X[::7, 4:] = 0.0  # an unknown category: the group missing
    if holes:
        X[rng.uniform(size=X.shape) < 0.15] = np.nan
        X[4, :] = np.nan  # a row missing as a whole
    X = X.astype(dtype)
    missing = MissingEntries(d, groups) if holes or groups else None
    objective = Objective(_perfect_network(d, dtype), "binary_crossentropy", groups=groups)
    rows = np.arange(0, n, 2)
    w = None if weights is None else rng.uniform(0.5, 2.0, n)
    if weights == "some zero":
        w[rows[::3]] = 0.0
    data = sp.csr_array(X) if sparse else X
    least = _validation_loss(objective, data, rows, w, missing)()
    floor = _loss_floor("binary_crossentropy", data, rows, w, missing)
    assert floor > 0.1
    assert floor == pytest.approx(least, rel=1e-6 if dtype == np.float32 else 1e-12)


def record_floors(monkeypatch, module=estimator_module):
    """The floor each call of the training loop is given (``module.train``'s)."""
    floors = []
    original = module.train

    def recording(*args, **kwargs):
        floors.append(kwargs["floor"])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "train", recording)
    return floors


def test_the_floor_of_sparse_rows_adds_their_stored_entries_without_densifying(gathered_rows):
    """All training rows can be monitored: a sparse matrix's floor is its stored
    entries' entropy (zeros add none); a dense one is taken in chunks within
    scikit-learn's working_memory."""
    from sklearn import config_context

    rng = np.random.default_rng(0)
    X = sp.random_array((300, 50), density=0.1, rng=rng, format="csr")
    X = sp.csr_array((X.data, X.indices, X.indptr), shape=X.shape)
    X.data[::7] = 1.0
    rows, w = np.arange(3, 300, 2), rng.uniform(0.5, 2.0, 300)
    w[rows[::5]] = 0.0
    # Row 5's first entry stored twice, as a quarter and the rest (a non-canonical matrix).
    at = X.indptr[5]
    X.data[at] = 0.75
    entries = np.insert(X.data, at, 0.25), np.insert(X.indices, at, X.indices[at])
    duplicated = sp.csr_array((*entries, np.r_[X.indptr[:6], X.indptr[6:] + 1]), shape=X.shape)
    X.data[at] = 1.0
    dense = X.toarray()
    assert duplicated.nnz == X.nnz + 1 and X.indptr[6] > at and w[5] > 0
    expected = estimator_module._loss_floor("binary_crossentropy", dense, rows, w)
    gathered = gathered_rows(estimator_module)
    for data in (duplicated, sp.csc_array(duplicated)):
        floor = estimator_module._loss_floor("binary_crossentropy", data, rows, w)
        assert floor == pytest.approx(expected, rel=1e-12) and floor > 0.01
    assert gathered == []  # never densified
    with config_context(working_memory=0.1):  # MiB: 43 rows of six float64 copies of 50
        floor = estimator_module._loss_floor("binary_crossentropy", dense, rows, w)
    assert floor == pytest.approx(expected, rel=1e-12)
    assert max(gathered) == 43 and sum(gathered) == rows.size


def _mean_loss_above_floor(X, rows, w, groups=()):
    """By hand: the cross-entropy of reconstructing each feature as its weighted observed
    mean (a group as its categories' frequencies) above the targets' entropy, per
    observed variable (a group counts once)."""
    from scipy.special import entr

    X = X[rows]
    w = np.ones(len(rows)) if w is None else w[rows]
    grouped = set(np.concatenate(groups).tolist()) if groups else set()
    numerator = denominator = 0.0
    for j in range(X.shape[1]):
        if j in grouped:
            continue
        seen = ~np.isnan(X[:, j])
        t, v = X[seen, j], w[seen]
        p = np.dot(v, t) / v.sum()
        cross = -(t * np.log(p) + (1 - t) * np.log1p(-p))
        numerator += np.dot(v, cross - (entr(t) + entr(1 - t)))
        denominator += v.sum()
    for g in groups:
        block = np.nan_to_num(X[:, g])  # a NaN beside an observed 1 is a 0
        seen = (block != 0).any(axis=1)
        v = w[seen]
        q = v @ block[seen] / v.sum()
        numerator += v.sum() * entr(q).sum()
        denominator += v.sum()
    return numerator / denominator


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("data", ["dense", "missing", "groups", "csr"])
def test_auto_alpha_without_held_out_rows_is_scaled_to_the_cross_entropy(data, weighted):
    """0.64 / n is set for standardized data, whose loss at the features' means is 1;
    for the cross-entropy it is scaled by that loss in its own units, above the floor."""
    rng = np.random.default_rng(0)
    X = expit(2 * rng.normal(size=(90, 5)))
    groups = ()
    if data == "missing":
        X[rng.random(X.shape) < 0.2] = np.nan
    if data == "groups":
        X = np.column_stack([X, np.eye(3)[rng.integers(0, 3, 90)]])
        X[::7, 6] = np.nan  # the group missing where that hid its 1, else observed
        X[::11, 5:8] = 0.0  # and in those (an unknown category)
        groups = [[5, 6, 7]]
    rows = np.arange(2, 90)
    w = rng.uniform(0.5, 2.0, 90) if weighted else None
    expected = _mean_loss_above_floor(X, rows, w, groups)
    missing = None
    if data in ("missing", "groups"):
        from skae._data import MissingEntries

        missing = MissingEntries(X.shape[1], groups)
    given = sp.csr_array(X) if data == "csr" else X
    scale = estimator_module._auto_alpha_scale("binary_crossentropy", given, rows, w, missing)
    assert 0.01 < expected < np.log(2)
    assert scale == pytest.approx(expected, rel=1e-10)
    assert estimator_module._auto_alpha_scale("squared_error", given, rows, w, missing) == 1.0
    off = X.copy()
    off[3, 0] = 1.5  # off [0, 1]: the cross-entropy has no floor, and the scale is 1
    assert estimator_module._auto_alpha_scale("binary_crossentropy", off, rows, w, missing) == 1


def test_auto_alpha_for_the_cross_entropy_is_what_the_fit_uses(monkeypatch):
    """Without held-out rows, the fit's penalty is 0.64 / n times the scale of its
    training rows (zero weights left out); a number stays what it is."""
    X = expit(2 * np.random.default_rng(0).normal(size=(120, 4)))
    w = np.ones(120)
    w[::10] = 0.0
    seen = record_alphas(monkeypatch)
    quiet_fit(AutoencoderTransformer(2, loss="binary_crossentropy", hidden_layer_sizes=(8,),
                                     n_init=1, max_iter=2, early_stopping=False), X,
              sample_weight=w)
    rows = np.flatnonzero(w)
    scale = estimator_module._auto_alpha_scale("binary_crossentropy", X, rows, w)
    assert_allclose(seen, 0.64 * scale / w.sum(), rtol=1e-12)
    assert 0.05 < scale < 0.5  # the fixed value scaled down, not left at 1


def test_auto_alpha_scaled_to_the_cross_entropy_reconstructs_better():
    """Wine scaled to [0, 1] (133 training rows: none held out by default): 0.64 / n was
    the penalty of standardized data, on a loss whose part above its floor is ten times
    smaller, and held the reconstructions near the mean (held-out MSE 0.022 and 0.023 on
    two splits, now 0.0066 and 0.0072)."""
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X_train, X_test = train_test_split(load_wine(return_X_y=True)[0], test_size=0.25,
                                       random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), np.clip(scaler.transform(X_test), 0, 1)
    errors = {}
    for alpha in ("auto", 0.64 / len(X_train)):
        ae = quiet_fit(AutoencoderTransformer(6, loss="binary_crossentropy", alpha=alpha,
                                              random_state=0), X_train)
        errors[alpha] = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    assert errors["auto"] < 0.5 * errors[0.64 / len(X_train)]


@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_stopping_rule_counts_from_the_cross_entropys_floor(
    blobs, monkeypatch, early_stopping, weighted
):
    """The monitored loss's floor: the held-out rows' with rows held out, else the
    training rows' (rows of weight 0 are not trained on)."""
    X = expit(2 * blobs)
    w = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    if weighted:
        w[::9] = 0.0
    floors = record_floors(monkeypatch)
    ae = quiet_fit(AutoencoderTransformer(2, loss="binary_crossentropy", hidden_layer_sizes=(8,),
                                          n_init=3, max_iter=15, early_stopping=early_stopping,
                                          random_state=0), X, sample_weight=w)
    if early_stopping:
        rows = _validation_rows(ae, X, w)
    else:
        rows = np.arange(X.shape[0]) if w is None else np.flatnonzero(w > 0)
    expected = estimator_module._loss_floor("binary_crossentropy", X, rows, w)
    assert expected > 0.3
    assert len(floors) == 4 and floors == [expected] * 4  # three starts, then the winner


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_floor_is_computed_once_per_fit_and_not_in_partial_fit(monkeypatch,
                                                                   early_stopping):
    """It costs a pass over the monitored rows (densified, when sparse); without
    held-out rows the penalty's scale shares it (the same rows), with them it takes
    one more over the training rows; partial_fit, one epoch a call, needs neither."""
    calls = []
    original = estimator_module._entropy_sums

    def counting(X, rows, *args):
        calls.append(rows.size)
        return original(X, rows, *args)

    monkeypatch.setattr(estimator_module, "_entropy_sums", counting)
    floors, alphas = record_floors(monkeypatch), record_alphas(monkeypatch)
    params = dict(loss="binary_crossentropy", hidden_layer_sizes=(8,), max_iter=12,
                  random_state=0, early_stopping=early_stopping)
    X = expit(2 * np.random.default_rng(0).normal(size=(300, 4)))
    ae = quiet_fit(AutoencoderTransformer(2, n_init=4, **params), X)
    n_train = 300 - len(_validation_rows(ae, X, None)) if early_stopping else 300
    assert sorted(calls) == sorted([300 - n_train, n_train] if early_stopping else [300])
    assert floors[-1] > 0.3 and alphas[0] < 0.64 / n_train
    calls.clear()
    alphas.clear()
    ae = AutoencoderTransformer(2, **params).partial_fit(X).partial_fit(X)
    assert calls == [] and floors[-2:] == [0.0, 0.0]  # one epoch a call: no plateau
    assert set(alphas) == {0.64 / 300}  # a call's penalty follows its chunk, unscaled
    assert ae.n_iter_ == 2


@pytest.mark.parametrize("early_stopping", [True, False])
def test_which_estimators_count_from_the_floor(blobs, monkeypatch, early_stopping):
    """The detector's training loss is trimmed (its floor is not that of all training
    rows), the VAE monitors a bound per row: both keep the whole loss there, and the
    squared error's floor is 0."""
    X = expit(2 * blobs)
    floors = record_floors(monkeypatch)
    small = dict(hidden_layer_sizes=(8,), max_iter=3, early_stopping=early_stopping,
                 random_state=0)
    detector = quiet_fit(AutoencoderOutlierDetector(loss="binary_crossentropy", **small), X)
    if early_stopping:
        rows = _validation_rows(detector, X, None)
        expected = estimator_module._loss_floor("binary_crossentropy", X, rows, None)
        assert expected > 0.3 and floors == [expected]
    else:
        assert floors == [0.0]
    floors.clear()
    quiet_fit(VariationalAutoencoder(2, loss="binary_crossentropy", **small), X)
    quiet_fit(AutoencoderTransformer(2, n_init=1, **small), X)
    assert floors == [0.0, 0.0]


def test_auto_alpha_lets_the_cross_entropy_fit_min_max_scaled_data_closely():
    """With the whole cross-entropy as its noise level the penalty held breast cancer's
    reconstruction near the mean (held-out MSE 0.012, against 0.0035 at alpha=1e-5)."""
    X_train, X_test = train_test_split(load_breast_cancer().data, test_size=0.25,
                                       random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), np.clip(scaler.transform(X_test), 0, 1)
    errors = {}
    for alpha in ("auto", 1e-5):
        ae = quiet_fit(AutoencoderTransformer(4, loss="binary_crossentropy", alpha=alpha,
                                              random_state=0), X_train)
        errors[alpha] = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    assert errors["auto"] < 1.3 * errors[1e-5]


def test_a_cross_entropy_fit_stops_where_a_stricter_tolerance_would_gain_little():
    """Against the whole cross-entropy, the targets' entropy included, the default tol
    ended breast cancer's fit at epoch 73 with 1.36 times the held-out error of
    tol=1e-5; counted above the floor, it trains on to within a few per cent."""
    X_train, X_test = train_test_split(load_breast_cancer().data, test_size=0.25,
                                       random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), np.clip(scaler.transform(X_test), 0, 1)
    errors = {}
    for tol in (1e-3, 1e-5):
        ae = quiet_fit(AutoencoderTransformer(16, loss="binary_crossentropy", tol=tol,
                                              random_state=0), X_train)
        errors[tol] = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    assert errors[1e-3] < 1.1 * errors[1e-5]


@pytest.mark.parametrize("loss", ["squared_error", "binary_crossentropy"])
def test_auto_alpha_goes_on_across_warm_starts(blobs, monkeypatch, loss):
    """Warm fits of 1 epoch get the penalty one fit of as many epochs would."""
    params = dict(hidden_layer_sizes=(8,), n_init=1, batch_size=120, early_stopping=True,
                  random_state=0, learning_rate="constant", tol=0, loss=loss)
    if loss == "binary_crossentropy":
        blobs = expit(2 * blobs)
    seen = record_alphas(monkeypatch)
    quiet_fit(AutoencoderTransformer(2, max_iter=4, **params), blobs)
    one_fit = list(seen)
    seen.clear()
    warm = AutoencoderTransformer(2, max_iter=1, warm_start=True, **params)
    for _ in range(4):
        quiet_fit(warm, blobs)
    assert_allclose(seen, one_fit, rtol=1e-12)
    # the validated weight from the second epoch on; the cross-entropy's stays
    assert (seen[1] != seen[0]) == (loss == "squared_error")
    seen.clear()
    quiet_fit(warm.set_params(early_stopping=False), blobs)  # no rows held out: 0.64 / n
    quiet_fit(warm.set_params(early_stopping=True), blobs)  # after it: 0.64 / n again
    # (times the loss of the rows' means in the cross-entropy's units, 1 for the squared
    # error: _auto_alpha_scale)
    scale = estimator_module._auto_alpha_scale(loss, blobs, np.arange(len(blobs)), None)
    assert (scale == 1.0) == (loss == "squared_error")
    assert_allclose(seen, [0.64 / 120 * scale, one_fit[0]], rtol=1e-12)  # 108 rows trained then
    if loss == "squared_error":  # (the cross-entropy's weight never follows the loss)
        # A partial_fit in between holds no rows out: the next warm fit starts from
        # 0.64 / n too, not from the validation loss of the fit before it.
        quiet_fit(warm, blobs)
        seen.clear()
        warm.partial_fit(blobs)
        quiet_fit(warm, blobs)
        assert_allclose(seen[-1], one_fit[0], rtol=1e-12)


def _validation_rows(ae, X, w):
    from skae._data import validation_split

    return validation_split(X, w, ae.validation_fraction, ae._validation_seed)[1]


def test_a_number_for_alpha_stays_fixed(blobs, monkeypatch):
    seen = record_alphas(monkeypatch)
    quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(8,), n_init=2, max_iter=12,
                                     early_stopping=True, alpha=3e-3, random_state=0), blobs)
    assert set(seen) == {3e-3}


def test_auto_alpha_penalises_noisy_data_more(seed, monkeypatch):
    """What the validated weight is for: noise gets a strong penalty, structure a weak one."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, size=(600, 1))
    curve = np.hstack([t, t**2, np.sin(3 * t)]) + 0.01 * rng.normal(size=(600, 3))
    noise = rng.normal(size=(600, 3))
    last_alphas = []
    for X in (curve, noise):
        seen = record_alphas(monkeypatch)
        X = (X - X.mean(0)) / X.std(0)
        quiet_fit(AutoencoderTransformer(1, hidden_layer_sizes=(16,), max_iter=60,
                                         random_state=seed), X)
        last_alphas.append(seen[-1])
    # 17-215 times on seeds 0-5 (a fixed weight: 1).
    assert last_alphas[1] > 10 * last_alphas[0]


def test_the_detector_keeps_its_fixed_auto_alpha_with_held_out_rows(blobs, monkeypatch):
    seen = record_alphas(monkeypatch)
    detector = quiet_fit(AutoencoderOutlierDetector(hidden_layer_sizes=(8,), max_iter=5,
                                                    early_stopping=True, random_state=0), blobs)
    assert detector.validation_loss_curve_ is not None
    assert len(set(seen)) == 1
    assert_allclose(seen[0], 0.64 / (120 - _validation_rows(detector, blobs, None).size))


# -- early_stopping="auto" -----------------------------------------------------------------
@pytest.mark.parametrize(
    "n_samples, params, held_out",
    [
        (199, {}, False),
        (200, {}, True),
        (400, {"noise": "gaussian"}, False),
        (400, {"sparsity": 1e-3}, False),
        (400, {"contraction": 1e-3}, False),
        (400, {"early_stopping": False}, False),
        (100, {"early_stopping": True}, True),
    ],
)
def test_auto_early_stopping_holds_rows_out_of_plain_fits_from_200_rows(n_samples, params,
                                                                       held_out):
    X = np.random.default_rng(0).normal(size=(n_samples, 4))
    ae = quiet_fit(AutoencoderTransformer(2, hidden_layer_sizes=(4,), max_iter=2, n_init=1,
                                          random_state=0, **params), X)
    assert (ae.validation_loss_curve_ is not None) == held_out


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VariationalAutoencoder])
def test_auto_early_stopping_counts_the_rows_of_positive_weight(estimator):
    X = np.random.default_rng(0).normal(size=(300, 4))
    weight = np.zeros(300)
    weight[:150] = 1.0  # 150 rows count: fewer than 200, nothing held out
    model = quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0), X,
                      sample_weight=weight)
    assert model.validation_loss_curve_ is None
    weight[:200] = 1.0
    model = quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0), X,
                      sample_weight=weight)
    assert model.validation_loss_curve_ is not None


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VariationalAutoencoder])
def test_auto_early_stopping_trains_on_every_row_when_none_can_be_held_out(estimator):
    # 250 copies of one row: no validation split leaves rows to train on.
    X = np.tile([[1.0, 2.0, 3.0]], (250, 1))
    model = quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0), X)
    assert model.validation_loss_curve_ is None and model.n_iter_ == 2
    with pytest.raises(ValueError, match="two distinct samples with positive weight"):
        quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=2, early_stopping=True), X)


def _observed_and_empty_rows(n_observed, n_empty, seed=0):
    X = np.random.default_rng(seed).normal(size=(n_observed + n_empty, 4))
    X[n_observed:] = np.nan
    return X


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VariationalAutoencoder])
@pytest.mark.parametrize("n_observed, n_empty, held_out", [(30, 270, False), (150, 150, False),
                                                           (200, 100, True)])
def test_auto_early_stopping_counts_only_rows_with_an_observed_entry(estimator, n_observed,
                                                                     n_empty, held_out):
    X = _observed_and_empty_rows(n_observed, n_empty)
    before = X.copy()
    model = quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0), X)
    assert (model.validation_loss_curve_ is not None) == held_out
    assert_array_equal(X, before)


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VariationalAutoencoder])
@pytest.mark.parametrize("seed", range(4))
def test_rows_with_every_entry_missing_are_never_held_out(estimator, seed, monkeypatch):
    # 30 observed rows among 270 empty ones: the split used to count the empty rows'
    # weight, hold out up to 30 observed rows, and leave nothing observed to train on.
    splits = []
    original = estimator_module.validation_split
    monkeypatch.setattr(estimator_module, "validation_split",
                        lambda *a, **k: splits.append(original(*a, **k)) or splits[-1])
    X = _observed_and_empty_rows(30, 270, seed)
    weight = np.ones(300)
    model = quiet_fit(estimator(2, hidden_layer_sizes=(4,), max_iter=3, early_stopping=True,
                                random_state=seed), X, sample_weight=weight)
    (train, validation, _), = splits
    assert np.all(validation < 30) and 1 <= validation.size <= 3  # 10 % of the 30 observed
    assert np.isin(np.arange(30, 300), train).all()
    assert np.isfinite(model.validation_loss_curve_).all()
    assert_array_equal(weight, np.ones(300))  # the caller's weights are untouched


def test_early_stopping_true_names_the_observed_rows_it_lacks():
    X = _observed_and_empty_rows(1, 99)
    with pytest.raises(ValueError, match="of which 1 distinct with positive weight and an "
                                         "observed entry"):
        quiet_fit(AutoencoderTransformer(2, max_iter=2, early_stopping=True), X)
    # "auto" trains on every row instead, whatever the size.
    X = _observed_and_empty_rows(1, 299)
    model = quiet_fit(AutoencoderTransformer(2, max_iter=2, random_state=0), X)
    assert model.validation_loss_curve_ is None


@pytest.mark.parametrize("canonical", [True, False])
def test_observed_weight_finds_empty_rows_of_sparse_matrices(canonical):
    import scipy.sparse as sp

    from skae._data import observed_weight

    X = _observed_and_empty_rows(5, 3)
    X[1, :2] = np.nan  # partly missing: observed
    X[2] = 0.0  # all zeros: observed (stored as nothing)
    expected = observed_weight(X, None)
    assert_array_equal(expected, [1, 1, 1, 1, 1, 0, 0, 0])
    S = sp.csr_matrix(X)
    if not canonical:  # the empty last row stores its first entry twice: 5 NaNs, 4 columns
        S = sp.csr_matrix((np.r_[S.data, np.nan], np.r_[S.indices, 0],
                           np.r_[S.indptr[:-1], S.indptr[-1] + 1]), shape=S.shape)
        assert not S.has_canonical_format
    before = S.copy()
    assert_array_equal(observed_weight(S, None), expected)
    assert_array_equal(S.data, before.data) and S.nnz == before.nnz
    weight = np.arange(8.0)
    assert_array_equal(observed_weight(X, weight), [0, 1, 2, 3, 4, 0, 0, 0])
    assert_array_equal(weight, np.arange(8.0))
    assert observed_weight(np.ones((3, 2)), weight) is weight  # nothing missing: as given


def test_early_stopping_accepts_only_booleans_and_auto(blobs):
    with pytest.raises(InvalidParameterError, match="early_stopping"):
        AutoencoderTransformer(early_stopping="sometimes").fit(blobs)
    with pytest.raises(InvalidParameterError, match="n_init"):
        AutoencoderTransformer(n_init=0).fit(blobs)
    with pytest.raises(InvalidParameterError, match="early_stopping"):
        AutoencoderOutlierDetector(early_stopping="auto").fit(blobs)


@pytest.mark.parametrize("sparse", [False, True])
def test_rows_whose_only_entries_are_a_group_of_zeros_count_as_empty(sparse):
    import scipy.sparse as sp

    from skae._data import observed_weight

    # Columns 0-1 a one-hot group: all zeros is a missing category.
    X = np.array([[0.0, 0.0, np.nan], [1.0, 0.0, np.nan], [0.0, 0.0, 0.5], [0.0, 1.0, 2.0]])
    X = sp.csr_matrix(X) if sparse else X
    assert_array_equal(observed_weight(X, None, [[0, 1]]), [0, 1, 1, 1])
    assert observed_weight(X, None) is None  # without the group no row is empty
    # Nothing NaN: a group of zeros alone empties a row.
    Y = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert_array_equal(observed_weight(Y, np.array([2.0, 3.0]), [[0, 1]]), [0, 3])
    # A NaN beside an observed 1 is a 0 of a known category; beside 0s it hides it.
    Z = np.array([[1.0, np.nan, np.nan], [0.0, np.nan, np.nan]])
    assert_array_equal(observed_weight(sp.csr_matrix(Z) if sparse else Z, None, [[0, 1]]), [1, 0])
    # So early stopping names the rows it lacks, not "every entry is missing".
    A = np.array([[0.0, 0.0, np.nan]] * 10 + [[1.0, 0.0, 0.5]])
    with pytest.raises(ValueError, match="of which 1 distinct with positive weight and an "
                                         "observed entry"):
        quiet_fit(AutoencoderTransformer(2, categorical_groups=[[0, 1]], early_stopping=True,
                                         max_iter=2), A)


def test_empty_rows_with_groups_agree_between_dense_and_sparse_input():
    import scipy.sparse as sp

    from skae._data import MissingEntries, observed_weight

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, d = int(rng.integers(1, 12)), int(rng.integers(3, 8))
        X = rng.choice([0.0, 1.0, np.nan, 2.5], size=(n, d), p=[0.5, 0.2, 0.2, 0.1])
        groups = [sorted(rng.choice(d, size=int(rng.integers(2, min(d, 4) + 1)),
                                    replace=False).tolist())]
        missing = MissingEntries(d, groups)
        filled, observed = X.copy(), np.empty_like(X)
        missing.fill(filled, observed)
        expected = np.where(missing.row_counts(observed) == 0, 0.0, 1.0)
        for data in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
            weight = observed_weight(data, None, groups)
            assert_array_equal(np.ones(n) if weight is None else weight, expected)
