"""The network: fully connected layers over one flat parameter vector.

A network maps ``layer_sizes[0]`` inputs through ``L = len(layer_sizes) - 1``
layers. Layer ``i`` computes ``A_{i+1} = Z_i W_i + b_i`` and
``Z_{i+1} = f_i(A_{i+1})``. The encoder is the first ``n_encoder_layers``
layers; its last layer (the code layer) is linear, and so is the output layer.

Parameters live in one flat vector (:class:`~skae._params.Layout`): all stored
weight matrices, then all biases, so the L2 penalty touches one slice. With
``tied=True`` decoder layer ``k`` uses the transpose of its mirror encoder
layer ``L-1-k``'s matrix and stores no weights of its own (its bias is its own).

Backward pass, given ``δ_{L-1} = ∂J/∂A_L`` (the loss gradient) and optional
*injections* ``H_i`` (penalty gradients with respect to a pre-activation)::

    ∂J/∂W_i = Z_iᵀ δ_i          ∂J/∂b_i = 1ᵀ δ_i
    δ_{i-1} = (δ_i W_iᵀ) ⊙ f'_{i-1}(Z_i) + H_{i-1}

A tied matrix receives the sum of both uses: ``δ_kᵀ Z_k`` from the decoder
layer (already in the encoder's layout) plus ``Z_jᵀ δ_j`` from the encoder. The
gradient with respect to the network input is never formed.

Training spends its time in a few dozen NumPy calls per minibatch, so every
buffer is preallocated in a :class:`Workspace` and the calls' arguments are
planned once per workspace.
"""

import functools

import numpy as np

from ._activations import ACTIVATIONS, DERIVATIVES, RELU_FAMILY
from ._params import INITS, Layout, lecun_init, uniform_init


class Workspace:
    """Preallocated buffers for minibatches of ``batch_size`` rows.

    ``activations[i]`` is ``Z_i`` (``activations[0]`` is the minibatch, bound
    with :meth:`bind_inputs`; ``activations[-1]`` the raw output, which the loss
    overwrites with ``δ_{L-1}``); ``deltas[i]`` holds ``δ_i`` for the hidden
    layers; ``zeros[i]`` (never written) and ``masks[i]`` (boolean scratch) have
    the shape of hidden layer ``i``'s output; ``ones`` is a vector of ones.
    """

    def __init__(self, layer_sizes, batch_size, dtype):
        self.batch_size = batch_size
        sizes = list(layer_sizes)
        hidden = [np.empty((batch_size, s), dtype=dtype) for s in sizes[1:-1]]
        # The minibatch itself is bound before each pass (no copy): see bind_inputs.
        self.activations = [None, *hidden, np.empty((batch_size, sizes[-1]), dtype)]
        self.deltas = [np.empty_like(h) for h in hidden]
        self.zeros = [np.zeros_like(h) for h in hidden]
        self.masks = [np.empty(h.shape, dtype=bool) for h in hidden]
        self.ones = np.ones(batch_size, dtype=dtype)
        self.extra = {}  # buffers of the objective's terms, keyed by their owner
        self.plan = None

    def bind_inputs(self, inputs):
        """Use ``inputs`` (``batch_size`` rows) as the minibatch, without copying."""
        self.activations[0] = inputs


class Network:
    """A fully connected autoencoder over one flat parameter vector.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *encoder_hidden, n_components, *decoder_hidden, n_outputs)``.
    n_encoder_layers : int
        Number of layers up to and including the code layer.
    activation : str
        Key of ``ACTIVATIONS`` for the hidden layers.
    tied : bool, default=False
        Decoder layers use the transposed weights of their mirror encoder layers;
        needs a mirrored architecture.
    dtype : numpy dtype, default=float64
    params : ndarray or None
        Flat parameters to use (not copied). Zeros when None.
    grad : ndarray or None
        Flat gradient buffer to use (not copied), e.g. a view of a larger
        model's gradient. When None, a buffer of zeros, allocated the first time
        :attr:`grad` is read (inference never reads it).
    """

    def __init__(
        self, layer_sizes, n_encoder_layers, activation, *, tied=False, dtype=np.float64,
        params=None, grad=None,
    ):
        self.layer_sizes = tuple(int(s) for s in layer_sizes)
        self.n_encoder_layers = int(n_encoder_layers)
        self.activation = activation
        self.tied = bool(tied)
        self.dtype = np.dtype(dtype)
        self.shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True))
        L = len(self.shapes)
        self.tied_to = {}
        if self.tied:
            if 2 * self.n_encoder_layers != L or any(
                self.shapes[k] != self.shapes[L - 1 - k][::-1] for k in range(L)
            ):
                raise ValueError(
                    "tied weights need a mirrored decoder (decoder_layer_sizes=None and "
                    f"as many outputs as inputs); got layer sizes {self.layer_sizes}."
                )
            self.tied_to = {k: L - 1 - k for k in range(self.n_encoder_layers, L)}
        stored = [i for i in range(L) if i not in self.tied_to]
        self.layout = Layout(
            [(f"W{i}", self.shapes[i]) for i in stored]
            + [(f"b{i}", (self.shapes[i][1],)) for i in range(L)]
        )
        for k, j in self.tied_to.items():
            self.layout.tie(f"W{k}", f"W{j}")
        self.weight_slice = self.layout.span([f"W{i}" for i in stored])
        if params is None:
            params = np.zeros(self.layout.size, dtype=self.dtype)
        elif params.shape != (self.layout.size,) or params.dtype != self.dtype:
            raise ValueError(
                f"params must have shape ({self.layout.size},) and dtype {self.dtype}, "
                f"got {params.shape} and {params.dtype}."
            )
        self.params = params
        if grad is not None and (grad.shape != params.shape or grad.dtype != self.dtype):
            raise ValueError(
                f"grad must have shape ({self.layout.size},) and dtype {self.dtype}, "
                f"got {grad.shape} and {grad.dtype}."
            )
        self._grad = grad
        views = self.layout.views(params)
        self.coefs = [views[f"W{i}"] for i in range(L)]
        self.intercepts = [views[f"b{i}"] for i in range(L)]
        acts = [activation] * L
        acts[self.n_encoder_layers - 1] = "identity"
        acts[-1] = "identity"
        self.layer_activations = acts
        self._forward_fns = [ACTIVATIONS[a] for a in acts]
        self._derivative_fns = [DERIVATIVES[a] for a in acts]
        self._workspaces = {}

    # The gradient and its blocks exist from their first use on: inference, which
    # builds a network per call, never needs them.
    @property
    def grad(self):
        """The flat gradient, laid out as ``params`` (zeros when first read)."""
        if self._grad is None:
            self._grad = np.zeros_like(self.params)
        return self._grad

    @functools.cached_property
    def coef_grads(self):
        """The weights' gradient blocks, as stored (a tied layer's is its source's)."""
        grads = self.layout.views(self.grad)
        return [grads[f"W{self.tied_to.get(i, i)}"] for i in range(self.n_layers)]

    @functools.cached_property
    def intercept_grads(self):
        """The biases' gradient blocks."""
        grads = self.layout.views(self.grad)
        return [grads[f"b{i}"] for i in range(self.n_layers)]

    @functools.cached_property
    def _tied_scratch(self):
        # Tied encoder layers add their part to a gradient block already written.
        return {j: np.empty(self.shapes[j], self.dtype) for j in self.tied_to.values()}

    @property
    def n_layers(self):
        return len(self.shapes)

    @property
    def n_weights(self):
        """Number of stored weight parameters (tied matrices counted once)."""
        return self.weight_slice.stop - self.weight_slice.start

    def initialize(self, rng, scheme="he"):
        """Draw the parameters; ``rng`` is a ``numpy.random.Generator``.

        ``scheme="he"``: weights He-uniform before ReLU-like units, else
        Glorot-uniform, biases zero. ``scheme="lecun"``: weights LeCun-uniform,
        biases ``U(±1/√fan_in)`` (:func:`~skae._params.lecun_init`). Tied decoder
        layers have no weights of their own (their biases are drawn likewise).
        """
        if scheme not in INITS:
            raise ValueError(f"unknown initialisation {scheme!r}")
        for i, (W, b, act) in enumerate(
            zip(self.coefs, self.intercepts, self.layer_activations, strict=True)
        ):
            if scheme == "lecun":
                lecun_init(rng, W, b, weights=i not in self.tied_to)
            else:
                if i not in self.tied_to:
                    uniform_init(rng, W, he=act in RELU_FAMILY)
                b[...] = 0.0

    def workspace(self, batch_size):
        """Buffers for minibatches of ``batch_size`` rows (one per size, cached)."""
        ws = self._workspaces.get(batch_size)
        if ws is None:
            ws = self._workspaces[batch_size] = Workspace(
                self.layer_sizes, batch_size, self.dtype
            )
        return ws

    # -- training -------------------------------------------------------------------------
    def _plan(self, ws):
        """Per-layer argument tuples of :meth:`forward` and :meth:`backward`, built once."""
        if ws.plan is not None:
            return ws.plan
        L = self.n_layers
        forward = []
        for i in range(L):
            fn = None if self.layer_activations[i] == "identity" else self._forward_fns[i]
            zeros = ws.zeros[i] if i < L - 1 else None
            forward.append((self.coefs[i], self.intercepts[i], i + 1, fn, zeros))
        backward = []
        written = set()
        for i in reversed(range(L)):
            source = self.tied_to.get(i, i)
            if i in self.tied_to:
                mode = 1  # δᵀ Z, straight into the source's layout
            elif source in written:
                mode = 2  # Zᵀ δ added to what the tied decoder layer wrote
            else:
                mode = 0  # Zᵀ δ
            written.add(source)
            prev = None
            if i > 0:
                dfn = None if self.layer_activations[i - 1] == "identity" else (
                    self._derivative_fns[i - 1]
                )
                prev = (ws.deltas[i - 1], self.coefs[i].T, dfn, ws.masks[i - 1], i - 1)
            backward.append(
                (i, mode, self.coef_grads[i], self.intercept_grads[i],
                 self._tied_scratch.get(source), prev)
            )
        ws.plan = (forward, backward)
        return ws.plan

    def forward(self, ws, stop=None):
        """Propagate ``ws.activations[0]`` through layers ``[0, stop)``; return the last."""
        forward, _ = self._plan(ws)
        acts = ws.activations
        matmul, add = np.matmul, np.add
        Z = acts[0]
        for W, b, k, fn, zeros in forward if stop is None else forward[:stop]:
            out = acts[k]
            matmul(Z, W, out=out)
            add(out, b, out=out)
            if fn is not None:
                fn(out, zeros)
            Z = out
        return Z

    def backward(self, ws, injections=None):
        """Fill ``self.grad`` from ``δ_{L-1}``, which the loss left in ``ws.activations[-1]``.

        ``injections`` maps a layer index ``i`` to an array added to ``δ_i``
        (after the activation's derivative), for penalties on hidden units or
        codes. Its gradient blocks are overwritten, not accumulated.
        """
        _, backward = self._plan(ws)
        acts = ws.activations
        matmul = np.matmul
        ones = ws.ones
        delta = acts[-1]
        for i, mode, coef_grad, intercept_grad, scratch, prev in backward:
            Z = acts[i]
            if mode == 0:
                matmul(Z.T, delta, out=coef_grad)
            elif mode == 1:
                matmul(delta.T, Z, out=coef_grad)
            else:
                matmul(Z.T, delta, out=scratch)
                coef_grad += scratch
            matmul(ones, delta, out=intercept_grad)
            if prev is None:
                break
            out, W_T, dfn, mask, j = prev
            matmul(delta, W_T, out=out)
            if dfn is not None:
                dfn(acts[i], out, mask)
            if injections is not None:
                extra = injections.get(j)
                if extra is not None:
                    out += extra
            delta = out

    def input_gradient(self, ws, out):
        """Write ``∂J/∂Z_0 = δ_0 W_0ᵀ`` into ``out``, after :meth:`backward` on ``ws``.

        For a network fed by another one (a decoder fed by sampled codes):
        :meth:`backward` itself never forms the gradient with respect to its input.
        """
        delta = ws.activations[-1] if self.n_layers == 1 else ws.deltas[0]
        return np.matmul(delta, self.coefs[0].T, out=out)

    # -- inference (allocates its outputs) --------------------------------------------------
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
        """The output layer's raw output for ``codes``."""
        return self._propagate(codes, self.n_encoder_layers, self.n_layers)

    def raw_output(self, X):
        """The output layer's raw output for inputs ``X``."""
        return self.decode_raw(self.encode(X))
