"""Reconstruction losses: value, per-sample error and gradient.

The network's last layer produces a raw output ``R`` (a linear layer). Each loss
says how ``R`` becomes a reconstruction ``X_hat`` and how far that is from ``X``:

``squared_error``
    ``X_hat = R``; per-sample error ``e_i = mean_j (X_hat_ij - X_ij)**2``.
``binary_crossentropy``
    ``X_hat = expit(R)`` (``R`` are logits, for data in ``[0, 1]``); per-sample
    error ``e_i = mean_j [softplus(R_ij) - X_ij R_ij]``, which equals
    ``-mean_j [X_ij log X_hat_ij + (1 - X_ij) log(1 - X_hat_ij)]`` and is computed
    from the logits without ever taking ``log(0)``.

The minibatch objective over the ``n`` rows of a batch is
``L = sum_i w_i e_i / n`` (``w_i = 1`` without sample weights). The training
loop scales the weights to average 1 over the whole training set, so ``L`` is an
unbiased estimate of the weighted objective ``sum w e / sum w`` over the training
set, and a batch of zero weights gives 0, not 0/0. ``loss_gradient`` returns
``L`` and overwrites ``R`` with ``dL/dR``:

* squared error: ``dL/dR_ij = 2 w_i (R_ij - X_ij) / (n d)``;
* cross-entropy: ``dL/dR_ij = w_i (expit(R_ij) - X_ij) / (n d)``.

:func:`weighted_mean` (validation loss, ``score``) is the exact weighted mean.
"""

import numpy as np
from scipy.special import expit


def weighted_mean(per_sample, sample_weight=None):
    """Weighted mean of per-sample errors, the quantity the training minimises."""
    if sample_weight is None:
        return float(per_sample.mean())
    return float(np.dot(sample_weight, per_sample) / sample_weight.sum())


def _batch_mean(per_sample, sample_weight):
    """``sum_i w_i e_i / n``: the batch's estimate of the weighted objective."""
    return float(np.dot(sample_weight, per_sample)) / per_sample.shape[0]


def _scale_gradient(G, sample_weight, factor=1.0):
    """Turn per-element residuals into ``factor`` times the gradient of the batch loss."""
    n, d = G.shape
    if sample_weight is not None:
        np.multiply(G, sample_weight[:, None], out=G)
    G *= factor / (n * d)


def squared_error_gradient(R, X, sample_weight, work):
    """Return the batch loss and overwrite ``R`` with ``dL/dR``.

    ``work`` is a scratch buffer of ``R``'s shape (unused here).
    """
    np.subtract(R, X, out=R)
    if sample_weight is None:
        flat = R.reshape(-1)
        loss = float(np.dot(flat, flat)) / R.size
    else:
        loss = _batch_mean(np.einsum("ij,ij->i", R, R) / R.shape[1], sample_weight)
    _scale_gradient(R, sample_weight, factor=2.0)
    return loss


def squared_error_samples(R, X):
    """Per-sample mean squared error of the raw output ``R`` (not modified)."""
    D = R - X
    return np.einsum("ij,ij->i", D, D) / R.shape[1]


def binary_crossentropy_gradient(R, X, sample_weight, work):
    """Return the batch loss and overwrite the logits ``R`` with ``dL/dR``."""
    np.logaddexp(0, R, out=work)
    if sample_weight is None:
        loss = (float(work.sum()) - float(np.vdot(X, R))) / R.size
    else:
        per_sample = (work.sum(axis=1) - np.einsum("ij,ij->i", X, R)) / R.shape[1]
        loss = _batch_mean(per_sample, sample_weight)
    expit(R, out=R)
    R -= X
    _scale_gradient(R, sample_weight)
    return loss


def binary_crossentropy_samples(R, X):
    """Per-sample mean binary cross-entropy of the logits ``R`` (not modified)."""
    return (np.logaddexp(0, R) - X * R).mean(axis=1)


def identity_output(R):
    """Reconstruction from a linear output layer."""
    return R


def logistic_output(R):
    """Reconstruction from logits, in place."""
    return expit(R, out=R)


#: name -> (batch loss and gradient, per-sample error, raw output -> reconstruction)
LOSSES = {
    "squared_error": (squared_error_gradient, squared_error_samples, identity_output),
    "binary_crossentropy": (
        binary_crossentropy_gradient,
        binary_crossentropy_samples,
        logistic_output,
    ),
}

