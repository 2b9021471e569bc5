"""The benchmark scripts run end to end on tiny inputs. Nothing here is timed."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def speed():
    return load("speed")


def tiny(speed, **kw):
    defaults = dict(
        name="tiny",
        n_features=6,
        hidden=(5,),
        n_components=2,
        n_samples=90,
        batch_size=32,
        epochs=2,
    )
    return speed.Config(**{**defaults, **kw})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_speed_cell_without_torch(speed, dtype):
    result = speed.bench_cell(
        tiny(speed),
        dtype,
        1,
        rounds=2,
        contenders=("skae", "mlp", "floor"),
        gap=0.0,
        log=lambda msg: None,
    )
    assert result["dtype"] == np.dtype(dtype).name
    assert set(result["seconds"]) == {"skae", "mlp", "floor"}
    assert all(len(v) == 2 for v in result["seconds"].values())
    assert result["skae_over_torch"] is None
    assert result["skae_over_mlp"] > 0 and result["skae_over_floor"] > 0
    assert set(result["final_loss"]) == {"skae", "mlp"}
    assert all(np.isfinite(v) for v in result["final_loss"].values())
    table = speed.markdown([result], {(result["dtype"], 1): 1.0}, speed.machine_description())
    assert "| tiny (batch 32) |" in table and "—" in table


def test_speed_cell_with_torch(speed):
    # PyTorch is an optional contender (a large install), not part of the test extra.
    pytest.importorskip("torch", reason="torch is not installed: pip install torch")
    result = speed.bench_cell(
        tiny(speed, hidden=(4, 3)),
        np.float32,
        1,
        rounds=1,
        contenders=("skae", "torch"),
        gap=0.0,
        log=lambda msg: None,
    )
    assert result["skae_over_torch"] > 0
    assert np.isfinite(result["final_loss"]["torch"])


def test_speed_main_writes_json(speed, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(speed.CONFIGS, "seed-256", tiny(speed, name="seed-256"))
    out = tmp_path / "speed.json"
    speed.main(
        [
            "--quick",
            "--configs",
            "seed-256",
            "--rounds",
            "1",
            "--contenders",
            "skae",
            "floor",
            "--gap",
            "0",
            "--json",
            str(out),
        ]
    )
    data = json.loads(out.read_text())
    assert data["results"][0]["config"] == "seed-256"
    assert data["results"][0]["threads"] == 1
    assert "float32/1" in data["gemm_peak_gflops"]
    assert "| seed-256 (batch" in capsys.readouterr().out


def test_speed_names_the_threads_skae_trains_on_and_times_it_without_its_rule(
    speed, monkeypatch
):
    """skae trains small networks on one BLAS thread whatever the limit: the tables say
    so, and skae-all-threads trains the same fit without that rule."""
    import threadpoolctl

    import skae._estimator as skae_estimator

    small = tiny(speed)
    assert speed.skae_threads(small, 2) == 1 and speed.skae_threads(small, 1) == 1
    monkeypatch.setattr(skae_estimator, "_MULTITHREAD_MIN_MACS", 32 * 6 * 5)
    assert speed.skae_threads(small, 2) == 2
    monkeypatch.undo()
    seen = []
    real = threadpoolctl.ThreadpoolController.limit

    def recording(self, *, limits=None, user_api=None):
        seen.append(limits)
        return real(self, limits=limits, user_api=user_api)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "limit", recording)
    X = speed.make_data(small, np.float64)
    speed.run_skae(small, X, 1, 0)
    assert 1 in seen  # the rule: one thread for a small network
    seen.clear()
    seconds, loss = speed.run_skae_all_threads(small, X, 1, 0)
    assert 1 not in seen and seconds > 0 and np.isfinite(loss)
    assert skae_estimator._MULTITHREAD_MIN_MACS == 2**24  # restored
    result = speed.bench_cell(small, np.float64, 2, rounds=1, gap=0.0, log=lambda m: None,
                              contenders=("skae", "skae-all-threads"))
    assert result["skae_threads"] == 1
    assert result["variants_over_skae"]["skae-all-threads"] > 0
    table = speed.markdown([result], {("float64", 2): 1.0}, speed.machine_description())
    assert "| 2 (skae 1) |" in table and "skae-all-threads" in table


def test_speed_elu_times_skae_and_torch_and_says_so(speed, tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch", reason="torch is not installed: pip install torch")
    monkeypatch.setitem(speed.CONFIGS, "seed-256", tiny(speed, name="seed-256"))
    out = tmp_path / "speed.json"
    argv = ["--quick", "--configs", "seed-256", "--rounds", "1", "--gap", "0"]
    speed.main([*argv, "--activation", "elu", "--contenders", "skae", "torch", "--json", str(out)])
    record = json.loads(out.read_text())["results"][0]
    assert record["activation"] == "elu"
    assert set(record["seconds"]) == {"skae", "torch"} and record["skae_over_torch"] > 0
    assert all(np.isfinite(v) for v in record["final_loss"].values())
    assert "Hidden activation: elu " in capsys.readouterr().out
    # The default names its activation too.
    speed.main([*argv, "--contenders", "floor"])
    assert "Hidden activation: relu " in capsys.readouterr().out


def test_speed_elu_trains_elu_units_in_every_skae_contender(speed, monkeypatch, capsys):
    """The flag reaches the fit: skae's ELU (and its derivative) runs, its ReLU never."""
    import skae._activations as activations

    calls = {}

    def counting(table, name):
        real = table[name]

        def count(*args, **kwargs):
            calls[table is activations.DERIVATIVES, name] = (
                calls.get((table is activations.DERIVATIVES, name), 0) + 1
            )
            return real(*args, **kwargs)

        monkeypatch.setitem(table, name, count)

    for table in (activations.ACTIVATIONS, activations.DERIVATIVES):
        for name in ("relu", "elu"):
            counting(table, name)
    monkeypatch.setitem(speed.CONFIGS, "seed-256", tiny(speed, name="seed-256"))
    speed.main(["--quick", "--configs", "seed-256", "--rounds", "1", "--gap", "0",
                "--activation", "elu", "--contenders", "skae"])
    assert calls.get((False, "elu"), 0) > 0 and calls.get((True, "elu"), 0) > 0, calls
    assert (False, "relu") not in calls and (True, "relu") not in calls, calls
    capsys.readouterr()
    config = tiny(speed, activation="elu")
    X = speed.make_data(config, np.float64)
    for name in speed.VARIANT_NAMES:
        calls.clear()
        seconds, loss = speed.RUNNERS[name](config, X, 1, 0)
        assert np.isfinite(loss) and calls.get((True, "elu"), 0) > 0, name
        assert set(calls) == {(False, "elu"), (True, "elu")}, (name, calls)


def test_speed_torch_model_has_the_activation_asked_for(speed):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install torch")
    import skae._activations as activations

    for activation, unit, other in [("elu", torch.nn.ELU, torch.nn.ReLU),
                                    ("relu", torch.nn.ReLU, torch.nn.ELU)]:
        model = speed.torch_model(tiny(speed, hidden=(4, 3), activation=activation),
                                  torch.float64)
        # Four hidden layers (4, 3, then 3, 4): the code and output layers are linear.
        assert sum(isinstance(m, unit) for m in model) == 4, model
        assert not any(isinstance(m, other) for m in model), model
        assert isinstance(model[-1], torch.nn.Linear)
    # PyTorch's ELU is skae's: alpha 1, exp(a) - 1 below zero.
    a = np.linspace(-5, 5, 41)
    expected = a.copy()
    activations.ACTIVATIONS["elu"](expected)
    np.testing.assert_allclose(torch.nn.ELU()(torch.from_numpy(a)).numpy(), expected,
                               rtol=1e-12, atol=1e-15)


def test_speed_elu_leaves_mlp_out(speed, capsys):
    """MLPRegressor has no ELU: the default drops it, naming it is a usage error."""
    assert speed.parse_args([]).contenders == list(speed.DEFAULT_CONTENDERS)
    assert speed.parse_args([]).activation == "relu"
    args = speed.parse_args(["--activation", "elu"])
    assert args.contenders == [c for c in speed.DEFAULT_CONTENDERS if c != "mlp"]
    args = speed.parse_args(["--activation", "elu", "--contenders", "skae", "floor"])
    assert args.contenders == ["skae", "floor"]
    assert speed.parse_args(["--contenders", "mlp"]).contenders == ["mlp"]
    for contenders in (["mlp"], ["skae", "mlp", "torch"]):
        with pytest.raises(SystemExit) as info:
            speed.main(["--activation", "elu", "--contenders", *contenders])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "MLPRegressor has no ELU" in err and "drop mlp from --contenders" in err
    help_text = " ".join(speed.make_parser().format_help().split())  # unwrapped
    assert "--activation {relu,elu}" in help_text and "has no ELU" in help_text


def test_speed_load_keeps_other_processes_busy_only_while_timed(speed):
    import multiprocessing

    before = len(multiprocessing.active_children())
    with speed.busy_processes(2):
        assert len(multiprocessing.active_children()) == before + 2
    assert len(multiprocessing.active_children()) == before


def test_speed_floor_counts_every_batch(speed, monkeypatch):
    config = tiny(speed, n_samples=70, batch_size=32)
    run = speed.make_floor(config, np.float32)
    products = []
    matmul = np.matmul

    def counting(a, b, out):
        products.append((a.shape, b.shape))
        return matmul(a, b, out=out)

    monkeypatch.setattr(np, "matmul", counting)
    run(2)
    # Each epoch: every batch (32, 32, then the last 6 rows), each with a forward
    # product per layer, then a weight gradient per layer and a delta product per
    # layer but the first.
    s = config.layer_sizes
    expected = []
    for rows in [32, 32, 6] * 2:
        expected += [((rows, s[i]), (s[i], s[i + 1])) for i in range(len(s) - 1)]
        for i in range(len(s) - 2, -1, -1):
            expected.append(((s[i], rows), (rows, s[i + 1])))
            if i > 0:
                expected.append(((rows, s[i + 1]), (s[i + 1], s[i])))
    assert products == expected


def test_memory_script_small(tmp_path, capsys):
    memory = load("memory")
    out = tmp_path / "memory.json"
    # 50,000 × 100 float32: 19 MiB, well above the allocator's noise of a few MiB.
    memory.main(
        ["--n-samples", "50000", "--epochs", "1", "--scales", "1000", "50000", "--json", str(out)]
    )
    data = json.loads(out.read_text())
    assert [r["kind"] for r in data["runs"]] == ["array", "memmap"]
    assert [r["n_samples"] for r in data["scale"]] == [1000, 50000]
    input_mb = 50000 * 100 * 4 / 2**20
    limits = {
        # The input itself, plus the per-epoch shuffle buffer of in-memory data.
        "array": (input_mb, 2.5 * input_mb + 8),
        # Touched pages of the file count as resident; nothing is copied whole.
        "memmap": (0.5 * input_mb, 1.5 * input_mb + 8),
    }
    for run in data["runs"]:
        assert run["input_mb"] == input_mb
        assert run["model_mb"] > 0
        low, high = limits[run["kind"]]
        fit_peak = run["fit_peak_mb"] - run["baseline_mb"]
        assert low <= fit_peak <= high, (run["kind"], fit_peak, input_mb)
        assert run["fit_peak_mb"] >= run["before_fit_mb"]
        assert run["transform_peak_mb"] >= run["before_transform_mb"]
        for key in ("fit_seconds_per_epoch", "transform_seconds", "final_loss"):
            assert np.isfinite(run[key]) and run[key] > 0, key
    assert "| memmap | 50,000 × 100 |" in data["markdown"]
    assert data["machine"]["logical_cpus"] >= 1 and data["settings"]["epochs"] == 1
    # The children's BLAS had the one thread of --threads' default.
    assert all(pool["num_threads"] == 1 for pool in data["machine"]["thread_pools"])
    assert "BLAS thread(s), on " in capsys.readouterr().out


def test_memory_peaks_are_their_stage_own(tmp_path):
    """After a reset, the peak forgets what came before: a fit's peak is the fit's."""
    memory = load("memory")
    if not memory.reset_peak():
        pytest.skip("the high-water mark cannot be reset here (/proc/self/clear_refs)")
    spike = np.ones(40 * 2**20 // 8)  # 40 MiB, touched
    before = memory.peak_mb()
    del spike
    assert memory.reset_peak()
    assert memory.peak_mb() < before - 30


def test_memory_and_speed_command_lines(speed):
    memory = load("memory")
    args = memory.parse_args(["--quick", "--epochs", "2", "--n-samples", "300000"])
    assert (args.epochs, args.n_samples) == (2, 300_000)  # explicit flags win over --quick
    args = memory.parse_args(["--quick"])
    assert (args.epochs, args.n_samples) == (1, 200_000)
    args = memory.parse_args([])
    assert (args.epochs, args.n_samples) == (2, 1_000_000)

    args = speed.parse_args(["--quick", "--dtypes", "float32", "float64", "--threads", "1", "2"])
    assert args.dtypes == ["float32", "float64"] and args.threads == [1, 2]
    args = speed.parse_args(["--quick"])
    assert args.dtypes == ["float32"] and args.threads == [1]
    args = speed.parse_args([])
    assert args.dtypes == ["float32", "float64"] and args.threads == [1, 2]

    parsers = [memory.make_parser(), speed.make_parser(), load("anomaly").make_parser()]
    for parser in [*parsers, load("latency").make_parser()]:
        for action in parser._actions:
            assert action.help, (parser.prog, action.dest)


def test_latency_main_times_every_call(tmp_path, capsys):
    latency = load("latency")
    out = tmp_path / "latency.json"
    results = latency.main(
        ["--rows", "1", "3", "--rounds", "2", "--calls", "2", "--json", str(out)]
    )
    assert [(r["task"], r["rows"]) for r in results] == [
        (task, rows) for rows in (1, 3) for task in ("encode", "reconstruct", "score_samples")
    ]
    onnx = {"onnx"} if _has_onnx() else set()
    expected = {"encode": {"pca"}, "reconstruct": {"pca", "mlp"}, "score_samples": set()}
    for r in results:
        assert all(t > 0 for t in r["median_seconds"].values())
        assert {k.removeprefix("skae_over_") for k in r if k.startswith("skae_over_")} == (
            expected[r["task"]] | onnx
        )
    # Without ONNX Runtime (or told to leave it out): the other contenders alone.
    for r in latency.main(["--rows", "2", "--rounds", "1", "--calls", "1", "--no-onnx"]):
        assert set(r["median_seconds"]) == expected[r["task"]] | {"skae"}
    data = json.loads(out.read_text())
    assert data["results"] == results and data["machine"]["cpu"]
    table = capsys.readouterr().out
    assert "| reconstruct | 3 |" in table and "| score_samples | 1 |" in table
    with pytest.raises(SystemExit) as info:
        latency.main(["--rows", "5000"])
    assert info.value.code == 2 and "at most 1797" in capsys.readouterr().err
    for flag in ("--rows", "--rounds", "--calls"):
        for bad in ("0", "-1"):
            with pytest.raises(SystemExit) as info:
                latency.main([flag, bad])
            assert info.value.code == 2
            assert f"{flag}: {bad} is not a positive integer" in capsys.readouterr().err


def _has_onnx():
    return all(importlib.util.find_spec(m) for m in ("skl2onnx", "onnxruntime"))


def test_latency_onnx_sessions_compute_what_skae_does(monkeypatch):
    pytest.importorskip("onnxruntime", reason='the ONNX extra: pip install ".[onnx]"')
    pytest.importorskip("skl2onnx", reason='the ONNX extra: pip install ".[onnx]"')
    latency = load("latency")
    X = np.random.default_rng(0).normal(size=(40, 12))
    ae, _, _ = latency.fitted_models(X)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: skipped
        assert latency.onnx_sessions(ae, X) is None
    runs = latency.onnx_sessions(ae, X)
    np.testing.assert_allclose(runs["codes"](X[:5]), ae.transform(X[:5]), rtol=1e-9)
    np.testing.assert_allclose(
        runs["reconstruction"](X[:5]), ae.inverse_transform(ae.transform(X[:5])), rtol=1e-9
    )
    np.testing.assert_allclose(
        runs["score_samples"](X[:5]).ravel(), ae.score_samples(X[:5]), rtol=1e-9
    )


def test_latency_models_share_one_architecture():
    """The MLPRegressor's predict runs the same products as skae's reconstruction."""
    latency = load("latency")
    X = np.random.default_rng(0).normal(size=(40, 12))
    ae, pca, mlp = latency.fitted_models(X)
    assert [c.shape for c in mlp.coefs_] == [c.shape for c in ae.coefs_]
    assert ae.activation == mlp.activation == "relu"  # MLPRegressor has no ELU
    assert pca.n_components_ == ae.n_components == latency.N_COMPONENTS


@pytest.mark.parametrize(
    "script", sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
)
def test_every_benchmark_prints_its_help(script):
    # As a user runs it: argparse formats each option's help only here.
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "--help" in done.stdout
