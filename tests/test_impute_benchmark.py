"""benchmarks/impute.py runs end to end on small data (its numbers and timings are not tested)."""

import io
import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("impute", "impute_benchmark")


def test_small_benchmark(bench):
    all_methods = bench.make_methods({"hidden_layer_sizes": (8,), "max_iter": 3})
    methods = {k: all_methods[k] for k in ("skae", "mean", "KNN")}
    datasets = [bench.DATASETS["iris"], bench.DATASETS["mixed_wine"]]
    log = io.StringIO()
    records = bench.run(datasets, methods, [0.2], [0, 1], log=log)
    # mixed tables add "most frequent"
    assert len(records) == 2 * 3 + 2 * 4
    assert log.getvalue().count("\n") == 4
    for record in records:
        assert record["mse"] >= 0 and record["fit_time"] >= 0
        assert ("accuracy" in record) == (record["dataset"] == "mixed_wine")
    mean = [r["mse"] for r in records if r["method"] == "mean" and r["dataset"] == "iris"]
    assert 0.5 < np.mean(mean) < 1.5  # mean imputation scores about 1 in standardized units
    table = bench.format_table(records)
    assert "**mixed_wine**" in table and "accuracy 20%" in table
    assert any("category accuracy" in sentence for _, sentence in bench.goals(records))


def test_mixed_table_groups_and_masks(bench):
    table, groups, n_numeric = bench.mixed_table(bench.DATASETS["mixed_wine"])
    assert n_numeric == 9 and len(groups) == 5  # four binned columns and the cultivar
    for g in groups:
        np.testing.assert_array_equal(table[:, g].sum(axis=1), 1)
    hidden = bench.mask_variables(table.shape, 0.3, groups, np.random.RandomState(0))
    for g in groups:
        assert (hidden[:, g] == hidden[:, [g[0]]]).all()  # a category is hidden whole
    np.testing.assert_allclose(hidden[:, :n_numeric].mean(), 0.3, atol=0.03)


def test_command_line_seeds_and_threads(bench, tmp_path, capsys):
    json_path = tmp_path / "results.json"
    bench.main(
        ["--datasets", "iris", "--rates", "0.2", "--seeds", "2", "--first-seed", "7"]
        + ["--skae-params", '{"hidden_layer_sizes": [8], "max_iter": 3}']
        + ["--json", str(json_path)]
    )
    out = capsys.readouterr().out
    assert "seeds [7, 8]" in out.splitlines()[-1]
    results = json.loads(json_path.read_text())
    assert sorted({r["seed"] for r in results["records"]}) == [7, 8]
    assert results["settings"]["first_seed"] == 7
    # The machine is recorded inside the run's one-thread limit.
    assert all(pool["num_threads"] == 1 for pool in results["machine"]["thread_pools"])


def test_goals_give_no_verdict_where_nothing_was_hidden(bench):
    # A rate too small to hide a numeric entry gives NaN errors: no "met" from them.
    records = [
        {"dataset": "iris", "rate": 0.0005, "method": m, "mse": np.nan, "fit_time": 0.0}
        for m in ("skae", "mean", "KNN")
    ]
    verdicts = bench.goals(records)
    assert verdicts == [(None, "iris 0.05%: no numeric entry hidden (raise --rates)")]
