"""benchmarks/subnormals.py runs end to end; its switch turns the flush off, and back on.

The benchmark's timings are not tested, only their structure and what they are of.
"""

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose

import skae._optim as optim_module

# The tiny fits stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def subnormals(load_benchmark):
    return load_benchmark("subnormals")


def test_tiny_run_fits_every_cell_both_ways_and_restores_the_flush(subnormals):
    log = io.StringIO()
    estimators = list(subnormals.ESTIMATORS)
    default = optim_module.FLUSH_STEPS
    records = subnormals.run(estimators, ["wine"], 2, log=log, max_iter=2)

    assert len(records) == len(estimators) * 2 * 2 * 2
    assert optim_module.FLUSH_STEPS == default
    assert log.getvalue().count("\n") == len(estimators) * 2 * 2
    for record in records:
        assert record["n_iter"] == 2
        assert record["fit_time"] > 0
        assert record["weights"] > 0
    # Interleaved: off first on even repeats, on first on odd ones.
    assert [r["flush"] for r in records[:2]] == [False, True]
    assert [r["flush"] for r in records[-2:]] == [True, False]

    rows = subnormals.summarize(records)
    assert len(rows) == len(estimators) * 2
    for row in rows:
        cell = [r for r in records
                if (r["estimator"], r["dtype"]) == (row["estimator"], row["dtype"])]
        off = sorted(r["fit_time"] for r in cell if not r["flush"])
        on = sorted(r["fit_time"] for r in cell if r["flush"])
        assert_allclose(row["off"], np.mean(off))  # the median of two
        assert_allclose(row["on"], np.mean(on))
        assert_allclose(row["ratio"], row["on"] / row["off"])
        assert row["epochs"] == [(2, 2)]
        if row["dtype"] == "float32":
            f64 = next(r for r in rows if r["estimator"] == row["estimator"]
                       and r["dtype"] == "float64")
            assert_allclose(row["float32_over_float64"], row["on"] / f64["on"])
        else:
            assert "float32_over_float64" not in row

    table = subnormals.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    for row, line in zip(rows, table[2:], strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[:6] == [row["estimator"], "wine", row["dtype"], f"{row['off']:.2f}",
                             f"{row['on']:.2f}", f"{row['ratio']:.2f}×"]


@pytest.mark.parametrize("estimator", ["transformer", "transformer-torch"])
def test_the_switch_turns_the_flush_off_for_the_fit_and_back_on_after_an_error(
    subnormals, estimator
):
    """At the defaults, a float32 wine fit ends with subnormal weights only without it.

    Both engines: the PyTorch fit runs on one PyTorch thread, the caller's count after.
    """
    if estimator in subnormals.ON_TORCH:
        torch = pytest.importorskip(
            "torch", reason="PyTorch is not installed (the CPU build is enough)"
        )
        threads = torch.get_num_threads()
    default = optim_module.FLUSH_STEPS
    records = subnormals.run([estimator], ["wine"], 1, dtypes=("float32",),
                             log=io.StringIO())
    if estimator in subnormals.ON_TORCH:
        assert torch.get_num_threads() == threads
    off, on = records
    assert not off["flush"] and on["flush"]
    assert off["subnormal_weights"] > 0.05 * off["weights"]
    assert on["subnormal_weights"] < 0.005 * on["weights"]
    assert off["n_iter"] == on["n_iter"]
    assert off["output_difference"] < 1e-5

    with pytest.raises(RuntimeError), subnormals.flushing(False):
        assert optim_module.FLUSH_STEPS > 10**12
        raise RuntimeError
    assert optim_module.FLUSH_STEPS == default


def test_unknown_estimator_is_a_usage_error(subnormals, capsys):
    with pytest.raises(SystemExit):
        subnormals.main(["--estimators", "pca"])
    assert "invalid choice" in capsys.readouterr().err
