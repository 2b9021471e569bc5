"""Shared by the benchmark scripts: how they print a verdict, and their flags' types."""

import argparse
import json
import math
import os


def decimals(value, goal, at_least=2):
    """Decimals that tell ``value`` from ``goal`` in print (at least ``at_least``).

    A verdict compares the unrounded numbers; printed to the same few decimals a
    value just past its goal reads as equal to it ("0.20x > 0.20x"). Equal
    numbers, and numbers apart only beyond 12 decimals, print at ``at_least``.
    """
    for places in range(at_least, 13):
        if f"{value:.{places}f}" != f"{goal:.{places}f}":
            return places
    return at_least


def exceeds(value, goal):
    """Whether ``value`` is past ``goal`` by more than rounding (a relative 1e-12).

    A mean of ratios that lands on its goal exactly (1.1 and 1.3 against 1.2) can
    come out a last bit above it in floating point; that meets the goal.
    """
    return value > goal and not math.isclose(value, goal, rel_tol=1e-12, abs_tol=0.0)


def geomean(values):
    """The geometric mean of positive ``values`` (of ratios: 2x and 0.5x average to 1x)."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def one_thread_footer(n_seeds, elapsed, machine):
    """The closing line of a benchmark run on one BLAS thread: seeds, time, machine."""
    return (
        f"\n{n_seeds} seed(s), 1 BLAS thread; {elapsed:.0f} s on {machine['cpu']} "
        f"({machine['logical_cpus']} logical CPUs), numpy {machine['numpy']}, scikit-learn "
        f"{machine['scikit-learn']}, skae {machine['skae']}"
        + (f" ({'; '.join(machine['blas'])})." if machine["blas"] else ".")
    )


def write_results(path, machine, args, records):
    """The raw results of a run as JSON: the machine, the flags and the records."""
    with open(path, "w") as f:
        json.dump({"machine": machine, "settings": vars(args), "records": records}, f,
                  indent=1, default=str)


# -- argparse types: a bad flag is a usage error before the run, not a traceback after it --
def _number(text, convert, accept, requirement):
    """``convert(text)`` if ``accept`` takes it, else an argparse error naming ``requirement``."""
    try:
        value = convert(text)
    except ValueError:
        kind = "an integer" if convert is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
    if not accept(value):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"{text} is not {requirement}")
    return value


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    return _number(text, int, lambda value: value >= 1, "a positive integer")


def nonzero_int(text):
    """An argparse type: an integer other than 0 (joblib's ``n_jobs``: -1 is every core)."""
    return _number(text, int, lambda value: value != 0, "a nonzero integer")


def non_negative_int(text):
    """An argparse type: an integer of at least 0."""
    return _number(text, int, lambda value: value >= 0, "an integer of at least 0")


def open_fraction(text):
    """An argparse type: a number strictly between 0 and 1."""
    return _number(text, float, lambda value: 0 < value < 1, "strictly between 0 and 1")


def positive_float(text):
    """An argparse type: a number above 0."""
    return _number(text, float, lambda value: value > 0, "a number above 0")


def non_negative_float(text):
    """An argparse type: a number of at least 0."""
    return _number(text, float, lambda value: value >= 0, "a number of at least 0")


def output_file(text):
    """An argparse type: a path a file can be written to, checked before the run."""
    directory = os.path.dirname(os.path.abspath(text))
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError(f"the directory of {text} does not exist")
    if not os.access(directory, os.W_OK):
        raise argparse.ArgumentTypeError(f"the directory of {text} is not writable")
    return text


def params_error(estimator_class, params, set_by_run=()):
    """Why ``params`` cannot be given to ``estimator_class`` (a sentence), or None.

    ``set_by_run`` names the parameters the benchmark sets itself (per task or
    seed). Checked before the run starts, so that a bad ``--skae-params`` is a
    usage error rather than a traceback minutes into the run.
    """
    name = estimator_class.__name__
    fixed = [key for key in params if key in set_by_run]
    if fixed:
        return f"{', '.join(fixed)} cannot be set: the benchmark sets {', '.join(set_by_run)}"
    known = estimator_class().get_params(deep=False)
    unknown = [key for key in params if key not in known]
    if unknown:
        return f"{name} has no parameter {', '.join(unknown)}"
    try:
        estimator_class(**params)._validate_params()
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def json_object(text):
    """An argparse type: a JSON object (keyword arguments by name)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a JSON object of parameters, e.g. '{{\"n_init\": 1}}'"
        )
    return value
