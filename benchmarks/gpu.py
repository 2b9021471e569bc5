r"""skae on an accelerator, through scikit-learn's Array API dispatch.

Every contender trains the same autoencoder (ReLU hidden layers, linear code and
output layers, squared error, float32) with the same Adam settings, batch size
and number of epochs, on the same synthetic data:

* ``skae-numpy-1t``: :class:`skae.AutoencoderTransformer` on a NumPy array, one
  BLAS thread (threadpoolctl);
* ``skae-numpy-all``: the same with every core;
* ``skae-torch-<device>``: the same estimator on a PyTorch tensor on the device,
  with ``sklearn.config_context(array_api_dispatch=True)``;
* ``skae-cupy``: the same on a CuPy array, when CuPy is installed;
* ``torch-loop-<device>``: a plain PyTorch training loop of the same network
  (``nn.Sequential``, ``torch.optim.Adam``, shuffled minibatches) on the device.

Networks: ``mnist-like`` (784→512→256→32→256→512→784, 60,000 rows, batch 128) and
``digits-like`` (64→128→64→2→64→128→64, 1,797 rows, batch 32). Reported: epochs
per second (the median over ``--repeats`` fits), and the ratios the goal is
stated in (medians of the ratios within each round): skae on the device
against skae NumPy on one core, and the plain PyTorch loop against skae on the
device. ``skae-numpy-all`` trains the small network on one thread all the
same (skae's rule for networks whose products are small). Each contender is first warmed up for
an epoch on a slice of each network's own data; the repeats are interleaved
rounds, each fitting every contender once, in an order that rotates from round
to round. Absent backends are skipped with a message, and so is a contender
that fails its warm-up (with its error); the header says what hardware ran.

Usage::

    SCIPY_ARRAY_API=1 python benchmarks/gpu.py                 # on a CUDA machine
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --quick         # a smoke test, seconds
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --device cpu --torch-threads 1  # no GPU
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --json gpu.json

``SCIPY_ARRAY_API=1`` must be set before SciPy is imported; the script sets it
itself when it is run directly.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402
from _report import output_file, positive_int  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is optional: its contenders are skipped
    torch = None
try:
    import cupy
except ImportError:  # CuPy too
    cupy = None

LEARNING_RATE, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class Config:
    """One network and data set."""

    name: str
    n_features: int
    hidden: tuple
    n_components: int
    n_samples: int
    batch_size: int
    epochs: int

    @property
    def layer_sizes(self):
        """Widths of all layers, input to output."""
        return (self.n_features, *self.hidden, self.n_components, *self.hidden[::-1],
                self.n_features)


CONFIGS = {
    "mnist-like": Config("mnist-like", 784, (512, 256), 32, 60_000, 128, 3),
    "digits-like": Config("digits-like", 64, (128, 64), 2, 1_797, 32, 20),
}

#: --quick: the same networks on little data, for a smoke test.
QUICK = {
    "mnist-like": Config("mnist-like", 784, (512, 256), 32, 1_024, 128, 1),
    "digits-like": Config("digits-like", 64, (128, 64), 2, 256, 32, 2),
}


def make_data(config, seed=0):
    """Synthetic float32 data of the config's shape: a noisy nonlinear image of 16 factors."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((config.n_samples, 16), dtype=np.float32)
    mixing = rng.standard_normal((16, config.n_features), dtype=np.float32) / 4
    X = np.tanh(latent @ mixing)
    X += 0.05 * rng.standard_normal(X.shape, dtype=np.float32)
    return X


def skae_model(config, seed):
    # Every setting explicit, so that a change of defaults cannot skew the comparison.
    return AutoencoderTransformer(
        n_components=config.n_components,
        hidden_layer_sizes=config.hidden,
        activation="relu",
        loss="squared_error",
        alpha=0.0,
        batch_size=config.batch_size,
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
        max_iter=config.epochs,
        tol=0.0,
        n_iter_no_change=config.epochs + 1,
        shuffle=True,
        early_stopping=False,
        n_init=1,
        init="random",
        random_state=seed,
    )


def _synchronize(device):
    if torch is not None and str(device).startswith("cuda"):
        torch.cuda.synchronize()


def run_skae_numpy(config, X, seed, threads):
    # "Every core": set, not left as the caller's limit (OMP_NUM_THREADS=1, say).
    limit = threadpool_limits(threads or os.cpu_count())
    with limit:
        tic = time.perf_counter()
        skae_model(config, seed).fit(X)
        return time.perf_counter() - tic


def run_skae_torch(config, X, seed, device):
    data = torch.asarray(X, device=device)
    _synchronize(device)
    with sklearn.config_context(array_api_dispatch=True):
        tic = time.perf_counter()
        skae_model(config, seed).fit(data)  # ends with a transfer to the host: synchronised
        return time.perf_counter() - tic


def run_skae_cupy(config, X, seed):
    data = cupy.asarray(X)
    cupy.cuda.Device().synchronize()
    with sklearn.config_context(array_api_dispatch=True):
        tic = time.perf_counter()
        skae_model(config, seed).fit(data)
        return time.perf_counter() - tic


def run_torch_loop(config, X, seed, device):
    """The plain PyTorch loop of the same network, as a PyTorch user would write it."""
    torch.manual_seed(seed)
    sizes = config.layer_sizes
    n_encoder = len(config.hidden) + 1
    data = torch.asarray(X, device=device)
    _synchronize(device)
    tic = time.perf_counter()
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b, device=device))
        if i != n_encoder - 1 and i != len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=LEARNING_RATE, betas=(BETA_1, BETA_2), eps=EPSILON
    )
    loss_fn = torch.nn.MSELoss()
    n, bs = X.shape[0], config.batch_size
    for _ in range(config.epochs):
        order = torch.randperm(n, device=device)
        total = torch.zeros((), device=device)
        for start in range(0, n, bs):
            batch = data[order[start : start + bs]]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        float(total)  # one synchronisation per epoch, as skae does
    _synchronize(device)
    return time.perf_counter() - tic


def contenders(device):
    """The contenders of the backends present, ``{name: fn(config, X, seed) -> seconds}``.

    Also returns the messages of the backends skipped.
    """
    found = {
        "skae-numpy-1t": lambda c, X, s: run_skae_numpy(c, X, s, 1),
        "skae-numpy-all": lambda c, X, s: run_skae_numpy(c, X, s, None),
    }
    skipped = []
    if torch is None:
        skipped.append("PyTorch is not installed: no skae-torch or torch-loop contender")
    elif device.startswith("cuda") and not torch.cuda.is_available():
        skipped.append(f"PyTorch sees no CUDA device: no contender on {device!r} "
                       "(try --device cpu)")
    else:
        found[f"skae-torch-{device}"] = lambda c, X, s: run_skae_torch(c, X, s, device)
        found[f"torch-loop-{device}"] = lambda c, X, s: run_torch_loop(c, X, s, device)
    if cupy is None:
        skipped.append("CuPy is not installed: no skae-cupy contender")
    else:
        try:
            cupy.cuda.runtime.getDeviceCount()
            found["skae-cupy"] = run_skae_cupy
        except Exception as exc:  # CuPy without a usable GPU
            skipped.append(f"CuPy has no usable device ({exc}): no skae-cupy contender")
    return found, skipped


def hardware(device):
    info = machine_info()
    if torch is not None:
        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    if cupy is not None:
        info["cupy"] = cupy.__version__
    info["device"] = device
    return info


def warm_up_config(config):
    """The config on a slice of its data, for one epoch: the warm-up of its contenders."""
    n_warm = min(config.n_samples, 4 * config.batch_size)
    return Config(**{**asdict(config), "n_samples": n_warm, "epochs": 1})


def run(configs, names=None, *, device="cuda", repeats=3, seed=0, log=print):
    """Time every contender on every config; return one record per (config, contender).

    Per config, every contender is first warmed up on a slice of the config's own data
    (imports, device start-up, kernel caches and allocator for these shapes); then
    ``repeats`` rounds run each contender once, their order rotating from round to round.
    A contender whose warm-up raises is reported (``skipped: ...``) and left out of
    that config's rounds.
    """
    found, skipped = contenders(device)
    for message in skipped:
        log(f"skipped: {message}")
    if names is not None:
        found = {n: f for n, f in found.items() if n in names}
    records = []
    for config in configs:
        X = make_data(config, seed)
        warm = warm_up_config(config)
        order = []
        for name in found:
            try:
                found[name](warm, X[: warm.n_samples], seed)
            except Exception as exc:  # a backend broken on this machine: say so, go on
                log(f"skipped: {name} failed its warm-up on {config.name}: "
                    f"{type(exc).__name__}: {exc}")
            else:
                order.append(name)
        seconds = {name: [] for name in order}
        for r in range(repeats):
            shift = r % len(order) if order else 0
            for name in order[shift:] + order[:shift]:
                seconds[name].append(found[name](config, X, seed + r))
        for name in order:
            rate = config.epochs / statistics.median(seconds[name])
            records.append({"config": config.name, "contender": name,
                            "epochs_per_second": rate, "seconds": seconds[name],
                            "epochs": config.epochs, "shape": list(X.shape),
                            "batch_size": config.batch_size})
            log(f"{config.name:12s} {name:22s} {rate:10.3f} epochs/s")
    return records


def ratios(records):
    """Per config: skae on the device vs skae NumPy one core, and the torch loop vs skae.

    Each a speed ratio (epochs per second over epochs per second), the median over
    rounds of the round's own ratio: the contenders of a round ran side by side, so
    load that changes between rounds cancels out.
    """
    out = {}
    for config in dict.fromkeys(r["config"] for r in records):
        seconds = {r["contender"]: r["seconds"] for r in records if r["config"] == config}

        def speedup(a, b, seconds=seconds):
            return statistics.median(
                tb / ta for ta, tb in zip(seconds[a], seconds[b], strict=True)
            )

        row = {}
        for name in seconds:
            if name.startswith("skae-torch-") or name == "skae-cupy":
                if "skae-numpy-1t" in seconds:
                    row[f"{name} / skae-numpy-1t"] = speedup(name, "skae-numpy-1t")
                loop = "torch-loop-" + name.removeprefix("skae-torch-")
                if loop in seconds:
                    row[f"{loop} / {name}"] = speedup(loop, name)
        out[config] = row
    return out


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        metavar="NAME",
                        help=f"networks and data, among {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--device", default="cuda",
                        help="PyTorch device of the device contenders (default: cuda)")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="interleaved rounds, each fitting every contender once; the "
                        "median is reported (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="little data, one repeat: a smoke test of a few seconds")
    parser.add_argument("--torch-threads", type=positive_int, default=None,
                        help="torch.set_num_threads for contenders on the CPU (default: "
                        "PyTorch's own choice; 1 on a loaded machine)")
    parser.add_argument("--json", type=output_file, metavar="FILE",
                        help="write the machine, the records and the ratios to FILE")
    return parser


def parse_args(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if torch is not None:
        try:
            torch.device(args.device)
        except RuntimeError as error:
            parser.error(f"argument --device: {error}")
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def main(argv=None):
    args = parse_args(argv)
    table = QUICK if args.quick else CONFIGS
    repeats = args.repeats
    kept = torch.get_num_threads() if torch is not None else None
    try:
        return _main(args, table, repeats)
    finally:
        if kept is not None:
            torch.set_num_threads(kept)


def _main(args, table, repeats):
    if args.torch_threads is not None and torch is not None:
        torch.set_num_threads(args.torch_threads)
    info = hardware(args.device)
    info["torch_threads"] = torch.get_num_threads() if torch is not None else None
    print("Hardware:", json.dumps(info, default=str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        records = run([table[c] for c in args.configs], device=args.device, repeats=repeats)
    summary = ratios(records)
    for config, row in summary.items():
        for label, value in row.items():
            print(f"{config:12s} {label:44s} {value:8.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "records": records, "ratios": summary,
                       "configs": {c: asdict(table[c]) for c in args.configs}}, f, indent=2,
                      default=str)
    return records


if __name__ == "__main__":
    main()
