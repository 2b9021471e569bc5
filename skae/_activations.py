"""Activation functions and their derivatives, keyed by the user's strings.

Every function works in place on a preallocated buffer. Derivatives are
written in terms of the layer *output* ``Z = f(A)`` and multiply ``delta``
(the gradient with respect to the output) in place, turning it into the
gradient with respect to the pre-activation ``A``. All of the activations
below are monotone, so ``f'(A)`` can always be recovered from ``Z``.
"""

import numpy as np
from scipy.special import expit

#: Slope of ``leaky_relu`` for negative inputs.
LEAKY_SLOPE = 0.01


def inplace_identity(X):
    """Identity, ``f(a) = a`` (does nothing)."""


def inplace_relu(X):
    """Rectified linear unit, ``f(a) = max(a, 0)``."""
    np.maximum(X, 0, out=X)


def inplace_leaky_relu(X):
    """Leaky ReLU, ``f(a) = a`` for ``a > 0`` else ``0.01 a``."""
    np.maximum(X, LEAKY_SLOPE * X, out=X)


def inplace_elu(X):
    """Exponential linear unit, ``f(a) = a`` for ``a > 0`` else ``exp(a) - 1``."""
    np.expm1(X, out=X, where=X < 0)


def inplace_softplus(X):
    """Softplus, ``f(a) = log(1 + exp(a))``, computed without overflow."""
    np.logaddexp(0, X, out=X)


def inplace_tanh(X):
    """Hyperbolic tangent."""
    np.tanh(X, out=X)


def inplace_logistic(X):
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


def inplace_identity_derivative(Z, delta):
    """``f'(a) = 1``: ``delta`` is unchanged."""


def inplace_relu_derivative(Z, delta):
    """``f'(a) = 1`` where ``z > 0`` else ``0``."""
    delta[Z <= 0] = 0


def inplace_leaky_relu_derivative(Z, delta):
    """``f'(a) = 1`` where ``z > 0`` else ``0.01``."""
    np.multiply(delta, LEAKY_SLOPE, out=delta, where=Z <= 0)


def inplace_elu_derivative(Z, delta):
    """``f'(a) = 1`` where ``z > 0`` else ``exp(a) = z + 1``."""
    np.multiply(delta, Z + 1, out=delta, where=Z < 0)


def inplace_softplus_derivative(Z, delta):
    """``f'(a) = expit(a) = 1 - exp(-z)``."""
    delta *= -np.expm1(-Z)


def inplace_tanh_derivative(Z, delta):
    """``f'(a) = 1 - z**2``."""
    delta *= 1 - Z**2


def inplace_logistic_derivative(Z, delta):
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

#: Activations whose weights are initialised with He's scaling rather than Glorot's.
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "softplus"})
