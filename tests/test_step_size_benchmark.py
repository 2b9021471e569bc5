"""benchmarks/step_size.py runs end to end on tiny tasks; its summary divides what it says.

The benchmark's numbers and timings are not tested, only their structure.
"""

import io
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import AutoencoderTransformer

# The tiny fits stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "n_init": 1}


@pytest.fixture(scope="module")
def step_size(load_benchmark):
    return load_benchmark("step_size")


@pytest.fixture(scope="module")
def tiny_tasks(step_size):
    iris = lambda: load_iris(return_X_y=True)[0]  # noqa: E731
    return [
        step_size.Task("iris → 1", "narrow", iris, 1),
        step_size.Task("iris → 3, MinMaxScaler", "wide", iris, 3, MinMaxScaler),
    ]


def test_tiny_benchmark(step_size, tiny_tasks):
    log = io.StringIO()
    rates = (2e-3, 5e-3, 1e-2)
    records = step_size.run(tiny_tasks, [0, 1], rates, params=TINY, log=log)

    assert len(records) == 2 * 2 * (len(rates) + 1)
    assert log.getvalue().count("\n") == 4
    for record in records:
        assert record["mse"] > 0
        if record["method"] != "PCA":
            assert record["method"] == f"skae {record['rate']:g}"
            assert record["n_iter"] == TINY["max_iter"]
            assert record["fit_time"] > 0

    rows = step_size.summarize(records, rates)
    assert [row["task"] for row in rows] == [task.name for task in tiny_tasks]
    by = {(r["task"], r["seed"], r["method"]): r["mse"] for r in records}
    for row in rows:
        for rate in rates[1:]:
            ratios = [by[row["task"], s, f"skae {rate:g}"] / by[row["task"], s, "skae 0.002"]
                      for s in (0, 1)]
            ratio, lower, n = row[f"{rate:g}"]
            assert_allclose(ratio, math.sqrt(ratios[0] * ratios[1]))
            assert (lower, n) == (sum(r < 1 for r in ratios), 2)
        pca = [by[row["task"], s, "PCA"] / by[row["task"], s, "skae 0.002"] for s in (0, 1)]
        assert_allclose(row["PCA"], math.sqrt(pca[0] * pca[1]))

    table = step_size.format_table(rows, rates).splitlines()
    assert len(table) == 2 + len(tiny_tasks)
    assert "0.005 / 0.002" in table[0] and "0.01 / 0.002" in table[0]
    for row, line in zip(rows, table[2:], strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        ratio, lower, n = row["0.005"]
        assert cells[:3] == [row["task"], row["kind"], f"{ratio:.2f}× ({lower}/{n})"]
        assert cells[-1] == f"{row['PCA']:.2f}×"


@pytest.mark.parametrize("seed", [0, 1])
def test_the_errors_are_those_of_the_held_out_part_of_each_seeds_split(
    step_size, tiny_tasks, seed
):
    """Recomputed here: the seed's split, the scaler fitted on its training part,
    the model at each rate, and the error of the held-out part in scaled units."""
    task = tiny_tasks[1]
    rates = (2e-3, 5e-3)
    records = step_size.run([task], [seed], rates, params=TINY, log=io.StringIO())
    X_train, X_test = train_test_split(task.load(), test_size=0.25, random_state=seed)
    scaler = task.scaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    by = {record["method"]: record["mse"] for record in records}
    for rate in rates:
        model = AutoencoderTransformer(  # random starts and ReLU units, as the benchmark fits
            task.n_components, learning_rate_init=rate, random_state=seed, init="random",
            activation="relu", **TINY,
        ).fit(X_train)
        assert by[f"skae {rate:g}"] == -model.score(X_test)
    assert by["skae 0.002"] != by["skae 0.005"]
    pca = PCA(task.n_components, random_state=seed).fit(X_train)
    reconstructed = pca.inverse_transform(pca.transform(X_test))
    assert_allclose(by["PCA"], np.mean((reconstructed - X_test) ** 2))


def test_one_rate_is_refused(step_size, capsys):
    with pytest.raises(SystemExit):
        step_size.main(["--rates", "0.002"])
    assert "at least two rates" in capsys.readouterr().err
