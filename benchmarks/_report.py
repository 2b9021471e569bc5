"""How the benchmark scripts print a verdict: shared by them."""

import math


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
