"""benchmarks/anomaly.py runs end to end on small data (its numbers are not tested here)."""

import io

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from skae import AutoencoderOutlierDetector


@pytest.fixture(scope="module")
def anomaly(load_benchmark):
    return load_benchmark("anomaly")


def test_split_protocol(anomaly):
    (_, normal, anomalies), *_ = anomaly.load_wine_cases()
    test_sets = []
    for contamination in anomaly.SETTINGS.values():
        X_train, X_test, y_test = anomaly.split(normal, anomalies, contamination, seed=0)
        n_train = int(anomaly.TRAIN_SHARE * len(normal))
        n_added = len(X_train) - n_train
        assert n_added == anomaly._n_added(contamination, n_train)
        if contamination:
            assert abs(n_added / len(X_train) - contamination) < 1 / len(X_train)
        assert np.abs(X_train.mean(axis=0)).max() < 1e-8  # scaled on the training part
        assert 0 < y_test.sum() <= len(anomalies) // 2
        test_sets.append(X_test)
    # The same test rows in every setting.
    assert {len(X) for X in test_sets} == {len(test_sets[0])}


def test_tiny_benchmark(anomaly):
    methods = {
        anomaly.SKAE: lambda seed: anomaly._Detector(
            AutoencoderOutlierDetector(hidden_layer_sizes=(8,), max_iter=5, random_state=seed)
        ),
        "IsolationForest": lambda seed: anomaly._Detector(
            IsolationForest(n_estimators=10, random_state=seed)
        ),
        "PCA(2) residual": lambda seed: anomaly._PCAResidual(2),
    }
    settings = {"clean": 0.0, "10%": 0.1}
    log = io.StringIO()
    records = anomaly.run(["wine"], methods, [0, 1], settings, log=log)
    assert len(records) == 3 * 2 * 2 * len(methods)  # classes x settings x seeds x methods
    assert log.getvalue().count("\n") == 3 * 2 * 2
    for record in records:
        assert 0 <= record["roc_auc"] <= 1 and 0 < record["average_precision"] <= 1
        assert record["fit_time"] >= 0
    table = anomaly.format_table(records, "roc_auc", ["wine"], list(methods))
    assert table.count("\n") == 2 + 2  # header, rule, two settings, the mean
    assert "| wine | 10% |" in table
    assert anomaly.format_times(records, ["wine"], list(methods)).count("| wine |") == 1
    report = anomaly.goal_report(records)
    assert report[0].startswith("mean ROC AUC: skae")
    assert f"judged without {anomaly.PYOD}" in report[0]  # pyod is not among the methods

    # ± is the sample sd over seeds (ddof=1), and there is none with one seed.
    summary = anomaly.summarize(records, "roc_auc")
    [[case_mean_seed0, case_mean_seed1]] = [
        [
            np.mean(
                [
                    r["roc_auc"]
                    for r in records
                    if (r["setting"], r["method"], r["seed"]) == ("clean", anomaly.SKAE, seed)
                ]
            )
            for seed in (0, 1)
        ]
    ]
    sd = summary["wine", "clean"][anomaly.SKAE][1]
    np.testing.assert_allclose(sd, abs(case_mean_seed0 - case_mean_seed1) / np.sqrt(2))
    one_seed = [r for r in records if r["seed"] == 0]
    assert np.isnan(anomaly.summarize(one_seed, "roc_auc")["wine", "clean"][anomaly.SKAE][1])
    assert "±" not in anomaly.format_table(one_seed, "roc_auc", ["wine"], list(methods))


def test_goal_report_with_pyod(anomaly):
    records = [
        {"dataset": "wine", "setting": "clean", "seed": 0, "method": method, "roc_auc": auc}
        for method, auc in ((anomaly.SKAE, 0.9), (anomaly.PYOD, 0.8))
    ]
    assert anomaly.goal_report(records)[0].endswith("(goal met)")


def test_the_goal_is_judged_against_the_peers_not_other_skae_configurations(anomaly):
    """A variant of skae (or skae without trimming) doing better is no rival."""
    rows = ((anomaly.SKAE, 0.9), (anomaly.SKAE_PLAIN, 0.95), ("nc8", 0.97), ("LOF", 0.85))
    records = [
        {"dataset": "wine", "setting": "clean", "seed": 0, "method": method, "roc_auc": auc}
        for method, auc in rows
    ]
    report = anomaly.goal_report(records, own=(anomaly.SKAE_PLAIN, "nc8"))
    assert report[0] == (
        f"mean ROC AUC: skae 0.900, best skae 0.900 (goal met, judged without {anomaly.PYOD})"
    )
    assert report[1].endswith("(goal met)")
    # Without saying which are skae's, the variant counts as a rival.
    assert "goal MISSED" in anomaly.goal_report(records, own=(anomaly.SKAE_PLAIN,))[0]



def _blas_threads():
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_main_runs_on_one_thread_and_gives_the_callers_back(anomaly, monkeypatch):
    """In-process (as here), main leaves the caller's BLAS threads as they were, even
    when the run fails."""
    from threadpoolctl import threadpool_limits

    seen = []

    def fails(args):
        seen.append(_blas_threads())
        raise RuntimeError("a failed run")

    monkeypatch.setattr(anomaly, "_main", fails)
    with threadpool_limits(2):
        before = _blas_threads()
        with pytest.raises(RuntimeError, match="a failed run"):
            anomaly.main(["--quick"])
        assert _blas_threads() == before
    assert seen == [[1] * len(before)]
