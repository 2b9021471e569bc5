"""What flushing subnormal weights to 0 saves: default fits, float32 and float64, with and without.

A weight or an Adam moment whose gradient stays 0 (a dead ReLU unit, a constant
input) decays geometrically: in float32 it reaches the subnormal range (below
``1.2e-38``) within a thousand steps, in float64 (below ``2.2e-308``) within
several thousand. A CPU computes on subnormal numbers through a slow path, in
matrix products as in element-wise operations, so a long fit slows down as they
accumulate. Adam sets them to 0 every ``skae._optim.FLUSH_STEPS`` steps; this
script times each estimator at its defaults (the transformer with ReLU units,
whose dead units it was measured on) with that flush and without it
(``FLUSH_STEPS`` set beyond any fit, restored afterwards), in both dtypes, on
bundled tables standardized (the imputer's with 10 % of the entries missing at
random), and checks that the two fits are the same model: the same number of
epochs, and the largest difference between their outputs (``transform``, or
``score_samples`` for the outlier detector).

Each repeat fits every cell once, flush off and on alternating, so that the
machine's drift reaches both; a cell's time is the median over repeats. Its
ratio is the time with the flush over the time without (below 1: the flush
saves time), and the float32 / float64 column divides the two dtypes' times
with the flush.

``transformer-torch`` (with PyTorch installed) is the transformer fitted on
PyTorch CPU tensors through scikit-learn's Array API dispatch, on one PyTorch
thread: the other engine, which flushes the same way.

Usage::

    python benchmarks/subnormals.py --quick   # the transformer on three tables, 2 repeats
    python benchmarks/subnormals.py --json subnormals.json   # all four estimators, 3 repeats
    python benchmarks/subnormals.py --estimators transformer-torch   # PyTorch on the CPU

One BLAS thread. Progress goes to stderr, the table (Markdown) to stdout.
``SCIPY_ARRAY_API=1`` must be set before SciPy is imported for the PyTorch
fits; the script sets it when run as a script.
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import time
import warnings

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import skae  # noqa: E402
import skae._optim as optim_module  # noqa: E402

# The modules the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine_info, one_thread_each  # noqa: E402
from _report import output_file, positive_int, write_results  # noqa: E402

TABLES = {"digits": load_digits, "breast cancer": load_breast_cancer, "wine": load_wine}

#: Each estimator at its defaults (two components where it has them), seed 0; the
#: transformer with ReLU units, as the published table was measured (its default
#: activation is ELU since).
ESTIMATORS = {
    "transformer": lambda: skae.AutoencoderTransformer(2, activation="relu", random_state=0),
    "VAE": lambda: skae.VariationalAutoencoder(2, random_state=0),
    "outlier detector": lambda: skae.AutoencoderOutlierDetector(random_state=0),
    "imputer": lambda: skae.AutoencoderImputer(random_state=0),
    "transformer-torch": lambda: skae.AutoencoderTransformer(
        2, activation="relu", random_state=0
    ),
}

#: The estimators fitted on PyTorch CPU tensors (the Array API engine), not NumPy arrays.
ON_TORCH = {"transformer-torch"}

#: The fraction of entries the imputer's table misses, at random (seed 0).
MISSING = 0.1


def load_table(load, estimator, dtype):
    """A bundled table, standardized, in ``dtype``; for the imputer with missing entries."""
    X = StandardScaler().fit_transform(load(return_X_y=True)[0]).astype(dtype)
    if estimator == "imputer":
        X[np.random.default_rng(0).random(X.shape) < MISSING] = np.nan
    return X


@contextlib.contextmanager
def flushing(on):
    """Adam flushes subnormals as it does by default (``on``), or never; restored after."""
    saved = optim_module.FLUSH_STEPS
    if not on:
        optim_module.FLUSH_STEPS = 2**62
    try:
        yield
    finally:
        optim_module.FLUSH_STEPS = saved


def host(a):
    """``a`` as a NumPy array (from a PyTorch tensor too)."""
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


@contextlib.contextmanager
def engine(estimator):
    """The Array API dispatch on one PyTorch thread for ``ON_TORCH``; nothing otherwise."""
    if estimator not in ON_TORCH:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with sklearn.config_context(array_api_dispatch=True):
            yield
    finally:
        torch.set_num_threads(threads)


def output(model, X):
    """What the fitted model gives its training data, as float64."""
    if isinstance(model, skae.AutoencoderOutlierDetector):
        return host(model.score_samples(X)).astype(np.float64)
    return host(model.transform(X)).astype(np.float64)


def subnormal_weights(model):
    """How many of the fitted ``coefs_`` are subnormal, and how many there are."""
    coefs = getattr(model, "coefs_", None) or model.encoder_coefs_ + model.decoder_coefs_
    w = np.concatenate([host(c).ravel() for c in coefs])
    subnormal = (w != 0) & (np.abs(w) < np.finfo(w.dtype).smallest_normal)
    return int(np.count_nonzero(subnormal)), w.size


def run(estimators, tables, repeats, dtypes=("float32", "float64"), log=sys.stderr, **params):
    """One record per estimator, table, dtype, flush setting and repeat."""
    records = []
    for repeat in range(repeats):
        for estimator in estimators:
            for table in tables:
                for dtype in dtypes:
                    X = load_table(TABLES[table], estimator, dtype)
                    if estimator in ON_TORCH:
                        import torch

                        X = torch.asarray(X)
                    outputs = {}
                    # Alternate which setting goes first, so that drift reaches both.
                    for on in (False, True) if repeat % 2 == 0 else (True, False):
                        model = ESTIMATORS[estimator]()
                        if params:
                            model.set_params(**params)
                        with engine(estimator), flushing(on), \
                                warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always")
                            tic = time.perf_counter()
                            model.fit(X)
                            fit_time = time.perf_counter() - tic
                            outputs[on] = output(model, X)
                        n_subnormal, n_weights = subnormal_weights(model)
                        record = {
                            "estimator": estimator, "table": table, "dtype": dtype,
                            "flush": on, "repeat": repeat, "fit_time": fit_time,
                            "n_iter": int(model.n_iter_), "subnormal_weights": n_subnormal,
                            "weights": n_weights,
                        }
                        if caught:
                            record["warnings"] = sorted(
                                {f"{w.category.__name__}: {w.message}" for w in caught}
                            )
                        records.append(record)
                    difference = float(np.max(np.abs(outputs[True] - outputs[False])))
                    for record in records[-2:]:
                        record["output_difference"] = difference
                    print(
                        f"repeat {repeat}, {estimator}, {table}, {dtype}: "
                        + ", ".join(
                            f"flush {'on' if r['flush'] else 'off'} {r['fit_time']:.2f} s"
                            for r in records[-2:]
                        ),
                        file=log, flush=True,
                    )
    return records


def summarize(records):
    """Per estimator, table and dtype: median times off and on, epochs, subnormals, difference."""
    rows = []
    keys = dict.fromkeys((r["estimator"], r["table"], r["dtype"]) for r in records)
    for key in keys:
        cell = [r for r in records if (r["estimator"], r["table"], r["dtype"]) == key]
        off = [r for r in cell if not r["flush"]]
        on = [r for r in cell if r["flush"]]
        row = dict(zip(("estimator", "table", "dtype"), key, strict=True))
        row["off"] = float(np.median([r["fit_time"] for r in off]))
        row["on"] = float(np.median([r["fit_time"] for r in on]))
        row["ratio"] = row["on"] / row["off"]
        row["epochs"] = sorted({(a["n_iter"], b["n_iter"]) for a, b in zip(off, on, strict=True)})
        row["subnormal_off"] = max(r["subnormal_weights"] for r in off)
        row["subnormal_on"] = max(r["subnormal_weights"] for r in on)
        row["weights"] = cell[0]["weights"]
        row["difference"] = max(r["output_difference"] for r in cell)
        rows.append(row)
    by = {(r["estimator"], r["table"], r["dtype"]): r for r in rows}
    for row in rows:
        other = by.get((row["estimator"], row["table"], "float64"))
        if row["dtype"] == "float32" and other is not None:
            row["float32_over_float64"] = row["on"] / other["on"]
    return rows


def format_table(rows):
    head = ["estimator", "table", "dtype", "fit s, flush off", "on", "on / off",
            "epochs (off, on)", "subnormal weights off → on", "max output difference",
            "float32 / float64 (on)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        epochs = ", ".join(f"{a}" if a == b else f"{a} ≠ {b}" for a, b in row["epochs"])
        ratio = row.get("float32_over_float64")
        lines.append("| " + " | ".join([
            row["estimator"], row["table"], row["dtype"], f"{row['off']:.2f}",
            f"{row['on']:.2f}", f"{row['ratio']:.2f}×", epochs,
            f"{row['subnormal_off']:,} → {row['subnormal_on']:,} of {row['weights']:,}",
            f"{row['difference']:.1e}", "" if ratio is None else f"{ratio:.2f}×",
        ]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help="the transformer alone, 2 repeats (about 1 minute)",
    )
    parser.add_argument(
        "--repeats", type=positive_int, help="repeats per cell (default 3; 2 with --quick)"
    )
    parser.add_argument(
        "--estimators", nargs="+", choices=list(ESTIMATORS), metavar="NAME",
        help=f"a subset of {', '.join(ESTIMATORS)} (default: all but transformer-torch; "
        "the transformer with --quick)",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    args = parser.parse_args(argv)
    estimators = args.estimators or (
        ["transformer"] if args.quick else [e for e in ESTIMATORS if e not in ON_TORCH]
    )
    if ON_TORCH.intersection(estimators) and importlib.util.find_spec("torch") is None:
        parser.error("transformer-torch needs PyTorch (pip install torch, the CPU build)")
    repeats = args.repeats or (2 if args.quick else 3)

    tic = time.perf_counter()
    with one_thread_each():
        machine = machine_info()
        records = run(estimators, list(TABLES), repeats)
    elapsed = time.perf_counter() - tic
    print(format_table(summarize(records)))
    print(
        f"\n{repeats} repeat(s), medians; 1 BLAS thread; {elapsed:.0f} s on {machine['cpu']} "
        f"({machine['logical_cpus']} logical CPUs), numpy {machine['numpy']}, skae "
        f"{machine['skae']}" + (f" ({'; '.join(machine['blas'])})." if machine["blas"] else ".")
    )
    if args.json:
        write_results(args.json, machine, args, records)


if __name__ == "__main__":
    main()
