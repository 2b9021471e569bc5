"""benchmarks/guided_start.py runs end to end on tiny tasks; its summary divides what it says.

The benchmark's numbers and timings are not tested, only their structure.
"""

import io
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

# The tiny fits stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "n_init": 2}


@pytest.fixture(scope="module")
def guided_start(load_benchmark):
    return load_benchmark("guided_start")


@pytest.fixture(scope="module")
def tiny_tasks(guided_start):
    iris = lambda: load_iris(return_X_y=True)[0]  # noqa: E731
    return [
        guided_start.Task("iris", "table", iris, 2),  # 112 training rows: guided
        guided_start.Task("iris", "table", iris, 2, 60),  # 45: too few for "auto"
        guided_start.Task("iris", "table", iris, 4),  # too wide for "auto"
    ]


def test_tiny_benchmark(guided_start, tiny_tasks):
    log = io.StringIO()
    records = guided_start.run(tiny_tasks, [0, 1], params=TINY, log=log)

    assert len(records) == 3 * 2 * 2
    assert log.getvalue().count("\n") == 3 * 2
    assert [r["init"] for r in records[:2]] == ["random", "isomap"]
    for record in records:
        assert record["mse"] > 0 and record["fit_time"] > 0
        assert record["n_iter"] == TINY["max_iter"]
    assert {r["n_train"] for r in records} == {112, 45}
    assert [r["auto_guides"] for r in records[::4]] == [True, False, False]

    rows = guided_start.summarize(records)
    assert [row["task"] for row in rows] == ["iris → 2", "iris → 2, 60 rows", "iris → 4"]
    assert [row["auto"] for row in rows] == [2, 0, 0]
    by = {(r["task"], r["seed"], r["init"]): r for r in records}
    for row in rows:
        ratios = [by[row["task"], s, "isomap"]["mse"] / by[row["task"], s, "random"]["mse"]
                  for s in (0, 1)]
        assert_allclose(row["ratio"], math.sqrt(ratios[0] * ratios[1]))
        assert (row["lower"], row["n"]) == (sum(r < 1 for r in ratios), 2)
        times = [by[row["task"], s, "isomap"]["fit_time"]
                 / by[row["task"], s, "random"]["fit_time"] for s in (0, 1)]
        assert_allclose(row["time"], np.median(times))

    table = guided_start.format_table(rows).splitlines()
    assert len(table) == 2 + len(tiny_tasks)
    for row, line in zip(rows, table[2:], strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[:3] == [row["task"], str(row["n_train"]), "yes" if row["auto"] else "no"]
        assert cells[3] == f"{row['ratio']:.2f}× ({row['lower']}/2, {row['same']}/2)"


def test_same_counts_the_splits_whose_guided_fit_is_the_random_one(guided_start):
    def record(seed, init, mse, weights):
        return {"task": "t", "kind": "table", "n_train": 200, "auto_guides": seed != 2,
                "seed": seed, "init": init, "mse": mse, "fit_time": 1.0, "weights": weights}

    records = [
        # The same error from other weights is another model: not "same".
        record(0, "random", 2.0, 5.0), record(0, "isomap", 2.0, 4.0),
        record(1, "random", 2.0, 5.0), record(1, "isomap", 2.0, 5.0),
        record(2, "random", 1.0, 5.0), record(2, "isomap", 0.5, 3.0),
    ]
    (row,) = guided_start.summarize(records)
    assert (row["lower"], row["same"], row["n"], row["auto"]) == (1, 1, 3, 2)
    assert_allclose(row["ratio"], 0.5 ** (1 / 3))
    line = guided_start.format_table([row]).splitlines()[2]
    assert "| 2/3 |" in line and "0.79× (1/3, 1/3)" in line


@pytest.mark.parametrize("seed", [0, 1])
def test_the_errors_are_those_of_the_held_out_part_of_each_seeds_draw(
    guided_start, tiny_tasks, seed
):
    """Recomputed here: the seed's draw of rows, its split, the scaler fitted on the
    training part, both starts' models, and the error of the held-out part."""
    task = tiny_tasks[1]
    # An init among the parameters is overridden: each record's start is its own.
    records = guided_start.run([task], [seed], params={**TINY, "init": "random"},
                               log=io.StringIO())
    X = task.load()
    rows = np.random.default_rng(1000 + seed).choice(len(X), size=60, replace=False)
    X_train, X_test = train_test_split(X[rows], test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    by = {record["init"]: record for record in records}
    for init in ("random", "isomap"):
        model = AutoencoderTransformer(2, random_state=seed, init=init, **TINY).fit(X_train)
        assert by[init]["mse"] == -model.score(X_test)
        assert by[init]["weights"] == np.sum(model.coefs_[0] ** 2)
    assert by["random"]["mse"] != by["isomap"]["mse"]
