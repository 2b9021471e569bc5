"""Scaling out on a real Dask cluster: grid search, out-of-core training, inference.

Needs the ``dask`` extra (``dask[distributed]``, ``dask-ml``); skipped without it.
"""

import logging
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from skae import AutoencoderTransformer

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
wrappers = pytest.importorskip("dask_ml.wrappers", reason="the dask extra is not installed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_FEATURES = 10
W = np.random.RandomState(1).normal(size=(2, N_FEATURES))


def manifold(n, seed):
    """Points near a 2-d curved sheet in 10-d."""
    rng = np.random.RandomState(seed)
    latent = rng.uniform(-1, 1, size=(n, 2))
    return np.tanh(latent @ W) + 0.02 * rng.normal(size=(n, N_FEATURES))


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _blas_threads():
    import numpy  # noqa: F401  (loads the BLAS that training uses)
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_workers_do_not_oversubscribe_blas(client):
    """One thread per worker, and BLAS inside it single-threaded too.

    Dask's nanny sets OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to 1
    in the worker processes it starts (``distributed.nanny.pre-spawn-environ``).
    """
    per_worker = client.run(_blas_threads)
    assert len(per_worker) == 2
    for threads in per_worker.values():
        assert threads and all(n == 1 for n in threads)


def test_grid_search_on_cluster_matches_local_run(client):
    X = manifold(300, seed=0)
    grid = {"n_components": [1, 2], "hidden_layer_sizes": [(8,), (16,)]}
    ae = AutoencoderTransformer(max_iter=15, batch_size=32, random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)

    local = GridSearchCV(ae, grid, cv=cv, n_jobs=1).fit(X)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(ae, grid, cv=cv, n_jobs=-1).fit(X)

    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_allclose(remote.cv_results_[key], local.cv_results_[key], rtol=1e-6)
    assert_allclose(remote.transform(X), local.transform(X), rtol=1e-6, atol=1e-8)
    assert remote.best_params_["n_components"] == 2


def test_incremental_streams_blocks_and_approaches_in_memory_fit(client):
    """dask_ml's Incremental feeds one block at a time to partial_fit."""
    n_blocks, block = 8, 500

    def make_block(block_info=None):
        (start, _), _ = block_info[None]["array-location"]
        return manifold(block, seed=100 + start // block)

    # Built lazily, block by block: the whole array never exists on the client.
    X = da.map_blocks(make_block, chunks=((block,) * n_blocks, (N_FEATURES,)), dtype=np.float64)
    assert X.numblocks == (n_blocks, 1)
    X_test = manifold(1000, seed=7)

    # A random start in memory too: partial_fit never guides one.
    params = dict(
        n_components=2, hidden_layer_sizes=(16,), batch_size=64, random_state=0, init="random"
    )
    n_passes = 10
    incremental = wrappers.Incremental(AutoencoderTransformer(**params), random_state=0)
    for _ in range(n_passes):
        incremental.partial_fit(X)
    streamed = incremental.estimator_
    # One partial_fit call, hence one epoch, per block and pass.
    assert streamed.n_iter_ == n_passes * n_blocks
    assert streamed.t_ == n_passes * n_blocks * block

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = AutoencoderTransformer(**params, max_iter=n_passes).fit(X.compute())
    streamed_error, in_memory_error = -streamed.score(X_test), -in_memory.score(X_test)
    assert streamed_error < 1.5 * in_memory_error
    assert streamed_error < 0.05 * X_test.var(axis=0).mean()

    codes = incremental.transform(X)
    assert isinstance(codes, da.Array)
    assert codes.compute().shape == (n_blocks * block, 2)


@pytest.fixture(scope="module")
def fitted_ae():
    X = manifold(400, seed=3)
    return AutoencoderTransformer(2, hidden_layer_sizes=(16,), max_iter=10, random_state=0).fit(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_post_fit_scores_blocks_on_cluster(client, fitted_ae, dtype):
    """ParallelPostFit's transform, and score_samples through map_blocks, on the workers."""
    ae = fitted_ae
    X = manifold(3000, seed=4).astype(dtype)
    X_dask = da.from_array(X, chunks=(700, N_FEATURES))
    assert X_dask.numblocks == (5, 1)

    codes = wrappers.ParallelPostFit(ae).transform(X_dask)
    assert isinstance(codes, da.Array)
    # ParallelPostFit keeps the input's chunks: the lazy shape says N_FEATURES columns
    with distributed.get_task_stream(client) as stream:
        computed = client.compute(codes).result()
    # the blocks were encoded on the workers
    assert {task["key"][0] for task in stream.data} >= {codes.name}
    assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])
    assert computed.shape == (X.shape[0], 2)
    assert computed.dtype == dtype
    assert_allclose(computed, ae.transform(X), rtol=1e-12, atol=1e-12)

    # ParallelPostFit has no score_samples; map_blocks applies the method block by block
    assert not hasattr(wrappers.ParallelPostFit(ae), "score_samples")
    scores = X_dask.map_blocks(ae.score_samples, drop_axis=1, dtype=np.float64)
    assert scores.chunks == (X_dask.chunks[0],)
    computed = client.compute(scores).result()
    assert_allclose(computed, ae.score_samples(X), rtol=1e-12, atol=1e-12)

    # with the output's chunks given, the lazy array has the right shape too
    codes = X_dask.map_blocks(ae.transform, chunks=(X_dask.chunks[0], (2,)), dtype=dtype)
    assert codes.shape == (X.shape[0], 2)
    assert_allclose(client.compute(codes).result(), ae.transform(X), rtol=1e-12, atol=1e-12)
