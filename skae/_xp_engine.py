"""The network, objective, Adam and training loop on any Array API namespace.

The same maths as :mod:`skae._model`, :mod:`skae._objectives`, :mod:`skae._optim`
and :mod:`skae._training`, written with standard functions (``@``,
``xp.where``, ``xp.tanh``, ...) and no ``out=``: every step makes new arrays
instead of writing into preallocated ones, which is what an accelerator's
caching allocator is good at. On PyTorch, the training step takes a few fused
operations instead (:class:`TorchKernels`), and writes its gradient into one
buffer: the same formulas in fewer kernel launches, which is what a small
network's step on a GPU spends its time on. The flat parameter vector and its
layout are those of the NumPy engine (:class:`~skae._model.Network` gives the
layout), so a model fitted here is the model the NumPy engine would fit, up to
floating-point roundoff, and its parameters move between engines unchanged.

Random numbers (initialisation, the order of each epoch, the validation split)
are drawn by NumPy on the host and moved to the device: the same seed gives the
same model on every backend.

The loop synchronises with the host once per epoch: the minibatch losses stay
on the device and come back together with the finiteness of the parameters and
the validation loss, in one transfer. A non-finite minibatch loss is still
reported with its epoch and minibatch (:func:`~skae._training.diverged`); the
parameters past it are discarded with the failed fit.
"""

import math
import time

from . import _optim
from ._activations import LEAKY_SLOPE
from ._objectives import unit_scaled
from ._optim import MOMENT_FORM_THRESHOLD
from ._training import PlateauRule, TrainingResult, _counts, _restore_counts, diverged
from ._xp import namespace_name


def _softplus(xp, A):
    """``log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|))``, without overflow."""
    return xp.where(A < 0, 0.0, A) + xp.log1p(xp.exp(-xp.abs(A)))


def _expit(xp, A):
    """``1 / (1 + exp(-a))``: ``exp`` may overflow to inf, the result never to NaN."""
    return 1.0 / (1.0 + xp.exp(-A))


#: name -> f(xp, A): the activation, computed into a new array.
ACTIVATIONS = {
    "identity": lambda xp, A: A,
    # where(a < 0, 0, a) rather than maximum(a, 0): NaN stays NaN, and not every
    # namespace's maximum takes a Python scalar.
    "relu": lambda xp, A: xp.where(A < 0, 0.0, A),
    "leaky_relu": lambda xp, A: xp.maximum(A, LEAKY_SLOPE * A),
    "elu": lambda xp, A: xp.where(A < 0, xp.expm1(A), A),
    "softplus": _softplus,
    "tanh": lambda xp, A: xp.tanh(A),
    "logistic": _expit,
}

#: name -> f'(xp, Z, delta): ``delta ⊙ f'(a)`` in terms of the output ``Z = f(A)``.
DERIVATIVES = {
    "identity": lambda xp, Z, delta: delta,
    "relu": lambda xp, Z, delta: xp.where(Z > 0, delta, 0.0),
    "leaky_relu": lambda xp, Z, delta: xp.where(Z <= 0, delta * LEAKY_SLOPE, delta),
    "elu": lambda xp, Z, delta: xp.where(Z < 0, delta * (Z + 1), delta),
    "softplus": lambda xp, Z, delta: delta * -xp.expm1(-Z),
    "tanh": lambda xp, Z, delta: delta * (1 - Z**2),
    "logistic": lambda xp, Z, delta: (delta * Z) * (1 - Z),
}


def _row_sums(xp, E, weights):
    """``Σ_ij E_ij`` or, with per-row weights, ``Σ_i w_i Σ_j E_ij`` (a 0-d array)."""
    if weights is None:
        return xp.sum(E)
    return xp.sum(weights * xp.sum(E, axis=1))


def _scale_rows(G, weights, factor):
    """``factor · w_i · G_ij`` (``weights`` None means all ones)."""
    if weights is not None:
        G = G * weights[:, None]
    return G * factor


def squared_error_gradient(xp, R, T, weights):
    """Minibatch loss (0-d array) and its gradient with respect to the raw output ``R``."""
    b, d = R.shape
    D = R - T
    loss = _row_sums(xp, D * D, weights) / (b * d)
    return loss, _scale_rows(D, weights, 2.0 / (b * d))


def squared_error_samples(xp, R, T):
    """Per-sample mean squared error."""
    D = R - T
    return xp.mean(D * D, axis=1)


def binary_crossentropy_gradient(xp, R, T, weights):
    """Minibatch loss (0-d array) and its gradient with respect to the logits ``R``."""
    b, d = R.shape
    loss = _row_sums(xp, _softplus(xp, R) - T * R, weights) / (b * d)
    return loss, _scale_rows(_expit(xp, R) - T, weights, 1.0 / (b * d))


def binary_crossentropy_samples(xp, R, T):
    """Per-sample mean binary cross-entropy of the logits ``R``."""
    return xp.mean(_softplus(xp, R) - T * R, axis=1)


#: name -> (minibatch loss and gradient, per-sample error, raw output -> reconstruction)
LOSSES = {
    "squared_error": (squared_error_gradient, squared_error_samples, lambda xp, R: R),
    "binary_crossentropy": (
        binary_crossentropy_gradient,
        binary_crossentropy_samples,
        _expit,
    ),
}



class TorchKernels:
    """The training step's fused PyTorch operations: one kernel where two or three were.

    A minibatch of a small network is too little work for an accelerator to be
    busy: a step's time is the host's, launching kernels. On PyTorch the step
    therefore uses ``addmm`` for a layer's ``Z @ W + b``, ``relu`` and its
    ``threshold_backward``, ``elu`` and its ``elu_backward`` (from the output,
    as the standard derivative), ``mse_loss``, ``lerp`` for Adam's moments and
    ``addcdiv`` for its update, and writes the gradient's blocks straight into
    one flat array (no concatenation): the same formulas as the standard
    functions', in fewer launches (measured with ``benchmarks/gpu.py``'s
    networks on an H200: 1.3–1.7× as many steps per second). Every other
    namespace takes the standard functions; on PyTorch, so do the activations
    other than ReLU and ELU (their derivatives too), the weighted loss, and the
    backward pass of a network with tied weights.
    """

    def __init__(self, torch):
        self.torch = torch
        self.threshold_backward = torch.ops.aten.threshold_backward
        self.elu_backward = torch.ops.aten.elu_backward

    @classmethod
    def of(cls, xp):
        """The kernels for namespace ``xp``, or None where it is not PyTorch's."""
        if namespace_name(xp) != "torch":
            return None
        import torch

        return cls(torch)

    def linear(self, Z, W, b):
        return self.torch.addmm(b, Z, W)

    def activation(self, name):
        """``f(xp, A)`` of a fused activation, or None."""
        if name == "relu":
            return lambda xp, A: self.torch.relu(A)
        if name == "elu":
            return lambda xp, A: self.torch.nn.functional.elu(A)
        return None

    def derivative(self, name):
        """``f'(xp, Z, delta)`` of a fused activation, or None."""
        if name == "relu":
            return lambda xp, Z, delta: self.threshold_backward(delta, Z, 0)
        if name == "elu":
            # delta (z + 1) where z <= 0 (z + 1 = exp(a)), else delta: from the output.
            return lambda xp, Z, delta: self.elu_backward(delta, 1.0, 1.0, 1.0, True, Z)
        return None


class ArrayNetwork:
    """A :class:`~skae._model.Network`'s maths on arrays of namespace ``xp``.

    Parameters
    ----------
    network : Network
        The NumPy network whose layout, activations and ties are used (its own
        parameters are not).
    xp : namespace
    """

    def __init__(self, network, xp):
        self.xp = xp
        self.layout = network.layout
        self.n_layers = network.n_layers
        self.n_encoder_layers = network.n_encoder_layers
        self.layer_activations = network.layer_activations
        self.tied_to = dict(network.tied_to)
        self.weight_slice = network.weight_slice
        # The stored blocks in layout order, for concatenating the gradient.
        self._stored = sorted(self.layout.slices, key=lambda n: self.layout.slices[n].start)
        self.kernels = TorchKernels.of(xp)
        k = self.kernels
        self._forward = [
            (k and k.activation(a)) or ACTIVATIONS[a] for a in self.layer_activations
        ]
        self._derivative = [
            (k and k.derivative(a)) or DERIVATIVES[a] for a in self.layer_activations
        ]
        self._linear = (lambda Z, W, b: Z @ W + b) if k is None else k.linear
        # PyTorch, weights not tied: per-layer views by one split of the flat vector (the
        # stored blocks' sizes, and each layer's block and shape); the gradient's buffer.
        layout = self.layout
        self._fused = k is not None and not self.tied_to
        self._sizes = [layout.slices[n].stop - layout.slices[n].start for n in self._stored]
        index = {name: j for j, name in enumerate(self._stored)}
        self._blocks = None if not self._fused else [
            [(index[f"{kind}{i}"], layout.shapes[f"{kind}{i}"]) for i in range(self.n_layers)]
            for kind in ("W", "b")
        ]
        self._grad_buffer = None

    def _split(self, flat):
        """``(coefs, intercepts)``: views of PyTorch's ``flat`` by one split (not tied)."""
        blocks = flat.split(self._sizes)
        return tuple([blocks[j].view(shape) for j, shape in kind] for kind in self._blocks)

    def views(self, params):
        """``(coefs, intercepts)``: per-layer views of the flat ``params``."""
        if self._fused:
            return self._split(params)
        xp, layout = self.xp, self.layout
        blocks = {
            name: xp.reshape(params[s], layout.shapes[name]) for name, s in layout.slices.items()
        }
        for name, source in layout.ties.items():
            blocks[name] = blocks[source].T
        L = self.n_layers
        return [blocks[f"W{i}"] for i in range(L)], [blocks[f"b{i}"] for i in range(L)]

    def forward(self, coefs, intercepts, X):
        """Layer outputs ``[Z_0 = X, Z_1, ..., Z_L]`` for the per-layer views of the parameters."""
        xp = self.xp
        Z = [X]
        for i in range(self.n_layers):
            Z.append(self._forward[i](xp, self._linear(Z[-1], coefs[i], intercepts[i])))
        return Z

    def propagate(self, params, Z, start, stop):
        """The output of layers ``[start, stop)`` for the input ``Z`` of layer ``start``."""
        coefs, intercepts = self.views(params)
        for i in range(start, stop):
            Z = self._forward[i](self.xp, self._linear(Z, coefs[i], intercepts[i]))
        return Z

    def backward(self, coefs, Z, delta, injections=None, alpha=0.0):
        """The flat gradient, from the layer outputs ``Z`` and ``δ_{L-1} = ∂J/∂A_L``.

        ``injections`` maps a layer index to an array added to its ``δ`` (after the
        activation's derivative), as in :meth:`skae._model.Network.backward`;
        ``alpha`` adds the L2 penalty's gradient ``α W`` to the stored matrices.
        On PyTorch (weights not tied) the gradient returned is the network's own
        buffer, which the next call overwrites: use it before asking for the next.
        """
        if self._fused:
            return self._backward_into(coefs, Z, delta, injections, alpha)
        xp = self.xp
        grads = {}
        for i in reversed(range(self.n_layers)):
            if i in self.tied_to:
                # δᵀ Z, in the layout of the encoder matrix it shares
                name, g = f"W{self.tied_to[i]}", delta.T @ Z[i]
            else:
                name, g = f"W{i}", Z[i].T @ delta
            grads[name] = grads[name] + g if name in grads else g
            grads[f"b{i}"] = xp.sum(delta, axis=0)
            if i == 0:
                break
            delta = self._derivative[i - 1](xp, Z[i], delta @ coefs[i].T)
            if injections is not None and (i - 1) in injections:
                delta = delta + injections[i - 1]
        if alpha:
            for i in range(self.n_layers):
                if i not in self.tied_to:
                    grads[f"W{i}"] = grads[f"W{i}"] + alpha * coefs[i]
        return xp.concat([xp.reshape(grads[name], (-1,)) for name in self._stored])

    def _backward_into(self, coefs, Z, delta, injections, alpha):
        """:meth:`backward` on PyTorch, each block written into one flat buffer.

        The buffer is the network's, reused by the next call: the training step
        consumes the gradient before it asks for the next one.
        """
        torch = self.kernels.torch
        key = (delta.dtype, delta.device)
        if self._grad_buffer is None or self._grad_buffer[0] != key:
            grad = torch.empty(self.layout.size, dtype=delta.dtype, device=delta.device)
            self._grad_buffer = (key, grad, *self._split(grad))
        _, grad, g_coefs, g_intercepts = self._grad_buffer
        for i in reversed(range(self.n_layers)):
            torch.mm(Z[i].T, delta, out=g_coefs[i])
            if alpha:
                g_coefs[i].add_(coefs[i], alpha=alpha)
            torch.sum(delta, dim=0, out=g_intercepts[i])
            if i == 0:
                break
            delta = self._derivative[i - 1](self.xp, Z[i], delta @ coefs[i].T)
            if injections is not None and (i - 1) in injections:
                delta = delta + injections[i - 1]
        return grad


class ArrayObjective:
    """Minibatch objective and gradient of an :class:`ArrayNetwork`.

    The reconstruction loss, the L2 penalty ``alpha`` and the sparse-code penalty
    ``sparsity``, as in :class:`skae._objectives.Objective`.
    """

    def __init__(self, network, loss, *, alpha=0.0, sparsity=0.0):
        self.network = network
        self.xp = network.xp
        self.alpha = float(alpha)
        self.sparsity = float(sparsity)
        self._loss_gradient, self._samples, self._output = LOSSES[loss]
        self._code = network.n_encoder_layers - 1
        k = network.kernels
        self._fused_squared_error = None
        if k is not None and loss == "squared_error":
            mse_loss = k.torch.nn.functional.mse_loss

            def fused(R, T):
                b, d = R.shape
                return mse_loss(R, T), (R - T) * (2.0 / (b * d))

            self._fused_squared_error = fused

    def loss_gradient(self, params, inputs, targets, weights):
        """``(loss, grad)``: the minibatch objective (0-d array) and its flat gradient.

        ``grad`` may be a buffer the next call overwrites (:meth:`ArrayNetwork.backward`).
        """
        xp, net = self.xp, self.network
        coefs, intercepts = net.views(params)
        Z = net.forward(coefs, intercepts, inputs)
        if self._fused_squared_error is not None and weights is None:
            value, delta = self._fused_squared_error(Z[-1], targets)
        else:
            value, delta = self._loss_gradient(xp, Z[-1], targets, weights)
        injections = None
        if self.sparsity:
            codes = Z[self._code + 1]
            b = codes.shape[0]
            value = value + self.sparsity * _row_sums(xp, xp.abs(codes), weights) / b
            injections = {self._code: _scale_rows(xp.sign(codes), weights, self.sparsity / b)}
        grad = net.backward(coefs, Z, delta, injections, alpha=self.alpha)
        if self.alpha:
            w = params[net.weight_slice.start : net.weight_slice.stop]
            value = value + 0.5 * self.alpha * xp.sum(w * w)
        return value, grad

    def sample_errors(self, params, X):
        """Per-sample reconstruction error of ``X``."""
        net = self.network
        R = net.propagate(params, X, 0, net.n_layers)
        return self._samples(self.xp, R, X)

    def output(self, R):
        """The reconstruction from the raw output ``R``."""
        return self._output(self.xp, R)


class ArrayAdam:
    """Adam over a flat parameter vector of namespace ``xp`` (see :mod:`skae._optim`).

    ``m ← β1·m + (1-β1)·g``, ``v ← β2·v + (1-β2)·g²``,
    ``θ ← θ − lr·√(1-β2ᵗ)/(1-β1ᵗ) · m/(√v + ε)``, each step making new arrays;
    every :data:`~skae._optim.FLUSH_STEPS` steps, subnormal entries become 0 (of ``v``
    where ``m`` is 0); the rate warms up over the first ``warmup_steps`` as there.
    """

    def __init__(
        self, xp, params, learning_rate, beta_1, beta_2, epsilon, state=None, warmup_steps=0
    ):
        self.xp = xp
        self.warmup_steps = warmup_steps
        self.kernels = TorchKernels.of(xp)
        self.params = params
        self.learning_rate = learning_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        if state is None:
            self.m, self.v, self.t = xp.zeros_like(params), xp.zeros_like(params), 0
        else:
            self.m, self.v, self.t = state["m"], state["v"], int(state["t"])

    def step(self, grad):
        """One update of ``self.params`` with gradient ``grad``."""
        b1, b2 = self.beta_1, self.beta_2
        self.t += 1
        lr_t = self.learning_rate * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        if self.t < self.warmup_steps:
            lr_t *= self.t / self.warmup_steps
        if self.kernels is not None:
            # lerp(m, g, w) is m + w·(g - m) for w < 1/2 and g - (1 - w)·(g - m) from 1/2
            # on: the moment form, and exact for β = 0 (as the small-β form below).
            torch = self.kernels.torch
            self.m = torch.lerp(self.m, grad, 1.0 - b1)
            self.v = torch.lerp(self.v, grad * grad, 1.0 - b2)
            denom = torch.sqrt(self.v).add_(self.epsilon)
            self.params = torch.addcdiv(self.params, self.m, denom, value=-lr_t)
        else:
            self._step_array_api(grad, lr_t)
        if self.t % _optim.FLUSH_STEPS == 0:
            self._flush_subnormals()

    def _flush_subnormals(self):
        """Subnormal entries of the parameters and ``m``, and of ``v`` where ``m`` is 0, become 0.

        As :class:`skae._optim.Adam` does, and for the same reason: a CPU's arithmetic
        on subnormal numbers is slow (a float32 fit through PyTorch on the CPU too).
        """
        xp = self.xp
        tiny = xp.finfo(self.params.dtype).smallest_normal
        zero = xp.zeros_like(self.params)
        self.params = xp.where(xp.abs(self.params) < tiny, zero, self.params)
        m_zero = xp.abs(self.m) < tiny
        self.m = xp.where(m_zero, zero, self.m)
        self.v = xp.where(xp.logical_and(m_zero, self.v < tiny), zero, self.v)

    def _step_array_api(self, grad, lr_t):
        b1, b2 = self.beta_1, self.beta_2
        # As skae._optim.Adam.step computes them (a small β as written).
        if b1 >= MOMENT_FORM_THRESHOLD:
            self.m = self.m + (grad - self.m) * (1.0 - b1)
        else:
            self.m = self.m * b1 + grad * (1.0 - b1)
        if b2 >= MOMENT_FORM_THRESHOLD:
            self.v = self.v + (grad * grad - self.v) * (1.0 - b2)
        else:
            self.v = self.v * b2 + (grad * grad) * (1.0 - b2)
        self.params = self.params - (self.m / (self.xp.sqrt(self.v) + self.epsilon)) * lr_t

    def state(self):
        """The optimizer state; its arrays are never modified in place, so not copied."""
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state(self, state):
        """Resume from ``state``."""
        self.m, self.v, self.t = state["m"], state["v"], int(state["t"])


class ArrayCorruption:
    """The corruption of a denoising fit (:class:`skae._data.Corruption`) on the device.

    The noise of a block of minibatches (:class:`ArrayBatches`) is drawn by NumPy
    on the host in one call, which gives the same numbers as the NumPy engine's
    draws minibatch by minibatch, and is moved to the device once per block.

    Parameters
    ----------
    xp, device : namespace and device of the data.
    kind : {"gaussian", "masking", "salt_and_pepper"}
    level : float
    rng : numpy.random.Generator
    low, high : arrays of shape (n_features,) on the device, or None
        Feature minima and maxima, for ``"salt_and_pepper"``.
    """

    def __init__(self, xp, device, kind, level, rng, low=None, high=None):
        self.xp, self.device = xp, device
        self.kind, self.level, self.rng = kind, float(level), rng
        self.low, self.high = low, high

    def draw(self, shape, dtype):
        """The noise of ``shape`` (rows in minibatch order), on the device."""
        if self.kind == "gaussian":
            noise = self.rng.standard_normal(shape, dtype=dtype)
        else:
            noise = self.rng.random(shape, dtype=dtype)
        return self.xp.asarray(noise, device=self.device)

    def __call__(self, clean, u):
        """``clean`` corrupted with its rows ``u`` of the epoch's noise."""
        xp, level = self.xp, self.level
        if self.kind == "gaussian":
            return clean + u * level
        if self.kind == "masking":
            return xp.where(u < level, 0.0, clean)
        out = xp.where(u < level / 2, self.low, clean)
        return xp.where((u < level) & (u >= level / 2), self.high, out)


#: Most bytes of training rows (and as many of noise) :class:`ArrayBatches` gathers
#: at once: a few gathers per epoch, not one per minibatch, without a copy of the data.
_BLOCK_BYTES = 64 * 2**20


class ArrayBatches:
    """The minibatches of one training set on the device, in the NumPy engine's order.

    The rows of consecutive minibatches are gathered in blocks of at most
    :data:`_BLOCK_BYTES` (at least one minibatch), and a denoising fit's noise
    drawn block by block: the same numbers as one draw per minibatch, with
    memory on the device bounded by two blocks (the caller's last minibatch, a
    view, keeps its block while the next one is gathered), not by the data.

    Parameters
    ----------
    xp, device : namespace and device of ``X``.
    X : array of shape (n_samples, n_features)
    rows : ndarray of int (NumPy)
        The training rows.
    weights : ndarray of shape (n_samples,) or None (NumPy)
        Sample weights of all rows, normalised here to average 1 over ``rows``,
        as :class:`skae._data.BatchSource` does.
    batch_size : int
    shuffle : bool
    corruption : ArrayCorruption or None
    """

    def __init__(
        self, xp, device, X, rows, weights, batch_size, *, shuffle=True, corruption=None
    ):
        import numpy as np

        self.corruption = corruption
        self.host_dtype = np.dtype(str(X.dtype).rsplit(".", 1)[-1])

        self.xp, self.device, self.X = xp, device, X
        self.rows = rows
        self.n_rows = rows.size
        self.batch_size = min(int(batch_size), self.n_rows)
        self.shuffle = shuffle
        row_bytes = max(1, int(X.shape[1])) * self.host_dtype.itemsize
        batches_per_block = max(1, _BLOCK_BYTES // (row_bytes * self.batch_size))
        self.block_rows = batches_per_block * self.batch_size
        if weights is not None:
            weights = np.asarray(weights)
            total = float(weights[rows].sum())
            if not total > 0:
                raise ValueError("The training samples' sample_weight sums to zero.")
            weights = xp.asarray(weights * (self.n_rows / total), device=device)
        self.weights = weights
        self._fixed = None

    def epoch(self, rng):
        """Yield ``(inputs, targets, weights)`` for each minibatch of one epoch."""
        xp = self.xp
        if self.shuffle or self._fixed is None:
            order = rng.permutation(self.rows) if self.shuffle else self.rows
            index = xp.asarray(order, device=self.device)
            w = None if self.weights is None else xp.take(self.weights, index)
            self._fixed = (index, w)
        index, w = self._fixed
        bs, n, corrupt = self.batch_size, self.n_rows, self.corruption
        d = int(self.X.shape[1])
        for block_start in range(0, n, self.block_rows):
            block_stop = min(block_start + self.block_rows, n)
            block = xp.take(self.X, index[block_start:block_stop], axis=0)
            noise = (
                None
                if corrupt is None
                else corrupt.draw((block_stop - block_start, d), self.host_dtype)
            )
            for start in range(block_start, block_stop, bs):
                # The standard leaves out-of-bounds slices undefined.
                stop = min(start + bs, block_stop)
                targets = block[start - block_start : stop - block_start, ...]
                if corrupt is not None:
                    u = noise[start - block_start : stop - block_start, ...]
                inputs = targets if corrupt is None else corrupt(targets, u)
                yield inputs, targets, None if w is None else w[start:stop]
            # Before the next block is gathered: only the caller's minibatch holds it.
            del block, noise, targets, inputs
            u = None


def validation_loss(objective, X_val, weights, chunk=8192):
    """``validate(params)``: the (weighted) mean reconstruction error of ``X_val`` (0-d)."""
    xp = objective.xp
    n = X_val.shape[0]
    total_weight = n if weights is None else xp.sum(weights)

    def validate(params):
        total = 0.0
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            errors = objective.sample_errors(params, X_val[start:stop, ...])
            if weights is None:
                total = total + xp.sum(errors)
            else:
                total = total + xp.sum(weights[start:stop] * errors)
        return total / total_weight

    return validate


def loss_floor(xp, device, loss, X, rows, weights, chunk=8192):
    """The least loss any reconstruction of ``X``'s ``rows`` reaches, a float.

    As the NumPy engine's ``_loss_floor``: 0 for the squared error; for the
    binary cross-entropy, the rows' mean binary entropy ``H(t)``, weighted as the
    loss, or 0 when an entry lies off [0, 1] beyond rounding. ``rows`` (host
    integers) and ``weights`` (None or the host sample weights of all of ``X``'s
    rows) are taken in chunks of rows, as :func:`validation_loss` goes.
    """
    if loss != "binary_crossentropy" or rows.size == 0:
        return 0.0
    sums = _entropy_sums(xp, device, X, rows, weights, chunk)
    return 0.0 if sums is None else sums[0]


def constant_columns(xp, device, X, weights, chunk=8192):
    """Whether each column of ``X`` takes one value over its rows of positive weight.

    As the NumPy engine's ``_constant_columns``, whose rows (those trained on and
    those held out) are these. Slices of ``chunk`` rows are compared with the first
    row of positive weight on the device, no copy of ``X``, one boolean back per
    slice, until one differs. ``weights``: None or the host sample weights.
    """
    import numpy as np

    n = X.shape[0]
    first = 0 if weights is None else int(np.argmax(weights > 0))
    value = X[first : first + 1, ...]
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)  # the Array API leaves slices past the end undefined
        differs = X[start:stop, ...] != value
        if weights is not None:
            weighted = xp.asarray(weights[start:stop] > 0, device=device)
            differs = differs & weighted[:, None]
        if bool(xp.any(differs)):
            return False
    return True


def auto_alpha_scale(xp, device, loss, X, rows, weights, chunk=8192):
    """As the NumPy engine's ``_auto_alpha_scale``: 1 but for the binary cross-entropy.

    There, the cross-entropy of reconstructing every feature as its weighted
    mean over ``X``'s ``rows``, above their mean binary entropy (1 when an entry
    lies off [0, 1] beyond rounding).
    """
    if loss != "binary_crossentropy" or rows.size == 0:
        return 1.0
    sums = _entropy_sums(xp, device, X, rows, weights, chunk)
    if sums is None:
        return 1.0
    floor, means = sums
    mean_loss = float(xp.mean(_binary_entropy(xp, xp.clip(means, 0.0, 1.0))))
    return max(mean_loss - floor, 0.0)


def _binary_entropy(xp, T):
    """``H(t)`` per entry of ``T`` in [0, 1], with ``0 log 0 = 0`` (no ``log(0)``)."""
    ones = xp.ones_like(T)
    U = 1 - T
    return -(T * xp.log(xp.where(T > 0, T, ones)) + U * xp.log(xp.where(U > 0, U, ones)))


def _entropy_sums(xp, device, X, rows, weights, chunk):
    """``(floor, means)``: the rows' weighted mean ``H(t)`` and column means (device).

    None if an entry lies off [0, 1] beyond rounding.
    """
    n = rows.size
    slack = float(xp.finfo(X.dtype).eps) ** 0.5  # rounding, as the NumPy engine's
    # Ratios of weighted sums: weights brought near 1 cannot overflow them.
    weights = None if weights is None else unit_scaled(weights[rows])
    total = 0.0
    column_totals = None
    for start in range(0, n, chunk):
        part = rows[start : start + chunk]
        T = xp.take(X, xp.asarray(part, device=device), axis=0)
        if not bool(xp.all((T >= -slack) & (T <= 1 + slack))):
            return None
        T = xp.clip(T, 0.0, 1.0)
        per_row = xp.mean(_binary_entropy(xp, T), axis=1)
        if weights is not None:
            w = xp.asarray(weights[start : start + chunk], device=device)
            per_row = w * per_row
            T = w[:, None] * T
        total += float(xp.sum(per_row))
        part_totals = xp.sum(T, axis=0)
        column_totals = part_totals if column_totals is None else column_totals + part_totals
    weight = n if weights is None else float(weights.sum())
    return total / weight, column_totals / weight


def train(
    objective,
    optimizer,
    source,
    *,
    rng,
    max_epochs,
    to_host,
    validate=None,
    tol=1e-4,
    n_iter_no_change=10,
    plateau_window=1,
    patience=None,
    floor=0.0,
    scale=None,
    schedule=None,
    first_epoch=1,
    monitors=(),
    result=None,
):
    """Train ``optimizer.params``, with the policies of :func:`skae._training.train`.

    ``to_host(array) -> ndarray`` brings one array back to the host: it is called
    once per epoch. ``validate(params)`` returns a 0-d array. On return
    ``optimizer.params`` holds the parameters to keep (the best validated ones
    with a validation set). ``result`` goes on from an earlier call, as there.
    """
    import numpy as np

    xp = objective.xp
    has_validation = validate is not None
    rule = PlateauRule(
        tol, n_iter_no_change, schedule, plateau_window, patience, floor, scale
    )
    best_params = optimizer.params if has_validation else None
    if result is None:
        result = TrainingResult()
    elif result.resume is not None:
        optimizer.params = result.resume["params"]
        if has_validation:
            best_params = result.resume["best_params"]
        rule.load_state(result.resume["rule"])
    result.resume = None
    result.best_params = best_params
    # The last complete epoch: its weights, the optimizer's state, what the result
    # counted and the best weights (an interrupt drops the unfinished epoch whole).
    checkpoint = (optimizer.params, optimizer.state(), _counts(result), best_params)
    n_rows = source.n_rows
    loss_gradient, step = objective.loss_gradient, optimizer.step
    begin_epoch = [m.begin_epoch for m in monitors if hasattr(m, "begin_epoch")]
    # NumPy-backed namespaces (array-api-strict) warn on overflow; divergence is
    # reported below instead, as by the NumPy engine.
    errstate = np.errstate(all="ignore")
    errstate.__enter__()
    try:
        for epoch in range(first_epoch, first_epoch + max_epochs):
            for begin in begin_epoch:
                begin(epoch)
            tic = time.perf_counter()
            if schedule is not None:
                schedule.start_epoch()
            losses, sizes = [], []
            for inputs, targets, weights in source.epoch(rng):
                loss, grad = loss_gradient(optimizer.params, inputs, targets, weights)
                step(grad)
                losses.append(loss)
                sizes.append(targets.shape[0])
            params = optimizer.params
            tail = [xp.astype(xp.all(xp.isfinite(params)), losses[0].dtype)]
            if has_validation:
                tail.append(xp.astype(validate(params), losses[0].dtype))
            # The epoch's one device-to-host transfer.
            values = to_host(xp.stack(losses + tail)).astype(np.float64)
            batch_losses = values[: len(losses)]
            bad = np.flatnonzero(~np.isfinite(batch_losses))
            if bad.size:
                raise diverged(
                    epoch, int(bad[0]) + 1, float(batch_losses[bad[0]]), optimizer.learning_rate
                )
            if not values[len(losses)]:
                raise diverged(
                    epoch, None, "weights became non-finite", optimizer.learning_rate
                )
            total = 0.0
            for value, size in zip(batch_losses.tolist(), sizes, strict=True):
                total += value * size
            loss = total / n_rows
            val_loss = float(values[-1]) if has_validation else None
            if has_validation and not math.isfinite(val_loss):
                raise diverged(epoch, None, val_loss, optimizer.learning_rate)
            state = optimizer.state()
            result.loss_curve.append(loss)
            result.n_epochs += 1
            result.n_samples_seen += n_rows
            result.best_loss = min(result.best_loss, loss)
            if has_validation:
                result.validation_loss_curve.append(val_loss)
                monitored = val_loss
                if val_loss < result.best_validation_loss:
                    result.best_validation_loss = val_loss
                    best_params = result.best_params = params
            else:
                monitored = loss
            checkpoint = (params, state, _counts(result), best_params)
            rule.observe(monitored)
            seconds = time.perf_counter() - tic
            if any([m(epoch, loss, val_loss, seconds) for m in monitors]):
                result.stopped_by_monitor = True
                break
            if rule.stops():
                result.converged = True
                break
        else:
            result.converged = schedule is not None and schedule.completes
    except KeyboardInterrupt:
        weights, state, counts, best_params = checkpoint
        _restore_counts(result, counts)
        result.best_params = best_params
        if result.n_epochs == 0:
            raise
        result.interrupted = True
        if not has_validation:
            optimizer.params = weights
        optimizer.load_state(state)
    finally:
        errstate.__exit__(None, None, None)
    if not result.interrupted:
        result.resume = {
            "params": optimizer.params,
            "best_params": best_params,
            "rule": rule.state(),
        }
    if has_validation:
        optimizer.params = best_params
    return result
