"""The fast paths of the NumPy core give the results of the simple ones."""

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skae._activations as activations_module
import skae._data as data_module
from skae._activations import ACTIVATIONS, DERIVATIVES
from skae._data import BatchSource, Corruption, copies_per_epoch
from skae._model import Network
from skae._objectives import Objective
from skae._optim import Adam
from skae._training import train


def test_forward_stop_gives_the_codes_in_float32():
    network = Network((6, 8, 5, 2, 3, 6), 3, "relu", dtype=np.float32)
    network.initialize(np.random.default_rng(2))
    X = np.random.RandomState(3).standard_normal((11, 6)).astype(np.float32)
    ws = network.workspace(11)
    ws.bind_inputs(X)
    codes = network.forward(ws, stop=network.n_encoder_layers)
    assert codes.dtype == np.float32
    assert_allclose(codes, network.encode(X), rtol=1e-5, atol=1e-6)
    buffers = [*ws.activations[1:], *ws.deltas, ws.ones]
    assert all(b.dtype == np.float32 for b in buffers)
    assert network.workspace(11) is ws


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("buffered", [False, True])
def test_elu_gives_expm1_of_the_negative_entries_bit_for_bit(dtype, buffered, monkeypatch):
    # Several blocks of rows and a partial last one, without the buffer.
    monkeypatch.setattr(activations_module, "ELU_BLOCK", 60)
    rng = np.random.RandomState(0)
    A = (rng.standard_normal((41, 7)) * 3).astype(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    A[0] = [-0.0, 0.0, -tiny, tiny, -np.inf, np.inf, np.nan]
    A[1, :3] = [-800.0, 1e-30, -1e-30]
    expected = A.copy()
    np.expm1(expected, out=expected, where=expected < 0)
    out = A.copy()
    ACTIVATIONS["elu"](out, np.zeros_like(A) if buffered else None)
    assert out.dtype == dtype
    assert_array_equal(out, expected)
    # expm1 rounded is never below its argument: at every scale from the smallest
    # subnormal on, to every bit (no zeros here, whose sign min and max may order).
    low = np.log10(np.finfo(dtype).smallest_subnormal)
    a = np.concatenate([-np.logspace(low, 3, 200_001), np.logspace(low, 3, 1001)]).astype(dtype)
    a = a[a != 0]
    out = a.reshape(-1, 1).copy()
    ACTIVATIONS["elu"](out, np.zeros_like(out) if buffered else None)
    expected = np.where(a < 0, np.expm1(np.minimum(a, 0)), a)
    uint = np.uint32 if dtype == np.float32 else np.uint64
    assert_array_equal(out.ravel().view(uint), expected.view(uint))

    Z = expected[2:]  # finite outputs: the derivative of a NaN does not matter
    delta = rng.standard_normal(Z.shape).astype(dtype)
    wanted = delta.copy()
    np.multiply(wanted, Z + 1, out=wanted, where=Z < 0)
    DERIVATIVES["elu"](Z, delta, np.empty(Z.shape, dtype=bool))
    assert_array_equal(delta, wanted)


def test_elu_without_a_buffer_keeps_its_scratch_to_a_block(monkeypatch):
    # Inference applies it to all the rows of a layer at once: its scratch must
    # not be another array of that size.
    monkeypatch.setattr(activations_module, "ELU_BLOCK", 1000)
    X = np.random.RandomState(1).standard_normal((2000, 50))  # 800 kB
    expected = X.copy()
    np.expm1(expected, out=expected, where=expected < 0)
    tracemalloc.start()
    try:
        ACTIVATIONS["elu"](X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000  # a block of 20 rows is 8 kB
    assert_array_equal(X, expected)


def test_relu_derivative_zeroes_exactly_the_inactive_units():
    Z = np.maximum(np.random.RandomState(0).standard_normal((50, 4)), 0)
    delta = np.random.RandomState(1).standard_normal((50, 4))
    expected = np.where(Z > 0, delta, 0.0)
    DERIVATIVES["relu"](Z, delta, np.empty(Z.shape, dtype=bool))
    assert_array_equal(delta, expected)


def run_train(X, dtype, sample_weight, shuffle, batch_size, noise, monkeypatch, copy_limit):
    monkeypatch.setattr(data_module, "EPOCH_COPY_MAX_BYTES", copy_limit)
    network = Network((X.shape[1], 9, 3, 9, X.shape[1]), 2, "relu", dtype=dtype)
    network.initialize(np.random.default_rng(0))
    corruption = None
    if noise is not None:
        low, high = X.min(axis=0), X.max(axis=0)
        corruption = Corruption(noise, 0.2, np.random.default_rng(9), low, high)
    source = BatchSource(
        X, np.arange(X.shape[0]), sample_weight, batch_size, shuffle=shuffle,
        corruption=corruption,
    )
    objective = Objective(network, "squared_error", alpha=1e-3)
    result = train(
        objective, Adam(network.params), source, rng=np.random.default_rng(5), max_epochs=3
    )
    return network.params.copy(), result.loss_curve


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [16, 37, 500])
@pytest.mark.parametrize("noise", [None, "gaussian", "salt_and_pepper"])
def test_epoch_shuffle_equals_per_batch_gather(
    dtype, weighted, shuffle, batch_size, noise, monkeypatch
):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((203, 6)).astype(dtype)
    X.setflags(write=False)  # training must never write to the data
    sample_weight = rng.uniform(size=203).astype(dtype) if weighted else None
    args = (X, dtype, sample_weight, shuffle, batch_size, noise, monkeypatch)
    params_copy, curve_copy = run_train(*args, copy_limit=2**30)
    params_gather, curve_gather = run_train(*args, copy_limit=0)
    assert params_copy.dtype == dtype
    assert_array_equal(params_copy, params_gather)
    assert curve_copy == curve_gather


def test_only_small_in_memory_arrays_are_copied_per_epoch(tmp_path):
    small = np.zeros((100, 10), dtype=np.float32)
    assert copies_per_epoch(small, 100)
    assert not copies_per_epoch(small, data_module.EPOCH_COPY_MAX_BYTES)
    path = tmp_path / "X.f32"
    np.memmap(path, dtype=np.float32, mode="w+", shape=(100, 10)).flush()
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=(100, 10))
    assert not copies_per_epoch(mapped, 100)
    assert not copies_per_epoch(np.asarray(mapped), 100)  # validation strips the subclass
    assert not copies_per_epoch(np.asarray(mapped)[10:], 90)
