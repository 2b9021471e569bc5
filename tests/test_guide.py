"""The guided start (init="isomap" / "auto"): an Isomap embedding learned before training."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_swiss_roll
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae._estimator as estimator_module
import skae._guide as guide_module
from skae import AutoencoderTransformer
from skae._guide import GUIDE_ROWS, guide_rows, guided_start, isomap_embedding
from skae._model import Network
from skae._training import DivergenceError


def quiet_fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


def swiss_roll_split(n_samples):
    """The benchmarks' Swiss roll of ``n_samples``, split 75/25, standardized on the 75."""
    X, _ = make_swiss_roll(n_samples, noise=0.05, random_state=0)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


@pytest.fixture(scope="module")
def roll():
    return swiss_roll_split(800)


def held_out_mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def small(**params):
    base = dict(n_components=2, hidden_layer_sizes=(32, 16), max_iter=60, random_state=0)
    return AutoencoderTransformer(**(base | params))


# -- what it is for ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def large_roll():
    return swiss_roll_split(2000)


@pytest.mark.parametrize("random_state", [0, 1])
def test_a_guided_start_unrolls_a_swiss_roll_that_random_starts_fold(large_roll, random_state):
    """The benchmark's Swiss roll from one random start ends folded (measured 12x
    and 17x the guided start's held-out error for these seeds); the guided start
    unrolls it. (With fewer rows, Isomap's graph and the unrolling are less sure.)"""
    X_train, X_test = large_roll
    errors = {
        init: held_out_mse(
            quiet_fit(
                AutoencoderTransformer(2, init=init, n_init=1, random_state=random_state),
                X_train,
            ),
            X_test,
        )
        for init in ("random", "isomap")
    }
    assert errors["isomap"] < errors["random"] / 3, errors


def test_the_warm_up_keeps_a_guided_start_unrolled_at_a_larger_step(large_roll, monkeypatch):
    """At ``learning_rate_init=1e-2`` the first epoch at full rate tore the unrolled
    network: held-out errors 0.020 and 0.049 for seeds 1 and 3 (seed 2 0.028, seed 0
    0.0028), against 0.0010 on each with the warm-up. Which seeds tear depends on the
    rounding; that the warm-up keeps the sheet on each does not."""
    X_train, X_test = large_roll

    def errors():
        return [
            held_out_mse(
                quiet_fit(
                    AutoencoderTransformer(2, learning_rate_init=1e-2, random_state=seed),
                    X_train,
                ),
                X_test,
            )
            for seed in (1, 3)
        ]

    warm = errors()
    assert max(warm) < 0.003, warm  # near the noise's 0.0010
    monkeypatch.setattr(guide_module, "GUIDE_WARMUP_EPOCHS", 0)
    cold = errors()
    assert max(c / w for c, w in zip(cold, warm, strict=True)) > 3, (warm, cold)


class WarmupSpy(estimator_module.Adam):
    """Adam that records the warm-up each start's training was given."""

    seen = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        WarmupSpy.seen.append(self.warmup_steps)


@pytest.mark.parametrize(
    "params, expected",
    [
        # 600 rows in batches of 32 ("auto"): 19 steps an epoch; the random starts none.
        (dict(init="isomap", n_init=3), [19, 0, 0]),
        (dict(init="isomap", n_init=1, batch_size=100), [6]),
        (dict(init="random", n_init=2), [0, 0]),
    ],
)
def test_a_guided_start_warms_its_rate_up_over_its_first_epoch(
    roll, monkeypatch, params, expected
):
    monkeypatch.setattr(estimator_module, "Adam", WarmupSpy)
    monkeypatch.setattr(WarmupSpy, "seen", [])
    X_train, _ = roll
    model = quiet_fit(small(early_stopping=False, max_iter=4, **params), X_train)
    assert WarmupSpy.seen == expected
    # Going on from it: the optimizer's state goes on, without a second warm-up.
    quiet_fit(model.set_params(warm_start=True), X_train)
    assert WarmupSpy.seen == [*expected, 0]


def test_the_guided_start_begins_where_the_regressions_left_it(roll):
    """Its first epoch's loss is far below a random start's: the network was trained
    on the embedding before the first epoch (not only initialised alike)."""
    X_train, _ = roll
    first = {
        init: quiet_fit(small(init=init, n_init=1, max_iter=1), X_train).loss_curve_[0]
        for init in ("random", "isomap")
    }
    assert first["isomap"] < first["random"] / 1.5, first  # measured 0.43 against 0.95


def test_auto_guides_the_first_start_only(roll, monkeypatch):
    """"auto" on dense data of 100+ training rows guides one start; the others of
    n_init are random ones, as with init="random"."""
    calls = []
    original = estimator_module.guided_start

    def spy(model, *args):
        calls.append(model.params.copy())
        return original(model, *args)

    monkeypatch.setattr(estimator_module, "guided_start", spy)
    X_train, _ = roll
    quiet_fit(small(n_init=3, max_iter=12), X_train)
    assert len(calls) == 1
    random_start = Network((3, 32, 16, 2, 16, 32, 3), 3, "relu")
    streams = estimator_module._random_streams(0, 0, 3)
    random_start.initialize(streams[0]["init"], "lecun")
    assert_array_equal(calls[0], random_start.params)  # from the first start's weights


def test_a_guided_fit_reproduces_bit_for_bit(roll):
    X_train, _ = roll
    a = quiet_fit(small(init="isomap"), X_train)
    b = quiet_fit(small(init="isomap"), X_train)
    for coef_a, coef_b in zip(a.coefs_, b.coefs_, strict=True):
        assert_array_equal(coef_a, coef_b)
    c = quiet_fit(small(init="isomap", random_state=1), X_train)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_a_guided_fit_in_float32_stays_float32(roll):
    X_train, X_test = roll
    model = quiet_fit(small(init="isomap"), X_train.astype(np.float32))
    assert model.coefs_[0].dtype == np.float32
    assert np.isfinite(held_out_mse(model, X_test.astype(np.float32)))


def test_the_guide_never_sees_held_out_rows(roll, monkeypatch):
    """The embedding and the regressions use training rows only (the rows early
    stopping holds out are the validation part's)."""
    seen = {}
    original = estimator_module.guide_rows

    def spy(rows, weights, rng):
        seen["train"], seen["drawn"] = rows.copy(), original(rows, weights, rng)
        return seen["drawn"]

    monkeypatch.setattr(estimator_module, "guide_rows", spy)
    X_train, _ = roll
    quiet_fit(small(init="isomap", early_stopping=True, max_iter=3), X_train)
    n = X_train.shape[0]
    assert seen["train"].size == n - round(0.1 * n)
    assert np.isin(seen["drawn"], seen["train"]).all()


def test_guide_rows_subsamples_in_proportion_to_the_weights():
    rng = np.random.default_rng(0)
    rows = np.arange(3 * GUIDE_ROWS)
    assert_array_equal(guide_rows(rows[:GUIDE_ROWS], None, rng), rows[:GUIDE_ROWS])
    weights = np.where(rows < GUIDE_ROWS, 10.0, 1e-3)
    drawn = guide_rows(rows, weights, rng)
    assert drawn.size == GUIDE_ROWS and np.unique(drawn).size == GUIDE_ROWS
    assert np.all(np.diff(drawn) > 0)
    assert np.mean(drawn < GUIDE_ROWS) > 0.9  # the heavy third of the rows dominates


# -- when it does not guide -------------------------------------------------------------------
def test_auto_starts_at_random_on_few_rows_wide_codes_and_wide_data(roll, monkeypatch):
    X_train, _ = roll
    X_wide = np.hstack([X_train, np.sin(X_train)])
    for X, k in ((X_train[:90], 2), (X_wide, 4)):
        auto = quiet_fit(small(max_iter=5, n_components=k), X)
        random = quiet_fit(small(max_iter=5, n_components=k, init="random"), X)
        assert_array_equal(auto.coefs_[0], random.coefs_[0])
    for k in (1, 3):  # the narrow codes are guided
        auto = quiet_fit(small(max_iter=5, n_components=k, n_init=1), X_wide)
        random = quiet_fit(small(max_iter=5, n_components=k, n_init=1, init="random"), X_wide)
        assert not np.array_equal(auto.coefs_[0], random.coefs_[0])
    # Rows whose dense float64 copy would pass the limit start at random under "auto".
    n_rows = X_train.shape[0] - round(0.1 * X_train.shape[0])
    monkeypatch.setattr(estimator_module, "GUIDE_MAX_BYTES", n_rows * 3 * 8 - 1)
    auto = quiet_fit(small(max_iter=5, n_init=1), X_train)
    random = quiet_fit(small(max_iter=5, n_init=1, init="random"), X_train)
    assert_array_equal(auto.coefs_[0], random.coefs_[0])
    monkeypatch.setattr(estimator_module, "GUIDE_MAX_BYTES", n_rows * 3 * 8)
    auto = quiet_fit(small(max_iter=5, n_init=1), X_train)
    assert not np.array_equal(auto.coefs_[0], random.coefs_[0])


@pytest.mark.parametrize("init", ["auto", "isomap"])
def test_sparse_rows_are_guided_as_the_same_rows_dense(roll, init):
    """The guide copies the drawn rows dense: the same model, bit for bit."""
    X = roll[0].copy()
    X[np.abs(X) < 0.3] = 0.0
    dense = quiet_fit(small(max_iter=5, n_init=1, init=init), X)
    sparse = quiet_fit(small(max_iter=5, n_init=1, init=init), sp.csr_matrix(X))
    assert_array_equal(dense._params, sparse._params)
    random = quiet_fit(small(max_iter=5, n_init=1, init="random"), X)
    assert not np.array_equal(dense._params, random._params)


@pytest.mark.parametrize(
    "params, data, match",
    [
        ({"tied_weights": True}, "dense", "tied_weights=True"),
        ({"mask_as_input": True}, "nan", "missing entries"),
        ({}, "nan", "missing entries"),
        ({}, "few", "more than max\\(10, n_components\\) training rows, got 9"),
        ({"categorical_groups": [[1, 2]]}, "onehot", "categorical_groups"),
    ],
)
def test_isomap_refuses_what_it_cannot_guide_and_auto_starts_at_random(
    roll, params, data, match
):
    X = roll[0][:150].copy()
    if data == "nan":
        X[::7, 0] = np.nan
    elif data == "few":
        X = X[:9]
    elif data == "onehot":
        X[:, 1] = (X[:, 1] > 0).astype(float)
        X[:, 2] = 1.0 - X[:, 1]
    fitted = quiet_fit(small(max_iter=3), roll[0][:150])
    before = [c.copy() for c in fitted.coefs_]
    X_before = X.copy()
    fitted.set_params(init="isomap", **params)
    with pytest.raises(ValueError, match=match) as info:
        fitted.fit(X)
    assert "init='random'" in str(info.value)
    for coef, old in zip(fitted.coefs_, before, strict=True):
        assert_array_equal(coef, old)  # the fitted model is untouched ...
    assert_array_equal(X, X_before)  # ... and so are the data
    auto = quiet_fit(small(max_iter=3, **params), X)
    random = quiet_fit(small(max_iter=3, init="random", **params), X)
    assert_array_equal(auto.coefs_[0], random.coefs_[0])


def test_an_unknown_init_is_refused():
    with pytest.raises(InvalidParameterError, match="'init' parameter"):
        AutoencoderTransformer(init="pca").fit(np.ones((20, 3)))


def test_warm_start_and_partial_fit_do_not_guide(roll, monkeypatch):
    X_train, _ = roll
    model = quiet_fit(small(init="isomap", max_iter=3), X_train)
    monkeypatch.setattr(estimator_module, "guided_start", pytest.fail)
    quiet_fit(model.set_params(warm_start=True), X_train)
    AutoencoderTransformer(2, init="isomap").partial_fit(X_train[:20])


def random_twin(model, X):
    return quiet_fit(clone(model).set_params(init="random"), X)


@pytest.mark.parametrize(
    "case, match",
    [
        ("one point", "single point"),
        ("few distinct rows", "only 8 distinct rows"),
        ("clumps", "falls into 30 separate pieces"),
        ("many components", "Isomap failed"),
        ("overflow", "overflow"),
        ("distances overflow", "overflow"),
    ],
)
def test_where_isomap_cannot_embed_the_start_stays_random(roll, case, match):
    """All rows in one point, too few distinct rows for the graph, a graph in
    many pieces, nearly as many components as rows (the kernel's negative
    eigenvalues), squared norms or only distances beyond the float range:
    init="isomap" warns and starts at random; "auto" does so silently."""
    rng = np.random.default_rng(0)
    if case == "one point":
        X, k = np.tile(roll[0][:1], (150, 1)), 2
    elif case == "few distinct rows":
        X, k = np.tile(roll[0][:8], (20, 1)), 2
    elif case == "clumps":  # 30 clumps of 20 rows, far apart
        centres = rng.normal(size=(30, 1, 3)) * 1e3
        X, k = (centres + rng.normal(size=(30, 20, 3))).reshape(-1, 3), 2
    elif case == "many components":
        X, k = rng.normal(size=(20, 10)), 16
    elif case == "overflow":
        X, k = rng.normal(size=(150, 4)) * 1e160, 2
    else:  # each row's squared norm is finite, the squared distances are not
        X, k = rng.normal(size=(150, 4)), 2
        X[:, 0] = np.where(np.arange(150) % 2, 9e153, -9e153)
    model = small(init="isomap", n_components=k, max_iter=2)
    if "overflow" in case:  # the training overflows too: the random start's error
        with pytest.warns(UserWarning, match=f"the first start is random.*{match}"):
            with pytest.raises(DivergenceError, match="standardize them") as guided:
                quiet_fit(model, X)
        with pytest.raises(DivergenceError) as random:
            random_twin(model, X)
        assert str(guided.value) == str(random.value)
        # "auto" raises the same error, and no floating-point warning on the way.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            with pytest.raises(DivergenceError) as auto:
                small(n_components=k, max_iter=2).fit(X)
        assert str(auto.value) == str(random.value)
        return
    with pytest.warns(UserWarning, match=f"init='isomap': the first start is random.*{match}"):
        quiet_fit(model, X)
    assert_array_equal(model.coefs_[0], random_twin(model, X).coefs_[0])
    if k <= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            auto = small(n_components=k, max_iter=2).fit(X)
        assert_array_equal(auto.coefs_[0], model.coefs_[0])


def test_a_neighbours_graph_in_pieces_is_joined_without_a_warning():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(80, 3)), rng.normal(size=(80, 3)) + 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z, reason = isomap_embedding(X, 2)
    assert reason is None and Z.shape == (160, 2) and np.all(np.isfinite(Z))
    assert np.isclose(np.mean(Z * Z), 1.0) and np.allclose(Z.mean(axis=0), 0.0)


def test_identical_rows_share_a_code_and_isomap_embeds_each_once(roll, monkeypatch):
    """Copies of a row would fill its neighbourhood and cut the graph into pieces
    (11 copies of each of 181 rows: 181 pieces, seconds of Isomap joining them):
    Isomap sees the distinct rows in the order they first occur, and data
    without copies exactly as given (so their embedding is unchanged)."""
    from sklearn.manifold import Isomap

    seen = []
    original = Isomap.fit_transform

    def spy(self, X, y=None):
        seen.append(np.array(X))
        return original(self, X, y)

    monkeypatch.setattr(Isomap, "fit_transform", spy)
    distinct = roll[0][:181]
    copies = np.random.default_rng(0).permutation(np.repeat(distinct, 11, axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z, reason = isomap_embedding(copies, 2)
    assert reason is None and Z.shape == (181 * 11, 2)
    _, first = np.unique(copies, axis=0, return_index=True)
    assert_array_equal(seen[-1], copies[np.sort(first)])
    for row in distinct[:5]:
        same = np.flatnonzero((copies == row).all(axis=1))
        assert same.size == 11 and (Z[same] == Z[same[0]]).all()
    assert np.isclose(np.mean(Z * Z), 1.0) and np.allclose(Z.mean(axis=0), 0.0)

    Z, _ = isomap_embedding(roll[0], 2)
    assert_array_equal(seen[-1], roll[0])
    # And their embedding is Isomap's own, centred and scaled, bit for bit.
    expected = original(Isomap(n_neighbors=10, n_components=2, eigen_solver="dense"), roll[0])
    expected = expected - expected.mean(axis=0)
    assert_array_equal(Z, expected / np.sqrt(np.mean(expected * expected)))


def test_a_guided_fit_is_the_same_whatever_the_callers_blas_threads(large_roll):
    """The embedding runs on one BLAS thread, as small networks train: with two,
    the eigensolver's last bits differed (1e-15 to 1e-13 in the first layer after
    5 epochs on the benchmark's data), and training amplifies them."""
    from threadpoolctl import threadpool_limits

    fits = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            fits.append(quiet_fit(small(init="isomap", max_iter=1), large_roll[0]).coefs_)
    for one, two in zip(*fits, strict=True):
        assert_array_equal(one, two)


@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_a_global_dataframe_output_does_not_reach_the_guide(roll, output):
    """set_config(transform_output=...) makes Isomap return a frame (read-only
    through pandas 3); the guided start is the same as under the default."""
    from sklearn import config_context

    pytest.importorskip(output)
    model = small(init="isomap", max_iter=2)
    expected = quiet_fit(clone(model), roll[0]).coefs_[0]
    with config_context(transform_output=output):
        quiet_fit(model, roll[0])
    assert_array_equal(model.coefs_[0], expected)


def test_a_tiny_scale_is_not_a_single_point(roll):
    """The degenerate-embedding check is relative to the rows' own spread."""
    Z, _ = isomap_embedding(roll[0], 2)
    Z_tiny, reason = isomap_embedding(roll[0] * 1e-14, 2)
    assert reason is None
    np.testing.assert_allclose(np.abs(Z_tiny), np.abs(Z), atol=1e-6)


def test_the_regressions_fit_the_embedding_and_the_rows(roll):
    """After guided_start the encoder maps the rows near their embedding and the
    decoder maps the codes back near the rows (each far closer than from the
    random weights it started from)."""
    X = roll[0]
    Z, _ = isomap_embedding(X, 2)
    rng = np.random.default_rng(0)
    model = Network((3, 32, 16, 2, 16, 32, 3), 3, "relu")
    model.initialize(rng, "lecun")
    before = np.mean((model.encode(X) - Z) ** 2), np.mean((model.raw_output(X) - X) ** 2)
    assert guided_start(model, X, Z, rng, 2e-3, "squared_error")
    after = np.mean((model.encode(X) - Z) ** 2), np.mean((model.raw_output(X) - X) ** 2)
    assert after[0] < 0.3 * before[0] and after[0] < 0.3, (before, after)  # 0.19 measured
    assert after[1] < 0.6 * before[1] and after[1] < 0.6, (before, after)  # 0.42 measured


def test_the_decoder_regresses_on_the_fit_s_loss(roll, monkeypatch):
    losses = []
    original = guide_module._regress

    def spy(network, inputs, targets, rng, learning_rate, loss):
        losses.append(loss)
        return original(network, inputs, targets, rng, learning_rate, loss)

    monkeypatch.setattr(guide_module, "_regress", spy)
    X = 1 / (1 + np.exp(-roll[0]))
    quiet_fit(small(init="isomap", max_iter=1, loss="binary_crossentropy"), X)
    assert losses == ["squared_error", "binary_crossentropy"]


def test_sample_weights_draw_the_guide_s_rows_beyond_its_limit(monkeypatch):
    """Of more than GUIDE_ROWS training rows, the guide draws in proportion to the
    weights; unit weights draw what no weights draw."""
    seen = []
    original = estimator_module.guide_rows

    def spy(rows, weights, rng):
        seen.append(original(rows, weights, rng))
        return seen[-1]

    monkeypatch.setattr(estimator_module, "guide_rows", spy)
    X, _ = make_swiss_roll(GUIDE_ROWS + 200, noise=0.05, random_state=0)
    X = StandardScaler().fit_transform(X)
    n = X.shape[0]
    heavy = np.where(np.arange(n) < n // 4, 20.0, 1.0)
    params = dict(init="isomap", max_iter=1, early_stopping=False, n_init=1)
    quiet_fit(small(**params), X, sample_weight=heavy)
    # A quarter of the rows, 87 % of the weight: all drawn (without weights, about 50
    # of them are among the 200 left out).
    assert np.isin(np.arange(n // 4), seen[-1]).all()
    quiet_fit(small(**params), X)
    assert not np.isin(np.arange(n // 4), seen[-1]).all()
    quiet_fit(small(**params), X, sample_weight=np.ones(n))
    assert_array_equal(seen[-2], seen[-1])


def test_a_regression_that_diverges_leaves_the_random_start(monkeypatch):
    rng = np.random.default_rng(0)
    model = Network((3, 8, 2, 8, 3), 2, "relu")
    model.initialize(rng, "lecun")
    initial = model.params.copy()
    X = rng.normal(size=(50, 3))
    Z = rng.normal(size=(50, 2))

    def blow_up(network, *args):
        network.params[:] = np.inf

    monkeypatch.setattr(guide_module, "_regress", blow_up)
    assert guided_start(model, X, Z, rng, 1e-3, "squared_error") is False
    assert_array_equal(model.params, initial)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no floating-point warning on the way
        assert guided_start(model, X, Z, rng, 1e300, "squared_error") is False
    assert_array_equal(model.params, initial)
    assert guided_start(model, X, Z, rng, 1e-3, "squared_error") is True
    assert not np.array_equal(model.params, initial)


def test_a_guided_cross_entropy_fit_starts_lower(roll):
    """With loss="binary_crossentropy" too, the guided start's first epoch is below a
    random one's (which loss the decoder regresses on: the test above)."""
    X = 1 / (1 + np.exp(-roll[0]))
    first = {
        init: quiet_fit(
            small(init=init, n_init=1, max_iter=1, loss="binary_crossentropy"), X
        ).loss_curve_[0]
        for init in ("random", "isomap")
    }
    assert first["isomap"] < first["random"], first


def test_the_other_estimators_start_at_random(roll, monkeypatch):
    """init is the transformer's: the detector and the imputer, which share its engine,
    never guide a start (they have no init, and train as before)."""
    from skae import AutoencoderImputer, AutoencoderOutlierDetector

    monkeypatch.setattr(estimator_module, "guided_start", pytest.fail)
    X_train, _ = roll
    quiet_fit(AutoencoderOutlierDetector(hidden_layer_sizes=(8,), max_iter=3), X_train)
    X_missing = X_train.copy()
    X_missing[::5, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        AutoencoderImputer(hidden_layer_sizes=(8,), max_iter=3).fit(X_missing)
    assert "init" not in AutoencoderOutlierDetector().get_params()
