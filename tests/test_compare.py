"""benchmarks/compare.py runs end to end, on tiny data (its numbers and timings are not tested)."""

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info


@pytest.fixture(scope="module")
def compare(load_benchmark):
    return load_benchmark("compare")


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


def test_tuning_grid_is_twelve_autoencoders_that_fit(compare):
    # Every candidate is a valid autoencoder; the third network keeps the default
    # encoder and gives the decoder one hidden layer of 512 units.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import ParameterGrid

    from skae import AutoencoderTransformer

    candidates = list(ParameterGrid(compare.TUNING_GRID))
    assert len(candidates) == 12
    X = np.random.default_rng(0).normal(size=(40, 6))
    widths = set()
    for params in candidates:
        ae = AutoencoderTransformer(2, max_iter=2, random_state=0, **params)
        with pytest.warns(ConvergenceWarning):  # two epochs cannot converge
            ae.fit(X)
        widths.add(tuple(W.shape[1] for W in ae.coefs_[:-1]))
        json.dumps(params)  # --json writes the chosen candidate
    assert widths == {(128, 64, 2, 64, 128), (256, 128, 2, 128, 256), (128, 64, 2, 512)}


def record_keyword(monkeypatch, module, name, keyword):
    """Wrap ``module.name`` so that each call's ``keyword`` argument is recorded."""
    calls, original = [], getattr(module, name)

    def recording(*args, **kwargs):
        calls.append(kwargs[keyword])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def test_command_line(compare, tmp_path, capsys, monkeypatch):
    limits = record_keyword(monkeypatch, compare, "threadpool_limits", "limits")
    inner = record_keyword(monkeypatch, compare, "parallel_config", "inner_max_num_threads")
    json_path = tmp_path / "results.json"
    argv = ["--quick", "--datasets", "breast_cancer", "--max-samples", "100"]
    argv += ["--json", str(json_path)]
    if importlib.util.find_spec("matplotlib") is not None:
        argv += ["--plot", str(tmp_path / "embeddings.png")]
    compare.main(argv)

    out = capsys.readouterr().out
    assert "breast_cancer to 2-D" in out and "breast_cancer to 5-D" in out
    assert "Where skae does not beat PCA" in out
    # One BLAS thread for every method by default, said in the footer and the JSON.
    assert limits == [1]
    assert inner == [1]  # the grid search's worker processes too
    assert ", 1 BLAS thread(s)" in out.splitlines()[-1]
    results = json.loads(json_path.read_text())
    assert results["settings"]["quick"] is True and results["settings"]["threads"] == 1
    assert results["machine"]["blas_threads"] == 1
    # The thread pools are recorded inside the limits, as the run had them.
    assert all(pool["num_threads"] == 1 for pool in results["machine"]["thread_pools"])
    assert results["machine"]["numpy"] == np.__version__
    # The BLAS kernels, which change the errors split by split, are named in both.
    blas = results["machine"]["blas"]
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert len(blas) == len(pools)
    assert all(entry in out.splitlines()[-1] for entry in blas)
    for entry, pool in zip(blas, pools, strict=True):
        assert f"{pool['internal_api']} {pool['version']}" in entry
        if "numpy.libs" in pool["filepath"]:  # NumPy's own copy, as a wheel installs it
            assert entry.startswith("numpy: ")
    # --quick: one seed, no grid search.
    assert {r["method"] for r in results["records"]} == {"PCA", "KernelPCA", "Isomap", "skae"}
    assert len(results["records"]) == 2 * 4
    if "--plot" in argv:
        assert (tmp_path / "embeddings.png").stat().st_size > 0


def test_plot_without_matplotlib_fails_before_the_run(compare, monkeypatch, tmp_path, capsys):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    monkeypatch.setattr(compare, "run", lambda *args, **kwargs: pytest.fail("the run started"))
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--datasets", "breast_cancer", "--plot", str(tmp_path / "e.png")])
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "e.png").exists()


def _held_out_std(compare, dataset, seed, max_samples):
    """The held-out part of ``run``'s split, standardized by the training part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = compare._subsample(*dataset.load(), max_samples)
    X_train, X_test = train_test_split(
        X, test_size=compare.TEST_SIZE, random_state=seed, stratify=y
    )
    return StandardScaler().fit(X_train).transform(X_test)


def test_torch_reference(compare):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install '.[torch]'")
    tasks = [(compare.DATASETS["s_curve"], 2), (compare.DATASETS["manifold_5d"], 5)]
    methods = compare.make_methods(
        skae_params={"hidden_layer_sizes": (8,), "max_iter": 3},
        tuning_grid=None,
        torch_params=compare.TORCH_QUICK,
    )
    rng_state, n_threads = torch.random.get_rng_state(), torch.get_num_threads()
    records, _ = compare.run(tasks, methods, seeds=[0, 1], max_samples=120, log=io.StringIO())
    # The caller's PyTorch state is left as it was.
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert torch.get_num_threads() == n_threads

    reference = {
        (r["dataset"], r["seed"]): r for r in records if r["method"] == compare.TORCH_METHOD
    }
    assert len(reference) == len(tasks) * 2
    for (dataset, seed), record in reference.items():
        assert 0 <= record["trust_5"] <= 1 and 0 <= record["trust_10"] <= 1
        assert record["fit_time"] > 0
        assert ("knn_accuracy" in record) == (dataset == "s_curve")
        assert record["best_params"] == {"hidden_layer_sizes": (16,)}
        [selection] = record["selection"]
        assert selection["best_epoch"] <= selection["epochs"] <= 30
        assert record["mse_vs_torch"] == 1 and record["time_vs_torch"] == 1
        assert not record.get("warnings")
        # It trained: it reconstructs better than predicting the training mean (0 once
        # standardized) does.
        X_test = _held_out_std(compare, compare.DATASETS[dataset], seed, 120)
        assert record["mse"] < 0.8 * np.mean(X_test**2)
    for record in records:
        ref = reference[record["dataset"], record["seed"]]
        if "mse" in record:
            np.testing.assert_allclose(record["mse_vs_torch"], record["mse"] / ref["mse"])
        np.testing.assert_allclose(record["time_vs_torch"], record["fit_time"] / ref["fit_time"])

    # Reproducible: the same split and seed give the same model.
    again, _ = compare.run(tasks[:1], methods, seeds=[0], max_samples=120, log=io.StringIO())
    [torch_again] = [r for r in again if r["method"] == compare.TORCH_METHOD]
    assert torch_again["mse"] == reference["s_curve", 0]["mse"]

    table = compare.format_table(records)
    assert compare.TORCH_METHOD in table and "MSE/torch" in table and "time/torch" in table
    lines = compare.against_torch(records)
    # skae's default only: tuning_grid=None leaves out the tuned autoencoder.
    assert [line.split(":")[0] for line in lines] == [
        "skae on s_curve to 2-D",
        "skae on manifold_5d to 5-D",
    ]


def test_torch_reference_skipped_without_torch(compare, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    json_path = tmp_path / "results.json"
    argv = ["--quick", "--torch", "--datasets", "breast_cancer", "--max-samples", "100"]
    compare.main([*argv, "--json", str(json_path)])

    out, err = capsys.readouterr()
    note = f"{compare.TORCH_METHOD} skipped: torch is not importable"
    assert [line for line in out.splitlines() if "skipped" in line][0].startswith(note)
    assert sum("skipped" in line for line in out.splitlines()) == 1
    assert note in err
    assert "MSE/torch" not in out and f"skae against {compare.TORCH_METHOD}" not in out
    assert "breast_cancer to 5-D" in out
    results = json.loads(json_path.read_text())
    assert [n.startswith(note) for n in results["notes"]] == [True]
    assert results["machine"]["torch"] is None
    assert {r["method"] for r in results["records"]} == {"PCA", "KernelPCA", "Isomap", "skae"}


def test_skae_params_from_the_command_line(compare, tmp_path):
    """--skae-params reaches the autoencoders: five epochs warn, and the settings are kept."""
    json_path = tmp_path / "results.json"
    params = '{"n_init": 1, "max_iter": 5, "hidden_layer_sizes": [8]}'
    argv = ["--quick", "--datasets", "breast_cancer", "--max-samples", "100"]
    compare.main([*argv, "--skae-params", params, "--json", str(json_path)])
    results = json.loads(json_path.read_text())
    assert results["settings"]["skae_params"] == json.loads(params)
    skae = [r for r in results["records"] if r["method"] == "skae"]
    assert len(skae) == 2
    assert all(any("maximum iterations (5)" in w for w in r["warnings"]) for r in skae)


def _ratios(compare, method, mse_ratios, time_ratio=0.1):
    return [
        {
            "dataset": "s_curve",
            "n_components": 2,
            "seed": seed,
            "method": method,
            "fit_time": time_ratio,
            "mse_vs_torch": ratio,
            "time_vs_torch": time_ratio,
        }
        for seed, ratio in enumerate(mse_ratios)
    ] + [
        {
            "dataset": "s_curve",
            "n_components": 2,
            "seed": seed,
            "method": compare.TORCH_METHOD,
            "fit_time": 1.0,
        }
        for seed in range(len(mse_ratios))
    ]


@pytest.mark.parametrize(
    "value, goal, at_least, places",
    [(1.25, 1.2, 2, 2), (0.2004, 0.2, 2, 4), (0.29004, 0.29, 3, 5), (0.2, 0.2, 2, 2),
     (0.2 + 1e-15, 0.2, 2, 2), (-2.04, -2.0, 1, 2)],
)
def test_decimals_tell_a_value_from_its_goal(compare, value, goal, at_least, places):
    from _report import decimals

    assert decimals(value, goal, at_least) == places


def test_a_verdict_prints_the_digits_that_decide_it(compare):
    """Just past a goal, the printed numbers are not rounded onto it ("0.20x > 0.20x")."""
    [missed] = compare.against_torch(_ratios(compare, "skae", [1.2004], time_ratio=0.2004))
    assert missed.endswith("missed: MSE 1.2004x > 1.2000x, fit time 0.2004x > 0.2000x")
    [met] = compare.against_torch(_ratios(compare, "skae", [1.2], time_ratio=0.2))
    assert met.endswith(": goal met")  # at the goal is within it
    # A mean that lands on the goal exactly meets it, though in floating point
    # (1.1 + 1.3) / 2 is a last bit above 1.2 (it printed "missed: MSE 1.20x > 1.2x").
    assert np.mean([1.1, 1.3]) > 1.2
    [tie] = compare.against_torch(_ratios(compare, "skae", [1.1, 1.3], time_ratio=0.2))
    assert tie.endswith(": goal met")
    [missed] = compare.against_torch(_ratios(compare, "skae", [1.1, 1.3 + 1e-9]))
    assert missed.endswith("missed: MSE 1.200000001x > 1.200000000x")


def test_trustworthiness_below_pcas_is_told_unrounded(compare):
    """0.8826 against 0.8834 is a loss though both round to 0.883; 0.8834 against
    0.8835 is one too, printed with the decimals that tell them apart."""

    def records(ours, pcas):
        return [
            {"dataset": "s_curve", "n_components": 2, "seed": 0, "method": method,
             "mse": 1.0, "mse_vs_pca": mse, "trust_5": trust, "trust_10": 0.9, "fit_time": 1.0}
            for method, mse, trust in (("skae", 0.5, ours), ("PCA", 1.0, pcas))
        ]

    [line] = compare.losses_to_pca(records(0.8826, 0.8834))
    assert line == "skae on s_curve to 2-D: trust_5 = 0.8826 on average, PCA's 0.8834"
    [line] = compare.losses_to_pca(records(0.8834, 0.8835))
    assert line.endswith("trust_5 = 0.8834 on average, PCA's 0.8835")
    assert compare.losses_to_pca(records(0.8835, 0.8834)) == []


def test_against_torch_goals_and_the_reseeded_reference(compare):
    """A goal is met or missed on the mean ratio; the re-seeded reference has no verdict."""
    [met] = compare.against_torch(_ratios(compare, "skae", [0.9, 1.4]))
    assert met.startswith("skae on s_curve to 2-D: MSE 1.15x (seeds 0.90-1.40)")
    assert met.endswith(": goal met")
    [missed] = compare.against_torch(_ratios(compare, "skae", [1.1, 1.4], time_ratio=0.3))
    assert missed.endswith("missed: MSE 1.25x > 1.2x, fit time 0.30x > 0.20x")
    reseeded = compare.TORCH_RESEEDED_METHOD
    [line] = compare.against_torch(_ratios(compare, reseeded, [0.5, 4.0], time_ratio=1.0))
    assert line == (
        f"{reseeded} on s_curve to 2-D: MSE 2.25x (seeds 0.50-4.00), fit time 1.00x "
        "(1.00 s against 1.00 s)"
    )


def test_reseeded_reference(compare):
    """The re-seeded reference is the same model from another random state, on the same split."""
    pytest.importorskip("torch", reason="torch is not installed: pip install '.[torch]'")
    # Without the reference there is nothing to re-seed.
    assert compare.TORCH_RESEEDED_METHOD not in compare.make_methods(
        tuning_grid=None, torch_reseeded=True
    )
    methods = compare.make_methods(
        skae_params={"hidden_layer_sizes": (8,), "max_iter": 3},
        tuning_grid=None,
        torch_params=compare.TORCH_QUICK,
        torch_reseeded=True,
    )
    reseeded = methods[compare.TORCH_RESEEDED_METHOD](2, 3)
    assert reseeded.random_state == 3 + compare.RESEED_OFFSET
    reseeded.set_params(random_state=3)
    assert reseeded.get_params() == methods[compare.TORCH_METHOD](2, 3).get_params()

    tasks = [(compare.DATASETS["s_curve"], 2)]
    records, _ = compare.run(tasks, methods, seeds=[0], max_samples=120, log=io.StringIO())
    by_method = {r["method"]: r for r in records}
    reference, again = by_method[compare.TORCH_METHOD], by_method[compare.TORCH_RESEEDED_METHOD]
    assert again["mse"] != reference["mse"]
    np.testing.assert_allclose(again["mse_vs_torch"], again["mse"] / reference["mse"])
    lines = compare.against_torch(records)
    assert [line.split(" on ")[0] for line in lines] == ["skae", compare.TORCH_RESEEDED_METHOD]
    assert "goal" not in lines[1] and "missed" not in lines[1]


def test_reseeded_needs_the_reference(compare, capsys):
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--torch-reseeded", "--datasets", "breast_cancer"])
    err = capsys.readouterr().err
    assert "--torch-reseeded re-trains the PyTorch reference: add --torch" in err


def test_against_the_mean_of_the_reference_runs(compare):
    """With the re-seeded reference, skae's line adds its MSE over the two runs' mean."""
    records = [
        {"dataset": "clusters", "n_components": 2, "seed": seed, "method": method,
         "fit_time": 1.0, "mse": mse, "mse_vs_torch": mse / first, "time_vs_torch": 1.0}
        for seed, (first, again, skae) in enumerate([(1.0, 3.0, 2.0), (2.0, 2.0, 3.0)])
        for method, mse in [
            (compare.TORCH_METHOD, first),
            (compare.TORCH_RESEEDED_METHOD, again),
            ("skae", skae),
        ]
    ]
    skae, reseeded = compare.against_torch(records)
    # skae over the first run: 2 and 1.5; over the runs' mean: 2/2 and 3/2.
    assert skae.startswith(
        "skae on clusters to 2-D: MSE 1.75x (seeds 1.50-2.00; 1.25x the mean of the "
        "reference's two runs)"
    )
    assert skae.endswith("missed: MSE 1.75x > 1.2x, fit time 1.00x > 0.20x")
    assert "mean of the reference's two runs" not in reseeded


@pytest.mark.parametrize(
    "path, owner",
    [
        ("/venv/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so", "numpy: "),
        ("/venv/site-packages/scipy.libs/libscipy_openblas-68440149.so", "scipy: "),
        ("/venv/site-packages/numpy/.dylibs/libscipy_openblas64_.dylib", "numpy: "),
        ("/usr/lib/x86_64-linux-gnu/libopenblas.so.0", ""),
        (None, ""),
    ],
)
def test_the_machine_line_names_which_wheel_bundles_a_blas(path, owner):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        from _machine import _owner
    finally:
        sys.path.pop(0)
    assert _owner(path) == owner


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("compare", ["--seeds", "0"], "--seeds: 0 is not a positive integer"),
        ("compare", ["--json", "/nonexistent-dir/r.json"], "directory of .* does not exist"),
        ("compare", ["--plot", "/nonexistent-dir/a.png"], "directory of .* does not exist"),
        ("impute", ["--rates", "0"], "--rates: 0 is not strictly between 0 and 1"),
        ("impute", ["--rates", "0.2", "1.5"], "--rates: 1.5 is not strictly between 0 and 1"),
        ("variants", ["--seeds", "x"], "--seeds: 'x' is not an integer"),
        ("step_size", ["--seeds", "-1"], "--seeds: -1 is not a positive integer"),
        ("speed", ["--rounds", "0"], "--rounds: 0 is not a positive integer"),
        ("anomaly", ["--json", "."], "--json: . is a directory"),
        ("compare", ["--skae-params", "[1]"], "is not a JSON object of parameters"),
        ("impute", ["--skae-params", "{"], "is not JSON"),
        ("anomaly", ["--variant", "x=[1]"], "is not a JSON object of parameters"),
        ("likelihood", ["--samples", "0"], "--samples: 0 is not a positive integer"),
        ("speed", ["--gap", "-1"], "--gap: -1 is not a number of at least 0"),
        ("anomaly", ["--max-iter", "0"], "--max-iter: 0 is not a positive integer"),
        ("anomaly", ["--first-seed", "-1"], "--first-seed: -1 is not an integer of at least 0"),
        ("speed", ["--threads", "0"], "--threads: 0 is not a positive integer"),
        ("compare", ["--max-samples", "0"], "--max-samples: 0 is not a positive integer"),
        ("compare", ["--max-samples", "99"], "--max-samples: 99 rows are too few .* at least 100"),
        ("compare", ["--skae-params", '{"n_components": 3}'],
         "--skae-params: n_components cannot be set: the benchmark sets n_components, "
         "random_state"),
        ("compare", ["--skae-params", '{"n_inits": 1}'],
         "--skae-params: AutoencoderTransformer has no parameter n_inits"),
        ("compare", ["--skae-params", '{"learning_rate": "step"}'],
         "--skae-params: The 'learning_rate' parameter of AutoencoderTransformer must be"),
        ("impute", ["--skae-params", '{"random_state": 1}'],
         "--skae-params: random_state cannot be set"),
        ("impute", ["--skae-params", '{"max_iter": 0}'],
         "--skae-params: The 'max_iter' parameter"),
        ("anomaly", ["--variant", 'wide={"hidden_layer_size": [256]}'],
         "--variant wide: AutoencoderOutlierDetector has no parameter hidden_layer_size"),
        ("compare", ["--n-jobs", "0"], "--n-jobs: 0 is not a nonzero integer"),
        ("speed", ["--load", "-1"], "--load: -1 is not an integer of at least 0"),
        ("gpu", ["--repeats", "0"], "--repeats: 0 is not a positive integer"),
        ("gpu", ["--torch-threads", "0"], "--torch-threads: 0 is not a positive integer"),
        ("memory", ["--n-features", "0"], "--n-features: 0 is not a positive integer"),
        ("memory", ["--scales", "0"], "--scales: 0 is not a positive integer"),
        ("variants", ["--epochs", "0"], "--epochs: 0 is not a positive integer"),
        ("step_size", ["--rates", "2e-3", "-1"], "--rates: -1 is not a number above 0"),
        ("impute", ["--first-seed", "-1"], "--first-seed: -1 is not an integer of at least 0"),
    ],
)
def test_bad_flags_are_usage_errors_before_the_run(load_benchmark, capsys, script, argv,
                                                    message):
    """Not a traceback after the run, nor a run on NaN (``--rates 0``) that reports a goal."""
    import re

    module = load_benchmark(script)
    main = module.main
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_gpu_device_is_checked_before_the_run(load_benchmark, capsys):
    pytest.importorskip("torch", reason="the device contenders need PyTorch (the torch extra)")
    with pytest.raises(SystemExit) as info:
        load_benchmark("gpu").main(["--device", "bogus"])
    assert info.value.code == 2
    assert "argument --device:" in capsys.readouterr().err


def test_output_file_accepts_a_new_file_in_an_existing_directory(compare, tmp_path):
    from _report import open_fraction, output_file, positive_int

    path = str(tmp_path / "results.json")
    assert output_file(path) == path
    assert positive_int("3") == 3 and open_fraction("0.5") == 0.5
