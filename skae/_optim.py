"""Adam over one flat parameter vector.

With gradient ``g`` at step ``t`` (counting from 1), learning rate ``lr`` and
``β1, β2, ε``::

    m ← β1·m + (1-β1)·g
    v ← β2·v + (1-β2)·g²
    θ ← θ − lr_t · m / (√v + ε),     lr_t = lr·√(1-β2ᵗ)/(1-β1ᵗ)

This is the form of Kingma & Ba (2015, Algorithm 1, last paragraph of
section 2) that scikit-learn's ``MLPRegressor`` uses: ε is added to the
*uncorrected* ``√v``. The bias corrections are folded into the scalar ``lr_t``,
so a step is a dozen whole-vector in-place operations whatever the network's
depth.

With ``warmup_steps`` ``W > 0``, ``lr_t`` is further multiplied by ``t / W`` for the
first ``W`` steps: the rate rises linearly to ``lr``. The estimators warm up the first
epoch after a guided start (:mod:`skae._guide`): in Adam's first steps ``m / √v`` is
about ``±1`` for every weight whatever its gradient, so that each weight moves by about
``lr``, and at ``learning_rate_init=5e-3`` those steps undid the unrolled embedding the
network had just learned (an ELU network on the Swiss roll ended with a held-out error of
0.0358, where the default rate's fit reached 0.00167; with the warm-up 0.00133, and
the default rate's 0.00193).

Every :data:`FLUSH_STEPS` steps, entries of the parameters and of ``m`` below the
dtype's smallest normal number in magnitude are set to 0, and those of ``v`` where
``m`` is then 0 (:meth:`Adam.step`). A weight or a moment whose gradient stays 0 (a
dead ReLU unit, an input that is constant in every minibatch) decays geometrically
and reaches the subnormal range within a fit, in float32 after about 1,500 steps
(``m`` after 750): arithmetic on subnormal numbers takes the processor's slow path,
and a default digits fit in float32 took 2.4 times as long as in float64 (0.58
times with the flush; ``benchmarks/subnormals.py``). A flushed weight moves by less
than that smallest normal number, and a flushed ``m`` changes a step by less than
``lr`` times it over ``epsilon``: nothing a normal weight can hold at the default
``epsilon``.
"""

import math

import numpy as np

#: Decay rates from this one on update a moment by its change, ``m + (1-β)(g - m)``;
#: smaller ones as ``β m + (1-β) g`` (:meth:`Adam.step`).
MOMENT_FORM_THRESHOLD = 0.5

#: :meth:`Adam.step` flushes subnormal entries of the parameters and moments to 0 at
#: the steps that are multiples of this (read at each step, by both engines).
FLUSH_STEPS = 16


class Adam:
    """Adam optimizer updating ``params`` in place.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector, updated in place by :meth:`step`.
    learning_rate : float
        ``lr`` above.
    beta_1, beta_2 : float
        Exponential decay rates of the first and second moment estimates.
    epsilon : float
        Added to ``√v`` for numerical stability.
    state : dict or None
        ``{"m": ndarray, "v": ndarray, "t": int}`` to resume from; copied.
    warmup_steps : int
        Steps over which the rate rises linearly to ``learning_rate`` (the rate of
        step ``t`` is multiplied by ``min(1, t / warmup_steps)``); 0 for none.
    """

    def __init__(
        self,
        params,
        learning_rate=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        state=None,
        warmup_steps=0,
    ):
        self.params = params
        self.warmup_steps = warmup_steps
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        if state is None:
            self.m = np.zeros_like(params)
            self.v = np.zeros_like(params)
            self.t = 0
        else:
            self.m = np.array(state["m"], dtype=params.dtype, copy=True)
            self.v = np.array(state["v"], dtype=params.dtype, copy=True)
            self.t = int(state["t"])
        self._tmp = np.empty_like(params)
        self._small = np.empty(params.shape, dtype=bool)
        self._tiny = np.finfo(params.dtype).smallest_normal

    def step(self, grad):
        """Apply one Adam update with gradient ``grad`` (not modified)."""
        b1, b2 = self.beta_1, self.beta_2
        m, v, tmp = self.m, self.v, self._tmp
        self.t += 1
        lr_t = self.learning_rate * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        if self.t < self.warmup_steps:
            lr_t *= self.t / self.warmup_steps
        # m ← β1 m + (1-β1) g and v ← β2 v + (1-β2) g², as m + (1-β1)(g - m) for the
        # usual β near 1. A small β is computed as written: with β = 0, g - m rounds
        # to -m where |g| ≪ |m|, and the moment would become 0 instead of g.
        if b1 >= MOMENT_FORM_THRESHOLD:
            np.subtract(grad, m, out=tmp)
            tmp *= 1.0 - b1
            m += tmp
        else:
            m *= b1
            np.multiply(grad, 1.0 - b1, out=tmp)
            m += tmp
        np.multiply(grad, grad, out=tmp)
        if b2 >= MOMENT_FORM_THRESHOLD:
            tmp -= v
            tmp *= 1.0 - b2
        else:
            v *= b2
            tmp *= 1.0 - b2
        v += tmp
        # θ ← θ - lr_t m / (√v + ε)
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= lr_t
        self.params -= tmp
        if self.t % FLUSH_STEPS == 0:
            self._flush_subnormals()

    def _flush_subnormals(self):
        """Set subnormal entries of ``params`` and ``m``, and of ``v`` where ``m`` is 0, to 0.

        ``v`` only where ``m`` is 0, where the step is 0 whatever ``v`` is: under a
        normal ``m``, a subnormal ``√v`` can outweigh a tiny ``epsilon``.
        """
        tmp, small, tiny = self._tmp, self._small, self._tiny
        for x in (self.params, self.m):
            np.abs(x, out=tmp)
            np.less(tmp, tiny, out=small)
            np.copyto(x, 0, where=small)
        # small: where m is now 0 (every entry below tiny was just set to 0)
        small &= self.v < tiny  # v ≥ 0
        np.copyto(self.v, 0, where=small)

    def load_state(self, state):
        """Resume from ``state`` (as returned by :meth:`state`); copies it."""
        np.copyto(self.m, state["m"])
        np.copyto(self.v, state["v"])
        self.t = int(state["t"])

    def state(self):
        """Copy of the optimizer state, as plain arrays and numbers."""
        return {"m": self.m.copy(), "v": self.v.copy(), "t": self.t}


#: Learning-rate schedules, by the user's names.
SCHEDULES = ("constant", "adaptive", "cosine")


class Schedule:
    """The learning rate over one fit, and what a plateau of the loss means.

    ``"constant"``
        ``lr = learning_rate_init`` throughout; a plateau ends training.
    ``"adaptive"``
        Reduce on plateau: each plateau (``n_iter_no_change`` epochs without
        improvement) divides the rate by ``1 / factor``; training ends at the
        plateau where the rate would fall below ``min_ratio · learning_rate_init``.
    ``"cosine"``
        ``lr_e = lr_min + (lr_0 - lr_min) · (1 + cos(π e / E)) / 2`` at epoch
        ``e = 0, …, E-1`` of a fit with ``E = max_epochs`` epochs, with
        ``lr_min = min_ratio · lr_0``; a plateau ends training, and so does the
        end of the schedule.

    Parameters
    ----------
    kind : {"constant", "adaptive", "cosine"}
    optimizer : Adam
        Its ``learning_rate`` is set by :meth:`start_epoch` and :meth:`plateau`.
    max_epochs : int
    factor : float, default=0.2
    min_ratio : float, default=1e-3
    """

    def __init__(self, kind, optimizer, max_epochs, *, factor=0.2, min_ratio=1e-3):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {kind!r}")
        self.kind = kind
        self.optimizer = optimizer
        self.initial = float(optimizer.learning_rate)
        self.max_epochs = int(max_epochs)
        self.factor = float(factor)
        self.min_ratio = float(min_ratio)
        self._epoch = 0

    @property
    def completes(self):
        """Whether the schedule has run its course, which is itself the end of training.

        True once a cosine schedule has set the rate of all its ``max_epochs`` epochs.
        """
        return self.kind == "cosine" and self._epoch >= self.max_epochs

    def start_epoch(self):
        """Set the rate of the next epoch."""
        if self.kind == "cosine":
            low = self.min_ratio * self.initial
            phase = math.pi * self._epoch / self.max_epochs
            self.optimizer.learning_rate = low + (self.initial - low) * 0.5 * (1 + math.cos(phase))
        self._epoch += 1

    def plateau(self):
        """The loss stopped improving: lower the rate and return True, or return False (stop)."""
        if self.kind != "adaptive":
            return False
        lowered = self.optimizer.learning_rate * self.factor
        if lowered < self.min_ratio * self.initial * (1 - 1e-12):
            return False
        self.optimizer.learning_rate = lowered
        return True
