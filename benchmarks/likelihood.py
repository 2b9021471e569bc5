"""Held-out log-likelihood: the variational autoencoder against probabilistic PCA (and PyTorch).

For every dataset, ``n_components`` and seed, the data are split 75/25 (the split
depends on the seed); a ``StandardScaler`` is fitted on the training part and both
parts are scaled with it. Then, on the scaled held-out part:

* ``PCA``: ``PCA(n_components).score``, probabilistic PCA's exact mean
  log-likelihood (nats per sample);
* ``skae``: :class:`skae.VariationalAutoencoder`'s ``score`` with
  ``n_importance_samples`` = ``--samples`` (default 100): the importance-weighted
  lower bound on the mean log-likelihood, in the same units;
* ``ELBO``: the mean evidence lower bound (KL in closed form, averaged over 10
  posterior draws per sample), of skae and, with ``--torch``, of a PyTorch VAE of
  the same architecture (:class:`TorchVAE`), trained with the same batch size,
  initial learning rate, Adam settings, KL warm-up, L2 penalty, epoch budget and
  stopping rule (early stopping on a 10 % validation split with the same patience
  and relative tolerance, best weights restored); it keeps its learning rate
  constant, where skae's default schedule divides it by 5 at each plateau. Both
  models are evaluated by the same NumPy code
  (:class:`skae._variational.VariationalObjective` in float64), with the same
  posterior draws; both train in float32 on one thread.

The VAE's settings (:data:`VAE_PARAMS`) are the same for every dataset: the default
architecture (128, 64), a 30-epoch KL warm-up, early stopping with a patience of 30
epochs and at most 300 epochs (``--quick``: 100 epochs, patience 20, one seed). The
PyTorch VAE, five to six times slower per epoch here, sets that budget: the full run
with ``--torch`` takes several minutes on one core.

Goals: skae above PCA on every nonlinear dataset (the synthetic
manifolds) and within a few nats (:data:`NEAR_NATS`) of it where the data are nearly
linear; skae's held-out ELBO within 2 % of the PyTorch VAE's, and skae faster:
the median over seeds of skae's fit time over PyTorch's (each warmed up first,
which fits first alternating from seed to seed), with the same median per
epoch beside it, as the two stop at epochs of their own.

Usage::

    python benchmarks/likelihood.py --quick            # under a minute
    python benchmarks/likelihood.py --torch            # the full table, a few minutes
    python benchmarks/likelihood.py --torch --json likelihood.json

Progress goes to stderr, the table to stdout.
"""

import argparse
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_s_curve, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import VariationalAutoencoder
from skae._estimator import _auto_batch_size
from skae._params import uniform_init
from skae._variational import (
    LOG_VARIANCE_RANGE,
    VariationalModel,
    VariationalObjective,
    keyed_normals,
    row_hashes,
)
from skae.datasets import make_embedded_manifold, make_manifold_clusters

# The modules the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _machine import blas_text, one_thread_each  # noqa: E402
from _report import decimals, output_file, positive_int  # noqa: E402

TEST_SIZE = 0.25
#: "Within a few nats": the goal where PCA is the right model, or nearly.
NEAR_NATS = 3.0
#: skae's held-out ELBO within this fraction of the PyTorch VAE's.
ELBO_GOAL = 0.02
#: Posterior draws per sample of the ELBO column.
ELBO_DRAWS = 10

VAE_PARAMS = {
    "hidden_layer_sizes": (128, 64),
    "kl_warmup": 30,
    "early_stopping": True,
    "n_iter_no_change": 30,
    "max_iter": 300,
}
QUICK_PARAMS = {**VAE_PARAMS, "max_iter": 100, "n_iter_no_change": 20}


@dataclass(frozen=True)
class Dataset:
    """A dataset: how to load it, the widths of code to fit, whether it is curved."""

    name: str
    description: str
    load: object  # () -> X
    n_components: tuple
    nonlinear: bool  # a curved manifold by construction; else real data


def _first(loader):
    return lambda: loader()[0]


DATASETS = {
    d.name: d
    for d in [
        Dataset("clusters", "4 clusters on a curved 2-D sheet in 10-D (skae.datasets)",
                _first(partial(make_manifold_clusters, 2000, random_state=0)), (2,), True),
        Dataset("swiss_roll", "Swiss roll in 3-D, noise 0.05",
                _first(partial(make_swiss_roll, 2000, noise=0.05, random_state=0)), (2,), True),
        Dataset("s_curve", "S-curve in 3-D, noise 0.05",
                _first(partial(make_s_curve, 2000, noise=0.05, random_state=0)), (2,), True),
        Dataset("manifold_5d", "5-D manifold smoothly in 100-D (skae.datasets)",
                _first(partial(make_embedded_manifold, 2000, random_state=0)), (5,), True),
        Dataset("digits", "8x8 digits, 64-D", _first(partial(load_digits, return_X_y=True)),
                (2, 8), False),
        Dataset("breast_cancer", "Wisconsin breast cancer, 30-D",
                _first(partial(load_breast_cancer, return_X_y=True)), (2, 5), False),
    ]
}


# -- the PyTorch reference -------------------------------------------------------------------
def torch_missing():
    """Why the PyTorch VAE cannot run, or None."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        return f'PyTorch VAE skipped: torch is not importable ({exc}); pip install ".[torch]"'
    return None


class TorchVAE:
    """A PyTorch VAE with skae's model, objective, initialisation and stopping rule.

    Encoder ``d → hidden → 2k`` (ReLU, linear output: ``μ`` and the log-variance,
    clamped to [-30, 20]), decoder ``k → reversed(hidden) → d``, a learned
    log noise variance per feature (``v = min_noise_variance + exp(ρ)``); weights
    He-uniform before ReLU units and Glorot-uniform before linear outputs, zero
    biases, ``ρ = 0``. The loss is the minibatch mean of ``n + β_t KL`` (KL in
    closed form, reconstruction summed over features) plus ``alpha/2 ‖W‖²``, with
    ``β_t = beta · min(1, t / kl_warmup)`` in epoch ``t``. Adam (PyTorch's, whose ε
    is added to the bias-corrected ``√v̂``: with ε = 1e-8 no difference that
    matters). Early stopping as skae's loop: a random ``validation_fraction`` of
    the rows is held out, its negative β-ELBO (fixed draws) is monitored, training
    stops after ``n_iter_no_change`` epochs without an improvement by ``tol``, and
    the best weights are restored.
    """

    def __init__(self, n_components, *, hidden_layer_sizes, kl_warmup, max_iter,
                 n_iter_no_change, beta=1.0, alpha=1e-4, learning_rate_init=2e-3,
                 min_noise_variance=1e-6, validation_fraction=0.1, tol=1e-4, random_state=0,
                 **_):
        self.n_components = n_components
        self.hidden = tuple(hidden_layer_sizes)
        self.kl_warmup, self.max_iter, self.patience = kl_warmup, max_iter, n_iter_no_change
        self.beta, self.alpha, self.lr = beta, alpha, learning_rate_init
        self.min_noise_variance, self.validation_fraction = min_noise_variance, validation_fraction
        self.tol, self.random_state = tol, random_state

    def _mlp(self, torch, widths, rng):
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            linear = torch.nn.Linear(a, b)
            last = i == len(widths) - 2
            W = np.empty((a, b))
            uniform_init(rng, W, he=not last)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W.T.astype(np.float32)))
                linear.bias.zero_()
            layers.append(linear)
            if not last:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def _losses(self, torch, X, eps, kl_weight):
        k = self.n_components
        out = self.encoder_(X)
        mu, s = out[:, :k], torch.clamp(out[:, k:], *LOG_VARIANCE_RANGE)
        z = mu + torch.exp(0.5 * s) * eps
        R = self.decoder_(z)
        v = self.min_noise_variance + torch.exp(self.rho_)
        nll = 0.5 * (math.log(2 * math.pi) + torch.log(v) + (X - R) ** 2 / v).sum(dim=1)
        kl = 0.5 * (mu**2 + torch.exp(s) - 1 - s).sum(dim=1)
        return nll + kl_weight * kl

    def fit(self, X):
        """Train on ``X`` (float32 on one thread, as the caller set PyTorch up)."""
        import torch

        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        n, d = X.shape
        order = torch.from_numpy(rng.permutation(n))
        n_val = max(1, round(self.validation_fraction * n))
        X_val, X_fit = X[order[:n_val]], X[order[n_val:]]
        batch_size = _auto_batch_size(X_fit.shape[0])
        k = self.n_components
        self.encoder_ = self._mlp(torch, [d, *self.hidden, 2 * k], rng)
        self.decoder_ = self._mlp(torch, [k, *self.hidden[::-1], d], rng)
        self.rho_ = torch.nn.Parameter(torch.zeros(d))
        params = [*self.encoder_.parameters(), *self.decoder_.parameters(), self.rho_]
        weights = [p for p in params if p.dim() == 2]
        optimizer = torch.optim.Adam(params, lr=self.lr, betas=(0.9, 0.999), eps=1e-8)
        eps_val = torch.randn(n_val, k)
        best, best_state, no_improvement = np.inf, None, 0
        for epoch in range(1, self.max_iter + 1):
            kl_weight = self.beta * (min(1.0, epoch / self.kl_warmup) if self.kl_warmup else 1)
            for batch in torch.randperm(X_fit.shape[0]).split(batch_size):
                Xb = X_fit[batch]
                loss = self._losses(torch, Xb, torch.randn(len(batch), k), kl_weight).mean()
                loss = loss + 0.5 * self.alpha * sum((W**2).sum() for W in weights)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                val = self._losses(torch, X_val, eps_val, self.beta).mean().item()
            if not np.isfinite(val):
                raise FloatingPointError(f"PyTorch VAE diverged at epoch {epoch}")
            no_improvement = no_improvement + 1 if val >= best - self.tol * abs(best) else 0
            if val < best:
                best = val
                best_state = [p.detach().clone() for p in params]
            if no_improvement >= self.patience:
                break
        with torch.no_grad():
            for p, saved in zip(params, best_state, strict=True):
                p.copy_(saved)
        self.n_iter_ = epoch
        return self

    def model(self):
        """The fitted VAE as a float64 :class:`~skae._variational.VariationalModel`."""
        d, k = self.decoder_[-1].out_features, self.n_components
        model = VariationalModel(d, self.hidden, k, self.hidden[::-1], "relu", "squared_error",
                                 min_noise_variance=self.min_noise_variance)
        for network, torch_net in ((model.encoder, self.encoder_), (model.decoder, self.decoder_)):
            linears = [m for m in torch_net if hasattr(m, "weight")]
            for W, b, linear in zip(network.coefs, network.intercepts, linears, strict=True):
                W[...] = linear.weight.detach().numpy().T
                b[...] = linear.bias.detach().numpy()
        model.log_noise_variance[...] = self.rho_.detach().numpy()
        return model


# -- evaluation ------------------------------------------------------------------------------
def skae_model(vae):
    """A fitted VariationalAutoencoder's model, in float64."""
    spec = {key: getattr(vae, f"_{key}") for key in vae._spec(vae.n_features_in_)}
    return vae._build_model(spec, np.float64, vae._params.astype(np.float64))


def held_out(model, X, n_samples, seed=0):
    """(mean importance-weighted bound, mean ELBO) of ``model`` on ``X``, nats per sample."""
    objective = VariationalObjective(model)
    bound = float(objective.log_likelihood_bound(X, n_samples, seed).mean())
    hashes = row_hashes(X, seed)
    elbos = []
    for draw in range(ELBO_DRAWS):
        nll, kl = objective.elbo_terms(X, keyed_normals(hashes, draw, model.n_components))
        elbos.append(-(nll + kl).mean())
    return bound, float(np.mean(elbos))


def run(names, seeds, params, *, n_samples, use_torch, log=sys.stderr):
    records = []
    for name in names:
        dataset = DATASETS[name]
        X = dataset.load()
        for k in dataset.n_components:
            for seed in seeds:
                X_train, X_test = train_test_split(X, test_size=TEST_SIZE, random_state=seed)
                scaler = StandardScaler().fit(X_train)
                X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
                record = {"dataset": name, "n_components": k, "seed": seed,
                          "pca": float(PCA(k).fit(X_train).score(X_test))}

                def fit_skae(record=record, X_train=X_train, X_test=X_test, k=k, seed=seed):
                    vae = VariationalAutoencoder(k, random_state=seed, **params)
                    tic = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        vae.fit(X_train.astype(np.float32))
                    record["skae_time"] = time.perf_counter() - tic
                    record["skae_epochs"] = vae.n_iter_
                    record["skae"], record["skae_elbo"] = held_out(
                        skae_model(vae), X_test, n_samples
                    )

                def fit_torch(record=record, X_train=X_train, X_test=X_test, k=k, seed=seed):
                    ref = TorchVAE(k, random_state=seed, **params)
                    tic = time.perf_counter()
                    ref.fit(X_train)
                    record["torch_time"] = time.perf_counter() - tic
                    record["torch_epochs"] = ref.n_iter_
                    record["torch"], record["torch_elbo"] = held_out(
                        ref.model(), X_test, n_samples
                    )

                # Interleaved: which fits first alternates from seed to seed.
                fits = [fit_skae, fit_torch] if use_torch else [fit_skae]
                for fit in fits[::-1] if seed % 2 else fits:
                    fit()
                records.append(record)
                print(" ".join(f"{key}={value:.4g}" if isinstance(value, float) else
                               f"{key}={value}" for key, value in record.items()),
                      file=log, flush=True)
    return records


# -- the table -------------------------------------------------------------------------------
def _stats(records, key):
    """Mean and sample standard deviation (``ddof=1``; NaN with one record) of ``key``."""
    values = np.array([r[key] for r in records], dtype=float)
    return values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan


def _cell(records, key, fmt="{:.2f}"):
    if key not in records[0]:
        return "–"
    mean, std = _stats(records, key)
    return (fmt + " ± " + fmt).format(mean, std) if len(records) > 1 else fmt.format(mean)


def groups(records):
    keys = sorted({(r["dataset"], r["n_components"]) for r in records},
                  key=lambda t: (list(DATASETS).index(t[0]), t[1]))
    return [(key, [r for r in records if (r["dataset"], r["n_components"]) == key])
            for key in keys]


def format_table(records):
    has_torch = "torch" in records[0]
    head = ["dataset", "k", "PCA", "skae", "skae − PCA", "skae ELBO"]
    if has_torch:
        head += ["torch", "torch ELBO", "ELBO skae − torch", "%"]
    head += ["epochs", "skae s"] + (["torch s"] if has_torch else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, k), rs in groups(records):
        for r in rs:
            r["gap"] = r["skae"] - r["pca"]
            if has_torch:
                r["elbo_gap"] = r["skae_elbo"] - r["torch_elbo"]
        row = [name, str(k), _cell(rs, "pca"), _cell(rs, "skae"), _cell(rs, "gap"),
               _cell(rs, "skae_elbo")]
        if has_torch:
            row += [_cell(rs, "torch"), _cell(rs, "torch_elbo"), _cell(rs, "elbo_gap"),
                    f"{elbo_percent(rs):+.1f}"]
        epochs = f"{_stats(rs, 'skae_epochs')[0]:.0f}"
        if has_torch:
            epochs += f" / {_stats(rs, 'torch_epochs')[0]:.0f}"
        row += [epochs, _cell(rs, "skae_time", "{:.1f}")]
        if has_torch:
            row.append(_cell(rs, "torch_time", "{:.1f}"))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def elbo_percent(records):
    """Skae's mean held-out ELBO relative to the PyTorch VAE's, in % of the latter's size.

    A ratio of the means over seeds, not a mean of per-seed ratios (which an ELBO
    near 0 nats makes meaningless).
    """
    skae, torch = _stats(records, "skae_elbo")[0], _stats(records, "torch_elbo")[0]
    return 100 * (skae - torch) / abs(torch)


def goals(records):
    """One line per goal and task: met or missed, with the numbers."""
    out = []
    for (name, k), rs in groups(records):
        gap = np.mean([r["skae"] - r["pca"] for r in rs])
        if DATASETS[name].nonlinear:
            ok, goal = gap > 0, "above PCA"
        else:
            ok, goal = gap > -NEAR_NATS, f"above PCA or within {NEAR_NATS:g} nats"
        line = f"{name} k={k}: skae − PCA = {gap:+.2f} nats ({goal}: {'met' if ok else 'MISSED'})"
        if "torch" in rs[0]:
            nats = _stats(rs, "skae_elbo")[0] - _stats(rs, "torch_elbo")[0]
            percent = elbo_percent(rs)
            met = "met" if percent > -100 * ELBO_GOAL else "MISSED"
            # Medians of the per-seed ratios: of whole fits, and per epoch (the fits
            # stop at epochs of their own).
            ratio = float(np.median([r["skae_time"] / r["torch_time"] for r in rs]))
            per_epoch = float(np.median([
                (r["skae_time"] / r["skae_epochs"]) / (r["torch_time"] / r["torch_epochs"])
                for r in rs
            ]))
            p_places = decimals(percent, -100 * ELBO_GOAL, at_least=1)
            t_places = decimals(ratio, 1.0)
            line += (f"; ELBO vs torch {nats:+.2f} nats, {percent:+.{p_places}f} % (within "
                     f"{100 * ELBO_GOAL:g} %: {met}); time "
                     f"{ratio:.{t_places}f}x torch's ({'met' if ratio < 1 else 'MISSED'}; "
                     f"per epoch {per_epoch:.2f}x)")
        out.append(line)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one seed, at most 100 epochs, patience 20")
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 3; 1 with --quick)"
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS),
                        metavar="NAME", help=f"among {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--samples", type=positive_int, default=100,
                        help="importance samples of the bound (default 100)")
    parser.add_argument("--torch", action="store_true", help="add the PyTorch VAE")
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    parser.add_argument("--load", metavar="FILE",
                        help="print the table of results saved by --json, without running")
    args = parser.parse_args(argv)
    if args.load:
        with open(args.load) as f:
            saved = json.load(f)
        print(format_table(saved["records"]))
        print("\nGoals:", *goals(saved["records"]), sep="\n  ")
        return
    with one_thread_each():
        _main(args)


def _main(args):
    notes = []
    use_torch = args.torch and not torch_missing()
    if args.torch and not use_torch:
        notes.append(torch_missing())
        print(notes[-1], file=sys.stderr)
    if use_torch:
        import torch

        torch.set_num_threads(1)
        TorchVAE(1, hidden_layer_sizes=(2,), kl_warmup=0, max_iter=1,
                 n_iter_no_change=1).fit(np.ones((8, 2)))  # PyTorch's first-call setup
    with warnings.catch_warnings():  # and skae's
        warnings.simplefilter("ignore", ConvergenceWarning)
        VariationalAutoencoder(1, hidden_layer_sizes=(2,), max_iter=1).fit(
            np.ones((8, 2), dtype=np.float32)
        )
    params = QUICK_PARAMS if args.quick else VAE_PARAMS
    seeds = range(args.seeds or (1 if args.quick else 3))
    tic = time.perf_counter()
    records = run(args.datasets, list(seeds), params, n_samples=args.samples,
                  use_torch=use_torch)
    elapsed = time.perf_counter() - tic
    from compare import machine_info

    machine = machine_info()
    print(*notes, sep="\n", end="\n\n" if notes else "")
    print(f"Held-out mean log-likelihood, nats per sample (higher is better); skae: "
          f"importance-weighted bound, {args.samples} samples; mean ± std over "
          f"{len(seeds)} seed(s).\n")
    print(format_table(records))
    print("\nGoals:", *goals(records), sep="\n  ")
    print(f"\n{elapsed:.0f} s on {machine['cpu']} ({machine['logical_cpus']} logical CPUs, "
          f"one thread), numpy {machine['numpy']}, scikit-learn {machine['scikit-learn']}, "
          f"skae {machine['skae']}" + (f", torch {machine['torch']}" if use_torch else "")
          + f"; BLAS: {blas_text(machine)}.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": vars(args), "params": params,
                       "records": records}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
