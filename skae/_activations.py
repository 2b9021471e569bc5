"""Activation functions and their derivatives, keyed by the user's strings.

Every function works in place on a preallocated buffer. Derivatives are
written in terms of the layer *output* ``Z = f(A)`` and multiply ``delta``
(the gradient with respect to the output) in place, turning it into the
gradient with respect to the pre-activation ``A``. All of the activations
below are monotone, so ``f'(A)`` can always be recovered from ``Z``.

The training loop calls these a few times per minibatch, so the common ones
accept optional preallocated buffers and then allocate nothing:

* ``ACTIVATIONS[name](X, zeros=None)``: ``zeros`` is an all-zero array of
  ``X``'s shape and dtype (left untouched). ``np.maximum(X, zeros)`` takes
  NumPy's contiguous SIMD path; comparing with the scalar ``0`` is several
  times slower.
* ``DERIVATIVES[name](Z, delta, mask=None)``: ``mask`` is a boolean scratch
  array of ``Z``'s shape, overwritten. Multiplying by a boolean mask avoids the
  allocation and the slow scatter of ``delta[Z <= 0] = 0``.

Functions that have no use for a buffer ignore it.
"""

import numpy as np
from scipy.special import expit

#: Slope of ``leaky_relu`` for negative inputs.
LEAKY_SLOPE = 0.01


def inplace_identity(X, zeros=None):
    """Identity, ``f(a) = a`` (does nothing)."""


def inplace_relu(X, zeros=None):
    """Rectified linear unit, ``f(a) = max(a, 0)``."""
    np.maximum(X, 0 if zeros is None else zeros, out=X)


def inplace_leaky_relu(X, zeros=None):
    """Leaky ReLU, ``f(a) = a`` for ``a > 0`` else ``0.01 a``."""
    np.maximum(X, LEAKY_SLOPE * X, out=X)


#: Entries of the scratch block of ``inplace_elu`` without a buffer (512 KiB in float64).
ELU_BLOCK = 65536


def _elu_block(X, zero):
    # expm1(a) >= a for every a <= 0 (and rounding keeps it so: a is representable):
    # the larger of a and expm1(min(a, 0)) is a where a > 0, expm1(a) elsewhere.
    negative = np.minimum(X, zero)
    np.expm1(negative, out=negative)
    np.maximum(X, negative, out=X)


def inplace_elu(X, zeros=None):
    """Exponential linear unit, ``f(a) = a`` for ``a > 0`` else ``exp(a) - 1``.

    Computed as ``max(a, expm1(min(a, 0)))``, the values of ``expm1`` on the
    negative entries alone (to every bit but, on some processors, the sign of
    a zero): three whole-array passes, which take NumPy's SIMD loops, where a
    masked ``where=`` pass is several times slower. Without ``zeros``
    (inference on any number of rows) it goes through blocks of rows, so that
    its scratch stays small beside ``X``.
    """
    if zeros is not None:
        _elu_block(X, zeros)
        return
    rows = max(1, ELU_BLOCK // max(1, X.shape[-1])) if X.ndim == 2 else len(X) or 1
    for start in range(0, len(X), rows):
        _elu_block(X[start : start + rows], 0)


def inplace_softplus(X, zeros=None):
    """Softplus, ``f(a) = log(1 + exp(a))``, computed without overflow."""
    np.logaddexp(0, X, out=X)


def inplace_tanh(X, zeros=None):
    """Hyperbolic tangent."""
    np.tanh(X, out=X)


def inplace_logistic(X, zeros=None):
    """Logistic sigmoid, ``f(a) = 1 / (1 + exp(-a))`` via ``scipy.special.expit``."""
    expit(X, out=X)


ACTIVATIONS = {
    "identity": inplace_identity,
    "relu": inplace_relu,
    "leaky_relu": inplace_leaky_relu,
    "elu": inplace_elu,
    "softplus": inplace_softplus,
    "tanh": inplace_tanh,
    "logistic": inplace_logistic,
}


def inplace_identity_derivative(Z, delta, mask=None):
    """``f'(a) = 1``: ``delta`` is unchanged."""


def inplace_relu_derivative(Z, delta, mask=None):
    """``f'(a) = 1`` where ``z > 0`` else ``0``."""
    if mask is None:
        mask = Z > 0
    else:
        np.greater(Z, 0, out=mask)
    np.multiply(delta, mask, out=delta)


def inplace_leaky_relu_derivative(Z, delta, mask=None):
    """``f'(a) = 1`` where ``z > 0`` else ``0.01``."""
    np.multiply(delta, LEAKY_SLOPE, out=delta, where=Z <= 0)


def inplace_elu_derivative(Z, delta, mask=None):
    """``f'(a) = 1`` where ``z > 0`` else ``exp(a) = z + 1``: ``min(z, 0) + 1``."""
    slope = np.minimum(Z, 0)
    slope += 1
    np.multiply(delta, slope, out=delta)


def inplace_softplus_derivative(Z, delta, mask=None):
    """``f'(a) = expit(a) = 1 - exp(-z)``."""
    delta *= -np.expm1(-Z)


def inplace_tanh_derivative(Z, delta, mask=None):
    """``f'(a) = 1 - z**2``."""
    delta *= 1 - Z**2


def inplace_logistic_derivative(Z, delta, mask=None):
    """``f'(a) = z (1 - z)``."""
    delta *= Z
    delta *= 1 - Z


DERIVATIVES = {
    "identity": inplace_identity_derivative,
    "relu": inplace_relu_derivative,
    "leaky_relu": inplace_leaky_relu_derivative,
    "elu": inplace_elu_derivative,
    "softplus": inplace_softplus_derivative,
    "tanh": inplace_tanh_derivative,
    "logistic": inplace_logistic_derivative,
}

def _second_elu(Z, out):
    """``f''(a) = exp(a) = z + 1`` where ``z < 0`` else ``0``."""
    np.add(Z, 1, out=out)
    out *= Z < 0


def _second_softplus(Z, out):
    """``f''(a) = σ(a)(1 - σ(a))`` with ``σ(a) = 1 - exp(-z)``."""
    np.negative(Z, out=out)
    np.exp(out, out=out)  # exp(-z) = 1 - σ(a)
    out *= 1 - out


def _second_tanh(Z, out):
    """``f''(a) = -2 z (1 - z**2)``."""
    np.multiply(Z, Z, out=out)
    np.subtract(1, out, out=out)
    out *= Z
    out *= -2


def _second_logistic(Z, out):
    """``f''(a) = z (1 - z) (1 - 2 z)``."""
    np.subtract(1, Z, out=out)
    out *= Z
    out *= 1 - 2 * Z


#: Second derivatives ``f''(a)`` in terms of the output ``z``, written into ``out``;
#: None where ``f''`` is zero almost everywhere (the piecewise-linear activations).
#: Only the contractive penalty needs them.
SECOND_DERIVATIVES = {
    "identity": None,
    "relu": None,
    "leaky_relu": None,
    "elu": _second_elu,
    "softplus": _second_softplus,
    "tanh": _second_tanh,
    "logistic": _second_logistic,
}

#: Activations whose weights are initialised with He's scaling rather than Glorot's.
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "softplus"})
