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
"""

import math

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
    layer ``i``; ``scratch`` is spare room of the output's shape.
    """

    def __init__(self, layer_sizes, batch_size, dtype):
        self.batch_size = batch_size
        self.inputs = np.empty((batch_size, layer_sizes[0]), dtype=dtype)
        self.activations = [self.inputs] + [
            np.empty((batch_size, size), dtype=dtype) for size in layer_sizes[1:]
        ]
        self.deltas = [np.empty((batch_size, size), dtype=dtype) for size in layer_sizes[1:-1]]
        self.scratch = np.empty((batch_size, layer_sizes[-1]), dtype=dtype)
        self.ones = np.ones(batch_size, dtype=dtype)


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

    @property
    def n_layers(self):
        return len(self.shapes)

    def initialize(self, random_state):
        """Draw weights (He-uniform before ReLU-like units, else Glorot-uniform).

        Biases start at zero. ``random_state`` is a ``numpy.random.RandomState``.
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

    def workspace(self, batch_size):
        """The (cached) buffers for batches of ``batch_size`` rows."""
        ws = self._workspaces.get(batch_size)
        if ws is None:
            ws = self._workspaces[batch_size] = Workspace(self.layer_sizes, batch_size, self.dtype)
        return ws

    # -- training -----------------------------------------------------------------------
    def forward(self, ws, stop=None):
        """Propagate ``ws.inputs`` through layers ``[0, stop)`` into ``ws.activations``."""
        acts = ws.activations
        stop = self.n_layers if stop is None else stop
        for i in range(stop):
            out = acts[i + 1]
            np.matmul(acts[i], self.coefs[i], out=out)
            out += self.intercepts[i]
            self._forward_fns[i](out)
        return acts[stop]

    def loss_gradient(self, ws, sample_weight=None, alpha=0.0):
        """Forward and backward pass on ``ws.inputs``; fill ``self.grad``.

        Returns the objective: the weighted mean reconstruction error plus
        ``alpha / 2 · ‖W‖²`` over all weight matrices (biases are not penalised).
        """
        self.forward(ws)
        acts = ws.activations
        delta = acts[-1]
        loss = self._loss_gradient(delta, ws.inputs, sample_weight, ws.scratch)
        for i in range(self.n_layers - 1, -1, -1):
            np.matmul(acts[i].T, delta, out=self._coef_grads[i])
            np.matmul(ws.ones, delta, out=self._intercept_grads[i])
            if i > 0:
                prev = ws.deltas[i - 1]
                np.matmul(delta, self.coefs[i].T, out=prev)
                self._derivative_fns[i - 1](acts[i], prev)
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
