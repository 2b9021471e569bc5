"""One model-agnostic training loop and its policies.

The loop draws minibatches from a :class:`~skae._data.BatchSource`, asks an
objective for the minibatch loss and gradient (``objective.loss_gradient(*batch)``
with ``batch = (inputs, targets, weights, ...)`` as the source yields it, filling
``objective.network.grad``) and steps an optimizer.
It knows nothing of layers, losses or penalties. One place decides what happens
when training goes wrong or ends:

* **divergence** (a non-finite minibatch loss, non-finite parameters at an
  epoch's end, or a non-finite validation loss): stop at once and raise
  :class:`DivergenceError` naming the epoch and minibatch. The loop only works
  on the parameters and optimizer it is given; callers hand it copies, so the
  model they hold is untouched;
* **KeyboardInterrupt**: stop, roll back to the best parameters seen (with a
  validation set) or to the end of the last complete epoch, and report
  ``interrupted=True``. If no epoch completed, the interrupt propagates;
* **stopping**: a *plateau* is ``n_iter_no_change`` consecutive epochs whose
  monitored loss (the validation loss with a validation set, else the training
  loss; or its mean over the last ``plateau_window`` epochs, see
  :class:`PlateauRule`) did not improve on the best by at least
  ``tol · |best - floor|`` (a relative tolerance; ``floor`` is the least value
  the loss can take, 0 for the squared error, the targets' entropy for the
  binary cross-entropy, so that the tolerance is relative to what training can
  still remove; or ``tol · scale``, absolute, when a ``scale`` is given, as
  for targets whose every column is constant: :data:`CONSTANT_TARGETS_SCALE`). At a
  plateau the learning-rate schedule (:class:`~skae._optim.Schedule`) either
  lowers the rate, and training goes on, or says stop: training has
  *converged*. A schedule that runs its course (cosine) converges too, and so
  does a fit whose monitored loss has not improved for ``patience`` epochs in a
  row, when one is given. With a validation set the best parameters are
  restored at the end.

*Several starts* (:func:`best_start`): candidates from different random
initialisations are each trained for a few epochs, and training goes on from the
one whose monitored loss is lowest; the loss a few epochs in is a good guide to
where a network will end, and a bad start is cheaper to drop than to train.

*Monitors* watch the loop: after every epoch each is called as
``monitor(epoch, loss, validation_loss, seconds)`` and training stops when one
returns True; a monitor with a ``begin_epoch(epoch)`` method has it called
right before each epoch trains (verbose printing and scikit-learn's callbacks
are monitors).
"""

import collections
import math
import time
from dataclasses import dataclass, field

import numpy as np


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite parameters."""


@dataclass
class TrainingResult:
    """What one call of :func:`train` did."""

    n_epochs: int = 0
    n_samples_seen: int = 0
    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_loss: float = np.inf
    converged: bool = False
    interrupted: bool = False
    stopped_by_monitor: bool = False
    #: What a call that goes on from this result needs, or None: the last epoch's
    #: parameters (with a validation set the network holds the best epoch's, but the
    #: optimizer's state is the last's), the best parameters so far, and the stopping
    #: rule's state (:meth:`PlateauRule.state`: its counts, window and best).
    resume: dict | None = None
    #: With a validation set, the best epoch's parameters so far, kept up to date
    #: while training (what training stopped now would leave); None without one.
    best_params: np.ndarray | None = None


#: The first cause :func:`diverged` names; an estimator that standardizes its
#: inputs itself replaces it (by this text) with :data:`RATE_ADVICE`.
SCALING_ADVICE = (
    "The inputs may be badly scaled (standardize them, e.g. with "
    "sklearn.preprocessing.StandardScaler in a Pipeline) or the learning rate too large"
)
RATE_ADVICE = "The learning rate may be too large"


def diverged(epoch, batch, loss, learning_rate):
    """The error raised when training diverges, with what to do about it.

    ``loss`` is the non-finite value, or a string saying what became non-finite;
    ``learning_rate`` the rate of that epoch (a schedule's, not the initial one).
    """
    where = f"epoch {epoch}" + ("" if batch is None else f", batch {batch}")
    what = f"the {loss}" if isinstance(loss, str) else f"the loss became {loss}"
    return DivergenceError(
        f"Training diverged at {where}: {what}. {SCALING_ADVICE} (lower "
        f"learning_rate_init; the rate was {learning_rate:.3g} then)."
    )


#: The absolute scale of the tolerance (``scale``) for targets whose every column is
#: constant: all 0, as a ``StandardScaler`` leaves such data (up to a rounding residue
#: of the column's mean, the same in every row). A network reproduces them ever more
#: closely, its loss falling by about the same share every epoch for as long as
#: training runs, so an improvement counted against the loss itself never fails to
#: count and a relative tolerance never sees a plateau. Such data have no spread to
#: be relative to; they are given a unit scale, as ``StandardScaler`` gives a constant
#: column (its ``scale_`` is 1), and as ``MLPRegressor``'s absolute ``tol`` assumes.
CONSTANT_TARGETS_SCALE = 1.0


class PlateauRule:
    """The stopping rule (module docstring), shared by the NumPy and Array API loops.

    :meth:`observe` adds an epoch's monitored loss to those of the last
    ``window`` epochs and counts their mean against its best before it;
    :meth:`stops` then says whether that epoch ends training: at a plateau of
    ``n_iter_no_change`` epochs without an improvement by ``tol · |best - floor|``,
    the schedule (if any) takes a step, and training ends when it has none left.

    ``floor`` is the least value the monitored loss can take (0 by default). The
    binary cross-entropy of targets in (0, 1) cannot fall below their entropy;
    measured against the whole loss, an improvement of ``tol`` would be an ever
    larger share of what training can still remove, and such fits would stop
    early.

    With ``scale`` (a float), the improvement is ``tol · scale`` instead, an
    absolute one: for a loss in nats, whose zero depends on the data's units
    (the variational autoencoder's Gaussian likelihood), a share of the loss
    would depend on them too, and vanish where the loss crosses 0; and for
    targets whose every column is constant (:data:`CONSTANT_TARGETS_SCALE`),
    whose loss a share of itself would follow down for ever.

    With ``patience`` (an int), that many epochs in a row without an improvement
    end training whatever the schedule says: with a patience of twice
    ``n_iter_no_change``, a plateau right after a lowered rate, with no
    improvement since, ends training instead of lowering the rate again (the
    lower rate did not help; when the held-out loss has turned up, the network
    is overfitting and no lower rate will bring the best back).

    With a window of one the rule watches the loss itself, and one lucky epoch
    (a dip in the loss of a few hundred held-out rows while the rate is still
    high) can hold the best out of reach of every later epoch: the rate is then
    lowered, or training ends, while the loss is still falling. A mean over
    several epochs lets a falling trend count; unlike an exponential average it
    settles on a flat loss, so that ``tol=0`` still finds a plateau there.
    """

    def __init__(
        self, tol, n_iter_no_change, schedule=None, window=1, patience=None, floor=0.0,
        scale=None,
    ):
        self.tol = tol
        self.floor = floor
        self.scale = scale
        self.n_iter_no_change = n_iter_no_change
        self.schedule = schedule
        self.patience = patience
        self.no_improvement = 0
        self.since_improvement = 0
        self.window = collections.deque(maxlen=window)
        self.best = math.inf

    def observe(self, monitored):
        self.window.append(monitored)
        mean = math.fsum(self.window) / len(self.window)
        best = self.best
        margin = abs(best - self.floor) if self.scale is None else self.scale
        improved = best == math.inf or mean < best - self.tol * margin
        self.no_improvement = 0 if improved else self.no_improvement + 1
        self.since_improvement = 0 if improved else self.since_improvement + 1
        self.best = min(best, mean)

    def stops(self):
        if self.patience is not None and self.since_improvement >= self.patience:
            return True
        if self.no_improvement < self.n_iter_no_change:
            return False
        self.no_improvement = 0
        return self.schedule is None or not self.schedule.plateau()

    def state(self):
        """What a continued call needs (:func:`train`'s ``result``)."""
        return self.no_improvement, self.since_improvement, list(self.window), self.best

    def load_state(self, state):
        self.no_improvement, self.since_improvement, window, self.best = state
        self.window.clear()
        self.window.extend(window)


def print_epoch(epoch, loss, validation_loss, seconds):
    """The ``verbose`` monitor: one line per epoch."""
    msg = f"Epoch {epoch}: loss = {loss:.6g}"
    if validation_loss is not None:
        msg += f", validation loss = {validation_loss:.6g}"
    print(f"{msg}, {seconds:.3f} s", flush=True)


def train(
    objective,
    optimizer,
    source,
    *,
    rng,
    max_epochs,
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
    """Train ``objective.network`` in place.

    Parameters
    ----------
    objective : Objective
        ``loss_gradient(*batch) -> float`` fills ``objective.network.grad``.
    optimizer : Adam
        Updates ``objective.network.params`` with ``step(grad)``.
    source : BatchSource
        The training minibatches.
    rng : numpy.random.Generator
        Draws the order of each epoch.
    max_epochs : int
    validate : callable or None
        ``validate() -> float``: the validation loss of the current parameters.
    tol, n_iter_no_change : float, int
        The stopping rule (module docstring); ``tol`` is relative.
    plateau_window : int
        Number of epochs whose mean monitored loss the stopping rule watches
        (:class:`PlateauRule`); 1 watches each epoch's loss.
    patience : int or None
        Number of epochs in a row without improvement that end training whatever
        the schedule (:class:`PlateauRule`); None leaves the end to the schedule.
    floor : float
        The least value of the monitored loss: the stopping rule's tolerance is
        relative to the loss above it (:class:`PlateauRule`).
    scale : float or None
        With a float, the stopping rule's tolerance is ``tol · scale``, absolute
        (:class:`PlateauRule`).
    schedule : Schedule or None
        The learning-rate schedule; None keeps the rate constant.
    first_epoch : int
        Number of the first epoch, for messages and monitors.
    monitors : sequence of callables
        See the module docstring.
    result : TrainingResult or None
        The result of an earlier call on the same network and optimizer to go
        on from, as if that call had not ended: training resumes from its last
        epoch's parameters (not the best ones it restored), whose state the
        optimizer holds, its curves are extended, and its best losses, best
        parameters and the stopping rule's state carry over. None starts afresh.

    Returns
    -------
    TrainingResult
        ``result``, extended, when given.
    """
    network = objective.network
    params, grad = network.params, network.grad
    has_validation = validate is not None
    rule = PlateauRule(
        tol, n_iter_no_change, schedule, plateau_window, patience, floor, scale
    )
    if result is None:
        result = TrainingResult()
    resume, checkpoint = result.resume, None
    isfinite = math.isfinite
    # An objective whose fitted state can overflow with finite weights says so itself.
    nonfinite = getattr(objective, "nonfinite", None)
    loss_gradient, step = objective.loss_gradient, optimizer.step
    n_rows = source.n_rows
    begin_epoch = [m.begin_epoch for m in monitors if hasattr(m, "begin_epoch")]
    with np.errstate(all="ignore"):
        try:
            best_params = params.copy() if has_validation else None
            if resume is not None:
                np.copyto(params, resume["params"])
                if has_validation:
                    best_params = resume["best_params"]
                rule.load_state(resume["rule"])
            result.resume = None
            result.best_params = best_params
            # A new best epoch's weights are copied into the spare buffer, which then
            # swaps with best_params: the checkpoint's best weights are never overwritten.
            spare = np.empty_like(params) if has_validation else None
            # The last complete epoch: its weights (which validation otherwise keeps),
            # the optimizer's state, what the result counted and the best weights. An
            # interrupt drops the unfinished epoch entirely, wherever it lands,
            # bookkeeping included.
            checkpoint = (
                None if has_validation else params.copy(),
                optimizer.state(),
                _counts(result),
                best_params,
            )
            for epoch in range(first_epoch, first_epoch + max_epochs):
                for begin in begin_epoch:
                    begin(epoch)
                tic = time.perf_counter()
                if schedule is not None:
                    schedule.start_epoch()
                total = 0.0
                for number, batch in enumerate(source.epoch(rng), 1):
                    loss = loss_gradient(*batch)
                    if not isfinite(loss):
                        raise diverged(epoch, number, loss, optimizer.learning_rate)
                    step(grad)
                    total += loss * batch[1].shape[0]
                if nonfinite is not None:
                    problem = nonfinite()
                elif not np.isfinite(params).all():
                    problem = "weights became non-finite"
                else:
                    problem = None
                if problem is not None:
                    raise diverged(epoch, None, problem, optimizer.learning_rate)
                loss = total / n_rows
                # Validated before it counts: an interrupt here drops the whole epoch.
                val_loss = validate() if has_validation else None
                if has_validation and not isfinite(val_loss):
                    raise diverged(epoch, None, val_loss, optimizer.learning_rate)
                # The copies first, then the counts: the checkpoint commits the epoch.
                weights = None if has_validation else params.copy()
                state = optimizer.state()
                improved = has_validation and val_loss < result.best_validation_loss
                if improved:
                    np.copyto(spare, params)
                    best_params, spare = spare, best_params
                result.loss_curve.append(loss)
                result.n_epochs += 1
                result.n_samples_seen += n_rows
                result.best_loss = min(result.best_loss, loss)
                if has_validation:
                    result.validation_loss_curve.append(val_loss)
                    if improved:
                        result.best_validation_loss = val_loss
                        result.best_params = best_params
                checkpoint = (weights, state, _counts(result), best_params)
                rule.observe(val_loss if has_validation else loss)
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
            if checkpoint is None:
                # In the setup: nothing of this call counted. Going on from an earlier
                # call, the weights it kept stay (without validation
                # ``resume["params"]`` is ``params`` itself); else nothing was trained.
                if result.n_epochs == 0:
                    raise
                if resume is not None:
                    best_params = result.best_params = resume["best_params"]
                else:
                    best_params = result.best_params
            else:
                weights, state, counts, best_params = checkpoint
                _restore_counts(result, counts)
                result.best_params = best_params
                if result.n_epochs == 0:
                    raise
                if not has_validation:
                    np.copyto(params, weights)
                optimizer.load_state(state)
            result.interrupted = True
            result.resume = None
    if not result.interrupted:
        result.resume = {
            "params": params.copy() if has_validation else params,
            "best_params": best_params,
            "rule": rule.state(),
        }
    if has_validation:
        np.copyto(params, best_params)
    return result


def _counts(result):
    """What ``result`` has counted, for :func:`_restore_counts` after an interrupt."""
    return (
        len(result.loss_curve),
        len(result.validation_loss_curve),
        result.n_epochs,
        result.n_samples_seen,
        result.best_loss,
        result.best_validation_loss,
    )


def _restore_counts(result, counts):
    """Take ``result`` back to ``counts``: the epochs counted after them are dropped."""
    n_losses, n_validation_losses, *values = counts
    del result.loss_curve[n_losses:]
    del result.validation_loss_curve[n_validation_losses:]
    (
        result.n_epochs,
        result.n_samples_seen,
        result.best_loss,
        result.best_validation_loss,
    ) = values


def start_score(result):
    """What :func:`best_start` ranks a start by: its best monitored loss so far.

    The best validation loss when there is a validation set, else the best
    training loss; ``inf`` for None or a result without a completed epoch.
    """
    if result is None:
        return math.inf
    if result.validation_loss_curve:
        return result.best_validation_loss
    return result.best_loss


def best_start(candidates, n_epochs, on_leader=None):
    """Train each candidate for ``n_epochs`` epochs; the one to go on with, and its result.

    ``candidates`` yields objects with ``run(max_epochs) -> TrainingResult`` (a
    fresh :func:`train` of their own network). The winner has the lowest best
    monitored loss: the validation loss when there is a validation set, else
    the training loss. An interrupt, or a monitor that stops training, ends the
    contest among the candidates run so far and marks the winner's result so
    (an interrupt before any epoch completed propagates). A candidate that
    diverges drops out; if all do, the first one's :class:`DivergenceError` is
    raised. ``on_leader(candidate, result, score)``, if given, is called each
    time a candidate becomes the best so far (the one a stop would keep).
    """
    best = best_result = None
    best_score = math.inf
    failures = []
    candidates = iter(candidates)
    while True:
        try:
            candidate = next(candidates, None)  # setting a start up can be interrupted too
            if candidate is None:
                break
            result = candidate.run(n_epochs)
        except DivergenceError as error:
            # Without its traceback: its frames would keep the start alive (a cycle
            # through this frame); the message names the epoch and batch.
            failures.append(error.with_traceback(None))
            continue
        except KeyboardInterrupt:
            if best is None:
                raise
            best_result.interrupted = True
            break
        score = start_score(result)
        if best is None or score < best_score:
            best, best_result, best_score = candidate, result, score
            if on_leader is not None:
                on_leader(candidate, result, score)
        if result.interrupted or result.stopped_by_monitor:
            best_result.interrupted |= result.interrupted
            best_result.stopped_by_monitor |= result.stopped_by_monitor
            break
    if best is None:
        raise failures[0]
    return best, best_result
