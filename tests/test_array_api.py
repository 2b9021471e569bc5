"""The Array API path: array-api-strict (both its devices) and PyTorch on the CPU.

array-api-strict is in the test extra and imported unconditionally: these tests
never skip for want of it. Its ``device1`` refuses hidden conversions to NumPy,
so a fit there proves the path stays on its device. PyTorch tests skip, with the
reason, when torch is absent.
"""

import os
import pickle
import warnings
from importlib.util import find_spec

import array_api_strict as xps
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._array_api import move_estimator_to
from sklearn.utils.estimator_checks import (
    check_array_api_input,
    check_array_api_same_namespace,
    estimator_checks_generator,
)
from test_callbacks import Recorder, Scribbler

import skae._callbacks
import skae._xp
from skae import (
    AutoencoderImputer,
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoder,
)
from skae._training import DivergenceError

HAS_TORCH = find_spec("torch") is not None
requires_torch = pytest.mark.skipif(
    not HAS_TORCH,
    reason="PyTorch is not installed (pip install torch==2.13.0; the CPU build is enough)",
)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

HAS_CUDA = HAS_TORCH and __import__("torch").cuda.is_available()
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device (or no PyTorch)")

STRICT_CPU = xps.Device("CPU_DEVICE")
STRICT_DEVICE1 = xps.Device("device1")


def strict(X, device=STRICT_CPU):
    return xps.asarray(X, device=device)


def strict_to_numpy(a):
    return np.asarray(xps.asarray(a, device=STRICT_CPU))


def torch_array(X):
    import torch

    return torch.asarray(X)


def torch_cuda(X):
    import torch

    return torch.asarray(X, device="cuda")


def to_numpy(a):
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.startswith("torch"):
        return a.detach().cpu().numpy()
    return strict_to_numpy(a)


# (name, make array from NumPy, expected device name, marks)
BACKENDS = [
    pytest.param(strict, STRICT_CPU, id="strict-cpu"),
    pytest.param(lambda X: strict(X, STRICT_DEVICE1), STRICT_DEVICE1, id="strict-device1"),
    pytest.param(torch_array, "cpu", id="torch-cpu", marks=requires_torch),
    pytest.param(torch_cuda, "cuda:0", id="torch-cuda", marks=requires_cuda),
]
DTYPES = [np.float64, np.float32]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 3))
    X = np.tanh(latent @ rng.normal(size=(3, 10))) + 0.05 * rng.normal(size=(200, 10))
    return X


def small(**params):
    # One start: one epoch of n_iter_ per epoch trained (several starts have their own
    # agreement cases below).
    base = dict(n_components=3, hidden_layer_sizes=(16,), batch_size=32, max_iter=6,
                random_state=0, n_init=1)
    return AutoencoderTransformer(**(base | params))


def same_device(a, device):
    return str(a.device) == str(device)


def dtype_name(a):
    return str(a.dtype).rsplit(".", 1)[-1]


# -- the suite runs scikit-learn's array-API checks --------------------------------------


def test_scipy_array_api_mode_is_on():
    """SciPy read SCIPY_ARRAY_API=1 at import: conftest.py set it before SciPy was imported."""
    from scipy._lib import _array_api

    assert os.environ.get("SCIPY_ARRAY_API") == "1"
    assert _array_api.SCIPY_ARRAY_API


def test_array_api_checks_are_generated_and_not_skipped():
    """Guard: the tag turns scikit-learn's array-API checks on, and they really run.

    scikit-learn skips them silently when a namespace is missing or SCIPY_ARRAY_API is
    unset; here a skip is a failure.
    """
    est = AutoencoderTransformer(max_iter=20)
    assert est.__sklearn_tags__().array_api_support
    names = set()
    for _, check in estimator_checks_generator(est, legacy=True, mark=None):
        keywords = getattr(check, "keywords", {})
        func = getattr(check, "func", check)
        if func is check_array_api_input:
            names.add((keywords["array_namespace"], keywords.get("device_name")))
    assert {("array_api_strict", "CPU_DEVICE"), ("array_api_strict", "device1")} <= names
    assert ("torch", "cpu") in names
    namespaces = [("array_api_strict", "CPU_DEVICE", "float64"),
                  ("array_api_strict", "device1", "float32")]
    if HAS_TORCH:
        namespaces += [("torch", "cpu", "float64"), ("torch", "cpu", "float32")]
    name = type(est).__name__
    for namespace, device, dtype in namespaces:
        try:
            check_array_api_input(
                name, est, array_namespace=namespace, device_name=device, dtype_name=dtype
            )
        except pytest.skip.Exception as exc:  # unittest.SkipTest is what sklearn raises
            pytest.fail(f"the array-API check for {namespace} on {device} was skipped: {exc}")
        except Exception as exc:
            if type(exc).__name__ == "SkipTest":
                pytest.fail(f"the array-API check for {namespace} on {device} was skipped: {exc}")
            raise
    check_array_api_same_namespace(name, est, array_namespace="array_api_strict")


def test_unsupported_configurations_say_so_in_their_tags():
    assert not AutoencoderTransformer(contraction=0.1).__sklearn_tags__().array_api_support
    assert not AutoencoderTransformer(noise="masking", contraction=0.1).__sklearn_tags__(
    ).array_api_support
    assert AutoencoderTransformer(noise="masking").__sklearn_tags__().array_api_support
    assert AutoencoderTransformer(tied_weights=True, sparsity=0.1).__sklearn_tags__(
    ).array_api_support


def test_the_path_is_opt_in_per_class(data):
    """An estimator added to the family stays on NumPy until it declares the path."""

    class Derived(AutoencoderTransformer):
        pass

    est = Derived(n_components=3, hidden_layer_sizes=(16,), max_iter=2)
    assert not est.__sklearn_tags__().array_api_support
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="Derived does not run on Array API inputs"):
            est.fit(strict(data))
        est.fit(data)
    assert isinstance(est._params, np.ndarray)


# -- outputs: namespace, device, dtype ---------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize(("make", "device"), BACKENDS)
def test_outputs_live_on_the_input_namespace_and_device(data, make, device, dtype):
    X = data.astype(dtype)
    Xa = make(X)
    est = small()
    with config_context(array_api_dispatch=True):
        est.fit(Xa)
        codes = est.transform(Xa)
        rec = est.inverse_transform(codes)
        scores = est.score_samples(Xa)
        score = est.score(Xa)
    reference = small().fit(X)
    xp_module = type(Xa).__module__.split(".")[0]
    for name, out, shape in [
        ("_params", est._params, reference._params.shape),
        ("codes", codes, (200, 3)),
        ("reconstruction", rec, (200, 10)),
        ("scores", scores, (200,)),
        ("coefs_[0]", est.coefs_[0], (10, 16)),
        ("intercepts_[-1]", est.intercepts_[-1], (10,)),
        ("optimizer m", est._optimizer_state["m"], reference._params.shape),
    ]:
        assert type(out).__module__.split(".")[0] == xp_module, name
        assert same_device(out, device), name
        assert tuple(out.shape) == shape, name
    for out in (est._params, codes, rec, est.coefs_[1]):
        assert dtype_name(out) == np.dtype(dtype).name
    assert dtype_name(scores) == "float64"  # as the NumPy engine's
    assert isinstance(score, float)
    tol = 1e-10 if dtype == np.float64 else 1e-3
    assert_allclose(to_numpy(est._params), reference._params, rtol=tol, atol=tol)
    assert_allclose(to_numpy(codes), reference.transform(X), rtol=tol, atol=tol)
    assert_allclose(to_numpy(rec), reference.inverse_transform(reference.transform(X)),
                    rtol=tol, atol=tol)
    assert_allclose(to_numpy(scores), reference.score_samples(X), rtol=tol, atol=tol)
    assert score == pytest.approx(reference.score(X), rel=tol)
    assert est.n_iter_ == reference.n_iter_
    assert_allclose(est.loss_curve_, reference.loss_curve_, rtol=tol)


@pytest.mark.parametrize(("make", "device"), BACKENDS)
def test_float32_model_on_float64_input(data, make, device):
    """A model fitted in float32 transforms float64 input into float64 codes, as NumPy's."""
    est = small()
    with config_context(array_api_dispatch=True):
        est.fit(make(data.astype(np.float32)))
        codes = est.transform(make(data))
    reference = small().fit(data.astype(np.float32))
    assert dtype_name(codes) == "float64"
    assert_allclose(to_numpy(codes), reference.transform(data), rtol=1e-3, atol=1e-3)


# -- the NumPy engine is untouched -------------------------------------------------------

NUMPY_CONFIGS = [
    {},
    {"early_stopping": True, "validation_fraction": 0.2},
    {"activation": "tanh", "loss": "binary_crossentropy", "alpha": 1e-3},
    {"noise": "masking", "contraction": 1e-2, "tied_weights": True},
]


@pytest.mark.parametrize("params", NUMPY_CONFIGS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_numpy_models_are_bitwise_identical_with_dispatch_on_or_off(data, params, sparse):
    X = np.clip(data, 0, 1) if params.get("loss") else data
    X = sp.csr_array(X) if sparse else X
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    off = small(**params).fit(X, sample_weight=sw)
    with config_context(array_api_dispatch=True):
        on = small(**params).fit(X, sample_weight=sw)
        codes_on = on.transform(X)
        score_on = on.score(X)
    assert isinstance(on._params, np.ndarray)
    assert_array_equal(on._params, off._params)
    assert on.loss_curve_ == off.loss_curve_
    assert_array_equal(codes_on, off.transform(X))
    assert score_on == off.score(X)


# -- same seed, same model ----------------------------------------------------------------

AGREEMENT_CONFIGS = [
    {},  # ELU units, fused on PyTorch
    {"activation": "relu"},  # fused on PyTorch too
    {"activation": "relu", "shuffle": False, "sample_weight": True},
    {"activation": "tanh", "hidden_layer_sizes": (16, 8), "alpha": 1e-3},
    {"activation": "logistic", "loss": "binary_crossentropy"},
    # alpha="auto" stays fixed for the cross-entropy, held-out rows or not.
    {"loss": "binary_crossentropy", "early_stopping": True, "sample_weight": True},
    {"activation": "elu", "tied_weights": True, "sparsity": 1e-2},
    {"activation": "softplus", "learning_rate": "cosine", "decoder_layer_sizes": (12,)},
    {"activation": "leaky_relu", "learning_rate": "constant", "early_stopping": True},
    {"activation": "identity", "hidden_layer_sizes": (), "batch_size": 200},
    {"shuffle": False, "sample_weight": True},
    {"noise": "gaussian", "noise_level": 0.3},
    {"noise": "masking", "noise_level": 0.3, "shuffle": False, "tied_weights": True},
    {"noise": "salt_and_pepper", "early_stopping": True, "sample_weight": True},
    # Several starts, the best going on; with held-out rows, alpha="auto" follows them.
    {"n_init": 3, "max_iter": 14},
    {"n_init": 3, "early_stopping": True, "max_iter": 14},
    {"n_init": 3, "noise": "masking", "noise_level": 0.2, "max_iter": 14},
    # PyTorch's fused step (relu, untied): the code's penalty injected, the L2 penalty
    # written into the gradient's buffer, Adam's moments by lerp for small β too.
    {"sparsity": 1e-2, "alpha": 1e-3, "decoder_layer_sizes": (12, 8)},
    {"beta_1": 0.0, "beta_2": 0.3, "sample_weight": True},
    {"beta_1": 0.4, "beta_2": 0.5, "learning_rate": "constant"},
]


def test_weights_as_large_as_accepted_do_not_overflow_the_validation_loss():
    """As the NumPy engine's: uniform weights of 5e305 failed as "diverged" once
    the held-out rows' weighted errors overflowed; only their ratios count."""
    X = 40 * np.random.default_rng(0).normal(size=(300, 4))
    curves = []
    for scale in (1.0, 5e305):
        model = small(max_iter=3, n_init=1, init="random", early_stopping=True, alpha=1e-4)
        with config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(strict(X), sample_weight=strict(np.full(300, scale)))
        curves.append(model.validation_loss_curve_)
    assert np.all(np.isfinite(curves[1]))
    assert_allclose(curves[1], curves[0], rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("params", AGREEMENT_CONFIGS)
def test_torch_float64_reproduces_numpy(data, params):
    """Initialisation, epoch order and split are drawn on the host: the same model to ~1e-10."""
    params = dict(params)
    sw = None
    if params.pop("sample_weight", False):
        sw = np.random.default_rng(2).uniform(0.0, 3.0, size=data.shape[0])
    X = 1 / (1 + np.exp(-data)) if params.get("loss") else data
    max_iter = params.pop("max_iter", 10)
    reference = small(max_iter=max_iter, tol=0.0, **params).fit(X, sample_weight=sw)
    est = small(max_iter=max_iter, tol=0.0, **params)
    with config_context(array_api_dispatch=True):
        est.fit(torch_array(X), sample_weight=None if sw is None else torch_array(sw))
    assert est.n_iter_ == reference.n_iter_ == max_iter
    assert_allclose(est._params.numpy(), reference._params, rtol=0, atol=1e-10)
    assert_allclose(est.loss_curve_, reference.loss_curve_, rtol=1e-10)
    if reference.validation_loss_curve_ is not None:
        assert_allclose(est.validation_loss_curve_, reference.validation_loss_curve_,
                        rtol=1e-10)
        assert est.best_validation_loss_ == pytest.approx(reference.best_validation_loss_)


@pytest.mark.parametrize("init, n_init", [("auto", 1), ("random", 4)])
def test_n_init_auto_runs_the_same_starts_on_the_array_api_path(data, init, n_init):
    """n_init="auto" on the Array API path: a guided first start (200 rows to 3
    components) trains alone, as NumPy's n_init=1; a random one competes with three
    others, as NumPy's n_init=4."""
    params = dict(init=init, max_iter=14, tol=0.0)
    reference = small(n_init=n_init, **params).fit(data)
    other = small(n_init=5 - n_init, **params).fit(data)
    assert not np.allclose(other._params, reference._params)  # the two counts differ here
    with config_context(array_api_dispatch=True):
        est = small(n_init="auto", **params).fit(strict(data))
    assert_allclose(strict_to_numpy(est._params), reference._params, rtol=0, atol=1e-10)


def test_pytorch_trains_with_its_fused_kernels_and_other_namespaces_without(data):
    """The fused step is PyTorch's alone; a tied network keeps the standard backward."""
    from skae._xp_engine import ArrayAdam, ArrayNetwork

    host = small()._build_model(small()._spec(10), np.float64)
    assert ArrayNetwork(host, skae._xp.array_namespace(strict(data))[0]).kernels is None
    if HAS_TORCH:
        xp = skae._xp.array_namespace(torch_array(data))[0]
        network = ArrayNetwork(host, xp)
        assert network.kernels is not None
        assert ArrayAdam(xp, torch_array(host.params), 1e-3, 0.9, 0.999, 1e-8).kernels
        tied = small(tied_weights=True)
        assert not ArrayNetwork(tied._build_model(tied._spec(10), np.float64), xp)._fused


@requires_torch
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "activation, forward, backward",
    [("relu", "relu", "threshold_backward"), ("elu", "elu", "elu_backward")],
)
def test_a_pytorch_step_launches_the_fused_operations(
    data, weighted, activation, forward, backward
):
    """What the fused path is for: its operations run, the standard ones they replace don't.

    The agreement tests cannot tell (the standard path computes the same numbers).
    """
    import collections

    from torch.utils._python_dispatch import TorchDispatchMode

    from skae._xp_engine import ArrayAdam, ArrayNetwork, ArrayObjective

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = collections.Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.seen[func.overloadpacket.__name__] += 1
            return func(*args, **(kwargs or {}))

    est = small(hidden_layer_sizes=(16, 8), activation=activation)
    host = est._build_model(est._spec(10), np.float64)
    host.initialize(np.random.default_rng(0), "lecun")
    xp = skae._xp.array_namespace(torch_array(data))[0]
    objective = ArrayObjective(ArrayNetwork(host, xp), "squared_error", alpha=1e-3)
    adam = ArrayAdam(xp, torch_array(host.params), 1e-3, 0.9, 0.999, 1e-8)
    X = torch_array(data[:32])
    w = torch_array(np.linspace(0.5, 1.5, 32)) if weighted else None
    with Count() as count:
        loss, grad = objective.loss_gradient(adam.params, X, X, w)
        adam.step(grad)
    seen = count.seen
    # 3 layers each side: 6 addmm and 4 activations forward, 4 derivatives backward.
    assert seen["addmm"] == 6 and seen[forward] == 4 and seen[backward] == 4
    assert seen["lerp"] == 2 and seen["addcdiv"] == 1
    assert seen["mse_loss"] == (0 if weighted else 1)
    for replaced in ("cat", "where", "gt", "lt", "expm1"):
        assert seen[replaced] == 0, replaced
    # Tied weights: the standard backward, its blocks concatenated; the rest fused.
    tied = small(hidden_layer_sizes=(16, 8), tied_weights=True)
    host = tied._build_model(tied._spec(10), np.float64)
    host.initialize(np.random.default_rng(0), "lecun")
    objective = ArrayObjective(ArrayNetwork(host, xp), "squared_error")
    with Count() as count:
        objective.loss_gradient(torch_array(host.params), X, X, None)
    assert count.seen["cat"] == 1 and count.seen["addmm"] == 6


@pytest.mark.parametrize("weighted", [False, True, "huge"])
@pytest.mark.parametrize("high, counted", [(1.0, True), (1 + 1e-12, True), (1.5, False)])
def test_the_cross_entropys_floor_is_the_numpy_engines(data, weighted, high, counted):
    """And so is alpha="auto"'s scale, which shares its sums. Weights whose sums
    overflow (as large as scikit-learn accepts) give the floor of smaller ones."""
    from skae._estimator import _auto_alpha_scale, _loss_floor
    from skae._xp_engine import auto_alpha_scale, loss_floor

    X = 1 / (1 + np.exp(-data))
    X[3, 1] = high
    rows = np.arange(0, X.shape[0], 3)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    if weighted == "huge":
        small = _loss_floor("binary_crossentropy", X, rows, w)
        w = w * 1e307
        with np.errstate(over="ignore"):
            assert not np.isfinite(np.sum(w[rows]))
    expected = _loss_floor("binary_crossentropy", X, rows, w)
    if weighted == "huge":
        assert expected == pytest.approx(small, rel=1e-12)
    floor = loss_floor(xps, STRICT_CPU, "binary_crossentropy", strict(X), rows, w, chunk=4)
    assert (expected > 0.3) is counted and (expected == 0.0) is not counted
    assert floor == pytest.approx(expected, rel=1e-12)
    assert loss_floor(xps, STRICT_CPU, "squared_error", strict(X), rows, None) == 0.0
    expected = _auto_alpha_scale("binary_crossentropy", X, rows, w)
    scale = auto_alpha_scale(xps, STRICT_CPU, "binary_crossentropy", strict(X), rows, w, chunk=4)
    assert (expected < 0.5) is counted and (expected == 1.0) is not counted
    assert scale == pytest.approx(expected, rel=1e-10)
    assert auto_alpha_scale(xps, STRICT_CPU, "squared_error", strict(X), rows, None) == 1.0


@pytest.mark.parametrize("early_stopping", [True, False])
def test_the_stopping_rule_counts_from_the_numpy_engines_floor(data, monkeypatch,
                                                                early_stopping):
    import skae._estimator
    import skae._xp_estimator

    floors = {}
    for engine, module in [("numpy", skae._estimator), ("xp", skae._xp_estimator)]:
        original = module.train

        def recording(*args, _original=original, _engine=engine, **kwargs):
            floors.setdefault(_engine, []).append(kwargs["floor"])
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, "train", recording)
    X = 1 / (1 + np.exp(-data))
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    params = dict(loss="binary_crossentropy", early_stopping=early_stopping, max_iter=12,
                  n_init=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small(**params).fit(X, sample_weight=w)
        with config_context(array_api_dispatch=True):
            small(**params).fit(strict(X), sample_weight=w)
    assert len(floors["xp"]) == 3 and floors["numpy"][0] > 0.3
    assert_allclose(floors["xp"], floors["numpy"], rtol=1e-12)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_cross_entropy_fits_stop_where_numpys_do(data, early_stopping):
    """With a tolerance, the stopping rule's floor decides the epoch a fit ends at."""
    X = 1 / (1 + np.exp(-2 * data))
    params = dict(loss="binary_crossentropy", early_stopping=early_stopping, max_iter=1000,
                  tol=1e-2, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reference = small(**params).fit(X)
        with config_context(array_api_dispatch=True):
            est = small(**params).fit(strict(X))
    assert est.n_iter_ == reference.n_iter_ < 1000
    assert_allclose(est.loss_curve_, reference.loss_curve_, rtol=1e-10)


@requires_torch
def test_continued_fits_reproduce_numpy(data):
    """warm_start and partial_fit continue from the device's optimizer state."""
    X = torch_array(data)
    reference = small(warm_start=True).fit(data).fit(data)
    ref_partial = small().partial_fit(data).partial_fit(data)
    with config_context(array_api_dispatch=True):
        est = small(warm_start=True).fit(X).fit(X)
        partial = small().partial_fit(X).partial_fit(X)
    assert_allclose(est._params.numpy(), reference._params, atol=1e-10)
    assert_allclose(partial._params.numpy(), ref_partial._params, atol=1e-10)
    assert est.n_iter_ == reference.n_iter_ and partial.n_iter_ == 2


def test_early_stopping_on_the_second_device(data):
    X = strict(data, STRICT_DEVICE1)
    reference = small(early_stopping=True, max_iter=30).fit(data)
    with config_context(array_api_dispatch=True):
        est = small(early_stopping=True, max_iter=30).fit(X)
    assert est.n_iter_ == reference.n_iter_
    assert_allclose(strict_to_numpy(est._params), reference._params, atol=1e-10)
    assert_allclose(est.validation_loss_curve_, reference.validation_loss_curve_, rtol=1e-10)


def test_auto_early_stopping_decides_on_the_rows_of_positive_weight(data):
    # 200 rows of which 150 count: nothing held out; 250 copies of a row: none can be.
    weight = np.r_[np.ones(150), np.zeros(50)]
    copies = np.tile(data[:1], (250, 1))
    with config_context(array_api_dispatch=True):
        weighted = small(early_stopping="auto").fit(strict(data), sample_weight=weight)
        copied = small(early_stopping="auto").fit(strict(copies))
        with pytest.raises(ValueError, match="two distinct samples"):
            small(early_stopping=True).fit(strict(copies))
    assert weighted.validation_loss_curve_ is None and copied.validation_loss_curve_ is None
    with config_context(array_api_dispatch=True):
        weight[:] = 1.0
        held = small(early_stopping="auto").fit(strict(data), sample_weight=weight)
    assert held.validation_loss_curve_ is not None


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_on_other_features_says_how_to_train_a_new_network(data, how):
    with config_context(array_api_dispatch=True):
        model = small(warm_start=True).fit(strict(data))
        method = model.partial_fit if how == "partial_fit" else model.fit
        advice = "set warm_start=False and call fit" if how == "partial_fit" else (
            "set warm_start=False"
        )
        with pytest.raises(ValueError, match=f"X has 3 features.*\n.*{advice} to train a new"):
            method(strict(data[:, :3]))
        # Without warm_start, fit trains a new network.
        model = small().fit(strict(data))
        with pytest.raises(ValueError, match="or call fit to train a new network"):
            model.partial_fit(strict(data[:, :3]))
        model.fit(strict(data[:, :3]))


def test_salt_and_pepper_partial_fits_widen_the_range_as_on_numpy(data):
    chunks = np.array_split(data, 8)
    reference, est = (small(noise="salt_and_pepper", noise_level=0.3) for _ in range(2))
    for chunk in chunks:
        reference.partial_fit(chunk)
    with config_context(array_api_dispatch=True):
        for chunk in chunks:
            est.partial_fit(strict(chunk))
    assert_array_equal(est._noise_bounds[1], data.max(axis=0))
    assert_array_equal(est._noise_bounds[0], reference._noise_bounds[0])
    assert_allclose(strict_to_numpy(est._params), reference._params, atol=1e-10)


def test_zero_weight_rows_are_left_out_as_on_numpy(data):
    X = np.vstack([data, np.full((2, data.shape[1]), 1e200)])  # 0 * inf was NaN
    w = np.r_[np.where(np.arange(data.shape[0]) % 3 == 0, 0.0, 1.0), 0.0, 0.0]
    reference = small(early_stopping=True).fit(X[w > 0])
    with config_context(array_api_dispatch=True):
        est = small(early_stopping=True).fit(strict(X), sample_weight=w)
    assert est.n_iter_ == reference.n_iter_
    assert_allclose(strict_to_numpy(est._params), reference._params, atol=1e-10)


@pytest.mark.parametrize("make_array, device", BACKENDS[:3])
def test_sample_weight_as_list_numpy_or_array_fits_alike(data, make_array, device):
    """Weights are validated on the host: a list works as an array does (scikit-learn's
    own check fails on a list next to Array API data)."""
    weight = np.linspace(0.5, 2.0, data.shape[0])
    fits = []
    for given in (weight, list(weight), make_array(weight)):
        with config_context(array_api_dispatch=True):
            est = small(max_iter=3).fit(make_array(data), sample_weight=given)
            est.partial_fit(make_array(data), sample_weight=given)
        fits.append(to_numpy(est._params))
    for other in fits[1:]:
        assert_array_equal(other, fits[0])


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_denoising_on_the_second_device_reproduces_numpy(data, noise, dtype):
    """The noise of an epoch is drawn on the host in one call: the NumPy engine's numbers."""
    X = data.astype(dtype)
    reference = small(noise=noise, noise_level=0.2).fit(X)
    with config_context(array_api_dispatch=True):
        est = small(noise=noise, noise_level=0.2).fit(strict(X, STRICT_DEVICE1))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(strict_to_numpy(est._params), reference._params, rtol=0, atol=tol)
    clean = small().fit(X)
    assert np.abs(clean._params - reference._params).max() > 100 * tol  # the noise counts


@pytest.mark.parametrize("noise", [None, "gaussian", "masking", "salt_and_pepper"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_epochs_gathered_in_blocks_reproduce_numpy_and_bound_the_copies(
    data, monkeypatch, noise, shuffle
):
    """Rows (and noise) a block of whole minibatches at a time: the same numbers as one
    gather per epoch, and no copy of the training data on the device."""
    import skae._xp_engine as engine

    # Blocks of 3 minibatches of 32 rows (10 features, float64): 200 rows take 3 blocks,
    # the last one short and ending on a short minibatch.
    monkeypatch.setattr(engine, "_BLOCK_BYTES", 3 * 32 * 10 * 8 + 7)
    gathered = []
    take = xps.take

    def recording_take(x, indices, /, *, axis=None):
        if axis == 0:
            gathered.append(indices.shape[0])
        return take(x, indices, axis=axis)

    # Random starts: the guided start's one copy of the rows to the host is no epoch's.
    params = dict(noise=noise, noise_level=0.2, shuffle=shuffle, init="random")
    weights = np.random.default_rng(3).uniform(0.5, 2.0, size=data.shape[0])
    reference = small(**params).fit(data, sample_weight=weights)
    monkeypatch.setattr(xps, "take", recording_take)
    with config_context(array_api_dispatch=True):
        est = small(**params).fit(strict(data), sample_weight=strict(weights))
    assert_allclose(strict_to_numpy(est._params), reference._params, rtol=0, atol=1e-10)
    # 180 or 200 training rows (the plain model holds 20 out): two blocks an epoch.
    assert max(gathered) <= 96 and gathered.count(96) >= est.n_iter_


# -- one synchronisation per epoch ---------------------------------------------------------


@pytest.mark.parametrize("early_stopping", [False, True])
def test_one_device_to_host_transfer_per_epoch(data, monkeypatch, early_stopping):
    calls = []
    original = skae._xp.to_numpy

    def counting(array):
        calls.append(tuple(array.shape))
        return original(array)

    monkeypatch.setattr(skae._xp, "to_numpy", counting)
    est = small(max_iter=4, early_stopping=early_stopping)
    with config_context(array_api_dispatch=True):
        est.fit(strict(data, STRICT_DEVICE1))
    n_batches = -(-(180 if early_stopping else 200) // 32)
    per_epoch = [c for c in calls if c != data.shape]  # the split's one copy of X
    assert len(per_epoch) == est.n_iter_ == 4
    assert all(c == (n_batches + 1 + early_stopping,) for c in per_epoch)
    assert len(calls) - len(per_epoch) == int(early_stopping)


# -- failures -------------------------------------------------------------------------------


# A NaN is a missing value, not a divergence: the NumPy engine trains on it and the
# Array API path refuses it (test_missing_values_and_categories_stay_on_numpy).
DIVERGING = {
    "huge inputs": lambda X: X * 1e200,
}


@pytest.mark.parametrize("case", list(DIVERGING))
@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize(("make", "device"), BACKENDS)
def test_divergence_is_caught_and_the_model_kept(data, make, device, case, warm_start):
    bad = DIVERGING[case](data)
    with config_context(array_api_dispatch=True, assume_finite=True):
        est = small(max_iter=2).fit(make(data))
        before = to_numpy(est._params).copy()
        attributes = dict(vars(est))
        est.set_params(warm_start=warm_start)
        with pytest.raises(DivergenceError, match=r"Training diverged at epoch \d+") as info:
            est.fit(make(bad))
    with config_context(assume_finite=True):
        numpy_model = small(max_iter=2, warm_start=warm_start).fit(data)
        with pytest.raises(DivergenceError) as numpy_info:
            numpy_model.fit(bad)
    # The same words, epoch and minibatch as the NumPy engine's.
    assert str(info.value) == str(numpy_info.value)
    assert ", batch " in str(info.value)
    assert_array_equal(to_numpy(est._params), before)
    assert vars(est).keys() == attributes.keys()
    assert all(vars(est)[k] is v for k, v in attributes.items() if k != "warm_start")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"contraction": 0.1}, "contractive penalty .* not implemented for Array API"),
        ({"noise": "masking", "noise_level": 1.5}, "noise_level is the fraction"),
    ],
)
def test_unsupported_configurations_raise_clear_errors(data, params, match):
    est = small(**params)
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=match):
            est.fit(strict(data))
    assert not hasattr(est, "_params")
    if "contraction" in params:
        with config_context(array_api_dispatch=True):
            est.fit(data)  # NumPy input keeps working
        assert isinstance(est._params, np.ndarray)


@requires_torch
def test_sparse_tensors_are_refused(data):
    X = torch_array(data).to_sparse()
    with config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match="Sparse input stays on the CPU"):
            small().fit(X)
        est = small().fit(torch_array(data))
        codes = est.transform(torch_array(data))
        for sparse in (X, X.to_sparse_csr()):
            with pytest.raises(TypeError, match="Sparse input stays on the CPU"):
                est.transform(sparse)
        for sparse in (codes.to_sparse(), codes.to_sparse_csr()):
            with pytest.raises(TypeError, match="Sparse input stays on the CPU"):
                est.inverse_transform(sparse)


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(strict, id="strict"),
        pytest.param(torch_array, id="torch", marks=requires_torch),
    ],
)
def test_complex_arrays_are_refused_not_cast_to_their_real_part(data, backend):
    COMPLEX = "Complex data not supported: .* needs real numbers"
    # PyTorch casts a complex tensor to a real dtype with only a warning.
    complex_data = backend(data + 1j)
    with config_context(array_api_dispatch=True):
        est = small().fit(backend(data))
        codes = est.transform(backend(data))
        with pytest.raises(ValueError, match=COMPLEX):
            small().fit(complex_data)
        for method in ("partial_fit", "transform", "score_samples", "score"):
            with pytest.raises(ValueError, match=COMPLEX):
                getattr(est, method)(complex_data)
        with pytest.raises(ValueError, match=COMPLEX):
            est.inverse_transform(codes + 1j)
        assert_array_equal(to_numpy(est.transform(backend(data))), to_numpy(codes))


@pytest.mark.parametrize("method", ["transform", "score_samples", "inverse_transform"])
def test_mixing_namespaces_after_fit_raises(data, method):
    Xs = strict(data, STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        on_device = small().fit(Xs)
        on_host = small().fit(data)
        arg = data if method != "inverse_transform" else on_host.transform(data)
        with pytest.raises(ValueError, match="must use the same namespace"):
            getattr(on_device, method)(arg)
        arg = Xs if method != "inverse_transform" else on_device.transform(Xs)
        with pytest.raises(ValueError, match="must use the same namespace"):
            getattr(on_host, method)(arg)
        with pytest.raises(ValueError, match="must use the same namespace"):
            on_device.transform(strict(data, STRICT_CPU))  # same namespace, other device
        with pytest.raises(ValueError, match="must use the same namespace"):
            on_device.transform(sp.csr_array(data))
    with pytest.raises(ValueError, match="fitted on array_api_strict arrays.*dispatch"):
        getattr(on_device, method)(arg)


def test_inputs_are_not_modified(data):
    X = strict(data, STRICT_DEVICE1)
    sw = strict(np.linspace(0.5, 2.0, data.shape[0]), STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        est = small(early_stopping=True).fit(X, sample_weight=sw)
        codes = est.transform(X)
        est.inverse_transform(codes)
        est.score(X, sample_weight=sw)
        codes_copy = strict_to_numpy(codes).copy()
        est.inverse_transform(codes)
    assert_array_equal(strict_to_numpy(X), data)
    assert_array_equal(strict_to_numpy(sw), np.linspace(0.5, 2.0, data.shape[0]))
    assert_array_equal(strict_to_numpy(codes), codes_copy)


def test_a_failed_call_leaves_the_model_as_it_was(data):
    X = strict(data, STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        est = small().fit(X)
        state = dict(vars(est))
        params = strict_to_numpy(est._params).copy()
        with pytest.raises(ValueError):
            est.transform(strict(data[:, :5], STRICT_DEVICE1))
        est.set_params(warm_start=True)
        with pytest.raises(ValueError, match="layer sizes"):
            est.set_params(hidden_layer_sizes=(4,)).fit(X)
        with pytest.raises(ValueError, match="must use the same namespace"):
            est.set_params(hidden_layer_sizes=(16,)).fit(data)
    assert vars(est).keys() - {"warm_start", "hidden_layer_sizes"} == state.keys() - {
        "warm_start", "hidden_layer_sizes"
    }
    assert all(vars(est)[k] is v for k, v in state.items() if k.endswith("_") or
               k.startswith("_"))
    assert_array_equal(strict_to_numpy(est._params), params)


# -- moving and saving -----------------------------------------------------------------------


@requires_torch
def test_move_estimator_to_numpy_and_back(data):
    import torch
    from sklearn.externals.array_api_compat import numpy as np_compat

    with config_context(array_api_dispatch=True):
        est = small(tied_weights=True).fit(torch_array(data))
        on_host = move_estimator_to(est, np_compat, "cpu")
        codes = est.transform(torch_array(data))
        assert isinstance(on_host._params, np.ndarray)
        # the views are rebuilt: they share the parameter vector, tied ones included
        assert np.shares_memory(on_host.coefs_[0], on_host._params)
        assert np.shares_memory(on_host.coefs_[-1], on_host.coefs_[0])
        assert_allclose(on_host.transform(data), codes.numpy(), atol=1e-12)
        back = move_estimator_to(on_host, get_torch_namespace(), "cpu")
        assert isinstance(back._params, torch.Tensor)
        assert isinstance(back._optimizer_state["m"], torch.Tensor)
        assert back.coefs_[0].untyped_storage().data_ptr() == (
            back._params.untyped_storage().data_ptr()
        )
        assert_allclose(back.transform(torch_array(data)).numpy(), codes.numpy(), atol=1e-12)
    assert isinstance(est._params, torch.Tensor)  # the original is untouched


def test_a_model_fitted_with_contraction_runs_inference_after_a_move(data):
    """contraction is a training penalty: a model fitted with it on NumPy, then moved,
    runs every inference method (fitting with it on the Array API path is refused)."""
    est = small(contraction=0.1).fit(data)
    with config_context(array_api_dispatch=True):
        moved = move_estimator_to(est, xps, STRICT_CPU)
        X = strict(data)
        codes = moved.transform(X)
        assert_allclose(strict_to_numpy(codes), est.transform(data), atol=1e-12)
        assert_allclose(
            strict_to_numpy(moved.inverse_transform(codes)),
            est.inverse_transform(est.transform(data)),
            atol=1e-12,
        )
        assert_allclose(strict_to_numpy(moved.score_samples(X)), est.score_samples(data))
        assert moved.score(X) == pytest.approx(est.score(data), rel=1e-12)


@pytest.mark.parametrize(
    "cls", [VariationalAutoencoder, AutoencoderOutlierDetector, AutoencoderImputer]
)
def test_a_numpy_only_model_is_refused_a_move_off_numpy(data, cls):
    """Moved, it broke in its first method with a raw type error."""
    est = cls(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(data)
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=f"Cannot move this {cls.__name__} to "
                           f"array_api_strict: {cls.__name__} runs on NumPy only"):
            move_estimator_to(est, xps, STRICT_CPU)
        back = move_estimator_to(est, np, "cpu")  # NumPy takes it
        unfitted = move_estimator_to(cls(), xps, STRICT_CPU)  # nothing to move
    assert_array_equal(back.transform(data) if hasattr(back, "transform") else
                       back.score_samples(data),
                       est.transform(data) if hasattr(est, "transform") else
                       est.score_samples(data))
    assert unfitted.get_params() == cls().get_params()


@pytest.mark.parametrize("params", [{"categorical_groups": [[7, 8, 9]]}, {"mask_as_input": True}])
def test_a_model_fitted_with_what_the_path_lacks_is_refused_after_a_move(data, params):
    """Moved to an Array API namespace, a model fitted with categorical groups or the
    mask as input refuses every method (inverse_transform gave raw group outputs)."""
    X = data.copy()
    X[:, 7:] = np.eye(3)[np.arange(X.shape[0]) % 3]
    est = small(**params).fit(X)
    with config_context(array_api_dispatch=True):
        moved = move_estimator_to(est, xps, STRICT_CPU)
        params_before = strict_to_numpy(moved._params).copy()
        codes = strict(est.transform(X))
        for method, arg in [
            ("transform", strict(X)),
            ("inverse_transform", codes),
            ("score_samples", strict(X)),
            ("score", strict(X)),
        ]:
            with pytest.raises(ValueError, match=f"{method}\\(\\): this model was fitted with"):
                getattr(moved, method)(arg)
    assert_array_equal(strict_to_numpy(moved._params), params_before)


class _Subclass(AutoencoderTransformer):
    pass


@pytest.mark.parametrize(
    "make, params, match",
    [
        (AutoencoderTransformer, {"categorical_groups": [[7, 8, 9]]},
         r"fitted with categorical_groups .* pass NumPy arrays \(for a PyTorch"),
        (AutoencoderTransformer, {"mask_as_input": True}, "fitted with categorical_groups"),
        (_Subclass, {}, "_Subclass does not run on Array API inputs yet"),
    ],
)
def test_a_numpy_model_the_path_cannot_run_says_so_before_advising_a_move(
    data, make, params, match
):
    """scikit-learn's namespace check advised moving the model to X's namespace, and
    the moved model (or the move) refused: the model's own reason comes first."""
    X = data.copy()
    X[:, 7:] = np.eye(3)[np.arange(X.shape[0]) % 3]
    est = make(**(dict(n_components=3, hidden_layer_sizes=(16,), max_iter=2, n_init=1,
                       random_state=0) | params)).fit(X)
    codes = est.transform(X)
    with config_context(array_api_dispatch=True):
        for method, arg in [("transform", X), ("inverse_transform", codes),
                            ("score_samples", X), ("score", X)]:
            with pytest.raises(ValueError, match=match) as info:
                getattr(est, method)(strict(arg))
            assert "move_estimator_to" not in str(info.value)
    # With dispatch off, the NumPy path converts (array_api_strict arrays included).
    assert_array_equal(est.transform(np.asarray(X)), codes)


@requires_torch
def test_inputs_that_require_grad_are_not_tracked(data):
    import torch

    tracked = torch_array(data).requires_grad_(True)
    with config_context(array_api_dispatch=True):
        est = small().fit(tracked, sample_weight=torch_array(np.ones(len(data))).requires_grad_())
        plain = small().fit(torch_array(data))
        assert torch.equal(est._params, plain._params)
        for method in ("transform", "score_samples"):
            out = getattr(est, method)(tracked)
            assert not out.requires_grad
            assert torch.equal(out, getattr(plain, method)(torch_array(data)))
        assert not est.inverse_transform(est.transform(tracked).requires_grad_()).requires_grad
        assert est.score(tracked) == plain.score(torch_array(data))
    assert tracked.requires_grad and tracked.grad is None


def test_binary_crossentropy_range_warnings_as_on_numpy(data):
    """Data outside [0, 1]: the same warnings from the same lines as on NumPy."""
    X = np.abs(data) * 3
    places = {}
    for name, make in [("numpy", np.asarray), ("strict", strict)]:
        with config_context(array_api_dispatch=True), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            est = small(loss="binary_crossentropy").fit(make(X))
            est.transform(make(X))
            est.score(make(X))
        places[name] = [(r.filename, r.lineno) for r in w if "expects data in" in str(r.message)]
    assert len(places["numpy"]) == 3
    assert places["strict"][0][0] == __file__ and places["strict"][2][0] == __file__
    assert places["strict"] == places["numpy"]  # the same lines of this loop


@pytest.mark.parametrize("continued", ["warm_start", "partial_fit"])
def test_a_continued_fit_warns_of_its_range_as_on_numpy(data, continued):
    """Continuing, the model was fitted with the cross-entropy: the advice is to scale
    new data as the training data were (as the NumPy engine says)."""
    inside, outside = 1 / (1 + np.exp(-data)), np.abs(data) * 3
    messages = {}
    for name, make in [("numpy", np.asarray), ("strict", strict)]:
        with config_context(array_api_dispatch=True), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            est = small(loss="binary_crossentropy", warm_start=continued == "warm_start")
            if continued == "warm_start":
                est.fit(make(inside)).fit(make(outside))
            else:
                est.partial_fit(make(inside)).partial_fit(make(outside))
        messages[name] = [str(r.message) for r in w if "expects data in" in str(r.message)]
    assert len(messages["numpy"]) == 1
    assert messages["numpy"][0].startswith("this model was fitted with")
    assert messages["strict"] == messages["numpy"]


def get_torch_namespace():
    from sklearn.externals.array_api_compat import torch as torch_compat

    return torch_compat


@pytest.mark.parametrize(("make", "device"), BACKENDS)
def test_pickle_round_trip(data, make, device):
    X = make(data)
    with config_context(array_api_dispatch=True):
        est = small(tied_weights=True).fit(X)
        codes = to_numpy(est.transform(X))
        before = to_numpy(est._params).copy()
        loaded = pickle.loads(pickle.dumps(est))
        assert same_device(loaded._params, device)
        assert same_device(loaded.coefs_[0], device)
        assert_array_equal(to_numpy(loaded.transform(X)), codes)
    assert_array_equal(to_numpy(est._params), before)
    assert len(est.coefs_) == 4


def test_verbose_and_callbacks_see_each_epoch(data, capsys):
    with config_context(array_api_dispatch=True):
        small(verbose=True, max_iter=3).fit(strict(data, STRICT_DEVICE1))
    assert capsys.readouterr().out.count("Epoch ") == 3


@pytest.mark.skipif(not skae._callbacks.HAS_CALLBACKS, reason="no sklearn.callback API")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_callbacks_see_each_epoch_and_can_stop_training(data):
    """The Array API loop reports its epochs to scikit-learn's callbacks, as NumPy's does."""
    with config_context(array_api_dispatch=True):
        seen = Recorder()
        small(max_iter=4).set_callbacks(seen).fit(strict(data, STRICT_DEVICE1))
        stopper = Recorder(stop_after=2)
        stopped = small(max_iter=6).set_callbacks(stopper).fit(strict(data, STRICT_DEVICE1))
    assert [event[2] for event in seen.named("end")] == [0, 1, 2, 3]
    assert [event[2] for event in stopper.named("end")] == [0, 1]
    assert stopped.n_iter_ == len(stopped.loss_curve_) == 2


@pytest.mark.skipif(not skae._callbacks.HAS_CALLBACKS, reason="no sklearn.callback API")
def test_with_early_stopping_a_snapshot_is_what_a_stop_there_leaves(data):
    """As on NumPy: an epoch's snapshot is the best validation epoch's model so far."""
    params = dict(max_iter=10, early_stopping=True, learning_rate_init=0.05,
                  learning_rate="constant", tol=0.0)
    X = strict(data, STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        seen = Recorder()
        est = small(**params).set_callbacks(seen).fit(X)
        ends = [event[3] for event in seen.named("end")]
        curve = est.validation_loss_curve_
        assert any(np.argmin(curve[:k]) + 1 < k for k in range(1, 11))  # it rises somewhere
        codes = lambda model: strict_to_numpy(model.transform(X))  # noqa: E731
        assert_array_equal(codes(ends[-1]), codes(est))
        for k in (3, 7):
            stopped = small(**params).set_callbacks(Recorder(stop_after=k)).fit(X)
            assert_array_equal(codes(ends[k - 1]), codes(stopped))


@pytest.mark.skipif(not skae._callbacks.HAS_CALLBACKS, reason="no sklearn.callback API")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_snapshot_holds_the_training_state_of_a_stop_there_and_goes_on_alike(
    data, early_stopping
):
    """As on NumPy: counts, curves and the optimizer's moments, its own copies."""
    params = dict(max_iter=6, tol=0.0, n_init=2, early_stopping=early_stopping)
    X = strict(data, STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        seen = Recorder()
        small(**params).set_callbacks(seen).fit(X)
        ends = [event[3] for event in seen.named("end")]
        for task in (3, len(ends) - 2):
            snapshot = ends[task]
            stopped = small(**params).set_callbacks(Recorder(stop_after=task + 1)).fit(X)
            for key in ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_loss_",
                        "_validation_seed", "_noise_bounds"):
                assert getattr(snapshot, key) == getattr(stopped, key), key
            assert_array_equal(snapshot.loss_curve_, stopped.loss_curve_)
            assert_array_equal(np.asarray(snapshot.validation_loss_curve_, dtype=float),
                               np.asarray(stopped.validation_loss_curve_, dtype=float))
            mine, theirs = snapshot._optimizer_state, stopped._optimizer_state
            assert mine["t"] == theirs["t"]
            for name in ("m", "v"):
                assert_array_equal(strict_to_numpy(mine[name]), strict_to_numpy(theirs[name]))
            going_on = dict(warm_start=True, max_iter=2)
            a = snapshot.set_callbacks().set_params(**going_on).fit(X)
            b = stopped.set_callbacks().set_params(**going_on).fit(X)
            assert_array_equal(strict_to_numpy(a._params), strict_to_numpy(b._params))


@pytest.mark.skipif(not skae._callbacks.HAS_CALLBACKS, reason="no sklearn.callback API")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_callback_writing_into_a_snapshot_changes_neither_the_fit_nor_others(
    data, early_stopping
):
    class Vandal(Recorder):
        def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
            stop = super().on_fit_task_end(
                estimator, context, X=X, y=y, fitted_estimator=fitted_estimator
            )
            if context.task_name == "epoch" and context.task_id == 2:
                fitted_estimator._params[...] = 0.0
                for name in ("m", "v"):  # the optimizer's moments: the snapshot's too
                    fitted_estimator._optimizer_state[name][...] = 0.0
            return stop

    X = strict(data, STRICT_DEVICE1)
    params = dict(max_iter=5, early_stopping=early_stopping)
    with config_context(array_api_dispatch=True):
        reference = small(**params).fit(X)
        vandal = Vandal()
        model = small(**params).set_callbacks(vandal).fit(X)
        assert_array_equal(strict_to_numpy(model._params), strict_to_numpy(reference._params))
        last = vandal.named("end")[-1][3]
        assert last._params is not model._params
        begins = [event[3] for event in vandal.named("begin")]
        assert bool(xps.any(begins[3]._params != 0.0))  # the next epoch's own copy


@pytest.mark.skipif(not skae._callbacks.HAS_CALLBACKS, reason="no sklearn.callback API")
def test_a_callback_writing_into_a_snapshots_noise_bounds_changes_not_the_fit(data):
    """As on NumPy: the bounds go on into warm starts, so a snapshot has its own copy."""
    params = dict(noise="salt_and_pepper", noise_level=0.1, max_iter=3)
    X = strict(data, STRICT_DEVICE1)
    with config_context(array_api_dispatch=True):
        reference = small(**params).fit(X)
        model = small(**params).set_callbacks(Scribbler()).fit(X)
    for mine, theirs in zip(model._noise_bounds, reference._noise_bounds, strict=True):
        assert_array_equal(strict_to_numpy(mine), strict_to_numpy(theirs))
    assert not np.any(strict_to_numpy(model._noise_bounds[0]) == 99.0)


def test_no_warning_beyond_convergence(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        with config_context(array_api_dispatch=True):
            est = small().fit(strict(data, STRICT_DEVICE1))
            est.score(strict(data, STRICT_DEVICE1))
    assert sklearn.get_config()["array_api_dispatch"] is False
    assert clone(est).get_params() == est.get_params()


def test_missing_values_and_categories_stay_on_numpy():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(0).normal(size=(40, 4))
    holes = X.copy()
    holes[3, 1] = np.nan
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="NaN"):
            AutoencoderTransformer(max_iter=2).fit(torch.asarray(holes))
        fitted = AutoencoderTransformer(max_iter=2, random_state=0).fit(torch.asarray(X))
        params = fitted._params.clone()
        for method in ("transform", "score_samples", "score"):
            with pytest.raises(ValueError, match="NaN"):
                getattr(fitted, method)(torch.asarray(holes))
        assert torch.equal(fitted._params, params)
        with pytest.raises(ValueError, match="categorical_groups"):
            AutoencoderTransformer(max_iter=2, mask_as_input=True).fit(torch.asarray(X))


def test_convergence_warning_points_at_the_caller_on_both_engines(data):
    with pytest.warns(ConvergenceWarning) as numpy_record:
        small(max_iter=2).fit(data)
    with config_context(array_api_dispatch=True):
        with pytest.warns(ConvergenceWarning) as record:
            small(max_iter=2).fit(xps.asarray(data))
    assert numpy_record[0].filename == record[0].filename == __file__


@pytest.mark.parametrize("name", ["VariationalAutoencoder", "AutoencoderOutlierDetector",
                                  "AutoencoderImputer"])
def test_the_other_estimators_refuse_array_api_input_clearly(data, name):
    import skae

    est = getattr(skae, name)(max_iter=2)
    assert not est.__sklearn_tags__().array_api_support
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=f"{name} does not run on Array API inputs"):
            est.fit(xps.asarray(data))
    assert not hasattr(est, "_params")
    est.fit(data)  # on NumPy; then each method refuses Array API input as clearly
    methods = {
        "VariationalAutoencoder": ["transform", "score_samples", "score"],
        "AutoencoderOutlierDetector": ["predict", "decision_function", "score_samples"],
        "AutoencoderImputer": ["transform"],
    }[name]
    with config_context(array_api_dispatch=True):
        for method in methods:
            with pytest.raises(ValueError, match=f"{name} does not run on Array API inputs"):
                getattr(est, method)(xps.asarray(data))
        if hasattr(est, "inverse_transform"):  # codes, not data
            codes = xps.asarray(est.transform(data))
            with pytest.raises(ValueError, match=f"{name} does not run on Array API inputs"):
                est.inverse_transform(codes)


def test_inference_that_overflows_raises_or_scores_minus_infinity_as_on_numpy(data):
    huge = np.vstack([data[:3], np.full((2, data.shape[1]), np.finfo(np.float64).max)])
    with config_context(array_api_dispatch=True):
        est = small().fit(strict(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # the errors say it all
            with pytest.raises(ValueError, match=r"codes of 2 row\(s\) of X \(the first: row 3\)"):
                est.transform(strict(huge))
            corners = np.finfo(np.float64).max * np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])
            with pytest.raises(ValueError, match="reconstructions of .*Decode codes like"):
                est.inverse_transform(strict(np.vstack([corners, -corners])))
            scores = strict_to_numpy(est.score_samples(strict(huge)))
    assert_array_equal(scores[3:], -np.inf)
    assert np.isfinite(scores[:3]).all()


def test_a_cross_entropy_that_overflows_below_scores_minus_infinity_as_on_numpy(data):
    """Off [0, 1], x * logit can reach an error of -inf: overflowed, not a perfect fit."""
    X = (data > 0).astype(float)
    est = small(loss="binary_crossentropy").fit(X)
    # The far entry's term is -inf when x and its logit share a sign (+inf else).
    far = np.full((2 * X.shape[1], X.shape[1]), 0.5)  # one entry far off [0, 1] per row
    n = X.shape[1]
    far[np.arange(2 * n), np.tile(np.arange(n), 2)] = np.repeat([1e300, -1e300], n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # off [0, 1]: it warns, and overflows
        with np.errstate(all="ignore"):
            raw = est._objective().sample_errors(far)
        assert (raw == -np.inf).any()  # the case under test is there
        expected = est.score_samples(far)
        with config_context(array_api_dispatch=True):
            moved = small(loss="binary_crossentropy").fit(strict(X))
            scores = strict_to_numpy(moved.score_samples(strict(far)))
    assert_array_equal(expected, -np.inf)
    assert_array_equal(scores, expected)


def test_results_that_overflow_only_in_the_inputs_dtype_raise_too(data):
    # A float64 model decodes float32 codes in float64; the cast back to float32
    # overflows (these reconstructions reach ~5e38).
    corners = np.finfo(np.float32).max * np.array(
        [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]]
    )
    codes = corners.astype(np.float32)
    with config_context(array_api_dispatch=True):
        est = small().fit(strict(data))
        wide = strict_to_numpy(est.inverse_transform(strict(corners)))  # float64: finite
        assert np.abs(wide).max() > np.finfo(np.float32).max
        with warnings.catch_warnings(), pytest.raises(ValueError, match="The reconstructions of"):
            warnings.simplefilter("error", RuntimeWarning)
            est.inverse_transform(strict(codes))
    with warnings.catch_warnings(), pytest.raises(ValueError, match="The reconstructions of"):
        warnings.simplefilter("error", RuntimeWarning)
        small().fit(data).inverse_transform(codes)  # as on NumPy
    # Codes, likewise: float32 inputs whose float64 codes lie beyond float32's range.
    with config_context(array_api_dispatch=True):
        linear = small(hidden_layer_sizes=()).fit(strict(data))
        W = strict_to_numpy(linear.coefs_[0])[:, 0]
        assert np.abs(W).sum() > 1.5  # the first code reaches ~1.5 float32 max, or more
        X = np.vstack([data[:2], np.sign(W) * np.finfo(np.float32).max]).astype(np.float32)
        with warnings.catch_warnings(), pytest.raises(
            ValueError, match=r"codes of 1 row\(s\) of X \(the first: row 2\) overflow"
        ):
            warnings.simplefilter("error", RuntimeWarning)  # not the cast's warning
            linear.transform(strict(X))


def test_missing_values_are_refused_with_advice_that_works(data):
    holes = data.copy()
    holes[::7, 2] = np.nan
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="NumPy engine only: pass a NumPy array"):
            small().fit(strict(holes))
        est = small().fit(strict(data))
        for method in ("transform", "score_samples"):
            with pytest.raises(ValueError, match=r"NumPy engine only: move the model to NumPy "
                               r"\(sklearn\.utils\._array_api\.move_estimator_to"):
                getattr(est, method)(strict(holes))
        moved = move_estimator_to(est, np, "cpu")  # as advised
        codes = moved.transform(holes)
    assert np.isfinite(codes).all()


def test_an_interrupt_keeps_the_optimizer_state_of_the_last_complete_epoch(monkeypatch):
    from skae._xp_engine import ArrayAdam

    X = np.random.default_rng(0).normal(size=(120, 4))
    step = ArrayAdam.step
    calls = []

    def interrupted(self, grad):
        calls.append(None)
        if len(calls) > 7:  # in the third epoch of three steps
            raise KeyboardInterrupt
        step(self, grad)

    monkeypatch.setattr(ArrayAdam, "step", interrupted)
    est = AutoencoderTransformer(
        2, hidden_layer_sizes=(8,), batch_size=40, max_iter=50, n_init=1,
        early_stopping=False, random_state=0,
    )
    with config_context(array_api_dispatch=True):
        est.fit(xps.asarray(X))
    assert est.n_iter_ == 2
    assert est._optimizer_state["t"] == 6


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_interrupt_while_an_epoch_is_recorded_drops_it_whole(monkeypatch, early_stopping):
    """Landing after the counts are updated and before the checkpoint is, an interrupt
    drops that epoch from the counts as from the weights, as in the NumPy engine."""
    import skae._xp_engine as xp_engine

    X = np.random.default_rng(0).normal(size=(240, 4))
    params = dict(hidden_layer_sizes=(8,), batch_size=40, n_init=1,
                  early_stopping=early_stopping, random_state=0)
    with config_context(array_api_dispatch=True):
        reference = AutoencoderTransformer(2, max_iter=2, **params).fit(xps.asarray(X))
    counts, calls = xp_engine._counts, []

    def interrupted(result):
        calls.append(None)
        if len(calls) == 4:  # 1: before any epoch, 2 and 3: epochs 1 and 2
            raise KeyboardInterrupt
        return counts(result)

    monkeypatch.setattr(xp_engine, "_counts", interrupted)
    est = AutoencoderTransformer(2, max_iter=50, **params)
    with config_context(array_api_dispatch=True), pytest.warns(UserWarning, match="after 2"):
        est.fit(xps.asarray(X))
    assert est.n_iter_ == len(est.loss_curve_) == 2 and est.t_ == reference.t_
    assert est.loss_curve_ == reference.loss_curve_
    if early_stopping:
        assert est.best_validation_loss_ == reference.best_validation_loss_
    assert est._optimizer_state["t"] == reference._optimizer_state["t"]
    with config_context(array_api_dispatch=True):
        codes = [np.asarray(m.transform(xps.asarray(X))) for m in (est, reference)]
    assert_array_equal(*codes)
