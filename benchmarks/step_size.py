"""Which Adam step suits which code: narrow codes of smooth manifolds, wide codes of tables.

:class:`skae.AutoencoderTransformer` at its defaults but random starts and ReLU
units (``init="random"``, ``activation="relu"``, as the published table was
measured), once with each
``learning_rate_init`` of ``--rates`` (the default 2e-3 first), on tasks of two
kinds:

* **narrow codes of smooth manifolds**: the clusters, Swiss roll and S-curve of
  ``compare.py`` (2,000 rows each) to 2 dimensions;
* **codes wide for their data**: breast cancer to 16 of its 30 features, after
  a ``StandardScaler`` and after a ``MinMaxScaler``; wine to 12 of its 13;
  digits to 32 of their 64 pixels.

For every seed the data are split 75/25 (the split's seed is the model's),
the scaler is fitted on the training part, and the error is the mean squared
reconstruction error of the held-out part (minus ``score``), in the scaled
units. Each task's line gives, for every rate other than the first, the
geometric mean over seeds of its error divided by the first rate's on the same
split, and on how many splits it was lower; then PCA's error at the same width,
geometric mean over seeds, divided by the first rate's.

Usage::

    python benchmarks/step_size.py --quick          # 3 seeds, under 2 minutes
    python benchmarks/step_size.py --json steps.json  # 5 seeds

Progress goes to stderr, the table (Markdown) to stdout.
"""

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer

# The modules the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine_info  # noqa: E402
from _report import (  # noqa: E402
    geomean,
    one_thread_footer,
    output_file,
    positive_float,
    positive_int,
    write_results,
)
from compare import features, load_clusters, load_s_curve, load_swiss_roll  # noqa: E402

#: The rates compared by default: the default step first, then the larger one tried.
RATES = (2e-3, 5e-3)


@dataclass(frozen=True)
class Task:
    """A dataset reduced to ``n_components`` after ``scaler``; ``kind`` narrow or wide."""

    name: str
    kind: str
    load: object  # () -> X
    n_components: int
    scaler: type = StandardScaler


TASKS = [
    Task("clusters → 2", "narrow", features(load_clusters), 2),
    Task("Swiss roll → 2", "narrow", features(load_swiss_roll), 2),
    Task("S-curve → 2", "narrow", features(load_s_curve), 2),
    Task("breast cancer → 16", "wide", features(load_breast_cancer, return_X_y=True), 16),
    Task("breast cancer → 16, MinMaxScaler", "wide",
         features(load_breast_cancer, return_X_y=True), 16, MinMaxScaler),
    Task("wine → 12", "wide", features(load_wine, return_X_y=True), 12),
    Task("digits → 32", "wide", features(load_digits, return_X_y=True), 32),
]


def run(tasks, seeds, rates=RATES, *, params=None, log=sys.stderr):
    """One record per task, seed and rate (and one for PCA): the held-out errors."""
    params = dict(params or {})
    records = []
    for task in tasks:
        X = task.load()
        for seed in seeds:
            X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
            scaler = task.scaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            print(f"{task.name}, seed {seed}:", end="", file=log, flush=True)
            for rate in rates:
                model = AutoencoderTransformer(
                    task.n_components,
                    learning_rate_init=rate,
                    random_state=seed,
                    **{"init": "random", "activation": "relu", **params},
                )
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    tic = time.perf_counter()
                    model.fit(X_train)
                    fit_time = time.perf_counter() - tic
                record = {
                    "task": task.name,
                    "kind": task.kind,
                    "seed": seed,
                    "method": f"skae {rate:g}",
                    "rate": rate,
                    "mse": float(-model.score(X_test)),
                    "n_iter": int(model.n_iter_),
                    "fit_time": fit_time,
                }
                if caught:
                    record["warnings"] = sorted(
                        {f"{w.category.__name__}: {w.message}" for w in caught}
                    )
                records.append(record)
                print(f"  {rate:g} {fit_time:.1f} s", end="", file=log, flush=True)
            pca = PCA(task.n_components, random_state=seed).fit(X_train)
            mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
            records.append({"task": task.name, "kind": task.kind, "seed": seed, "method": "PCA",
                            "mse": mse})
            print(file=log, flush=True)
    return records


def summarize(records, rates=RATES):
    """Per task: each rate's error against the first rate's, split by split, and PCA's."""
    base = f"skae {rates[0]:g}"
    by = {(r["task"], r["seed"], r["method"]): r["mse"] for r in records}
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        seeds = sorted({s for t, s, m in by if t == task and m == base})
        row = {"task": task, "kind": next(r["kind"] for r in records if r["task"] == task)}
        for rate in rates[1:]:
            ratios = [by[task, s, f"skae {rate:g}"] / by[task, s, base] for s in seeds]
            row[f"{rate:g}"] = (geomean(ratios), sum(r < 1 for r in ratios), len(ratios))
        row["PCA"] = geomean([by[task, s, "PCA"] / by[task, s, base] for s in seeds])
        rows.append(row)
    return rows


def format_table(rows, rates=RATES):
    head = ["task", "code"] + [f"{rate:g} / {rates[0]:g} (lower on)" for rate in rates[1:]]
    head.append(f"PCA / {rates[0]:g}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["task"], row["kind"]]
        for rate in rates[1:]:
            ratio, lower, n = row[f"{rate:g}"]
            cells.append(f"{ratio:.2f}× ({lower}/{n})")
        cells.append(f"{row['PCA']:.2f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds: under 2 minutes")
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 5; 3 with --quick)"
    )
    parser.add_argument(
        "--rates", type=positive_float, nargs="+", default=list(RATES), metavar="RATE",
        help="values of learning_rate_init, the reference first (default: 2e-3 5e-3)",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    args = parser.parse_args(argv)
    if len(args.rates) < 2:
        parser.error("--rates needs at least two rates: the reference and one to compare")
    seeds = list(range(args.seeds or (3 if args.quick else 5)))
    rates = tuple(args.rates)

    tic = time.perf_counter()
    with threadpool_limits(limits=1):
        machine = machine_info()
        records = run(TASKS, seeds, rates)
    elapsed = time.perf_counter() - tic
    print(format_table(summarize(records, rates), rates))
    print(one_thread_footer(len(seeds), elapsed, machine))
    if args.json:
        write_results(args.json, machine, args, records)


if __name__ == "__main__":
    main()
