"""benchmarks/gpu.py runs end to end on tiny data, on PyTorch's CPU when there is no GPU.

Only the structure of its records is tested, never the timings.
"""

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")



@pytest.fixture(scope="module")
def gpu(load_benchmark):
    return load_benchmark("gpu", "bench_gpu")


def test_networks_are_the_ones_of_the_goal(gpu):
    assert gpu.CONFIGS["mnist-like"].layer_sizes == (784, 512, 256, 32, 256, 512, 784)
    assert gpu.CONFIGS["mnist-like"].n_samples == 60_000
    assert gpu.CONFIGS["digits-like"].layer_sizes == (64, 128, 64, 2, 64, 128, 64)
    for name, quick in gpu.QUICK.items():
        assert quick.layer_sizes == gpu.CONFIGS[name].layer_sizes


def test_tiny_run_on_the_cpu(gpu):
    tiny = gpu.Config("tiny", 12, (8,), 2, 64, 16, 2)
    lines = []
    records = gpu.run([tiny], device="cpu", repeats=2, log=lines.append)
    names = {r["contender"] for r in records}
    assert {"skae-numpy-1t", "skae-numpy-all"} <= names
    if gpu.torch is None:
        assert any("PyTorch is not installed" in line for line in lines)
    else:
        assert {"skae-torch-cpu", "torch-loop-cpu"} <= names
        ratios = gpu.ratios(records)["tiny"]
        # skae-cupy runs on CuPy's GPU whatever --device says, where CuPy works.
        cupy = {"skae-cupy / skae-numpy-1t"} if "skae-cupy" in names else set()
        assert set(ratios) == {"skae-torch-cpu / skae-numpy-1t",
                               "torch-loop-cpu / skae-torch-cpu"} | cupy
        assert all(value > 0 for value in ratios.values())
    if gpu.cupy is None:
        assert any("CuPy is not installed" in line for line in lines)
    for record in records:
        assert record["config"] == "tiny" and record["shape"] == [64, 12]
        assert len(record["seconds"]) == 2 and record["epochs_per_second"] > 0
    json.dumps(records)


def test_a_missing_cuda_device_is_skipped_with_a_message(gpu, monkeypatch):
    if gpu.torch is None:
        pytest.skip("PyTorch is not installed: the CUDA check needs it")
    monkeypatch.setattr(gpu.torch.cuda, "is_available", lambda: False)
    found, skipped = gpu.contenders("cuda")
    assert set(found) == {"skae-numpy-1t", "skae-numpy-all"} | (
        {"skae-cupy"} if "skae-cupy" in found else set()
    )
    assert any("no CUDA device" in message for message in skipped)


def test_every_contender_warms_up_on_the_config_then_rounds_rotate(gpu, monkeypatch):
    calls = []

    def contender(name):
        def fit(config, X, seed):
            calls.append((name, config.name, X.shape, config.epochs, seed))
            return 0.5

        return fit

    fake = {name: contender(name) for name in ("a", "b", "c")}
    monkeypatch.setattr(gpu, "contenders", lambda device: (fake, []))
    tiny = gpu.Config("tiny", 12, (8,), 2, 200, 16, 3)
    records = gpu.run([tiny], device="cpu", repeats=4, seed=10, log=lambda line: None)

    warm, rounds = calls[:3], calls[3:]
    # A warm-up of one epoch per contender, on a slice of this config's data.
    assert [c[0] for c in warm] == ["a", "b", "c"]
    assert all(c[1:4] == ("tiny", (64, 12), 1) for c in warm)
    # Then interleaved rounds: every contender once per round, the order rotating.
    assert [c[0] for c in rounds] == list("abc" "bca" "cab" "abc")
    assert all(c[1:4] == ("tiny", (200, 12), 3) for c in rounds)
    assert [c[4] for c in rounds] == [10] * 3 + [11] * 3 + [12] * 3 + [13] * 3
    assert [r["contender"] for r in records] == ["a", "b", "c"]
    assert all(r["seconds"] == [0.5] * 4 and r["epochs_per_second"] == 6 for r in records)


def test_command_line_defaults(gpu):
    assert gpu.parse_args([]).repeats == 3
    assert gpu.parse_args(["--quick"]).repeats == 1
    assert gpu.parse_args(["--quick", "--repeats", "3"]).repeats == 3
    for action in gpu.make_parser()._actions:
        assert action.help, action.dest


def test_the_every_core_contender_sets_every_core(gpu, monkeypatch):
    """"skae-numpy-all" sets the BLAS threads to the machine's cores, whatever the
    caller's limit; "skae-numpy-1t" to one; the caller's limit comes back."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    seen = []

    class Model:
        def fit(self, X):
            seen.append(blas())

    monkeypatch.setattr(gpu, "skae_model", lambda config, seed: Model())
    with threadpool_limits(1):
        gpu.run_skae_numpy(None, None, 0, None)
        gpu.run_skae_numpy(None, None, 0, 1)
        assert blas() == {1}
    # Every core (OpenBLAS may cap it at the threads it was built for, a machine with
    # one core has one).
    assert seen[1] == {1} and (seen[0] != {1} or os.cpu_count() == 1)


def test_a_contender_failing_its_warm_up_is_left_out_with_its_error(gpu, monkeypatch):
    """A backend broken on the machine (a CuPy build for another CUDA, say) costs its
    own line only: the others are measured, on every config."""

    def works(config, X, seed):
        return 0.25

    def breaks(config, X, seed):
        raise RuntimeError("no kernel image for this device")

    monkeypatch.setattr(gpu, "contenders", lambda device: ({"a": works, "b": breaks}, []))
    tiny = gpu.Config("tiny", 12, (8,), 2, 100, 16, 1)
    other = gpu.Config("other", 12, (8,), 2, 100, 16, 1)
    lines = []
    records = gpu.run([tiny, other], device="cpu", repeats=2, log=lines.append)
    assert [(r["config"], r["contender"]) for r in records] == [("tiny", "a"), ("other", "a")]
    failed = [line for line in lines if line.startswith("skipped: b failed")]
    assert len(failed) == 2 and "RuntimeError: no kernel image" in failed[0]
