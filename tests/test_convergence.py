"""Training that converges: learning-rate schedules, the relative tolerance, BLAS threads."""

import math
import warnings
from types import SimpleNamespace

import array_api_strict
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
    load_wine,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import skae._estimator as estimator_module
import skae._training as training_module
from skae import (
    AutoencoderImputer,
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoder,
)
from skae._optim import Adam, Schedule
from skae._training import CONSTANT_TARGETS_SCALE, train
from skae._xp_engine import constant_columns as device_constant_columns

#: The transformer's default initial rate, which the schedule starts from.
RATE = 2e-3


def test_the_default_rate_is_the_one_measured():
    assert AutoencoderTransformer().learning_rate_init == RATE


def schedule(kind, max_epochs=10, lr=0.1):
    return Schedule(kind, Adam(np.zeros(3), learning_rate=lr), max_epochs)


def rates(s, n):
    out = []
    for _ in range(n):
        s.start_epoch()
        out.append(s.optimizer.learning_rate)
    return out


def test_cosine_follows_half_a_cosine_down_to_a_thousandth():
    s = schedule("cosine", max_epochs=10)
    low = 1e-4
    expected = [low + (0.1 - low) * 0.5 * (1 + math.cos(math.pi * e / 10)) for e in range(10)]
    assert_allclose(rates(s, 10), expected, rtol=1e-12)
    assert s.completes and not s.plateau()


def test_adaptive_divides_by_five_until_a_thousandth():
    s = schedule("adaptive")
    assert rates(s, 3) == [0.1] * 3  # constant between plateaus
    seen = []
    while s.plateau():
        seen.append(s.optimizer.learning_rate)
    assert_allclose(seen, [0.02, 0.004, 0.0008, 0.00016])  # the next, 3.2e-5, is below 1e-4
    assert not s.completes


def test_constant_stops_at_the_first_plateau():
    s = schedule("constant")
    assert rates(s, 4) == [0.1] * 4
    assert not s.plateau() and not s.completes


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        schedule("warm")


def fit_counting_rates(X, **params):
    """Fit and record the learning rate of every Adam step."""
    seen = []
    original = Adam.step

    def step(self, grad):
        seen.append(self.learning_rate)
        original(self, grad)

    Adam.step = step
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ae = AutoencoderTransformer(**params).fit(X)
    finally:
        Adam.step = original
    return ae, seen, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_adaptive_fit_lowers_the_rate_at_plateaus_and_converges(blobs):
    # No rows held out (120 samples): the rate floor ends training.
    ae, seen, warned = fit_counting_rates(
        blobs, n_components=2, hidden_layer_sizes=(8,), random_state=0, n_iter_no_change=3
    )
    assert not warned and ae.n_iter_ < ae.max_iter
    distinct = sorted(set(seen), reverse=True)
    assert_allclose(distinct, RATE * 0.2 ** np.arange(len(distinct)))
    assert len(distinct) == 5  # 2e-3 down to 3.2e-6, then the next plateau stops
    # The saved optimizer state does not carry the lowered rate into the next fit.
    ae.set_params(warm_start=True, max_iter=1, learning_rate="constant")
    _, seen, _ = fit_counting_rates(blobs, **ae.get_params())
    assert set(seen) == {RATE}


def test_cosine_fit_reaching_max_iter_has_converged(blobs):
    ae, seen, warned = fit_counting_rates(
        blobs, n_components=2, hidden_layer_sizes=(8,), random_state=0, max_iter=15,
        learning_rate="cosine", n_iter_no_change=1000,
    )
    assert ae.n_iter_ == 15 and not warned
    assert seen[0] == RATE and seen[-1] < 0.05 * RATE


def test_constant_rate_reaching_max_iter_warns(blobs):
    _, seen, warned = fit_counting_rates(
        blobs, n_components=2, max_iter=5, learning_rate="constant", random_state=0
    )
    assert set(seen) == {RATE} and len(warned) == 1


class ScriptedObjective:
    """An objective whose epoch losses are given: the loop sees nothing else."""

    def __init__(self, losses):
        self.losses = iter(losses)
        self.network = SimpleNamespace(params=np.zeros(2), grad=np.zeros(2))

    def loss_gradient(self, inputs, targets, weights):
        return next(self.losses)


class OneBatch:
    n_rows = 1

    def epoch(self, rng):
        yield np.zeros((1, 1)), np.zeros((1, 1)), None


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_tolerance_is_relative_to_the_best_loss(scale):
    # Each epoch improves by 0.5 % of the loss: below a tol of 1 %, so the first
    # n_iter_no_change epochs after the first make a plateau, at any scale.
    losses = scale * 0.995 ** np.arange(100)
    objective = ScriptedObjective(losses)
    result = train(objective, Adam(objective.network.params), OneBatch(),
                   rng=np.random.default_rng(0), max_epochs=100, tol=1e-2, n_iter_no_change=4)
    assert result.converged and result.n_epochs == 5
    # Improvements of 2 % clear the same tolerance: no plateau.
    objective = ScriptedObjective(scale * 0.98 ** np.arange(100))
    result = train(objective, Adam(objective.network.params), OneBatch(),
                   rng=np.random.default_rng(0), max_epochs=100, tol=1e-2, n_iter_no_change=4)
    assert not result.converged and result.n_epochs == 100


@pytest.mark.parametrize("floor", [0.0, 0.9])
def test_tolerance_is_relative_to_the_loss_above_its_floor(floor):
    # Down to a floor of 0.9 (a cross-entropy's entropy), a loss whose part above it
    # shrinks by 5 % an epoch improves by less than 1 % of the whole loss: against the
    # whole loss a tol of 1 % sees a plateau from the start; above the floor, none.
    losses = 0.9 + 0.1 * 0.95 ** np.arange(100)
    objective = ScriptedObjective(losses)
    result = train(objective, Adam(objective.network.params), OneBatch(),
                   rng=np.random.default_rng(0), max_epochs=100, tol=1e-2, n_iter_no_change=4,
                   floor=floor)
    if floor:
        assert not result.converged and result.n_epochs == 100
    else:
        assert result.converged and result.n_epochs == 5


@pytest.mark.parametrize("shift", [0.0, -0.7135, 5.0])
def test_an_absolute_tolerance_does_not_depend_on_where_the_loss_is(shift):
    # A loss in nats moves with the data's units: shifted, a loss that falls by 0.01
    # an epoch for 30 epochs, then by 1e-4, sees its plateau at the same epoch with
    # tol · scale = 1e-3. Relative to a loss crossing 0 on its plateau (shift
    # -0.7135), the tolerance vanishes and no plateau is seen.
    losses = shift + 1.0 - np.r_[0.01 * np.arange(30), 0.29 + 1e-4 * np.arange(1, 71)]
    kwargs = dict(tol=1e-3, n_iter_no_change=4)
    result = scripted_fit(losses, scale=1.0, **kwargs)
    assert result.converged and result.n_epochs == 34
    relative = scripted_fit(losses, **kwargs)
    if shift < 0:
        assert not relative.converged and relative.n_epochs == 100


def scripted_fit(losses, **kwargs):
    objective = ScriptedObjective(losses)
    return train(objective, Adam(objective.network.params), OneBatch(),
                 rng=np.random.default_rng(0), max_epochs=len(losses), **kwargs)


def test_one_lucky_epoch_does_not_end_a_falling_loss():
    # The loss falls by 1 % an epoch, except for one epoch 20 % below the trend
    # (a lucky draw of a small validation set). Against that epoch alone the next
    # 21 epochs do not improve, and a plateau of 10 ends the fit; the mean of the
    # last 10 epochs improves again within 4.
    losses = 0.99 ** np.arange(60)
    losses[14] *= 0.8
    alone = scripted_fit(losses, tol=1e-3, n_iter_no_change=10)
    assert alone.converged and alone.n_epochs == 25
    averaged = scripted_fit(losses, tol=1e-3, n_iter_no_change=10, plateau_window=10)
    assert not averaged.converged and averaged.n_epochs == 60


def test_a_flat_loss_makes_a_plateau_even_with_zero_tolerance():
    # The mean of the last 5 epochs improves until epoch 6, when the window is all 2.0,
    # and then settles: epochs 7 to 16 make the plateau (an exponential average would not
    # settle, and tol=0 would never see a plateau).
    result = scripted_fit([3.0] + [2.0] * 40, tol=0.0, n_iter_no_change=10, plateau_window=5)
    assert result.converged and result.n_epochs == 16


def adaptive_fit(losses, **kwargs):
    """A scripted fit with the adaptive schedule (rate 1.0): its result and last rate."""
    objective = ScriptedObjective(losses)
    optimizer = Adam(objective.network.params, learning_rate=1.0)
    result = train(objective, optimizer, OneBatch(), rng=None, max_epochs=len(losses),
                   schedule=Schedule("adaptive", optimizer, len(losses)), **kwargs)
    return result, optimizer.learning_rate


def test_a_plateau_right_after_a_lowered_rate_ends_training():
    # The loss is best at epoch 5 and then turns up (overfitting). Epochs 6 to 9 make a
    # plateau and lower the rate; with a patience of 8, epochs 10 to 13 end training.
    losses = [5.0, 4.0, 3.0, 2.0, 1.0] + [1.5] * 40
    result, rate = adaptive_fit(losses, tol=0.0, n_iter_no_change=4, patience=8)
    assert result.converged and result.n_epochs == 13 and rate == pytest.approx(0.2)
    # Without it the rate is lowered four times before the floor ends training.
    result, rate = adaptive_fit(losses, tol=0.0, n_iter_no_change=4)
    assert result.converged and result.n_epochs == 25 and rate == pytest.approx(0.2**4)


def test_an_improvement_below_the_tolerance_is_none_for_the_patience():
    # After epoch 5 the loss still falls, by 0.01 % an epoch: below a tol of 1 %, so the
    # plateau of epochs 6 to 9 lowers the rate and epochs 10 to 13 end training.
    losses = [5.0, 4.0, 3.0, 2.0] + list(0.9999 ** np.arange(40))
    result, rate = adaptive_fit(losses, tol=1e-2, n_iter_no_change=4, patience=8)
    assert result.converged and result.n_epochs == 13 and rate == pytest.approx(0.2)


def test_an_improvement_after_a_lowered_rate_lets_training_go_on():
    # Plateau at epoch 9 (rate 0.2); epoch 10 improves, so the plateau of epochs 11 to 14
    # lowers the rate again (0.04) instead of ending training, and epochs 15 to 18 end it.
    losses = [5.0, 4.0, 3.0, 2.0, 1.0] + [1.0] * 4 + [0.5] * 40
    result, rate = adaptive_fit(losses, tol=0.0, n_iter_no_change=4, patience=8)
    assert result.converged and result.n_epochs == 18 and rate == pytest.approx(0.04)


def test_the_count_of_epochs_without_improvement_goes_on_too():
    """A break between epochs 11 and 12 ends the fit where one call would: epoch 13."""
    losses = [5.0, 4.0, 3.0, 2.0, 1.0] + [1.5] * 40
    objective = ScriptedObjective(losses)
    optimizer = Adam(objective.network.params, learning_rate=1.0)
    schedule = Schedule("adaptive", optimizer, len(losses))

    def run(max_epochs, **kwargs):
        return train(objective, optimizer, OneBatch(), rng=None, max_epochs=max_epochs,
                     tol=0.0, n_iter_no_change=4, patience=8, schedule=schedule, **kwargs)

    first = run(11)
    assert not first.converged
    # Afresh, the count would start again at epoch 12 and the fit end at epoch 19.
    result = run(20, first_epoch=12, result=first)
    assert result.converged and result.n_epochs == 13


def test_held_out_rows_end_an_overfitting_fit_sooner_with_the_same_weights(monkeypatch):
    # Breast cancer to 2-D overfits: the held-out loss is best long before the rate
    # reaches its floor. The plateau after the first useless lower rate ends the fit.
    X = StandardScaler().fit_transform(load_breast_cancer(return_X_y=True)[0])
    ae = AutoencoderTransformer(n_components=2, random_state=1).fit(X)
    monkeypatch.setattr(AutoencoderTransformer, "_stop_patience", lambda self, validated: None)
    longer = AutoencoderTransformer(n_components=2, random_state=1).fit(X)
    # At least one more plateau (20 epochs) would have come before the rate's floor.
    assert ae.n_iter_ <= longer.n_iter_ - 20
    assert ae.validation_loss_curve_ == longer.validation_loss_curve_[: ae.n_iter_]
    np.testing.assert_array_equal(ae.transform(X), longer.transform(X))


@pytest.mark.parametrize("array_api", [False, True])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_only_the_transformer_averages_its_plateaus(monkeypatch, blobs, array_api,
                                                    early_stopping):
    """The transformer watches the mean of n_iter_no_change epochs and, with rows held
    out, stops after twice n_iter_no_change epochs without improvement; the detector
    watches each epoch and leaves the end to its schedule."""
    windows = []
    original = training_module.PlateauRule.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        windows.append((self.window.maxlen, self.patience))

    monkeypatch.setattr(training_module.PlateauRule, "__init__", recording)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, n_iter_no_change=7, random_state=0,
                  early_stopping=early_stopping)
    X = array_api_strict.asarray(blobs) if array_api else blobs
    patience = 14 if early_stopping else None
    with warnings.catch_warnings(), config_context(array_api_dispatch=array_api):
        warnings.simplefilter("ignore", ConvergenceWarning)
        AutoencoderTransformer(n_init=2, **params).fit(X)
        assert windows == [(7, patience), (7, patience)]  # one rule per start
        if not array_api:
            AutoencoderOutlierDetector(**params).fit(X)
            assert windows == [(7, patience), (7, patience), (1, None)]


BUNDLED = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "diabetes": load_diabetes,
    "linnerud": load_linnerud,
}


@pytest.mark.parametrize(
    "estimator, name",
    [
        (estimator, name)
        for estimator in (
            AutoencoderTransformer, VariationalAutoencoder, AutoencoderOutlierDetector
        )
        for name in BUNDLED
    ],
)
def test_defaults_converge_without_warning_on_bundled_data(name, estimator, seed):
    X = StandardScaler().fit_transform(BUNDLED[name](return_X_y=True)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = estimator(random_state=seed).fit(X)
    assert model.n_iter_ < model.max_iter
    held_out = len(X) >= 200 and estimator is not AutoencoderOutlierDetector
    assert (model.validation_loss_curve_ is not None) == held_out


@pytest.mark.parametrize("random_state", [5, 9])
def test_detector_defaults_converge_on_one_minibatch_an_epoch(random_state):
    """Linnerud's 20 rows are one minibatch an epoch, one Adam step: the seeds whose
    fits outlast 1,000 epochs stop converged, silently, within the default budget."""
    X = StandardScaler().fit_transform(load_linnerud(return_X_y=True)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = AutoencoderOutlierDetector(random_state=random_state).fit(X)
    assert 1000 < model.n_iter_ < model.max_iter


#: Rounding residues of columns' means, the same in every row, such as StandardScaler
#: leaves on constant columns (300 rows of 0.1: 1.4e-17; of 7.7: -1.8e-15).
RESIDUES = np.array([1.4e-17, -1.8e-15, 0.0, 7.1e-15, 9.1e-13])


def constant_columns(residues, missing=False, sparse=False):
    """What a StandardScaler makes of data whose every column is constant."""
    X = StandardScaler().fit_transform(np.full((300, 5), 3.0)) + residues
    if missing:
        X[::7, 1] = np.nan
    return sp.csr_matrix(X) if sparse else X


@pytest.mark.parametrize("residues", [0.0, RESIDUES], ids=["zeros", "residues"])
@pytest.mark.parametrize(
    "estimator, missing, sparse",
    [(AutoencoderTransformer, False, False), (AutoencoderTransformer, True, False),
     (AutoencoderTransformer, True, True), (AutoencoderOutlierDetector, False, False),
     (AutoencoderImputer, True, False)],
)
def test_constant_columns_standardized_converge_without_warning(estimator, missing, sparse,
                                                                residues):
    """Constant columns: the network learns to output them, its loss falling by about
    the same share every epoch for as long as it trains. With a tolerance relative to
    the loss the transformer ran its 1,000 epochs and warned, the detector stopped
    after ~680 and the imputer after 1,760-2,000 (of its 2,000); now ~150, ~105 and
    550-610. (Not the variational autoencoder's Gaussian likelihood: its tolerance
    is absolute already, and its noise variances on such data shrink towards
    min_noise_variance for over 1,000 epochs.)"""
    X = constant_columns(residues, missing, sparse)
    dense = X.toarray() if sparse else X
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = estimator(random_state=0).fit(X)
    assert model.n_iter_ < model.max_iter // 2
    if estimator is AutoencoderTransformer:
        reconstruction = model.inverse_transform(model.transform(X))
        assert np.nanmax(np.abs(reconstruction - np.nan_to_num(dense))) < 1e-3


@pytest.mark.parametrize("params, dtype", [
    (dict(categorical_groups=[[2, 3, 4]]), np.float64), (dict(mask_as_input=True), np.float64),
    ({}, np.float32),
])
def test_constant_columns_converge_in_every_form(params, dtype):
    """One category in every row of a one-hot group, the mask as input, float32: about
    150 epochs (with the mask as input, 460-530 under a relative tolerance)."""
    X = np.zeros((300, 6), dtype=dtype)
    X[:, 3] = 1.0
    if "mask_as_input" in params:
        X[::7, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = AutoencoderTransformer(random_state=0, **params).fit(X)
    assert model.n_iter_ < 300


@pytest.mark.parametrize("array_api", [False, True])
def test_only_constant_columns_make_the_tolerance_absolute(plateau_scales, array_api):
    """Every column constant (over rows of positive weight): a unit scale; one entry
    that differs, however little, or constant data in a partial_fit: the relative
    tolerance, as ever. (Constant data cannot hold rows out: no two distinct rows.)"""
    params = dict(hidden_layer_sizes=(4,), n_components=2, max_iter=2, n_init=1,
                  random_state=0)
    zeros = np.zeros((40, 3))
    fives = np.full((40, 3), 5.0)
    tiny = zeros.copy()
    tiny[-1, 2] = 1e-300
    first = fives.copy()
    first[0, 0] = -5.0
    wrap = array_api_strict.asarray if array_api else np.asarray
    weights = np.ones(40)
    weights[0] = 0.0
    with warnings.catch_warnings(), config_context(array_api_dispatch=array_api):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for X, sample_weight in [(zeros, None), (fives, None), (tiny, None), (first, None),
                                 (first, weights)]:
            AutoencoderTransformer(**params).fit(wrap(X), sample_weight=sample_weight)
        AutoencoderTransformer(**params).partial_fit(wrap(zeros))
        # Rows held out: the relative tolerance where an entry differs.
        AutoencoderTransformer(**params, early_stopping=True).fit(wrap(tiny))
    unit = CONSTANT_TARGETS_SCALE
    assert plateau_scales == [unit, unit, None, None, unit, None, None]


def test_constant_columns_read_every_chunk_and_only_observed_entries(monkeypatch):
    from skae._data import MissingEntries

    monkeypatch.setattr(estimator_module, "_VALIDATION_CHUNK", 4)
    rows = np.arange(10)
    weights = np.ones(10)
    weights[9] = 0.0

    def both(X, weights=None):
        host = estimator_module._constant_columns(X, rows, weights)
        on_device = array_api_strict.asarray(X)
        device = device_constant_columns(
            array_api_strict, on_device.device, on_device, weights, chunk=4
        )
        assert device == host
        return host

    X = np.tile([0.0, 2.5, -1.0], (10, 1))
    assert both(X)
    X[9, 2] = -1.0 + 1e-12  # in the last chunk
    assert not both(X)
    assert both(X, weights)  # a row of zero weight is not looked at
    assert estimator_module._constant_columns(X, rows[:9], None)  # nor one not asked for
    weights[0] = 0.0  # the first row of positive weight sets the values
    X[0] = 7.0
    assert both(X, weights)
    # Sparse: an implicit 0 is a value too.
    S = sp.csr_matrix((np.array([0.0, 2.0]), ([0, 5], [1, 2])), shape=(10, 3))
    assert S.nnz == 2 and not estimator_module._constant_columns(S, rows, None)
    S = sp.csr_matrix(np.tile([0.0, 2.5, -1.0], (10, 1)))
    S.data[S.indices == 0] = 0.0
    assert estimator_module._constant_columns(S, rows, None)
    # Missing entries are not looked at, observed ones are; dense or sparse.
    X = np.tile([0.0, 2.5, -1.0], (10, 1))
    X[3, 1] = X[0, 0] = np.nan
    for data in (X, sp.csr_matrix(X)):
        assert estimator_module._constant_columns(data, rows, None, MissingEntries(3))
    X[4, 0] = 2.0
    for data in (X, sp.csr_matrix(X)):
        assert not estimator_module._constant_columns(data, rows, None, MissingEntries(3))



def convergence_messages(estimator, X, **fit_params):
    """The ConvergenceWarning messages of ``estimator.fit(X)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, **fit_params)
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def with_constant_column(n_rows=300, value=7.0):
    """Standardized noise of five columns, the third constant (all 0 once scaled)."""
    X = np.random.default_rng(0).normal(size=(n_rows, 5))
    X[:, 2] = value
    return StandardScaler().fit_transform(X)


def test_vae_out_of_epochs_names_constant_features():
    """A constant feature's likelihood rises while its noise variance walks down to
    min_noise_variance, for more than max_iter epochs on a few hundred rows: the
    ConvergenceWarning names such features and says what to do."""
    X = with_constant_column()
    vae = VariationalAutoencoder(max_iter=30, random_state=0)
    (message,) = convergence_messages(vae, X)
    assert "Constant feature(s): 2. " in message
    assert "VarianceThreshold" in message and "min_noise_variance=1e-06" in message
    pd = pytest.importorskip("pandas")
    (message,) = convergence_messages(vae, pd.DataFrame(X, columns=list("abcde")))
    assert "Constant feature(s): c. " in message
    (message,) = convergence_messages(vae, np.c_[X, np.zeros((300, 6))])
    assert "Constant feature(s): 2, 5, 6, 7, 8 and 2 more. " in message
    # Observed entries only, over rows of positive weight; a column never observed
    # is not constant.
    Y = X.copy()
    Y[::7, 2] = np.nan
    Y[:, 4] = np.nan
    weights = np.ones(300)
    weights[5] = 0.0
    Y[:, 1] = 2.0
    Y[5, 1] = 4.0  # differs in the row of zero weight only
    (message,) = convergence_messages(vae, Y, sample_weight=weights)
    assert "Constant feature(s): 1, 2. " in message


def test_out_of_epochs_advice_only_where_it_applies(monkeypatch):
    """No constant feature, the cross-entropy, the transformer: the plain warning; and
    a fit that converges never reads the data for it."""
    X = with_constant_column()
    plain = "(loss_curve_ shows how far it got)."
    (message,) = convergence_messages(
        VariationalAutoencoder(max_iter=5, random_state=0), np.delete(X, 2, axis=1)
    )
    assert message.endswith(plain)
    (message,) = convergence_messages(
        VariationalAutoencoder(
            max_iter=5, loss="binary_crossentropy", activation="tanh", random_state=0
        ),
        (X - X.min()) / (X.max() - X.min()),
    )
    assert message.endswith(plain)
    (message,) = convergence_messages(AutoencoderTransformer(max_iter=5, random_state=0), X)
    assert message.endswith(plain)
    import skae._vae as vae_module

    def unexpected(*args):
        raise AssertionError("the data were read without a warning to give")

    monkeypatch.setattr(vae_module, "_constant_features", unexpected)
    vae = VariationalAutoencoder(max_iter=50, learning_rate="constant", tol=10.0,
                                 n_iter_no_change=2, random_state=0)
    assert convergence_messages(vae, X) == [] and vae.n_iter_ < 50
    vae.set_params(max_iter=1, warm_start=True)
    with pytest.raises(AssertionError, match="without a warning"):
        vae.fit(X)


def test_grid_search_at_the_defaults_is_silent():
    X = load_wine(return_X_y=True)[0]
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(random_state=0))
    grid = {"autoencodertransformer__n_components": [2, 4],
            "autoencodertransformer__hidden_layer_sizes": [(32,), (64, 32)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GridSearchCV(pipe, grid, cv=2).fit(X)


def test_auto_alpha_scales_with_the_training_size():
    assert_allclose(estimator_module._resolve_alpha("auto", 426), 1.5e-3, rtol=2e-3)
    assert estimator_module._resolve_alpha("auto", 2000) == 0.64 / 2000
    assert estimator_module._resolve_alpha(0.01, 2000) == 0.01


def test_weights_as_large_as_accepted_do_not_overflow_the_validation_loss(blobs):
    """The held-out rows' weighted mean loss summed the raw weights times the
    errors: uniform weights of 5e305 (accepted: their sum is finite) overflowed it
    and the fit failed as "diverged". Only the weights' ratios count."""
    X = np.repeat(40 * blobs, 3, axis=0)[:300]  # errors of hundreds: Σ w e overflows
    params = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=3, n_init=1,
                  init="random", early_stopping=True, alpha=1e-4, random_state=0)
    fits = []
    for scale in (1.0, 5e305):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(AutoencoderTransformer(**params).fit(X, sample_weight=np.full(300, scale)))
    assert np.all(np.isfinite(fits[1].validation_loss_curve_))
    assert_allclose(fits[1].validation_loss_curve_, fits[0].validation_loss_curve_, rtol=1e-6)


def test_the_weighted_mean_is_unchanged_by_its_overflow_guard():
    """The weights are brought near 1 by a power of two: bit for bit the same mean."""
    from skae._objectives import unit_scaled, weighted_mean

    rng = np.random.default_rng(0)
    values, weights = rng.exponential(size=1000), rng.uniform(0.1, 30.0, size=1000)
    assert weighted_mean(values, weights) == float(np.dot(weights, values) / weights.sum())
    scaled = unit_scaled(weights)
    assert 0.5 <= scaled.max() < 1.0 and np.all(scaled / weights == scaled[0] / weights[0])
    huge = np.full(1000, 1e306)
    assert weighted_mean(values, huge) == pytest.approx(np.mean(values), rel=1e-12)
    for degenerate in (np.zeros(3), np.array([])):
        assert unit_scaled(degenerate) is degenerate


def test_auto_alpha_counts_weight_as_rows(blobs):
    """A weight of 2 is two rows, for the penalty too: the full-batch fits agree."""
    # Without held-out rows: "auto" early stopping counts rows, as scikit-learn's
    # HistGradientBoosting* do, and 240 repeated rows would hold some out. Random
    # starts: a guided start's regressions are unweighted (120 rows are not 240).
    params = dict(n_components=2, hidden_layer_sizes=(6,), random_state=0, max_iter=5,
                  batch_size=10_000, shuffle=False, early_stopping=False, init="random")
    weighted = AutoencoderTransformer(**params).fit(blobs, sample_weight=np.full(120, 2.0))
    repeated = AutoencoderTransformer(**params).fit(np.repeat(blobs, 2, axis=0))
    assert_allclose(weighted._params, repeated._params, rtol=1e-9, atol=1e-12)


def blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def record_threads(monkeypatch):
    seen = []
    original = Adam.step

    def step(self, grad):
        seen.append(tuple(blas_threads()))
        original(self, grad)

    monkeypatch.setattr(Adam, "step", step)
    return seen


def test_small_networks_train_on_one_blas_thread(blobs, monkeypatch):
    seen = record_threads(monkeypatch)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        AutoencoderTransformer(2, max_iter=2, random_state=0).fit(blobs)
        assert blas_threads() == before  # the caller's setting is restored
    assert seen and all(set(threads) == {1} for threads in seen)


OVERLAPPING_FITS = """
import json
import threading
from types import SimpleNamespace
from threadpoolctl import threadpool_info
from skae._estimator import _blas_threads

def blas():
    return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

small = SimpleNamespace(shapes=[(4, 4)])
a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()
inside = {}

def fit_a():  # starts first, ends first
    with _blas_threads(small, 8):
        inside["a"] = blas()
        a_in.set()
        b_in.wait()

def fit_b():  # starts inside a's limit, ends after a's thread has ended
    a_in.wait()
    with _blas_threads(small, 8):
        b_in.set()
        a_done.wait()
        inside["b"] = blas()

before = blas()
threads = [threading.Thread(target=fit_a), threading.Thread(target=fit_b)]
for t in threads:
    t.start()
threads[0].join()
a_done.set()
threads[1].join()
print(json.dumps([before, inside["a"], blas()]))
"""


def test_fits_overlapping_in_threads_leave_the_process_blas_setting_as_it_was():
    # In a fresh interpreter: threadpoolctl lets one thread at a time change
    # OpenBLAS's setting, and this process's main thread has changed it already.
    import json
    import subprocess
    import sys

    if not blas_threads() or max(blas_threads()) < 2:
        pytest.skip("needs a BLAS with at least 2 threads to tell a limit of 1 apart")
    out = subprocess.run(
        [sys.executable, "-c", OVERLAPPING_FITS], capture_output=True, text=True, check=True
    )
    before, first, after = json.loads(out.stdout)
    assert first == [1]  # the first fit trained on one thread
    assert after == before != [1]


FORK_DURING_A_FIT = """
import json
import os
from types import SimpleNamespace
from threadpoolctl import threadpool_info
from skae._estimator import _blas_threads

def blas():
    return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

before = blas()
with _blas_threads(SimpleNamespace(shapes=[(4, 4)]), 8):
    inside = blas()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what does it start with?
        os.write(write, json.dumps(blas()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = json.loads(os.read(read, 1000))
print(json.dumps([before, inside, child, blas()]))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork (POSIX)")
def test_a_process_forked_during_a_fit_starts_with_the_callers_blas_setting():
    import json
    import subprocess
    import sys

    if not blas_threads() or max(blas_threads()) < 2:
        pytest.skip("needs a BLAS with at least 2 threads to tell a limit of 1 apart")
    out = subprocess.run(
        [sys.executable, "-c", FORK_DURING_A_FIT], capture_output=True, text=True, check=True
    )
    before, inside, child, after = json.loads(out.stdout)
    assert inside == [1] and before != [1]
    assert child == before and after == before


def test_large_products_keep_the_callers_threads(monkeypatch):
    X = np.random.RandomState(0).normal(size=(512, 300))
    monkeypatch.setattr(estimator_module, "_MULTITHREAD_MIN_MACS", 1)
    seen = record_threads(monkeypatch)
    with threadpool_limits(limits=2, user_api="blas"):
        expected = tuple(blas_threads())
        AutoencoderTransformer(2, hidden_layer_sizes=(16,), max_iter=1).fit(X)
    assert seen and set(seen) == {expected}
