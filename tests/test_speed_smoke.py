"""The benchmark scripts run end to end on tiny inputs. Nothing here is timed."""

import importlib.util
import json
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


def test_speed_floor_counts_every_batch(speed):
    run = speed.make_floor(tiny(speed, n_samples=70, batch_size=32), np.float32)
    assert run(1) >= 0.0


def test_memory_script_small(tmp_path, capsys):
    memory = load("memory")
    out = tmp_path / "memory.json"
    memory.main(
        ["--n-samples", "3000", "--epochs", "1", "--scales", "1000", "3000", "--json", str(out)]
    )
    data = json.loads(out.read_text())
    assert [r["kind"] for r in data["runs"]] == ["array", "memmap"]
    assert [r["n_samples"] for r in data["scale"]] == [1000, 3000]
    for run in data["runs"]:
        assert run["after_fit_mb"] >= run["baseline_mb"] > 0
        assert np.isfinite(run["final_loss"])
