"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9)."""

import copy
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderImputer, AutoencoderOutlierDetector, AutoencoderTransformer
from skae._callbacks import HAS_CALLBACKS
from skae._optim import Adam
from skae._outlier import quantile_offset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

needs_callbacks = pytest.mark.skipif(
    not HAS_CALLBACKS, reason="this scikit-learn has no callback API (sklearn.callback)"
)


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(150, 2))
    return np.tanh(latent @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(150, 6))


def small(**params):
    # One start: one epoch task per epoch of n_iter_ (the random starts' epochs are
    # reported too: test_every_start_reports_its_epochs).
    defaults = dict(n_components=2, hidden_layer_sizes=(8,), random_state=0, max_iter=6,
                    n_init=1)
    return AutoencoderTransformer(**{**defaults, **params})


class Recorder:
    """Records hook calls in this process; asks to stop after ``stop_after`` epochs."""

    def __init__(self, stop_after=None, fail_after=None):
        self.stop_after = stop_after
        self.fail_after = fail_after
        self.events = []

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        self.events.append(("begin", context.task_name, context.task_id, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id, fitted_estimator, X, y))
        if context.task_name == "epoch" and context.task_id + 1 == self.fail_after:
            raise RuntimeError("callback failed")
        return (
            self.stop_after is not None
            and context.task_name == "epoch"
            and context.task_id + 1 >= self.stop_after
        )

    def named(self, kind, task_name="epoch"):
        return [e for e in self.events if e[0] == kind and e[1] == task_name]


class Scribbler(Recorder):
    """Writes 99 into every epoch-end snapshot's salt-and-pepper bounds."""

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        if context.task_name == "epoch" and fitted_estimator is not None:
            for bound in fitted_estimator._noise_bounds:
                bound[...] = 99.0
        return super().on_fit_task_end(
            estimator, context, X=X, y=y, fitted_estimator=fitted_estimator
        )


def reconstruction(estimator, X, y=None):
    """Module-level, so that it pickles to worker processes."""
    return estimator.score(X)


@needs_callbacks
def test_epochs_are_subtasks_of_fit(X):
    rec = Recorder()
    ae = small(max_iter=5).set_callbacks(rec)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    assert rec.events[0] == ("setup", "fit")
    assert rec.events[-1] == ("teardown", "fit")
    assert len(rec.named("begin", "fit")) == len(rec.named("end", "fit")) == 1
    begins, ends = rec.named("begin"), rec.named("end")
    assert [e[2] for e in begins] == [e[2] for e in ends] == list(range(5))
    # Each epoch's end sees the model as of that epoch; the last one is the result.
    snapshots = [e[3] for e in ends]
    assert [s.n_iter_ for s in snapshots] == [1, 2, 3, 4, 5]
    assert_allclose(snapshots[-1].transform(X), ae.transform(X))
    assert snapshots[0].score(X) < snapshots[-1].score(X)
    # The first epoch begins from the initial weights; nothing is left on the estimator.
    assert begins[0][3].n_iter_ == 0
    assert not any(name.startswith(("_skae_epoch", "_callback")) for name in vars(ae))


@pytest.fixture
def three_starts(X):
    """A fit of three starts of 10 epochs, the winner going on to 14, and its recorder."""
    rec = Recorder()
    ae = small(max_iter=14, n_init=3, tol=0.0).set_callbacks(rec)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    return ae, rec


@needs_callbacks
def test_every_start_reports_its_epochs(X, three_starts):
    """With n_init > 1 the callbacks see each start's 10 epochs, then the winner's rest."""
    ae, rec = three_starts
    assert ae._epoch_budget() == 14 + 2 * 10
    begins, ends = rec.named("begin"), rec.named("end")
    assert [e[2] for e in begins] == [e[2] for e in ends] == list(range(34))
    # The first start's snapshots count its epochs; a later start's are its own
    # when it leads the contest so far, else the leader's (10 epochs); the
    # winner's go on from 10.
    counts = [e[3].n_iter_ for e in ends]
    assert counts[:10] == list(range(1, 11)) and counts[30:] == [11, 12, 13, 14]
    assert all(counts[i] in (i % 10 + 1, 10) for i in range(10, 30))
    assert ae.n_iter_ == len(ae.loss_curve_) == 14
    assert_allclose(ends[-1][3].transform(X), ae.transform(X))


@needs_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
def test_while_starts_compete_a_snapshot_is_what_a_stop_there_leaves(X, early_stopping):
    """A stop during the contest keeps the best start so far: so does the snapshot."""
    params = dict(max_iter=14, n_init=3, tol=0.0, early_stopping=early_stopping)
    rec = Recorder()
    small(**params).set_callbacks(rec).fit(X)
    ends = [e[3] for e in rec.named("end")]
    begins = [e[3] for e in rec.named("begin")]
    tasks = (5, 12, 16, 21, 27, 29, 31)
    leaders = []
    for task in tasks:
        stopped = small(**params).set_callbacks(Recorder(stop_after=task + 1)).fit(X)
        assert ends[task].n_iter_ == stopped.n_iter_
        assert_allclose(ends[task].transform(X), stopped.transform(X))
        assert_allclose(begins[task + 1].transform(X), stopped.transform(X))
        leaders.append(stopped.n_iter_ == 10 and task % 10 != 9)
    assert any(leaders)  # some stops keep an earlier start, not the one in training


@needs_callbacks
def test_a_callback_stopping_a_start_keeps_the_best_start_so_far(X):
    rec = Recorder(stop_after=13)  # the third epoch of the second start
    ae = small(max_iter=50, n_init=3).set_callbacks(rec)
    ae.fit(X)  # stopped by a callback: no ConvergenceWarning
    assert len(rec.named("end")) == 13
    assert ae.n_iter_ in (3, 10)  # the second start's three epochs, or the first's ten
    snapshots = [e[3] for e in rec.named("end")]
    kept = snapshots[ae.n_iter_ - 1 if ae.n_iter_ == 10 else 12]
    assert_allclose(kept.transform(X), ae.transform(X))


@needs_callbacks
def test_convergence_begins_no_epoch_it_does_not_run(X):
    """Stopping on the loss ends the last epoch run; no further one is begun."""
    rec = Recorder()
    ae = small(max_iter=200, tol=1e3, n_iter_no_change=2, learning_rate="constant")
    ae.set_callbacks(rec)
    ae.fit(X)
    assert ae.n_iter_ == 3  # the first epoch improves on nothing, then two don't
    begins, ends = rec.named("begin"), rec.named("end")
    assert len(begins) == len(ends) == ae.n_iter_
    assert all(e[3] is not None and e[4] is not None for e in ends)


class Vandal(Recorder):
    """Writes zeros into the weights of the snapshot that ends epoch task ``at``."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        stop = super().on_fit_task_end(
            estimator, context, X=X, y=y, fitted_estimator=fitted_estimator
        )
        if context.task_name == "epoch" and context.task_id == self.at:
            for array in (fitted_estimator._params, *fitted_estimator.coefs_):
                array[...] = 0.0
        return stop


@needs_callbacks
@pytest.mark.parametrize("n_init", [1, 3])
def test_a_callback_writing_into_a_snapshot_changes_no_other_nor_the_fit(X, n_init):
    params = dict(max_iter=14, n_init=n_init, tol=0.0)
    plain = Recorder()
    reference = small(**params).set_callbacks(plain).fit(X)
    vandal = Vandal(at=9 if n_init > 1 else 4)
    model = small(**params).set_callbacks(vandal).fit(X)
    assert_array_equal(model._params, reference._params)
    for kind in ("begin", "end"):
        for seen, want in zip(vandal.named(kind), plain.named(kind), strict=True):
            if kind == "end" and seen[2] == vandal.at:
                continue  # the one written into
            assert_array_equal(seen[3]._params, want[3]._params)
            assert_array_equal(seen[3].coefs_[0], want[3].coefs_[0])


@needs_callbacks
def test_each_epoch_begins_with_what_the_last_one_ended_with(X, three_starts):
    """An epoch begins with the model a stop at the previous epoch's end leaves (the
    first, with the first start's initial weights)."""
    _, rec = three_starts
    begins = [e[3] for e in rec.named("begin")]
    ends = [e[3] for e in rec.named("end")]
    assert len(begins) == len(ends) == 34
    codes = lambda snapshot: snapshot.transform(X)  # noqa: E731
    assert begins[0].n_iter_ == 0
    assert not np.allclose(codes(begins[0]), codes(ends[0]))
    for i in range(1, 34):
        assert begins[i].n_iter_ == ends[i - 1].n_iter_
        assert_allclose(codes(begins[i]), codes(ends[i - 1]))
    assert begins[30].n_iter_ == 10  # going on from the winner's tenth epoch


@needs_callbacks
def test_a_start_that_diverges_ends_its_last_epoch_without_data(X, monkeypatch):
    """The epoch a start diverged in is ended (empty) before the next start's first begins."""
    original, calls = Adam.step, {"n": 0}

    def step(self, grad):  # 150 rows in batches of 50: the 2nd start's 3rd epoch, 1st step
        calls["n"] += 1
        original(self, grad)
        if calls["n"] == 37:
            self.params[:] = np.nan

    monkeypatch.setattr(Adam, "step", step)
    rec = Recorder()
    # Random starts: Adam's steps are counted, and a guided start's regressions step too.
    ae = small(max_iter=14, n_init=3, tol=0.0, batch_size=50, init="random").set_callbacks(rec)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    begins, ends = rec.named("begin"), rec.named("end")
    assert [e[2] for e in begins] == [e[2] for e in ends] == list(range(10 + 3 + 10 + 4))
    assert [i for i, e in enumerate(ends) if e[3] is None] == [12]
    assert ends[12][4] is None
    # The diverged start dropped out: the third start begins with the leader, the first.
    assert begins[13][3].n_iter_ == 10
    assert_allclose(begins[13][3].transform(X), ends[9][3].transform(X))
    assert np.isfinite(ae.transform(X)).all()


@needs_callbacks
def test_callback_stops_training_cleanly(X):
    rec = Recorder(stop_after=3)
    ae = small(max_iter=50).set_callbacks(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae.fit(X)
    assert ae.n_iter_ == len(ae.loss_curve_) == 3
    assert ae.t_ == 3 * X.shape[0]
    assert len(rec.named("begin")) == len(rec.named("end")) == 3
    assert ae.transform(X).shape == (X.shape[0], 2)


@needs_callbacks
def test_callback_stop_with_early_stopping_restores_best(X):
    ae = small(max_iter=50, early_stopping=True).set_callbacks(Recorder(stop_after=4))
    ae.fit(X)
    assert ae.n_iter_ == len(ae.validation_loss_curve_) == 4
    assert ae.best_validation_loss_ == min(ae.validation_loss_curve_)


@needs_callbacks
def test_with_early_stopping_a_snapshot_is_what_a_stop_there_leaves(X):
    """Each epoch's snapshot is the model a callback stop at that epoch returns:
    the best validation epoch's so far, not the weights last trained."""
    params = dict(max_iter=12, early_stopping=True, learning_rate_init=0.05,
                  learning_rate="constant", tol=0.0)
    rec = Recorder()
    ae = small(**params).set_callbacks(rec).fit(X)
    assert ae.n_iter_ == 12
    curve = ae.validation_loss_curve_
    best = [int(np.argmin(curve[:k])) + 1 for k in range(1, 13)]
    assert any(b < k for k, b in enumerate(best, 1))  # the curve rises somewhere
    ends = [e[3] for e in rec.named("end")]
    begins = [e[3] for e in rec.named("begin")]
    assert_allclose(ends[-1].transform(X), ae.transform(X))  # the fitted model
    for k in (2, 5, 9):
        stopped = small(**params).set_callbacks(Recorder(stop_after=k)).fit(X)
        assert_allclose(ends[k - 1].transform(X), stopped.transform(X))
        assert_allclose(begins[k].transform(X), stopped.transform(X))  # the next epoch's
        assert ends[k - 1].n_iter_ == k


@needs_callbacks
def test_a_detector_snapshot_has_its_own_threshold(X):
    """The detector's snapshots predict: their ``offset_`` is the fit's rule on their scores."""
    rec = Recorder()
    det = AutoencoderOutlierDetector(
        contamination=0.1, hidden_layer_sizes=(8,), max_iter=4, random_state=0
    ).set_callbacks(rec)
    det.fit(X)
    snapshots = [e[3] for e in rec.named("end")]
    first, last = snapshots[0], snapshots[-1]
    assert last.offset_ == det.offset_
    assert_array_equal(last.predict(X), det.predict(X))
    assert (first.predict(X) == -1).sum() == 15  # a tenth of 150 rows, by its own scores
    assert first.offset_ != det.offset_
    assert first.offset_ == quantile_offset(first.score_samples(X), 0.1)
    assert not hasattr(det, "_skae_epoch_tasks")


@needs_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_imputer_reports_its_epochs_and_its_snapshots_impute(X, early_stopping):
    """Each snapshot carries what the standardization learned: it imputes, as a fit
    stopped there does."""
    holes = X.copy()
    holes[::4, 1] = np.nan
    holes[1::5, 3] = np.nan
    params = dict(hidden_layer_sizes=(8,), max_iter=8, random_state=0, tol=0.0,
                  early_stopping=early_stopping)
    rec = Recorder()
    with pytest.warns(ConvergenceWarning):
        imputer = AutoencoderImputer(**params).set_callbacks(rec).fit(holes)
    ends = [e[3] for e in rec.named("end")]
    assert [e[2] for e in rec.named("end")] == list(range(8))
    assert_array_equal(ends[-1].transform(holes), imputer.transform(holes))
    imputed = {}
    for k in (2, 5):
        stopped = AutoencoderImputer(**params).set_callbacks(Recorder(stop_after=k)).fit(holes)
        imputed[k] = stopped.transform(holes)
        assert_array_equal(ends[k - 1].transform(holes), imputed[k])
    first = ends[0].transform(holes)
    assert not np.allclose(first, imputer.transform(holes))
    assert_array_equal(first[~np.isnan(holes)], holes[~np.isnan(holes)])  # observed: as given
    # The snapshots own their learned arrays: writing into one changes no other.
    ends[0].mean_[...] = 1e6
    assert_array_equal(ends[1].transform(holes), imputed[2])


@needs_callbacks
def test_reported_y_is_the_reconstruction_target(X):
    rec = Recorder()
    small(max_iter=2).set_callbacks(rec).fit(X)
    _, _, _, _, X_seen, y_seen = rec.named("end")[0]
    assert X_seen is X and y_seen is X
    rec = Recorder()
    labels = np.arange(X.shape[0])
    small(max_iter=2).set_callbacks(rec).fit(X, labels)
    assert rec.named("end")[0][5] is labels


@needs_callbacks
def test_partial_fit_is_one_epoch(X):
    rec = Recorder()
    ae = small().set_callbacks(rec)
    for _ in range(3):
        ae.partial_fit(X)
    assert len(rec.named("begin", "partial_fit")) == 3
    ends = rec.named("end")
    assert [e[2] for e in ends] == [0, 0, 0]
    assert [e[3].n_iter_ for e in ends] == [1, 2, 3]


@needs_callbacks
def test_warm_start_continues_the_epoch_count(X):
    rec = Recorder()
    ae = small(max_iter=2, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    ae.set_callbacks(rec)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    assert [e[3].n_iter_ for e in rec.named("end")] == [3, 4]


@needs_callbacks
def test_failed_fit_tears_down_and_leaves_estimator_unchanged(X):
    rec = Recorder(fail_after=2)
    ae = small(max_iter=3).set_callbacks(rec)
    with pytest.raises(RuntimeError, match="callback failed"):
        ae.fit(X)
    assert rec.events[-1] == ("teardown", "fit")
    assert set(vars(ae)) == set(vars(small().set_callbacks(rec)))  # not fitted
    # A fitted estimator keeps its model.
    rec.fail_after = None
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    codes = ae.transform(X)
    rec.fail_after = 1
    with pytest.raises(RuntimeError, match="callback failed"):
        ae.partial_fit(X[::-1])
    assert ae.n_iter_ == 3
    assert_allclose(ae.transform(X), codes)
    assert rec.events[-1] == ("teardown", "partial_fit")


class FailWhenTheCallEnds(Recorder):
    """Raises ``error`` when the root task (``fit`` or ``partial_fit``) ends."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def on_fit_task_end(self, estimator, context, **hook_data):
        super().on_fit_task_end(estimator, context, **hook_data)
        if context.task_name in ("fit", "partial_fit"):
            raise self.error("callback failed at the end")
        return False


@needs_callbacks
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_callback_failing_as_the_call_ends_leaves_the_fitted_model(X, method, error):
    # Training has finished when the root task ends; the call fails all the same,
    # so the model the estimator had stays, as with any failed fit.
    ae = small(max_iter=2, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(ae).items()}
    codes = ae.transform(X)
    rec = FailWhenTheCallEnds(error)
    ae.set_callbacks(rec)
    with pytest.raises(error, match="callback failed at the end"):
        getattr(ae, method)(X[::-1])
    assert rec.named("end", method)  # the failure came after training
    assert ae.n_iter_ == 2
    assert_allclose(ae.transform(X), codes)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(ae, key), value)
    assert rec.events[-1] == ("teardown", method)


@needs_callbacks
def test_scoring_monitor_records_reconstruction_score_per_epoch(X):
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring={"reconstruction": reconstruction})
    ae = small(max_iter=4).set_callbacks(monitor)
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3]
    scores = [r["reconstruction"] for r in rows]
    assert_allclose(scores[-1], ae.score(X))
    assert scores[0] < scores[-1]


@needs_callbacks
@pytest.mark.parametrize("weighted", [False, True])
def test_the_documented_monitor_recipe_scores_weighted_fits_too(X, weighted):
    """check_scoring's scorer of ``score``: a plain function fails on sample_weight."""
    from sklearn.callback import ScoringMonitor
    from sklearn.metrics import check_scoring

    weights = np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    ae = small(max_iter=4)
    monitor = ScoringMonitor(scoring={"reconstruction": check_scoring(ae)})
    with pytest.warns(ConvergenceWarning):
        ae.set_callbacks(monitor).fit(X, sample_weight=weights)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3]
    assert_allclose(rows[-1]["reconstruction"], ae.score(X, sample_weight=weights))


@needs_callbacks
def test_verbose_still_prints(X, capsys):
    small(max_iter=2, verbose=True).set_callbacks(Recorder()).fit(X)
    assert capsys.readouterr().out.count("Epoch ") == 2


@needs_callbacks
def test_progress_bar_in_pipeline_and_grid_search(X):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    pipe = make_pipeline(StandardScaler(), small(max_iter=3))
    search = GridSearchCV(pipe, {"autoencodertransformer__n_components": [1, 2]}, cv=2)
    search.set_callbacks(ProgressBar(max_propagation_depth=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
        small(max_iter=3).set_callbacks(ProgressBar()).fit(X)
    assert search.cv_results_["mean_test_score"].shape == (2,)


@needs_callbacks
def test_callbacks_inside_meta_estimators_reach_every_epoch(X):
    """A callback set on the autoencoder inside a grid search sees every fit's epochs."""
    rec = Recorder()
    search = GridSearchCV(small(max_iter=2).set_callbacks(rec), {"alpha": [0.0, 1e-3]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
    # 2 candidates x 2 folds + the refit, 2 epochs each
    assert len(rec.named("end")) == 5 * 2


def test_degrades_without_sklearn_callback():
    """With scikit-learn lacking sklearn.callback the estimator works as before."""
    code = textwrap.dedent(
        """
        import warnings
        try:
            import sklearn.callback
            del sklearn.callback.CallbackSupportMixin  # as if scikit-learn predated it
        except ImportError:  # it does
            pass
        import numpy as np
        from skae import AutoencoderTransformer
        from skae._callbacks import HAS_CALLBACKS
        assert not HAS_CALLBACKS
        ae = AutoencoderTransformer(hidden_layer_sizes=(4,), max_iter=2, verbose=True, n_init=1)
        assert not hasattr(ae, "set_callbacks")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ae.fit(np.random.RandomState(0).rand(40, 3))
        assert caught[0].filename == "<string>"  # the stacklevel points at the caller
        print("fitted", ae.n_iter_)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Epoch ") == 2
    assert "fitted 2" in out.stdout


def _fitted_state(estimator):
    """The attributes a fit sets: the fitted ones and the private training state."""
    params = set(estimator.get_params(deep=False))
    return {
        key: value
        for key, value in vars(estimator).items()
        if key not in params and not key.startswith(("_skl", "_callback", "_parent"))
    }


def _assert_same_state(snapshot, stopped):
    want, seen = _fitted_state(stopped), _fitted_state(snapshot)
    assert set(want) <= set(seen), set(want) - set(seen)
    for key, value in want.items():
        other = seen[key]
        if isinstance(value, dict):  # the optimizer's state
            assert value.keys() == other.keys(), key
            for name in value:
                assert_array_equal(np.asarray(other[name]), np.asarray(value[name]), err_msg=key)
        elif isinstance(value, (np.ndarray, list, tuple, float)) and key != "indicator_":
            assert_array_equal(np.asarray(other, dtype=object).shape,
                               np.asarray(value, dtype=object).shape, err_msg=key)
            if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
                for a, b in zip(other, value, strict=True):
                    assert_array_equal(a, b, err_msg=key)
            else:
                assert_array_equal(other, value, err_msg=key)
        elif key != "indicator_" and not callable(value):
            assert other == value, key


@needs_callbacks
@pytest.mark.parametrize(
    "case",
    ["first fit", "starts compete", "early stopping", "warm start", "partial_fit", "detector",
     "imputer"],
)
def test_a_snapshot_holds_every_fitted_attribute_of_a_stop_there(X, case):
    """Not the model only: the counts, curves and optimizer state a stop there leaves,
    so that a snapshot goes on training (warm start, partial_fit) as that fit would."""
    params = dict(max_iter=6, tol=0.0)
    make = small
    if case == "starts compete":
        params.update(n_init=3, max_iter=14)
    elif case == "early stopping":
        params.update(early_stopping=True, n_init=2, max_iter=14)
    elif case == "detector":
        make = lambda **p: AutoencoderOutlierDetector(  # noqa: E731
            hidden_layer_sizes=(8,), random_state=0, **p)
    data = X
    if case == "imputer":
        data = X.copy()
        data[::4, 1] = np.nan
        make = lambda **p: AutoencoderImputer(  # noqa: E731
            hidden_layer_sizes=(8,), random_state=0, **p)

    def trained(callback):
        model = make(**params, warm_start=case == "warm start")
        if case in ("warm start", "partial_fit"):
            model.fit(data)  # the first fit, without callbacks
            model.set_params(max_iter=5)
        model.set_callbacks(callback)
        return model.partial_fit(data) if case == "partial_fit" else model.fit(data)

    rec = Recorder()
    trained(rec)
    ends = [e[3] for e in rec.named("end")]
    for task in sorted({0, len(ends) // 2, len(ends) - 2, len(ends) - 1} - {-1}):
        stopped = trained(Recorder(stop_after=task + 1))
        snapshot = ends[task]
        _assert_same_state(snapshot, stopped)
        if case in ("first fit", "warm start", "starts compete"):
            # Both go on alike: the optimizer's moments and step count are the fit's.
            going_on = dict(warm_start=True, max_iter=2)
            a = snapshot.set_callbacks().set_params(**going_on).fit(data)
            b = stopped.set_callbacks().set_params(**going_on).fit(data)
            assert_array_equal(a._params, b._params)
            assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_


def _first_epoch_begin(model, X):
    """The snapshot the fit's first epoch task begins with."""
    rec = Recorder()
    model.set_callbacks(rec).fit(X)
    return rec.named("begin")[0][3]


@needs_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_first_fits_initial_snapshot_has_empty_curves_and_no_loss(X, early_stopping):
    """No epoch yet: no loss (None, not inf), and empty curves."""
    snapshot = _first_epoch_begin(small(early_stopping=early_stopping, n_init=2), X)
    assert (snapshot.n_iter_, snapshot.t_, snapshot.loss_curve_) == (0, 0, [])
    assert snapshot.loss_ is None and snapshot.best_loss_ is None
    assert snapshot.best_validation_loss_ is None
    assert snapshot.validation_loss_curve_ == ([] if early_stopping else None)


@needs_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_warm_starts_initial_snapshot_is_the_model_it_starts_from(X, early_stopping):
    """No epoch yet: the history is the previous fit's, best validation loss included."""
    model = small(early_stopping=early_stopping, warm_start=True).fit(X)
    before = copy.deepcopy(model)
    snapshot = _first_epoch_begin(model, X)
    for key in ("n_iter_", "t_", "loss_curve_", "loss_", "best_loss_",
                "validation_loss_curve_", "best_validation_loss_", "_validation_seed"):
        assert getattr(snapshot, key) == getattr(before, key), key
    for name in ("m", "v", "t"):
        assert_array_equal(snapshot._optimizer_state[name], before._optimizer_state[name])
    assert_array_equal(snapshot._params, before._params)


@needs_callbacks
def test_a_callback_writing_into_a_snapshots_noise_bounds_changes_not_the_fit(X):
    """Salt-and-pepper bounds go on into warm starts: a snapshot has its own copy."""

    params = dict(noise="salt_and_pepper", noise_level=0.1, max_iter=3)
    reference = small(**params).fit(X)
    model = small(**params).set_callbacks(Scribbler()).fit(X)
    for mine, theirs in zip(model._noise_bounds, reference._noise_bounds, strict=True):
        assert_array_equal(mine, theirs)
    assert not np.any(np.asarray(model._noise_bounds[0]) == 99.0)
