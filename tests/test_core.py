"""The NumPy core on its own: every term's gradient, Adam, the linear autoencoder and PCA."""

import math
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae._activations import ACTIVATIONS, DERIVATIVES, SECOND_DERIVATIVES
from skae._model import Network
from skae._objectives import LOSSES, Objective
from skae._optim import Adam

ARCHITECTURES = {
    "shallow": ((5, 3, 5), 1),
    "one-hidden": ((5, 4, 2, 4, 5), 2),
    "deep": ((6, 7, 5, 3, 2, 3, 5, 7, 6), 4),
    "asymmetric": ((5, 6, 2, 3, 4, 5), 2),
}

#: Objective terms checked by finite differences: (alpha, sparsity, contraction).
TERMS = {
    "reconstruction": (0.0, 0.0, 0.0),
    "l2": (0.3, 0.0, 0.0),
    "sparsity": (0.0, 0.2, 0.0),
    "contraction": (0.0, 0.0, 0.5),
    "all": (0.3, 0.2, 0.5),
}


def make_network(arch, activation, tied, rng):
    sizes, n_enc = ARCHITECTURES[arch]
    network = Network(sizes, n_enc, activation, tied=tied)
    network.initialize(rng)
    # Non-zero biases keep pre-activations away from ReLU's kink at exactly 0.
    for b in network.intercepts:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    return network


def evaluate(objective, inputs, targets, weights, probe_seed=7):
    """The objective with the contraction probes held fixed (same seed every call)."""
    objective.rng = np.random.default_rng(probe_seed)
    return objective.loss_gradient(inputs, targets, weights)


def numerical_gradient(objective, inputs, targets, weights, h=1e-6):
    params = objective.network.params
    grad = np.empty_like(params)
    for j in range(params.size):
        saved = params[j]
        params[j] = saved + h
        plus = evaluate(objective, inputs, targets, weights)
        params[j] = saved - h
        minus = evaluate(objective, inputs, targets, weights)
        params[j] = saved
        grad[j] = (plus - minus) / (2 * h)
    return grad


CASES = [
    (arch, tied)
    for arch in ARCHITECTURES
    for tied in (False, True)
    if not (tied and arch == "asymmetric")
]


@pytest.mark.parametrize("arch, tied", CASES, ids=[f"{a}-tied" if t else a for a, t in CASES])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("term", list(TERMS))
def test_gradient_matches_finite_differences(arch, tied, activation, loss, term):
    rng = np.random.RandomState(zlib.crc32(f"{arch}-{tied}-{activation}-{loss}-{term}".encode()))
    network = make_network(arch, activation, tied, rng)
    alpha, sparsity, contraction = TERMS[term]
    objective = Objective(
        network, loss, alpha=alpha, sparsity=sparsity, contraction=contraction,
        rng=np.random.default_rng(0),
    )
    d = network.layer_sizes[0]
    if loss == "binary_crossentropy":
        targets = rng.uniform(size=(7, d))
    else:
        targets = rng.normal(size=(7, d))
    # "all" also checks sample weights and an input other than the target (denoising).
    weights = rng.uniform(0.2, 3.0, size=7) if term == "all" else None
    inputs = targets + 0.3 * rng.normal(size=targets.shape) if term == "all" else targets
    evaluate(objective, inputs, targets, weights)
    analytic = network.grad.copy()
    numeric = numerical_gradient(objective, inputs, targets, weights)
    assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_objective_terms_have_their_documented_values():
    rng = np.random.RandomState(0)
    network = make_network("one-hidden", "tanh", False, rng)
    X = rng.normal(size=(9, 5))
    w = rng.uniform(size=9)
    w_norm = w / w.mean()  # weights as the batch source hands them over
    errors = Objective(network, "squared_error").sample_errors(X)
    codes = network.encode(X)
    W = network.params[network.weight_slice]
    plain = Objective(network, "squared_error").loss_gradient(X, X, w_norm)
    assert_allclose(plain, np.mean(w_norm * errors), rtol=1e-12)
    assert_allclose(plain, np.average(errors, weights=w), rtol=1e-12)
    l2 = Objective(network, "squared_error", alpha=0.2).loss_gradient(X, X, w_norm)
    assert_allclose(l2 - plain, 0.1 * W @ W, rtol=1e-12)
    sparse = Objective(network, "squared_error", sparsity=0.3).loss_gradient(X, X, w_norm)
    assert_allclose(sparse - plain, 0.3 * np.mean(w_norm * np.abs(codes).sum(axis=1)))


def encoder_jacobian_norms(network, X, h=1e-6):
    """‖∂code/∂x‖²_F per row, by central differences of the encoder."""
    norms = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = h
        column = (network.encode(X + e) - network.encode(X - e)) / (2 * h)
        norms += (column**2).sum(axis=1)
    return norms


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
@pytest.mark.parametrize("arch", ["shallow", "deep"])
def test_contraction_estimates_the_jacobian_norm_without_bias(activation, arch):
    rng = np.random.RandomState(1)
    network = make_network(arch, activation, False, rng)
    X = rng.normal(size=(4, network.layer_sizes[0]))
    exact = encoder_jacobian_norms(network, X).mean()
    plain = Objective(network, "squared_error").loss_gradient(X, X, None)
    objective = Objective(network, "squared_error", contraction=1.0,
                          rng=np.random.default_rng(0))
    # Averaged over many probes, the one-probe estimate converges to ‖J‖²_F.
    estimates = [objective.loss_gradient(X, X, None) - plain for _ in range(4000)]
    assert_allclose(np.mean(estimates), exact, rtol=0.05)
    # One probe is noisy: a test that could not tell the estimate from the exact value
    # would check nothing.
    assert np.std(estimates) > 0.05 * exact


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_contraction_with_the_mask_as_inputs_probes_the_data_inputs_only(activation):
    """‖∂code/∂x‖²_F, not the derivative with respect to the 0/1 mask columns too."""
    rng = np.random.RandomState(3)
    n = 4
    network = Network((2 * n, 6, 2, 6, n), 2, activation)
    network.initialize(rng)
    for b in network.intercepts:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    X = np.hstack([rng.normal(size=(5, n)), rng.randint(0, 2, size=(5, n))])
    targets = X[:, :n].copy()
    norms = np.zeros(X.shape[0])
    for j in range(n):  # central differences along the data inputs
        e = np.zeros(2 * n)
        e[j] = 1e-6
        column = (network.encode(X + e) - network.encode(X - e)) / 2e-6
        norms += (column**2).sum(axis=1)
    with_mask = encoder_jacobian_norms(network, X).mean()
    assert with_mask > 1.2 * norms.mean()  # the test tells the two apart
    plain = Objective(network, "squared_error").loss_gradient(X, targets, None)
    objective = Objective(network, "squared_error", contraction=1.0,
                          rng=np.random.default_rng(0))
    estimates = [objective.loss_gradient(X, targets, None) - plain for _ in range(4000)]
    assert_allclose(np.mean(estimates), norms.mean(), rtol=0.05)


def test_contraction_of_a_linear_encoder_is_weight_decay_on_it():
    rng = np.random.RandomState(2)
    network = make_network("shallow", "identity", False, rng)
    X = rng.normal(size=(6, 5))
    exact = encoder_jacobian_norms(network, X)
    assert_allclose(exact, np.sum(network.coefs[0] ** 2), rtol=1e-8)


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


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_second_derivative_in_terms_of_output(name):
    a = np.linspace(-4, 4, 101)
    a = a[np.abs(a) > 1e-2]
    h = 1e-5

    def first(x):
        z = x.copy()
        ACTIVATIONS[name](z)
        delta = np.ones_like(z)
        DERIVATIVES[name](z, delta)
        return delta

    numeric = (first(a + h) - first(a - h)) / (2 * h)
    z = a.copy()
    ACTIVATIONS[name](z)
    second = SECOND_DERIVATIVES[name]
    if second is None:
        assert_allclose(numeric, 0.0, atol=1e-8)
    else:
        out = np.empty_like(z)
        second(z, out)
        assert_allclose(out, numeric, rtol=1e-5, atol=1e-7)


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


def test_zero_weight_minibatch_gives_zero_loss_and_gradient():
    rng = np.random.RandomState(0)
    network = make_network("one-hidden", "relu", False, rng)
    X = rng.normal(size=(8, 5))
    value = Objective(network, "squared_error", sparsity=0.1).loss_gradient(X, X, np.zeros(8))
    assert value == 0.0
    assert np.all(network.grad == 0)


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



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("engine", ["numpy", "array_api"])
def test_adam_with_zero_decay_keeps_the_last_gradient_and_its_square(dtype, engine):
    """beta_1 = beta_2 = 0 (allowed): m = g and v = g**2, so each step is lr * sign(g).

    A moment updated by its change, m + (1-β)(g - m), loses a gradient much smaller
    than the moment when β = 0 (g - m rounds to -m): v became 0 and the step lr/ε.
    """
    grads = np.array([[1.0, -3.0], [1e-4, 2e-5], [-1e-6, 5.0]], dtype=dtype)
    theta = np.zeros(2, dtype=dtype)
    if engine == "numpy":
        opt = Adam(theta, learning_rate=1e-3, beta_1=0.0, beta_2=0.0)
    else:
        xp = pytest.importorskip("array_api_strict", reason="the Array API test extra")
        from skae._xp_engine import ArrayAdam

        opt = ArrayAdam(xp, xp.asarray(theta), 1e-3, 0.0, 0.0, 1e-8)
    for g in grads:
        before = np.array(opt.params if engine == "numpy" else np.asarray(opt.params))
        opt.step(g if engine == "numpy" else xp.asarray(g))
        m, v = (np.asarray(opt.m), np.asarray(opt.v))
        assert_array_equal(m, g)
        assert_array_equal(v, g * g)
        after = np.asarray(opt.params)
        assert_allclose(before - after, 1e-3 * np.sign(g) * np.abs(g) / (np.abs(g) + 1e-8),
                        rtol=1e-3 if dtype == np.float32 else 1e-9)


def adam_namespace(engine):
    """None for NumPy's Adam, else the namespace of the Array API engine's ``ArrayAdam``
    (the test is skipped without its extra)."""
    if engine == "numpy":
        return None
    if engine == "array_api":
        return pytest.importorskip("array_api_strict", reason="the Array API test extra")
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed (the CPU build is enough)"
    )
    from skae._xp import array_namespace

    return array_namespace(torch.zeros(1))[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("engine", ["numpy", "array_api", "torch"])
def test_adam_flushes_subnormal_entries_and_leaves_the_others_bit_for_bit(
    dtype, engine, monkeypatch
):
    """At each FLUSH_STEPS-th step, and only then, subnormal entries become 0.

    A weight and its first moment whose gradient stays 0 decay into the subnormal
    range, where a CPU's arithmetic is slow. ``v`` is flushed only where ``m`` is 0,
    where the step is 0 whatever ``v`` is. The reference is the same optimizer with
    the flush postponed beyond the test.
    """
    import skae._optim as optim_module

    tiny = np.finfo(dtype).smallest_normal
    # Entries 0-1 carry gradients; 2-6 have none, and start subnormal or decay into it;
    # entry 6 keeps a normal m over a subnormal v.
    theta = np.array([0.5, -1.0, tiny / 4, -tiny / 2, 3.0, tiny * 0.9, 0.25], dtype=dtype)
    state = {
        "m": np.array([0.1, 0.0, tiny / 8, 0.0, tiny * 4, -tiny / 3, 0.1], dtype=dtype),
        "v": np.array([0.2, 0.1, tiny / 2, 1e-3, tiny * 1.5, 0.0, tiny / 2], dtype=dtype),
        "t": 3,
    }
    grads = np.zeros((optim_module.FLUSH_STEPS, theta.size), dtype=dtype)
    grads[:, :2] = np.random.RandomState(0).standard_normal((optim_module.FLUSH_STEPS, 2))
    xp = adam_namespace(engine)
    if xp is None:

        def make():
            return Adam(theta.copy(), learning_rate=1e-3, state=state)
    else:
        from skae._xp_engine import ArrayAdam

        def make():
            return ArrayAdam(
                xp, xp.asarray(theta), 1e-3, 0.9, 0.999, 1e-8,
                state={k: (xp.asarray(a) if k != "t" else a) for k, a in state.items()},
            )

    def run(opt, steps):
        for g in grads[:steps]:
            opt.step(g if xp is None else xp.asarray(g))
        return [np.asarray(a) for a in (opt.params, opt.m, opt.v)]

    def subnormal(a):
        return (a != 0) & (np.abs(a) < tiny)

    # The first flush is at the step that is a multiple of FLUSH_STEPS (t starts at 3).
    steps = optim_module.FLUSH_STEPS - 3
    early, flushed = run(make(), steps - 1), run(make(), steps)
    # Both engines read the constant at each step.
    monkeypatch.setattr(optim_module, "FLUSH_STEPS", 10**9)
    early_reference, reference = run(make(), steps - 1), run(make(), steps)
    for got, want in zip(early, early_reference, strict=True):
        assert_array_equal(got, want)  # nothing flushed before the step
    assert all(subnormal(a).any() for a in early)
    assert all(subnormal(a).any() for a in reference)
    (params, m, v), (want_params, want_m, want_v) = flushed, reference
    for got, want in ((params, want_params), (m, want_m)):
        assert got.dtype == dtype
        assert not subnormal(got).any()
        assert_array_equal(got[~subnormal(want)], want[~subnormal(want)])
        assert np.all(got[subnormal(want)] == 0)
    assert_array_equal(v, np.where(subnormal(want_v) & (m == 0), 0, want_v))
    assert subnormal(v[6]) and v[6] == want_v[6]  # kept under a normal m


@pytest.mark.parametrize("engine", ["numpy", "array_api", "torch"])
def test_adam_warms_its_rate_up_linearly_over_warmup_steps(engine):
    """Step ``t`` of a warm-up over ``W`` steps moves each weight ``t / W`` as far as
    the same step without one (the moments do not depend on the rate), from step ``W``
    on as far; resumed from its state, it goes on where it was."""
    rng = np.random.RandomState(0)
    grads = rng.normal(size=(7, 5))
    theta = rng.normal(size=5)
    xp = adam_namespace(engine)
    if xp is None:

        def make(warmup_steps, params=None, state=None):
            params = theta.copy() if params is None else params.copy()
            return Adam(params, learning_rate=0.01, warmup_steps=warmup_steps, state=state)
    else:
        from skae._xp_engine import ArrayAdam

        def make(warmup_steps, params=None, state=None):
            params = xp.asarray(theta) if params is None else params
            return ArrayAdam(xp, params, 0.01, 0.9, 0.999, 1e-8, state=state,
                             warmup_steps=warmup_steps)

    def moves(opt, gradients):
        out = []
        for g in gradients:
            before = np.array(np.asarray(opt.params))
            opt.step(g if xp is None else xp.asarray(g))
            out.append(np.asarray(opt.params) - before)
        return np.array(out)

    plain, warm = moves(make(0), grads), moves(make(4), grads)
    factors = np.minimum(1.0, np.arange(1, 8) / 4)[:, None]
    assert_allclose(warm, plain * factors, rtol=1e-12, atol=1e-15)
    assert not np.allclose(warm[:3], plain[:3])
    # Resumed after two steps: steps 3-7 as one run's.
    first = make(4)
    moves(first, grads[:2])
    resumed = make(4, params=first.params, state=first.state())
    assert_allclose(moves(resumed, grads[2:]), warm[2:], rtol=1e-12, atol=1e-15)


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
    network = Network((4, 3, 2, 3, 4), 2, "relu")
    assert network.n_weights == 4 * 3 + 3 * 2 + 2 * 3 + 3 * 4
    for i, W in enumerate(network.coefs):
        W[...] = i + 1
    for b in network.intercepts:
        b[...] = -1
    assert np.all(network.params[network.weight_slice] > 0)
    assert np.all(network.params[network.weight_slice.stop :] == -1)


def test_tied_network_stores_half_the_weights_as_transposed_views():
    plain = Network((6, 4, 2, 4, 6), 2, "relu")
    tied = Network((6, 4, 2, 4, 6), 2, "relu", tied=True)
    assert tied.n_weights * 2 == plain.n_weights
    assert tied.params.size == plain.params.size - plain.n_weights // 2
    for k, j in [(2, 1), (3, 0)]:
        assert tied.coefs[k].shape == plain.coefs[k].shape
        assert np.shares_memory(tied.coefs[k], tied.coefs[j])
        tied.coefs[j][...] = np.arange(tied.coefs[j].size).reshape(tied.coefs[j].shape)
        assert_allclose(tied.coefs[k], tied.coefs[j].T)
    with pytest.raises(ValueError, match="mirrored decoder"):
        Network((6, 4, 2, 3, 6), 2, "relu", tied=True)



@pytest.mark.parametrize("tied", [False, True])
def test_network_allocates_its_gradient_on_first_use_only(tied):
    """Inference builds a network per call: it reads the parameters, and no gradient."""
    rng = np.random.default_rng(0)
    network = Network((6, 4, 2, 4, 6), 2, "relu", tied=tied)
    network.initialize(rng)
    network.encode(rng.normal(size=(3, 6)))
    assert network._grad is None
    grad = network.grad
    assert grad.shape == network.params.shape and not grad.any()
    assert network.grad is grad  # one buffer, kept
    for i, block in enumerate(network.coef_grads):
        block[...] = i + 1
        assert np.shares_memory(block, grad)
    assert all(np.shares_memory(block, grad) for block in network.intercept_grads)
    # A gradient buffer given to the network (a view of a larger model's) is the one used.
    given = np.zeros_like(network.params)
    assert Network((6, 4, 2, 4, 6), 2, "relu", tied=tied, grad=given).grad is given
    with pytest.raises(ValueError, match="grad must have shape"):
        Network((6, 4, 2, 4, 6), 2, "relu", tied=tied, grad=given[:-1])

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
        alpha=0.0,
        early_stopping=False,  # PCA's optimum is over all the rows
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
