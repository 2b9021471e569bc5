"""benchmarks/compare.py runs end to end, on tiny data (its numbers and timings are not tested)."""

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_benchmark(compare):
    tasks = [(compare.DATASETS["s_curve"], 2), (compare.DATASETS["manifold_5d"], 5)]
    methods = compare.make_methods(
        skae_params={"hidden_layer_sizes": (8,), "max_iter": 3},
        tuning_grid={"alpha": [0.0, 1e-3]},
        cv=2,
    )
    log = io.StringIO()
    records, embeddings = compare.run(tasks, methods, seeds=[0, 1], max_samples=120, log=log)

    assert len(records) == len(tasks) * 2 * len(methods)
    assert log.getvalue().count("\n") == len(tasks) * 2
    for record in records:
        assert record["shape"][0] == 120
        assert 0 <= record["trust_5"] <= 1 and 0 <= record["trust_10"] <= 1
        assert record["fit_time"] >= 0
        assert ("mse" in record) == (record["method"] != "Isomap")
        assert ("knn_accuracy" in record) == (record["dataset"] == "s_curve")
        # The benchmark must not rely on anything scikit-learn is about to change.
        assert not [w for w in record.get("warnings", ()) if "Deprecation" in w or "Future" in w]
    for record in records:
        if record["method"] == "PCA":
            assert record["mse_vs_pca"] == 1
        if "mse" in record:
            assert record["mse"] > 0 and record["fvu"] > 0
    tuned = [r for r in records if r["method"] == "skae tuned"]
    assert all(r["best_params"]["alpha"] in (0.0, 1e-3) for r in tuned)

    # Only 2-D tasks, first seed, every method; codes of the held-out part with labels.
    assert set(embeddings) == {("s_curve", method) for method in methods}
    codes, labels = embeddings["s_curve", "PCA"]
    assert codes.shape == (30, 2) and labels.shape == (30,)

    table = compare.format_table(records)
    for name in ("s_curve to 2-D", "manifold_5d to 5-D", *methods, "MSE/PCA", "trust@5"):
        assert name in table
    assert all(isinstance(line, str) for line in compare.losses_to_pca(records))


def test_command_line(compare, tmp_path, capsys):
    json_path = tmp_path / "results.json"
    argv = ["--quick", "--datasets", "breast_cancer", "--max-samples", "100"]
    argv += ["--json", str(json_path)]
    if importlib.util.find_spec("matplotlib") is not None:
        argv += ["--plot", str(tmp_path / "embeddings.png")]
    compare.main(argv)

    out = capsys.readouterr().out
    assert "breast_cancer to 2-D" in out and "breast_cancer to 5-D" in out
    assert "Where skae does not beat PCA" in out
    results = json.loads(json_path.read_text())
    assert results["settings"]["quick"] is True
    assert results["machine"]["numpy"] == np.__version__
    # --quick: one seed, no grid search.
    assert {r["method"] for r in results["records"]} == {"PCA", "KernelPCA", "Isomap", "skae"}
    assert len(results["records"]) == 2 * 4
    if "--plot" in argv:
        assert (tmp_path / "embeddings.png").stat().st_size > 0
