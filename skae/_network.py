"""The NumPy core: parameter layout, forward and backward passes.

A network maps ``layer_sizes[0]`` inputs through ``len(layer_sizes) - 1``
fully connected layers. Layer ``i`` computes ``A = Z_i @ W_i + b_i`` and
``Z_{i+1} = f_i(A)``. The encoder is the first ``n_encoder_layers`` layers; its
last layer (the code layer) is linear, as is the output layer.

All weights, then all biases, live in one contiguous vector ``params``;
``coefs[i]`` (shape ``(n_in, n_out)``) and ``intercepts[i]`` are views into it.
Gradients use the same layout in ``grad``, so an optimizer updates everything
with whole-vector operations, and the L2 penalty touches one contiguous slice.

Backward pass, for the raw output gradient ``δ_L = dL/dA_L``::

    dL/dW_i = Z_iᵀ δ_i          dL/db_i = 1ᵀ δ_i
    δ_{i-1} = (δ_i W_iᵀ) ⊙ f'_{i-1}(Z_i)

The gradient with respect to the network input is never formed.

Training spends its time in a few dozen NumPy calls per minibatch, so for small
networks the per-call overhead, not the arithmetic, sets the pace. Hence the
:class:`Workspace` of preallocated buffers, a per-workspace plan of the calls'
arguments, and, when the batch's activations outnumber the parameters, biases
folded into the matrix products: every layer input carries an extra column of
ones and is multiplied by ``[W_i; b_i]``, which gives ``A = Z W + b`` in one
product and ``dL/db`` as the last row of ``[Z 1]ᵀ δ``. The ``[W; b]`` blocks are
refreshed from ``params`` before each forward pass and the gradient is copied
back into the flat layout after each backward pass.
"""

import math
from functools import partial

import numpy as np

from ._activations import ACTIVATIONS, DERIVATIVES, RELU_FAMILY
from ._losses import LOSSES


def _split(flat, shapes):
    """Views of ``flat``: one matrix per shape, then one bias vector per layer."""
    coefs, intercepts = [], []
    start = 0
    for shape in shapes:
        stop = start + shape[0] * shape[1]
        coefs.append(flat[start:stop].reshape(shape))
        start = stop
    for shape in shapes:
        stop = start + shape[1]
        intercepts.append(flat[start:stop])
        start = stop
    return coefs, intercepts


class Workspace:
    """Preallocated buffers for one batch size.

    ``inputs`` receives the minibatch; ``activations[i]`` is ``Z_i``
    (``activations[0] is inputs``); ``deltas[i]`` holds ``dL/dA`` for hidden
    layer ``i``; ``scratch`` is spare room of the output's shape; ``ones`` is a
    vector of ones, one per row.

    With ``fold=True`` the biases ride inside the matrix products: the input of
    every layer lives in a buffer with one more column, held at 1, and the layer
    multiplies it by ``[W; b]``. ``activations[i]`` and ``deltas[i]`` are then
    views of those wider buffers (``augmented[i]``, ``wide_deltas[i]``), and the
    activation functions run over the whole contiguous buffer. ``zeros[i]`` (never
    written) and ``masks[i]`` (boolean scratch) have the shape of the buffer
    holding hidden layer ``i``'s output.
    """

    def __init__(self, layer_sizes, batch_size, dtype, fold=False):
        self.batch_size = batch_size
        self.fold = fold
        sizes = list(layer_sizes)
        extra = 1 if fold else 0
        self.inputs = np.empty((batch_size, sizes[0]), dtype=dtype)
        # Wide buffers of the hidden layers' outputs (no extra column unless folded).
        wide = [np.empty((batch_size, size + extra), dtype=dtype) for size in sizes[1:-1]]
        if fold:
            for buf in wide:
                buf[:, -1] = 1
        self.output = np.empty((batch_size, sizes[-1]), dtype=dtype)
        if fold:
            self.augmented = [np.ones((batch_size, sizes[0] + 1), dtype=dtype)] + wide
            self.augmented_inputs = self.augmented[0][:, :-1]
            self.activations = [self.inputs] + [buf[:, :-1] for buf in wide] + [self.output]
        else:
            self.augmented = None
            self.activations = [self.inputs] + wide + [self.output]
        # Zero-filled so that the unused last column of a folded delta stays 0.
        self.wide_deltas = [np.zeros_like(buf) for buf in wide]
        self.deltas = [d[:, :-1] for d in self.wide_deltas] if fold else self.wide_deltas
        self.scratch = np.empty((batch_size, sizes[-1]), dtype=dtype)
        self.ones = np.ones(batch_size, dtype=dtype)
        self.zeros = [np.zeros_like(buf) for buf in wide]
        self.masks = [np.empty(buf.shape, dtype=bool) for buf in wide]
        self._plan = None

    def bind_inputs(self, inputs):
        """Use ``inputs`` (C-contiguous, ``batch_size`` rows) as the minibatch, without copying."""
        self.inputs = self.activations[0] = inputs


#: Up to this many parameters, the folded layout is filled with one ``np.take``.
_GATHER_MAX_PARAMS = 8192


def _copy_pairs(pairs):
    copyto = np.copyto
    for dst, src in pairs:
        copyto(dst, src)


#: Activations with ``f(1) == 1``: folded layers apply them to the whole buffer,
#: ones column included.
_KEEP_ONE = frozenset({"identity", "relu", "leaky_relu", "elu"})


class Network:
    """A fully connected autoencoder over one flat parameter vector.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *encoder_hidden, n_components, *decoder_hidden, n_features)``.
    n_encoder_layers : int
        Number of layers up to and including the code layer.
    activation : str
        Key of ``ACTIVATIONS`` for the hidden layers.
    loss : str
        Key of ``LOSSES``.
    dtype : numpy dtype
        ``float64`` or ``float32``.
    params : ndarray or None
        Flat parameters to use (not copied). Zeros when None.
    """

    def __init__(
        self, layer_sizes, n_encoder_layers, activation, loss, dtype=np.float64, params=None
    ):
        self.layer_sizes = tuple(int(s) for s in layer_sizes)
        self.n_encoder_layers = int(n_encoder_layers)
        self.activation = activation
        self.loss = loss
        self.dtype = np.dtype(dtype)
        n_layers = len(self.layer_sizes) - 1
        self.shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True))
        self.n_weights = sum(a * b for a, b in self.shapes)
        n_params = self.n_weights + sum(self.layer_sizes[1:])
        if params is None:
            params = np.zeros(n_params, dtype=self.dtype)
        elif params.shape != (n_params,) or params.dtype != self.dtype:
            raise ValueError(
                f"params must have shape ({n_params},) and dtype {self.dtype}, "
                f"got {params.shape} and {params.dtype}."
            )
        self.params = params
        self.coefs, self.intercepts = _split(params, self.shapes)
        self.grad = np.zeros_like(params)
        self._coef_grads, self._intercept_grads = _split(self.grad, self.shapes)
        # Output activation of every layer: code and output layers are linear.
        acts = [activation] * n_layers
        acts[self.n_encoder_layers - 1] = "identity"
        acts[-1] = "identity"
        self.layer_activations = acts
        self._forward_fns = [ACTIVATIONS[a] for a in acts]
        self._derivative_fns = [DERIVATIVES[a] for a in acts]
        self._loss_gradient, self._sample_errors, self._output_fn = LOSSES[loss]
        self._workspaces = {}
        self._folded = None

    @property
    def n_layers(self):
        return len(self.shapes)

    def initialize(self, random_state):
        """Draw weights (He-uniform before ReLU-like units, else Glorot-uniform).

        Biases start at zero. ``random_state`` is a ``numpy.random.Generator``.
        """
        for W, act in zip(self.coefs, self.layer_activations, strict=True):
            fan_in, fan_out = W.shape
            if act in RELU_FAMILY:
                bound = math.sqrt(6.0 / fan_in)
            else:
                bound = math.sqrt(6.0 / (fan_in + fan_out))
            W[...] = random_state.uniform(-bound, bound, size=W.shape)
        for b in self.intercepts:
            b[...] = 0.0

    def folds(self, batch_size):
        """Whether minibatches of ``batch_size`` rows fold the biases into the products.

        Folding replaces a bias addition and a bias-gradient product per layer
        (work proportional to the activations) with copying the parameters into
        and the gradient out of the ``[W; b]`` layout (work proportional to the
        parameters): it pays when the batch's activations outnumber the parameters.
        """
        return batch_size * sum(self.layer_sizes[1:]) >= self.params.size

    def workspace(self, batch_size, cached=True):
        """Buffers for batches of ``batch_size`` rows.

        The same object for the same size, unless ``cached=False``: a fresh one,
        for a caller that rebinds its inputs (:meth:`Workspace.bind_inputs`).
        """
        ws = self._workspaces.get(batch_size) if cached else None
        if ws is None:
            ws = Workspace(self.layer_sizes, batch_size, self.dtype, fold=self.folds(batch_size))
            if cached:
                self._workspaces[batch_size] = ws
        return ws

    # -- training -----------------------------------------------------------------------
    def _folded_layout(self):
        """``[W_i; b_i]`` blocks, and the means to fill them from ``params``.

        Returns ``(wide_coefs, wide_coef_grads, coefs_T)``: the ``(n_in + 1, n_out)``
        blocks of the parameters and of the gradient, and contiguous copies of the
        ``W_iᵀ`` (or None). ``self._params_to_wide()`` refreshes the blocks (and the
        ``W_iᵀ``) from ``params``; ``self._grad_from_wide()`` copies the gradient
        blocks into ``grad``.
        """
        if self._folded is not None:
            return self._folded
        shapes = self.shapes
        index = np.arange(self.params.size)
        coef_index, intercept_index = _split(index, shapes)
        # Small networks gather everything in one np.take, including contiguous
        # copies of the W_iᵀ: δ W_iᵀ is up to 1.6x faster with a contiguous right
        # operand. Large ones copy block by block, at memcpy speed.
        gather = self.params.size <= _GATHER_MAX_PARAMS
        sizes = [(a + 1) * b for a, b in shapes] + ([a * b for a, b in shapes] if gather else [])
        offsets = np.cumsum([0, *sizes])
        wide_params = np.empty(offsets[-1], dtype=self.dtype)
        wide_grad = np.empty(offsets[len(shapes)], dtype=self.dtype)
        blocks = [slice(offsets[k], offsets[k + 1]) for k in range(len(sizes))]
        wide_coefs = [wide_params[blocks[i]].reshape(a + 1, b) for i, (a, b) in enumerate(shapes)]
        wide_coef_grads = [
            wide_grad[blocks[i]].reshape(a + 1, b) for i, (a, b) in enumerate(shapes)
        ]
        if gather:
            n = len(shapes)
            coefs_T = [wide_params[blocks[n + i]].reshape(b, a) for i, (a, b) in enumerate(shapes)]
            to_wide = np.concatenate(
                [
                    np.concatenate([c.ravel(), b])
                    for c, b in zip(coef_index, intercept_index, strict=True)
                ]
                + [c.T.ravel() for c in coef_index]
            )
            from_wide = np.empty(self.params.size, dtype=np.intp)
            from_wide[to_wide[: wide_grad.size]] = np.arange(wide_grad.size)
            take = np.take
            self._params_to_wide = partial(
                take, self.params, to_wide, out=wide_params, mode="clip"
            )
            self._grad_from_wide = partial(take, wide_grad, from_wide, out=self.grad, mode="clip")
        else:
            coefs_T = None
            to_pairs, from_pairs = [], []
            for i in range(self.n_layers):
                to_pairs += [
                    (wide_coefs[i][:-1], self.coefs[i]),
                    (wide_coefs[i][-1], self.intercepts[i]),
                ]
                from_pairs += [
                    (self._coef_grads[i], wide_coef_grads[i][:-1]),
                    (self._intercept_grads[i], wide_coef_grads[i][-1]),
                ]
            self._params_to_wide = partial(_copy_pairs, to_pairs)
            self._grad_from_wide = partial(_copy_pairs, from_pairs)
        self._folded = (wide_coefs, wide_coef_grads, coefs_T)
        return self._folded

    def _plan(self, ws):
        """Per-layer argument tuples for :meth:`forward` and :meth:`loss_gradient`.

        Built once per workspace, so that a minibatch step spends its time in
        NumPy rather than in attribute look-ups.
        """
        plan = ws._plan
        if plan is not None and plan[0] is self:
            return plan[1], plan[2]
        L = self.n_layers
        acts = ws.activations
        forward, backward = [], []
        if ws.fold:
            wide_coefs, wide_coef_grads, coefs_T = self._folded_layout()
            wide = ws.augmented
            for i in range(L):
                act = self.layer_activations[i]
                fn = None if act == "identity" else self._forward_fns[i]
                if i < L - 1:
                    out, full = acts[i + 1], wide[i + 1]
                    target, zeros = (
                        (full, ws.zeros[i]) if act in _KEEP_ONE else (out, ws.zeros[i][:, :-1])
                    )
                else:
                    out, target, zeros = acts[i + 1], acts[i + 1], None
                forward.append((wide[i], wide_coefs[i], out, target, fn, zeros))
                back = None
                if i > 0:
                    prev_act = self.layer_activations[i - 1]
                    dfn = None if prev_act == "identity" else self._derivative_fns[i - 1]
                    back = (
                        wide_coefs[i][:-1].T if coefs_T is None else coefs_T[i],
                        ws.deltas[i - 1],
                        wide[i],
                        ws.wide_deltas[i - 1],
                        dfn,
                        ws.masks[i - 1],
                    )
                backward.append((wide[i].T, wide_coef_grads[i], back))
        else:
            for i in range(L):
                act = self.layer_activations[i]
                fn = None if act == "identity" else self._forward_fns[i]
                zeros = ws.zeros[i] if i < L - 1 else None
                forward.append((self.coefs[i], self.intercepts[i], acts[i + 1], fn, zeros))
                back = None
                if i > 0:
                    prev_act = self.layer_activations[i - 1]
                    dfn = None if prev_act == "identity" else self._derivative_fns[i - 1]
                    back = (acts[i], ws.deltas[i - 1], self.coefs[i].T, dfn, ws.masks[i - 1])
                backward.append((self._coef_grads[i], self._intercept_grads[i], back))
        backward.reverse()
        ws._plan = (self, forward, backward)
        return forward, backward

    def forward(self, ws, stop=None):
        """Propagate ``ws.inputs`` through layers ``[0, stop)`` into ``ws.activations``."""
        plan, _ = self._plan(ws)
        if stop is not None:
            plan = plan[:stop]
        matmul = np.matmul
        if ws.fold:
            self._params_to_wide()
            np.copyto(ws.augmented_inputs, ws.activations[0])
            out = ws.activations[0]
            for Z, W, out, target, fn, zeros in plan:
                matmul(Z, W, out=out)
                if fn is not None:
                    fn(target, zeros)
            return out
        add = np.add
        Z = ws.activations[0]
        for W, b, out, fn, zeros in plan:
            matmul(Z, W, out=out)
            add(out, b, out=out)
            if fn is not None:
                fn(out, zeros)
            Z = out
        return Z

    def loss_gradient(self, ws, sample_weight=None, alpha=0.0):
        """Forward and backward pass on ``ws.inputs``; fill ``self.grad``.

        Returns the objective: the weighted mean reconstruction error plus
        ``alpha / 2 · ‖W‖²`` over all weight matrices (biases are not penalised).
        """
        _, backward = self._plan(ws)
        delta = self.forward(ws)
        inputs = ws.activations[0]
        loss = self._loss_gradient(delta, inputs, sample_weight, ws.scratch)
        matmul = np.matmul
        if ws.fold:
            for Z_T, coef_grad, back in backward:
                matmul(Z_T, delta, out=coef_grad)
                if back is None:
                    break
                coef_T, prev, Z, wide_prev, dfn, mask = back
                matmul(delta, coef_T, out=prev)
                if dfn is not None:
                    dfn(Z, wide_prev, mask)
                delta = prev
            self._grad_from_wide()
        else:
            ones = ws.ones
            for coef_grad, intercept_grad, back in backward:
                if back is None:
                    matmul(inputs.T, delta, out=coef_grad)
                    matmul(ones, delta, out=intercept_grad)
                    break
                Z, prev, coef_T, dfn, mask = back
                matmul(Z.T, delta, out=coef_grad)
                matmul(ones, delta, out=intercept_grad)
                matmul(delta, coef_T, out=prev)
                if dfn is not None:
                    dfn(Z, prev, mask)
                delta = prev
        if alpha:
            weights = self.params[: self.n_weights]
            self.grad[: self.n_weights] += alpha * weights
            loss += 0.5 * alpha * float(np.dot(weights, weights))
        return loss

    # -- inference (allocates its outputs) ------------------------------------------------
    def _propagate(self, Z, start, stop):
        for i in range(start, stop):
            Z = Z @ self.coefs[i]
            Z += self.intercepts[i]
            self._forward_fns[i](Z)
        return Z

    def encode(self, X):
        """Codes of ``X`` (dense or sparse rows): the code layer's output."""
        return self._propagate(X, 0, self.n_encoder_layers)

    def decode_raw(self, codes):
        """Raw output (before the loss's output function) for ``codes``."""
        return self._propagate(codes, self.n_encoder_layers, self.n_layers)

    def decode(self, codes):
        """Reconstruction of ``codes`` in feature space."""
        return self._output_fn(self.decode_raw(codes))

    def sample_errors(self, X):
        """Per-sample reconstruction error of dense ``X``."""
        return self._sample_errors(self.decode_raw(self.encode(X)), X)

    def batch_errors(self, ws):
        """Per-sample reconstruction error of ``ws.inputs`` (uses the buffers)."""
        return self._sample_errors(self.forward(ws), ws.inputs)
