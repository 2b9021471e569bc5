"""Behaviour of AutoencoderTransformer as a user calls it."""

import pickle
import re
import warnings

import array_api_strict
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.manifold import trustworthiness
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import check_random_state

import skae._optim as optim_module
from skae import (
    AutoencoderImputer,
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoder,
)
from skae._data import observed_weight, row_keys, validation_split


@pytest.fixture(autouse=True)
def _ignore_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_shapes_and_attributes(blobs):
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(8, 5), random_state=0, max_iter=5)
    codes = ae.fit_transform(blobs)
    assert codes.shape == (blobs.shape[0], 3)
    assert ae.inverse_transform(codes).shape == blobs.shape
    assert [w.shape for w in ae.coefs_] == [(6, 8), (8, 5), (5, 3), (3, 5), (5, 8), (8, 6)]
    assert [b.shape for b in ae.intercepts_] == [(8,), (5,), (3,), (5,), (8,), (6,)]
    assert ae.n_iter_ == len(ae.loss_curve_) == 5
    assert ae.t_ == 5 * blobs.shape[0]
    assert ae.loss_ == ae.loss_curve_[-1]
    assert ae.best_loss_ == min(ae.loss_curve_)
    assert ae.validation_loss_curve_ is None and ae.best_validation_loss_ is None
    assert ae.n_features_in_ == 6
    # coefs_ and intercepts_ are views into one flat buffer
    base = ae.coefs_[0].base
    assert all(np.shares_memory(a, base) for a in ae.coefs_ + ae.intercepts_)


def test_empty_hidden_layers_is_linear_autoencoder(blobs):
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(), activation="identity", max_iter=3)
    ae.fit(blobs)
    assert [w.shape for w in ae.coefs_] == [(6, 2), (2, 6)]
    codes = ae.transform(blobs)
    assert_allclose(codes, blobs @ ae.coefs_[0] + ae.intercepts_[0], rtol=1e-12)


def test_custom_decoder(blobs):
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(10,), decoder_layer_sizes=(4, 7))
    ae.set_params(max_iter=2).fit(blobs)
    assert [w.shape for w in ae.coefs_] == [(6, 10), (10, 2), (2, 4), (4, 7), (7, 6)]


def test_hidden_layer_sizes_int(blobs):
    ae = AutoencoderTransformer(2, hidden_layer_sizes=9, max_iter=2).fit(blobs)
    assert [w.shape for w in ae.coefs_] == [(6, 9), (9, 2), (2, 9), (9, 6)]


@pytest.mark.parametrize("sizes", [(4, 0), (4, -1), (2.5,), ("a",)])
def test_bad_layer_sizes(blobs, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes must contain positive integers"):
        AutoencoderTransformer(hidden_layer_sizes=sizes).fit(blobs)


def test_beats_pca_on_digits(seed):
    """The README's claim: defaults beat PCA(2) on held-out digits, both metrics."""
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    X_train, X_test = train_test_split(X, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    pca = PCA(2).fit(X_train)
    ae = AutoencoderTransformer(2, random_state=seed).fit(X_train)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    ae_mse = -ae.score(X_test)
    assert_allclose(ae_mse, np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2))
    assert ae_mse < 0.9 * pca_mse
    pca_trust = trustworthiness(X_test, pca.transform(X_test), n_neighbors=5)
    ae_trust = trustworthiness(X_test, ae.transform(X_test), n_neighbors=5)
    assert ae_trust >= pca_trust


def test_early_stopping_restores_best_weights(digits, seed):
    X = digits[0][:600]
    ae = AutoencoderTransformer(
        2,
        hidden_layer_sizes=(32,),
        early_stopping=True,
        validation_fraction=0.2,
        learning_rate_init=0.02,  # noisy on purpose, so the last epoch is rarely the best
        n_iter_no_change=5,
        max_iter=60,
        random_state=seed,
    ).fit(X)
    curve = ae.validation_loss_curve_
    assert len(curve) == ae.n_iter_ == len(ae.loss_curve_)
    assert ae.best_validation_loss_ == min(curve)
    # Recompute the held-out loss of the returned model on the same split.
    train_rows, val_rows = validation_split(X, None, 0.2, ae._validation_seed)
    assert 0.19 <= val_rows.size / X.shape[0] <= 0.2
    assert_allclose(-ae.score(X[val_rows]), ae.best_validation_loss_, rtol=1e-10)
    assert -ae.score(X[val_rows]) <= curve[-1]


def _held_out_loss(ae, X):
    _, val_rows = validation_split(X, None, ae.validation_fraction, ae._validation_seed)
    return val_rows, -ae.score(X[val_rows])


def test_warm_start_keeps_the_validation_split(digits, seed):
    X = digits[0][:400]
    ae = AutoencoderTransformer(
        2,
        hidden_layer_sizes=(16,),
        early_stopping=True,
        max_iter=5,
        warm_start=True,
        random_state=seed,
    ).fit(X)
    val_first, loss_first = _held_out_loss(ae, X)
    assert_allclose(loss_first, ae.best_validation_loss_, rtol=1e-10)
    seed_first = ae._validation_seed
    ae.fit(X)
    assert ae._validation_seed == seed_first
    val_second, loss_second = _held_out_loss(ae, X)
    assert_array_equal(val_second, val_first)
    assert_allclose(loss_second, ae.best_validation_loss_, rtol=1e-10)
    # The same rows by content, wherever they are: shuffle the data and go on.
    order = np.random.default_rng(seed).permutation(X.shape[0])
    ae.fit(X[order])
    val_third, loss_third = _held_out_loss(ae, X)
    assert_array_equal(val_third, val_first)
    assert_allclose(loss_third, ae.best_validation_loss_, rtol=1e-10)
    assert len(ae.validation_loss_curve_) == len(ae.loss_curve_) == ae.n_iter_ == 15


def _trained_rows_warnings(record):
    return [w for w in record if "Early stopping validates on rows" in str(w.message)]


def test_a_warm_start_that_validates_on_trained_rows_warns(digits):
    """Only the same validation_fraction holds out the same rows; another share, or
    held-out rows after a fit that held none out, may be rows an earlier fit trained on."""
    X = digits[0][:400]
    params = dict(
        n_components=2, hidden_layer_sizes=(16,), max_iter=3, warm_start=True, random_state=0
    )

    def fit(ae):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ae.fit(X)
        return [str(w.message) for w in record if "Early stopping validates" in str(w.message)]

    ae = AutoencoderTransformer(early_stopping=True, validation_fraction=0.2, **params)
    assert fit(ae) == [] and fit(ae) == []  # the same rows: unseen still
    [message] = fit(ae.set_params(validation_fraction=0.1))  # another split
    assert re.search(r"held out validation_fraction=0.2 .* holds out 0.1, another split.*"
                     r"keep validation_fraction=0.2", message)
    [message] = fit(ae.set_params(validation_fraction=0.2))  # the earlier fits differed
    assert "held out different rows" in message and "warm_start=False" in message
    # After a fit without held-out rows, or a partial_fit: any held-out row was trained on.
    for first in ("no early stopping", "partial_fit"):
        ae = AutoencoderTransformer(early_stopping=first == "partial_fit", **params)
        assert fit(ae) == []
        if first == "partial_fit":
            ae.partial_fit(X)
        [message] = fit(ae.set_params(early_stopping=True))
        # Every fit held none out; or one held some out, and partial_fit trained on them.
        expected = "trained on every row" if first != "partial_fit" else "different rows"
        assert expected in message
        assert fit(ae.set_params(warm_start=False)) == []  # from scratch: clean again
    # The warning points at the caller's line.
    ae = AutoencoderTransformer(early_stopping=True, **params).fit(X)
    with pytest.warns(UserWarning, match="Early stopping validates") as record:
        ae.set_params(validation_fraction=0.3).fit(X)
    assert [w.filename for w in record if "Early stopping" in str(w.message)] == [__file__]



@pytest.mark.parametrize("array_api", [False, True])
def test_a_warm_start_whose_weights_move_the_split_warns(digits, array_api):
    """Other sample weights move the split's edges: a warm start warns where it holds
    out rows of the same data that an earlier fit trained on, and only there."""
    X = digits[0][:400]
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=2, warm_start=True,
                  early_stopping=True, random_state=0)
    ones = np.ones(400)

    def fit(ae, X, weights):
        data = array_api_strict.asarray(X) if array_api else X
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with config_context(array_api_dispatch=array_api):
                ae.fit(data, sample_weight=weights)
        return [str(w.message) for w in record if "Early stopping validates" in str(w.message)]

    def held_out(ae, weights):
        return set(validation_split(X, weights, ae.validation_fraction, ae._validation_seed)[1])

    ae = AutoencoderTransformer(**params)
    assert fit(ae, X, ones) == []
    first = held_out(ae, ones)
    order = np.random.default_rng(0).permutation(400)
    assert fit(ae, X[order], 3 * ones) == []  # the same split
    heavier = ones.copy()
    heavier[list(first)] = 2.0  # fewer of them fill the share: some train now
    assert held_out(ae, heavier) < first
    assert fit(ae, X, heavier) == []  # it holds out rows no fit trained on
    [message] = fit(ae, X, ones)  # the first split again: the last fit trained on some
    assert "it holds out rows of the same data that an earlier fit" in message
    assert "other sample weights move the split's edges" in message
    # The other way: held-out rows weigh less, more fill the share, rows the first
    # fit trained on among them.
    ae = AutoencoderTransformer(**params)
    fit(ae, X, ones)
    lighter = ones.copy()
    lighter[list(first)] = 0.5
    assert held_out(ae, lighter) > first
    [message] = fit(ae, X, lighter)
    assert "it holds out rows of the same data" in message
    # Other data: a split of other rows, unseen; from there, the same split again.
    other = digits[0][400:800]
    assert fit(ae, other, ones) == [] and fit(ae, other, 2 * ones) == []
    # A model pickled before the record existed: the fraction check only.
    ae = AutoencoderTransformer(**params)
    fit(ae, X, ones)
    del ae._clean_split
    assert fit(ae, X, lighter) == []


def test_a_warm_start_records_the_split_after_groups_move_rows():
    """A held-out row whose one-hot group no training row observes trains instead; the
    record is of the rows finally held out. Row v observes the group's second category
    and row r its first: the first fit gives r weight 0, so v trains; the second holds
    v out, which the split before the move alone would not tell apart."""
    rng = np.random.default_rng(0)
    X0 = np.c_[rng.normal(size=(405, 3)), np.zeros((405, 2))]  # the group unobserved
    params = dict(n_components=2, hidden_layer_sizes=(4,), max_iter=2, warm_start=True,
                  early_stopping=True, random_state=0, categorical_groups=[[3, 4]])
    seed = AutoencoderTransformer(**params).fit(np.c_[X0[:, :3], np.tile([1.0, 0.0], (405, 1))])
    seed = seed._validation_seed
    for r, v in rng.integers(405, size=(500, 2)):
        X = X0.copy()
        X[r, 3] = X[v, 4] = 1.0
        without_r = np.ones(405)
        without_r[r] = 0.0
        weighted = observed_weight(X, without_r, [[3, 4]])
        train, validation = validation_split(X, weighted, 0.1, seed)
        if r in train and v in validation:
            break
    else:
        pytest.fail("no such rows")
    ae = AutoencoderTransformer(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X, sample_weight=without_r)
        assert ae._validation_seed == seed
        assert np.isin(row_keys(X[[v]], seed), ae._clean_split["held_out"]).sum() == 0  # v trained
        with pytest.warns(UserWarning, match="it holds out rows of the same data"):
            ae.fit(X)


def test_curves_follow_n_iter_across_fits(blobs):
    params = dict(n_components=2, max_iter=4, random_state=0, tol=0.0, n_iter_no_change=99)
    ae = AutoencoderTransformer(**params, warm_start=True).fit(blobs)
    assert ae.validation_loss_curve_ is None and ae.best_validation_loss_ is None
    ae.partial_fit(blobs)
    assert ae.validation_loss_curve_ is None and ae._validation_seed is None
    # Early stopping switched on in a warm start: the earlier epochs had no validation.
    ae.set_params(early_stopping=True).fit(blobs)
    curve = ae.validation_loss_curve_
    assert len(curve) == len(ae.loss_curve_) == ae.n_iter_ == 9
    assert np.isnan(curve[:5]).all() and np.isfinite(curve[5:]).all()
    best = ae.best_validation_loss_
    assert best == min(curve[5:])
    validation_seed = ae._validation_seed
    # partial_fit appends a NaN and keeps the validation attributes.
    ae.partial_fit(blobs)
    assert len(ae.validation_loss_curve_) == ae.n_iter_ == 10
    assert_array_equal(ae.validation_loss_curve_[:9], curve)
    assert np.isnan(ae.validation_loss_curve_[-1])
    assert ae.best_validation_loss_ == best and ae._validation_seed == validation_seed
    # A warm start without early stopping appends NaNs, one per epoch.
    ae.set_params(early_stopping=False).fit(blobs)
    assert len(ae.validation_loss_curve_) == ae.n_iter_ == 14
    assert np.isnan(ae.validation_loss_curve_[-4:]).all()
    assert ae.best_validation_loss_ == best and ae._validation_seed == validation_seed
    # A fit from scratch forgets it all.
    ae.set_params(warm_start=False).fit(blobs)
    assert ae.validation_loss_curve_ is None and ae.best_validation_loss_ is None
    assert ae.n_iter_ == len(ae.loss_curve_) == 4


def test_warm_start_history_is_bitwise_reproducible(blobs, seed):
    def history():
        ae = AutoencoderTransformer(
            2, random_state=seed, max_iter=3, warm_start=True, early_stopping=True
        )
        ae.fit(blobs).fit(blobs)
        ae.partial_fit(blobs[:50])
        return ae

    a, b = history(), history()
    assert_array_equal(a._params, b._params)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.validation_loss_curve_, b.validation_loss_curve_)


def test_random_state_instance_and_none(blobs):
    def fit(random_state):
        return AutoencoderTransformer(2, random_state=random_state, max_iter=2).fit(blobs)

    # An instance is consumed: a second fit with it draws anew ...
    rng = np.random.RandomState(0)
    first, second = fit(rng), fit(rng)
    assert not np.array_equal(first._params, second._params)
    # ... and an instance in the same state gives the same model.
    assert_array_equal(fit(np.random.RandomState(0))._params, first._params)
    assert not np.array_equal(fit(None)._params, fit(None)._params)


@pytest.fixture
def global_random_state():
    """NumPy's global random state, put back as it was after the test."""
    state = check_random_state(None).get_state()
    yield
    check_random_state(None).set_state(state)


@pytest.mark.parametrize(
    "estimator",
    [AutoencoderTransformer, AutoencoderImputer, AutoencoderOutlierDetector,
     VariationalAutoencoder],
)
def test_none_draws_from_numpys_global_random_state(blobs, estimator, global_random_state):
    """As in scikit-learn: np.random.seed makes a fit with random_state=None
    reproducible, and an int seed neither reads nor moves the global state."""
    def fit(random_state=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator(hidden_layer_sizes=(8,), max_iter=2,
                             random_state=random_state).fit(blobs)._params

    check_random_state(None).seed(0)
    first = fit()
    check_random_state(None).seed(0)
    assert_array_equal(fit(), first)
    assert not np.array_equal(fit(), first)  # the global state moved on
    before = check_random_state(None).get_state()[1].copy()
    fit(3)
    assert_array_equal(check_random_state(None).get_state()[1], before)


def test_validation_split_keeps_duplicates_together(blobs):
    X = np.vstack([blobs, blobs[:30], blobs[:30]])
    train, val = validation_split(X, None, 0.25, 123)
    assert np.intersect1d(train, val).size == 0
    assert np.union1d(train, val).size == X.shape[0]
    val_rows = {row.tobytes() for row in X[val]}
    assert not any(row.tobytes() in val_rows for row in X[train])


def test_validation_split_weight_equals_repetition(blobs):
    w = np.random.RandomState(0).randint(0, 4, size=blobs.shape[0])
    _, val_w = validation_split(blobs, w, 0.2, 7)
    X_rep = np.repeat(blobs, w, axis=0)
    _, val_r = validation_split(X_rep, None, 0.2, 7)
    chosen_w = {r.tobytes() for r in blobs[val_w][w[val_w] > 0]}
    chosen_r = {r.tobytes() for r in X_rep[val_r]}
    assert chosen_w == chosen_r


def test_early_stopping_needs_distinct_samples():
    X = np.ones((10, 3))
    with pytest.raises(ValueError, match="at least two distinct samples"):
        AutoencoderTransformer(early_stopping=True).fit(X)


def test_warm_start_continues(blobs):
    # A fixed penalty: what is tested is the continuation, not the penalty's size.
    # Random starts: a fresh fit's first epoch is compared with the continued one's.
    first = AutoencoderTransformer(
        2, max_iter=20, alpha=1e-3, random_state=0, init="random"
    ).fit(blobs)
    params = first._params.copy()
    first.set_params(warm_start=True, max_iter=5).fit(blobs)
    assert first.n_iter_ == 25 and len(first.loss_curve_) == 25
    assert first.t_ == 25 * blobs.shape[0]
    # Continued from the previous weights: starts where the first run ended, far
    # below where a fresh start begins.
    fresh = AutoencoderTransformer(
        2, max_iter=5, alpha=1e-3, random_state=0, init="random"
    ).fit(blobs)
    assert first.loss_curve_[20] < 0.5 * fresh.loss_curve_[0]
    assert not np.array_equal(first._params, params)
    # warm_start=False starts afresh.
    first.set_params(warm_start=False).fit(blobs)
    assert first.n_iter_ == 5
    assert_array_equal(first._params, fresh._params)


def test_warm_start_refuses_architecture_change(blobs):
    ae = AutoencoderTransformer(2, max_iter=2, warm_start=True).fit(blobs)
    params = ae._params.copy()
    with pytest.raises(ValueError, match="cannot change the architecture"):
        ae.set_params(hidden_layer_sizes=(5,)).fit(blobs)
    assert_array_equal(ae._params, params)


def test_fitted_model_ignores_later_set_params(blobs):
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), random_state=0, max_iter=5)
    ae.fit(blobs)
    codes, scores = ae.transform(blobs), ae.score_samples(blobs)
    decoded = ae.inverse_transform(codes)
    ae.set_params(activation="tanh", loss="binary_crossentropy")
    assert_array_equal(ae.transform(blobs), codes)
    assert_array_equal(ae.score_samples(blobs), scores)
    assert_array_equal(ae.inverse_transform(codes), decoded)
    # Saved and loaded, it still uses what it was fitted with.
    loaded = pickle.loads(pickle.dumps(ae))
    assert_array_equal(loaded.transform(blobs), codes)


@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("name, value", [("activation", "tanh"), ("loss", "binary_crossentropy")])
def test_continuing_refuses_another_activation_or_loss(blobs, method, name, value):
    X = (blobs - blobs.min()) / (blobs.max() - blobs.min())  # in [0, 1] for either loss
    ae = AutoencoderTransformer(2, max_iter=2, random_state=0, warm_start=True).fit(X)
    before = pickle.dumps(ae)
    old = ae.get_params()[name]
    ae.set_params(**{name: value})
    remedy = (
        "Refit with warm_start=False."
        if method == "warm_start"
        else "Call fit, or partial_fit on a new estimator, to train another."
    )
    message = f"The {name} {value!r} differs from the fitted {old!r}; {method} cannot change it. "
    message += remedy
    with pytest.raises(ValueError, match=re.escape(message)):
        ae.fit(X) if method == "warm_start" else ae.partial_fit(X)
    assert pickle.dumps(ae.set_params(**{name: old})) == before


def test_continuing_with_the_code_at_another_layer_names_the_architecture(blobs):
    # Same layer sizes, (6, 4, 4, 4, 6), but the code moves from layer 2 to layer 3.
    ae = AutoencoderTransformer(
        4, hidden_layer_sizes=(4,), decoder_layer_sizes=(4,), max_iter=2, warm_start=True
    ).fit(blobs)
    ae.set_params(hidden_layer_sizes=(4, 4), decoder_layer_sizes=())
    with pytest.raises(ValueError, match=re.escape(
        "(the code at layer 3) differ from the fitted ones (6, 4, 4, 4, 6) (the code at "
        "layer 2); warm_start cannot change the architecture (hidden_layer_sizes, "
        "n_components, decoder_layer_sizes)"
    )):
        ae.fit(blobs)


def test_partial_fit_lowers_loss(blobs):
    ae = AutoencoderTransformer(2, random_state=0)
    scores = []
    for _ in range(15):
        ae.partial_fit(blobs)
        scores.append(ae.score(blobs))
    assert ae.n_iter_ == 15 and ae.t_ == 15 * blobs.shape[0]
    assert scores[-1] > scores[0]
    assert np.mean(np.diff(scores) > 0) > 0.6


def test_partial_fit_in_batches_matches_data_stream(blobs, seed):
    # Four chunks through partial_fit are one pass over the stream: the same
    # updates as one epoch of fit with minibatches of one chunk, in order.
    # alpha="auto" follows the rows of each call: fix it to compare the updates.
    # One random start: partial_fit trains the first start's weights (n_init and init
    # are fit's).
    params = dict(n_components=2, random_state=seed, batch_size=30, shuffle=False, alpha=1e-3,
                  n_init=1, init="random")
    streamed = AutoencoderTransformer(**params)
    for chunk in np.array_split(blobs, 4):
        streamed.partial_fit(chunk)
    epoch = AutoencoderTransformer(**params, max_iter=1).fit(blobs)
    assert_allclose(streamed._params, epoch._params, rtol=1e-12, atol=1e-15)
    assert streamed.n_iter_ == 4 and epoch.n_iter_ == 1
    assert streamed.t_ == epoch.t_ == blobs.shape[0]
    assert len(streamed.loss_curve_) == 4
    assert_allclose(np.mean(streamed.loss_curve_), epoch.loss_curve_[0], rtol=1e-12)
    # And it learns: the held-out score rises well above that after one call.
    X_train, X_test = blobs[:90], blobs[90:]
    ae = AutoencoderTransformer(2, random_state=seed, batch_size=30, shuffle=False)
    first = ae.partial_fit(X_train[:30]).score(X_test)
    for _ in range(10):
        for chunk in np.array_split(X_train, 3):
            ae.partial_fit(chunk)
    assert ae.n_iter_ == 31
    assert ae.score(X_test) > first + 0.1 * abs(first)


def test_partial_fit_rejects_other_feature_count(blobs):
    ae = AutoencoderTransformer(2).partial_fit(blobs)
    with pytest.raises(ValueError, match="features"):
        ae.partial_fit(blobs[:, :4])


def test_int_random_state_is_bitwise_reproducible(blobs, seed):
    a = AutoencoderTransformer(2, random_state=seed, max_iter=10, early_stopping=True)
    b = AutoencoderTransformer(2, random_state=seed, max_iter=10, early_stopping=True)
    assert_array_equal(a.fit(blobs)._params, b.fit(blobs)._params)
    assert_array_equal(a.transform(blobs), b.transform(blobs))
    assert a.loss_curve_ == b.loss_curve_
    # A refit of the same object reproduces as well.
    assert_array_equal(a.fit(blobs).transform(blobs), b.transform(blobs))


def test_different_seeds_differ(blobs):
    a = AutoencoderTransformer(2, random_state=0, max_iter=3).fit(blobs)
    b = AutoencoderTransformer(2, random_state=1, max_iter=3).fit(blobs)
    assert not np.array_equal(a._params, b._params)


def test_float32_stays_float32(blobs):
    X32 = blobs.astype(np.float32)
    ae = AutoencoderTransformer(2, random_state=0, max_iter=5).fit(X32)
    assert ae._params.dtype == np.float32
    assert all(w.dtype == np.float32 for w in ae.coefs_ + ae.intercepts_)
    codes = ae.transform(X32)
    assert codes.dtype == np.float32
    assert ae.inverse_transform(codes).dtype == np.float32
    # float64 input to a float32 model gives float64 output
    assert ae.transform(blobs).dtype == np.float64
    # ints and bools are converted to float64
    ints = AutoencoderTransformer(2, max_iter=2).fit((blobs * 10).astype(int))
    assert ints._params.dtype == np.float64
    bools = AutoencoderTransformer(2, max_iter=2).fit(blobs > 0)
    assert bools.transform(blobs > 0).dtype == np.float64


def test_float32_fit_keeps_its_weights_out_of_the_subnormal_range(monkeypatch):
    """Dead units' weights decay geometrically; float32 reaches subnormals within a fit.

    Arithmetic on them is slow (a ReLU fit of digits in float32 took 2.4 times a
    float64 fit's time before Adam flushed them): the flush leaves at most the few that
    entered the range since the last one; without it, 7.5 % of these weights end
    subnormal. ReLU units, which die (ELU units keep a gradient).
    """
    X = StandardScaler().fit_transform(load_wine().data).astype(np.float32)

    def subnormal_fraction(model):
        w = np.concatenate([c.ravel() for c in model.coefs_])
        return np.mean((w != 0) & (np.abs(w) < np.finfo(np.float32).smallest_normal))

    flushed = AutoencoderTransformer(2, activation="relu", random_state=0).fit(X)
    monkeypatch.setattr(optim_module, "FLUSH_STEPS", 10**9)
    kept = AutoencoderTransformer(2, activation="relu", random_state=0).fit(X)
    assert subnormal_fraction(kept) > 0.02
    assert subnormal_fraction(flushed) < 0.002
    # The flushed values were too small to matter: the same fit, epoch for epoch.
    assert flushed.n_iter_ == kept.n_iter_
    assert_allclose(flushed.loss_curve_, kept.loss_curve_, rtol=1e-6)
    assert_allclose(flushed.transform(X), kept.transform(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_matches_dense(blobs, fmt):
    X = blobs.copy()
    X[np.abs(X) < 0.3] = 0.0
    Xs = sp.csr_matrix(X).asformat(fmt)
    dense = AutoencoderTransformer(2, random_state=0, max_iter=5).fit(X)
    sparse = AutoencoderTransformer(2, random_state=0, max_iter=5).fit(Xs)
    assert_array_equal(dense._params, sparse._params)
    assert_allclose(sparse.transform(Xs), dense.transform(X), rtol=1e-10, atol=1e-12)
    assert_allclose(sparse.score(Xs), dense.score(X), rtol=1e-10)
    assert_allclose(sparse.score_samples(Xs), dense.score_samples(X), rtol=1e-10)
    sparse.partial_fit(Xs)


def test_score_is_mean_of_score_samples(blobs):
    ae = AutoencoderTransformer(2, random_state=0, max_iter=5).fit(blobs)
    per_sample = ae.score_samples(blobs)
    assert per_sample.shape == (blobs.shape[0],)
    assert np.all(per_sample <= 0)
    assert_allclose(ae.score(blobs), per_sample.mean(), rtol=1e-12)
    rec = ae.inverse_transform(ae.transform(blobs))
    assert_allclose(per_sample, -((rec - blobs) ** 2).mean(axis=1), rtol=1e-10)
    w = np.random.RandomState(0).uniform(size=blobs.shape[0])
    assert_allclose(ae.score(blobs, sample_weight=w), np.average(per_sample, weights=w))


def test_score_samples_flags_anomalies(digits):
    X = digits[0]
    ae = AutoencoderTransformer(4, random_state=0, max_iter=30).fit(X[:1500])
    outliers = np.random.RandomState(0).normal(scale=3.0, size=(20, X.shape[1]))
    normal = ae.score_samples(X[1500:])
    odd = ae.score_samples(outliers)
    assert np.median(odd) < np.percentile(normal, 5)


@pytest.mark.parametrize(
    "estimator, params, sets_alpha",
    [(AutoencoderTransformer, {}, True),
     (AutoencoderTransformer, {"alpha": 1e-4}, False),
     (AutoencoderTransformer, {"loss": "binary_crossentropy"}, False),  # a fixed weight
     (VariationalAutoencoder, {}, False)],  # alpha is a number
)
def test_validating_on_trained_rows_mentions_alpha_where_validation_sets_it(
    blobs, estimator, params, sets_alpha
):
    X = np.clip((blobs + 1) / 2, 0, 1)  # in [0, 1], for the cross-entropy
    model = estimator(max_iter=2, early_stopping=True, warm_start=True, random_state=0,
                      **params).fit(X)
    model.set_params(validation_fraction=0.2)  # another split: trained rows held out
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(X)
    [message] = [str(w.message) for w in record if "Early stopping validates" in str(w.message)]
    assert ("(and sets alpha='auto')" in message) == sets_alpha


@pytest.mark.parametrize(
    "estimator, array_api",
    # The outlier detector has no Array API path.
    [(AutoencoderTransformer, False), (AutoencoderTransformer, True),
     (AutoencoderOutlierDetector, False)],
)
def test_weights_far_below_one_with_auto_alpha_warn(blobs, estimator, array_api):
    """alpha="auto" counts a weight of k as k rows: weights that sum to 1 make its
    penalty n_samples times that of unit weights, which flattens the network."""
    n = len(blobs)

    def warned(weights, **params):
        data = array_api_strict.asarray(blobs) if array_api else blobs
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with config_context(array_api_dispatch=array_api):
                estimator(max_iter=2, random_state=0, **params).fit(data, sample_weight=weights)
        return [str(w.message) for w in record if "sample_weight averages" in str(w.message)]

    [message] = warned(np.full(n, 1 / n))
    assert message.startswith(f"sample_weight averages {1 / n:.3g} over the {n} training rows")
    assert f"these weights make it {n:.3g} times that of unit weights" in message
    assert "Rescale sample_weight to average 1" in message
    assert warned(np.full(n, 1 / n), alpha=1e-4) == []  # a number is the caller's choice
    assert warned(np.full(n, 0.1)) == [] and warned(None) == []
    # The rows trained on count: weights of 0 leave rows out.
    mostly_zero = np.zeros(n)
    mostly_zero[:12] = 0.5  # averages 0.05 over all the rows, 0.5 over those
    assert warned(mostly_zero) == []


def test_sample_weight_zero_equals_dropping(blobs):
    w = np.ones(blobs.shape[0])
    w[::3] = 0
    params = dict(n_components=2, random_state=0, max_iter=5, batch_size=1000, shuffle=False)
    weighted = AutoencoderTransformer(**params).fit(blobs, sample_weight=w)
    dropped = AutoencoderTransformer(**params).fit(blobs[w > 0])
    assert_allclose(weighted.transform(blobs), dropped.transform(blobs), rtol=1e-9)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_zero_weight_rows_are_left_out_of_shuffled_minibatches(blobs, early_stopping):
    """A zero weight equals dropping the row, also a huge one (0 * inf was NaN)."""
    from skae import AutoencoderOutlierDetector, VariationalAutoencoder

    X = np.vstack([blobs, np.full((3, blobs.shape[1]), 1e200)])
    w = np.r_[np.where(np.arange(blobs.shape[0]) % 4 == 1, 0.0, 1.0), np.zeros(3)]
    w_before, X_before = w.copy(), X.copy()
    params = dict(hidden_layer_sizes=(8,), batch_size=16, max_iter=4, random_state=0)
    params["early_stopping"] = early_stopping
    for est in [AutoencoderTransformer(2, **params), VariationalAutoencoder(2, **params),
                AutoencoderOutlierDetector(n_components=2, **params)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            weighted = clone(est).fit(X, sample_weight=w)
            dropped = clone(est).fit(X[w > 0])
        assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-12)
        assert_allclose(weighted._params, dropped._params, rtol=1e-12, atol=1e-14)
        assert weighted.n_iter_ == dropped.n_iter_
    assert_array_equal(w, w_before) and assert_array_equal(X, X_before)


def test_sparse_positive_weights_with_shuffled_minibatches():
    # Most minibatches hold no positive weight at all.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    w = np.zeros(2000)
    w[rng.choice(2000, 20, replace=False)] = rng.uniform(0.5, 2.0, size=20)
    ae = AutoencoderTransformer(2, random_state=0, max_iter=5, batch_size=32)
    ae.fit(X, sample_weight=w)
    assert np.isfinite(ae._params).all()
    assert np.isfinite(ae.loss_curve_).all()
    assert np.isfinite(ae.transform(X)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_curve_is_the_weighted_objective(blobs, seed, dtype, monkeypatch):
    # Without updates, one epoch of shuffled minibatches evaluates the initial
    # model on every training row once: its loss_curve_ entry must be the
    # weighted mean error of that model, plus the L2 term.
    from skae._optim import Adam

    monkeypatch.setattr(Adam, "step", lambda self, grad: None)
    X = blobs.astype(dtype)
    w = np.random.default_rng(seed).uniform(0, 3, size=X.shape[0])
    w[::4] = 0
    alpha = 0.01
    ae = AutoencoderTransformer(2, random_state=seed, max_iter=1, batch_size=16, alpha=alpha)
    ae.fit(X, sample_weight=w)
    errors = -ae.score_samples(X.astype(np.float64))  # the initial model, unchanged
    penalty = 0.5 * alpha * sum(np.sum(W.astype(np.float64) ** 2) for W in ae.coefs_)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(ae.loss_curve_[0], np.average(errors, weights=w) + penalty, rtol=rtol)


def test_sample_weight_changes_fit(blobs):
    w = np.ones(blobs.shape[0])
    w[:10] = 50
    # One component cannot reconstruct everything: the weights decide what is kept.
    # The same penalty for both (alpha="auto" counts the weight), so that only the
    # weights differ.
    params = dict(random_state=0, max_iter=30, alpha=1.5e-3)
    a = AutoencoderTransformer(1, **params).fit(blobs)
    b = AutoencoderTransformer(1, **params).fit(blobs, sample_weight=w)
    # The heavily weighted rows are reconstructed better.
    assert b.score(blobs[:10]) > a.score(blobs[:10])


def test_binary_crossentropy(digits):
    X = (digits[0] > 0).astype(float)
    ae = AutoencoderTransformer(
        4, activation="logistic", loss="binary_crossentropy", random_state=0, max_iter=20
    ).fit(X)
    rec = ae.inverse_transform(ae.transform(X))
    assert rec.min() >= 0 and rec.max() <= 1
    eps = 1e-12
    bce = -(X * np.log(rec + eps) + (1 - X) * np.log(1 - rec + eps)).mean(axis=1)
    assert_allclose(-ae.score_samples(X), bce, rtol=1e-6, atol=1e-9)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_binary_crossentropy_warns_outside_unit_interval(blobs):
    ae = AutoencoderTransformer(loss="binary_crossentropy", max_iter=2)
    with pytest.warns(UserWarning, match=re.escape("expects data in [0, 1]")) as caught:
        ae.fit(blobs)
    assert 'use loss="squared_error"' in str(caught[0].message)
    # Continuing or predicting with the fitted model: its loss cannot change there.
    unit = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    ae = AutoencoderTransformer(loss="binary_crossentropy", max_iter=2, warm_start=True)
    ae.fit(unit)
    calls = [ae.partial_fit, ae.fit, ae.transform, ae.score_samples]
    for call in calls:
        with pytest.warns(UserWarning, match="this model was fitted with loss=.*Scale new "
                          "data as the training data were scaled") as caught:
            call(blobs)
        assert "use loss=" not in str(caught[0].message)


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(type(w.message), w.filename) for w in caught]


def test_fit_and_predict_or_transform_warn_once_from_the_callers_line(blobs):
    """fit_transform / fit_predict: one range warning (not fit's and inference's), here."""
    from skae import AutoencoderOutlierDetector

    params = dict(loss="binary_crossentropy", hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    expected = [(UserWarning, __file__), (ConvergenceWarning, __file__)]
    ae = AutoencoderTransformer(2, **params)
    assert _warnings_of(lambda: ae.fit_transform(blobs)) == expected
    assert _warnings_of(lambda: ae.transform(blobs)) == [(UserWarning, __file__)]
    detector = AutoencoderOutlierDetector(n_components=2, **params)
    assert _warnings_of(lambda: detector.fit_predict(blobs)) == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_array_equal(detector.fit_predict(blobs), detector.fit(blobs).predict(blobs))
    # Through a Pipeline too: the warnings point at this file, not at scikit-learn's.
    pipe = make_pipeline(FunctionTransformer(), AutoencoderTransformer(2, **params))
    assert _warnings_of(lambda: pipe.fit_transform(blobs)) == expected
    # And the range warning comes back for later calls.
    assert _warnings_of(lambda: pipe.transform(blobs)) == [(UserWarning, __file__)]
    # The VAE's fit_transform too.
    from skae import VariationalAutoencoder

    vae = VariationalAutoencoder(2, **params)
    assert _warnings_of(lambda: vae.fit_transform(blobs)) == expected


def test_warnings_point_here_through_joblib_run_pipeline_steps_and_cross_validation(blobs):
    """Pipelines fit their non-final steps, and cross_validate its folds, through joblib."""
    from sklearn.model_selection import cross_validate

    params = dict(loss="binary_crossentropy", hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    pipe = make_pipeline(AutoencoderTransformer(2, **params), FunctionTransformer())
    expected = [(UserWarning, __file__), (ConvergenceWarning, __file__)]
    assert _warnings_of(lambda: pipe.fit(blobs)) == expected
    caught = _warnings_of(lambda: cross_validate(AutoencoderTransformer(2, **params), blobs, cv=2))
    assert caught and {filename for _, filename in caught} == {__file__}


def test_fit_transform_passes_sample_weight_and_equals_fit_then_transform(blobs):
    weights = np.linspace(0.5, 2, blobs.shape[0])
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=5, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes = ae.fit_transform(blobs, sample_weight=weights)
        assert_array_equal(codes, clone(ae).fit(blobs, sample_weight=weights).transform(blobs))
        assert not np.array_equal(codes, clone(ae).fit_transform(blobs))


def test_convergence_warning_and_convergence(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match=r"maximum iterations \(3\) .* Raise "
                           r"max_iter, or go on training with warm_start=True"):
            AutoencoderTransformer(2, max_iter=3).fit(blobs)
        ae = AutoencoderTransformer(2, max_iter=1000, tol=1e-2, n_iter_no_change=3)
        ae.fit(blobs)  # converges: no warning
        assert ae.n_iter_ < 1000
        AutoencoderTransformer(2).partial_fit(blobs)  # partial_fit never warns


def test_verbose_prints_one_line_per_epoch(blobs, capsys):
    AutoencoderTransformer(2, max_iter=3, verbose=True, early_stopping=True, n_init=1).fit(blobs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"Epoch 1: loss = \S+, validation loss = \S+, \S+ s", lines[0])


def test_verbose_prints_every_start(blobs, capsys):
    AutoencoderTransformer(2, max_iter=12, verbose=True, n_init=2, tol=0.0).fit(blobs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Start 1 of 2:" and lines[11] == "Start 2 of 2:"
    assert lines[22] == "Going on from the best start, 10 epochs in:"
    epochs = [int(re.match(r"Epoch (\d+):", line)[1]) for line in lines if line[0] == "E"]
    assert epochs == 2 * list(range(1, 11)) + [11, 12]


def test_input_not_modified(blobs):
    X = blobs.copy()
    w = np.ones(X.shape[0])
    ae = AutoencoderTransformer(2, max_iter=2, early_stopping=True).fit(X, sample_weight=w)
    ae.partial_fit(X)
    ae.score_samples(X)
    ae.inverse_transform(ae.transform(X))
    assert_array_equal(X, blobs)
    assert_array_equal(w, 1)


def test_overcomplete_code_is_allowed(blobs):
    ae = AutoencoderTransformer(10, max_iter=3).fit(blobs)
    assert ae.transform(blobs).shape == (blobs.shape[0], 10)


def test_feature_names_out_and_pandas_output(blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(6)])
    ae = AutoencoderTransformer(3, max_iter=2).set_output(transform="pandas").fit(df)
    assert_array_equal(ae.feature_names_in_, df.columns)
    out = ae.transform(df)
    assert list(out.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert_array_equal(ae.get_feature_names_out(), out.columns)


def test_pipeline_and_grid_search_without_scoring():
    from skae.datasets import make_manifold_clusters

    X, _, _ = make_manifold_clusters(300, random_state=0)
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(random_state=0, max_iter=30))
    grid = GridSearchCV(pipe, {"autoencodertransformer__n_components": [1, 4]}, cv=2)
    grid.fit(X)
    # More components reconstruct better; the built-in score knows it.
    assert grid.best_params_ == {"autoencodertransformer__n_components": 4}
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(scores < 0) and scores[1] > scores[0]


def tiny(**params):
    defaults = dict(
        n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0, n_init=1,
        early_stopping=False,
    )
    return AutoencoderTransformer(**{**defaults, **params})


def test_a_zero_weight_row_whose_error_overflows_does_not_count_in_score():
    X = np.random.default_rng(0).normal(size=(40, 4))
    est = tiny().fit(X)
    huge = np.full((1, 4), 1e300)
    assert est.score_samples(huge)[0] == -np.inf
    # 0 · inf would be NaN: the zero-weight row must be left out, not multiplied.
    score = est.score(np.vstack([X[:1], huge]), sample_weight=[1.0, 0.0])
    assert score == pytest.approx(est.score(X[:1]))


def test_each_partial_fit_call_draws_fresh_noise(monkeypatch):
    # An int random_state seeds the whole sequence of calls, not each call afresh.
    import skae._data

    drawn = []
    corrupt = skae._data.Corruption.__call__

    def spy(self, clean):
        out = corrupt(self, clean)
        drawn.append(out - clean)
        return out

    monkeypatch.setattr(skae._data.Corruption, "__call__", spy)
    X = np.random.default_rng(0).normal(size=(16, 3))
    est = tiny(noise="gaussian", batch_size=16, shuffle=False)
    est.partial_fit(X)
    est.partial_fit(X)
    assert len(drawn) == 2
    assert not np.array_equal(drawn[0], drawn[1])


@pytest.mark.parametrize("estimator", ["transformer", "vae"])
def test_partial_fit_weights_are_relative_within_a_call(blobs, estimator):
    # As documented (and as MLPRegressor's weighted-mean minibatch losses): a call's
    # weights scaled by 100 train the same model; their ratios within the call do not.
    # (The transformer's alpha="auto" counts the total weight as rows: a number here.)
    from skae import VariationalAutoencoder

    cls = AutoencoderTransformer if estimator == "transformer" else VariationalAutoencoder

    def stream(scale, tilt=1.0):
        model = cls(n_components=2, hidden_layer_sizes=(8,), random_state=0, alpha=1e-3)
        weights = np.r_[np.full(60, tilt), np.ones(60)]
        model.partial_fit(blobs[:60])
        model.partial_fit(blobs[60:], sample_weight=np.full(60, scale))
        model.partial_fit(blobs, sample_weight=scale * weights)
        return model._params.copy()

    assert_array_equal(stream(100.0), stream(1.0))
    assert not np.array_equal(stream(1.0, tilt=5.0), stream(1.0))
