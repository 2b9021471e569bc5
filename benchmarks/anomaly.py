"""Anomaly detection: skae's AutoencoderOutlierDetector against scikit-learn's detectors and pyod.

Datasets, all built in or generated offline; "normal" rows against "anomalies":

* ``digits``: one digit held out as the anomaly, each of the ten in turn;
* ``breast_cancer``: benign rows normal, malignant rows anomalies;
* ``wine``: one cultivar held out, each of the three in turn;
* ``clusters`` and ``manifold``: points on the curved 2-D sheets of
  :func:`skae.datasets.make_manifold_clusters` (10-D) and
  :func:`skae.datasets.make_embedded_manifold` (20-D); the anomalies are
  midpoints of two random normal points, inside the data's range on every
  feature but off the sheet.

For every dataset, held-out class and seed, the normal rows are split 60/40 into
a training and a test part and the anomalies into a pool and a test part (half of
them, or what the pool leaves when the 10 % setting needs more than half).
Three settings: ``clean`` (novelty detection: training on normal rows only), and
``5%`` and ``10%`` (outlier detection: pool anomalies added to the training part
until they are that share of it). A ``StandardScaler`` is fitted on the training
part only; every method is fitted on the scaled training part, and scores the
test part (test normals and test anomalies, never seen in training), on which ROC
AUC and average precision are computed. Fit times are those of the same fits.
Digits and wine report the mean over their held-out classes; ``±`` is the
sample standard deviation (``ddof=1``) of that mean over seeds, left out with
one seed.

Methods: skae (defaults, and without robust training, ``trim_fraction=0``), IsolationForest,
LocalOutlierFactor(novelty=True), OneClassSVM, PCA reconstruction error (as many
components as skae's code) with scikit-learn's defaults otherwise, and pyod's
AutoEncoder (with its defaults) when pyod and torch are installed: without them,
it is skipped with a note.

Usage::

    python benchmarks/anomaly.py --quick          # one seed, a few held-out classes
    python benchmarks/anomaly.py                  # 3 seeds, everything
    python benchmarks/anomaly.py --max-iter 100   # the same, skae with at most 100 epochs
    python benchmarks/anomaly.py --variant 'nc8={"n_components": 8}' --first-seed 100

Progress goes to stderr, the tables to stdout. One BLAS thread (and one torch
thread) throughout.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from skae import AutoencoderOutlierDetector
from skae.datasets import make_embedded_manifold, make_manifold_clusters

# The modules the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine_info as shared_machine_info  # noqa: E402
from _machine import one_thread_each  # noqa: E402
from _report import (  # noqa: E402
    decimals,
    json_object,
    non_negative_int,
    output_file,
    params_error,
    positive_int,
)

SETTINGS = {"clean": 0.0, "5%": 0.05, "10%": 0.10}
TRAIN_SHARE = 0.6
N_SYNTHETIC_ANOMALIES = 300
#: The goal: skae's mean ROC AUC is the best, and no dataset and setting is more than
#: this far below the best method there.
GOAL_MARGIN = 0.02
SKAE = "skae"
SKAE_PLAIN = "skae, trim_fraction=0"
PYOD = "pyod AutoEncoder"


# -- datasets: name -> list of (case, normal rows, anomaly rows) ------------------------------
def _held_out(X, y):
    return [(str(k), X[y != k], X[y == k]) for k in np.unique(y)]


def _midpoints(X, n, seed):
    rng = np.random.RandomState(seed)
    first, second = rng.randint(len(X), size=(2, n))
    return (X[first] + X[second]) / 2


def load_digits_cases():
    return _held_out(*load_digits(return_X_y=True))


def load_breast_cancer_cases():
    X, y = load_breast_cancer(return_X_y=True)
    return [("malignant", X[y == 1], X[y == 0])]


def load_wine_cases():
    return _held_out(*load_wine(return_X_y=True))


def load_clusters_cases():
    X, _, _ = make_manifold_clusters(1500, random_state=0)
    return [("midpoints", X, _midpoints(X, N_SYNTHETIC_ANOMALIES, 1))]


def load_manifold_cases():
    X, _ = make_embedded_manifold(1500, n_features=20, n_latent=2, random_state=0)
    return [("midpoints", X, _midpoints(X, N_SYNTHETIC_ANOMALIES, 1))]


DATASETS = {
    "digits": load_digits_cases,
    "breast_cancer": load_breast_cancer_cases,
    "wine": load_wine_cases,
    "clusters": load_clusters_cases,
    "manifold": load_manifold_cases,
}
#: Held-out classes of --quick.
QUICK_CASES = {"digits": ("0", "3", "8"), "wine": ("1",)}


def _n_added(contamination, n_train):
    """Anomalies to add to ``n_train`` normal rows so that they are ``contamination`` of all."""
    return int(round(contamination / (1 - contamination) * n_train))


def split(normal, anomalies, contamination, seed):
    """Scaled training rows, scaled test rows and test labels (1 = anomaly)."""
    rng = np.random.RandomState(seed)
    normal = normal[rng.permutation(len(normal))]
    anomalies = anomalies[rng.permutation(len(anomalies))]
    n_train = int(TRAIN_SHARE * len(normal))
    n_added = _n_added(contamination, n_train)
    # The same test anomalies in every setting: half of them, or fewer if the largest
    # contamination needs more of them in the pool.
    n_test = min(len(anomalies) // 2, len(anomalies) - _n_added(max(SETTINGS.values()), n_train))
    pool, test_anomalies = anomalies[:-n_test], anomalies[-n_test:]
    X_train = np.vstack([normal[:n_train], pool[:n_added]])
    X_test = np.vstack([normal[n_train:], test_anomalies])
    y_test = np.r_[np.zeros(len(normal) - n_train), np.ones(len(test_anomalies))]
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


# -- methods: name -> make(seed) -> object with fit(X) and anomaly(X) (higher = more abnormal) --
class _Detector:
    """A detector whose ``score_samples`` is higher for normal rows."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X):
        self.estimator.fit(X)
        return self

    def anomaly(self, X):
        return -self.estimator.score_samples(X)


class _PCAResidual:
    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X):
        self.pca = PCA(n_components=min(self.n_components, X.shape[1] - 1)).fit(X)
        return self

    def anomaly(self, X):
        residual = X - self.pca.inverse_transform(self.pca.transform(X))
        return np.mean(residual**2, axis=1)


class _Pyod:
    def __init__(self, seed):
        from pyod.models.auto_encoder import AutoEncoder

        self.model = AutoEncoder(random_state=seed, verbose=0)

    def fit(self, X):
        self.model.fit(X)
        return self

    def anomaly(self, X):
        return self.model.decision_function(X)


def pyod_missing():
    """Why pyod's AutoEncoder is skipped, or None if it can run."""
    try:
        import torch
        from pyod.models.auto_encoder import AutoEncoder  # noqa: F401
    except ImportError as exc:
        return f"{PYOD} skipped: {exc} (pip install pyod torch)."
    torch.set_num_threads(1)
    return None


def make_methods(variants=(), pyod=True, skae_params=None):
    """The methods; ``skae_params`` change skae's defaults in every skae variant."""
    n_components = AutoencoderOutlierDetector().n_components
    common = dict(skae_params or {})

    def skae(**params):
        return lambda seed: _Detector(
            AutoencoderOutlierDetector(**{**common, **params, "random_state": seed})
        )

    methods = {SKAE: skae(), SKAE_PLAIN: skae(trim_fraction=0.0)}
    for name, params in variants:
        methods[name] = skae(**params)
    methods.update(
        {
            "IsolationForest": lambda seed: _Detector(IsolationForest(random_state=seed)),
            "LOF": lambda seed: _Detector(LocalOutlierFactor(novelty=True)),
            "OneClassSVM": lambda seed: _Detector(OneClassSVM()),
            f"PCA({n_components}) residual": lambda seed: _PCAResidual(n_components),
        }
    )
    if pyod:
        methods[PYOD] = _Pyod
    return methods


# -- running ---------------------------------------------------------------------------------
def run(datasets, methods, seeds, settings=SETTINGS, cases=None, log=sys.stderr):
    """One record per dataset, held-out case, setting, seed and method."""
    records = []
    for dataset in datasets:
        for case, normal, anomalies in DATASETS[dataset]():
            if cases and dataset in cases and case not in cases[dataset]:
                continue
            for setting, contamination in settings.items():
                for seed in seeds:
                    X_train, X_test, y_test = split(normal, anomalies, contamination, seed)
                    for method, make in methods.items():
                        model = make(seed)
                        tic = time.perf_counter()
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", ConvergenceWarning)
                            model.fit(X_train)
                        fit_time = time.perf_counter() - tic
                        score = model.anomaly(X_test)
                        records.append(
                            {
                                "dataset": dataset,
                                "case": case,
                                "setting": setting,
                                "seed": seed,
                                "method": method,
                                "roc_auc": float(roc_auc_score(y_test, score)),
                                "average_precision": float(average_precision_score(y_test, score)),
                                "fit_time": fit_time,
                                "n_train": len(X_train),
                            }
                        )
                    print(f"{dataset} {case} {setting} seed {seed} done", file=log, flush=True)
    return records


def summarize(records, metric):
    """{(dataset, setting): {method: (mean over seeds of the case mean, sd over seeds)}}.

    The sd is the sample standard deviation (``ddof=1``), NaN with one seed.
    """
    table = {}
    keys = sorted({(r["dataset"], r["setting"], r["method"]) for r in records}, key=str)
    for dataset, setting, method in keys:
        rows = [
            r
            for r in records
            if (r["dataset"], r["setting"], r["method"]) == (dataset, setting, method)
        ]
        per_seed = [
            np.mean([r[metric] for r in rows if r["seed"] == seed])
            for seed in sorted({r["seed"] for r in rows})
        ]
        table.setdefault((dataset, setting), {})[method] = (
            float(np.mean(per_seed)),
            float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan"),
        )
    return table


def _ordered_cells(table, datasets):
    order = {name: i for i, name in enumerate(SETTINGS)}
    return sorted(table, key=lambda k: (datasets.index(k[0]), order[k[1]]))


def format_table(records, metric, datasets, methods):
    table = summarize(records, metric)
    lines = [
        "| dataset | setting | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for cell in _ordered_cells(table, datasets):
        row = table[cell]
        best = max(m for m, _ in row.values())
        values = []
        for method in methods:
            mean, sd = row[method]
            text = f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"
            values.append(f"**{text}**" if mean == best else text)
        lines.append(f"| {cell[0]} | {cell[1]} | " + " | ".join(values) + " |")
    means = {m: np.mean([table[c][m][0] for c in table]) for m in methods}
    best = max(means.values())
    lines.append(
        "| **mean** | all | "
        + " | ".join(
            f"**{means[m]:.3f}**" if means[m] == best else f"{means[m]:.3f}" for m in methods
        )
        + " |"
    )
    return "\n".join(lines)


def format_times(records, datasets, methods):
    lines = [
        "| dataset | rows | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for dataset in datasets:
        rows = [r for r in records if r["dataset"] == dataset]
        if not rows:
            continue
        n_train = int(np.median([r["n_train"] for r in rows]))
        times = [
            np.median([r["fit_time"] for r in rows if r["method"] == method]) for method in methods
        ]
        lines.append(f"| {dataset} | {n_train} | " + " | ".join(f"{t:.2f}" for t in times) + " |")
    return "\n".join(lines)


def goal_report(records, method=SKAE, own=(SKAE_PLAIN,)):
    """Where ``method`` misses the goal: the cells too far below the best, and its rank.

    The best is among ``method`` and the peers: ``own`` names the other skae
    configurations (``--variant``, no trimming), which are not rivals. Without
    pyod's AutoEncoder among the records, the first line says the goal was judged
    without it.
    """
    table = {
        cell: {m: v for m, v in row.items() if m == method or m not in own}
        for cell, row in summarize(records, "roc_auc").items()
    }
    lines = []
    means = {m: np.mean([table[c][m][0] for c in table]) for m in table[next(iter(table))]}
    winner = max(means, key=means.get)
    without = "" if PYOD in means else f", judged without {PYOD}"
    lines.append(
        f"mean ROC AUC: {method} {means[method]:.3f}, best {winner} {means[winner]:.3f}"
        + (f" (goal met{without})" if winner == method else f" (goal MISSED{without})")
    )
    for cell, row in table.items():
        best_method = max(row, key=lambda m: row[m][0])
        gap = row[best_method][0] - row[method][0]
        if gap > GOAL_MARGIN:
            d = decimals(gap, GOAL_MARGIN, at_least=3)
            lines.append(
                f"{cell[0]} {cell[1]}: {method} {row[method][0]:.3f}, {gap:.{d}f} below "
                f"{best_method} {row[best_method][0]:.3f} (goal MISSED)"
            )
    if len(lines) == 1:
        lines.append(f"no dataset and setting more than {GOAL_MARGIN} below the best (goal met)")
    return lines


def machine_info():
    """What the timings were measured on (the shared description, BLAS kernels included)."""
    return {**shared_machine_info(), "pyod": getattr(sys.modules.get("pyod"), "__version__", None)}


def _variant(text):
    """An argparse type: ``NAME={"param": value}``."""
    name, _, params = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r} names no variant: NAME={{...}}")
    return name, json_object(params)


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one seed, three digits and one wine class"
    )
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--first-seed", type=non_negative_int, default=0, help="first seed (default 0)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets, among {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=list(SETTINGS),
        metavar="NAME",
        # argparse formats help with %: a literal percent sign is written %%.
        help="contamination of the training part, among "
        + ", ".join(SETTINGS).replace("%", "%%")
        + " (default: all)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        type=_variant,
        default=[],
        metavar='NAME={"param": value}',
        help="add skae with these parameters (JSON), repeatable",
    )
    parser.add_argument(
        "--max-iter", type=positive_int, help="skae's max_iter (default: the detector's, 2000)"
    )
    parser.add_argument("--no-pyod", action="store_true", help="skip pyod's AutoEncoder")
    parser.add_argument(
        "--only-skae", action="store_true", help="only the skae variants (for tuning)"
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    for name, params in args.variant:
        if error := params_error(AutoencoderOutlierDetector, params, ("random_state",)):
            parser.error(f"--variant {name}: {error}")
    with one_thread_each():
        _main(args)


def _main(args):
    n_seeds = args.seeds or (1 if args.quick else 3)
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    missing = None if args.no_pyod or args.only_skae else pyod_missing()
    notes = [missing] if missing else []
    variants = dict(args.variant)
    skae_params = {} if args.max_iter is None else {"max_iter": args.max_iter}
    methods = make_methods(
        args.variant, skae_params=skae_params, pyod=not (args.no_pyod or args.only_skae or missing)
    )
    if args.only_skae:
        methods = {k: v for k, v in methods.items() if k.startswith(SKAE) or k in variants}
    settings = {name: SETTINGS[name] for name in args.settings}

    tic = time.perf_counter()
    records = run(args.datasets, methods, seeds, settings, QUICK_CASES if args.quick else None)
    elapsed = time.perf_counter() - tic
    machine = machine_info()
    names = list(methods)
    print(*notes, sep="\n", end="\n\n" if notes else "")
    print(
        "ROC AUC on held-out data (mean ± sd over seeds):\n"
        if len(seeds) > 1
        else "ROC AUC on held-out data (one seed):\n"
    )
    print(format_table(records, "roc_auc", args.datasets, names))
    print("\nAverage precision on held-out data:\n")
    print(format_table(records, "average_precision", args.datasets, names))
    print("\nMedian fit time (s), one thread:\n")
    print(format_times(records, args.datasets, names))
    if SKAE in methods:
        print("\nGoal:", *goal_report(records, own=(SKAE_PLAIN, *variants)), sep="\n  ")
    print(
        f"\n{elapsed:.0f} s, seeds {seeds}, on {machine['cpu']} ({machine['logical_cpus']} "
        f"logical CPUs), numpy {machine['numpy']}, scikit-learn {machine['scikit-learn']}, "
        f"skae {machine['skae']}"
        + (f" ({'; '.join(machine['blas'])})" if machine["blas"] else "")
        + (f", torch {machine['torch']}, pyod {machine['pyod']}" if PYOD in methods else "")
        + "."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "settings": vars(args), "notes": notes, "records": records},
                f,
                indent=1,
                default=str,
            )


if __name__ == "__main__":
    main()
