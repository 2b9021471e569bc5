"""The variants of AutoencoderTransformer: denoising, sparse codes, contraction, tied weights."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from skae import AutoencoderTransformer
from skae._data import BatchSource, Corruption

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small(**params):
    defaults = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    return AutoencoderTransformer(**{**defaults, **params})


# -- corruption ----------------------------------------------------------------------------
@pytest.fixture
def clean():
    return np.random.RandomState(0).normal(size=(4000, 5))


def test_gaussian_noise_has_the_requested_standard_deviation(clean):
    before = clean.copy()
    noisy = Corruption("gaussian", 0.3, np.random.default_rng(0))(clean)
    assert_array_equal(clean, before)  # the clean rows are never written
    assert_allclose(np.std(noisy - clean), 0.3, rtol=0.02)
    assert abs(np.mean(noisy - clean)) < 0.01


def test_masking_zeroes_the_requested_fraction(clean):
    noisy = Corruption("masking", 0.25, np.random.default_rng(0))(clean)
    changed = noisy != clean
    assert_allclose(changed.mean(), 0.25, atol=0.01)
    assert np.all(noisy[changed] == 0)


def test_salt_and_pepper_uses_each_features_extremes(clean):
    low, high = clean.min(axis=0), clean.max(axis=0)
    noisy = Corruption("salt_and_pepper", 0.2, np.random.default_rng(0), low, high)(clean)
    changed = noisy != clean
    assert_allclose(changed.mean(), 0.2, atol=0.01)
    rows, cols = np.nonzero(changed)
    values = noisy[rows, cols]
    assert np.all((values == low[cols]) | (values == high[cols]))
    # Salt and pepper in equal measure.
    assert_allclose(np.mean(values == high[cols]), 0.5, atol=0.03)


def test_corruption_is_drawn_afresh_for_every_minibatch(clean):
    corrupt = Corruption("masking", 0.5, np.random.default_rng(0))
    first = corrupt(clean[:100]).copy()
    second = corrupt(clean[:100])
    assert not np.array_equal(first, second)


def test_batch_source_targets_are_clean_and_inputs_corrupted(clean):
    corrupt = Corruption("gaussian", 0.5, np.random.default_rng(1))
    source = BatchSource(clean, np.arange(1000), None, 128, corruption=corrupt)
    seen = []
    for inputs, targets, weights in source.epoch(np.random.default_rng(0)):
        assert weights is None
        assert not np.array_equal(inputs, targets)
        assert_allclose(np.std(inputs - targets), 0.5, rtol=0.1)
        seen.append(targets.copy())
    # The targets are the training rows themselves, each once per epoch.
    assert_array_equal(np.sort(np.vstack(seen), axis=0), np.sort(clean[:1000], axis=0))


def test_sample_weights_are_normalised_over_the_training_set(clean):
    weights = np.random.RandomState(0).uniform(size=clean.shape[0])
    rows = np.arange(0, 4000, 2)
    source = BatchSource(clean, rows, weights, 100, shuffle=False)
    batches = [w for _, _, w in source.epoch(np.random.default_rng(0))]
    assert_allclose(np.concatenate(batches).mean(), 1.0)
    assert_allclose(np.concatenate(batches), weights[rows] / weights[rows].mean())


# -- denoising -----------------------------------------------------------------------------
@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_is_used_only_while_training(blobs, noise):
    ae = small(noise=noise, noise_level=0.3).fit(blobs)
    codes = ae.transform(blobs)
    # Deterministic, and exactly the encoder applied to the clean rows.
    assert_array_equal(ae.transform(blobs), codes)
    assert_array_equal(ae.score_samples(blobs), ae.score_samples(blobs))
    # The default ELU units, written out.
    A = blobs @ ae.coefs_[0] + ae.intercepts_[0]
    hidden = np.where(A > 0, A, np.expm1(np.minimum(A, 0)))
    assert_allclose(codes, hidden @ ae.coefs_[1] + ae.intercepts_[1], rtol=1e-10)
    rec = ae.inverse_transform(codes)
    assert_allclose(ae.score_samples(blobs), -((rec - blobs) ** 2).mean(axis=1), rtol=1e-10)


def test_noise_changes_training(blobs):
    plain = small().fit(blobs)
    noisy = small(noise="gaussian", noise_level=0.5).fit(blobs)
    assert not np.array_equal(plain._params, noisy._params)
    # noise_level=0 is no corruption at all.
    silent = small(noise="gaussian", noise_level=0.0).fit(blobs)
    assert_allclose(silent._params, plain._params, rtol=1e-12)


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_level_zero_holds_rows_out_as_the_plain_fit(noise):
    # From 200 rows on, early_stopping="auto" holds rows out for the plain model and
    # not for denoising; noise that corrupts nothing is the plain model.
    X = np.random.RandomState(0).normal(size=(240, 4))
    plain = small(max_iter=5).fit(X)
    silent = small(noise=noise, noise_level=0.0, max_iter=5).fit(X)
    assert plain.validation_loss_curve_ is not None
    assert_allclose(silent.validation_loss_curve_, plain.validation_loss_curve_, rtol=1e-12)
    assert_allclose(silent._params, plain._params, rtol=1e-12)
    noisy = small(noise=noise, noise_level=0.1, max_iter=5).fit(X)
    assert noisy.validation_loss_curve_ is None


def test_denoising_reconstructs_clean_rows_from_corrupted_ones_better(digits, seed):
    X = digits[0]
    train, test = X[:1400], X[1400:]
    corrupted = Corruption("masking", 0.3, np.random.default_rng(seed))(test).copy()
    params = dict(n_components=16, hidden_layer_sizes=(64,), max_iter=150, random_state=seed)
    plain = AutoencoderTransformer(**params).fit(train)
    dae = AutoencoderTransformer(noise="masking", noise_level=0.3, **params).fit(train)

    def error(model):
        return np.mean((model.inverse_transform(model.transform(corrupted)) - test) ** 2)

    assert error(dae) < 0.98 * error(plain)


def test_noise_level_must_be_a_fraction_for_masking(blobs):
    for noise in ("masking", "salt_and_pepper"):
        with pytest.raises(ValueError, match=r"noise_level .* must be in \[0, 1\], got 1.5"):
            small(noise=noise, noise_level=1.5).fit(blobs)
    small(noise="gaussian", noise_level=1.5, max_iter=2).fit(blobs)  # a standard deviation


def test_noise_on_sparse_input_matches_dense(blobs):
    X = np.where(np.abs(blobs) < 0.3, 0.0, blobs)
    params = dict(noise="salt_and_pepper", noise_level=0.2, max_iter=5)
    dense = small(**params).fit(X)
    sparse = small(**params).fit(sp.csr_matrix(X))
    assert_array_equal(dense._params, sparse._params)


def test_feature_bounds_of_wide_sparse_data_are_found_in_bounded_chunks():
    """10 rows of 2**22 features: a dense chunk of every row took 320 MiB at once."""
    import tracemalloc

    from skae._data import feature_bounds

    n = 2**22
    rng = np.random.default_rng(0)
    cols = rng.choice(n, 200, replace=False)
    values = rng.normal(size=200)
    values[0] = np.nan  # a stored NaN is a missing entry
    X = sp.csr_matrix((values, (np.arange(200) % 10, cols)), shape=(10, n))
    tracemalloc.start()
    try:
        lo, hi = feature_bounds(X, np.arange(10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20  # the two bounds (64 MiB) and a chunk or two
    dense_lo = np.minimum(np.nan_to_num(X.toarray(), nan=np.inf).min(axis=0), 0)
    assert_array_equal(lo[cols], dense_lo[cols])
    assert hi[cols].max() == np.nanmax(X.data) and lo[5] == hi[5] == 0


def test_salt_and_pepper_in_partial_fit_uses_the_range_of_all_the_data_seen(
    blobs, monkeypatch
):
    """Row by row, each call's range was its own row's: the noise changed nothing."""
    ranges, changed = [], []
    original = Corruption.__call__

    def spy(self, clean):
        noisy = original(self, clean)
        if self.kind == "salt_and_pepper":
            ranges.append((self.low.copy(), self.high.copy()))
            changed.append(float(np.abs(noisy - clean).max()))
        return noisy

    monkeypatch.setattr(Corruption, "__call__", spy)
    X = blobs[:30]
    ae = small(noise="salt_and_pepper", noise_level=0.5)
    for i, row in enumerate(X):
        ae.partial_fit(row[None])
        assert_array_equal(ae._noise_bounds[0], X[: i + 1].min(axis=0))
        assert_array_equal(ae._noise_bounds[1], X[: i + 1].max(axis=0))
    assert_array_equal(ranges[-1][0], X.min(axis=0))
    assert_array_equal(ranges[-1][1], X.max(axis=0))
    assert max(changed) > 0.5  # the corruption moved entries
    # A fit starts afresh (from its own rows), and partial_fit widens what fit saw.
    ae.fit(X[:10])
    assert_array_equal(ae._noise_bounds[1], X[:10].max(axis=0))
    ae.partial_fit(X[10:])
    assert_array_equal(ae._noise_bounds[1], X.max(axis=0))
    assert small(noise="gaussian").partial_fit(X)._noise_bounds is None
    # A call with other noise (or none) keeps the bounds for the next one.
    ae.set_params(noise="gaussian").partial_fit(X[:1])
    ae.set_params(noise=None).partial_fit(X[:1])
    ae.set_params(noise="salt_and_pepper").partial_fit(X[:1])
    assert_array_equal(ae._noise_bounds[0], X.min(axis=0))
    assert_array_equal(ae._noise_bounds[1], X.max(axis=0))


# -- penalties -----------------------------------------------------------------------------
def test_sparsity_makes_codes_sparser(digits, seed):
    X = digits[0][:600]
    params = dict(n_components=16, hidden_layer_sizes=(32,), max_iter=60, random_state=seed)
    plain = AutoencoderTransformer(**params).fit(X)
    sparse = AutoencoderTransformer(sparsity=0.2, **params).fit(X)

    def l1_over_l2(codes):
        return np.mean(np.abs(codes).sum(axis=1) / np.linalg.norm(codes, axis=1))

    assert l1_over_l2(sparse.transform(X)) < 0.8 * l1_over_l2(plain.transform(X))


def jacobian_norm(ae, X, h=1e-5):
    total = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = h
        total += (((ae.transform(X + e) - ae.transform(X - e)) / (2 * h)) ** 2).sum(axis=1)
    return total.mean()


def test_contraction_lowers_the_encoders_jacobian(blobs, seed):
    params = dict(n_components=2, hidden_layer_sizes=(16,), activation="tanh", max_iter=100)
    plain = AutoencoderTransformer(random_state=seed, **params).fit(blobs)
    contractive = AutoencoderTransformer(contraction=0.1, random_state=seed, **params).fit(blobs)
    assert jacobian_norm(contractive, blobs) < 0.7 * jacobian_norm(plain, blobs)


# -- tied weights --------------------------------------------------------------------------
def test_tied_weights_halve_the_weights_and_share_memory(blobs):
    ae = small(hidden_layer_sizes=(8, 4), tied_weights=True).fit(blobs)
    untied = small(hidden_layer_sizes=(8, 4)).fit(blobs)
    n_weights = sum(W.size for W in untied.coefs_)
    assert ae._params.size == untied._params.size - n_weights // 2
    assert [W.shape for W in ae.coefs_] == [W.shape for W in untied.coefs_]
    L = len(ae.coefs_)
    for k in range(L // 2, L):
        assert_array_equal(ae.coefs_[k], ae.coefs_[L - 1 - k].T)
        assert np.shares_memory(ae.coefs_[k], ae._params)
    # Biases are the decoder's own.
    assert not any(np.shares_memory(b, c) for b in ae.intercepts_ for c in ae.coefs_)
    # After a pickle round trip the decoder matrices are views of the encoder's again,
    # and the live model keeps its own.
    loaded = pickle.loads(pickle.dumps(ae))
    assert np.shares_memory(loaded.coefs_[-1], loaded.coefs_[0])
    assert np.shares_memory(ae.coefs_[-1], ae._params)
    assert_array_equal(loaded.transform(blobs), ae.transform(blobs))
    assert_array_equal(copy.deepcopy(ae).transform(blobs), ae.transform(blobs))


def test_tied_weights_need_a_mirrored_decoder(blobs):
    ae = small(decoder_layer_sizes=(5,), tied_weights=True)
    with pytest.raises(ValueError, match=r"needs a mirrored decoder: .* reversed, \(8,\)"):
        ae.fit(blobs)
    assert not hasattr(ae, "coefs_")
    # The mirror spelled out is the mirror: the same model as the default decoder.
    params = dict(hidden_layer_sizes=(8, 4), tied_weights=True, max_iter=3)
    spelled = small(decoder_layer_sizes=[4, 8], **params).fit(blobs)
    assert_array_equal(spelled._params, small(**params).fit(blobs)._params)
    with pytest.raises(ValueError, match="needs a mirrored decoder"):
        small(decoder_layer_sizes=(8, 4), **params).fit(blobs)


@pytest.mark.parametrize(
    "change",
    [{"tied_weights": True}, {"activation": "tanh"}, {"loss": "binary_crossentropy"}],
    ids=["tied_weights", "activation", "loss"],
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_refuses_another_network(blobs, change, how):
    ae = small(max_iter=3).fit(blobs)
    before = pickle.dumps(ae)
    codes = ae.transform(blobs)
    ae.set_params(**change)
    key = next(iter(change))
    with pytest.raises(ValueError, match=f"The {key} .* differs .* cannot change it"):
        if how == "warm_start":
            ae.set_params(warm_start=True).fit(blobs)
        else:
            ae.partial_fit(blobs)
    # The fitted model is untouched and still uses what it was fitted with.
    ae.set_params(warm_start=False, **{key: small().get_params()[key]})
    assert pickle.dumps(ae) == before
    assert_array_equal(ae.transform(blobs), codes)


def test_fitted_model_ignores_later_parameter_changes(blobs):
    ae = small(max_iter=3).fit(blobs)
    codes, scores = ae.transform(blobs), ae.score_samples(blobs)
    ae.set_params(activation="tanh", loss="binary_crossentropy", tied_weights=True)
    assert_array_equal(ae.transform(blobs), codes)
    assert_array_equal(ae.score_samples(blobs), scores)


# -- together ------------------------------------------------------------------------------
ALL_ON = dict(
    hidden_layer_sizes=(8, 4),
    activation="softplus",
    noise="masking",
    noise_level=0.2,
    sparsity=1e-3,
    contraction=1e-2,
    tied_weights=True,
    early_stopping=True,
)


def test_options_combine_and_reproduce(blobs, seed):
    a = small(random_state=seed, **ALL_ON).fit(blobs)
    b = small(random_state=seed, **ALL_ON).fit(blobs)
    assert_array_equal(a._params, b._params)
    assert a.loss_curve_ == b.loss_curve_
    assert np.all(np.isfinite(a._params)) and np.isfinite(a.score(blobs))
    assert a.loss_curve_[-1] < a.loss_curve_[0]
    w = np.random.RandomState(seed).uniform(size=blobs.shape[0])
    c = small(random_state=seed, **ALL_ON).fit(blobs, sample_weight=w)
    assert np.isfinite(c.score(blobs, sample_weight=w))


def test_variants_in_float32(blobs):
    ae = small(**ALL_ON).fit(blobs.astype(np.float32))
    assert ae._params.dtype == np.float32
    assert ae.transform(blobs.astype(np.float32)).dtype == np.float32


def test_variant_divergence_is_reported(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="diverged"):
            small(contraction=1.0, noise="gaussian", max_iter=5).fit(blobs * 1e200)


def test_a_warm_started_fit_takes_its_own_datas_salt_and_pepper_extremes():
    # fit (unlike partial_fit) starts the range afresh: salt and pepper are the new
    # data's extremes, not the union with the previous fit's.
    rng = np.random.default_rng(0)
    wide, narrow = rng.uniform(-10, 10, size=(50, 3)), rng.uniform(-1, 1, size=(50, 3))
    est = small(noise="salt_and_pepper", warm_start=True, max_iter=2, n_init=1)
    est.fit(wide).fit(narrow)
    low, high = est._noise_bounds
    assert_array_equal(low, narrow.min(axis=0))
    assert_array_equal(high, narrow.max(axis=0))


def test_partial_fit_keeps_the_extremes_of_a_feature_missing_from_a_later_call():
    rng = np.random.default_rng(0)
    first, second = rng.uniform(-3, 3, size=(20, 3)), rng.uniform(-1, 1, size=(20, 3))
    second[:, 0] = np.nan
    est = small(noise="salt_and_pepper")
    est.partial_fit(first)
    est.partial_fit(second)
    low, high = est._noise_bounds
    assert (low[0], high[0]) == (first[:, 0].min(), first[:, 0].max())
    assert low[1] == min(first[:, 1].min(), second[:, 1].min())
