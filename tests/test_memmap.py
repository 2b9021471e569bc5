"""Training on memory-mapped arrays without reading them into memory."""

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import config_context

from skae import AutoencoderTransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_SAMPLES, N_FEATURES = 40_000, 100
# The validation split hashes rows in chunks of this many rows (skae._training.row_keys).
HASH_CHUNK_ROWS = 8192


def write_memmap(path, dtype):
    """A read-only memory-mapped .npy file, written in chunks."""
    rng = np.random.RandomState(0)
    basis = rng.normal(size=(4, N_FEATURES))
    X = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(N_SAMPLES, N_FEATURES))
    for start in range(0, N_SAMPLES, 10_000):
        X[start : start + 10_000] = rng.normal(size=(10_000, 4)) @ basis
    X.flush()
    del X
    X = np.load(path, mmap_mode="r")
    assert isinstance(X, np.memmap) and not X.flags.writeable
    return X


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["float64", "float32"])
def memmap(request, tmp_path_factory):
    return write_memmap(tmp_path_factory.mktemp("memmap") / "X.npy", request.param)


def peak_allocation(func):
    """Peak bytes newly allocated on the heap while ``func`` runs, and its result."""
    tracemalloc.start()
    try:
        result = func()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n_init", [1, 4])
def test_fit_streams_minibatches_from_a_memmap(memmap, n_init):
    ae = AutoencoderTransformer(
        4, hidden_layer_sizes=(16,), max_iter=2, random_state=0, early_stopping=False,
        n_init=n_init,
    )
    peak, _ = peak_allocation(lambda: ae.fit(memmap))
    # Index arrays and minibatch buffers only: a copy of X would be X.nbytes. Several
    # starts add the buffers of the networks alive at once (the best so far, the last
    # start and the next).
    bound = memmap.nbytes / 8 if n_init == 1 else memmap.nbytes / 6
    assert peak < bound, (peak, memmap.nbytes)
    assert ae._params.dtype == memmap.dtype
    assert ae.n_iter_ == 2


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_column_major_memmap_is_read_by_minibatch_not_whole(memmap, tmp_path, early_stopping):
    """np.save of a data frame's to_numpy() writes column-major: NumPy's take would
    copy such a file whole for every minibatch. Same model as from the row-major file."""
    path = tmp_path / "F.npy"
    F = np.lib.format.open_memmap(
        path, mode="w+", dtype=memmap.dtype, shape=memmap.shape, fortran_order=True
    )
    F[:] = memmap
    F.flush()
    del F
    F = np.load(path, mmap_mode="r")
    assert F.flags.f_contiguous and not F.flags.c_contiguous
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_iter=2, random_state=0,
                  n_init=1, early_stopping=early_stopping)
    ae = AutoencoderTransformer(**params)
    peak, _ = peak_allocation(lambda: ae.fit(F))
    hash_buffer = 2 * HASH_CHUNK_ROWS * N_FEATURES * 8 if early_stopping else 0
    assert peak < memmap.nbytes / 8 + hash_buffer, (peak, memmap.nbytes)
    reference = AutoencoderTransformer(**params).fit(memmap)
    np.testing.assert_array_equal(ae._params, reference._params)
    # Neither row- nor column-major (a strided view): indexed, same rows.
    view = np.load(path, mmap_mode="r")[:, ::2]
    assert not (view.flags.c_contiguous or view.flags.f_contiguous)
    strided = AutoencoderTransformer(**params).fit(view)
    contiguous = AutoencoderTransformer(**params).fit(np.ascontiguousarray(view))
    np.testing.assert_array_equal(strided._params, contiguous._params)


def test_early_stopping_split_reads_a_memmap_in_chunks(tmp_path):
    memmap = write_memmap(tmp_path / "X.npy", np.float64)
    ae = AutoencoderTransformer(
        4, hidden_layer_sizes=(16,), max_iter=2, random_state=0, early_stopping=True
    )
    peak, _ = peak_allocation(lambda: ae.fit(memmap))
    # Plus a buffer of fixed size for hashing rows: still far from a copy of X.
    hash_buffer = 2 * HASH_CHUNK_ROWS * N_FEATURES * 8
    assert peak < memmap.nbytes / 8 + hash_buffer < memmap.nbytes * 0.6, (peak, memmap.nbytes)
    assert len(ae.validation_loss_curve_) == 2


def test_partial_fit_and_inference_on_a_memmap(memmap):
    ae = AutoencoderTransformer(4, hidden_layer_sizes=(16,), random_state=0)
    peak, _ = peak_allocation(lambda: ae.partial_fit(memmap))
    assert peak < memmap.nbytes / 8, (peak, memmap.nbytes)
    # Inference works in chunks sized by scikit-learn's working_memory (in MiB).
    with config_context(working_memory=1):
        peak, scores = peak_allocation(lambda: ae.score_samples(memmap))
    assert peak < memmap.nbytes / 8, (peak, memmap.nbytes)
    in_memory = np.asarray(memmap[:1000])
    expected = ae.score_samples(in_memory)
    # Other chunks, other rounding: in float32 a near-exact reconstruction's error
    # cancels, so it is close to the scores' scale rather than to each score.
    assert_allclose(scores[:1000], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert ae.transform(memmap).shape == (N_SAMPLES, 4)


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["float64", "float32"])
def unit_memmap_with_holes(request, tmp_path_factory):
    """A read-only memmap of values in (0, 1) with 5 % of its entries missing."""
    path = tmp_path_factory.mktemp("memmap") / "U.npy"
    rng = np.random.RandomState(1)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=request.param,
                                  shape=(N_SAMPLES, N_FEATURES))
    for start in range(0, N_SAMPLES, 10_000):
        block = 1 / (1 + np.exp(-rng.normal(size=(10_000, N_FEATURES))))
        block[rng.uniform(size=block.shape) < 0.05] = np.nan
        X[start : start + 10_000] = block
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


def test_cross_entropy_with_missing_entries_reads_a_memmap_in_chunks(unit_memmap_with_holes):
    """Finding the holes and the range of the observed entries (the cross-entropy's
    warning) takes no copy of X, nor a mask of it."""
    X = unit_memmap_with_holes
    ae = AutoencoderTransformer(4, hidden_layer_sizes=(16,), loss="binary_crossentropy",
                                random_state=0)
    # scikit-learn's check_array masks the infinities of data holding NaN: a byte an entry.
    bound = X.size + X.nbytes / 4
    peak, _ = peak_allocation(lambda: ae.partial_fit(X))
    assert peak < bound, (peak, X.nbytes)
    with config_context(working_memory=1):
        peak, scores = peak_allocation(lambda: ae.score_samples(X))
    assert peak < bound, (peak, X.nbytes)
    assert np.isfinite(scores).all()
    new = np.array(X[:50])
    new[0, np.flatnonzero(~np.isnan(new[0]))[0]] = 2.0
    assert np.isnan(new).any()
    with pytest.warns(UserWarning, match=rf"ranges over \[{np.nanmin(new):.3g}, 2\]"):
        ae.score_samples(new)  # the observed entries' range: NaN left out
