"""What each autoencoder variant does on data, measured on held-out digits.

Every model is :class:`skae.AutoencoderTransformer` with the same base network
(the default encoder 64 → 128 → 64 → code, mirrored decoder, ReLU; ``alpha=1.5e-3``
and a constant learning rate of 2e-3, fixed: see :func:`base_params`) trained for
a fixed budget of :data:`EPOCHS` epochs: a denoising
fit's training objective is drawn afresh every minibatch and never settles, so
the stopping rule on it would end that fit long before the others. The code
has 16 units, 32 for the sparse codes (an overcomplete-ish code, so that
sparsity has room to show). For every seed the digits are split 75/25, a
``StandardScaler`` is fitted on the training part, and every metric is
computed on the held-out part:

* **denoising**: held-out digits corrupted by masking (25 % of the pixels set
  to 0, the training mean in standardized units) and by Gaussian noise
  (σ = 0.5), from a generator of their own; the MSE of reconstructing the
  *clean* rows from the corrupted ones, ``inverse_transform(transform(X_corrupted))``
  against ``X``, for the plain autoencoder and the denoising ones trained with
  the matching noise, and each model's MSE on clean rows (the cost). The
  corrupted input itself, taken as its own reconstruction, is a reference;
* **sparsity**: Hoyer's sparsity of the codes, (√k − ‖c‖₁/‖c‖₂)/(√k − 1)
  averaged over rows (0 when every unit has the same magnitude, 1 for a single
  active unit; scale-free), the fraction of code entries below 1 % of their
  row's largest magnitude (also scale-free), the mean |code| and the MSE;
* **contraction**: the encoder's mean squared Jacobian Frobenius norm
  ‖∂code/∂x‖²_F, computed exactly (up to rounding) by central finite
  differences of ``transform``, one pair of transforms per input feature; the
  same divided by the codes' total variance (scale-free: a penalty that only
  shrank the codes would leave it unchanged); the MSE;
* **tied weights**: the number of weights stored (decoder matrices that are
  views of the encoder's counted once) and listed in ``coefs_``; the MSE;
* fit time (one BLAS thread; the machine's other load makes it noisy).

Usage::

    python benchmarks/variants.py --quick        # one seed, about two minutes
    python benchmarks/variants.py --json variants.json

Progress goes to stderr, the tables (Markdown) to stdout.
"""

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer

# The module the benchmark scripts share, found also when a script is loaded by path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import blas_text, machine_info  # noqa: E402
from _report import output_file, positive_int  # noqa: E402

TEST_SIZE = 0.25

#: Training epochs of every model (a fixed budget: the stopping rule is switched off).
EPOCHS = 400

#: Code width of every model but the sparse ones.
N_COMPONENTS = 16

#: Code width of the sparse-code rows.
N_COMPONENTS_SPARSE = 32

#: Corruption of the held-out rows; the denoising models train with the same.
MASKING_LEVEL = 0.25
GAUSSIAN_SIGMA = 0.5

#: Step of the central finite differences of ``transform``.
JACOBIAN_STEP = 1e-4

#: The row of the denoising table that is no model: the corrupted input as is.
IDENTITY = "corrupted input as is"


# -- the models ------------------------------------------------------------------------------
def base_params(epochs=EPOCHS):
    """Parameters shared by every model: a fixed number of epochs, the stopping rule off.

    The L2 penalty, a constant learning rate of 2e-3, a random start
    (``init="random"``) and ReLU units are fixed too, as the published table was
    measured, so that a change of the estimator's defaults leaves it reproducible.
    """
    return {
        "n_components": N_COMPONENTS,
        "max_iter": epochs,
        "n_iter_no_change": epochs,
        "alpha": 1.5e-3,
        "learning_rate": "constant",
        "learning_rate_init": 2e-3,
        "early_stopping": False,
        "n_init": 1,
        "init": "random",
        "activation": "relu",
    }


#: Name -> the parameters it changes from :func:`base_params`.
MODELS = {
    "plain": {},
    f"noise='masking', noise_level={MASKING_LEVEL}": {
        "noise": "masking",
        "noise_level": MASKING_LEVEL,
    },
    f"noise='gaussian', noise_level={GAUSSIAN_SIGMA}": {
        "noise": "gaussian",
        "noise_level": GAUSSIAN_SIGMA,
    },
    f"plain, {N_COMPONENTS_SPARSE} codes": {"n_components": N_COMPONENTS_SPARSE},
    **{
        f"sparsity={s:g}, {N_COMPONENTS_SPARSE} codes": {
            "n_components": N_COMPONENTS_SPARSE,
            "sparsity": s,
        }
        for s in (1e-3, 1e-2, 3e-2)
    },
    **{f"contraction={c:g}": {"contraction": c} for c in (1e-2, 1e-1, 1.0)},
    "tied_weights=True": {"tied_weights": True},
}


@dataclass(frozen=True)
class Section:
    """One table: which effect, on which models (the baseline first), in which columns."""

    title: str
    baseline: str
    models: tuple
    columns: tuple  # (record key, header, format)
    note: str


SECTIONS = (
    Section(
        title="Denoising",
        baseline="plain",
        models=(IDENTITY, "plain", *(m for m in MODELS if m.startswith("noise="))),
        columns=(
            ("mse_masked", f"MSE from masked ({MASKING_LEVEL:.0%})", ".3f"),
            ("mse_gaussian", f"MSE from Gaussian (σ={GAUSSIAN_SIGMA:g})", ".3f"),
            ("mse", "MSE from clean", ".3f"),
            ("fit_time", "fit s", ".1f"),
        ),
        note="MSE of the reconstruction against the clean held-out rows, from corrupted or "
        "clean input.",
    ),
    Section(
        title="Sparse codes",
        baseline=f"plain, {N_COMPONENTS_SPARSE} codes",
        models=tuple(m for m in MODELS if m.endswith(f"{N_COMPONENTS_SPARSE} codes")),
        columns=(
            ("hoyer", "Hoyer sparsity", ".3f"),
            ("near_zero", "entries < 1% of row max", ".3f"),
            ("mean_abs_code", "mean |code|", ".3f"),
            ("mse", "MSE", ".3f"),
            ("fit_time", "fit s", ".1f"),
        ),
        note="Hoyer's measure averaged over held-out rows (0: all units alike, 1: one unit); "
        "held-out MSE.",
    ),
    Section(
        title="Contraction",
        baseline="plain",
        models=("plain", *(m for m in MODELS if m.startswith("contraction="))),
        columns=(
            ("jacobian", "mean ‖J‖²_F", ".3f"),
            ("jacobian_rel", "‖J‖²_F / code variance", ".3f"),
            ("mse", "MSE", ".3f"),
            ("fit_time", "fit s", ".1f"),
        ),
        note="Encoder Jacobian by central differences of transform on held-out rows; "
        "code variance = total over code units.",
    ),
    Section(
        title="Tied weights",
        baseline="plain",
        models=("plain", "tied_weights=True"),
        columns=(
            ("weights_stored", "weights stored", ".0f"),
            ("weights_listed", "weights in coefs_", ".0f"),
            ("mse", "MSE", ".3f"),
            ("fit_time", "fit s", ".1f"),
        ),
        note="Weights stored = entries of coefs_ with shared memory counted once "
        "(biases not included).",
    ),
)


# -- data ------------------------------------------------------------------------------------
def load_data():
    """The digits, 1797 x 64 pixel intensities in 0..16."""
    X, _ = load_digits(return_X_y=True)
    return X


def split(X, seed):
    """Standardized training and held-out parts; the scaler is fitted on the training part."""
    X_train, X_test = train_test_split(X, test_size=TEST_SIZE, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def corrupt(X, kind, level, rng):
    """A corrupted copy of ``X``, drawn from ``rng``.

    ``"masking"`` sets a fraction ``level`` of the entries to 0; ``"gaussian"``
    adds noise of standard deviation ``level``.
    """
    if kind == "masking":
        return np.where(rng.random(X.shape) < level, 0.0, X)
    if kind == "gaussian":
        return X + level * rng.standard_normal(X.shape)
    raise ValueError(f"unknown corruption {kind!r}")


# -- metrics ---------------------------------------------------------------------------------
def mse(X, X_hat):
    """Mean squared error over all entries."""
    return float(np.mean((np.asarray(X) - np.asarray(X_hat)) ** 2))


def reconstruct(model, X):
    """``inverse_transform(transform(X))``."""
    return model.inverse_transform(model.transform(X))


def hoyer_sparsity(codes):
    """Hoyer's sparsity, (√k − ‖c‖₁/‖c‖₂)/(√k − 1), averaged over the rows.

    0 when all ``k`` entries of a row have the same magnitude, 1 when one entry
    is nonzero; invariant to the scale of the codes. All-zero rows count as 1.
    """
    codes = np.asarray(codes, dtype=np.float64)
    k = codes.shape[1]
    l1 = np.abs(codes).sum(axis=1)
    l2 = np.sqrt((codes**2).sum(axis=1))
    ratio = np.divide(l1, l2, out=np.ones_like(l1), where=l2 > 0)
    return float(np.mean((np.sqrt(k) - ratio) / (np.sqrt(k) - 1)))


def near_zero_fraction(codes, rtol=0.01):
    """Fraction of entries below ``rtol`` times the largest magnitude of their row."""
    magnitudes = np.abs(np.asarray(codes, dtype=np.float64))
    return float(np.mean(magnitudes < rtol * magnitudes.max(axis=1, keepdims=True)))


def jacobian_sq_norms(transform, X, step=JACOBIAN_STEP):
    """Per-row ‖∂transform/∂x‖²_F by central finite differences.

    Column ``j`` of every row's Jacobian is ``(f(X + h eⱼ) − f(X − h eⱼ)) / 2h``:
    two calls of ``transform`` per input feature, on all rows at once. Exact for
    an affine map up to rounding; for a piecewise-linear (ReLU) encoder, exact
    wherever no unit changes sign within ``h``. Needs float64 ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    norms = np.zeros(X.shape[0])
    shifted = X.copy()
    for j in range(X.shape[1]):
        shifted[:, j] = X[:, j] + step
        forward = transform(shifted)
        shifted[:, j] = X[:, j] - step
        backward = transform(shifted)
        shifted[:, j] = X[:, j]
        norms += np.sum(((forward - backward) / (2 * step)) ** 2, axis=1)
    return norms


def weight_counts(model):
    """(weights stored, weights listed) of a fitted model's ``coefs_``.

    Stored counts each block of memory once: a tied decoder's matrices are
    views of the encoder's.
    """
    stored, seen = 0, []
    for coef in model.coefs_:
        if not any(np.shares_memory(coef, other) for other in seen):
            stored += coef.size
            seen.append(coef)
    return stored, sum(coef.size for coef in model.coefs_)


def evaluate(model, X_test, corrupted):
    """Every metric of a fitted ``model`` on the held-out rows (clean and corrupted)."""
    codes = model.transform(X_test)
    jacobian = float(np.mean(jacobian_sq_norms(model.transform, X_test)))
    stored, listed = weight_counts(model)
    return {
        "mse": mse(X_test, reconstruct(model, X_test)),
        "mse_masked": mse(X_test, reconstruct(model, corrupted["masking"])),
        "mse_gaussian": mse(X_test, reconstruct(model, corrupted["gaussian"])),
        "hoyer": hoyer_sparsity(codes),
        "near_zero": near_zero_fraction(codes),
        "mean_abs_code": float(np.mean(np.abs(codes))),
        "jacobian": jacobian,
        "jacobian_rel": jacobian / float(np.sum(np.var(codes, axis=0))),
        "weights_stored": stored,
        "weights_listed": listed,
    }


# -- the benchmark ---------------------------------------------------------------------------
def run(models, seeds, *, X=None, params=None, log=sys.stderr):
    """Fit and score every model on every seed.

    Parameters
    ----------
    models : dict
        Name -> parameters on top of ``params`` (see :data:`MODELS`).
    seeds : sequence of int
        One train/test split, corruption draw and model seed each.
    X : ndarray or None
        The data; None loads the digits.
    params : dict or None
        Parameters of every model (default :func:`base_params`).
    log : file-like
        Where the progress lines go.

    Returns
    -------
    records : list of dict
        One per seed and model, plus one per seed for the corrupted input
        taken as its own reconstruction (:data:`IDENTITY`).
    """
    X = load_data() if X is None else X
    params = base_params() if params is None else params
    records = []
    for i, seed in enumerate(seeds, start=1):
        X_train, X_test = split(X, seed)
        rng = np.random.default_rng([seed, 1])  # the held-out corruption, never seen in training
        corrupted = {
            "masking": corrupt(X_test, "masking", MASKING_LEVEL, rng),
            "gaussian": corrupt(X_test, "gaussian", GAUSSIAN_SIGMA, rng),
        }
        shape = X.shape
        records.append(
            {
                "seed": seed,
                "model": IDENTITY,
                "shape": shape,
                "mse_masked": mse(X_test, corrupted["masking"]),
                "mse_gaussian": mse(X_test, corrupted["gaussian"]),
            }
        )
        print(f"[seed {i}/{len(seeds)}]", end="", file=log, flush=True)
        for name, changes in models.items():
            model = AutoencoderTransformer(random_state=seed, **{**params, **changes})
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # A fixed budget of epochs: that it ends unconverged is expected.
                warnings.simplefilter("ignore", ConvergenceWarning)
                tic = time.perf_counter()
                model.fit(X_train)
                fit_time = time.perf_counter() - tic
                metrics = evaluate(model, X_test, corrupted)
            record = {"seed": seed, "model": name, "shape": shape, "params": changes}
            record |= metrics | {"fit_time": fit_time, "n_iter": model.n_iter_}
            if caught:
                record["warnings"] = sorted(
                    {f"{w.category.__name__}: {w.message}" for w in caught}
                )
            records.append(record)
            print(f"  {name} {fit_time:.1f} s", end="", file=log, flush=True)
        print(file=log, flush=True)
    return records


# -- reporting -------------------------------------------------------------------------------
def _by_model(records, key):
    """``model -> {seed: value}`` of one metric."""
    out = {}
    for record in records:
        if key in record:
            out.setdefault(record["model"], {})[record["seed"]] = record[key]
    return out


def _cell(values, fmt):
    if not values:
        return "-"
    values = list(values)
    mean = np.mean(values)
    if len(values) == 1:
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} ± {np.std(values, ddof=1):{fmt}}"


def format_tables(records):
    """The results as Markdown: one table per section, mean ± sd over the seeds."""
    n_seeds = len({r["seed"] for r in records})
    shape = records[0]["shape"]
    lines = [
        f"Held-out digits ({shape[0]} x {shape[1]}, 75/25 split, standardized on the "
        f"training part), mean ± sd over {n_seeds} seed(s). MSE in standardized units.",
    ]
    present = {r["model"] for r in records}
    for section in SECTIONS:
        models = [m for m in section.models if m in present]
        if not models:
            continue
        columns = [_by_model(records, key) for key, _, _ in section.columns]
        cells = [
            [
                _cell(column.get(m, {}).values(), fmt)
                for column, (_, _, fmt) in zip(columns, section.columns, strict=True)
            ]
            for m in models
        ]
        headers = ["model", *(header for _, header, _ in section.columns)]
        rows = [[f"`{m}`" if m != IDENTITY else m, *c] for m, c in zip(models, cells, strict=True)]
        widths = [max(len(row[j]) for row in [headers, *rows]) for j in range(len(headers))]
        lines += ["", f"### {section.title}", "", section.note, ""]
        lines.append(_row(headers, widths))
        lines.append(
            "|"
            + "|".join(
                "-" * (w + 1) + ":" if j else ":" + "-" * (w + 1) for j, w in enumerate(widths)
            )
            + "|"
        )
        lines += [_row(row, widths) for row in rows]
    return "\n".join(lines)


def _row(cells, widths):
    return (
        "| "
        + " | ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        + " |"
    )


def _paired(records, key, model, baseline):
    """Per-seed ``(value of model, value of baseline)`` pairs of one metric."""
    values = _by_model(records, key)
    seeds = sorted(set(values.get(model, {})) & set(values.get(baseline, {})))
    return [(values[model][s], values[baseline][s]) for s in seeds]


def _effect_metric(params):
    """What a variant is meant to change: ``(record key, label, whether lower is the aim)``."""
    if params.get("noise") == "masking":
        return "mse_masked", "MSE from masked", True
    if params.get("noise") == "gaussian":
        return "mse_gaussian", "MSE from Gaussian", True
    if params.get("sparsity"):
        return "hoyer", "Hoyer sparsity", False
    if params.get("contraction"):
        return "jacobian", "‖J‖²_F", True
    if params.get("tied_weights"):
        return "weights_stored", "weights stored", True
    return None


def _ratio(value):
    """Two decimals, or two significant digits below 0.1."""
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _ratios(records, key, model, baseline):
    """Per-seed ratios of ``model``'s metric to ``baseline``'s: a text and the ratios."""
    ratios = [a / b for a, b in _paired(records, key, model, baseline)]
    if not ratios:
        return "", ratios
    text = f"{_ratio(np.mean(ratios))}x"
    if len(ratios) > 1:
        text += f" ({_ratio(min(ratios))} to {_ratio(max(ratios))})"
    return text, ratios


def effects(records):
    """One line per variant: its effect against its table's baseline, and its cost.

    Both are per-seed ratios of the two models' values (mean, then range), the
    cost in clean held-out MSE.
    """
    lines = []
    for section in SECTIONS:
        for model in section.models:
            metric = _effect_metric(MODELS.get(model, {}))
            if model == section.baseline or metric is None:
                continue
            key, label, aim_lower = metric
            effect, ratios = _ratios(records, key, model, section.baseline)
            if not ratios:
                continue
            n_aimed = sum((r < 1) if aim_lower else (r > 1) for r in ratios)
            cost, cost_ratios = _ratios(records, "mse", model, section.baseline)
            n_higher = sum(r > 1 for r in cost_ratios)
            lines.append(
                f"`{model}`: {label} {effect} the `{section.baseline}` model's, "
                f"{'lower' if aim_lower else 'higher'} on {n_aimed} of {len(ratios)} seed(s); "
                f"clean MSE {cost}, higher on {n_higher} of {len(cost_ratios)}."
            )
    return lines


# -- command line ----------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed: about two minutes")
    parser.add_argument(
        "--seeds", type=positive_int, help="number of seeds (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=EPOCHS, help=f"training epochs (default {EPOCHS})"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        default=list(MODELS),
        metavar="NAME",
        help="models to run (default: all)",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the raw results to FILE"
    )
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds or (1 if args.quick else 5)))
    models = {name: MODELS[name] for name in args.models}

    tic = time.perf_counter()
    with threadpool_limits(limits=1):
        machine = machine_info()
        records = run(models, seeds, params=base_params(args.epochs))
    elapsed = time.perf_counter() - tic
    print(format_tables(records))
    print("\nEffects, seed by seed against the baseline of each table:")
    print(*(f"- {text}" for text in effects(records)), sep="\n")
    print(
        f"\n{len(seeds)} seed(s), {args.epochs} epochs, 1 BLAS thread; {elapsed:.0f} s on "
        f"{machine['cpu']} ({machine['logical_cpus']} logical CPUs), numpy "
        f"{machine['numpy']}, scikit-learn {machine['scikit-learn']}, skae {machine['skae']}; "
        f"BLAS: {blas_text(machine)}."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "settings": vars(args), "records": records},
                f,
                indent=1,
                default=str,
            )


if __name__ == "__main__":
    main()
