r"""Training speed: skae against MLPRegressor and PyTorch, side by side.

Every contender trains the same autoencoder (ReLU hidden layers, or ELU ones with
``--activation elu``; linear code and output layers, squared error) with the same
Adam settings, batch size, number of epochs and data:

* ``skae``: :class:`skae.AutoencoderTransformer`;
* ``mlp``: :class:`sklearn.neural_network.MLPRegressor` fit on ``(X, X)`` with the
  same hidden layers (its code layer goes through the hidden activation). It has no
  ELU: ``--activation elu`` leaves it out of the default contenders, and naming it
  in ``--contenders`` with ``--activation elu`` is a usage error;
* ``torch``: an ``nn.Sequential`` (``nn.ReLU`` or ``nn.ELU`` units, the same
  functions as skae's) trained by ``torch.optim.Adam`` in a standard
  shuffled-minibatch loop, when PyTorch is installed (``pip install torch``, the
  CPU build is enough); skipped otherwise;
* ``floor``: the bare matrix products of one epoch (forward, weight gradients and
  the back-propagated deltas, no bias, no activation, no data movement), on
  preallocated buffers, with contiguous transposed weights for ``δ Wᵀ`` (its
  fastest form). No NumPy implementation of the same network can be faster.

Rounds interleave the contenders (their order rotates from round to round) and
every contender runs under the same BLAS thread limit (threadpoolctl, and
``torch.set_num_threads``), which skae lowers to one thread for networks whose
largest product per minibatch is below 2**24 multiply-adds (the tables say
where: "2 (skae 1)"); the ``skae-all-threads`` contender trains without that
rule, so that its ratio over ``skae`` shows what the rule gains. Reported per
configuration: median time per epoch, samples per second, the **median over
rounds of the per-round ratios** skae/torch, skae/MLPRegressor and skae/floor,
the final training loss of each contender (mean squared reconstruction error
over the training data) and skae's achieved GFLOP/s,
``samples · epochs · (6 · Σ n_in·n_out − 2 · n_in·n_out of the first layer) /
time`` (no input gradient of the first layer), against the measured peak of a
large matrix product of the same dtype and thread count. The tables' header (and
each JSON record) names the hidden activation.

Usage::

    python benchmarks/speed.py                    # everything, a few minutes
    python benchmarks/speed.py --quick            # a short run
    python benchmarks/speed.py --quick --activation elu   # ELU units: skae, torch, floor
    python benchmarks/speed.py --configs seed-256 tall-thin --dtypes float32 \
        --threads 1 --rounds 7 --json results.json

Measure on a quiet machine: close other programs, and on processors where
``OPENBLAS_CORETYPE`` is forced, unset it for the run (the table's header shows
the BLAS kernel in use).
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

import skae._estimator as skae_estimator
from skae import AutoencoderTransformer
from skae.datasets import make_embedded_manifold

# The module the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import BLAS_ENVIRONMENT, blas_kernels  # noqa: E402
from _report import (  # noqa: E402
    non_negative_float,
    non_negative_int,
    output_file,
    positive_int,
)

try:
    import torch
except ImportError:  # the comparison with PyTorch is optional
    torch = None


@dataclass(frozen=True)
class Config:
    """One network and data set to train on."""

    name: str
    n_features: int
    hidden: tuple
    n_components: int
    n_samples: int
    batch_size: int
    epochs: int  # per round, per contender: long enough that a burst of other load averages out
    activation: str = "relu"  # of the hidden layers: a key of ACTIVATIONS

    @property
    def layer_sizes(self):
        """Widths from the input through the code back to the output."""
        return (
            self.n_features,
            *self.hidden,
            self.n_components,
            *self.hidden[::-1],
            self.n_features,
        )

    @property
    def macs_per_sample(self):
        """Σ n_in·n_out over the layers: multiply-adds of one forward pass."""
        sizes = self.layer_sizes
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def flops(self, epochs):
        """Floating-point operations of ``epochs`` epochs.

        Per multiply-add 2 forward and 4 backward (weight and input gradients), but
        the first layer has no input gradient to compute (2 fewer per its MACs).
        """
        sizes = self.layer_sizes
        per_sample = 6.0 * self.macs_per_sample - 2.0 * sizes[0] * sizes[1]
        return self.n_samples * epochs * per_sample


CONFIGS = {
    c.name: c
    for c in [
        Config("seed-64", 10, (64,), 2, 5_000, 64, 8),
        Config("seed-256", 10, (64,), 2, 5_000, 256, 16),
        Config("digits", 64, (256, 128), 16, 20_000, 256, 2),
        Config("mnist", 784, (512, 256), 32, 20_000, 256, 1),
        Config("tall-thin", 30, (16,), 4, 200_000, 1024, 2),
    ]
}

CONTENDERS = ("skae", "mlp", "torch", "floor", "skae-noise", "skae-sparse", "skae-contract",
              "skae-tied", "skae-all-threads")
#: What runs without --contenders: the variants only when asked for.
DEFAULT_CONTENDERS = ("skae", "mlp", "torch", "floor")
LEARNING_RATE, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-8
#: The hidden activations of ``--activation``, each with PyTorch's module of the same
#: function (ELU with alpha 1: ``a`` for ``a > 0`` else ``exp(a) - 1``, as skae's).
ACTIVATIONS = {"relu": "ReLU", "elu": "ELU"}
#: Those MLPRegressor has: without the activation asked for, it cannot take part.
MLP_ACTIVATIONS = ("relu",)


def make_data(config, dtype, seed=0):
    """Standardized points near a smooth low-dimensional manifold."""
    X, _ = make_embedded_manifold(
        config.n_samples,
        n_features=config.n_features,
        n_latent=max(2, config.n_components),
        noise=0.05,
        random_state=seed,
    )
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return np.ascontiguousarray(X, dtype=dtype)


def mse(X, X_hat):
    """Mean squared reconstruction error, accumulated in float64."""
    total = 0.0
    for start in range(0, X.shape[0], 65536):
        diff = np.asarray(X_hat[start : start + 65536], dtype=np.float64)
        diff -= X[start : start + 65536]
        total += float(np.vdot(diff, diff))
    return total / X.size


# -- contenders: each returns (seconds, final training loss) -------------------------------
#: skae's variants, each an extra contender (``--contenders skae-noise ...``): the
#: same network and settings as ``skae`` with one option on.
VARIANTS = {
    "skae-noise": {"noise": "gaussian", "noise_level": 0.1},
    "skae-sparse": {"sparsity": 1e-3},
    "skae-contract": {"contraction": 1e-2},
    "skae-tied": {"tied_weights": True},
}


def run_skae(config, X, epochs, seed, **variant):
    # Every setting explicit, so that a change of defaults cannot skew the comparison.
    est = AutoencoderTransformer(
        n_components=config.n_components,
        hidden_layer_sizes=config.hidden,
        decoder_layer_sizes=None,
        activation=config.activation,
        loss="squared_error",
        alpha=0.0,
        batch_size=config.batch_size,
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        shuffle=True,
        early_stopping=False,
        warm_start=False,
        n_init=1,
        init="random",
        random_state=seed,
        **variant,
    )
    tic = time.perf_counter()
    est.fit(X)
    seconds = time.perf_counter() - tic
    return seconds, mse(X, est.inverse_transform(est.transform(X)))


def run_skae_all_threads(config, X, epochs, seed):
    """``run_skae`` without skae's rule of one BLAS thread for small networks."""
    saved = skae_estimator._MULTITHREAD_MIN_MACS
    skae_estimator._MULTITHREAD_MIN_MACS = 0
    try:
        return run_skae(config, X, epochs, seed)
    finally:
        skae_estimator._MULTITHREAD_MIN_MACS = saved


def skae_threads(config, threads):
    """The BLAS threads skae trains ``config`` with under a limit of ``threads``."""
    sizes = config.layer_sizes
    largest = config.batch_size * max(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return threads if largest >= skae_estimator._MULTITHREAD_MIN_MACS else 1


def run_mlp(config, X, epochs, seed):
    est = MLPRegressor(
        hidden_layer_sizes=(*config.hidden, config.n_components, *config.hidden[::-1]),
        activation=config.activation,  # it raises for one it does not have (ELU)
        solver="adam",
        alpha=0.0,
        batch_size=config.batch_size,
        learning_rate_init=LEARNING_RATE,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        shuffle=True,
        early_stopping=False,
        learning_rate="constant",
        warm_start=False,
        random_state=seed,
    )
    tic = time.perf_counter()
    est.fit(X, X)
    seconds = time.perf_counter() - tic
    return seconds, mse(X, est.predict(X))


def torch_model(config, dtype):
    """The network as an ``nn.Sequential``: linear code and output layers."""
    sizes = config.layer_sizes
    n_encoder = len(config.hidden) + 1
    unit = getattr(torch.nn, ACTIVATIONS[config.activation])
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i != n_encoder - 1 and i != len(sizes) - 2:
            layers.append(unit())
    return torch.nn.Sequential(*layers)


def run_torch(config, X, epochs, seed):
    torch.manual_seed(seed)
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    tic = time.perf_counter()
    model = torch_model(config, dtype)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=LEARNING_RATE, betas=(BETA_1, BETA_2), eps=EPSILON
    )
    loss_fn = torch.nn.MSELoss()
    data = torch.from_numpy(X)
    n, bs = X.shape[0], config.batch_size
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, bs):
            batch = data[order[start : start + bs]]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - tic
    with torch.no_grad():
        X_hat = torch.cat([model(data[s : s + 65536]) for s in range(0, n, 65536)]).numpy()
    return seconds, mse(X, X_hat)


RUNNERS = {"skae": run_skae, "mlp": run_mlp, "torch": run_torch}
RUNNERS.update(
    {
        name: (lambda c, X, e, s, params=params: run_skae(c, X, e, s, **params))
        for name, params in VARIANTS.items()
    }
)
RUNNERS["skae-all-threads"] = run_skae_all_threads
#: The contenders reported beside skae in the variants' table.
VARIANT_NAMES = (*VARIANTS, "skae-all-threads")


def make_floor(config, dtype):
    """The bare matrix products of one epoch, on preallocated buffers."""
    rng = np.random.default_rng(0)
    sizes = config.layer_sizes
    weights = [
        (rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    # Contiguous transposes: δ Wᵀ is faster with them, and a floor must be the fastest.
    weights_T = [np.ascontiguousarray(W.T) for W in weights]
    grads = [np.empty_like(W) for W in weights]
    n, bs = config.n_samples, config.batch_size
    counts = [bs] * (n // bs) + ([n % bs] if n % bs else [])
    # Activations and deltas of every width; deltas[-1] plays the loss gradient.
    buffers = {
        rows: (
            [rng.standard_normal((rows, s)).astype(dtype) for s in sizes],
            [rng.standard_normal((rows, s)).astype(dtype) for s in sizes],
        )
        for rows in set(counts)
    }
    plan = [buffers[rows] for rows in counts]
    L = len(weights)

    def run(epochs):
        matmul = np.matmul
        tic = time.perf_counter()
        for _ in range(epochs):
            for acts, deltas in plan:
                for i in range(L):
                    matmul(acts[i], weights[i], out=acts[i + 1])
                for i in range(L - 1, -1, -1):
                    matmul(acts[i].T, deltas[i + 1], out=grads[i])
                    if i > 0:
                        matmul(deltas[i + 1], weights_T[i], out=deltas[i])
        return time.perf_counter() - tic

    return run


def gemm_peak(dtype, n=2048, repeats=5):
    """GFLOP/s of the best of ``repeats`` n×n matrix products."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    np.matmul(A, B, out=C)
    best = min(_timed(lambda: np.matmul(A, B, out=C)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn):
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


@contextlib.contextmanager
def thread_count(n):
    """Limit BLAS/OpenMP pools and PyTorch to ``n`` threads."""
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(previous)


# -- one cell: a configuration at a dtype and thread count ---------------------------------
def bench_cell(config, dtype, threads, rounds, contenders, gap, seed=0, log=print):
    X = make_data(config, dtype, seed)
    runners = {
        name: (lambda e, run=run: run(config, X, e, seed))
        for name, run in RUNNERS.items()
        if name in contenders
    }
    if "floor" in contenders:
        floor = make_floor(config, dtype)
        runners["floor"] = lambda e: (floor(e), None)
    epochs = config.epochs
    times = {k: [] for k in runners}
    losses = {}
    with thread_count(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Warm-up on a slice: imports, first-call costs, allocator.
        n_warm = min(config.n_samples, 4 * config.batch_size)
        warm = Config(**{**config.__dict__, "n_samples": n_warm})
        for name in runners:
            if name == "floor":
                runners["floor"](1)  # its buffers' first touches, BLAS start-up
            else:
                RUNNERS[name](warm, X[:n_warm], 1, seed)
        order = list(runners)
        for r in range(rounds):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                time.sleep(gap)  # let the previous contender's spinning threads sleep
                seconds, loss = runners[name](epochs)
                times[name].append(seconds)
                if loss is not None:
                    losses[name] = loss
            log(
                f"  round {r + 1}/{rounds}: "
                + ", ".join(f"{k} {v[-1] / epochs * 1e3:.1f} ms/epoch" for k, v in times.items())
            )
    return summarize(config, dtype, threads, epochs, times, losses)


def summarize(config, dtype, threads, epochs, times, losses):
    def ratio(a, b):
        if a not in times or b not in times:
            return None
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    per_epoch = {k: statistics.median(v) / epochs for k, v in times.items()}
    skae = per_epoch.get("skae")
    return {
        "config": config.name,
        "layer_sizes": list(config.layer_sizes),
        "activation": config.activation,
        "n_samples": config.n_samples,
        "batch_size": config.batch_size,
        "epochs_per_round": epochs,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "skae_threads": skae_threads(config, threads),
        "seconds": times,
        "seconds_per_epoch": per_epoch,
        "samples_per_second": {k: config.n_samples / v for k, v in per_epoch.items()},
        "skae_over_torch": ratio("skae", "torch"),
        "skae_over_mlp": ratio("skae", "mlp"),
        "skae_over_floor": ratio("skae", "floor"),
        "skae_gflops": config.flops(1) / skae / 1e9 if skae else None,
        "floor_gflops": config.flops(1) / per_epoch["floor"] / 1e9
        if "floor" in per_epoch
        else None,
        "final_loss": losses,
        "variants_over_torch": {
            name: ratio(name, "torch")
            for name in VARIANT_NAMES
            if name in times and "torch" in times
        },
        "variants_over_skae": {
            name: ratio(name, "skae") for name in VARIANT_NAMES if name in times
        },
    }


# -- reporting -----------------------------------------------------------------------------
def threads_label(record):
    """The cell's thread limit, and skae's own where it trains on fewer."""
    threads, own = record["threads"], record.get("skae_threads", record["threads"])
    return f"{threads}" if own == threads else f"{threads} (skae {own})"


def machine_description():
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "blas": blas_kernels(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "env": {name: os.environ[name] for name in BLAS_ENVIRONMENT if name in os.environ},
    }


def _fmt(x, spec):
    return "—" if x is None else format(x, spec)


def markdown(results, peaks, machine):
    lines = [
        f"Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs; "
        f"BLAS: {'; '.join(machine['blas']) or 'unknown'}; numpy {machine['numpy']}, "
        f"scikit-learn {machine['scikit-learn']}, torch {machine['torch'] or 'not installed'}"
        + (
            f"; {machine['other_busy_processes']} other busy process(es) while timed."
            if machine.get("other_busy_processes")
            else "."
        ),
        "",
        "Peak of a 2048² matrix product (GFLOP/s): "
        + ", ".join(f"{d} × {t} thread(s): {p:.0f}" for (d, t), p in sorted(peaks.items())),
        "",
        "Hidden activation: "
        + ", ".join(sorted({r["activation"] for r in results}))
        + " (linear code and output layers; none in floor).",
        "",
        "| config | dtype | threads | skae ms/epoch | skae samples/s | torch ms/epoch "
        "| MLP ms/epoch | floor ms/epoch | skae/torch | skae/MLP | skae/floor "
        "| skae GFLOP/s (% peak) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        e = r["seconds_per_epoch"]
        ms = {k: e.get(k) and e[k] * 1e3 for k in CONTENDERS}
        peak = peaks.get((r["dtype"], r["threads"]))
        gf = r["skae_gflops"]
        lines.append(
            f"| {r['config']} (batch {r['batch_size']}) | {r['dtype']} | {threads_label(r)} "
            f"| {_fmt(ms['skae'], '.2f')} | {_fmt(r['samples_per_second'].get('skae'), ',.0f')} "
            f"| {_fmt(ms['torch'], '.2f')} | {_fmt(ms['mlp'], '.2f')} "
            f"| {_fmt(ms['floor'], '.2f')} "
            f"| {_fmt(r['skae_over_torch'], '.2f')} | {_fmt(r['skae_over_mlp'], '.2f')} "
            f"| {_fmt(r['skae_over_floor'], '.2f')} "
            f"| {_fmt(gf, '.1f')} ({_fmt(gf and peak and 100 * gf / peak, '.0f')}%) |"
        )
    lines += [
        "",
        "Final training loss (mean squared reconstruction error over the training data):",
        "",
        "| config | dtype | threads | skae | torch | MLP |",
        "|---|---|---|--:|--:|--:|",
    ]
    for r in results:
        loss = r["final_loss"]
        lines.append(
            f"| {r['config']} | {r['dtype']} | {threads_label(r)} "
            f"| {_fmt(loss.get('skae'), '.4f')} "
            f"| {_fmt(loss.get('torch'), '.4f')} | {_fmt(loss.get('mlp'), '.4f')} |"
        )
    variants = [
        name for name in VARIANT_NAMES if any(name in r["variants_over_skae"] for r in results)
    ]
    if variants:
        lines += [
            "",
            "Variants: time per epoch over PyTorch's (and over plain skae's), median of "
            "per-round ratios:",
            "",
            "| config | dtype | threads | " + " | ".join(variants) + " |",
            "|---|---|---|" + "--:|" * len(variants),
        ]
        for r in results:
            cells = [
                f"{_fmt(r['variants_over_torch'].get(v), '.2f')} "
                f"({_fmt(r['variants_over_skae'].get(v), '.2f')})"
                for v in variants
            ]
            lines.append(
                f"| {r['config']} | {r['dtype']} | {threads_label(r)} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(CONFIGS),
        metavar="NAME",
        help=f"networks and data, among {', '.join(CONFIGS)} (default: all)",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=["float32", "float64"],
        default=None,
        help="dtypes of the data and the networks (default float32 float64; --quick: float32)",
    )
    parser.add_argument(
        "--threads",
        nargs="+",
        type=positive_int,
        default=None,
        metavar="N",
        help="BLAS (and PyTorch) thread counts, one table cell each (default 1 2; --quick: 1)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=None,
        help="interleaved rounds per cell (default 5, 3 for mnist; --quick: 2)",
    )
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=CONTENDERS,
        default=None,
        metavar="NAME",
        help=f"what to time, among {', '.join(CONTENDERS)} "
        f"(default: {' '.join(DEFAULT_CONTENDERS)}; with --activation elu, the same "
        "without mlp, which has no ELU, and naming mlp is an error)",
    )
    parser.add_argument(
        "--activation",
        choices=list(ACTIVATIONS),
        default="relu",
        help="activation of the hidden layers, for every contender but floor (default relu; "
        "elu: a for a > 0 else exp(a) - 1, which MLPRegressor does not have)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: float32, 1 thread, a tenth of the samples, 2 rounds "
        "(explicit --dtypes, --threads and --rounds are kept)",
    )
    parser.add_argument(
        "--load",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="keep N other processes busy (a spinning loop each) while the cells are "
        "timed: a machine shared with other work (default 0)",
    )
    parser.add_argument(
        "--gap",
        type=non_negative_float,
        default=0.1,
        help="seconds of rest before each timed run (default 0.1)",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE",
        help="write the machine, the peaks and the results to FILE"
    )
    return parser


def parse_args(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    mlp_can_run = args.activation in MLP_ACTIVATIONS
    if args.contenders is None:
        # Without MLPRegressor where it has not the activation: the rest still compares.
        args.contenders = [c for c in DEFAULT_CONTENDERS if c != "mlp" or mlp_can_run]
    elif "mlp" in args.contenders and not mlp_can_run:
        parser.error(
            f"argument --activation: MLPRegressor has no {args.activation.upper()}: "
            "drop mlp from --contenders"
        )
    if args.dtypes is None:
        args.dtypes = ["float32"] if args.quick else ["float32", "float64"]
    if args.threads is None:
        args.threads = [1] if args.quick else [1, 2]
    return args


def main(argv=None):
    args = parse_args(argv)
    contenders = [c for c in args.contenders if c != "torch" or torch is not None]
    if "torch" in args.contenders and torch is None:
        print("PyTorch is not installed: skipping it (pip install torch).", file=sys.stderr)
    configs = [Config(**{**CONFIGS[name].__dict__, "activation": args.activation})
               for name in args.configs]
    if args.quick:
        configs = [
            Config(**{**c.__dict__, "n_samples": max(c.n_samples // 10, 4 * c.batch_size)})
            for c in configs
        ]
    machine = machine_description()
    peaks, results = {}, []
    started = time.perf_counter()
    with busy_processes(args.load):
        run_cells(args, configs, contenders, peaks, results)
    machine["other_busy_processes"] = args.load
    table = markdown(results, peaks, machine)
    print(table)
    print(f"\n(total {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine,
                    "gemm_peak_gflops": {f"{d}/{t}": p for (d, t), p in peaks.items()},
                    "results": results,
                    "markdown": table,
                },
                f,
                indent=1,
            )
    return results


def _spin(parent):
    # Ends when the benchmark does, even if it is killed (SIGTERM runs no cleanup):
    # an orphan is adopted by another process.
    while os.getppid() == parent:
        for _ in range(100_000):
            pass


@contextlib.contextmanager
def busy_processes(n):
    """``n`` processes that keep a core each busy, for as long as the context lasts."""
    import multiprocessing

    workers = [
        multiprocessing.Process(target=_spin, args=(os.getpid(),), daemon=True)
        for _ in range(n)
    ]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        for w in workers:
            w.terminate()
            w.join()


def run_cells(args, configs, contenders, peaks, results):
    for threads in args.threads:
        for dtype in args.dtypes:
            with thread_count(threads):
                peaks[(dtype, threads)] = gemm_peak(np.dtype(dtype))
            for config in configs:
                rounds = args.rounds or (2 if args.quick else 3 if config.name == "mnist" else 5)
                print(
                    f"{config.name} {dtype} {threads} thread(s), {rounds} rounds", file=sys.stderr
                )
                log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
                results.append(
                    bench_cell(
                        config, np.dtype(dtype), threads, rounds, contenders, args.gap, log=log
                    )
                )
            # Measured again after the cells: other load on the machine only lowers it.
            with thread_count(threads):
                peaks[(dtype, threads)] = max(peaks[(dtype, threads)], gemm_peak(np.dtype(dtype)))


if __name__ == "__main__":
    main()
