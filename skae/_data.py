"""Where minibatches come from: gathering, shuffling, corruption, missing entries.

:class:`BatchSource` yields ``(inputs, targets, weights)`` for every minibatch
of an epoch, and ``(inputs, targets, weights, mask)`` when it is given a
:class:`MissingEntries` (data with missing values or categorical groups).
``targets`` are the training rows as given (dense, C-contiguous);
``inputs`` are the same array, or a corrupted copy of it for a denoising
autoencoder (:class:`Corruption`, drawn afresh for every minibatch);
``weights`` are the per-row weights normalised to average 1 over the training
rows, or None.

Small dense in-memory data (up to :data:`EPOCH_COPY_MAX_BYTES`) is shuffled once
per epoch into one reused buffer, whose contiguous slices are the minibatches:
that copy is the only one made of the data. Memory maps, larger arrays and
sparse matrices are gathered one minibatch at a time into a reused buffer and
never copied whole. Both paths give bitwise-identical minibatches.

Missing entries (NaN; for a categorical group, a row without an observed 1,
beside which NaNs are 0s) are set to 0 in the minibatch's copy (the user's data
is never written), and ``mask`` says which entries are observed, scaled so that
each minibatch's masked loss estimates the training set's without bias (see
:class:`BatchSource`). Without a :class:`MissingEntries` nothing of this runs.
"""

import hashlib
import mmap

import numpy as np
import scipy.sparse as sp

#: Dense in-memory training data up to this size is shuffled into a reused buffer
#: once per epoch instead of being gathered batch by batch.
EPOCH_COPY_MAX_BYTES = 64 * 2**20

#: Corruptions of a denoising autoencoder, by the user's names.
NOISES = ("gaussian", "masking", "salt_and_pepper")


def gather_rows(X, rows, out):
    """Copy rows ``rows`` of ``X`` (dense, memmap or CSR) into ``out``."""
    if sp.issparse(X):
        X[rows].toarray(out=out)
    else:
        take_rows(X, rows, out)
    return out


def take_rows(X, rows, out):
    """``np.take(X, rows, axis=0, out=out)`` without a copy of the whole of ``X``.

    NumPy's ``take`` first copies an ``X`` that is not C-contiguous whole (a
    column-major memory map, e.g. ``np.save`` of a data frame's ``to_numpy()``,
    would be read entirely for each minibatch): a column-major ``X`` is taken
    as its transpose, any other layout by indexing. ``out`` is C-contiguous.
    """
    if X.flags.c_contiguous:
        np.take(X, rows, axis=0, out=out, mode="clip")
    elif X.flags.f_contiguous:
        np.take(X.T, rows, axis=1, out=out.T, mode="clip")
    else:
        np.copyto(out, X[rows])
    return out


def _is_memory_mapped(X):
    """Whether ``X`` is, or is a view of, a memory map (validation strips the subclass)."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def copies_per_epoch(X, n_rows):
    """Whether a :class:`BatchSource` shuffles ``n_rows`` rows of ``X`` into a buffer."""
    return (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and n_rows * X.shape[1] * X.dtype.itemsize <= EPOCH_COPY_MAX_BYTES
        and not _is_memory_mapped(X)
    )


def feature_bounds(X, rows, bounds=None):
    """Per-feature minimum and maximum over ``rows`` of ``X`` (dense or CSR), in chunks.

    NaN entries are ignored. Returns float64 ``(minima, maxima)``, ``±inf`` for a
    feature without a value; ``bounds``, such a pair from earlier data, is
    widened (a copy: the pair given is kept).
    """
    if bounds is None:
        lo, hi = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    else:
        lo, hi = (np.array(b, dtype=np.float64) for b in bounds)
    # Chunks of at most 2**23 entries (64 MiB in float64), however wide X is.
    step = max(1, min(8192, 2**23 // max(1, X.shape[1])))
    for start in range(0, rows.size, step):
        chunk = X[rows[start : start + step]]
        chunk = chunk.toarray() if sp.issparse(chunk) else np.asarray(chunk)
        np.fmin(lo, np.fmin.reduce(chunk, axis=0), out=lo)
        np.fmax(hi, np.fmax.reduce(chunk, axis=0), out=hi)
    return lo, hi


def feature_range(bounds, dtype):
    """:func:`feature_bounds` as the values noise sets: ``[0, 0]`` for a feature without one."""
    lo, hi = (np.array(b, dtype=np.float64) for b in bounds)
    empty = ~np.isfinite(lo)
    lo[empty] = hi[empty] = 0.0
    return lo.astype(dtype), hi.astype(dtype)


def unobserved_groups(X, groups, rows):
    """The categorical ``groups`` missing as a whole in every row of ``X[rows]``.

    A group is observed in a row where one of its entries is an observed 1
    (see :class:`MissingEntries`). Dense or CSR ``X``, read in chunks of
    about a million entries; stops as soon as every group has been observed.
    """
    n_features = X.shape[1]
    columns = [np.asarray(g) for g in groups]
    seen = np.zeros(len(columns), dtype=bool)
    step = max(1, 2**20 // n_features)
    for start in range(0, rows.size, step):
        chunk = X[rows[start : start + step]]
        chunk = chunk.toarray() if sp.issparse(chunk) else np.asarray(chunk)
        for i, cols in enumerate(columns):
            if not seen[i]:
                seen[i] = bool(_observing(chunk[:, cols]).any())
        if seen.all():
            break
    return [list(map(int, cols)) for cols, s in zip(columns, seen, strict=True) if not s]


def rows_observing(X, groups, rows):
    """Which of ``X[rows]`` observe at least one of the categorical ``groups`` (boolean).

    Observed as in :func:`unobserved_groups`; dense or CSR ``X``, read in chunks
    of about a million entries.
    """
    columns = [np.asarray(g) for g in groups]
    observing = np.zeros(rows.size, dtype=bool)
    step = max(1, 2**20 // X.shape[1])
    for start in range(0, rows.size, step):
        chunk = X[rows[start : start + step]]
        chunk = chunk.toarray() if sp.issparse(chunk) else np.asarray(chunk)
        for cols in columns:
            observing[start : start + step] |= _observing(chunk[:, cols])
    return observing


def _observing(block):
    """Which rows of a group's dense ``block`` observe it: an observed nonzero (a 1).

    A NaN beside an observed 1 is a 0 of the known category.
    """
    return ((block != 0) & ~np.isnan(block)).any(axis=1)


def has_missing(X):
    """Whether dense or sparse ``X`` (already checked for infinities) holds a NaN.

    Small arrays are checked entry by entry; larger ones in one pass without a
    temporary: a finite sum proves there is no NaN, otherwise the entries are
    checked in blocks of rows of about a million entries.
    """
    values = X.data if sp.issparse(X) else X
    if values.size <= 65536:
        return bool(np.isnan(values).any())
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return False
    step = max(1, (1 << 20) * values.shape[0] // values.size)  # rows per block
    return any(
        bool(np.isnan(values[start : start + step]).any())
        for start in range(0, values.shape[0], step)
    )


def observed_weight(X, sample_weight, groups=()):
    """``sample_weight`` with the rows whose every entry is missing weighted 0.

    Such rows add nothing to the loss; holding them out for validation, or counting
    them towards the rows ``early_stopping="auto"`` needs, would count rows that say
    nothing. With categorical ``groups`` (see :class:`MissingEntries`), a group of
    zeros is missing too. Returns ``sample_weight`` itself (``None`` included) when
    no row is entirely missing, else a new float array; neither ``X`` nor
    ``sample_weight`` is modified. Dense rows are checked in chunks of about a
    million entries, sparse ones from their stored entries.
    """
    n, d = X.shape
    if groups and sp.issparse(X):
        empty = _empty_rows_of_sparse_with_groups(X, groups)
    elif groups:
        missing = MissingEntries(d, groups)
        empty = np.empty(n, dtype=bool)
        step = max(1, 2**20 // d)  # rows per chunk: about a million entries
        for start in range(0, n, step):
            chunk = np.array(X[start : start + step], dtype=float)
            observed = np.empty_like(chunk)
            missing.fill(chunk, observed)
            empty[start : start + step] = missing.row_counts(observed) == 0
    elif not has_missing(X):
        return sample_weight
    elif sp.issparse(X):
        X = sp.csr_array(X)
        if not X.has_canonical_format:
            X = X.copy()  # summing duplicate entries must not edit the caller's matrix
            X.sum_duplicates()
        rows = np.repeat(np.arange(n), np.diff(X.indptr))
        empty = np.bincount(rows[np.isnan(X.data)], minlength=n) == d
    else:
        empty = np.empty(n, dtype=bool)
        step = max(1, min(8192, (1 << 20) // max(1, d)))  # about a million entries
        for start in range(0, n, step):
            empty[start : start + step] = np.isnan(X[start : start + step]).all(axis=1)
    if not empty.any():
        return sample_weight
    weight = np.ones(n) if sample_weight is None else np.array(sample_weight, dtype=float)
    weight[empty] = 0.0
    return weight


def _empty_rows_of_sparse_with_groups(X, groups):
    """Rows of sparse ``X`` with no observed variable, from its stored entries only.

    A numeric column is observed unless its entry is an explicit NaN (an implicit
    zero is a value); a group is observed when it holds an observed nonzero (a 1).
    """
    n, d = X.shape
    X = sp.csr_array(X)
    if not X.has_canonical_format:
        X = X.copy()  # summing duplicate entries must not edit the caller's matrix
        X.sum_duplicates()
    group_of = np.full(d, -1, dtype=np.intp)
    for number, group in enumerate(groups):
        group_of[list(group)] = number
    rows = np.repeat(np.arange(n), np.diff(X.indptr))
    owner, nan = group_of[X.indices], np.isnan(X.data)
    numeric = owner < 0
    n_numeric = int(np.count_nonzero(group_of < 0))
    empty = np.bincount(rows[numeric & nan], minlength=n) == n_numeric
    in_group = ~numeric
    key = rows[in_group] * len(groups) + owner[in_group]
    size = n * len(groups)
    has_value = np.bincount(key[(X.data[in_group] != 0) & ~nan[in_group]], minlength=size) > 0
    observed = has_value.reshape(n, len(groups))
    return empty & ~observed.any(axis=1)


class MissingEntries:
    """Which entries of a minibatch are observed; the others become 0.

    A numeric column's entry is missing when it is NaN. A categorical group (a
    block of one-hot columns, as ``OneHotEncoder`` writes one categorical
    feature) is one variable: observed in a row when one of its entries is an
    observed 1 (its NaN entries there are 0s: the category is known), missing
    as a whole otherwise, when its observed entries are all 0 (an unknown
    category, as ``handle_unknown="ignore"`` encodes it, or a category hidden by
    NaNs); then all its entries are set to 0 and marked missing. A row has
    ``n_variables`` variables: the numeric columns and one per group.

    Parameters
    ----------
    n_features : int
    groups : sequence of sequences of int, default=()
        Column indices of each categorical group (disjoint, validated by the caller).
    as_input : bool, default=False
        :meth:`network_inputs` appends the observed-entries mask to the inputs.
    """

    def __init__(self, n_features, groups=(), *, as_input=False):
        self.n_features = int(n_features)
        self.groups = [np.asarray(g, dtype=np.intp) for g in groups]
        self.as_input = bool(as_input)
        counted = np.ones(self.n_features, dtype=bool)
        for g in self.groups:
            counted[g[1:]] = False
        #: One column per variable: the numeric columns and each group's first.
        self._counted = np.flatnonzero(counted)
        self.n_variables = self._counted.size

    def fill(self, batch, observed):
        """Set the missing entries of dense ``batch`` to 0, in place; write the mask.

        ``observed`` (same shape, float) gets 1 for observed entries and 0 for
        missing ones; the columns of a group share their group's value.
        """
        seen = np.isnan(batch)
        np.copyto(batch, 0, where=seen)
        np.logical_not(seen, out=seen)
        for g in self.groups:
            present = batch[:, g].any(axis=1)  # an observed 1 (NaNs are 0s by now)
            seen[:, g] = present[:, None]
            rows = np.flatnonzero(~present)
            if rows.size:
                batch[np.ix_(rows, g)] = 0
        np.copyto(observed, seen)
        return batch

    def row_counts(self, observed):
        """Number of observed variables of each row of a mask from :meth:`fill`."""
        return np.count_nonzero(observed[:, self._counted], axis=1).astype(np.float64)

    def network_inputs(self, filled, observed, dropped=None, out=None):
        """What the network sees: ``filled``, or ``[filled, present]`` with ``as_input``.

        ``present`` is 1 where an entry is observed (``observed`` nonzero) and not
        zeroed by masking noise (``dropped``, boolean, or None).
        """
        if not self.as_input:
            return filled
        b, d = filled.shape
        if out is None:
            out = np.empty((b, 2 * d), dtype=filled.dtype)
        out[:, :d] = filled
        present = out[:, d:]
        np.not_equal(observed, 0, out=present, casting="unsafe")
        if dropped is not None:
            present[dropped] = 0
        return out

    def check_one_hot(self, X):
        """Raise unless every categorical group of ``X`` holds 0/1 with at most one 1 per row.

        A group's NaN entries are not checked; its observed entries are, beside
        them too (``[1, NaN, 0]`` is the first category, ``[1, NaN, 1]`` is
        refused). All groups are checked together, a block of rows at a time
        (dense or sparse ``X``), with at most about a million entries densified
        at once.
        """
        if not self.groups:
            return
        sizes = np.array([g.size for g in self.groups])
        everything = np.arange(len(self.groups))
        if sp.issparse(X):
            X = X.tocsr()
            # Stored entries only: which group each column belongs to, and the
            # matrix summing a row's columns per group.
            group_of = np.full(X.shape[1], -1)
            group_of[np.concatenate(self.groups)] = np.repeat(everything, sizes)
            in_groups = np.flatnonzero(group_of >= 0)
            to_groups = sp.csr_array(
                (np.ones(in_groups.size), (in_groups, group_of[in_groups])),
                shape=(X.shape[1], len(sizes)),
            )
            step = max(1, min(8192, (1 << 20) // len(sizes)))
        else:
            step = max(1, min(8192, (1 << 20) // sizes.sum()))
        for start in range(0, X.shape[0], step):
            block = X[start : start + step]
            if not sp.issparse(block):
                self._check_dense(np.asarray(block), everything)
                continue
            # Only groups storing a value other than 0/1 (a NaN included) or
            # summing to more than 1 in a row can fail: densify those alone.
            groups = group_of[block.indices]
            odd = (groups >= 0) & (block.data != 0) & (block.data != 1)
            sums = (block @ to_groups).tocoo()
            suspects = np.union1d(groups[odd], sums.col[sums.data > 1])
            rows_in_block = block.shape[0]
            while suspects.size:
                fit = np.cumsum(sizes[suspects]) * rows_in_block <= 1 << 20
                take = suspects[: max(1, np.count_nonzero(fit))]
                suspects = suspects[take.size :]
                self._check_dense(block, take)

    def _check_dense(self, block, numbers):
        """Raise for the first of groups ``numbers`` (ascending) not one-hot in ``block``."""
        columns = np.concatenate([self.groups[n] for n in numbers])
        if sp.issparse(block):
            values = block[:, columns].toarray()
        elif np.array_equal(columns, np.arange(columns[0], columns[0] + columns.size)):
            values = block[:, columns[0] : columns[0] + columns.size]  # a view, not a copy
        else:
            values = block[:, columns]
        starts = np.cumsum([0] + [self.groups[n].size for n in numbers[:-1]])
        odd = (values != 0) & (values != 1)
        if not odd.any() and not (np.add.reduceat(values, starts, axis=1) > 1).any():
            return
        holes = np.isnan(values)
        bad = odd & ~holes
        bad_group = np.logical_or.reduceat(bad, starts, axis=1)
        with np.errstate(invalid="ignore"):  # inf - inf in a group holding both
            many = np.add.reduceat(np.where(holes, 0, values), starts, axis=1) > 1
        failing = np.flatnonzero(bad_group.any(axis=0) | many.any(axis=0))
        if failing.size == 0:
            return
        local = failing[0]
        number, g = numbers[local], self.groups[numbers[local]]
        if bad_group[:, local].any():
            row = np.flatnonzero(bad_group[:, local])[0]
            within = bad[row, starts[local] : starts[local] + g.size]
            value = values[row, starts[local] + np.flatnonzero(within)[0]]
            problem = f"it holds the value {float(value):g}; "
        else:
            problem = "a row has more than one 1; "
        raise ValueError(
            f"categorical_groups[{number}] (columns {g.tolist()}) is not one-hot: "
            + problem
            + "a group's columns must be 0 or 1 with at most one 1 per row (all 0, "
            "or 0s and NaNs, means the category is missing; NaNs beside a 1 are 0s), "
            "as OneHotEncoder(drop=None) "
            "writes them. Groups read by categorical_groups_from from a "
            "ColumnTransformer that is refitted later (in cross-validation, say) "
            "shift when a fold lacks a category: give its OneHotEncoder the "
            "categories (categories=[...])."
        )


class Corruption:
    """Input corruption of a denoising autoencoder.

    ``"gaussian"``: ``x + σ·N(0, 1)`` with ``σ = level``; ``"masking"``: each
    entry set to 0 with probability ``level``, a categorical group's entries
    together (one variable, hidden as a whole, as a missing group is);
    ``"salt_and_pepper"``: each entry set, with probability ``level``, to its
    feature's minimum or maximum over the training data (either with
    probability 1/2); a categorical group, with probability ``level``, to one
    of its categories drawn uniformly (its one-hot row), a value it can take.

    Parameters
    ----------
    kind : {"gaussian", "masking", "salt_and_pepper"}
    level : float
    rng : numpy.random.Generator
        Draws the noise.
    low, high : ndarray of shape (n_features,) or None
        Feature minima and maxima, for ``"salt_and_pepper"``.
    groups : sequence of sequences of int, default=()
        Column indices of each categorical group, for ``"masking"`` and
        ``"salt_and_pepper"``.
    """

    def __init__(self, kind, level, rng, low=None, high=None, groups=()):
        if kind not in NOISES:
            raise ValueError(f"unknown noise {kind!r}")
        self.kind = kind
        self.level = float(level)
        self.rng = rng
        self.low, self.high = low, high
        groups = [np.asarray(g, dtype=np.intp) for g in groups]
        # Per group column: its group's number and its place in the group, and the
        # groups' sizes (salt and pepper draws a category per row and group).
        self._group_of = (
            np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)]) if groups else None
        )
        self._group_place = np.concatenate([np.arange(g.size) for g in groups]) if groups else None
        self._group_sizes = np.array([g.size for g in groups], dtype=np.intp)
        # Each group column, and its group's first column, whose draw hides the group.
        self._group_columns = np.concatenate(groups) if groups else None
        self._group_first = (
            np.concatenate([np.full(g.size, g[0]) for g in groups]) if groups else None
        )
        self._buffers = {}
        self.dropped = None  # the entries the last "masking" call zeroed

    def __call__(self, clean):
        """A corrupted copy of ``clean`` (a buffer reused for batches of the same shape)."""
        bufs = self._buffers.get(clean.shape)
        if bufs is None:
            bufs = self._buffers[clean.shape] = (
                np.empty_like(clean),
                np.empty_like(clean),
                np.empty(clean.shape, dtype=bool),
            )
        out, u, mask = bufs
        rng, level = self.rng, self.level
        if self.kind == "gaussian":
            rng.standard_normal(dtype=clean.dtype, out=u)
            u *= level
            np.add(clean, u, out=out)
            return out
        rng.random(dtype=clean.dtype, out=u)
        np.copyto(out, clean)
        if self.kind == "masking":
            np.less(u, level, out=mask)
            if self._group_columns is not None:  # a group's first column hides it all
                mask[:, self._group_columns] = mask[:, self._group_first]
            out[mask] = 0
            self.dropped = mask  # read by MissingEntries.network_inputs
        else:
            np.less(u, level / 2, out=mask)
            np.copyto(out, self.low, where=mask)
            np.less(u, level, out=mask)
            mask &= u >= level / 2
            np.copyto(out, self.high, where=mask)
            if self._group_columns is not None:
                self._salt_groups(clean, out, u)
        return out

    def _salt_groups(self, clean, out, u):
        """Salt and pepper for the groups: a uniform random category, or the clean value.

        A group's first column's draw ``u`` below ``level`` picks the category.
        """
        columns = self._group_columns
        hit = u[:, self._group_first] < self.level
        picked = (self.rng.random((u.shape[0], self._group_sizes.size)) * self._group_sizes)
        chosen = picked.astype(np.intp)[:, self._group_of] == self._group_place
        out[:, columns] = np.where(hit, chosen, clean[:, columns])


class BatchSource:
    """The minibatches of one training set.

    Parameters
    ----------
    X : ndarray, memmap or CSR matrix of shape (n_samples, n_features)
        Never modified.
    rows : ndarray of int
        The training rows.
    weights : ndarray of shape (n_samples,) or None
        Sample weights of all rows; normalised here to average 1 over ``rows``.
    batch_size : int
    shuffle : bool
        Visit the rows in a new random order every epoch.
    corruption : Corruption or None
    mask : MissingEntries or None
        Given, every minibatch gets its missing entries set to 0 and a fourth
        element, the observed-entries mask scaled by ``1/ρ``: ``M_ij / ρ``,
        where ``M_ij`` is 1 for an observed entry and 0 for a missing one (a
        group's columns share their group's value) and
        ``ρ = Σ_i w_i m_i / (n · V)`` is the weighted share of observed
        variables over the ``n`` training rows (``m_i`` observed variables in
        row ``i``, ``V = mask.n_variables``, ``w_i`` the normalised row
        weights). So ``1/(b V) Σ_i w_i Σ_v M_iv/ρ · ℓ_iv`` over a minibatch is
        an unbiased estimate of ``Σ_i w_i Σ_v M_iv ℓ_iv / Σ_i w_i m_i`` over
        the training set, whose denominator is a constant: a minibatch of
        fully missing rows contributes 0, never 0/0. With ``mask.as_input``
        the inputs are ``[filled inputs, present]`` (:meth:`MissingEntries.network_inputs`).
    """

    def __init__(
        self, X, rows, weights, batch_size, *, shuffle=True, corruption=None, mask=None
    ):
        self.X = X
        self.mask = mask
        if mask is not None:
            self._observed_counts = self._count_observed(rows)
        self.rows = rows
        self.n_rows = rows.size
        self.batch_size = min(int(batch_size), self.n_rows)
        self.shuffle = shuffle
        self.corruption = corruption
        self.set_weights(weights)
        self.starts = range(0, self.n_rows, self.batch_size)
        self.epoch_copy = copies_per_epoch(X, self.n_rows)
        if self.epoch_copy:
            self._shuffled = np.empty((self.n_rows, X.shape[1]), dtype=X.dtype)
            self._shuffled_weights = np.empty(self.n_rows, X.dtype)
            if mask is not None:
                self._shuffled_mask = np.empty_like(self._shuffled)
        else:
            self._gathered = {}
        self._copied = False
        self._inputs = {}

    def _count_observed(self, rows):
        """Observed variables of each of ``rows`` (one pass, in chunks)."""
        counts = np.empty(rows.size)
        # Chunks of about a quarter million entries: two dense copies each.
        step = max(1, min(8192, (1 << 18) // max(1, self.X.shape[1])))
        for start in range(0, rows.size, step):
            chunk = rows[start : start + step]
            block = np.empty((chunk.size, self.X.shape[1]), self.X.dtype)
            gather_rows(self.X, chunk, block)
            observed = np.empty_like(block)
            self.mask.fill(block, observed)
            counts[start : start + chunk.size] = self.mask.row_counts(observed)
        return counts

    def set_weights(self, weights):
        """Use per-row ``weights`` (all rows, or None) from the next epoch on.

        They are normalised to average 1 over the training rows.
        """
        if weights is not None:
            weights = np.asarray(weights, dtype=self.X.dtype)
            total = float(weights[self.rows].sum())
            if not total > 0:
                raise ValueError("The training samples' sample_weight sums to zero.")
            weights = weights * (self.n_rows / total)
        self.weights = weights
        self._copied = False
        if self.mask is not None:
            counts = self._observed_counts
            observed = float(
                counts.sum() if weights is None else np.dot(weights[self.rows], counts)
            )
            if not observed > 0:
                raise ValueError(
                    "Every entry of the training data is missing"
                    f"{'' if weights is None else ' (or has zero weight)'}: there is "
                    "nothing to learn from. Fit on data with observed entries (for data "
                    "missing as a whole, sklearn.impute.SimpleImputer("
                    "keep_empty_features=True) fills zeros)."
                )
            #: ``1/ρ``, the scale of the yielded mask.
            self.mask_scale = self.n_rows * self.mask.n_variables / observed

    def _gather_buffer(self, size):
        buf = self._gathered.get(size)
        if buf is None:
            buf = self._gathered[size] = np.empty((size, self.X.shape[1]), dtype=self.X.dtype)
        return buf

    def epoch(self, rng):
        """Yield ``(inputs, targets, weights)`` for each minibatch of one epoch.

        ``(inputs, targets, weights, mask)`` with a :class:`MissingEntries`.
        ``rng`` (a ``numpy.random.Generator``) draws the order when shuffling.
        """
        if self.mask is not None:
            yield from self._masked_epoch(rng)
            return
        order = rng.permutation(self.rows) if self.shuffle else self.rows
        X, bs, weights, corrupt = self.X, self.batch_size, self.weights, self.corruption
        if self.epoch_copy:
            shuffled, shuffled_weights = self._shuffled, self._shuffled_weights
            if self.shuffle or not self._copied:
                take_rows(X, order, shuffled)
                if weights is not None:
                    np.take(weights, order, out=shuffled_weights, mode="clip")
                self._copied = True
            for start in self.starts:
                targets = shuffled[start : start + bs]
                w = None if weights is None else shuffled_weights[start : start + bs]
                yield (targets if corrupt is None else corrupt(targets)), targets, w
        else:
            for start in self.starts:
                rows = order[start : start + bs]
                targets = gather_rows(X, rows, self._gather_buffer(rows.size))
                w = None if weights is None else weights[rows]
                yield (targets if corrupt is None else corrupt(targets)), targets, w

    def _masked_inputs(self, targets, mask):
        """Corrupted (or not) inputs of one minibatch, with the mask appended if asked."""
        corrupt = self.corruption
        inputs = targets if corrupt is None else corrupt(targets)
        if corrupt is not None and corrupt.kind != "masking":
            # Missing entries enter the network as 0, as at inference: the noise
            # corrupts the observed entries only (masking leaves a 0 at 0 anyway).
            missing = self._inputs.get(("missing", mask.shape))
            if missing is None:
                missing = self._inputs["missing", mask.shape] = np.empty(mask.shape, bool)
            np.equal(mask, 0, out=missing)
            np.copyto(inputs, 0, where=missing)
        if not self.mask.as_input:
            return inputs
        out = self._inputs.get(targets.shape[0])
        if out is None:
            out = self._inputs[targets.shape[0]] = np.empty(
                (targets.shape[0], 2 * targets.shape[1]), dtype=targets.dtype
            )
        dropped = None if corrupt is None else corrupt.dropped
        return self.mask.network_inputs(inputs, mask, dropped, out=out)

    def _masked_epoch(self, rng):
        """:meth:`epoch` for data with missing entries: fill them, yield the scaled mask."""
        order = rng.permutation(self.rows) if self.shuffle else self.rows
        X, bs, weights, scale = self.X, self.batch_size, self.weights, self.mask_scale
        if self.epoch_copy:
            shuffled, shuffled_weights = self._shuffled, self._shuffled_weights
            shuffled_mask = self._shuffled_mask
            if self.shuffle or not self._copied:
                take_rows(X, order, shuffled)
                self.mask.fill(shuffled, shuffled_mask)
                shuffled_mask *= scale
                if weights is not None:
                    np.take(weights, order, out=shuffled_weights, mode="clip")
                self._copied = True
            for start in self.starts:
                targets = shuffled[start : start + bs]
                mask = shuffled_mask[start : start + bs]
                w = None if weights is None else shuffled_weights[start : start + bs]
                yield self._masked_inputs(targets, mask), targets, w, mask
        else:
            for start in self.starts:
                rows = order[start : start + bs]
                targets = gather_rows(X, rows, self._gather_buffer(rows.size))
                mask = self._gathered.get(("mask", rows.size))
                if mask is None:
                    mask = self._gathered["mask", rows.size] = np.empty_like(targets)
                self.mask.fill(targets, mask)
                mask *= scale
                w = None if weights is None else weights[rows]
                yield self._masked_inputs(targets, mask), targets, w, mask


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

    ``values`` (any real dtype, hashed as float64; any shape ending in the columns of
    ``salts``) is not modified; ``-0.0`` counts as ``0.0``, whose contribution is
    exactly zero.
    """
    h = np.add(values, 0.0, dtype=np.float64).view(np.uint64)  # a copy; -0.0 is 0.0
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
    equivalent. Every entry is hashed as its float64 value, so that a row gets
    the same key in float32 and in float64 when its values are the same.
    ``X`` is never modified.
    """
    n, d = X.shape
    salts = np.random.default_rng(seed).integers(0, 2**64, size=d + 1, dtype=np.uint64)
    final_salt, salts = salts[-1], salts[:-1]
    zero_hashes = _mix64(salts.copy(), np.empty_like(salts))
    hashes = np.empty(n, dtype=np.uint64)
    if sp.issparse(X):
        X = sp.csr_array(X)
        if not X.has_canonical_format:
            X = X.copy()  # summing duplicate entries must not edit the caller's matrix
            X.sum_duplicates()
        entries = _entry_hashes(X.data, salts[X.indices], zero_hashes[X.indices])
        cumulative = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entries, dtype=np.uint64)])
        hashes[:] = cumulative[X.indptr[1:]] - cumulative[X.indptr[:-1]]
    else:
        for start in range(0, n, chunk_size):
            entries = _entry_hashes(np.asarray(X[start : start + chunk_size]), salts, zero_hashes)
            hashes[start : start + chunk_size] = entries.sum(axis=1, dtype=np.uint64)
            del entries  # before the next chunk's are made: two chunks' worth at most
    hashes ^= final_salt
    _mix64(hashes, np.empty_like(hashes))
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


def validation_split(
    X, sample_weight, fraction, seed, *, required=True, min_distinct=0, return_keys=False
):
    """Split row indices into (train, validation) by row content.

    Identical rows (equal :func:`row_keys`) form a group, so duplicated rows land on
    the same side. Groups are visited in key order, and a group joins the
    validation set whenever it keeps the held-out weight at most ``fraction`` of the
    total sample weight; groups of zero weight stay in training. The held-out
    weight is then at most the target (up to rounding), and short of it by less
    than the weight of the lightest positive-weight group left in training; if
    no group fits, the lightest one is held out (more than the target). A sample
    weight of ``k`` splits exactly as ``k`` repeated rows would.

    Data of fewer than ``min_distinct`` distinct rows of positive weight are
    not split (``early_stopping="auto"`` asks for 200): every held-out group is
    a pattern the model never trains on, and with few distinct rows that is a
    large share of what there is to learn. This returns ``(all rows, None)``
    then, unless ``required`` (``early_stopping=True``), which splits them all
    the same.

    Rows whose weight the caller set to zero (:func:`observed_weight` does so for
    rows with every entry missing) always train. When no training weight would be
    left (fewer than two distinct rows of positive weight), this raises if
    ``required``, else returns ``(all rows, None)``: no validation set
    (``early_stopping="auto"`` then trains on every row).

    With ``return_keys``, the rows' keys (:func:`row_keys`) come third.
    """
    keys = row_keys(X, seed)
    train, validation = _split_keys(keys, sample_weight, fraction, required, min_distinct)
    return (train, validation, keys) if return_keys else (train, validation)


def split_record(keys, validation):
    """``{"rows": digest of the distinct keys, "held_out": the held-out ones, sorted}``.

    Two splits of the same rows (in any order, any number of copies) have the same
    ``"rows"``; ``"held_out"`` is the distinct keys of the ``validation`` rows.
    """
    digest = hashlib.blake2b(np.unique(keys).tobytes(), digest_size=16).hexdigest()
    return {"rows": digest, "held_out": np.unique(keys[validation])}


def _split_keys(keys, sample_weight, fraction, required, min_distinct):
    """:func:`validation_split` of rows with these keys."""
    n = keys.shape[0]
    unique_keys, group = np.unique(keys, return_inverse=True)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    group_weight = np.bincount(group, weights=weight, minlength=unique_keys.size)
    limit = fraction * group_weight.sum() * (1 + 1e-12)
    positive = group_weight > 0
    if np.count_nonzero(positive) < min_distinct and not required:
        return np.arange(n), None
    held = np.zeros(unique_keys.size, dtype=bool)
    # The longest prefix that fits whole, then a greedy pass over the other groups,
    # until the room left is smaller than every positive weight still to come.
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
        if not required:
            return np.arange(n), None
        raise ValueError(
            "early_stopping=True needs at least two distinct samples with positive "
            "weight and an observed entry, to hold some out for validation; got "
            f"n_samples = {n}, of which {int(np.count_nonzero(positive))} distinct with "
            "positive weight and an observed entry. Use more data or early_stopping=False."
        )
    return train, validation
