"""benchmarks/likelihood.py runs end to end on tiny settings (its numbers are not tested)."""

import io
import json

import numpy as np
import pytest

TINY = {"hidden_layer_sizes": (8,), "kl_warmup": 2, "early_stopping": True,
        "n_iter_no_change": 2, "max_iter": 3}


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("likelihood")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tiny_benchmark(bench, tmp_path, capsys):
    use_torch = bench.torch_missing() is None
    log = io.StringIO()
    records = bench.run(["s_curve"], [0, 1], TINY, n_samples=3, use_torch=use_torch, log=log)
    assert len(records) == 2 and log.getvalue().count("\n") == 2
    for r in records:
        assert np.isfinite([r["pca"], r["skae"], r["skae_elbo"]]).all()
        assert r["skae"] >= r["skae_elbo"] - 1.0  # the bound is near or above the ELBO
        assert ("torch_elbo" in r) == use_torch
    # The goals need nothing that format_table adds to the records.
    lines = bench.goals([dict(r) for r in records])
    assert len(lines) == 1 and "skae − PCA" in lines[0]
    gap = np.mean([r["skae"] - r["pca"] for r in records])
    assert f"skae − PCA = {gap:+.2f} nats" in lines[0]
    table = bench.format_table(records)
    assert table.count("\n") == 2 and "s_curve" in table
    assert bench.goals(records) == lines
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"records": records}))
    bench.main(["--load", str(path)])
    assert "s_curve" in capsys.readouterr().out


def test_torch_weights_evaluate_as_skae_would(bench):
    """The PyTorch VAE's weights, moved into skae's model, give the same ELBO as PyTorch."""
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    ref = bench.TorchVAE(2, hidden_layer_sizes=(5,), kl_warmup=0, max_iter=2,
                         n_iter_no_change=5).fit(X)
    eps = np.random.default_rng(1).standard_normal((60, 2))
    with torch.no_grad():
        expected = ref._losses(torch, torch.from_numpy(X), torch.from_numpy(eps).float(), 1.0)
    from skae._variational import VariationalObjective

    nll, kl = VariationalObjective(ref.model()).elbo_terms(X.astype(np.float64), eps)
    np.testing.assert_allclose(nll + kl, expected.numpy(), rtol=1e-4)


def test_sd_over_seeds(bench):
    """± is the sample standard deviation (ddof=1), as in the other benchmarks."""
    records = [{"pca": -4.0}, {"pca": -5.0}]
    mean, sd = bench._stats(records, "pca")
    assert mean == -4.5 and sd == pytest.approx(np.sqrt(0.5))
    assert bench._cell(records, "pca") == "-4.50 ± 0.71"
    assert np.isnan(bench._stats(records[:1], "pca")[1])
    assert bench._cell(records[:1], "pca") == "-4.00"


def test_main_runs_on_one_thread_and_gives_the_callers_back(bench, monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []
    monkeypatch.setattr(bench, "_main", lambda args: seen.append(blas()))
    with threadpool_limits(2):
        before = blas()
        bench.main(["--quick"])
        assert blas() == before
    assert seen == [[1] * len(before)]
    torch = pytest.importorskip("torch")  # loaded before main: its setting comes back
    kept = torch.get_num_threads()
    monkeypatch.setattr(bench, "_main", lambda args: torch.set_num_threads(1))
    torch.set_num_threads(2)
    try:
        bench.main(["--quick"])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(kept)
