"""The epoch/minibatch loop and its policies.

One place decides what happens when training goes wrong:

* **divergence** (a non-finite loss or non-finite weights): stop at once and raise
  :class:`DivergenceError` naming the epoch and batch. The loop only ever works on
  the network and optimizer it is given; callers hand it copies, so the model they
  hold is untouched;
* **KeyboardInterrupt**: stop, roll back to the best weights seen (with a
  validation set) or to the end of the last complete epoch, and report
  ``interrupted=True``. If no epoch completed, the interrupt propagates;
* **stopping**: after ``n_iter_no_change`` consecutive epochs whose monitored loss
  (validation loss with a validation set, else training loss) did not improve on
  the best by at least ``tol``. With a validation set the best weights are
  restored at the end.
"""

import math
import mmap
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._losses import weighted_mean


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights."""


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
    stopped_by_callback: bool = False


def gather_rows(X, rows, out):
    """Copy rows ``rows`` of ``X`` (dense, memmap or sparse) into ``out``."""
    if sp.issparse(X):
        X[rows].toarray(out=out)
    else:
        np.take(X, rows, axis=0, out=out, mode="clip")
    return out


def _mix64(h, tmp):
    """SplitMix64 finaliser, in place: spreads the bits of uint64 words (wrapping).

    ``tmp`` is scratch of ``h``'s shape.
    """
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        np.right_shift(h, np.uint64(shift), out=tmp)
        h ^= tmp
        h *= np.uint64(multiplier)
    np.right_shift(h, np.uint64(31), out=tmp)
    h ^= tmp
    return h


def _entry_hashes(values, salts, zero_hashes):
    """Per-entry contribution ``mix64(bits(x) ^ salt_j) - mix64(salt_j)`` (uint64, wrapping).

    ``values`` (float32 or float64, any shape ending in the columns of ``salts``) is
    not modified; ``-0.0`` counts as ``0.0``, whose contribution is exactly zero.
    """
    values = np.add(values, 0.0, dtype=values.dtype)  # a copy, with -0.0 turned into 0.0
    if values.dtype == np.float32:
        h = values.view(np.uint32).astype(np.uint64)
    else:
        h = values.view(np.uint64)
    del values
    h ^= salts
    _mix64(h, np.empty_like(h))
    h -= zero_hashes
    return h


def row_keys(X, seed, chunk_size=8192):
    """A number in [0, 1) per row that depends only on the row's values and ``seed``.

    Equal rows get equal keys, whatever their position or how often they occur.
    Each entry ``x`` of column ``j`` contributes ``mix64(bits(x) XOR salt_j) -
    mix64(salt_j)`` (uint64, wrapping), with per-column salts drawn from ``seed``
    and ``mix64`` the SplitMix64 finaliser; a row's hash is the mixed sum of its
    entries' contributions. Zeros (and ``-0.0``) contribute exactly nothing, so a
    sparse row sums its stored entries only and gets the key of its dense
    equivalent. float32 data hash their 32-bit words, anything else as float64.
    ``X`` is never modified.
    """
    n, d = X.shape
    salts = np.random.default_rng(seed).integers(0, 2**64, size=d + 1, dtype=np.uint64)
    final_salt, salts = salts[-1], salts[:-1]
    zero_hashes = _mix64(salts.copy(), np.empty_like(salts))
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    hashes = np.empty(n, dtype=np.uint64)
    if sp.issparse(X):
        X = sp.csr_array(X)
        if not X.has_canonical_format:
            X = X.copy()  # summing duplicate entries must not edit the caller's matrix
            X.sum_duplicates()
        entries = _entry_hashes(
            np.asarray(X.data, dtype=dtype), salts[X.indices], zero_hashes[X.indices]
        )
        cumulative = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entries, dtype=np.uint64)])
        hashes[:] = cumulative[X.indptr[1:]] - cumulative[X.indptr[:-1]]
    else:
        for start in range(0, n, chunk_size):
            chunk = np.asarray(X[start : start + chunk_size], dtype=dtype)
            entries = _entry_hashes(chunk, salts, zero_hashes)
            hashes[start : start + chunk_size] = entries.sum(axis=1, dtype=np.uint64)
            del entries  # before the next chunk's are made: two chunks' worth at most
    hashes ^= final_salt
    _mix64(hashes, np.empty_like(hashes))
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


def validation_split(X, sample_weight, fraction, seed):
    """Split row indices into (train, validation) by row content.

    Identical rows (equal :func:`row_keys`) form a group, so duplicated rows land on
    the same side. Groups are visited in key order, and a group joins the
    validation set whenever it keeps the held-out weight at most ``fraction`` of the
    total sample weight; groups of zero weight stay in training. If no group fits,
    the lightest one is held out. The held-out weight is then at most the target
    (up to rounding), and short of it by less than the weight of the lightest
    positive-weight group left in training. A sample weight of ``k`` splits exactly
    as ``k`` repeated rows would.
    """
    n = X.shape[0]
    keys = row_keys(X, seed)
    unique_keys, group = np.unique(keys, return_inverse=True)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    group_weight = np.bincount(group, weights=weight, minlength=unique_keys.size)
    limit = fraction * group_weight.sum() * (1 + 1e-12)
    held = np.zeros(unique_keys.size, dtype=bool)
    # The longest prefix that fits whole, then a greedy pass over the other groups,
    # until the room left is smaller than every positive weight still to come.
    positive = group_weight > 0
    cumulative = np.cumsum(group_weight)
    start = int(np.searchsorted(cumulative, limit, side="right"))
    held[:start] = positive[:start]
    room = limit - (cumulative[start - 1] if start else 0.0)
    lightest_after = np.minimum.accumulate(np.where(positive, group_weight, np.inf)[::-1])[::-1]
    for g in range(start, unique_keys.size):
        if room < lightest_after[g]:
            break
        w = group_weight[g]
        if 0 < w <= room:
            held[g] = True
            room -= w
    if not held.any() and positive.any():
        held[np.argmin(np.where(positive, group_weight, np.inf))] = True
    is_validation = held[group]
    train = np.flatnonzero(~is_validation)
    validation = np.flatnonzero(is_validation)
    if train.size == 0 or weight[train].sum() <= 0:
        raise ValueError(
            "early_stopping=True needs at least two distinct samples with positive "
            f"weight, to hold some out for validation; got n_samples = {n} with "
            f"{unique_keys.size} distinct. Use more data or early_stopping=False."
        )
    return train, validation


#: Dense in-memory training data up to this size is shuffled into a reused buffer
#: once per epoch instead of being gathered batch by batch.
EPOCH_COPY_MAX_BYTES = 64 * 2**20


def _is_memory_mapped(X):
    """Whether ``X`` is, or is a view of, a memory map (validation strips the subclass)."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def _copies_per_epoch(X, n_rows):
    """Whether :func:`train` shuffles ``n_rows`` rows of ``X`` into a buffer per epoch."""
    return (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and n_rows * X.shape[1] * X.dtype.itemsize <= EPOCH_COPY_MAX_BYTES
        and not _is_memory_mapped(X)
    )


def _weighted_rows_loss(network, X, rows, sample_weight, ws):
    """Weighted mean reconstruction error over ``rows``, in batches of ``ws``."""
    errors = np.empty(rows.size, dtype=np.float64)
    bs = ws.batch_size
    for start in range(0, rows.size, bs):
        chunk = rows[start : start + bs]
        if chunk.size == bs:
            w = ws
        else:
            w = network.workspace(chunk.size)
        gather_rows(X, chunk, w.inputs)
        errors[start : start + chunk.size] = network.batch_errors(w)
    return weighted_mean(errors, None if sample_weight is None else sample_weight[rows])


def _diverged(epoch, batch, loss, learning_rate):
    where = f"epoch {epoch}" + ("" if batch is None else f", batch {batch}")
    return DivergenceError(
        f"Training diverged at {where}: the loss became {loss}. The inputs may be "
        "badly scaled (standardize them, e.g. with sklearn.preprocessing."
        "StandardScaler in a Pipeline) or the learning rate too large (lower "
        f"learning_rate_init, currently {learning_rate})."
    )


def train(
    network,
    optimizer,
    X,
    *,
    sample_weight=None,
    train_rows=None,
    validation_rows=None,
    batch_size,
    max_epochs,
    shuffle=True,
    random_state,
    alpha=0.0,
    tol=1e-4,
    n_iter_no_change=10,
    first_epoch=1,
    verbose=False,
    callback=None,
):
    """Train ``network`` in place with ``optimizer`` on the rows of ``X``.

    Parameters
    ----------
    network : Network
    optimizer : Adam
        Updates ``network.params``.
    X : ndarray, memmap or sparse matrix of shape (n_samples, n_features)
        Never modified. Dense in-memory data of up to ``EPOCH_COPY_MAX_BYTES``
        (64 MiB) of training rows are shuffled into one reused buffer each
        epoch; memory maps, larger and sparse data are gathered batch by batch
        into a reused buffer and never copied whole.
    sample_weight : ndarray of shape (n_samples,) or None
        Positive sum over ``train_rows``; not modified. Training uses it scaled
        to average 1 over ``train_rows`` (see :mod:`skae._losses`); the
        validation loss is the exact weighted mean over ``validation_rows``.
    train_rows, validation_rows : ndarray of int or None
        Rows to train on (all when None) and to monitor (none when None).
    batch_size, max_epochs : int
    shuffle : bool
        Shuffle the training rows at every epoch.
    random_state : numpy.random.Generator
        Draws the epochs' orders.
    alpha, tol, n_iter_no_change :
        L2 penalty and the stopping rule (see the module docstring).
    first_epoch : int
        Number of the first epoch, for messages.
    verbose : bool
        Print one line per epoch.
    callback : callable or None
        ``callback(epoch, loss, validation_loss)`` after each epoch; training
        stops when it returns True.

    Returns
    -------
    TrainingResult
    """
    result = TrainingResult()
    params = network.params
    if train_rows is None:
        train_rows = np.arange(X.shape[0])
    n_train = train_rows.size
    if sample_weight is not None:
        # Scaled to average 1 over the training rows: a minibatch's loss
        # sum(w e) / batch_rows then estimates the weighted objective sum(w e) / sum(w)
        # without bias, and an epoch's mean of them is that objective.
        weight_sum = float(np.sum(sample_weight[train_rows], dtype=np.float64))
        sample_weight = sample_weight * (n_train / weight_sum)
    batch_size = min(batch_size, n_train)
    starts = range(0, n_train, batch_size)
    ws = network.workspace(batch_size)
    # Small dense data is shuffled once per epoch into one reused buffer, whose
    # contiguous slices then serve as the minibatches; anything else (memmaps,
    # large or sparse data) is gathered batch by batch and never copied whole.
    epoch_copy = _copies_per_epoch(X, n_train)
    if epoch_copy:
        shuffled = np.empty((n_train, X.shape[1]), dtype=X.dtype)
        if sample_weight is not None:
            shuffled_weight = np.empty(n_train, dtype=sample_weight.dtype)
        # (workspace, rows, weights) of every minibatch: views of the shuffled buffers.
        own_ws = {}
        steps = []
        for start in starts:
            rows = shuffled[start : start + batch_size]
            size = rows.shape[0]
            if size not in own_ws:
                own_ws[size] = network.workspace(size, cached=False)
            weights = None if sample_weight is None else shuffled_weight[start : start + size]
            steps.append((own_ws[size], rows, weights))
    monitor_validation = validation_rows is not None
    best_params = params.copy() if monitor_validation else None
    # Rolled back to on interrupt when there is no validation set.
    checkpoint = (params.copy(), optimizer.state()) if not monitor_validation else None
    no_improvement = 0
    epoch = first_epoch
    isfinite = math.isfinite
    with np.errstate(all="ignore"):
        try:
            for epoch in range(first_epoch, first_epoch + max_epochs):
                tic = time.perf_counter()
                order = random_state.permutation(train_rows) if shuffle else train_rows
                total = 0.0
                if epoch_copy:
                    if shuffle or epoch == first_epoch:
                        np.take(X, order, axis=0, out=shuffled, mode="clip")
                        if sample_weight is not None:
                            np.take(sample_weight, order, out=shuffled_weight, mode="clip")
                    loss_gradient, step, grad = network.loss_gradient, optimizer.step, network.grad
                    for batch, (w, rows, sw) in enumerate(steps):
                        w.bind_inputs(rows)
                        loss = loss_gradient(w, sw, alpha)
                        if not isfinite(loss):
                            raise _diverged(epoch, batch + 1, loss, optimizer.learning_rate)
                        step(grad)
                        total += loss * rows.shape[0]
                else:
                    for batch, start in enumerate(starts):
                        rows = order[start : start + batch_size]
                        w = ws if rows.size == batch_size else network.workspace(rows.size)
                        gather_rows(X, rows, w.inputs)
                        sw = None if sample_weight is None else sample_weight[rows]
                        loss = network.loss_gradient(w, sw, alpha)
                        if not isfinite(loss):
                            raise _diverged(epoch, batch + 1, loss, optimizer.learning_rate)
                        optimizer.step(network.grad)
                        total += loss * rows.size
                if not np.isfinite(params).all():
                    raise _diverged(epoch, None, "non-finite weights", optimizer.learning_rate)
                loss = total / n_train
                result.loss_curve.append(loss)
                result.n_epochs += 1
                result.n_samples_seen += n_train
                if monitor_validation:
                    val_loss = _weighted_rows_loss(network, X, validation_rows, sample_weight, ws)
                    if not np.isfinite(val_loss):
                        raise _diverged(epoch, None, val_loss, optimizer.learning_rate)
                    result.validation_loss_curve.append(val_loss)
                    monitored, best = val_loss, result.best_validation_loss
                    if val_loss < result.best_validation_loss:
                        result.best_validation_loss = val_loss
                        np.copyto(best_params, params)
                else:
                    val_loss = None
                    monitored, best = loss, result.best_loss
                    checkpoint = (params.copy(), optimizer.state())
                result.best_loss = min(result.best_loss, loss)
                no_improvement = no_improvement + 1 if monitored > best - tol else 0
                if verbose:
                    msg = f"Epoch {epoch}: loss = {loss:.6g}"
                    if val_loss is not None:
                        msg += f", validation loss = {val_loss:.6g}"
                    print(f"{msg}, {time.perf_counter() - tic:.3f} s", flush=True)
                if callback is not None and callback(epoch, loss, val_loss):
                    result.stopped_by_callback = True
                    break
                if no_improvement >= n_iter_no_change:
                    result.converged = True
                    break
        except KeyboardInterrupt:
            if result.n_epochs == 0:
                raise
            result.interrupted = True
            if not monitor_validation:
                np.copyto(params, checkpoint[0])
                state = checkpoint[1]
                optimizer.m, optimizer.v, optimizer.t = state["m"], state["v"], state["t"]
    if monitor_validation:
        np.copyto(params, best_params)
    return result
