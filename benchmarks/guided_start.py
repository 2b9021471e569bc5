"""Guided or random first start: held-out error by data size and code width.

:class:`skae.AutoencoderTransformer` at its defaults, once with a random first
start (``init="random"``) and once with a guided one (``init="isomap"``, which
guides every fit it can, so that the limits of ``init="auto"`` can be judged
from both sides of them), on tasks of two kinds:

* **curved manifolds** of ``compare.py`` (clusters, Swiss roll, S-curve) to 2
  dimensions, subsampled to 150 to 1,200 rows;
* **tables**: iris, wine, diabetes, breast cancer and digits (all their rows or
  a subsample) to 2 to 4 dimensions, and the clusters to 4.

For every seed the rows of a subsampled task are drawn without replacement
(the draw's seed is ``1000 +`` the split's), the data are split 75/25 (the
split's seed is the model's), a ``StandardScaler`` is fitted on the training
part, and the error is the mean squared reconstruction error of the held-out
part (minus ``score``). Each task's line gives the rows of the training part,
whether ``init="auto"`` guides them (asked of the estimator: on how many
splits, where not all or none), the geometric mean over seeds of the guided fit's
error divided by the random one's on the same split, on how many splits it was
lower, on how many the two fits are the same model (where Isomap cannot embed
the rows the guided start stays random; at the default ``n_init="auto"`` a
guided start trains alone, and a random one competes with three others), and
the median ratio of their fit times.

Usage::

    python benchmarks/guided_start.py --quick          # 3 seeds, about 3 minutes
    python benchmarks/guided_start.py --json guided.json  # 10 seeds

Progress goes to stderr, the table (Markdown) to stdout.
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer

# The modules the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine_info  # noqa: E402
from _report import (  # noqa: E402
    geomean,
    one_thread_footer,
    output_file,
    positive_int,
    write_results,
)
from compare import features, load_clusters, load_s_curve, load_swiss_roll  # noqa: E402

#: The test part of every split.
TEST_SIZE = 0.25

#: What a subsample's draw adds to the split's seed.
DRAW_OFFSET = 1000


@dataclass(frozen=True)
class Task:
    """``n_rows`` rows (``None``: all) of a dataset, reduced to ``n_components``."""

    name: str
    kind: str
    load: object  # () -> X
    n_components: int
    n_rows: int | None = None

    @property
    def label(self):
        """The task's line in the table."""
        rows = "" if self.n_rows is None else f", {self.n_rows} rows"
        return f"{self.name} → {self.n_components}{rows}"


_MANIFOLDS = [
    ("clusters", load_clusters),
    ("Swiss roll", load_swiss_roll),
    ("S-curve", load_s_curve),
]

TASKS = [
    Task(name, "manifold", features(loader), 2, n_rows)
    for n_rows in (150, 250, 600, 1200)
    for name, loader in _MANIFOLDS
] + [
    Task("iris", "table", features(load_iris, return_X_y=True), 2),
    Task("wine", "table", features(load_wine, return_X_y=True), 2),
    Task("wine", "table", features(load_wine, return_X_y=True), 3),
    Task("wine", "table", features(load_wine, return_X_y=True), 4),
    Task("diabetes", "table", features(load_diabetes, return_X_y=True), 2, 150),
    Task("diabetes", "table", features(load_diabetes, return_X_y=True), 2),
    Task("diabetes", "table", features(load_diabetes, return_X_y=True), 3),
    Task("breast cancer", "table", features(load_breast_cancer, return_X_y=True), 2, 150),
    Task("breast cancer", "table", features(load_breast_cancer, return_X_y=True), 2),
    Task("breast cancer", "table", features(load_breast_cancer, return_X_y=True), 3),
    Task("breast cancer", "table", features(load_breast_cancer, return_X_y=True), 4),
    Task("digits", "table", features(load_digits, return_X_y=True), 2, 250),
    Task("digits", "table", features(load_digits, return_X_y=True), 3),
    Task("digits", "table", features(load_digits, return_X_y=True), 4),
    Task("clusters", "manifold", features(load_clusters), 4),
]

#: The two starts compared: the reference first.
INITS = ("random", "isomap")


def auto_guides(X_train, n_components, params=None):
    """Whether ``init="auto"`` guides a fit of these rows: asked of the estimator itself.

    One epoch of one start from ``"auto"`` and from ``"random"``: the same first
    weights mean a random start.
    """
    first = {}
    for init in ("auto", "random"):
        model = AutoencoderTransformer(
            n_components, random_state=0, **{**(params or {}), "init": init, "max_iter": 1,
                                             "n_init": 1}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first[init] = model.fit(X_train).coefs_[0]
    return not np.array_equal(first["auto"], first["random"])


def split(task, seed):
    """The seed's scaled training and held-out parts of the task's rows."""
    X = task.load()
    if task.n_rows is not None and task.n_rows < len(X):
        rows = np.random.default_rng(DRAW_OFFSET + seed).choice(
            len(X), size=task.n_rows, replace=False
        )
        X = X[rows]
    X_train, X_test = train_test_split(X, test_size=TEST_SIZE, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def run(tasks, seeds, *, params=None, log=sys.stderr):
    """One record per task, seed and start: the held-out error, the model's first weights."""
    params = dict(params or {})
    records = []
    for task in tasks:
        for seed in seeds:
            X_train, X_test = split(task, seed)
            auto = auto_guides(X_train, task.n_components, params)
            print(f"{task.label}, seed {seed}:", end="", file=log, flush=True)
            for init in INITS:
                model = AutoencoderTransformer(
                    task.n_components, random_state=seed, **{**params, "init": init}
                )
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    tic = time.perf_counter()
                    model.fit(X_train)
                    fit_time = time.perf_counter() - tic
                record = {
                    "task": task.label,
                    "kind": task.kind,
                    "n_train": len(X_train),
                    "auto_guides": auto,
                    "seed": seed,
                    "init": init,
                    "mse": float(-model.score(X_test)),
                    "n_iter": int(model.n_iter_),
                    "fit_time": fit_time,
                    # A digest of the fitted weights: equal ones mean the same model.
                    "weights": float(np.sum(model.coefs_[0] ** 2)),
                }
                if caught:
                    record["warnings"] = sorted(
                        {f"{w.category.__name__}: {w.message}" for w in caught}
                    )
                records.append(record)
                print(f"  {init} {fit_time:.1f} s", end="", file=log, flush=True)
            print(file=log, flush=True)
    return records


def summarize(records):
    """Per task: the guided fits' errors and fit times against the random ones', split by split."""
    by = {(r["task"], r["seed"], r["init"]): r for r in records}
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        seeds = sorted({s for t, s, i in by if t == task and i == INITS[0]})
        pairs = [(by[task, s, INITS[0]], by[task, s, INITS[1]]) for s in seeds]
        ratios = [guided["mse"] / random["mse"] for random, guided in pairs]
        first = pairs[0][0]
        rows.append({
            "task": task,
            "kind": first["kind"],
            "n_train": first["n_train"],
            "auto": sum(random["auto_guides"] for random, _ in pairs),
            "ratio": geomean(ratios),
            "lower": sum(r < 1 for r in ratios),
            "same": sum(guided["weights"] == random["weights"] for random, guided in pairs),
            "n": len(pairs),
            "time": statistics.median(g["fit_time"] / r["fit_time"] for r, g in pairs),
        })
    return rows


def format_table(rows):
    head = ["task", "training rows", "auto guides", "guided / random error (lower on, same on)",
            "fit time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        n = row["n"]
        lines.append("| " + " | ".join([
            row["task"],
            str(row["n_train"]),
            {0: "no", n: "yes"}.get(row["auto"], f"{row['auto']}/{n}"),
            f"{row['ratio']:.2f}× ({row['lower']}/{n}, {row['same']}/{n})",
            f"{row['time']:.2f}×",
        ]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds: about 3 minutes")
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 10; 3 with --quick)"
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds or (3 if args.quick else 10)))

    tic = time.perf_counter()
    with threadpool_limits(limits=1):
        machine = machine_info()
        records = run(TASKS, seeds)
    elapsed = time.perf_counter() - tic
    print(format_table(summarize(records)))
    print(one_thread_footer(len(seeds), elapsed, machine))
    if args.json:
        write_results(args.json, machine, args, records)


if __name__ == "__main__":
    main()
