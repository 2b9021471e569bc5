"""VariationalAutoencoder as a user calls it: estimator checks, likelihood units, the KL term."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import VariationalAutoencoder
from skae._training import DivergenceError
from skae._variational import VariationalObjective

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CONFIGURATIONS = [
    VariationalAutoencoder(),
    VariationalAutoencoder(loss="binary_crossentropy", activation="tanh"),
    VariationalAutoencoder(
        hidden_layer_sizes=(8,), decoder_layer_sizes=(), beta=4.0, kl_warmup=5,
        early_stopping=True, n_importance_samples=3,
    ),
]

# A sample weight of k equals k repeated rows only if each row's randomness is drawn
# once per row: the posterior draws ε are drawn per row of each minibatch, so k repeated
# rows get k draws and a weighted row one. The objectives agree in expectation only.
_PER_ROW_NOISE = "per-row posterior draws: a weight of k is not k repeated rows exactly"


def expected_failures(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": _PER_ROW_NOISE,
        "check_sample_weight_equivalence_on_sparse_data": _PER_ROW_NOISE,
    }


@parametrize_with_checks(
    CONFIGURATIONS, expected_failed_checks=expected_failures, xfail_strict=True
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def small(**params):
    defaults = {"hidden_layer_sizes": (16,), "max_iter": 30, "random_state": 0}
    return VariationalAutoencoder(2, **{**defaults, **params})


# -- determinism -----------------------------------------------------------------------------
def test_int_seed_reproduces_bitwise(blobs):
    a, b = small().fit(blobs), small().fit(blobs)
    assert_array_equal(a._params, b._params)
    assert_array_equal(a.score_samples(blobs), b.score_samples(blobs))
    c = small(random_state=1).fit(blobs)
    assert not np.array_equal(a._params, c._params)


def test_transform_is_the_posterior_mean(blobs):
    vae = small().fit(blobs)
    codes = vae.transform(blobs)
    W, b = vae.encoder_coefs_, vae.encoder_intercepts_
    h = np.maximum(blobs @ W[0] + b[0], 0)
    assert_allclose(codes, (h @ W[1] + b[1])[:, :2], rtol=1e-12)
    assert_array_equal(vae.transform(blobs), codes)


def test_score_samples_are_deterministic_and_row_by_row(blobs, seed):
    vae = small(random_state=seed, n_importance_samples=7).fit(blobs)
    scores = vae.score_samples(blobs)
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    assert_array_equal(vae.score_samples(blobs), scores)
    order = np.random.default_rng(seed).permutation(len(blobs))
    assert_array_equal(vae.score_samples(blobs[order]), scores[order])
    assert_array_equal(vae.score_samples(blobs[5:9]), scores[5:9])
    assert_allclose(vae.score_samples(sp.csr_matrix(blobs)), scores, rtol=1e-12)
    assert vae.score(blobs) == pytest.approx(scores.mean())
    w = np.arange(len(blobs), dtype=float)
    assert vae.score(blobs, sample_weight=w) == pytest.approx(np.average(scores, weights=w))


def test_more_importance_samples_tighten_the_bound(blobs):
    vae = small(max_iter=60).fit(blobs)
    scores = []
    for k in (1, 10, 100):
        vae.set_params(n_importance_samples=k)  # read at scoring time: no refit
        scores.append(vae.score(blobs))
    assert scores[0] < scores[1] < scores[2], scores


@pytest.mark.parametrize("k", [0, -3, 2.5, "10"])
def test_an_invalid_number_of_importance_samples_set_after_fit_is_refused(blobs, k):
    from sklearn.utils._param_validation import InvalidParameterError

    vae = small(max_iter=3).fit(blobs)
    expected = vae.score_samples(blobs)
    vae.set_params(n_importance_samples=k)
    for method in (vae.score_samples, vae.score):
        with pytest.raises(InvalidParameterError, match="'n_importance_samples' parameter"):
            method(blobs)
    assert_array_equal(vae.set_params(n_importance_samples=10).score_samples(blobs), expected)


# -- units: nats per sample, like PCA.score --------------------------------------------------
def ppca_data(n, seed, d=6, k=2, noise=0.3):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(k, d))
    return rng.normal(size=(n, k)) @ W + noise * rng.normal(size=(n, d)) + 0.5


def test_exact_posterior_of_ppca_scores_exactly_pca(seed):
    """A linear VAE set by hand to PCA's maximum-likelihood model and its exact posterior.

    Then q(z|x) is the true posterior, every importance weight is p(x), and the
    estimator's score equals PCA's, sample by sample, to rounding: same units, same
    density, through the estimator's chunks, seeds and views.
    """
    data = ppca_data(800, seed)
    X, X_test = data[:500], data[500:]
    pca = PCA(2).fit(X)
    vae = VariationalAutoencoder(
        2, hidden_layer_sizes=(), decoder_layer_sizes=(), min_noise_variance=0.0,
        max_iter=1, random_state=seed,
    ).fit(X)
    sigma2, lam = pca.noise_variance_, pca.explained_variance_
    W = pca.components_.T * np.sqrt(lam - sigma2)
    (enc_W,), (enc_b,) = vae.encoder_coefs_, vae.encoder_intercepts_
    (dec_W,), (dec_b,) = vae.decoder_coefs_, vae.decoder_intercepts_
    dec_W[...], dec_b[...] = W.T, pca.mean_
    enc_W[:, :2] = W / lam
    enc_b[:2] = -pca.mean_ @ (W / lam)
    enc_W[:, 2:], enc_b[2:] = 0.0, np.log(sigma2 / lam)
    vae._model().log_noise_variance[...] = np.log(sigma2)
    vae._restore_views()
    vae._score_seed = 0
    assert_allclose(vae.noise_variance_, sigma2)
    for k in (1, 20):
        vae.set_params(n_importance_samples=k)
        assert_allclose(vae.score_samples(X_test), pca.score_samples(X_test), rtol=1e-9)
    # sample() draws from the model: its covariance is PCA's W Wᵀ + σ² I.
    samples = vae.sample(20000, random_state=seed)
    assert_allclose(np.cov(samples.T), pca.get_covariance(), atol=0.1)
    assert_allclose(samples.mean(axis=0), pca.mean_, atol=0.05)


def test_trained_linear_vae_scores_like_pca_on_ppca_data(seed):
    """Trained by SGD, a linear-Gaussian VAE reaches PPCA's held-out likelihood.

    Its model has one noise variance per feature (factor analysis) where PPCA has one,
    and its posterior family contains the true posterior, so the bound can be tight:
    the held-out scores agree within 0.1 nat per sample.
    """
    data = ppca_data(3000, seed)
    X, X_test = data[:2000], data[2000:]
    pca = PCA(2).fit(X)
    vae = VariationalAutoencoder(
        2, hidden_layer_sizes=(), decoder_layer_sizes=(), alpha=0.0, max_iter=150,
        learning_rate_init=1e-2, n_importance_samples=50, random_state=0,
        early_stopping=False,  # trained on the rows PCA is fitted on
    ).fit(X)
    gap = vae.score(X_test) - pca.score(X_test)
    assert abs(gap) < 0.1, gap
    assert_allclose(vae.noise_variance_, pca.noise_variance_, rtol=0.25)


def test_beats_pca_on_a_curved_manifold():
    from sklearn.preprocessing import StandardScaler

    from skae.datasets import make_manifold_clusters

    X, _, _ = make_manifold_clusters(1200, random_state=0)
    X = StandardScaler().fit_transform(X)
    X_train, X_test = X[:900], X[900:]
    vae = VariationalAutoencoder(
        2, hidden_layer_sizes=(32, 32), kl_warmup=10, max_iter=60, random_state=0
    ).fit(X_train)
    gain = vae.score(X_test) - PCA(2).fit(X_train).score(X_test)
    assert gain > 3.0, gain


# -- the KL term -----------------------------------------------------------------------------
def gaussian_kl_to_prior(Z):
    """KL(N(m, C) ‖ N(0, I)) of the Gaussian with the sample moments of ``Z``."""
    m, C = Z.mean(axis=0), np.cov(Z.T)
    return 0.5 * (np.trace(C) + m @ m - len(m) - np.linalg.slogdet(C)[1])


def test_larger_beta_pulls_the_codes_towards_the_prior(digits):
    """As beta grows the KL term shrinks and the aggregate posterior nears N(0, I)."""
    X = digits[0][:600]
    kls, distances = [], []
    for beta in (0.1, 1.0, 10.0):
        vae = VariationalAutoencoder(
            2, hidden_layer_sizes=(32,), beta=beta, max_iter=40, random_state=0
        ).fit(X)
        model = vae._model()
        mu, s = model.posterior(X)
        kls.append(np.mean(0.5 * (mu**2 + np.exp(s) - 1 - s).sum(axis=1)))
        eps = np.random.default_rng(0).standard_normal(mu.shape)
        Z = mu + np.exp(s / 2) * eps  # draws from the aggregate posterior
        distances.append(gaussian_kl_to_prior(Z))
        if beta == 10.0:
            assert np.abs(Z.mean(axis=0)).max() < 0.15
            assert_allclose(np.cov(Z.T), np.eye(2), atol=0.25)
    assert kls[0] > kls[1] > kls[2], kls
    assert distances[0] > distances[2] and distances[2] < 0.05, distances


def test_score_ignores_a_zero_weight_row_scoring_minus_infinity(blobs):
    """0 x (-inf) is NaN: a row of zero weight must not count at all."""
    vae = VariationalAutoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=5,
                                 random_state=0).fit(blobs)
    X = np.vstack([blobs[:3], np.full((1, blobs.shape[1]), 1e200)])
    with np.errstate(all="ignore"):
        scores = vae.score_samples(X)
        assert scores[-1] == -np.inf
        assert vae.score(X, sample_weight=[1, 1, 1, 0]) == pytest.approx(scores[:3].mean())


def test_kl_warmup_raises_the_weight_linearly_over_epochs(blobs, monkeypatch):
    seen = []
    original = VariationalObjective.loss_gradient

    def spy(self, inputs, targets, weights):
        seen.append(self.kl_weight)
        return original(self, inputs, targets, weights)

    monkeypatch.setattr(VariationalObjective, "loss_gradient", spy)
    vae = small(beta=2.0, kl_warmup=4, max_iter=6, batch_size=len(blobs)).fit(blobs)
    assert seen == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    # Continuing counts the epochs already run.
    seen.clear()
    vae = small(beta=2.0, kl_warmup=4, max_iter=2, batch_size=len(blobs)).fit(blobs)
    vae.set_params(warm_start=True).fit(blobs)
    vae.partial_fit(blobs)
    assert seen == [0.5, 1.0, 1.5, 2.0, 2.0]
    seen.clear()
    small(beta=2.0, max_iter=2, batch_size=len(blobs)).fit(blobs)
    assert seen == [2.0, 2.0]


def test_kl_warmup_does_not_stop_training_early(blobs):
    """The loss the stopping rule watches is the target objective, not the rising warm-up one."""
    vae = small(kl_warmup=60, max_iter=60, n_iter_no_change=5, tol=0.0).fit(blobs)
    assert vae.n_iter_ > 30


# -- failures and bad input ------------------------------------------------------------------
def test_divergence_raises_and_leaves_the_estimator_as_it_was(blobs):
    vae = small(max_iter=3).fit(blobs)
    before = vae._params.copy()
    with pytest.raises(DivergenceError, match="diverged"):
        vae.set_params(warm_start=True).fit(blobs * 1e200)
    assert_array_equal(vae._params, before)
    fresh = small(learning_rate_init=1e6, max_iter=50)
    with pytest.raises(ValueError, match="diverged"):
        fresh.fit(blobs * 1e6)
    assert not hasattr(fresh, "_params")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_last_step_that_overflows_the_noise_variance_is_a_divergence(dtype):
    """The weights can stay finite while exp(ρ) overflows, after the last step of a fit
    (no loss computed after it to show it): an error, not a model with an infinite
    noise variance whose score is -inf."""
    X = np.random.default_rng(0).standard_normal((20, 3)).astype(dtype)
    params = dict(hidden_layer_sizes=(), n_components=1, learning_rate_init=1000.0,
                  random_state=0)
    fresh = VariationalAutoencoder(max_iter=1, **params)
    with pytest.raises(DivergenceError, match=r"at epoch 1: the noise variance exp\(ρ\) "
                       r"overflowed\..*lower learning_rate_init"):
        fresh.fit(X)
    assert not hasattr(fresh, "_params")
    with pytest.raises(DivergenceError, match="noise variance"):
        VariationalAutoencoder(**params).partial_fit(X)
    fitted = VariationalAutoencoder(max_iter=1, **{**params, "learning_rate_init": 1e-3}).fit(X)
    fitted.set_params(learning_rate_init=1000.0)
    before = pickle.dumps(fitted)
    with pytest.raises(DivergenceError, match="noise variance"):
        fitted.partial_fit(X)
    assert pickle.dumps(fitted) == before
    assert np.isfinite(fitted.noise_variance_).all() and np.isfinite(fitted.score(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"beta": -1.0}, "beta"),
        ({"kl_warmup": -1}, "kl_warmup"),
        ({"n_importance_samples": 0}, "n_importance_samples"),
        ({"min_noise_variance": -1e-3}, "min_noise_variance"),
        ({"loss": "hinge"}, "loss"),
        ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ],
)
def test_bad_parameters_are_refused(blobs, params, match):
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        small(**params).fit(blobs)


def test_bad_calls_after_fitting(blobs):
    vae = small(max_iter=2).fit(blobs)
    with pytest.raises(ValueError, match="n_components = 2"):
        vae.inverse_transform(np.zeros((3, 5)))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            vae.sample(bad)
    with pytest.raises(ValueError, match="6 features"):
        vae.score_samples(blobs[:, :3])


@pytest.mark.parametrize(
    "change", [{"hidden_layer_sizes": (8,)}, {"loss": "binary_crossentropy"},
               {"min_noise_variance": 1e-3}, {"n_components": 3}]
)
def test_warm_start_refuses_another_model(blobs, change):
    vae = small(max_iter=2, warm_start=True).fit(np.clip(blobs, 0, 1))
    vae.set_params(**change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match="warm_start cannot change"):
            vae.fit(np.clip(blobs, 0, 1))


def test_fit_leaves_the_callers_data_alone(blobs):
    X, S = blobs.copy(), sp.csr_matrix(blobs)
    small(max_iter=2, early_stopping=True).fit(X)
    assert_array_equal(X, blobs)
    small(max_iter=2).fit(S)
    assert_array_equal(S.toarray(), blobs)


# -- the model's other methods ---------------------------------------------------------------
def test_sample_shapes_seeds_and_decoder_mean(blobs):
    vae = small(max_iter=5).fit(blobs)
    a = vae.sample(7, random_state=3)
    assert a.shape == (7, 6) and a.dtype == np.float64
    assert_array_equal(vae.sample(7, random_state=3), a)
    assert not np.array_equal(vae.sample(7), vae.sample(7))
    assert vae.sample(2, np.random.RandomState(0)).shape == (2, 6)
    means = vae.sample(7, random_state=3, decoder_mean=True)
    Z = np.random.default_rng(3).standard_normal((7, 2))
    assert_allclose(means, vae.inverse_transform(Z), rtol=1e-12)
    assert_allclose(a - means, 0, atol=6 * np.sqrt(vae.noise_variance_.max()))
    assert vae.sample().shape == (1, 6)
    for bad in ("a", -1):
        with pytest.raises(ValueError, match="random_state must be None, a non-negative int"):
            vae.sample(2, random_state=bad)


def test_bernoulli_decoder(blobs):
    X = (blobs > 0).astype(float)
    vae = small(loss="binary_crossentropy", max_iter=40).fit(X)
    assert vae.noise_variance_ is None
    rec = vae.inverse_transform(vae.transform(X))
    assert rec.min() >= 0 and rec.max() <= 1
    draws = vae.sample(50, random_state=0)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    scores = vae.score_samples(X)
    assert np.all(scores < 0)  # log-probabilities of binary vectors
    with pytest.warns(UserWarning, match="expects data in"):
        small(loss="binary_crossentropy", max_iter=2).fit(blobs * 3)


def test_scores_depend_on_the_values_not_their_dtype(blobs):
    """The importance draws are keyed by a row's values: float32 and float64 agree."""
    X = blobs.astype(np.float32)
    vae = VariationalAutoencoder(2, hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    vae.fit(X.astype(np.float64))
    narrow, wide = vae.score_samples(X), vae.score_samples(X.astype(np.float64))
    assert_allclose(narrow, wide, rtol=1e-5, atol=1e-5)
    assert_array_equal(np.argsort(narrow), np.argsort(wide))


def test_float32_in_float32_out(blobs):
    X = blobs.astype(np.float32)
    vae = small(max_iter=5).fit(X)
    assert vae._params.dtype == np.float32
    assert vae.transform(X).dtype == np.float32
    assert vae.inverse_transform(vae.transform(X)).dtype == np.float32
    assert vae.sample(3, random_state=0).dtype == np.float32
    assert np.isfinite(vae.score_samples(X)).all()


def test_pickle_round_trip_restores_views_and_scores(blobs):
    vae = small(max_iter=5).fit(blobs)
    params_before = vae._params.copy()
    loaded = pickle.loads(pickle.dumps(vae))
    assert hasattr(vae, "encoder_coefs_")  # the original is untouched
    assert_array_equal(vae._params, params_before)
    assert all(W.base is loaded._params for W in loaded.encoder_coefs_ + loaded.decoder_coefs_)
    assert_array_equal(loaded.score_samples(blobs), vae.score_samples(blobs))
    assert_array_equal(loaded.noise_variance_, vae.noise_variance_)
    # Derived, not a view of the parameters: an edit raises rather than changing nothing.
    for model in (vae, loaded):
        with pytest.raises(ValueError, match="read-only"):
            model.noise_variance_[0] = 100.0
    # _params and Adam's two moments (3 x nbytes) and a little else: views not pickled again.
    assert len(pickle.dumps(vae)) < 4 * vae._params.nbytes


def test_early_stopping_tracks_a_deterministic_validation_elbo(blobs):
    vae = small(early_stopping=True, max_iter=20, validation_fraction=0.3).fit(blobs)
    curve = vae.validation_loss_curve_
    assert len(curve) == vae.n_iter_ and np.isfinite(curve).all()
    assert vae.best_validation_loss_ == min(curve)


@pytest.mark.parametrize(
    "n_samples, early_stopping, held_out",
    [(199, "auto", False), (200, "auto", True), (400, False, False), (100, True, True)],
)
def test_auto_early_stopping_holds_rows_out_from_200_rows(n_samples, early_stopping,
                                                          held_out):
    X = np.random.default_rng(0).normal(size=(n_samples, 4))
    vae = small(max_iter=2, early_stopping=early_stopping).fit(X)
    assert (vae.validation_loss_curve_ is not None) == held_out
    assert (vae.best_validation_loss_ is not None) == held_out


def test_early_stopping_accepts_only_booleans_and_auto(blobs):
    with pytest.raises(InvalidParameterError, match="early_stopping"):
        small(early_stopping="sometimes").fit(blobs)


def test_default_fit_keeps_the_held_out_likelihood_of_a_small_table():
    """Trained on all 426 rows until the schedule ends, the VAE overfits breast cancer.

    Its noise variances shrink on the training rows; the default holds rows out and
    keeps the best validation epoch's weights, nats per sample better on unseen rows.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test = train_test_split(load_breast_cancer(return_X_y=True)[0],
                                       random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    default = VariationalAutoencoder(random_state=0).fit(X_train)
    all_rows = VariationalAutoencoder(random_state=0, early_stopping=False).fit(X_train)
    assert default.validation_loss_curve_ is not None
    assert default.n_iter_ < all_rows.n_iter_ < all_rows.max_iter
    assert default.score(X_test) > all_rows.score(X_test) + 2.0


def test_grid_search_needs_no_scoring(blobs):
    search = GridSearchCV(small(max_iter=10), {"beta": [0.5, 1.0]}, cv=2).fit(blobs)
    assert np.isfinite(search.best_score_)


def test_convergence_warning_and_names(blobs):
    with pytest.warns(ConvergenceWarning):
        vae = small(max_iter=2).fit(blobs)
    assert list(vae.get_feature_names_out()) == [
        "variationalautoencoder0", "variationalautoencoder1"
    ]


def test_callbacks_see_each_epoch_and_can_stop(blobs):
    from skae._callbacks import HAS_CALLBACKS

    if not HAS_CALLBACKS:
        pytest.skip("this scikit-learn has no callback API (sklearn.callback)")

    class Recorder:
        def __init__(self):
            self.snapshots = []

        def setup(self, estimator, context):
            pass

        def teardown(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context, **kwargs):
            pass

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
            if context.task_name == "epoch" and fitted_estimator is not None:
                self.snapshots.append(fitted_estimator)
                return len(self.snapshots) >= 3
            return False

    rec = Recorder()
    vae = small(max_iter=50).set_callbacks(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae.fit(blobs)
    assert vae.n_iter_ == 3 and [s.n_iter_ for s in rec.snapshots] == [1, 2, 3]
    assert_array_equal(rec.snapshots[-1].score_samples(blobs), vae.score_samples(blobs))
    assert rec.snapshots[0].noise_variance_ is not None


def test_sample_draws_from_a_random_state_instance(blobs):
    vae = small(max_iter=3).fit(blobs)
    a = vae.sample(3, random_state=np.random.RandomState(1))
    assert not np.array_equal(a, vae.sample(3, random_state=np.random.RandomState(2)))
    assert_array_equal(a, vae.sample(3, random_state=np.random.RandomState(1)))
    generator = np.random.RandomState(1)  # consumed: two calls draw differently
    assert not np.array_equal(
        vae.sample(3, random_state=generator), vae.sample(3, random_state=generator)
    )
    # None: NumPy's global random state, as in scikit-learn.
    state = check_random_state(None).get_state()
    try:
        check_random_state(None).seed(5)
        b = vae.sample(3)
        assert_array_equal(b, vae.sample(3, random_state=np.random.RandomState(5)))
        check_random_state(None).seed(5)
        assert_array_equal(vae.sample(3), b)
        assert not np.array_equal(vae.sample(3), b)
    finally:
        check_random_state(None).set_state(state)


def test_a_likelihood_that_overflows_either_way_scores_minus_infinity(blobs, monkeypatch):
    """NaN or +inf (a Bernoulli likelihood off [0, 1] is unbounded) overflowed: -inf."""
    vae = small().fit(blobs)
    original = VariationalObjective.log_likelihood_bound

    def bound(self, X, *args, **kwargs):
        out = original(self, X, *args, **kwargs)
        out[:2] = [np.inf, np.nan]
        return out

    monkeypatch.setattr(VariationalObjective, "log_likelihood_bound", bound)
    scores = vae.score_samples(blobs[:5])
    assert_array_equal(scores[:2], -np.inf)
    assert np.isfinite(scores[2:]).all()


# -- features far from unit scale --------------------------------------------------------------
UNSCALED = "far from unit scale"


def caught_warnings(fit):
    """Every warning ``fit()`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return caught


def unscaled_warnings(fit):
    """The messages of the far-from-unit-scale warnings that ``fit()`` gives."""
    return [str(w.message) for w in caught_warnings(fit) if UNSCALED in str(w.message)]


def test_fit_warns_of_features_far_from_unit_scale():
    """Raw iris (means up to 5.8): the noise variances start at 1, the biases near 0."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X = load_iris().data
    rms = np.sqrt(np.mean(X**2, axis=0))
    assert np.flatnonzero(rms > 3).tolist() == [0, 1, 2]  # petal width's is 1.4
    vae = VariationalAutoencoder(max_iter=2, random_state=0)
    (message,) = unscaled_warnings(lambda: vae.fit(X))
    assert message.startswith(
        f"Feature(s) 0, 1, 2 are far from unit scale (root mean square up to "
        f"{rms.max():.3g} over the training rows, above 3)."
    )
    assert "StandardScaler" in message
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=load_iris().feature_names)
    (message,) = unscaled_warnings(lambda: vae.fit(frame))
    assert message.startswith("Feature(s) sepal length (cm), sepal width (cm), petal length")
    # Standardized, or in [0, 1], or with the cross-entropy: no such warning.
    assert unscaled_warnings(lambda: vae.fit(StandardScaler().fit_transform(X))) == []
    assert unscaled_warnings(lambda: vae.fit(X / X.max(axis=0))) == []
    bernoulli = VariationalAutoencoder(loss="binary_crossentropy", max_iter=2)
    assert unscaled_warnings(lambda: bernoulli.fit(X)) == []


def test_unscaled_features_counted_over_observed_entries_of_weighted_training_rows(blobs):
    X = np.vstack([blobs, np.full((1, blobs.shape[1]), 1e4)])
    vae = VariationalAutoencoder(max_iter=2, random_state=0)
    (message,) = unscaled_warnings(lambda: vae.fit(X))
    assert message.startswith("Feature(s) 0, 1, 2, 3, 4 and 1 more are")
    weights = np.ones(len(X))
    weights[-1] = 0.0  # a row of weight 0 is not trained on
    assert unscaled_warnings(lambda: vae.fit(X, sample_weight=weights)) == []
    missing = X.copy()
    missing[-1, :] = np.nan  # nor are missing entries
    assert unscaled_warnings(lambda: vae.fit(missing)) == []
    missing[-1, 1] = 1e4
    (message,) = unscaled_warnings(lambda: vae.fit(missing))
    assert message.startswith("Feature(s) 1 are")
    # A feature observed in a tenth of the rows, at 5: its scale is that of those.
    sparse_feature = blobs.copy()
    sparse_feature[:, 0] = np.nan
    sparse_feature[::10, 0] = 5.0
    (message,) = unscaled_warnings(lambda: vae.fit(sparse_feature))
    assert message.startswith("Feature(s) 0 are far from unit scale (root mean square up to 5 ")
    # Weights as large as accepted do not overflow the squares' sum into a false warning.
    scaled, huge = 2.5 * blobs, np.full(len(blobs), 1e306)
    assert np.sqrt(np.mean(scaled**2, axis=0)).max() < 3
    with np.errstate(over="ignore"):
        assert np.isinf(huge @ scaled**2).any()  # as a plain weighted sum would
    caught = caught_warnings(lambda: vae.fit(scaled, sample_weight=huge))
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []
    assert [w for w in caught if UNSCALED in str(w.message)] == []
    # Sparse rows as dense ones.
    assert len(unscaled_warnings(lambda: vae.fit(sp.csr_matrix(X)))) == 1


def test_unscaled_features_warned_of_by_a_fresh_fit_only(blobs):
    from sklearn.base import clone

    X = blobs * 10
    vae = VariationalAutoencoder(max_iter=2, random_state=0)
    assert len(unscaled_warnings(lambda: vae.partial_fit(X))) == 1  # a first call
    assert unscaled_warnings(lambda: vae.partial_fit(X)) == []
    vae.set_params(warm_start=True)
    assert unscaled_warnings(lambda: vae.fit(X)) == []
    assert len(unscaled_warnings(lambda: clone(vae).fit(X))) == 1


@pytest.mark.parametrize("chunk", [7, 4096])
def test_root_mean_squares_read_in_chunks_equal_the_whole(blobs, chunk, monkeypatch):
    """Weighted over observed entries of the rows given, whatever the chunks' size."""
    import skae._estimator as estimator
    from skae._data import MissingEntries

    monkeypatch.setattr(estimator, "_VALIDATION_CHUNK", chunk)
    rng = np.random.default_rng(0)
    X = blobs * rng.uniform(0.5, 20, size=blobs.shape[1])
    X[rng.random(X.shape) < 0.2] = np.nan
    rows = np.sort(rng.choice(len(X), 90, replace=False))
    weights = rng.uniform(0, 3, size=len(X))
    observed = ~np.isnan(X[rows])
    w = weights[rows][:, None] * observed
    expected = np.sqrt((w * np.nan_to_num(X[rows]) ** 2).sum(axis=0) / w.sum(axis=0))
    found = estimator._column_root_mean_squares(X, rows, weights, MissingEntries(X.shape[1]))
    assert_allclose(found, expected, rtol=1e-12)


def test_a_warm_start_validates_with_the_draws_of_the_fit_it_continues():
    """The same held-out rows, weights and posterior draws give the same validation loss."""
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_breast_cancer().data)[:300]
    vae = VariationalAutoencoder(hidden_layer_sizes=(16,), max_iter=10, random_state=0).fit(X)
    assert vae.validation_loss_curve_ is not None  # 300 rows: some held out
    best, seed = vae.best_validation_loss_, vae._eval_seed
    # An epoch of steps of 1e-12 leaves the kept weights as they were, to rounding.
    vae.set_params(warm_start=True, max_iter=1, learning_rate_init=1e-12).fit(X)
    assert vae._eval_seed == seed
    assert vae.validation_loss_curve_[-1] == pytest.approx(best, rel=1e-9)
    # A partial_fit in between keeps them too, with or without warm_start.
    vae.set_params(warm_start=False).partial_fit(X)
    assert vae._eval_seed == seed
    vae.set_params(warm_start=True).fit(X)
    assert vae.validation_loss_curve_[-1] == pytest.approx(best, rel=1e-9)
    # A fresh fit draws its own.
    assert clone(vae).set_params(random_state=1).fit(X)._eval_seed != seed
    # A model without the seed (pickled before it was kept) draws anew: other noise.
    del vae._eval_seed
    vae.fit(X)
    assert vae._eval_seed != seed
    assert abs(vae.validation_loss_curve_[-1] - best) > 1e-3
