"""Memory and scale: peak resident memory of a large fit, and fit time against n_samples.

Each measurement runs in a fresh subprocess, with the BLAS limited to
``--threads`` threads (default 1), which reports the peak resident set size
(``VmHWM`` from ``/proc/self/status``, else ``resource.getrusage``'s
``ru_maxrss``) of each stage: the fit's and the transform's peaks are their own,
the high-water mark being reset to the current resident size just before each
(by writing ``5`` to ``/proc/self/clear_refs``, Linux). Where it cannot be
reset, the peaks are the process's so far, data generation included, and the
table says so:

* ``array``: fit on an ``n_samples × n_features`` C-contiguous float32 array, then
  ``transform`` it;
* ``memmap``: the same data in a read-only ``np.memmap`` (file-backed pages that
  are touched count as resident, so the input's size shows up here too);
* ``scale``: fit time on 10k, 100k, ... rows of the same kind of data, the
  median of three fits.

Every fit is timed after a warm-up fit of one epoch on a slice of its data.

The baseline is the resident size after the imports, before the data exist; data
are generated in small chunks so that making them does not set the peak.

The fit must not upcast the data to float64, nor copy more than 64 MiB of it per
epoch (in-memory arrays up to that size are shuffled into one reused buffer of
their size; larger arrays and memory maps are gathered batch by batch): for
larger inputs, the peak during fit should stay below the baseline plus the
input's size plus 25%, plus the model's and the minibatch buffers (a few MB here).

Usage::

    python benchmarks/memory.py                  # 1,000,000 × 100, under a minute
    python benchmarks/memory.py --quick          # 200,000 × 100, one epoch
    python benchmarks/memory.py --json memory.json

The table goes to stdout with the machine it ran on, progress to stderr.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HIDDEN, N_COMPONENTS, BATCH_SIZE = (64,), 8, 256
#: Fits timed per size of the scale table (their median reported), after a warm-up.
SCALE_REPEATS = 3


def make_rows(start, stop, n_features, seed=0):
    """Rows ``[start, stop)`` of a fixed data set: a noisy 8-D linear subspace, float32."""
    basis = np.random.default_rng(seed).standard_normal((N_COMPONENTS, n_features))
    rng = np.random.default_rng([seed, start])
    latent = rng.standard_normal((stop - start, N_COMPONENTS))
    rows = latent @ basis
    rows += 0.1 * rng.standard_normal(rows.shape)
    rows /= np.sqrt(N_COMPONENTS)
    return rows.astype(np.float32)


def fill(out, chunk=8192):
    """Fill ``out`` (array or memmap) chunk by chunk, without a float64 copy of it."""
    for start in range(0, out.shape[0], chunk):
        stop = min(start + chunk, out.shape[0])
        out[start:stop] = make_rows(start, stop, out.shape[1])


def peak_mb():
    """Peak resident set size of this process so far, in MB.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` can carry the parent's peak across
    fork and exec.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak():
    """Start a new peak: set the high-water mark to the current resident size.

    True where Linux allows it (``/proc/self/clear_refs``), False otherwise, when
    :func:`peak_mb` keeps reporting the process's peak so far.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def current_mb():
    """Resident set size of this process now, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(kind, n_samples, n_features, epochs, path, threads):
    """Run in a subprocess: one measurement, printed as one JSON line."""
    if kind == "make-file":
        data = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_samples, n_features))
        fill(data)
        data.flush()
        return
    if kind == "machine":
        from threadpoolctl import threadpool_limits

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _machine import machine_info

        with threadpool_limits(limits=threads):
            print(json.dumps(machine_info()))
        return
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    from skae import AutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    threadpool_limits(limits=threads)
    report = {"kind": kind, "n_samples": n_samples, "n_features": n_features, "threads": threads}
    report["baseline_mb"] = current_mb()
    if kind == "memmap":
        X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_samples, n_features))
    else:
        X = np.empty((n_samples, n_features), dtype=np.float32)
        fill(X)
    report["input_mb"] = X.nbytes / 2**20
    report["after_data_mb"] = current_mb()
    report["peak_before_fit_mb"] = peak_mb()
    est = AutoencoderTransformer(
        n_components=N_COMPONENTS,
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        early_stopping=False,
        n_init=1,
        init="random",  # the training's memory, not the guided start's embedding
        activation="relu",  # as the published table was measured
        random_state=0,
    )
    # A warm-up on a slice (first calls, BLAS start-up), before the peak is reset.
    clone(est).set_params(max_iter=1).fit(X[: 4 * BATCH_SIZE])
    report["peak_reset"] = reset_peak()
    report["before_fit_mb"] = current_mb()
    times = []
    for _ in range(SCALE_REPEATS if kind == "scale" else 1):
        tic = time.perf_counter()
        est.fit(X)
        times.append((time.perf_counter() - tic) / epochs)
    report["fit_seconds_per_epoch"] = float(np.median(times))
    report["fit_repeats"] = len(times)
    report["model_mb"] = est._params.nbytes / 2**20
    report["fit_peak_mb"] = peak_mb()
    if kind != "scale":
        reset_peak()
        report["before_transform_mb"] = current_mb()
        tic = time.perf_counter()
        codes = est.transform(X)
        report["transform_seconds"] = time.perf_counter() - tic
        report["codes_mb"] = codes.nbytes / 2**20
        report["transform_peak_mb"] = peak_mb()
    report["final_loss"] = float(est.loss_)
    print(json.dumps(report))


def run_child(kind, n_samples, n_features, epochs, path="", threads=1):
    cmd = [sys.executable, __file__, "--child", kind, str(n_samples), str(n_features)]
    cmd += [str(epochs), path, str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]) if kind != "make-file" else None


def markdown(runs, scale):
    """The tables; a note under them where a peak could not be reset before its stage."""
    lines = [
        "| input | n_samples × n_features | input MB | fit's peak − baseline MB "
        "| (× input) | transform's peak − baseline MB | fit s/epoch | transform s |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in runs:
        fit = r["fit_peak_mb"] - r["baseline_mb"]
        tr = r["transform_peak_mb"] - r["baseline_mb"]
        lines.append(
            f"| {r['kind']} | {r['n_samples']:,} × {r['n_features']} | {r['input_mb']:.0f} "
            f"| {fit:.0f} | {fit / r['input_mb']:.2f} | {tr:.0f} "
            f"| {r['fit_seconds_per_epoch']:.2f} | {r['transform_seconds']:.2f} |"
        )
    lines += [
        "",
        "| n_samples | fit s/epoch | µs per sample | fit's peak − baseline MB |",
        "|--:|--:|--:|--:|",
    ]
    for r in scale:
        per_sample = r["fit_seconds_per_epoch"] / r["n_samples"] * 1e6
        lines.append(
            f"| {r['n_samples']:,} | {r['fit_seconds_per_epoch']:.3f} | {per_sample:.2f} "
            f"| {r['fit_peak_mb'] - r['baseline_mb']:.0f} |"
        )
    if not all(r["peak_reset"] for r in [*runs, *scale]):
        lines += [
            "",
            "The high-water mark could not be reset here: the peaks are the process's "
            "so far, data generation included.",
        ]
    return "\n".join(lines)


def make_parser():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _report import output_file, positive_int

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n-samples",
        type=positive_int,
        default=None,
        help="rows of the array and memmap runs (default 1,000,000; 200,000 with --quick)",
    )
    parser.add_argument(
        "--n-features", type=positive_int, default=100, help="columns of the data (default 100)"
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=None,
        help="epochs per fit (default 2; 1 with --quick)"
    )
    parser.add_argument(
        "--scales",
        type=positive_int,
        nargs="+",
        default=None,
        metavar="N",
        help="n_samples of the scale runs (default 10,000, 100,000 and 1,000,000 below "
        "--n-samples, and --n-samples itself)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200,000 samples, 1 epoch (explicit --n-samples and --epochs are kept)",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE",
        help="write the machine, the runs and the tables to FILE"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="BLAS threads of the fits (default 1)"
    )
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    return parser


def parse_args(argv=None):
    args = make_parser().parse_args(argv)
    if args.n_samples is None:
        args.n_samples = 200_000 if args.quick else 1_000_000
    if args.epochs is None:
        args.epochs = 1 if args.quick else 2
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        kind, n, d, epochs, path, threads = args.child
        return child(kind, int(n), int(d), int(epochs), path, int(threads))
    n, d = args.n_samples, args.n_features
    scales = args.scales or [s for s in (10_000, 100_000, 1_000_000) if s < n] + [n]
    runs, scale = [], []
    machine = run_child("machine", 0, 0, 0, threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.f32")
        # Written by a child, so that this process stays small: children inherit
        # some of its memory accounting.
        run_child("make-file", n, d, 0, path)
        for kind in ("array", "memmap"):
            print(f"{kind}: {n:,} × {d}", file=sys.stderr)
            runs.append(run_child(kind, n, d, args.epochs, path, args.threads))
    for size in scales:
        print(f"scale: {size:,} × {d}", file=sys.stderr)
        scale.append(run_child("scale", size, d, args.epochs, threads=args.threads))
    table = markdown(runs, scale)
    print(table)
    print(
        f"\n{args.epochs} epoch(s) per fit, {args.threads} BLAS thread(s), on {machine['cpu']} "
        f"({machine['logical_cpus']} logical CPUs), numpy {machine['numpy']}, "
        f"scikit-learn {machine['scikit-learn']}, skae {machine['skae']}; "
        f"BLAS: {'; '.join(machine.get('blas') or []) or 'unknown'}."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine,
                    "settings": {k: v for k, v in vars(args).items() if k != "child"},
                    "runs": runs,
                    "scale": scale,
                    "markdown": table,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
