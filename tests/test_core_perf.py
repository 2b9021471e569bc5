"""The fast paths of the NumPy core give the results of the simple ones."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skae._network as network_module
import skae._training as training_module
from skae._activations import ACTIVATIONS, DERIVATIVES
from skae._losses import LOSSES
from skae._network import Network, Workspace
from skae._optim import Adam
from skae._training import _copies_per_epoch, train

ARCHITECTURES = [((5, 7, 3, 6, 5), 2), ((4, 2, 4), 1), ((6, 8, 5, 2, 3, 6), 3)]


def make_network(sizes, n_encoder, activation, loss, dtype, seed):
    rng = np.random.RandomState(seed)
    network = Network(sizes, n_encoder, activation, loss, dtype=dtype)
    network.initialize(np.random.default_rng(seed))
    network.params += 0.1 * rng.standard_normal(network.params.size).astype(dtype)
    return network


def gradient(network, X, sample_weight, alpha, fold):
    ws = Workspace(network.layer_sizes, X.shape[0], network.dtype, fold=fold)
    ws.inputs[...] = X
    loss = network.loss_gradient(ws, sample_weight, alpha)
    return loss, network.grad.copy(), [a.copy() for a in ws.activations]


@pytest.mark.parametrize("gather_max", [8192, 0], ids=["gather", "blockcopy"])
@pytest.mark.parametrize("sizes, n_encoder", ARCHITECTURES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_folded_biases_match_separate_biases(
    sizes, n_encoder, activation, loss, gather_max, monkeypatch
):
    monkeypatch.setattr(network_module, "_GATHER_MAX_PARAMS", gather_max)
    network = make_network(sizes, n_encoder, activation, loss, np.float64, 0)
    rng = np.random.RandomState(1)
    X = rng.uniform(size=(9, sizes[0]))
    sample_weight = rng.uniform(size=9)
    for sw, alpha in [(None, 0.0), (sample_weight, 0.3)]:
        loss_a, grad_a, acts_a = gradient(network, X, sw, alpha, fold=False)
        loss_b, grad_b, acts_b = gradient(network, X, sw, alpha, fold=True)
        assert_allclose(loss_b, loss_a, rtol=1e-12)
        assert_allclose(grad_b, grad_a, rtol=1e-10, atol=1e-13)
        for a, b in zip(acts_a, acts_b, strict=True):
            assert_allclose(b, a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fold", [False, True])
def test_forward_stop_and_batch_errors_agree_across_layouts(fold):
    network = make_network((6, 8, 5, 2, 3, 6), 3, "relu", "squared_error", np.float32, 2)
    X = np.random.RandomState(3).standard_normal((11, 6)).astype(np.float32)
    ws = Workspace(network.layer_sizes, 11, network.dtype, fold=fold)
    ws.inputs[...] = X
    codes = network.forward(ws, stop=network.n_encoder_layers)
    assert codes.dtype == np.float32
    assert_allclose(codes, network.encode(X), rtol=1e-5, atol=1e-6)
    assert_allclose(network.batch_errors(ws), network.sample_errors(X), rtol=1e-5)


def test_folding_is_chosen_by_size_and_is_float32_throughout():
    small = Network((10, 64, 2, 64, 10), 2, "relu", "squared_error", dtype=np.float32)
    big = Network((784, 512, 32, 512, 784), 2, "relu", "squared_error", dtype=np.float32)
    assert small.workspace(256).fold and not big.workspace(256).fold
    ws = small.workspace(256)
    buffers = [ws.inputs, ws.scratch, *ws.activations, *ws.deltas, *ws.augmented]
    assert all(b.dtype == np.float32 for b in buffers)
    assert small.workspace(256) is ws and small.workspace(256, cached=False) is not ws


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "softplus", "tanh", "logistic"])
def test_buffered_activations_equal_plain_ones(name):
    rng = np.random.RandomState(0)
    A = rng.standard_normal((7, 5))
    plain, buffered = A.copy(), A.copy()
    ACTIVATIONS[name](plain)
    ACTIVATIONS[name](buffered, np.zeros_like(A))
    assert_array_equal(buffered, plain)
    delta = rng.standard_normal((7, 5))
    plain_delta, buffered_delta = delta.copy(), delta.copy()
    DERIVATIVES[name](plain, plain_delta)
    DERIVATIVES[name](plain, buffered_delta, np.empty((7, 5), dtype=bool))
    assert_array_equal(buffered_delta, plain_delta)


def test_relu_derivative_zeroes_exactly_the_inactive_units():
    Z = np.maximum(np.random.RandomState(0).standard_normal((50, 4)), 0)
    delta = np.random.RandomState(1).standard_normal((50, 4))
    expected = np.where(Z > 0, delta, 0.0)
    DERIVATIVES["relu"](Z, delta, np.empty(Z.shape, dtype=bool))
    assert_array_equal(delta, expected)


def run_train(X, dtype, sample_weight, shuffle, batch_size, monkeypatch, copy_limit):
    monkeypatch.setattr(training_module, "EPOCH_COPY_MAX_BYTES", copy_limit)
    network = Network((X.shape[1], 9, 3, 9, X.shape[1]), 2, "relu", "squared_error", dtype=dtype)
    network.initialize(np.random.default_rng(0))
    optimizer = Adam(network.params)
    result = train(
        network,
        optimizer,
        X,
        sample_weight=sample_weight,
        batch_size=batch_size,
        max_epochs=3,
        shuffle=shuffle,
        random_state=np.random.default_rng(5),
    )
    return network.params.copy(), result.loss_curve


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [16, 37, 500])
def test_epoch_shuffle_equals_per_batch_gather(dtype, weighted, shuffle, batch_size, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((203, 6)).astype(dtype)
    X.setflags(write=False)  # training must never write to the data
    sample_weight = rng.uniform(size=203).astype(dtype) if weighted else None
    args = (X, dtype, sample_weight, shuffle, batch_size, monkeypatch)
    params_copy, curve_copy = run_train(*args, copy_limit=2**30)
    params_gather, curve_gather = run_train(*args, copy_limit=0)
    assert params_copy.dtype == dtype
    assert_array_equal(params_copy, params_gather)
    assert curve_copy == curve_gather


def test_only_small_in_memory_arrays_are_copied_per_epoch(tmp_path):
    small = np.zeros((100, 10), dtype=np.float32)
    assert _copies_per_epoch(small, 100)
    assert not _copies_per_epoch(small, training_module.EPOCH_COPY_MAX_BYTES)
    path = tmp_path / "X.f32"
    np.memmap(path, dtype=np.float32, mode="w+", shape=(100, 10)).flush()
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=(100, 10))
    assert not _copies_per_epoch(mapped, 100)
    assert not _copies_per_epoch(np.asarray(mapped), 100)  # validation strips the subclass
    assert not _copies_per_epoch(np.asarray(mapped)[10:], 90)
