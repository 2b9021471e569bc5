"""Is an autoencoder worth it over PCA on my data, and by how much.

Compares :class:`skae.AutoencoderTransformer` (with its default hyperparameters,
and tuned by a small grid search) with PCA, kernel PCA and Isomap on nonlinear and
linear-ish data, all of it built in or generated offline. For every dataset and
seed the data are split into training and held-out parts; a ``StandardScaler``
and the reducer are fitted, in a ``Pipeline``, on the training part only, and
every metric is computed on the held-out part:

* trustworthiness at k = 5 and 10 (:func:`sklearn.manifold.trustworthiness`):
  are the neighbours in the embedding neighbours in the (standardized) data?
* reconstruction error: mean squared error in standardized units, and as the
  fraction of the held-out variance left unexplained (FVU); the ratio of each
  method's error to PCA's on the same split (``MSE/PCA``: below 1 beats PCA);
* accuracy of a 5-nearest-neighbour classifier of known labels in the latent
  space (trained on the training codes), where labels exist;
* fit time (the whole grid search for the tuned autoencoder).

Usage::

    python benchmarks/compare.py --quick                 # about a minute
    python benchmarks/compare.py --json results.json --plot embeddings.png

Progress goes to stderr, the table to stdout.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import product

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits, make_s_curve, make_swiss_roll
from sklearn.decomposition import PCA, KernelPCA
from sklearn.manifold import Isomap, trustworthiness
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, StandardScaler
from sklearn.utils import resample

import skae
from skae import AutoencoderTransformer
from skae.datasets import make_embedded_manifold, make_manifold_clusters

TRUST_NEIGHBORS = (5, 10)
KNN_NEIGHBORS = 5
TEST_SIZE = 0.25


# -- datasets --------------------------------------------------------------------------------
def _position_bins(t, n_bins=5):
    """Class labels for a manifold without classes: quantile bins of its position ``t``."""
    binner = KBinsDiscretizer(n_bins=n_bins, encode="ordinal", strategy="quantile")
    return binner.fit_transform(t.reshape(-1, 1)).ravel().astype(int)


def load_clusters():
    X, y, _ = make_manifold_clusters(2000, random_state=0)
    return X, y


def load_swiss_roll():
    X, t = make_swiss_roll(2000, noise=0.05, random_state=0)
    return X, _position_bins(t)


def load_s_curve():
    X, t = make_s_curve(2000, noise=0.05, random_state=0)
    return X, _position_bins(t)


def load_embedded_manifold():
    X, _ = make_embedded_manifold(5000, random_state=0)
    return X, None


@dataclass(frozen=True)
class Dataset:
    """A dataset: how to load it (the same data for every seed) and what to reduce it to."""

    name: str
    description: str
    load: Callable[[], tuple]  # () -> (X, y), y None when there are no labels
    n_components: tuple


DATASETS = {
    dataset.name: dataset
    for dataset in [
        Dataset(
            name="clusters",
            description="4 clusters on a 2-D manifold, nonlinearly in 10-D (skae.datasets)",
            load=load_clusters,
            n_components=(2,),
        ),
        Dataset(
            name="swiss_roll",
            description="Swiss roll in 3-D; labels: 5 bins of the position along the roll",
            load=load_swiss_roll,
            n_components=(2,),
        ),
        Dataset(
            name="s_curve",
            description="S-curve in 3-D; labels: 5 bins of the position along the curve",
            load=load_s_curve,
            n_components=(2,),
        ),
        Dataset(
            name="digits",
            description="8x8 handwritten digits, 64-D (load_digits)",
            load=partial(load_digits, return_X_y=True),
            n_components=(2, 8, 16),
        ),
        Dataset(
            name="breast_cancer",
            description="Wisconsin breast cancer, 30-D (load_breast_cancer)",
            load=partial(load_breast_cancer, return_X_y=True),
            n_components=(2, 5),
        ),
        Dataset(
            name="manifold_5d",
            description="5-D manifold embedded smoothly in 100-D, no labels (skae.datasets)",
            load=load_embedded_manifold,
            n_components=(5,),
        ),
    ]
}


def make_tasks(names=None):
    """The (dataset, n_components) pairs to run, in table order."""
    names = list(DATASETS) if names is None else names
    return [(DATASETS[name], k) for name in names for k in DATASETS[name].n_components]


# -- methods ---------------------------------------------------------------------------------
#: The tuned autoencoder: a grid search by 3-fold cross-validation on the training part,
#: scored by the autoencoder's own ``score`` (minus the reconstruction error), over the
#: L2 penalty, which matters most: the default suits a few hundred rows, larger data
#: want less. Weaker penalties may use more epochs; the stopping rule (``tol``,
#: ``n_iter_no_change``) usually ends training long before ``max_iter``.
TUNING_GRID = {"alpha": [1e-4, 5e-4, 1.5e-3, 3e-3], "max_iter": [1000]}


def make_methods(*, skae_params=None, tuning_grid=TUNING_GRID, cv=3, n_jobs=None):
    """Name -> ``factory(n_components, seed)`` returning an unfitted reducer.

    ``skae_params`` overrides the autoencoders' defaults (the tests use it to
    train tiny networks); ``tuning_grid=None`` leaves out the tuned autoencoder.
    """
    skae_params = dict(skae_params or {})

    def autoencoder(k, seed):
        return AutoencoderTransformer(k, random_state=seed, **skae_params)

    methods = {
        "PCA": lambda k, seed: PCA(k, random_state=seed),
        "KernelPCA": lambda k, seed: KernelPCA(
            k, kernel="rbf", fit_inverse_transform=True, random_state=seed
        ),
        "Isomap": lambda k, seed: Isomap(n_components=k),
        "skae": autoencoder,
    }
    if tuning_grid:
        methods["skae tuned"] = lambda k, seed: GridSearchCV(
            autoencoder(k, seed), tuning_grid, cv=cv, n_jobs=n_jobs
        )
    return methods


# -- one fit ---------------------------------------------------------------------------------
def evaluate(reducer, X_train, X_test, y_train=None, y_test=None):
    """Fit ``StandardScaler`` + ``reducer`` on the training part; score the held-out part.

    Returns the metrics (a dict) and the held-out codes.
    """
    pipe = make_pipeline(StandardScaler(), reducer)
    tic = time.perf_counter()
    pipe.fit(X_train)
    metrics = {"fit_time": time.perf_counter() - tic}
    scaler, reducer = pipe[0], pipe[-1]
    X_test_std = scaler.transform(X_test)
    codes = reducer.transform(X_test_std)
    for k in TRUST_NEIGHBORS:
        metrics[f"trust_{k}"] = trustworthiness(X_test_std, codes, n_neighbors=k)
    if hasattr(reducer, "inverse_transform"):  # Isomap has none
        mse = mean_squared_error(X_test_std, reducer.inverse_transform(codes))
        metrics["mse"] = mse
        metrics["fvu"] = mse / X_test_std.var(axis=0).mean()
    if y_train is not None:
        knn = KNeighborsClassifier(KNN_NEIGHBORS).fit(pipe.transform(X_train), y_train)
        metrics["knn_accuracy"] = knn.score(codes, y_test)
    if isinstance(reducer, GridSearchCV):
        metrics["best_params"] = reducer.best_params_
    return metrics, codes


# -- the benchmark ---------------------------------------------------------------------------
def run(tasks, methods, seeds, *, max_samples=None, log=sys.stderr):
    """Fit and score every method on every task and seed.

    Parameters
    ----------
    tasks : list of (Dataset, int)
        From :func:`make_tasks`.
    methods : dict
        From :func:`make_methods`.
    seeds : sequence of int
        One train/test split (and model seed) each.
    max_samples : int or None
        Subsample larger datasets to this many rows (stratified where labelled).
    log : file-like
        Where the progress lines go.

    Returns
    -------
    records : list of dict
        One per task, seed and method: the names, then the metrics.
    embeddings : dict
        ``(dataset name, method) -> (codes, labels)`` of the held-out part of the
        first seed, for the tasks reducing to 2 dimensions.
    """
    records, embeddings, data = [], {}, {}
    n_runs = len(tasks) * len(seeds)
    for i, ((dataset, k), seed) in enumerate(product(tasks, seeds), start=1):
        if dataset.name not in data:
            X, y = dataset.load()
            if max_samples is not None and X.shape[0] > max_samples:
                X, y = _subsample(X, y, max_samples)
            data[dataset.name] = X, y
        X, y = data[dataset.name]
        X_train, X_test, *labels = train_test_split(
            *([X] if y is None else [X, y]), test_size=TEST_SIZE, random_state=seed, stratify=y
        )
        y_train, y_test = labels or (None, None)
        print(f"[{i:2d}/{n_runs}] {dataset.name} to {k}-D, seed {seed}:", end="", file=log)
        by_method = {}
        for name, factory in methods.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                metrics, codes = evaluate(factory(k, seed), X_train, X_test, y_train, y_test)
            if caught:
                metrics["warnings"] = sorted(
                    {f"{w.category.__name__}: {w.message}" for w in caught}
                )
            by_method[name] = metrics
            if k == 2 and seed == seeds[0]:
                embeddings[dataset.name, name] = codes, y_test
            print(f"  {name} {metrics['fit_time']:.1f} s", end="", file=log, flush=True)
        print(file=log, flush=True)
        pca_mse = by_method.get("PCA", {}).get("mse")
        for name, metrics in by_method.items():
            if pca_mse is not None and "mse" in metrics:
                metrics["mse_vs_pca"] = metrics["mse"] / pca_mse
            records.append(
                {
                    "dataset": dataset.name,
                    "n_components": k,
                    "seed": seed,
                    "method": name,
                    "shape": X.shape,
                }
                | metrics
            )
    return records, embeddings


def _subsample(X, y, n_samples):
    """``n_samples`` rows of ``X`` (and ``y``), stratified by ``y`` when given."""
    if y is None:
        return resample(X, n_samples=n_samples, replace=False, random_state=0), None
    X, y = resample(X, y, n_samples=n_samples, replace=False, stratify=y, random_state=0)
    return X, y


# -- reporting -------------------------------------------------------------------------------
#: Table columns: record key, header, number format.
COLUMNS = [
    ("mse", "MSE", ".3f"),
    ("mse_vs_pca", "MSE/PCA", ".3f"),
    ("fvu", "FVU", ".3f"),
    ("trust_5", "trust@5", ".3f"),
    ("trust_10", "trust@10", ".3f"),
    ("knn_accuracy", "kNN acc", ".3f"),
    ("fit_time", "fit s", ".2f"),
]


def summarize(records):
    """``(dataset, n_components, method) -> {column: (mean, sd)}`` over the seeds."""
    values = {}
    for record in records:
        group = values.setdefault(
            (record["dataset"], record["n_components"], record["method"]), {}
        )
        for key, _, _ in COLUMNS:
            if key in record:
                group.setdefault(key, []).append(record[key])
    return {
        group: {
            key: (np.mean(v), np.std(v, ddof=1) if len(v) > 1 else np.nan)
            for key, v in columns.items()
        }
        for group, columns in values.items()
    }


def _cell(stats, fmt):
    if stats is None:
        return "-"
    mean, sd = stats
    return f"{mean:{fmt}}" if np.isnan(sd) else f"{mean:{fmt}}±{sd:{fmt}}"


def format_table(records):
    """The results as text: one block per dataset and code width."""
    summary = summarize(records)
    n_seeds = len({r["seed"] for r in records})
    width = max(len(r["method"]) for r in records) + 2
    lines = [
        f"Held-out metrics, mean ± sd over {n_seeds} seed(s). MSE in standardized units; "
        "MSE/PCA < 1 beats PCA;",
        "FVU = fraction of variance unexplained; kNN acc = 5-NN accuracy of the labels in "
        "the latent space.",
    ]
    for dataset, k in dict.fromkeys((r["dataset"], r["n_components"]) for r in records):
        shape = next(r["shape"] for r in records if r["dataset"] == dataset)
        lines += [
            "",
            f"{dataset} to {k}-D: {DATASETS[dataset].description}, {shape[0]} x {shape[1]}",
        ]
        cells = [[c[1] for c in COLUMNS]]
        methods = dict.fromkeys(r["method"] for r in records if r["dataset"] == dataset)
        for method in methods:
            stats = summary[dataset, k, method]
            cells.append([_cell(stats.get(key), fmt) for key, _, fmt in COLUMNS])
        widths = [max(len(row[j]) for row in cells) for j in range(len(COLUMNS))]
        for name, row in zip(["method", *methods], cells, strict=True):
            lines.append(
                f"  {name:<{width}}"
                + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
            )
    return "\n".join(lines)


def losses_to_pca(records, methods=("skae", "skae tuned")):
    """Where an autoencoder does not beat PCA.

    Its held-out MSE, on average or on any seed, and at 2-D its mean trustworthiness.
    """
    losses = []
    summary = summarize(records)
    for (dataset, k, method), stats in summary.items():
        if method not in methods or "mse_vs_pca" not in stats:
            continue
        ratios = [
            r["mse_vs_pca"]
            for r in records
            if (r["dataset"], r["n_components"], r["method"]) == (dataset, k, method)
        ]
        if n_worse := sum(ratio >= 1 for ratio in ratios):
            losses.append(
                f"{method} on {dataset} to {k}-D: MSE/PCA = {np.mean(ratios):.3f} on average, "
                f">= 1 on {n_worse} of {len(ratios)} seed(s)"
            )
        pca = summary[dataset, k, "PCA"]
        for key in (f"trust_{n}" for n in TRUST_NEIGHBORS):
            if k == 2 and round(stats[key][0], 3) < round(pca[key][0], 3):
                losses.append(
                    f"{method} on {dataset} to {k}-D: {key} = {stats[key][0]:.3f} on average, "
                    f"PCA's {pca[key][0]:.3f}"
                )
    return losses


def plot_embeddings(embeddings, path):
    """Save the 2-D held-out embeddings, one row per dataset, one column per method."""
    from matplotlib.figure import Figure  # optional dependency, and no GUI backend needed

    datasets = list(dict.fromkeys(d for d, _ in embeddings))
    methods = list(dict.fromkeys(m for _, m in embeddings))
    fig = Figure(figsize=(2.4 * len(methods), 2.4 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(methods), squeeze=False)
    for (i, dataset), (j, method) in product(enumerate(datasets), enumerate(methods)):
        ax = axes[i, j]
        ax.set(xticks=[], yticks=[])
        if i == 0:
            ax.set_title(method)
        if j == 0:
            ax.set_ylabel(dataset)
        if (dataset, method) in embeddings:
            codes, labels = embeddings[dataset, method]
            ax.scatter(*codes.T, c=labels, s=2, cmap="tab10", vmin=-0.5, vmax=9.5)
            # Frame the bulk of the points: a few outliers would shrink the rest to a dot.
            low, high = np.percentile(codes, [0.5, 99.5], axis=0)
            margin = 0.05 * (high - low)
            ax.set(
                xlim=(low[0] - margin[0], high[0] + margin[0]),
                ylim=(low[1] - margin[1], high[1] + margin[1]),
            )
    fig.savefig(path, dpi=120)


def machine_info():
    """What the timings were measured on."""
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skae": skae.__version__,
        "thread_pools": [
            {k: pool[k] for k in ("user_api", "internal_api", "num_threads")}
            for pool in threadpool_info()
        ],
    }


# -- command line ----------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one seed and no grid search: about a minute"
    )
    parser.add_argument("--seeds", type=int, help="number of seeds (default 5; 1 with --quick)")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets to run, among {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--max-samples", type=int, help="subsample larger datasets to this many rows"
    )
    parser.add_argument("--n-jobs", type=int, help="parallel jobs of the grid search")
    parser.add_argument("--json", metavar="FILE", help="write the raw results to FILE")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="draw the 2-D embeddings (needs matplotlib)"
    )
    args = parser.parse_args(argv)
    seeds = range(args.seeds or (1 if args.quick else 5))
    methods = make_methods(tuning_grid=None if args.quick else TUNING_GRID, n_jobs=args.n_jobs)

    tic = time.perf_counter()
    records, embeddings = run(
        make_tasks(args.datasets), methods, list(seeds), max_samples=args.max_samples
    )
    elapsed = time.perf_counter() - tic
    machine = machine_info()
    print(format_table(records))
    losses = losses_to_pca(records)
    print("\nWhere skae does not beat PCA:", *(losses or ["nowhere"]), sep="\n  ")
    print(
        f"\n{elapsed:.0f} s on {machine['cpu']} ({machine['logical_cpus']} logical CPUs), "
        f"numpy {machine['numpy']}, scikit-learn {machine['scikit-learn']}, "
        f"skae {machine['skae']}."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "settings": vars(args), "records": records},
                f,
                indent=1,
                default=str,
            )
    if args.plot:
        plot_embeddings(embeddings, args.plot)


if __name__ == "__main__":
    main()
