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

With ``--torch``, a PyTorch autoencoder tuned over four architectures
(:class:`TorchAutoencoder`, needs ``pip install ".[torch]"``) joins them as a
reference, under the same protocol; the table then gives every method's MSE and
fit time as ratios to it, and a summary says, task by task, whether skae meets
its goal against it (:data:`TORCH_GOALS`). With ``--torch-reseeded`` the same
reference is trained a second time on every split from another random state
(its validation rows, initialisation and shuffling): how far the reference is
from itself measures how much of a ratio to it is the luck of one training run.

Usage::

    python benchmarks/compare.py --quick                 # a minute or two
    python benchmarks/compare.py --json results.json --plot embeddings.png
    python benchmarks/compare.py --datasets breast_cancer --seeds 1 --torch
    python benchmarks/compare.py --quick --seeds 3 --torch --torch-reseeded

Every method runs with ``--threads`` BLAS and OpenMP threads (threadpoolctl,
default 1) and the PyTorch reference with ``--torch-threads`` (default 1).
Progress goes to stderr, the table to stdout.
"""

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import product

import numpy as np
from joblib import parallel_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_breast_cancer, load_digits, make_s_curve, make_swiss_roll
from sklearn.decomposition import PCA, KernelPCA
from sklearn.manifold import Isomap, trustworthiness
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, StandardScaler
from sklearn.utils import check_random_state, resample
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer
from skae.datasets import make_embedded_manifold, make_manifold_clusters

# The module the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine_info  # noqa: E402
from _report import (  # noqa: E402
    decimals,
    exceeds,
    json_object,
    nonzero_int,
    output_file,
    params_error,
    positive_int,
)

TRUST_NEIGHBORS = (5, 10)
KNN_NEIGHBORS = 5
TEST_SIZE = 0.25
#: The fewest rows ``--max-samples`` takes: a held-out quarter of more than twice the
#: largest neighbourhood of the trustworthiness, and of each of digits' ten classes.
MIN_SAMPLES = 100
#: The autoencoder's parameters each task and seed set (not ``--skae-params``).
SET_BY_RUN = ("n_components", "random_state")


# -- datasets --------------------------------------------------------------------------------
def _position_bins(t, n_bins=5):
    """Class labels for a manifold without classes: quantile bins of its position ``t``."""
    binner = KBinsDiscretizer(n_bins=n_bins, encode="ordinal", strategy="quantile")
    return binner.fit_transform(t.reshape(-1, 1)).ravel().astype(int)


def features(load, **kwargs):
    """``() -> X`` of a loader returning ``(X, y)``.

    This module's loaders, or scikit-learn's with ``return_X_y=True``: the other
    benchmark scripts' tasks take ``X`` alone.
    """
    return lambda: load(**kwargs)[0]


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
#: scored by the autoencoder's own ``score`` (minus the reconstruction error), over what
#: the defaults cannot know: the width of the network (smooth manifolds gain from a wider
#: one, and wide data from a wide output side: one hidden layer of 512 units in the
#: decoder), the step size (larger steps find better minima on some manifolds and
#: overfit digits sooner), and whether the inputs are corrupted by masking noise, 5 % of
#: the entries set to 0 in each minibatch: a denoising fit holds no rows out by default,
#: and the noise rather than early stopping keeps it from overfitting (breast cancer
#: gains, noiseless manifolds lose). The L2 penalty follows the validation loss by itself
#: (``alpha="auto"``), and the stopping rule ends training long before ``max_iter``.
#: Three networks, two steps, with and without the noise: 12 candidates.
_STEP_AND_NOISE = {
    "learning_rate_init": [2e-3, 5e-3],
    "noise": [None, "masking"],
    "noise_level": [0.05],
}
TUNING_GRID = [
    {"hidden_layer_sizes": [(128, 64), (256, 128)], **_STEP_AND_NOISE},
    {"decoder_layer_sizes": [(512,)], **_STEP_AND_NOISE},
]


def make_methods(
    *,
    skae_params=None,
    tuning_grid=TUNING_GRID,
    cv=3,
    n_jobs=None,
    torch_params=None,
    torch_reseeded=False,
):
    """Name -> ``factory(n_components, seed)`` returning an unfitted reducer.

    ``skae_params`` overrides the autoencoders' defaults (the tests use it to
    train tiny networks); ``tuning_grid=None`` leaves out the tuned autoencoder.
    ``torch_params``, a dict (``{}`` for the defaults, :data:`TORCH_QUICK` for a
    small variant), adds the PyTorch reference :data:`TORCH_METHOD` with these
    parameters of :class:`TorchAutoencoder`; ``None`` leaves it out.
    ``torch_reseeded`` (with ``torch_params``) adds :data:`TORCH_RESEEDED_METHOD`,
    the same reference from the random state ``seed +`` :data:`RESEED_OFFSET`.
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
    if torch_params is not None:
        # PyTorch initialises itself on the first training step (seconds): not in a fit time.
        TorchAutoencoder(1, architectures=((2,),), max_epochs=1).fit(np.ones((4, 2)))
        methods[TORCH_METHOD] = lambda k, seed: TorchAutoencoder(
            k, random_state=seed, **torch_params
        )
        if torch_reseeded:
            methods[TORCH_RESEEDED_METHOD] = lambda k, seed: TorchAutoencoder(
                k, random_state=seed + RESEED_OFFSET, **torch_params
            )
    return methods


# -- the PyTorch reference -------------------------------------------------------------------
#: The PyTorch reference's name in the tables and the summary.
TORCH_METHOD = "PyTorch tuned"

#: The reference trained again from another random state (``--torch-reseeded``).
TORCH_RESEEDED_METHOD = "PyTorch re-seeded"

#: What the re-seeded reference adds to a split's seed to get its random state.
RESEED_OFFSET = 1000

#: A small, fast variant of the reference for the tests: one architecture, a few epochs
#: (with larger steps on smaller batches, so that it learns something in them).
TORCH_QUICK = {
    "architectures": ((16,),),
    "max_epochs": 30,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "patience": 5,
    "lr_patience": 2,
}


def torch_missing():
    """Why the PyTorch reference cannot run (a one-line note), or None when it can."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        return f'{TORCH_METHOD} skipped: torch is not importable ({exc}); pip install ".[torch]"'
    return None


@contextlib.contextmanager
def _torch_threads(torch, n_threads):
    """Run PyTorch's intra-op pool with ``n_threads`` threads, then restore the caller's."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TorchAutoencoder(TransformerMixin, BaseEstimator):
    """A fully-connected PyTorch autoencoder, tuned over a few architectures: the reference.

    For each encoder shape in ``architectures`` (ReLU hidden layers, a linear code
    layer of ``n_components`` units, the decoder its mirror with a linear output
    layer), Adam trains on minibatches of squared reconstruction error, while a
    validation part held out of the training data drives
    ``ReduceLROnPlateau`` and early stopping, which restores the weights of the
    best validation epoch. The architecture with the lowest validation loss is
    kept, as it was trained (no refit): a small grid search inside ``fit``, whose
    time therefore counts in full. ``torch`` is imported by ``fit``.

    Parameters
    ----------
    n_components : int
        Width of the (linear) code layer.
    architectures : tuple of tuple of int, default=((64,), (128, 64), (256, 128), (256, 256))
        The encoders' hidden-layer widths tried, input side first; each decoder
        mirrors its encoder.
    max_epochs : int, default=1000
        Most epochs (passes over the training samples) per architecture.
    batch_size : int, default=64
        Samples per Adam step; the last minibatch of an epoch may be smaller.
    learning_rate : float, default=1e-3
        Adam's initial step size (its other settings are PyTorch's defaults).
    lr_factor : float, default=0.5
        ``ReduceLROnPlateau``: the step size is multiplied by this factor ...
    lr_patience : int, default=20
        ... after this many epochs without a validation loss better than the best
        by a relative 1e-4 (PyTorch's default threshold) ...
    min_lr : float, default=1e-5
        ... down to this step size.
    patience : int, default=60
        Early stopping: training stops after this many epochs without a new best
        validation loss, and the best epoch's weights are restored.
    validation_fraction : float, default=0.1
        Fraction of the training samples held out for validation (the same
        samples for every architecture).
    n_threads : int, default=1
        Threads of PyTorch's intra-op pool during ``fit``, ``transform`` and
        ``inverse_transform``; the caller's setting is restored afterwards.
    random_state : int, default=0
        Seeds the validation split, the weight initialisation and the shuffling,
        the same for every architecture. PyTorch's global generator is left as
        it was.

    Attributes
    ----------
    encoder_, decoder_ : torch.nn.Sequential
        The kept architecture's two halves, in float32.
    best_params_ : dict
        ``{"hidden_layer_sizes": ...}``, the kept encoder shape.
    selection_ : list of dict
        Per architecture: ``hidden_layer_sizes``, its best validation loss
        (``val_loss``), the epoch it was reached at (``best_epoch``) and the
        epochs trained (``epochs``).
    """

    def __init__(
        self,
        n_components,
        *,
        architectures=((64,), (128, 64), (256, 128), (256, 256)),
        max_epochs=1000,
        batch_size=64,
        learning_rate=1e-3,
        lr_factor=0.5,
        lr_patience=20,
        min_lr=1e-5,
        patience=60,
        validation_fraction=0.1,
        n_threads=1,
        random_state=0,
    ):
        self.n_components = n_components
        self.architectures = architectures
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.min_lr = min_lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_threads = n_threads
        self.random_state = random_state

    def fit(self, X, y=None):
        """Train every architecture and keep the best on the validation part.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : TorchAutoencoder
            The fitted reference.
        """
        import torch

        X = check_array(X, dtype=np.float32)
        order = check_random_state(self.random_state).permutation(X.shape[0])
        n_val = max(1, round(self.validation_fraction * X.shape[0]))
        X_val, X_fit = torch.from_numpy(X[order[:n_val]]), torch.from_numpy(X[order[n_val:]])
        with _torch_threads(torch, self.n_threads), torch.random.fork_rng(devices=[]):
            fits = [self._fit_one(torch, tuple(h), X_fit, X_val) for h in self.architectures]
        best = min(range(len(fits)), key=lambda i: fits[i][1]["val_loss"])
        (self.encoder_, self.decoder_), self.selection_ = fits[best][0], [f[1] for f in fits]
        self.best_params_ = {"hidden_layer_sizes": self.selection_[best]["hidden_layer_sizes"]}
        return self

    def _fit_one(self, torch, hidden, X_fit, X_val):
        """Train one architecture; its (encoder, decoder) at the best epoch, and a summary."""
        torch.manual_seed(self.random_state)
        widths = [X_fit.shape[1], *hidden, self.n_components]
        encoder, decoder = _dense_relu(torch, widths), _dense_relu(torch, widths[::-1])
        model = torch.nn.Sequential(encoder, decoder)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=self.lr_factor, patience=self.lr_patience, min_lr=self.min_lr
        )
        mse = torch.nn.functional.mse_loss
        best_loss, best_epoch, best_state = np.inf, 0, None
        for epoch in range(1, self.max_epochs + 1):
            for batch in torch.randperm(X_fit.shape[0]).split(self.batch_size):
                X_batch = X_fit[batch]
                optimizer.zero_grad()
                mse(model(X_batch), X_batch).backward()
                optimizer.step()
            with torch.no_grad():
                val_loss = mse(model(X_val), X_val).item()
            if not np.isfinite(val_loss):  # diverged: keep the best epoch so far
                break
            scheduler.step(val_loss)
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
                best_state = {name: t.clone() for name, t in model.state_dict().items()}
            elif epoch - best_epoch >= self.patience:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        summary = {
            "hidden_layer_sizes": hidden,
            "val_loss": best_loss,
            "best_epoch": best_epoch,
            "epochs": epoch,
        }
        return (encoder, decoder), summary

    def _apply(self, network, X):
        import torch

        check_is_fitted(self)
        X = torch.from_numpy(check_array(X, dtype=np.float32))
        with _torch_threads(torch, self.n_threads), torch.no_grad():
            return network(X).numpy().astype(np.float64)

    def transform(self, X):
        """The codes of ``X``, of shape (n_samples, n_components)."""
        return self._apply(self.encoder_, X)

    def inverse_transform(self, X):
        """The reconstructions from codes ``X``, of shape (n_samples, n_features)."""
        return self._apply(self.decoder_, X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "encoder_")


def _dense_relu(torch, widths):
    """Linear layers through ``widths``, a ReLU after each but the last."""
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


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
    if hasattr(reducer, "best_params_"):  # GridSearchCV, TorchAutoencoder
        metrics["best_params"] = reducer.best_params_
    if hasattr(reducer, "selection_"):
        metrics["selection"] = reducer.selection_
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
        torch_ref = by_method.get(TORCH_METHOD)
        for name, metrics in by_method.items():
            if pca_mse is not None and "mse" in metrics:
                metrics["mse_vs_pca"] = metrics["mse"] / pca_mse
            if torch_ref is not None:
                if "mse" in metrics:
                    metrics["mse_vs_torch"] = metrics["mse"] / torch_ref["mse"]
                metrics["time_vs_torch"] = metrics["fit_time"] / torch_ref["fit_time"]
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
    ("mse_vs_torch", "MSE/torch", ".3f"),
    ("time_vs_torch", "time/torch", ".3f"),
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
    columns = [c for c in COLUMNS if any(c[0] in r for r in records)]
    lines = [
        f"Held-out metrics, mean ± sd over {n_seeds} seed(s). MSE in standardized units; "
        "MSE/PCA < 1 beats PCA;",
        "FVU = fraction of variance unexplained; kNN acc = 5-NN accuracy of the labels in "
        "the latent space.",
    ]
    if any("mse_vs_torch" in r for r in records):
        lines.append(
            f"MSE/torch, time/torch: held-out MSE and fit time over {TORCH_METHOD}'s "
            "on the same split."
        )
    for dataset, k in dict.fromkeys((r["dataset"], r["n_components"]) for r in records):
        shape = next(r["shape"] for r in records if r["dataset"] == dataset)
        lines += [
            "",
            f"{dataset} to {k}-D: {DATASETS[dataset].description}, {shape[0]} x {shape[1]}",
        ]
        cells = [[c[1] for c in columns]]
        methods = dict.fromkeys(r["method"] for r in records if r["dataset"] == dataset)
        for method in methods:
            stats = summary[dataset, k, method]
            cells.append([_cell(stats.get(key), fmt) for key, _, fmt in columns])
        widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]
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
            ours, theirs = stats[key][0], pca[key][0]
            if k == 2 and ours < theirs:
                d = decimals(ours, theirs, at_least=3)
                losses.append(
                    f"{method} on {dataset} to {k}-D: {key} = {ours:.{d}f} on average, "
                    f"PCA's {theirs:.{d}f}"
                )
    return losses


#: skae's goals against the PyTorch reference, per method: the most held-out MSE and the
#: most fit time, as ratios to the reference's on the same split (None: no goal). The
#: re-seeded reference has none: its line says how far the reference is from itself.
TORCH_GOALS = {
    "skae": (1.2, 1 / 5),
    "skae tuned": (1.0, None),
    TORCH_RESEEDED_METHOD: (None, None),
}


def against_torch(records, goals=TORCH_GOALS):
    """Each skae variant against the PyTorch reference, task by task, and its goal.

    One line per task and method of ``goals`` that ran with the reference: the
    mean (and per-seed range) of its held-out MSE over the reference's, the mean
    ratio of fit times, the mean fit times, and the goals missed, with numbers
    (nothing about goals for a method without any). With the re-seeded reference,
    skae's lines also give the mean over splits of its MSE over the mean of the
    reference's two runs on the split.
    """
    lines = []
    for dataset, k in dict.fromkeys((r["dataset"], r["n_components"]) for r in records):
        task = [r for r in records if (r["dataset"], r["n_components"]) == (dataset, k)]
        ref = [r["fit_time"] for r in task if r["method"] == TORCH_METHOD]
        first, again = (
            {r["seed"]: r["mse"] for r in task if r["method"] == name and "mse" in r}
            for name in (TORCH_METHOD, TORCH_RESEEDED_METHOD)
        )
        for method, (mse_goal, time_goal) in goals.items():
            rows = [r for r in task if r["method"] == method and "mse_vs_torch" in r]
            if not rows:
                continue
            mse = [r["mse_vs_torch"] for r in rows]
            time_ratio = np.mean([r["time_vs_torch"] for r in rows])
            fit_time = np.mean([r["fit_time"] for r in rows])
            misses = []
            if mse_goal is not None and exceeds(np.mean(mse), mse_goal):
                d = decimals(np.mean(mse), mse_goal)
                goal = f"{mse_goal:g}" if d == 2 else f"{mse_goal:.{d}f}"
                misses.append(f"MSE {np.mean(mse):.{d}f}x > {goal}x")
            if time_goal is not None and exceeds(time_ratio, time_goal):
                d = decimals(time_ratio, time_goal)
                misses.append(f"fit time {time_ratio:.{d}f}x > {time_goal:.{d}f}x")
            notes = [f"seeds {min(mse):.2f}-{max(mse):.2f}"] if len(mse) > 1 else []
            if again and method != TORCH_RESEEDED_METHOD:
                pooled = [r["mse"] / ((first[r["seed"]] + again[r["seed"]]) / 2) for r in rows]
                notes.append(f"{np.mean(pooled):.2f}x the mean of the reference's two runs")
            seeds = f" ({'; '.join(notes)})" if notes else ""
            times = f"{time_ratio:.2f}x" + (
                f" = 1/{1 / time_ratio:.0f}" if time_ratio < 0.5 else ""
            )
            if mse_goal is None and time_goal is None:
                verdict = ""
            else:
                verdict = ": " + ("missed: " + ", ".join(misses) if misses else "goal met")
            lines.append(
                f"{method} on {dataset} to {k}-D: MSE {np.mean(mse):.2f}x{seeds}, fit time "
                f"{times} ({fit_time:.2f} s against {np.mean(ref):.2f} s){verdict}"
            )
    return lines


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


# -- command line ----------------------------------------------------------------------------
def matplotlib_missing():
    """Why ``--plot`` cannot draw (the import error, as text), or None when it can."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one seed and no grid search: a minute or two"
    )
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets to run, among {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--max-samples", type=positive_int, help="subsample larger datasets to this many rows"
    )
    parser.add_argument(
        "--n-jobs", type=nonzero_int, help="parallel jobs of the grid search"
    )
    parser.add_argument(
        "--skae-params",
        type=json_object,
        default={},
        metavar="JSON",
        help='parameters of the autoencoders other than their defaults, e.g. \'{"n_init": 1}\'',
    )
    parser.add_argument(
        "--torch",
        action="store_true",
        help=f"add the {TORCH_METHOD} reference (needs torch; minutes per fit, "
        "--quick does not shorten it)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="BLAS and OpenMP threads of every method, through threadpoolctl, and of the "
        "grid search's worker processes, through joblib (default 1)",
    )
    parser.add_argument(
        "--torch-threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="PyTorch threads of the reference (default 1)",
    )
    parser.add_argument(
        "--torch-reseeded",
        action="store_true",
        help=f"with --torch, train the reference again from another random state "
        f"({TORCH_RESEEDED_METHOD}): its ratios to {TORCH_METHOD} are the reference's "
        "own run-to-run spread",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    parser.add_argument(
        "--plot",
        type=output_file,
        metavar="FILE.png",
        help="draw the 2-D embeddings (needs matplotlib: checked before the run starts)",
    )
    args = parser.parse_args(argv)
    if args.max_samples is not None and args.max_samples < MIN_SAMPLES:
        parser.error(
            f"--max-samples: {args.max_samples} rows are too few to split and score; "
            f"give at least {MIN_SAMPLES}"
        )
    if error := params_error(AutoencoderTransformer, args.skae_params, SET_BY_RUN):
        parser.error(f"--skae-params: {error}")
    if args.torch_reseeded and not args.torch:
        parser.error("--torch-reseeded re-trains the PyTorch reference: add --torch")
    if args.plot and (missing := matplotlib_missing()):
        parser.error(f"--plot needs matplotlib, which is not importable ({missing})")
    seeds = range(args.seeds or (1 if args.quick else 5))
    missing = torch_missing() if args.torch else None
    notes = [missing] if missing else []  # said before the run starts, and with the table
    if missing:
        print(missing, file=sys.stderr)
    # The grid search's worker processes (joblib's loky) start with their own BLAS:
    # limited to --threads as well (joblib's default is the cores over n_jobs).
    with threadpool_limits(limits=args.threads), parallel_config(
        backend="loky", inner_max_num_threads=args.threads
    ):
        methods = make_methods(
            skae_params=args.skae_params,
            tuning_grid=None if args.quick else TUNING_GRID,
            n_jobs=args.n_jobs,
            torch_params={"n_threads": args.torch_threads}
            if args.torch and not missing
            else None,
            torch_reseeded=args.torch_reseeded,
        )

        tic = time.perf_counter()
        records, embeddings = run(
            make_tasks(args.datasets), methods, list(seeds), max_samples=args.max_samples
        )
        elapsed = time.perf_counter() - tic
        machine = machine_info()  # inside the limits: its thread pools are the run's
    machine["blas_threads"] = args.threads
    machine["torch_threads"] = args.torch_threads if machine["torch"] else None
    print(*notes, sep="\n", end="\n\n" if notes else "")
    print(format_table(records))
    losses = losses_to_pca(records)
    print("\nWhere skae does not beat PCA:", *(losses or ["nowhere"]), sep="\n  ")
    if TORCH_METHOD in methods:
        mse_goal, time_goal = TORCH_GOALS["skae"]
        print(
            f"\nskae against {TORCH_METHOD}, held-out MSE and fit time as ratios to its "
            f"(goals: skae at most {mse_goal:g}x the MSE in at most {time_goal:.2f}x the "
            f"time, skae tuned at most {TORCH_GOALS['skae tuned'][0]:g}x the MSE"
            + (
                f"; {TORCH_RESEEDED_METHOD}: the reference against itself, no goal):"
                if TORCH_RESEEDED_METHOD in methods
                else "):"
            ),
            *against_torch(records),
            sep="\n  ",
        )
    print(
        f"\n{elapsed:.0f} s on {machine['cpu']} ({machine['logical_cpus']} logical CPUs), "
        f"numpy {machine['numpy']}, scikit-learn {machine['scikit-learn']}, "
        f"skae {machine['skae']}, {args.threads} BLAS thread(s)"
        + (f" ({'; '.join(machine['blas'])})" if machine["blas"] else "")
        + (
            f", torch {machine['torch']} ({args.torch_threads} thread(s))."
            if machine["torch"]
            else "."
        )
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "settings": vars(args), "notes": notes, "records": records},
                f,
                indent=1,
                default=str,
            )
    if args.plot:
        plot_embeddings(embeddings, args.plot)


if __name__ == "__main__":
    main()
