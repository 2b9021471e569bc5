"""The NumPy core on its own: gradients, Adam, and the linear autoencoder/PCA relation."""

import math
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae._activations import ACTIVATIONS, DERIVATIVES
from skae._losses import LOSSES
from skae._network import Network
from skae._optim import Adam

ARCHITECTURES = {
    "shallow": ((5, 3, 5), 1),
    "one-hidden": ((5, 4, 2, 4, 5), 2),
    "deep": ((6, 7, 5, 3, 2, 3, 5, 7, 6), 4),
    "asymmetric": ((5, 6, 2, 3, 4, 5), 2),
}


def objective(network, X, sample_weight, alpha):
    ws = network.workspace(X.shape[0])
    ws.inputs[...] = X
    return network.loss_gradient(ws, sample_weight, alpha)


def numerical_gradient(network, X, sample_weight, alpha, h=1e-6):
    params = network.params
    grad = np.empty_like(params)
    for j in range(params.size):
        saved = params[j]
        params[j] = saved + h
        plus = objective(network, X, sample_weight, alpha)
        params[j] = saved - h
        minus = objective(network, X, sample_weight, alpha)
        params[j] = saved
        grad[j] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(arch, activation, loss, alpha, weighted):
    sizes, n_enc = ARCHITECTURES[arch]
    rng = np.random.RandomState(zlib.crc32(f"{arch}-{activation}-{loss}".encode()))
    network = Network(sizes, n_enc, activation, loss)
    network.initialize(np.random.default_rng(rng.randint(2**31)))
    # Non-zero biases keep pre-activations away from ReLU's kink at exactly 0.
    for b in network.intercepts:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    X = rng.uniform(size=(7, sizes[0])) if loss == "binary_crossentropy" else rng.normal(
        size=(7, sizes[0])
    )
    sw = rng.uniform(0.2, 3.0, size=7) if weighted else None
    objective(network, X, sw, alpha)
    analytic = network.grad.copy()
    numeric = numerical_gradient(network, X, sw, alpha)
    assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_batch_objective_is_weighted_error_sum_over_rows_plus_penalty(loss):
    # sum_i w_i e_i / n: the training loop scales w to average 1 over the
    # training set, so this estimates the weighted mean without a 0/0.
    rng = np.random.RandomState(0)
    network = Network((4, 3, 4), 1, "tanh", loss)
    network.initialize(np.random.default_rng(0))
    X = rng.uniform(size=(9, 4))
    sw = rng.uniform(size=9)
    per_sample = network.sample_errors(X)
    W = network.params[: network.n_weights]
    penalty = 0.5 * 0.2 * W @ W
    assert_allclose(objective(network, X, sw, 0.2), sw @ per_sample / 9 + penalty, rtol=1e-12)
    assert_allclose(objective(network, X, None, 0.2), per_sample.mean() + penalty, rtol=1e-12)
    zero = objective(network, X, np.zeros(9), 0.2)
    assert_allclose(zero, penalty, rtol=1e-12)
    assert_allclose(network.grad[: network.n_weights], 0.2 * W, rtol=1e-12)
    assert not network.grad[network.n_weights :].any()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_in_terms_of_output(name):
    a = np.linspace(-4, 4, 101)
    a = a[np.abs(a) > 1e-3]  # away from ReLU kinks
    h = 1e-6
    plus, minus, z = a + h, a - h, a.copy()
    for arr in (plus, minus, z):
        ACTIVATIONS[name](arr)
    delta = np.ones_like(a)
    DERIVATIVES[name](z, delta)
    assert_allclose(delta, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["tanh", "logistic", "softplus", "elu"])
def test_saturating_activations_do_not_overflow(name):
    X = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ACTIVATIONS[name](X)
    assert np.all(np.isfinite(X))


def test_cross_entropy_is_stable_for_extreme_logits():
    R = np.array([[-1e4, 1e4, 0.0, 700.0]])
    X = np.array([[1.0, 0.0, 0.5, 1.0]])
    _, samples, _ = LOSSES["binary_crossentropy"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = samples(R, X)
    assert_allclose(value, [(1e4 + 1e4 + math.log(2) + 0.0) / 4])


def test_adam_step_matches_formula():
    rng = np.random.RandomState(0)
    theta = rng.normal(size=10)
    opt = Adam(theta, learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    expected = theta.copy()
    m = np.zeros(10)
    v = np.zeros(10)
    for t in range(1, 4):
        g = rng.normal(size=10)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g**2
        lr_t = 0.01 * math.sqrt(1 - 0.99**t) / (1 - 0.8**t)
        expected = expected - lr_t * m / (np.sqrt(v) + 1e-3)
        opt.step(g)
        assert_allclose(theta, expected, rtol=1e-13, atol=1e-15)
    assert opt.t == 3
    state = opt.state()
    assert_allclose(state["m"], m, rtol=1e-13)
    assert_allclose(state["v"], v, rtol=1e-13)
    assert state["t"] == 3


def test_adam_resumes_from_state():
    rng = np.random.RandomState(1)
    grads = rng.normal(size=(6, 5))
    a = np.zeros(5)
    opt_a = Adam(a, learning_rate=0.1)
    for g in grads:
        opt_a.step(g)
    b = np.zeros(5)
    opt_b = Adam(b, learning_rate=0.1)
    for g in grads[:3]:
        opt_b.step(g)
    opt_c = Adam(b, learning_rate=0.1, state=opt_b.state())
    for g in grads[3:]:
        opt_c.step(g)
    assert_allclose(a, b, rtol=1e-14)


def test_adam_converges_on_convex_quadratic():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(8, 8))
    H = A @ A.T + np.eye(8)
    c = rng.normal(size=8)
    theta = np.zeros(8)
    opt = Adam(theta, learning_rate=0.05)
    for _ in range(5000):
        opt.step(H @ (theta - c))
    assert_allclose(theta, c, atol=1e-4)


def test_network_views_share_one_buffer():
    network = Network((4, 3, 2, 3, 4), 2, "relu", "squared_error")
    assert network.n_weights == 4 * 3 + 3 * 2 + 2 * 3 + 3 * 4
    for i, W in enumerate(network.coefs):
        W[...] = i + 1
    for b in network.intercepts:
        b[...] = -1
    assert np.all(network.params[: network.n_weights] > 0)
    assert np.all(network.params[network.n_weights :] == -1)


@pytest.fixture(scope="module")
def low_rank_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 8)) * [3, 2.5, 2, 1.5, 1, 1, 1, 1]
    X += 0.3 * rng.normal(size=X.shape)
    return X - X.mean(axis=0)


@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_linear_autoencoder_reaches_but_never_beats_pca(low_rank_data, n_components):
    X = low_rank_data
    pca = PCA(n_components).fit(X)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    ae = AutoencoderTransformer(
        n_components,
        hidden_layer_sizes=(),
        activation="identity",
        learning_rate_init=0.03,
        max_iter=2000,
        tol=0.0,
        n_iter_no_change=2000,
        batch_size=300,
        random_state=0,
    )
    with pytest.warns(Warning):  # ConvergenceWarning: tol=0 never stops early
        ae.fit(X)
    ae_error = -ae.score(X)
    assert ae_error >= pca_error * (1 - 1e-9)
    assert ae_error <= pca_error * 1.001
    # The decoder spans PCA's principal subspace.
    angles = subspace_angles(ae.coefs_[1].T, pca.components_.T)
    assert np.max(angles) < 0.05
