"""The training objective: a reconstruction loss plus penalty terms, each next to its gradient.

Notation for one minibatch of ``b`` rows: inputs ``X`` (possibly corrupted),
targets ``T`` (the clean rows), raw network output ``R`` (``d`` columns), codes
``C``, and per-row weights ``w_i`` normalised to average 1 over the *training
set* (all 1 without sample weights). Each term is a minibatch mean, so it is an
unbiased estimate of the same term over the training set, and a minibatch
whose weights are all zero contributes 0 (never 0/0).

Reconstruction (``LOSSES``), with per-sample error ``e_i``:

``squared_error``
    ``e_i = 1/d Σ_j (R_ij - T_ij)²``; ``∂/∂R_ij = 2 w_i (R_ij - T_ij) / (b d)``.
    The reconstruction is ``R``.
``binary_crossentropy``
    ``R`` are logits, for data in [0, 1]: ``e_i = 1/d Σ_j softplus(R_ij) - T_ij R_ij``
    (the cross-entropy of ``expit(R)``, computed without ``log(0)``);
    ``∂/∂R_ij = w_i (expit(R_ij) - T_ij) / (b d)``. The reconstruction is ``expit(R)``.

The minibatch loss is ``1/b Σ_i w_i e_i``.

Masked loss (data with missing entries or categorical groups). A row has ``V``
*variables*: its numeric columns and one per categorical group ``G`` (a block of
one-hot columns). ``loss_gradient`` is then given ``mask``, the observed-entries
mask scaled by the training set's constant ``1/ρ`` (see
:class:`~skae._data.BatchSource`): ``m_ij = M_ij/ρ`` with ``M_ij`` 1 for an
observed entry, 0 for a missing one (targets are 0 there), the columns of a
group sharing their group's value ``m_iG``. The reconstruction term is, per
minibatch, ``1/(b V) · Σ_i w_i (Σ_{j numeric} m_ij ℓ_ij + Σ_G m_iG ℓ_iG)``, an
unbiased estimate of ``Σ_i w_i Σ_v M_iv ℓ_iv / Σ_i w_i Σ_v M_iv`` over the
training set (the mean loss over observed entries, weighted by the sample
weights); a fully missing row contributes 0, and the denominator is a constant,
never 0/0. Numeric entries, with ``s = w_i m_ij / (b V)``:

* squared error ``ℓ_ij = (R_ij - T_ij)²``; ``∂/∂R_ij = 2 s (R_ij - T_ij)``;
* binary cross-entropy ``ℓ_ij = softplus(R_ij) - T_ij R_ij``;
  ``∂/∂R_ij = s (expit(R_ij) - T_ij)``.

A categorical group ``G`` (softmax cross-entropy of its logits ``R_iG``, with
``p = softmax(R_iG)``): ``ℓ_iG = logsumexp(R_iG) - Σ_{j∈G} T_ij R_ij`` (minus the
log-probability of the observed category); ``∂/∂R_iG = w_i m_iG (p - T_iG) / (b V)``.
Its reconstruction is the one-hot row of the most probable category. Without
missing entries or groups (``mask`` None) the plain formulas above apply,
computed by the same code as before masks existed. Penalties:

L2 (``alpha``)
    ``α/2 ‖W‖²`` over the stored weight matrices (biases are not penalised; a
    tied matrix counts once); ``∂/∂W = α W``.
Sparse codes (``sparsity``)
    ``s · 1/b Σ_i w_i ‖C_i‖₁``; ``∂/∂C_ik = s w_i sign(C_ik) / b``, added to the
    code layer's pre-activation gradient (the code layer is linear).
Contraction (``contraction``)
    ``κ · 1/b Σ_i w_i ‖J_i v_i‖²`` where ``J_i = ∂C_i/∂X_i`` is the encoder's
    Jacobian at row ``i`` and ``v_i ~ N(0, I)`` a probe drawn afresh for every
    row of every minibatch. Since ``E_v ‖J v‖² = ‖J‖²_F``, this is an unbiased
    estimate of ``κ · 1/b Σ_i w_i ‖J_i‖²_F`` (Rifai et al., 2011) for encoders
    of any depth, at the cost of one extra pass through the encoder. ``J v``
    is pushed forward exactly (a Jacobian-vector product): with ``t_0 = v``,
    ``u_l = t_l W_l`` and ``t_{l+1} = f'_l(A_{l+1}) ⊙ u_l``. Its gradient,
    with ``g = ∂P/∂t_{l+1}``: ``∂P/∂W_l += t_lᵀ (g ⊙ f'_l)``, ``∂P/∂t_l = (g ⊙ f'_l) W_lᵀ``,
    and ``g ⊙ u_l ⊙ f''_l(A_{l+1})`` added to layer ``l``'s pre-activation
    gradient (zero for ReLU-like and linear units). With the mask of missing
    entries appended to the inputs, ``J`` is the derivative with respect to the
    data inputs only: the probe is zero on the mask's columns.
"""

import math

import numpy as np
from scipy.special import entr, expit, log_softmax, logsumexp

from ._activations import DERIVATIVES, SECOND_DERIVATIVES


def _scale_rows(G, weights, factor):
    """``G ← factor · w_i · G_ij`` (``weights`` None means all ones)."""
    if weights is not None:
        np.multiply(G, weights[:, None], out=G)
    G *= factor


def squared_error_gradient(R, T, weights, work):
    """Return the minibatch loss and overwrite ``R`` with its gradient."""
    b, d = R.shape
    np.subtract(R, T, out=R)
    if weights is None:
        flat = R.reshape(-1)
        loss = float(np.dot(flat, flat)) / (b * d)
    else:
        loss = float(np.dot(weights, np.einsum("ij,ij->i", R, R))) / (b * d)
    _scale_rows(R, weights, 2.0 / (b * d))
    return loss


def squared_error_samples(R, T):
    """Per-sample mean squared error of the raw output ``R`` (not modified)."""
    D = R - T
    return np.einsum("ij,ij->i", D, D) / R.shape[1]


def binary_crossentropy_gradient(R, T, weights, work):
    """Return the minibatch loss and overwrite the logits ``R`` with its gradient."""
    b, d = R.shape
    np.logaddexp(0, R, out=work)
    work -= T * R
    if weights is None:
        loss = float(work.sum()) / (b * d)
    else:
        loss = float(np.dot(weights, work.sum(axis=1))) / (b * d)
    expit(R, out=R)
    R -= T
    _scale_rows(R, weights, 1.0 / (b * d))
    return loss


def binary_crossentropy_samples(R, T):
    """Per-sample mean binary cross-entropy of the logits ``R`` (not modified)."""
    return (np.logaddexp(0, R) - T * R).mean(axis=1)


def identity_output(R):
    """Reconstruction from a linear output layer."""
    return R


def logistic_output(R):
    """Reconstruction from logits, in place."""
    return expit(R, out=R)


#: name -> (minibatch loss and gradient, per-sample error, raw output -> reconstruction)
LOSSES = {
    "squared_error": (squared_error_gradient, squared_error_samples, identity_output),
    "binary_crossentropy": (
        binary_crossentropy_gradient,
        binary_crossentropy_samples,
        logistic_output,
    ),
}


def squared_error_entries(R, T):
    """Per-entry squared error of the raw output ``R`` (not modified)."""
    D = R - T
    np.multiply(D, D, out=D)
    return D


def squared_error_masked_gradient(R, T, S, work):
    """``Σ S ⊙ (R - T)²``; overwrite ``R`` with its gradient ``2 S ⊙ (R - T)``.

    ``S`` holds the entries' scaled weights ``w_i m_ij / (b V)``.
    """
    np.subtract(R, T, out=R)
    np.multiply(R, S, out=work)
    loss = float(np.vdot(work, R))
    np.multiply(work, 2.0, out=R)
    return loss


def binary_crossentropy_entries(R, T):
    """Per-entry binary cross-entropy of the logits ``R`` (not modified)."""
    return np.logaddexp(0, R) - T * R


def binary_crossentropy_masked_gradient(R, T, S, work):
    """``Σ S ⊙ (softplus(R) - T R)``; overwrite ``R`` with ``S ⊙ (expit(R) - T)``."""
    np.logaddexp(0, R, out=work)
    work -= T * R
    loss = float(np.vdot(work, S))
    expit(R, out=R)
    R -= T
    R *= S
    return loss


#: name -> (masked minibatch loss and gradient, per-entry error), for numeric columns.
MASKED_LOSSES = {
    "squared_error": (squared_error_masked_gradient, squared_error_entries),
    "binary_crossentropy": (binary_crossentropy_masked_gradient, binary_crossentropy_entries),
}

#: name -> per-entry error terms (a new array); a row's mean is its per-sample error.
FEATURE_ERRORS = {name: entries for name, (_, entries) in MASKED_LOSSES.items()}


def group_crossentropy(Z, T):
    """Softmax cross-entropy of each row of logits ``Z`` against one-hot ``T``."""
    return logsumexp(Z, axis=1) - np.einsum("ij,ij->i", T, Z)


def group_crossentropy_gradient(Z, T, s):
    """``Σ_i s_i ℓ_i`` and its gradient ``s_i (softmax(Z_i) - T_i)`` (a new array)."""
    log_p = log_softmax(Z, axis=1)
    loss = -float(np.dot(s, np.einsum("ij,ij->i", T, log_p)))
    np.exp(log_p, out=log_p)
    log_p -= T
    log_p *= s[:, None]
    return loss, log_p


def one_hot_argmax(Z):
    """One-hot rows of the largest entry of each row of ``Z`` (the first, on ties)."""
    out = np.zeros_like(Z)
    out[np.arange(Z.shape[0]), np.argmax(Z, axis=1)] = 1
    return out


def binary_entropy(T):
    """``H(t) = -t log t - (1-t) log(1-t)`` per entry (0 at 0 and 1), for ``T`` in [0, 1].

    The least binary cross-entropy ``softplus(r) - t r`` any logit ``r`` reaches
    (at ``r = logit(t)``): the part of the loss no reconstruction removes.
    """
    return entr(T) + entr(1.0 - T)


def unit_scaled(weights):
    """``weights`` times the power of two that brings the largest into [0.5, 1).

    For ratios of weighted sums (a weighted mean): a power of two only moves
    exponents, so the ratio is the same bit for bit (barring weights pushed
    below the smallest normal number), while the sums of weights as large as
    scikit-learn accepts times finite values no longer overflow. Weights without
    a finite positive largest one are returned as they are.
    """
    if weights.size == 0:
        return weights
    largest = float(np.max(weights))
    if not (0.0 < largest < np.inf):
        return weights
    return weights * 2.0 ** -math.frexp(largest)[1]


def weighted_mean(values, weights=None):
    """``Σ w v / Σ w`` (the plain mean without weights), as a Python float.

    Values of zero weight do not count, even infinite ones (``0 · inf`` is NaN).
    The weights are :func:`unit_scaled` first.
    """
    if weights is None:
        return float(np.mean(values))
    counted = weights != 0
    if not counted.all():
        values, weights = values[counted], weights[counted]
    weights = unit_scaled(weights)
    return float(np.dot(weights, values) / weights.sum())


class Objective:
    """Minibatch objective and gradient of an autoencoder network.

    Parameters
    ----------
    network : Network
    loss : str
        Key of ``LOSSES``.
    alpha, sparsity, contraction : float, default=0
        Weights of the penalty terms (see the module docstring).
    rng : numpy.random.Generator or None
        Draws the contraction probes; needed only when ``contraction > 0``.
    groups : sequence of sequences of int, default=()
        Column indices of the categorical groups (one-hot blocks) of the output,
        reconstructed by softmax cross-entropy; the other columns use ``loss``.
        Needs the masked path: every minibatch then comes with a mask.
    """

    def __init__(
        self, network, loss, *, alpha=0.0, sparsity=0.0, contraction=0.0, rng=None, groups=()
    ):
        self.network = network
        self.groups = [np.asarray(g, dtype=np.intp) for g in groups]
        n_outputs = network.layer_sizes[-1]
        self.n_variables = n_outputs - sum(g.size - 1 for g in self.groups)
        if self.groups:
            numeric = np.ones(n_outputs, dtype=bool)
            for g in self.groups:
                numeric[g] = False
            self._numeric = numeric.astype(network.dtype)
            self.output = self._output_with_groups
        else:
            self._numeric = None
        self.loss = loss
        self.alpha = float(alpha)
        self.sparsity = float(sparsity)
        self.contraction = float(contraction)
        if self.contraction and rng is None:
            raise ValueError("the contraction penalty needs a random generator")
        self.rng = rng
        self._loss_gradient, self.sample_errors_of_output, plain_output = LOSSES[loss]
        self._masked_gradient, self._entry_errors = MASKED_LOSSES[loss]
        self._plain_output = plain_output
        if not self.groups:
            self.output = plain_output
        self._code = network.n_encoder_layers - 1

    # -- the minibatch step -------------------------------------------------------------
    def loss_gradient(self, inputs, targets, weights, mask=None):
        """Objective on one minibatch; fills ``network.grad``.

        ``inputs`` and ``targets`` are C-contiguous ``(b, n_features)`` arrays
        (the same array without corruption; ``inputs`` are wider when the mask
        is appended to them); ``weights`` are normalised per-row weights or
        None; ``mask`` is None, or the scaled observed-entries mask of the
        masked loss (module docstring), with the missing targets set to 0.
        """
        network = self.network
        ws = network.workspace(inputs.shape[0])
        ws.bind_inputs(inputs)
        network.forward(ws)
        extra = ws.extra.get(self)
        if extra is None:
            extra = ws.extra[self] = self._buffers(ws)
        if mask is None and self._numeric is None:
            value = self._loss_gradient(ws.activations[-1], targets, weights, extra["work"])
        else:
            value = self._masked_reconstruction(ws.activations[-1], targets, weights, mask, extra)
        injections = None
        if self.sparsity:
            value += self._sparsity(ws, weights, extra)
            injections = extra["injections"]
        if self.contraction:
            value += self._contraction_forward_backward(ws, weights, extra)
            injections = extra["injections"]
        network.backward(ws, injections)
        if self.contraction:
            self._contraction_weight_gradients(extra)
        if self.alpha:
            weights_flat = network.params[network.weight_slice]
            network.grad[network.weight_slice] += self.alpha * weights_flat
            value += 0.5 * self.alpha * float(np.dot(weights_flat, weights_flat))
        return value

    def _masked_reconstruction(self, R, T, weights, mask, extra):
        """The masked reconstruction term; overwrites ``R`` with its gradient."""
        if mask is None:
            raise ValueError("categorical groups need the masked loss: pass a mask")
        b = R.shape[0]
        S = extra.get("scaled_mask")
        if S is None:
            S = extra["scaled_mask"] = np.empty_like(R)
        np.multiply(mask, 1.0 / (b * self.n_variables), out=S)
        if weights is not None:
            S *= weights[:, None]
        value = 0.0
        group_gradients = []
        for g in self.groups:
            s = S[:, g[0]]  # the group's weight w_i m_iG / (b V), shared by its columns
            loss, grad = group_crossentropy_gradient(R[:, g], T[:, g], s)
            value += loss
            group_gradients.append(grad)
        if self._numeric is not None:
            S *= self._numeric
        value += self._masked_gradient(R, T, S, extra["work"])
        for g, grad in zip(self.groups, group_gradients, strict=True):
            R[:, g] = grad
        return value

    def _output_with_groups(self, R):
        """Reconstruction: the loss's for numeric columns, one-hot rows for each group."""
        R = self._plain_output(R)
        for g in self.groups:
            R[:, g] = one_hot_argmax(R[:, g])
        return R

    def _buffers(self, ws):
        net = self.network
        b, dtype = ws.batch_size, net.dtype
        extra = {"work": np.empty_like(ws.activations[-1]), "injections": {}}
        if self.sparsity:
            extra["sparsity"] = np.empty((b, net.layer_sizes[self._code + 1]), dtype)
        if self.contraction:
            sizes = net.layer_sizes[: self._code + 2]
            # Tangents t_l, products u_l, and their gradients, per encoder layer.
            extra["t"] = [np.empty((b, s), dtype) for s in sizes]
            extra["u"] = [np.empty((b, s), dtype) for s in sizes[1:]]
            extra["g"] = [np.empty((b, s), dtype) for s in sizes]
            extra["gs"] = [np.empty((b, s), dtype) for s in sizes[1:]]
            extra["h"] = {}
            for layer in range(self._code + 1):
                if SECOND_DERIVATIVES[net.layer_activations[layer]] is not None:
                    extra["h"][layer] = np.empty((b, sizes[layer + 1]), dtype)
                    extra["injections"][layer] = np.zeros((b, sizes[layer + 1]), dtype)
        if self.sparsity:
            # The code layer is linear, so no contraction injection lands there.
            extra["injections"][self._code] = extra["sparsity"]
        return extra

    def _sparsity(self, ws, weights, extra):
        """``s/b Σ w_i ‖C_i‖₁``; its gradient goes to the code layer's injection."""
        codes = ws.activations[self._code + 1]
        b = codes.shape[0]
        grad = extra["sparsity"]
        np.sign(codes, out=grad)
        per_row = np.abs(codes).sum(axis=1)
        value = float(per_row.sum() if weights is None else np.dot(weights, per_row))
        _scale_rows(grad, weights, self.sparsity / b)
        return self.sparsity * value / b

    def _contraction_forward_backward(self, ws, weights, extra):
        """Push probes through the encoder, then their gradient back (see module docstring).

        Leaves ``∂P/∂(pre-activation)`` in the injections and, for
        :meth:`_contraction_weight_gradients`, ``t_l`` and ``g ⊙ f'_l`` per layer.
        """
        net = self.network
        acts = ws.activations
        t, u, g, gs, h = extra["t"], extra["u"], extra["g"], extra["gs"], extra["h"]
        injections = extra["injections"]
        code = self._code
        b = acts[0].shape[0]
        self.rng.standard_normal(dtype=net.dtype, out=t[0])
        n_features = net.layer_sizes[-1]
        if t[0].shape[1] > n_features:  # the mask appended to the inputs is not probed
            t[0][:, n_features:] = 0
        for layer in range(code + 1):
            np.matmul(t[layer], net.coefs[layer], out=u[layer])
            np.copyto(t[layer + 1], u[layer])
            name = net.layer_activations[layer]
            if name != "identity":
                DERIVATIVES[name](acts[layer + 1], t[layer + 1], ws.masks[layer])
        jv = t[code + 1]
        per_row = np.einsum("ij,ij->i", jv, jv)
        value = float(per_row.sum() if weights is None else np.dot(weights, per_row))
        np.copyto(g[code + 1], jv)
        _scale_rows(g[code + 1], weights, 2.0 * self.contraction / b)
        for layer in range(code, -1, -1):
            name = net.layer_activations[layer]
            np.copyto(gs[layer], g[layer + 1])
            if name != "identity":
                DERIVATIVES[name](acts[layer + 1], gs[layer], ws.masks[layer])
            second = SECOND_DERIVATIVES[name]
            if second is not None:
                second(acts[layer + 1], h[layer])
                inj = injections[layer]
                np.multiply(g[layer + 1], u[layer], out=inj)
                inj *= h[layer]
            if layer > 0:
                np.matmul(gs[layer], net.coefs[layer].T, out=g[layer])
        return self.contraction * value / b

    def _contraction_weight_gradients(self, extra):
        """``∂P/∂W_l += t_lᵀ (g ⊙ f'_l)``: the direct part, after the backward pass."""
        net = self.network
        t, gs = extra["t"], extra["gs"]
        for layer in range(self._code + 1):
            net.coef_grads[layer] += t[layer].T @ gs[layer]

    # -- evaluation (allocates) -----------------------------------------------------------
    def sample_errors(self, X, targets=None):
        """Per-sample reconstruction error of dense ``X`` against ``targets`` (default ``X``)."""
        R = self.network.raw_output(X)
        return self.sample_errors_of_output(R, X if targets is None else targets)

    def feature_errors(self, X, targets=None):
        """Per-sample, per-feature error terms of dense ``X``: each row sums to its error."""
        R = self.network.raw_output(X)
        errors = FEATURE_ERRORS[self.loss](R, X if targets is None else targets)
        errors /= R.shape[1]
        return errors

    def observed_errors(self, inputs, targets, observed):
        """Per-row sum of the losses of the observed variables (allocates).

        ``observed`` is the 0/1 mask of :meth:`~skae._data.MissingEntries.fill`
        (a group's columns share its value) and ``targets`` are 0 where it is 0;
        the per-row error over the observed entries is this sum divided by the
        row's number of observed variables.
        """
        R = self.network.raw_output(inputs)
        totals = np.zeros(R.shape[0])
        for g in self.groups:
            totals += observed[:, g[0]] * group_crossentropy(R[:, g], targets[:, g])
        entries = self._entry_errors(R, targets)
        entries *= observed
        if self._numeric is not None:
            entries *= self._numeric
        totals += entries.sum(axis=1)
        return totals
