r"""Inference time per call: skae against PCA and MLPRegressor on small inputs.

A model serving requests calls ``transform`` on a few rows at a time, where the
time goes to validation and setup rather than arithmetic. This script times
one call of each method on 1, 10 and 1,000 rows of the digits (64 features,
standardized), for

* ``skae``: :class:`skae.AutoencoderTransformer` with ``n_components=8``, its
  default network ((128, 64) encoder, mirrored decoder) and ReLU units (as
  MLPRegressor's; the transformer's default is ELU): ``transform`` (encode),
  ``inverse_transform(transform(X))`` (reconstruct) and ``score_samples``;
* ``pca``: :class:`sklearn.decomposition.PCA` with 8 components, ``transform``
  and ``inverse_transform(transform(X))``: the cost of a scikit-learn call with
  almost no arithmetic;
* ``mlp``: :class:`sklearn.neural_network.MLPRegressor` with skae's hidden
  layers, code layer included, fit on ``(X, X)``: ``predict`` runs the same
  matrix products as skae's reconstruction;
* ``onnx``: the skae model exported with :mod:`skae.onnx` (float64 graphs, one
  per output) and run by an ``onnxruntime.InferenceSession`` on one thread,
  when skl2onnx and onnxruntime are installed (``pip install ".[onnx]"``);
  skipped otherwise.

What is timed is inference only: each model is fitted briefly first (a few
epochs; the weights do not change the time of a call). Rounds interleave the
contenders, rotating their order; a round times ``calls`` calls of each in a row,
and the table gives each contender's median over rounds of its time per call,
and the median over rounds of the per-round ratios skae / PCA and skae / MLP,
at one BLAS thread for everyone.

Usage::

    python benchmarks/latency.py                 # a few seconds
    python benchmarks/latency.py --quick         # about a second
    python benchmarks/latency.py --rows 1 --rounds 21 --json latency.json
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import blas_text, machine_info  # noqa: E402
from _report import output_file, positive_int  # noqa: E402

N_COMPONENTS = 8


def fitted_models(X, seed=0):
    """skae, PCA and an MLPRegressor of skae's architecture, fitted briefly on ``X``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(
            N_COMPONENTS, activation="relu", max_iter=3, n_init=1, random_state=seed
        ).fit(X)
        hidden = tuple(int(s) for s in ae._layer_sizes[1:-1])
        mlp = MLPRegressor(hidden_layer_sizes=hidden, max_iter=3, random_state=seed).fit(X, X)
    pca = PCA(N_COMPONENTS, random_state=seed).fit(X)
    return ae, pca, mlp


def onnx_sessions(ae, X):
    """``{output: fn(X)}`` running ``ae`` exported to ONNX, or None without the extras."""
    try:
        import onnxruntime
        from skl2onnx import to_onnx

        import skae.onnx  # noqa: F401 (registers the converter)
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    runs = {}
    for output in ("codes", "reconstruction", "score_samples"):
        graph = to_onnx(ae, X[:1], options={id(ae): {"output": output}})
        session = onnxruntime.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        runs[output] = lambda X, session=session, name=name: session.run(None, {name: X})[0]
    return runs


def calls(ae, pca, mlp, onnx=None):
    """The timed calls, by task and contender: ``{task: {contender: fn(X)}}``."""
    tasks = {
        "encode": {"skae": ae.transform, "pca": pca.transform},
        "reconstruct": {
            "skae": lambda X: ae.inverse_transform(ae.transform(X)),
            "pca": lambda X: pca.inverse_transform(pca.transform(X)),
            "mlp": mlp.predict,
        },
        "score_samples": {"skae": ae.score_samples},
    }
    if onnx is not None:
        outputs = {"encode": "codes", "reconstruct": "reconstruction"}
        for task, contenders in tasks.items():
            contenders["onnx"] = onnx[outputs.get(task, task)]
    return tasks


def per_call(fn, X, n_calls):
    tic = time.perf_counter()
    for _ in range(n_calls):
        fn(X)
    return (time.perf_counter() - tic) / n_calls


def bench(X, rows, rounds, n_calls, seed=0, onnx=True):
    """Time every call of :func:`calls` on the first ``rows`` rows of ``X``."""
    ae, pca, mlp = fitted_models(X, seed)
    sessions = onnx_sessions(ae, X) if onnx else None
    results = []
    for n_rows in rows:
        batch = np.ascontiguousarray(X[:n_rows])
        k = max(1, n_calls // n_rows) if n_rows > 1 else n_calls
        for task, contenders in calls(ae, pca, mlp, sessions).items():
            names = list(contenders)
            for fn in contenders.values():
                fn(batch)  # warm up
            seconds = {name: [] for name in names}
            for r in range(rounds):
                for name in names[r % len(names):] + names[: r % len(names)]:
                    seconds[name].append(per_call(contenders[name], batch, k))
            ratios = {
                f"skae_over_{name}": statistics.median(
                    s / p for s, p in zip(seconds["skae"], seconds[name], strict=True)
                )
                for name in names
                if name != "skae"
            }
            results.append(
                {
                    "task": task,
                    "rows": n_rows,
                    "calls_per_round": k,
                    "median_seconds": {n: statistics.median(v) for n, v in seconds.items()},
                    **ratios,
                }
            )
    return results


def markdown(results, machine):
    lines = [
        f"Machine: {machine['cpu']} ({machine['logical_cpus']} logical CPUs), "
        f"NumPy {machine['numpy']}, scikit-learn {machine['scikit-learn']}, "
        f"skae {machine['skae']}; BLAS: {blas_text(machine)}, 1 thread. "
        "Median time per call, µs.",
        "",
        "| task | rows | skae | PCA | MLPRegressor | ONNX "
        "| skae / PCA | skae / MLP | skae / ONNX |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def us(result, name):
        value = result["median_seconds"].get(name)
        return "—" if value is None else f"{value * 1e6:,.0f}"

    def ratio(result, name):
        value = result.get(f"skae_over_{name}")
        return "—" if value is None else f"{value:.2f}"

    for r in results:
        lines.append(
            f"| {r['task']} | {r['rows']:,} | {us(r, 'skae')} | {us(r, 'pca')} | "
            f"{us(r, 'mlp')} | {us(r, 'onnx')} | {ratio(r, 'pca')} | {ratio(r, 'mlp')} | "
            f"{ratio(r, 'onnx')} |"
        )
    return "\n".join(lines)


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (3 rounds)")
    parser.add_argument(
        "--rows", type=positive_int, nargs="+", default=[1, 10, 1000], help="rows per call"
    )
    parser.add_argument(
        "--rounds", type=positive_int, help="rounds (default 11, 3 with --quick)"
    )
    parser.add_argument(
        "--calls",
        type=positive_int,
        default=200,
        help="calls per round on one row; fewer on more rows (default 200)",
    )
    parser.add_argument(
        "--no-onnx", action="store_true", help="leave ONNX Runtime out even when installed"
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the machine and the results"
    )
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 11)
    n_calls = max(1, args.calls // 10) if args.quick else args.calls
    X = StandardScaler().fit_transform(load_digits().data)
    if max(args.rows) > X.shape[0]:
        parser.error(f"argument --rows: at most {X.shape[0]} (the digits' rows)")
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        results = bench(X, args.rows, rounds, n_calls, onnx=not args.no_onnx)
        machine = machine_info()
    table = markdown(results, machine)
    if not any("onnx" in r["median_seconds"] for r in results):
        note = (
            "ONNX Runtime left out (--no-onnx)"
            if args.no_onnx
            else "ONNX Runtime or skl2onnx is not installed: no onnx column "
            '(pip install ".[onnx]")'
        )
        print(note, file=sys.stderr)
        table += f"\n\n{note}."
    print(table)
    print(f"\n(total {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "results": results, "markdown": table}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
