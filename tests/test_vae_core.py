"""The variational model and objective on their own: every term's gradient and value, the bound."""

import math
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from skae._model import Network
from skae._variational import (
    LOG_VARIANCE_RANGE,
    VariationalModel,
    VariationalObjective,
    keyed_normals,
    row_hashes,
)

ARCHITECTURES = {
    "linear": ((), ()),
    "one-hidden": ((4,), (3,)),
    "deep": ((5, 4), (4, 5)),
}

#: name -> (beta, alpha): the objective's terms, checked one at a time, then together.
TERMS = {
    "reconstruction": (0.0, 0.0),
    "kl": (1.0, 0.0),
    "beta": (3.0, 0.0),
    "l2": (0.0, 0.4),
    "all": (2.0, 0.4),
}
N_FEATURES, N_COMPONENTS, N_ROWS = 5, 2, 6


def make_model(arch, activation, loss, rng, dtype=np.float64):
    encoder, decoder = ARCHITECTURES[arch]
    model = VariationalModel(
        N_FEATURES, encoder, N_COMPONENTS, decoder, activation, loss,
        min_noise_variance=0.05, dtype=dtype,
    )
    model.initialize(rng)
    # Non-zero biases and noise variances other than 1: every path of the gradient matters.
    for network in (model.encoder, model.decoder):
        for b in network.intercepts:
            b[...] = rng.normal(scale=0.3, size=b.shape)
    if model.log_noise_variance is not None:
        model.log_noise_variance[...] = rng.normal(scale=0.5, size=N_FEATURES)
    return model


def make_data(loss, rng, n=N_ROWS):
    if loss == "binary_crossentropy":
        return rng.uniform(size=(n, N_FEATURES))
    return rng.normal(size=(n, N_FEATURES))


def evaluate(objective, X, weights, noise_seed=7):
    """The objective with the reparameterisation noise held fixed (same seed every call)."""
    objective.rng = np.random.default_rng(noise_seed)
    return objective.loss_gradient(X, X, weights)


def numerical_gradient(objective, X, weights, h=1e-6):
    params = objective.network.params
    grad = np.empty_like(params)
    for j in range(params.size):
        saved = params[j]
        params[j] = saved + h
        plus = evaluate(objective, X, weights)
        params[j] = saved - h
        minus = evaluate(objective, X, weights)
        params[j] = saved
        grad[j] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", "logistic"])
@pytest.mark.parametrize("loss", ["squared_error", "binary_crossentropy"])
@pytest.mark.parametrize("term", list(TERMS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gradient_matches_finite_differences(arch, activation, loss, term, weighted):
    rng = np.random.RandomState(zlib.crc32(f"{arch}-{activation}-{loss}-{term}".encode()))
    model = make_model(arch, activation, loss, rng)
    beta, alpha = TERMS[term]
    objective = VariationalObjective(model, beta=beta, alpha=alpha)
    X = make_data(loss, rng)
    weights = rng.uniform(0.2, 3.0, size=N_ROWS) if weighted else None
    evaluate(objective, X, weights)
    analytic = model.grad.copy()
    numeric = numerical_gradient(objective, X, weights)
    assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_clamped_log_variance_passes_no_gradient():
    """Outside [-30, 20] the log-variance head is clamped: its raw outputs get no gradient."""
    rng = np.random.RandomState(0)
    model = make_model("linear", "relu", "squared_error", rng)
    X = make_data("squared_error", rng)
    W, b = model.encoder.coefs[-1], model.encoder.intercepts[-1]
    b[N_COMPONENTS] = 50.0  # first log-variance unit far above the range
    b[N_COMPONENTS + 1] = -50.0  # second far below
    W[:, N_COMPONENTS:] = 0.0
    objective = VariationalObjective(model)
    value = evaluate(objective, X, None)
    assert np.isfinite(value)
    grad_W = model.encoder.coef_grads[-1]
    grad_b = model.encoder.intercept_grads[-1]
    assert np.all(grad_W[:, N_COMPONENTS:] == 0) and np.all(grad_b[N_COMPONENTS:] == 0)
    assert np.any(grad_b[:N_COMPONENTS] != 0)  # the means still learn
    # σ = exp(10) makes the loss ~1e9: finite differences are only good to ~1e-5 there.
    numeric = numerical_gradient(objective, X, None, h=1e-5)
    assert_allclose(model.grad, numeric, rtol=1e-4, atol=1e-6)
    mu, s = model.posterior(X)
    assert_allclose(s, np.broadcast_to(LOG_VARIANCE_RANGE[::-1], s.shape))


def test_objective_terms_have_their_documented_values():
    """The minibatch value, term by term, from the formulas of the module docstring."""
    rng = np.random.RandomState(1)
    model = make_model("one-hidden", "tanh", "squared_error", rng)
    X = make_data("squared_error", rng)
    w = rng.uniform(0.5, 2.0, size=N_ROWS)
    beta, alpha = 1.7, 0.3
    objective = VariationalObjective(model, beta=beta, alpha=alpha)
    value = evaluate(objective, X, w)

    eps = np.random.default_rng(7).standard_normal((N_ROWS, N_COMPONENTS))
    out = model.encoder.raw_output(X)
    mu, s = out[:, :N_COMPONENTS], out[:, N_COMPONENTS:]
    z = mu + np.exp(s / 2) * eps
    R = model.decoder.raw_output(z)
    v = 0.05 + np.exp(model.log_noise_variance)
    nll = 0.5 * (np.log(2 * np.pi * v) + (X - R) ** 2 / v).sum(axis=1)
    kl = 0.5 * (mu**2 + np.exp(s) - 1 - s).sum(axis=1)
    l2 = sum((W**2).sum() for W in model.encoder.coefs + model.decoder.coefs)
    expected = np.mean(w * (nll + beta * kl)) + alpha / 2 * l2
    assert_allclose(value, expected, rtol=1e-12)
    # Against scipy's Gaussian log-density: the reconstruction term is a density in nats.
    from scipy.stats import norm

    assert_allclose(-nll, norm.logpdf(X, R, np.sqrt(v)).sum(axis=1), rtol=1e-12)


def test_bernoulli_term_is_the_log_probability_of_binary_data():
    rng = np.random.RandomState(2)
    model = make_model("one-hidden", "relu", "binary_crossentropy", rng)
    X = (rng.uniform(size=(N_ROWS, N_FEATURES)) < 0.4).astype(float)
    R = rng.normal(size=X.shape) * 3
    p = 1 / (1 + np.exp(-R))
    expected = -(X * np.log(p) + (1 - X) * np.log(1 - p)).sum(axis=1)
    assert_allclose(model.reconstruction_nll(R, X), expected, rtol=1e-10)
    assert model.noise_variance() is None


def test_kl_warmup_weight_changes_the_gradient_not_the_value():
    """``kl_weight`` scales the KL term's gradient; the value reports the target ``beta``."""
    rng = np.random.RandomState(3)
    model = make_model("one-hidden", "tanh", "squared_error", rng)
    X = make_data("squared_error", rng)
    objective = VariationalObjective(model, beta=2.0)
    full = evaluate(objective, X, None)
    full_grad = model.grad.copy()
    objective.kl_weight = 0.5
    warm = evaluate(objective, X, None)
    assert warm == full
    warm_grad = model.grad.copy()
    # The gradient at kl_weight 0.5 is that of the objective with beta 0.5.
    reference = VariationalObjective(model, beta=0.5)
    evaluate(reference, X, None)
    assert_allclose(warm_grad, model.grad, rtol=1e-12, atol=1e-15)
    assert not np.allclose(warm_grad, full_grad)


def test_zero_weight_minibatch_gives_zero_loss_and_data_gradient():
    rng = np.random.RandomState(4)
    model = make_model("one-hidden", "relu", "squared_error", rng)
    X = make_data("squared_error", rng)
    objective = VariationalObjective(model, rng=np.random.default_rng(0))
    value = objective.loss_gradient(X, X, np.zeros(N_ROWS))
    assert value == 0.0
    assert np.all(model.grad == 0)


def test_float32_training_step_stays_float32():
    rng = np.random.RandomState(5)
    model = make_model("deep", "relu", "squared_error", rng, dtype=np.float32)
    X = make_data("squared_error", rng).astype(np.float32)
    objective = VariationalObjective(model, rng=np.random.default_rng(0))
    value = objective.loss_gradient(X, X, None)
    assert np.isfinite(value) and model.grad.dtype == np.float32
    assert np.isfinite(model.grad).all()


def test_network_uses_a_given_gradient_buffer():
    """``Network(grad=...)`` writes its gradient into the given view; default unchanged."""
    sizes = (4, 3, 2, 3, 4)
    plain = Network(sizes, 2, "tanh")
    size = plain.params.size
    flat_params, flat_grad = np.zeros(size + 3), np.zeros(size + 3)
    shared = Network(sizes, 2, "tanh", params=flat_params[3:], grad=flat_grad[3:])
    assert shared.grad.base is flat_grad
    rng = np.random.default_rng(0)
    plain.initialize(rng)
    shared.params[...] = plain.params
    X = rng.normal(size=(5, 4))
    for network in (plain, shared):
        ws = network.workspace(5)
        ws.bind_inputs(X)
        network.forward(ws)
        ws.activations[-1][...] = X
        network.backward(ws)
    assert_allclose(flat_grad[3:], plain.grad)
    assert np.all(flat_grad[:3] == 0)
    with pytest.raises(ValueError, match="grad must have shape"):
        Network(sizes, 2, "tanh", grad=np.zeros(size + 1))


def test_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    for sizes in [(3, 4), (3, 5, 4), (2, 5, 3, 4)]:
        network = Network(sizes, len(sizes) - 1, "tanh")
        network.initialize(rng)
        Z = rng.normal(size=(4, sizes[0]))
        target = rng.normal(size=(4, sizes[-1]))

        def loss(Z, network=network, target=target):
            return 0.5 * ((network.raw_output(Z) - target) ** 2).sum()

        ws = network.workspace(4)
        ws.bind_inputs(Z)
        network.forward(ws)
        ws.activations[-1] -= target
        network.backward(ws)
        got = network.input_gradient(ws, np.empty_like(Z))
        numeric = np.empty_like(Z)
        for idx in np.ndindex(Z.shape):
            E = np.zeros_like(Z)
            E[idx] = 1e-6
            numeric[idx] = (loss(Z + E) - loss(Z - E)) / 2e-6
        assert_allclose(got, numeric, rtol=1e-6, atol=1e-9)


# -- keyed draws and the bound ---------------------------------------------------------------
def test_keyed_normals_depend_on_the_row_only(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 4))
    order = rng.permutation(50)
    a = keyed_normals(row_hashes(X, 3), 2, 5)
    b = keyed_normals(row_hashes(X[order], 3), 2, 5)
    assert_allclose(a[order], b, rtol=0, atol=0)
    assert_allclose(keyed_normals(row_hashes(X[:7], 3), 2, 5), a[:7], rtol=0, atol=0)
    assert not np.allclose(a, keyed_normals(row_hashes(X, 4), 2, 5))  # another seed
    assert not np.allclose(a, keyed_normals(row_hashes(X, 3), 3, 5))  # another draw


def test_keyed_normals_are_standard_normal_and_uncorrelated():
    X = np.arange(40000, dtype=float).reshape(-1, 2)
    eps = np.concatenate([keyed_normals(row_hashes(X, 0), t, 3) for t in range(2)], axis=1)
    assert abs(eps.mean()) < 0.02
    assert abs(eps.std() - 1) < 0.02
    corr = np.corrcoef(eps.T)
    assert np.abs(corr - np.eye(6)).max() < 0.04
    from scipy.stats import kstest

    assert kstest(eps.ravel(), "norm").pvalue > 1e-3


def _ppca_vae(rng, d=5, k=2, n=400):
    """A linear-Gaussian VAE set by hand to probabilistic PCA's solution, exact posterior."""
    from sklearn.decomposition import PCA

    latent = rng.normal(size=(n, k))
    X = latent @ rng.normal(size=(k, d)) * 2 + 0.5 * rng.normal(size=(n, d)) + 1.0
    pca = PCA(k).fit(X)
    sigma2 = pca.noise_variance_
    lam = pca.explained_variance_
    W = pca.components_.T * np.sqrt(lam - sigma2)  # (d, k): PPCA's maximum likelihood W
    model = VariationalModel(d, (), k, (), "identity", "squared_error", min_noise_variance=0.0)
    # Decoder x = W z + mean; posterior N(M⁻¹ Wᵀ (x - mean), σ² M⁻¹), M = WᵀW + σ² I = diag(λ).
    model.decoder.coefs[0][...] = W.T
    model.decoder.intercepts[0][...] = pca.mean_
    model.log_noise_variance[...] = np.log(sigma2)
    A = W / lam  # encoder weights of μ
    model.encoder.coefs[0][:, :k] = A
    model.encoder.intercepts[0][:k] = -pca.mean_ @ A
    model.encoder.coefs[0][:, k:] = 0.0
    model.encoder.intercepts[0][k:] = np.log(sigma2 / lam)
    return model, pca, X


@pytest.mark.parametrize("n_samples", [1, 5, 100])
def test_bound_is_exact_with_the_exact_posterior_of_ppca(seed, n_samples):
    """Units: with q(z|x) the true posterior, every bound equals PCA's log-likelihood."""
    model, pca, X = _ppca_vae(np.random.default_rng(seed))
    bound = VariationalObjective(model).log_likelihood_bound(X, n_samples, seed=0)
    assert_allclose(bound, pca.score_samples(X), rtol=1e-9)


def test_bound_tightens_with_more_samples_and_k1_is_the_elbo():
    rng = np.random.RandomState(6)
    model = make_model("one-hidden", "tanh", "squared_error", rng)
    X = make_data("squared_error", rng, n=300)
    objective = VariationalObjective(model)
    # One draw: an estimate of the ELBO, whose closed-form-KL estimate has the same mean.
    elbo = objective.log_likelihood_bound(X, 1, seed=1)
    eps = keyed_normals(row_hashes(X, 1), 0, N_COMPONENTS)
    nll, kl = objective.elbo_terms(X, eps)
    closed_form = -(nll + kl)
    assert abs(elbo.mean() - closed_form.mean()) < 3 * (elbo - closed_form).std() / np.sqrt(300)
    means = [objective.log_likelihood_bound(X, k, seed=1).mean() for k in (1, 4, 32, 256)]
    assert np.all(np.diff(means) > 0), means
    # The bound with K draws is log-mean-exp of the log importance weights.
    mu, s = model.posterior(X)
    hashes = row_hashes(X, 1)
    log_u = []
    for t in range(4):
        e = keyed_normals(hashes, t, N_COMPONENTS)
        z = mu + np.exp(s / 2) * e
        log_p = (
            -model.reconstruction_nll(model.decoder.raw_output(z), X)
            - 0.5 * (z**2 + math.log(2 * math.pi)).sum(axis=1)
        )
        log_q = -0.5 * (e**2 + s + math.log(2 * math.pi)).sum(axis=1)
        log_u.append(log_p - log_q)
    expected = logsumexp(np.array(log_u), axis=0) - math.log(4)
    assert_allclose(objective.log_likelihood_bound(X, 4, seed=1), expected, rtol=1e-12)


def test_validation_errors_are_fixed_for_a_fit():
    rng = np.random.RandomState(7)
    model = make_model("one-hidden", "relu", "squared_error", rng)
    X = make_data("squared_error", rng, n=40)
    objective = VariationalObjective(model, beta=2.0, eval_seed=11)
    first = objective.sample_errors(X)
    assert_allclose(objective.sample_errors(X), first, rtol=0, atol=0)
    assert_allclose(objective.sample_errors(X[::-1]), first[::-1], rtol=0, atol=0)
    eps = keyed_normals(row_hashes(X, 11), 0, N_COMPONENTS)
    nll, kl = objective.elbo_terms(X, eps)
    assert_allclose(first, nll + 2.0 * kl, rtol=1e-12)
