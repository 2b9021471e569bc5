"""The scikit-learn adapter: parameters, validation, fitted state. No maths here.

:class:`_BaseAutoencoder` holds what every estimator of the family shares: input
validation with errors that say what to do, the random streams, the fit that
either succeeds or leaves the estimator as it was, the fitted state (one flat
parameter vector and what the network was fitted with) and chunked inference.
"""

import contextlib
import contextvars
import copy
import functools
import itertools
import math
import os
import re
import sys
import threading
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
from scipy.special import entr
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)
from threadpoolctl import ThreadpoolController

from ._activations import ACTIVATIONS
from ._callbacks import (
    CallbackSupportMixin,
    epoch_monitor,
    fit_task,
    restore_state,
    validated_partial_fit,
)
from ._categorical import check_categorical_groups
from ._data import (
    NOISES,
    BatchSource,
    Corruption,
    MissingEntries,
    feature_bounds,
    feature_range,
    gather_rows,
    has_missing,
    observed_weight,
    rows_observing,
    split_record,
    unobserved_groups,
    validation_split,
)
from ._guide import (
    GUIDE_BATCH_SIZE,
    GUIDE_MAX_BYTES,
    GUIDE_MAX_COMPONENTS,
    GUIDE_MIN_ROWS,
    GUIDE_NEIGHBORS,
    GUIDE_ROWS,
    guide_rows,
    guided_start,
    isomap_embedding,
    warmup_steps,
)
from ._model import Network
from ._objectives import LOSSES, Objective, binary_entropy, unit_scaled, weighted_mean
from ._optim import SCHEDULES, Adam, Schedule
from ._training import (
    CONSTANT_TARGETS_SCALE,
    RATE_ADVICE,
    SCALING_ADVICE,
    DivergenceError,
    TrainingResult,
    best_start,
    print_epoch,
    start_score,
    train,
)
from ._xp import check_same_namespace, is_array, namespace_and_device, to_numpy
from ._xp_estimator import ArrayAPIMixin

#: Upper bound (MiB) on the temporaries of transform, inverse_transform and score.
_INFERENCE_MEMORY_MIB = 64

#: Fitted attributes that are views into ``_params`` and rebuilt after unpickling.
_VIEW_ATTRIBUTES = ("coefs_", "intercepts_")

#: What exists only during a fit call (ours and scikit-learn's callback machinery):
#: never pickled, so that pickling an estimator another thread is fitting works.
_FIT_CALL_ATTRIBUTES = ("_skae_epoch_tasks", "_callback_fit_ctx", "_skl_callbacks_to_teardown")

#: Rows per chunk when computing the validation loss.
_VALIDATION_CHUNK = 4096

#: Most rows per chunk of the entropy sums (:func:`_entropy_sums`), several float64
#: copies each: a pass of its own, in ``partial_fit`` too, kept small beside the data.
_ENTROPY_CHUNK = 1024

#: Below this many multiply-adds in a minibatch's largest matrix product, a fit runs
#: on one BLAS thread: small products gain nothing from more threads, and lose a lot
#: when another process holds a core.
_MULTITHREAD_MIN_MACS = 2**24

#: The independent random streams of a fit, in the order they are spawned.
_STREAMS = ("init", "shuffle", "split", "noise", "guide")

#: True while ``fit_transform`` / ``fit_predict`` run inference on the ``X`` that
#: ``fit`` was just given: the binary cross-entropy range warning is not repeated.
_RANGE_WARNED_BY_FIT = contextvars.ContextVar("skae_range_warned_by_fit", default=False)


@contextlib.contextmanager
def _range_warned_by_fit():
    """Inference on the data ``fit`` just warned about (context-local, thread-safe)."""
    token = _RANGE_WARNED_BY_FIT.set(True)
    try:
        yield
    finally:
        _RANGE_WARNED_BY_FIT.reset(token)


#: Frames of these packages are skipped by :func:`_outside_stacklevel` (scikit-learn
#: runs pipeline steps and cross-validation fits through joblib).
_LIBRARY_PACKAGES = frozenset({__name__.partition(".")[0], "sklearn", "joblib"})


def _outside_stacklevel():
    """The ``stacklevel`` that points a warning raised by the caller at user code.

    The first frame outside skae, scikit-learn and joblib: the line that called
    ``fit``, ``fit_transform`` or ``transform``, also through a ``Pipeline``,
    ``cross_validate`` or the Array API path, however deep the warning is raised.
    """
    frame, level = sys._getframe(2), 2
    while frame.f_back is not None and (
        str(frame.f_globals.get("__name__", "")).partition(".")[0] in _LIBRARY_PACKAGES
    ):
        frame, level = frame.f_back, level + 1
    return level


class _FitTransformMixin:
    """``fit_transform`` that warns about ``X`` once: from ``fit``, not again from inference.

    Comes before :class:`~sklearn.base.TransformerMixin` in the bases.
    """

    def fit_transform(self, X, y=None, **fit_params):
        """Fit the model to ``X`` and return ``X`` transformed.

        The same as ``fit(X, **fit_params).transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        **fit_params : dict
            Passed to ``fit`` (``sample_weight``).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            ``transform(X)`` of the fitted model.
        """
        self.fit(X, y, **fit_params)
        with _range_warned_by_fit():
            return self.transform(X)


class InconsistentVersionWarning(UserWarning):
    """A model pickled by one version of skae is loaded by another."""


def _layer_tuple(value, name):
    sizes = (value,) if isinstance(value, Integral) else tuple(value)
    for size in sizes:
        if not isinstance(size, Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"{name} must contain positive integers only, got {value!r}.")
    return tuple(int(s) for s in sizes)


def _auto_batch_size(n_samples):
    """``n_samples // 32`` clipped to [32, 128]: ~32 updates an epoch from 1024 rows on.

    ``n_samples``: the rows trained on (held-out and zero-weight rows excluded).
    """
    return int(min(n_samples, np.clip(n_samples // 32, 32, 128)))


#: ``alpha="auto"`` is this over the number of training rows (1.5e-3 at 426 rows).
_AUTO_ALPHA_SCALE = 0.64


def _resolve_alpha(alpha, n_train, scale=1.0):
    """The L2 weight of a fit on ``n_train`` rows; ``scale``: :func:`_auto_alpha_scale`'s."""
    return _AUTO_ALPHA_SCALE * scale / n_train if alpha == "auto" else float(alpha)


#: ``alpha="auto"`` on training rows whose sample weights average below this warns: the
#: penalty is over their total weight, here more than 10 times that of unit weights (the
#: outlier detector's ROC AUC on a 2-D manifold in 20-D: 0.88 at mean weight 1, 0.57 at
#: 0.1, 0.22 at 1/300, weights that sum to 1).
_LIGHT_WEIGHTS = 0.1


def _warn_of_light_weights(alpha, sample_weight, train_rows):
    """Warn where ``alpha="auto"`` meets weights that average far below 1.

    Weights normalized to sum to 1, say: ``"auto"`` counts a weight of k as k
    rows (as scikit-learn's sample-weight convention has it), so their penalty
    is ``n_samples`` times that of unit weights.
    """
    if alpha != "auto" or sample_weight is None or train_rows.size == 0:
        return
    mean = float(np.mean(sample_weight[train_rows], dtype=np.float64))
    if not mean < _LIGHT_WEIGHTS:
        return
    warnings.warn(
        f"sample_weight averages {mean:.3g} over the {train_rows.size} training rows. "
        'With alpha="auto" the L2 penalty is over the training rows\' total weight (a '
        f"weight of k counts as k rows), so these weights make it {1 / mean:.3g} times "
        "that of unit weights, which can leave the network too smooth to fit the data. "
        "Rescale sample_weight to average 1, e.g. "
        "sample_weight * len(sample_weight) / sample_weight.sum(), or set alpha to a "
        "number.",
        UserWarning,
        stacklevel=_outside_stacklevel(),
    )


#: With a validation set, ``alpha="auto"`` is this times the validation loss over the
#: number of training rows (:class:`_ValidatedPenalty`).
_AUTO_ALPHA_VALIDATED = 5.0

#: Epochs each start of a fit with ``n_init > 1`` trains before the best goes on.
_START_EPOCHS = 10

#: Starts that ``n_init="auto"`` draws for a fit whose first start is random (a guided
#: one trains alone).
_AUTO_N_INIT = 4

#: ``early_stopping="auto"`` holds rows out of data of at least this many rows (then at
#: least 20 rows at the default ``validation_fraction``).
_AUTO_EARLY_STOPPING_ROWS = 200


def _weights_as(sample_weight, dtype):
    """Validated float64 ``sample_weight`` as ``dtype``, if training can sum them in it.

    Training sums the weights and scales them to average 1 (``w · n / Σw``): the
    largest weight times the number of rows must stay below ``dtype``'s largest
    number, and the largest weight at or above its smallest normal one.
    """
    info, name = np.finfo(dtype), np.dtype(dtype).name
    largest, n = float(sample_weight.max()), sample_weight.shape[0]
    if largest > float(info.max) / n:
        problem = f"reaches {largest:.3g}: sums over {n} such weights overflow {name}"
    elif 0 < largest < float(info.tiny):
        problem = (
            f"is at most {largest:.3g}, below the smallest normal {name} number "
            f"({info.tiny:.3g}): scaling the weights to average 1 overflows"
        )
    else:
        return sample_weight.astype(dtype, copy=False)
    raise ValueError(
        f"sample_weight {problem} ({name} is the dtype of X). Rescale the weights by "
        "a constant, e.g. divide them by their maximum: only their ratios matter "
        '(but for the penalty of alpha="auto", where an estimator has it).'
    )


def _host_weights(sample_weight, rows):
    """``sample_weight`` for the rows of ``rows``: validated, on the host, in float64.

    scikit-learn's check, with errors that say what the weights must be.
    """
    if is_array(sample_weight):
        sample_weight = to_numpy(sample_weight)
    try:
        return _check_sample_weight(
            sample_weight, rows, dtype=np.float64, ensure_non_negative=True
        )
    except (TypeError, ValueError, OverflowError) as exc:  # Overflow: an int beyond floats
        kind = ValueError if isinstance(exc, OverflowError) else type(exc)
        problem = str(exc).rstrip(".!")
        if isinstance(exc, OverflowError):
            problem = f"a weight too large for a float: {problem}"
        raise kind(
            f"Invalid sample_weight ({problem}): it needs one finite, "
            f"non-negative number per row of X ({rows.shape[0]} rows); a row's "
            "weight scales its share of the loss, and 0 leaves the row out."
        ) from exc


def _score_weights(sample_weight, scores):
    """Validated ``sample_weight`` of a mean over ``scores``, or None.

    On the host in float64 and divided by their maximum: only their ratios
    matter to a weighted mean, and sums of huge weights would overflow.
    """
    if sample_weight is None:
        return None
    sample_weight = _host_weights(sample_weight, scores)
    return sample_weight / sample_weight.max()


class _ValidatedPenalty:
    """The monitor that sets ``alpha="auto"``'s L2 weight from the validation loss.

    After each epoch, ``α = c · L_val / n`` with ``L_val`` that epoch's
    validation loss (a squared error) and ``n`` the size of the training set
    (the first epoch has the plain ``"auto"`` weight, :func:`_resolve_alpha`):
    the penalty of a Gaussian prior on the weights relative to a Gaussian
    likelihood whose noise variance is what the network cannot yet explain on
    held-out rows. Data that the network reconstructs closely are penalised
    little, noisy data, on which it would overfit, more; and the penalty
    follows the data's units. The binary cross-entropy, a Bernoulli likelihood,
    has no noise variance to estimate: its weight stays :func:`_resolve_alpha`'s.
    """

    def __init__(self, objective, size, last_validation_loss=None):
        self.objective = objective
        self.scale = _AUTO_ALPHA_VALIDATED / size
        if last_validation_loss is not None and np.isfinite(last_validation_loss):
            # A warm start goes on from the validation loss of the weights it resumes.
            objective.alpha = self.scale * last_validation_loss

    def __call__(self, epoch, loss, validation_loss, seconds):
        self.objective.alpha = self.scale * validation_loss
        return False


@functools.cache
def _thread_controller():
    """One controller of the loaded thread pools: making one scans the libraries (ms)."""
    return ThreadpoolController()


_one_blas_thread_owner = threading.Lock()
_one_blas_thread_limiter = None  # the owner's, while it holds the limit


def _after_fork_in_child():
    """A process forked during a fit starts with the caller's BLAS setting, unowned."""
    global _one_blas_thread_owner, _one_blas_thread_limiter
    limiter, _one_blas_thread_limiter = _one_blas_thread_limiter, None
    _one_blas_thread_owner = threading.Lock()
    if limiter is not None:
        limiter.restore_original_limits()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS limited to one thread while this fit trains, unless another fit holds the limit.

    The limit is the process's, not the thread's: of fits running at once in
    several threads, the first to start sets it and restores the caller's
    setting when it ends, from its own thread; the others train under whatever
    is set. Were each to set and restore it, one starting inside another's
    limit would "restore" that limit after the other had ended (and
    threadpoolctl lets only one thread at a time change OpenBLAS's setting).
    """
    global _one_blas_thread_limiter
    owner = _one_blas_thread_owner
    if not owner.acquire(blocking=False):
        yield
        return
    try:
        with _thread_controller().limit(limits=1, user_api="blas") as limiter:
            _one_blas_thread_limiter = limiter
            try:
                yield
            finally:
                _one_blas_thread_limiter = None
    finally:
        owner.release()


def _blas_threads(model, batch_size):
    """One BLAS thread for networks whose products are small; else leave them be.

    Never raises the caller's limit: a context that only ever lowers it to 1.
    """
    shapes = getattr(model, "shapes", None)
    if shapes and batch_size * max(a * b for a, b in shapes) >= _MULTITHREAD_MIN_MACS:
        return contextlib.nullcontext()
    return _one_blas_thread()


def _random_streams(random_state, n_iter, n_starts=1):
    """Independent generators for one fit, as children of one ``SeedSequence``.

    An int seed gives the same streams for the same seed and the same number of
    epochs already run (``n_iter``), so a refit reproduces bitwise while a
    continued fit (warm start, ``partial_fit``) draws fresh numbers. A
    ``RandomState`` instance is consumed for the entropy, as scikit-learn does;
    None consumes NumPy's global one (:func:`~sklearn.utils.check_random_state`),
    so that ``np.random.seed`` makes such fits reproducible, as in scikit-learn.

    Returns one dict of streams per start (``n_starts`` of them, see ``n_init``):
    the first start's are those of a fit with a single start, the others come
    from sibling seed sequences of the same entropy.
    """
    if isinstance(random_state, Integral):
        entropy = int(random_state)
    else:
        random_state = check_random_state(random_state)
        # int64: C long (the default) is 32 bits on Windows with NumPy 1.x.
        entropy = [int(v) for v in random_state.randint(0, 2**32, size=4, dtype=np.int64)]
    keys = [(int(n_iter),)] + [(int(n_iter), start) for start in range(1, n_starts)]
    return [
        {
            name: np.random.default_rng(child)
            for name, child in zip(
                _STREAMS,
                np.random.SeedSequence(entropy, spawn_key=key).spawn(len(_STREAMS)),
                strict=True,
            )
        }
        for key in keys
    ]


_CONVERSION_ERRORS = (
    "could not convert",
    "cannot cast",
    "argument must be a string or a real number",
    "unable to convert",
    "invalid literal",
    "could not be promoted",
)


def _non_numeric_columns(X):
    """Names of the columns of data frame ``X`` that do not convert to numbers.

    None for arrays. A column converts if NumPy makes floats of it: numbers of
    object dtype and categoricals of numbers do, strings, dates and durations
    do not.
    """
    if isinstance(X, np.ndarray) or sp.issparse(X):
        return []
    is_pandas = type(X).__module__.startswith("pandas")
    try:
        if _is_arrow_table(X):  # its columns are the column arrays, its names apart
            columns = [(name, X.column(i)) for i, name in enumerate(X.column_names)]
        elif not hasattr(X, "columns"):
            return []
        elif is_pandas:  # by position: names may repeat
            columns = [(name, X.iloc[:, i]) for i, name in enumerate(X.columns)]
        else:
            columns = [(name, X[name]) for name in X.columns]
    except Exception:  # not a frame this reads: the caller keeps its own message
        return []
    names = []
    for name, column in columns:
        try:
            dtype = getattr(column, "dtype", None)  # pandas, polars; pyarrow's is "type"
            if dtype is None:
                dtype = getattr(column, "type", None)
            if _is_temporal(dtype):
                raise TypeError  # NumPy would cast dates and durations to floats
            if is_pandas:  # nullable dtypes hold pd.NA, a missing value
                column.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                np.asarray(column, dtype=np.float64)
        except (TypeError, ValueError):
            names.append(name)
    return names


def _columns_of_numbers_beside_na(X):
    """Names of the columns of pandas ``X`` that hold numbers and pd.NA (else [])."""
    if not type(X).__module__.startswith("pandas") or not hasattr(X, "columns"):
        return []
    names = []
    for i, name in enumerate(X.columns):
        column = X.iloc[:, i]
        if not (column.dtype == object or str(column.dtype).startswith("str")):
            continue
        try:
            if column.isna().any():
                column.astype("Float64")  # what the message advises
                names.append(str(name))
        except (TypeError, ValueError):
            continue
    return names


def _temporal_columns(X):
    """Names of the columns of data frame ``X`` holding dates, times or durations.

    None for arrays. scikit-learn's validation turns polars ones into numbers
    (days or microseconds since an epoch); NumPy refuses pandas ones.
    """
    if sp.issparse(X):
        return []
    if _is_arrow_table(X):
        return [field.name for field in X.schema if _is_temporal(field.type)]
    if not (hasattr(X, "dtypes") and hasattr(X, "columns")):
        return []
    return [name for name, dtype in zip(X.columns, list(X.dtypes), strict=True)
            if _is_temporal(dtype)]


def _is_arrow_table(X):
    """Whether ``X`` is a pyarrow Table (or RecordBatch), which scikit-learn reads too."""
    return type(X).__module__.startswith("pyarrow") and hasattr(X, "column_names")


def _is_complex(X):
    """Whether array ``X`` (NumPy, sparse, or of an Array API namespace) holds complex numbers."""
    return "complex" in str(getattr(X, "dtype", ""))


def _names_complex(message):
    """Whether a validation error is about complex numbers (in an array, a frame or a list)."""
    return message.startswith("Complex data not supported") or "not 'complex'" in message


def _complex_error(name):
    return ValueError(
        f"Complex data not supported: {name} needs real numbers. Pass the part you mean "
        "(X.real, abs(X)), or both as separate columns, e.g. np.hstack([X.real, X.imag])."
    )


def _overflow_error(exc):
    """The error for input holding Python integers too large for a float."""
    return ValueError(
        f"Input X holds a number too large for a float ({exc}): scale X into float64's "
        "range first, e.g. divide it by a power of ten."
    )


def _refuse_duplicate_columns(X, name):
    """Raise, naming them, if data frame ``X`` repeats column names.

    scikit-learn's feature-name check would raise a bare narwhals DuplicateError.
    pandas and polars frames list their names in ``columns``; a pyarrow Table in
    ``column_names`` (its ``columns`` are the column arrays).
    """
    if isinstance(X, np.ndarray) or sp.issparse(X):
        return
    names = getattr(X, "column_names", None)
    if names is None:
        names = getattr(X, "columns", None)
    if names is None or not np.iterable(names) or isinstance(names, str):
        return
    seen, repeated = set(), []
    for column in list(names):
        try:
            if column in seen and column not in repeated:
                repeated.append(column)
            seen.add(column)
        except TypeError:  # not a name: not a data frame scikit-learn reads names of
            return
    if repeated:
        raise ValueError(
            f"X has duplicate column names {[str(c) for c in repeated]}: {name} needs "
            "distinct ones, as scikit-learn's estimators do. Rename them (e.g. "
            "X.columns = [...]), or pass X.to_numpy() where the names do not matter."
        )


def _check_codes(estimator, X, dtype=(np.float64, np.float32)):
    """The codes ``X`` given to ``inverse_transform``, checked, with errors that say what to do."""
    name = f"{type(estimator).__name__}.inverse_transform"
    problem = estimator._array_api_problem(fitted=True)
    if problem is not None and namespace_and_device(X)[0] is not None:
        raise ValueError(problem)  # Array API codes for a NumPy-only model, as _check_X
    if _is_complex(X):
        raise _complex_error(name)
    if hasattr(X, "__next__") and not hasattr(X, "__array__"):
        raise TypeError(
            f"X is an iterator ({type(X).__name__}): {name} takes an array of codes, "
            "e.g. np.asarray(list(X))."
        )
    _refuse_duplicate_columns(X, name)
    try:
        # Huge codes can overflow the finiteness check's sum, which then checks each value.
        with np.errstate(over="ignore", invalid="ignore"):
            X = check_array(X, dtype=list(dtype), input_name="X")
    except OverflowError as exc:
        raise _overflow_error(exc) from exc
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if message.startswith("Input X contains"):  # NaN or infinity
            raise ValueError(
                f"{message.rstrip('.')}: {name} decodes codes, which are finite numbers "
                "like those transform returns."
            ) from exc
        if message.startswith("Sparse data was passed"):
            raise TypeError(
                f"{name} takes dense codes, like those transform returns, and X is "
                "sparse: pass X.toarray()."
            ) from exc
        if _names_complex(message):
            raise _complex_error(name) from None
        if any(words in message.lower() for words in _CONVERSION_ERRORS):
            raise type(exc)(
                f"{name} takes codes, numbers like those transform returns ({message})."
            ) from exc
        raise
    n_components = estimator._n_features_out
    if X.shape[1] != n_components:
        raise ValueError(
            f"X has {X.shape[1]} columns, but {name} expects codes of width "
            f"n_components = {n_components}."
        )
    return X


_SCALE_ADVICE = (
    "Scale X as the training data were scaled (e.g. with the same StandardScaler, in a "
    "Pipeline), or fit the model on data of that range."
)
_CODES_ADVICE = "Decode codes like those transform returns for data of the training range."


def _refuse_overflow(estimator, values, what, xp=None, advice=_SCALE_ADVICE):
    """Raise if inference on finite input gave non-finite ``values`` (the network overflowed).

    ``values`` has one row per input row; ``what`` names them for the message
    (``"codes"``, ``"reconstructions"``, ``"imputed values"``); ``xp``: the
    namespace of an Array API array (None for NumPy).
    """
    if xp is None:
        bad = ~np.isfinite(values)
        if values.ndim > 1:
            bad = bad.any(axis=1)
        if not bad.any():
            return
        rows = np.flatnonzero(bad)
        first, count = int(rows[0]), rows.size
    else:
        bad = ~xp.isfinite(values)
        if values.ndim > 1:
            bad = xp.any(bad, axis=1)
        count = int(xp.sum(xp.astype(bad, xp.int64)))
        if not count:
            return
        first = int(xp.argmax(xp.astype(bad, xp.int8)))
    raise ValueError(
        f"The {what} of {count} row(s) of X (the first: row {first}) overflow "
        f"{values.dtype}: their values lie far beyond those {type(estimator).__name__} was "
        f"trained on. {advice}"
    )


def _check_summed_duplicates(X):
    """Refuse a sparse ``X`` whose duplicate entries, which mean their sum, overflow."""
    most_stored = int(np.diff(X.indptr).max(initial=0))  # entries of a row (CSR) or column
    if most_stored * float(np.nanmax(np.abs(X.data), initial=0.0)) < np.finfo(X.dtype).max:
        return  # no sum of stored entries can overflow: no copy
    canonical = X.copy()
    canonical.sum_duplicates()
    if np.isinf(canonical.data).any():
        raise ValueError(
            f"Input X contains infinity or a value too large for {X.dtype!r}: entries "
            "stored more than once in the sparse matrix mean their sum, which "
            "overflows. Store each entry once (X.sum_duplicates() shows the sums), "
            "scaled to a range the dtype holds."
        )


def _finite_in_float64(X):
    """Whether ``X`` (as given, any namespace) holds no infinity in float64."""
    if is_array(X) and not isinstance(X, np.ndarray):
        X = to_numpy(X)
    try:
        check_array(
            X,
            accept_sparse=True,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            ensure_min_samples=0,
            ensure_min_features=0,
        )
    except (TypeError, ValueError):
        return False
    return True


def _beyond_float64(X):
    """Whether ``X``, which is not finite in float64, holds no infinity in a long double.

    Numbers beyond float64's range (a long double's, or text such as "1e400") read
    as infinities there; in a long double of larger range (x86's) they are finite,
    so then the infinities came from the cast.
    """
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        return False  # no wider type to tell them apart
    try:
        values = X.data if sp.issparse(X) else X
        return not np.isinf(np.asarray(values, dtype=np.longdouble)).any()
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return False


def _dtype_name(dtype):
    """``"float32"`` for NumPy's float32, PyTorch's, or another namespace's."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


def _is_temporal(dtype):
    """Whether a NumPy, pandas, polars or pyarrow dtype holds dates, times or durations."""
    if type(dtype).__module__.startswith("pyarrow"):
        import pyarrow.types  # installed: the data are pyarrow's

        if pyarrow.types.is_dictionary(dtype):
            dtype = dtype.value_type
        return pyarrow.types.is_temporal(dtype)
    dtype = getattr(getattr(dtype, "categories", None), "dtype", dtype)  # a categorical's
    is_temporal = getattr(dtype, "is_temporal", None)  # polars
    return getattr(dtype, "kind", None) in ("m", "M") or (callable(is_temporal) and is_temporal())


class _BaseAutoencoder(ArrayAPIMixin, BaseEstimator):
    """What the family shares: validation, random streams, fitted state, inference.

    Subclasses define ``_parameter_constraints``, ``__init__`` and the public
    methods; ``_architecture(n_features)`` and ``_objective_params()`` say what
    to train.
    """

    #: Whether the estimator standardizes its inputs itself (advice on divergence).
    _standardizes_inputs = False

    # -- input validation -------------------------------------------------------------------
    def _check_training_X(self, X, continuing, incremental, dtype):
        """:meth:`_check_X` of a fit's ``X``; a continued fit's other features get advice."""
        try:
            return self._check_X(X, reset=not continuing, dtype=dtype)
        except ValueError as error:
            message = str(error)
            other_features = continuing and (
                re.match(r"X has \d+ features?, but ", message)
                or message.startswith("The feature names should match")
            )
            if not other_features:
                raise
            how = "partial_fit" if incremental else "A fit with warm_start=True"
            if not incremental:
                new = "set warm_start=False"
            else:  # fit goes on training too where warm_start is set
                new = "set warm_start=False and call fit" if self.warm_start else "call fit"
            raise ValueError(
                f"{message.rstrip()}\n{how} goes on training the fitted network, whose "
                f"input is the {self.n_features_in_} features it was fitted on: give X "
                f"those features, or {new} to train a new network on these."
            ) from None

    def _check_X(self, X, *, reset, dtype=(np.float64, np.float32)):
        """``validate_data`` for every method that takes data, with errors that say what to do.

        What is accepted follows the input tags: sparse matrices (``sparse``) and
        NaN (``allow_nan``; infinities are refused either way). Where NaN is
        refused it gets advice for a Pipeline instead of scikit-learn's
        supervised-learning hint; text or other non-numeric data (naming the
        columns of a data frame) gets advice to encode it. Other errors pass
        unchanged.
        """
        name = type(self).__name__
        problem = self._array_api_problem(fitted=not reset)
        if problem is not None and namespace_and_device(X)[0] is not None:
            raise ValueError(problem)  # an Array API input to a NumPy-only estimator
        input_tags = self.__sklearn_tags__().input_tags
        if isinstance(X, np.ndarray) and _is_temporal(X.dtype):
            raise ValueError(
                f"X holds dates or durations ({X.dtype}), which {name} would read as "
                "numbers since an epoch: convert them to the numbers you mean first."
            )
        temporal = _temporal_columns(X)
        if temporal:
            others = [c for c in _non_numeric_columns(X) if c not in temporal]
            label = "Column {} of X holds" if len(temporal) == 1 else "Columns {} of X hold"
            message = (
                f"{label.format([str(c) for c in temporal])} dates, times or durations, "
                f"which {name} would read as numbers since an epoch: convert them to the "
                "numbers you mean first (e.g. days since a reference date, or the year "
                "and month as features)."
            )
            if others:
                message += f" {self._non_numeric_error(others)}"
            raise ValueError(message)
        if _is_complex(X):
            raise _complex_error(name)
        if hasattr(X, "__next__") and not hasattr(X, "__array__"):  # one object to NumPy
            raise TypeError(
                f"X is an iterator ({type(X).__name__}): {name} needs array-like data "
                "(an array, a list of rows, a data frame or a sparse matrix), e.g. "
                "np.asarray(list(X))."
            )
        _refuse_duplicate_columns(X, name)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a cast that overflows: refused
                X = validate_data(
                    self,
                    X,
                    reset=reset,
                    accept_sparse=["csr", "csc"] if input_tags.sparse else False,
                    dtype=list(dtype),
                    ensure_all_finite="allow-nan" if input_tags.allow_nan else True,
                )
        except OverflowError as exc:  # Python integers beyond float64
            raise _overflow_error(exc) from exc
        except (TypeError, ValueError) as exc:
            message = str(exc)
            if (
                message.startswith("Input X contains infinity")
                and len(dtype) == 1
                and _finite_in_float64(X)
            ):
                # A continued fit casts X to the fitted model's dtype.
                dtype_name = _dtype_name(dtype[0])
                how = (
                    "fit with warm_start=False, or a new estimator's partial_fit"
                    if hasattr(self, "partial_fit")
                    else "fit with warm_start=False"
                )
                raise ValueError(
                    f"{message} The model was fitted in {dtype_name} and goes on "
                    f"training in it, so X is cast to {dtype_name}: scale X into that "
                    f"dtype's range, or train a new model on data of the dtype you need "
                    f"({how})."
                ) from exc
            if message.startswith("Input X contains infinity"):
                if _beyond_float64(X):
                    raise ValueError(
                        "Input X holds finite numbers beyond float64's range (as a long "
                        "double or as text, e.g. 1e400): scale X into float64's range "
                        "first, e.g. divide it by a power of ten."
                    ) from exc
                raise ValueError(
                    f"{message} Replace the infinities with finite values, or "
                    f"{self._infinity_advice(input_tags.allow_nan)}."
                ) from exc
            if message.startswith("Input X contains NaN"):
                raise ValueError(
                    f"Input X contains NaN. {name} does not accept missing values yet: "
                    "impute them first in a Pipeline, e.g. make_pipeline(SimpleImputer(), "
                    f"StandardScaler(), {name}())."
                ) from exc
            if message.startswith("Sparse data was passed"):
                raise TypeError(
                    f"{name} needs dense input, and X is sparse: pass X.toarray(), or "
                    "have the steps before it output dense arrays, e.g. "
                    "OneHotEncoder(sparse_output=False) or "
                    "make_column_transformer(..., sparse_threshold=0)."
                ) from exc
            if _names_complex(message):  # e.g. a frame's column, a list of complex numbers
                raise _complex_error(name) from None  # not scikit-learn's copy of the data
            if not any(words in message.lower() for words in _CONVERSION_ERRORS):
                raise
            columns = _non_numeric_columns(X)
            if columns:
                raise self._non_numeric_error(columns) from exc
            if "NAType" in message:  # numbers of object (or string) dtype beside pd.NA
                held = _columns_of_numbers_beside_na(X)
                where = f"column {held}" if held else "a column"
                raise type(exc)(
                    f"Input X holds pd.NA in {where} of dtype object or string ({message}): "
                    "convert them to pandas' nullable float dtype first, "
                    "X.astype('Float64'), which reads pd.NA as a missing value."
                ) from exc
            # Keep the exception's type: scikit-learn's checks expect a TypeError
            # for objects that are neither numbers nor strings.
            raise type(exc)(
                f"Input X contains non-numeric data ({message}): {self._encoding_advice()}"
            ) from exc
        if sp.issparse(X) and not X.has_canonical_format:
            _check_summed_duplicates(X)
        return X

    def _encoding_advice(self):
        """What to do with data that are not numbers: encode them in a ColumnTransformer."""
        name = type(self).__name__
        encoder = "OneHotEncoder(sparse_output=False, handle_unknown='ignore')"
        return (
            f"{name} needs numbers; encode categorical columns first, e.g. with "
            "OneHotEncoder in a ColumnTransformer: ct = make_column_transformer("
            f"({encoder}, categorical_columns), remainder=StandardScaler()), then "
            + (
                f"make_pipeline(ct, {name}(categorical_groups=categorical_groups_from("
                "ct.fit(X)))) to treat each one-hot block as one categorical feature "
                "(columns with missing values: give the encoder categories=[sorted("
                "X[c].dropna().unique()) for c in categorical_columns], so that a missing "
                "value is an all-zero block, read as missing)."
                if "categorical_groups" in self.get_params()
                else f"make_pipeline(ct, {name}())."
            )
        )

    def _non_numeric_error(self, columns):
        """The error naming the data frame's ``columns`` that are not numbers."""
        label = "Column {} of X is" if len(columns) == 1 else "Columns {} of X are"
        return ValueError(
            f"{label.format([str(c) for c in columns])} non-numeric: {self._encoding_advice()}"
        )

    def _check_sample_weight(self, sample_weight, X, dtype=None):
        """``sample_weight`` for the rows of ``X``: a NumPy array of ``dtype`` (X's), or None.

        Validated in float64 on the host (a weight too large or too small for
        ``dtype`` gets its own error, :func:`_weights_as`, rather than becoming
        infinite or zero in the cast); ``X`` may be an Array API array.
        """
        if sample_weight is None:
            return None
        host_rows = X if isinstance(X, np.ndarray) or sp.issparse(X) else np.empty(X.shape[0])
        sample_weight = _host_weights(sample_weight, host_rows)
        return _weights_as(sample_weight, X.dtype if dtype is None else dtype)

    # -- what a subclass defines -------------------------------------------------------------
    def _spec(self, n_features):
        """What the model is, as a dict: compared when continuing, stored as ``_<key>``."""
        raise NotImplementedError

    def _build_model(self, spec, dtype, params=None):
        """The model for ``spec``: has ``params``, ``grad`` and ``initialize(rng)``."""
        raise NotImplementedError

    def _build_objective(self, model, streams, n_train, alpha_scale=1.0, continuing=False):
        """The objective of ``model`` on ``n_train`` rows (or weight): see skae._objectives.

        ``alpha_scale``: :func:`_auto_alpha_scale` of the training rows, for
        ``alpha="auto"``; ``continuing``: whether the fit goes on from the fitted
        model (a warm start or ``partial_fit``).
        """
        raise NotImplementedError

    def _model_attributes(self, spec, params):
        """The fitted attributes of a model of ``spec`` whose parameters are ``params``."""
        raise NotImplementedError

    def _restore_views(self):
        """Rebuild the fitted attributes that are views into ``_params`` (after loading)."""
        raise NotImplementedError

    def _objective_attributes(self, objective):
        """Fitted attributes that the training objective carries, as a dict.

        ``{}`` by default; the VAE keeps the seed of its validation draws, which a
        warm start reuses.
        """
        return {}

    def _fitted_extras(self, attributes, X, sample_weight):
        """Fitted attributes that need the fitted model and the training data, as a dict.

        ``attributes`` are the model's (:meth:`_model_attributes`); ``X`` and
        ``sample_weight`` the validated training data. Computed on a copy of
        the estimator holding ``attributes``, so that a fit sets them in the
        same step as the model's (another thread never sees one without the
        other) and a callback snapshot gets its own; a snapshot's are computed
        once per model state and shared by its snapshots, so immutable values
        only. ``{}`` by default.
        """
        return {}

    def _refuse_unobserved_groups(self, X, spec, train_rows):
        """Refuse categorical groups that no training row observes.

        ``train_rows``: the rows the network trains on (of positive weight).
        Nothing of a group they never observe could be learned: its
        reconstruction would be an arbitrary category. A fresh ``fit`` checks;
        ``partial_fit`` and warm starts, whose later data may observe it, do not.
        """
        groups = spec.get("categorical_groups", ())
        if not groups:
            return
        unobserved = unobserved_groups(X, groups, train_rows)
        if unobserved:
            raise ValueError(
                f"The categorical group {unobserved[0]} is missing (no entry an observed 1) "
                "in every training row (of positive weight), so the network could learn "
                "nothing of it and would reconstruct it as an arbitrary category. Leave it "
                "out of categorical_groups, or fit on rows where it is observed."
            )

    #: Whether a fresh fit warns of features no training row observes (an estimator
    #: that handles them itself, as the imputer drops them, says no).
    _warns_of_unobserved_features = True

    def _warn_of_unobserved_features(self, X, spec, train_rows, sample_weight, missing):
        """Warn of numeric features that no training row (of positive weight) observes.

        The network learns nothing of them: their reconstruction is arbitrary,
        and counts in the scores of later data that observe them. A fresh ``fit``
        checks, as for categorical groups (refused there); ``partial_fit`` and warm
        starts, whose later data may observe them, do not.
        """
        if not self._warns_of_unobserved_features:
            return
        seen, _ = _column_values(X, train_rows, sample_weight, missing)
        in_groups = [j for group in spec.get("categorical_groups", ()) for j in group]
        seen[in_groups] = True  # refused above where unobserved
        (unseen,) = np.nonzero(~seen)
        if unseen.size == 0:
            return
        warnings.warn(
            f"Feature(s) {self._feature_list(unseen)} have no observed entry in the "
            "training rows (of positive weight): the network learns nothing of them and "
            "reconstructs them arbitrarily, which counts in the scores of data that "
            "observe them. Drop them (as scikit-learn's imputers do), or fit on rows "
            "where they are observed.",
            UserWarning,
            stacklevel=_outside_stacklevel(),
        )

    def _warn_of_unscaled_features(self, X, train_rows, sample_weight, missing):
        """Warn of features whose scale the model trains poorly on; the VAE's does."""

    def _feature_list(self, indices, shown=5):
        """The features at ``indices`` for a message: the first ``shown``, then a count.

        By name where the estimator was fitted with feature names.
        """
        names = getattr(self, "feature_names_in_", None)
        listed = ", ".join(str(j if names is None else names[j]) for j in indices[:shown])
        more = len(indices) - shown
        return listed + (f" and {more} more" if more > 0 else "")

    def _train_on_every_group(self, X, spec, train_rows, validation_rows):
        """Move held-out rows that alone observe a categorical group into training.

        A group observed only in rows held out for early stopping (missing in
        every training row) could not be learned; those rows train instead
        (deterministically: a warm start's split moves the same rows). Returns
        ``(train_rows, validation_rows)``, the latter None if no row is left to
        hold out (an error with ``early_stopping=True``).
        """
        groups = spec.get("categorical_groups", ())
        unobserved = unobserved_groups(X, groups, train_rows) if groups else []
        if not unobserved:
            return train_rows, validation_rows
        moved = validation_rows[rows_observing(X, unobserved, validation_rows)]
        if moved.size == 0:
            return train_rows, validation_rows
        train_rows = np.union1d(train_rows, moved)
        validation_rows = np.setdiff1d(validation_rows, moved, assume_unique=True)
        if validation_rows.size:
            return train_rows, validation_rows
        if not isinstance(self.early_stopping, str):
            raise ValueError(
                "early_stopping=True holds rows out for validation, but every row held out "
                "alone observes a categorical group, and trains instead: no row is left to "
                "validate on. Use early_stopping=False, or more data."
            )
        return train_rows, None

    def _training_data(self, X, continuing):
        """The data the network trains on, from validated ``X``, and what was learned.

        Returns ``(data, fitted)``: ``X`` itself and ``{}`` by default. A
        subclass that preprocesses (the imputer standardizes) returns a new
        array and the fitted attributes it learned doing so, which are set with
        the model's when the fit succeeds; ``continuing`` says whether the fit
        continues from a fitted model. Never write ``X``.
        """
        return X, {}

    def _missing_entries(self, spec, X):
        """How missing entries are handled for ``spec``: a MissingEntries, or None.

        None (the plain path) unless ``X`` holds a NaN or ``spec`` has
        categorical groups or appends the mask to the inputs.
        """
        groups = spec.get("categorical_groups", ())
        as_input = spec.get("mask_as_input", False)
        if not (groups or as_input or has_missing(X)):
            return None
        return MissingEntries(X.shape[1], groups, as_input=as_input)

    #: How :meth:`fit` draws the initial weights (:meth:`skae._model.Network.initialize`).
    _init_scheme = "he"

    def _guided_init(self, X, spec, missing, n_train):
        """Whether a fresh fit guides its first start (:mod:`skae._guide`); no by default."""
        return False

    def _guiding(
        self, X, spec, missing, n_train, train_rows, sample_weight, all_streams, *, fresh
    ):
        """``guide(start_streams, model)``: guides the first start's model, or none.

        ``guide`` returns whether it guided ``model`` (False where the start stays
        random).

        The first start of a ``fresh`` fit (not a warm start, not
        :meth:`partial_fit`) is guided where :meth:`_guided_init` says
        so; every other start stays random. Both engines call it; the embedding
        is computed once, when the first start is built, on the host.
        """
        if not (fresh and self._guided_init(X, spec, missing, n_train)):
            return lambda start_streams, model: False
        first = all_streams[0]
        embedding = functools.cache(
            lambda: self._guide(X, train_rows, sample_weight, spec, first["guide"])
        )

        def guide(start_streams, model):
            return start_streams is first and self._start_guided(
                model, embedding(), first["guide"]
            )

        return guide

    def _guide(self, X, train_rows, sample_weight, spec, rng):
        """``(rows, embedding, None)`` for the guided starts, or ``(rows, None, reason)``.

        ``X`` is the validated data: NumPy or SciPy, or an Array API engine's
        device array, whose drawn rows are copied to the host. The rows are
        dense copies.
        """
        rows = guide_rows(train_rows, sample_weight, rng)
        xp, device = namespace_and_device(X)
        if xp is not None:
            X_rows = to_numpy(xp.take(X, xp.asarray(rows, device=device), axis=0))
        else:
            X_rows = X[rows]
            X_rows = X_rows.toarray() if sp.issparse(X_rows) else np.asarray(X_rows)
        with _one_blas_thread():
            # On one BLAS thread, as small networks train: a guided fit is then the
            # same bit for bit whatever the caller's thread count (the eigensolver's
            # last bits change with it, and training amplifies them).
            Z, reason = isomap_embedding(X_rows, spec["layer_sizes"][spec["n_encoder_layers"]])
        return X_rows, Z, reason

    def _start_guided(self, model, guide, rng):
        """Train ``model``'s halves on ``guide`` (:meth:`_guide`), from its random weights.

        Small networks train on one BLAS thread, as in :meth:`fit`. Where there
        is no embedding, or a regression diverged, the start stays random;
        ``init="isomap"`` says so with a UserWarning. Returns whether the start
        is guided.
        """
        X_rows, Z, reason = guide
        if Z is not None:
            with _blas_threads(model, GUIDE_BATCH_SIZE):
                if guided_start(model, X_rows, Z, rng, self.learning_rate_init, self.loss):
                    return True
            reason = "a regression onto the embedding diverged (scale the data)"
        if getattr(self, "init", None) == "isomap":
            warnings.warn(
                f"init='isomap': the first start is random, as with init='random': {reason}.",
                UserWarning,
                stacklevel=_outside_stacklevel(),
            )
        return False

    def _n_starts(self):
        """Number of random starts of a fresh fit (``n_init`` where an estimator has it).

        The most that compete: see :meth:`_guided_start_alone`.
        """
        return 1

    def _guided_start_alone(self):
        """Whether a guided first start trains alone, without the other starts' contest."""
        return False

    def _plateau_window(self):
        """Epochs whose mean monitored loss the stopping rule watches (1: each epoch's)."""
        return 1

    def _stop_patience(self, validated):
        """Epochs in a row without improvement that end training (None: the schedule decides).

        ``validated``: whether rows are held out (the best epoch's weights are kept).
        """
        return None

    def _validates(self, n_samples, sample_weight=None):
        """Whether a fit on ``n_samples`` rows holds some out (``early_stopping``).

        ``"auto"`` holds rows out from :data:`_AUTO_EARLY_STOPPING_ROWS` rows of
        positive weight on (``fit`` passes a zero weight for rows with every entry
        missing), unless the objective trades reconstruction for something
        else (denoising with ``noise_level > 0``, sparse codes, contraction),
        which a validation loss of reconstruction alone would end early. (The
        split then also needs that many distinct rows: ``min_distinct`` of
        :func:`~skae._data.validation_split`.)
        """
        if isinstance(self.early_stopping, str):
            if sample_weight is not None:
                n_samples = int(np.count_nonzero(np.asarray(sample_weight) > 0))
            trades = (
                (getattr(self, "noise", None) is not None and self.noise_level > 0)
                or getattr(self, "sparsity", 0)
                or getattr(self, "contraction", 0)
            )
            return n_samples >= _AUTO_EARLY_STOPPING_ROWS and not trades
        return bool(self.early_stopping)

    def _start_epochs(self):
        """Epochs each start trains before the best goes on."""
        return _START_EPOCHS

    def _validation_sets_alpha(self):
        """Whether the validation loss, where rows are held out, sets the L2 weight."""
        return False

    def _penalty_monitor(self, objective, validated, size, continuing=False):
        """A monitor that sets the objective's L2 weight as training goes, or None.

        None here: the weight is :func:`_resolve_alpha`'s throughout. ``validated``
        says whether rows are held out; ``size`` is the training set's;
        ``continuing``, whether this fit goes on from the fitted one.
        """
        return None

    def _plateau_floor(self, floor, validated):
        """The least monitored loss: the stopping rule's tolerance counts the loss above it.

        ``floor()`` is that of :func:`_loss_floor`, for the validation rows when
        ``validated``, else for the training rows. 0 here: the variational
        autoencoder monitors its negative ELBO per row, not a reconstruction loss
        per variable, and its tolerance stays relative to that whole loss.
        """
        return 0.0

    def _plateau_scale(self, observed_per_row):
        """An absolute scale of the stopping rule's tolerance (``tol · scale``), or None.

        None here: the tolerance is relative to the loss above its floor
        (:meth:`_plateau_floor`). ``observed_per_row()`` is the monitored rows'
        mean number of observed entries (sample-weighted).
        """
        return None

    def _without_spread(self, X, rows, sample_weight, missing):
        """Whether the targets a fit trains on have no spread for a relative tolerance.

        Then its tolerance is absolute (:data:`~skae._training.CONSTANT_TARGETS_SCALE`):
        here, where every column of ``X``'s ``rows`` (those trained on and held out) is
        constant (:func:`_constant_columns`).
        """
        return _constant_columns(X, rows, sample_weight, missing)

    def _training_monitors(self, context):
        """Extra monitors of the loop (:mod:`skae._training`); none by default.

        ``context`` has ``X``, ``sample_weight``, ``train_rows``, ``source``,
        ``objective``, ``streams`` and ``n_iter`` (the epochs run before this
        call: the first epoch of the call is number ``n_iter + 1``).
        """
        return []

    # -- fitting ----------------------------------------------------------------------------
    def _fit(self, X, sample_weight, incremental):
        saved_state = dict(self.__dict__)
        try:
            return self._fit_unsafe(X, sample_weight, incremental)
        except BaseException:
            restore_state(self, saved_state)  # a failed fit leaves the estimator as it was
            raise

    def _check_continuation(self, spec, incremental):
        """Refuse to continue a fit with a model other than the fitted one."""
        how = "partial_fit" if incremental else "warm_start"
        remedy = (
            "Call fit, or partial_fit on a new estimator, to train another."
            if incremental
            else "Refit with warm_start=False."
        )
        shape_keys = ("layer_sizes", "n_encoder_layers")
        # A named setting first: mask_as_input changes the layer sizes too.
        for key in sorted(spec, key=lambda key: key in shape_keys):
            value, fitted = spec[key], getattr(self, f"_{key}")
            if value == fitted:
                continue
            if key in shape_keys:
                raise ValueError(
                    f"The network's layer sizes {spec['layer_sizes']} (the code at layer "
                    f"{spec['n_encoder_layers']}) differ from the fitted ones "
                    f"{self._layer_sizes} (the code at layer {self._n_encoder_layers}); "
                    f"{how} cannot change the architecture (hidden_layer_sizes, "
                    f"n_components, decoder_layer_sizes). {remedy}"
                )
            raise ValueError(
                f"The {key} {value!r} differs from the fitted {fitted!r}; {how} cannot "
                f"change it. {remedy}"
            )

    def _check_noise_level(self):
        """The noise to draw (None without), its level checked against its kind."""
        noise = getattr(self, "noise", None)
        if noise in ("masking", "salt_and_pepper") and self.noise_level > 1:
            raise ValueError(
                f"noise_level is the fraction of entries corrupted by noise={noise!r} "
                f"and must be in [0, 1], got {self.noise_level}."
            )
        return noise

    def _previous_noise_bounds(self, continuing, incremental):
        """The feature bounds that salt-and-pepper noise widens, or None to start afresh.

        ``partial_fit`` calls widen the bounds of all the data seen so far, as
        ``MinMaxScaler.partial_fit`` does (a chunk of one row has no range of its
        own); ``fit`` takes its own data's.
        """
        if not (continuing and incremental):
            return None
        bounds = getattr(self, "_noise_bounds", None)
        return None if bounds is None else tuple(to_numpy(b) for b in bounds)

    def _corruption(self, X, train_rows, rng, bounds=None, groups=()):
        """The input corruption of a denoising fit (None without), and its feature bounds.

        With ``"salt_and_pepper"`` noise the bounds are ``X``'s training rows'
        (:func:`~skae._data.feature_bounds`) widening ``bounds``; other noise
        passes ``bounds`` on as they are. Masking noise hides each of the
        categorical ``groups`` as a whole; salt-and-pepper noise sets it to a
        random category.
        """
        noise = self._check_noise_level()
        if noise is None:
            return None, bounds
        low = high = None
        if noise == "salt_and_pepper":
            bounds = feature_bounds(X, train_rows, bounds)
            low, high = feature_range(bounds, X.dtype)
        return Corruption(noise, self.noise_level, rng, low, high, groups), bounds

    def _warn_about_range(self, X, loss=None, fitted=False):
        """Binary cross-entropy on data outside [0, 1] trains (or scores), but warns.

        Not inside :func:`_range_warned_by_fit`: ``fit`` has just warned about ``X``.
        ``fitted``: the data go through a fitted model (inference), ``loss`` its loss.
        """
        if (loss or getattr(self, "loss", None)) != "binary_crossentropy":
            return
        if _RANGE_WARNED_BY_FIT.get():
            return
        values = X.data if sp.issparse(X) else X
        if not values.size:
            return
        # The observed entries' range, without a copy of them: fmin and fmax skip NaN.
        low = float(np.fmin.reduce(values, axis=None))
        high = float(np.fmax.reduce(values, axis=None))
        slack = _unit_interval_slack(values.dtype)
        if low < -slack or high > 1 + slack:
            shown = f"{high:.3g}" if f"{high:.3g}" != "1" else repr(high)  # not 1 if above
            advice = (
                "Scale new data as the training data were scaled (e.g. with the same "
                "MinMaxScaler(clip=True), in a Pipeline), or refit with "
                'loss="squared_error".'
                if fitted
                else 'Rescale X (e.g. with MinMaxScaler) or use loss="squared_error".'
            )
            model = "this model was fitted with " if fitted else ""
            warnings.warn(
                f'{model}loss="binary_crossentropy", which expects data in [0, 1], but X '
                f"ranges over [{low:.3g}, {shown}]: the loss is unbounded below "
                f"there and the reconstructions stay in [0, 1]. {advice}",
                UserWarning,
                stacklevel=_outside_stacklevel(),
            )

    def _fit_unsafe(self, X, sample_weight, incremental):
        xp, device = namespace_and_device(X)
        if xp is not None:  # a PyTorch, CuPy, ... array with array_api_dispatch on
            return self._fit_array_api(X, sample_weight, incremental, xp, device)
        continuing = (incremental or self.warm_start) and self.__sklearn_is_fitted__()
        if continuing:
            check_same_namespace(X, self, method="partial_fit" if incremental else "fit")
        X = self._check_training_X(
            X,
            continuing,
            incremental,
            dtype=(self._params.dtype,) if continuing else (np.float64, np.float32),
        )
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()  # row gathers need CSR (a converted copy; the caller's is kept)
        sample_weight = self._check_sample_weight(sample_weight, X)
        X, learned = self._training_data(X, continuing)
        spec = self._spec(X.shape[1])
        if continuing:
            self._check_continuation(spec, incremental)
        self._warn_about_range(X, fitted=continuing)
        missing = self._missing_entries(spec, X)
        if missing is not None:
            missing.check_one_hot(X)

        n_iter = self.n_iter_ if continuing else 0
        n_starts = 1 if continuing or incremental else self._n_starts()
        all_streams = _random_streams(self.random_state, n_iter, n_starts)
        streams = all_streams[0]

        validation_seed = getattr(self, "_validation_seed", None) if continuing else None
        train_rows, validation_rows, keys = np.arange(X.shape[0]), None, None
        # Rows with no observed entry neither count towards "auto" nor are held out.
        split_weight = sample_weight
        if self.early_stopping and not incremental:
            split_weight = observed_weight(X, sample_weight, spec.get("categorical_groups", ()))
        if not incremental and self._validates(X.shape[0], split_weight):
            if validation_seed is None:
                validation_seed = int(streams["split"].integers(2**31 - 1))
            train_rows, validation_rows, keys = validation_split(
                X,
                split_weight,
                self.validation_fraction,
                validation_seed,
                required=not isinstance(self.early_stopping, str),
                min_distinct=_AUTO_EARLY_STOPPING_ROWS,
                return_keys=True,
            )
        if sample_weight is not None:
            # A weight of zero leaves the row out, as if it were not there: it is in
            # no minibatch (where 0 · inf would turn a huge row's loss into NaN).
            train_rows = train_rows[sample_weight[train_rows] > 0]
        if missing is not None and validation_rows is not None:
            train_rows, validation_rows = self._train_on_every_group(
                X, spec, train_rows, validation_rows
            )
        # Which rows this fit holds out, of which data (after the moves just above).
        split = None if validation_rows is None else split_record(keys, validation_rows)
        if continuing and split is not None:
            self._warn_of_trained_validation_rows(split)
        if missing is not None and not (continuing or incremental):
            self._refuse_unobserved_groups(X, spec, train_rows)
            self._warn_of_unobserved_features(X, spec, train_rows, sample_weight, missing)
        if not continuing:
            self._warn_of_unscaled_features(X, train_rows, sample_weight, missing)
        _warn_of_light_weights(getattr(self, "alpha", None), sample_weight, train_rows)
        n_train = train_rows.size
        if self.batch_size == "auto":
            batch_size = _auto_batch_size(n_train)
        else:
            batch_size = min(self.batch_size, n_train)
        corruption, noise_bounds = self._corruption(
            X,
            train_rows,
            streams["noise"],
            self._previous_noise_bounds(continuing, incremental),
            spec.get("categorical_groups", ()),
        )
        source = BatchSource(
            X,
            train_rows,
            sample_weight,
            batch_size,
            shuffle=self.shuffle,
            corruption=corruption,
            mask=missing,
        )
        # The size of the training set, in rows or (with sample weights) in weight.
        size = n_train if sample_weight is None else float(sample_weight[train_rows].sum())
        max_epochs = 1 if incremental else self.max_iter
        own_monitors = [print_epoch] if self.verbose else []
        validation_buffers = {}
        # The least monitored loss (validation loss with rows held out, else training
        # loss), computed once the stopping rule needs it, for all starts.
        monitored_rows = train_rows if validation_rows is None else validation_rows
        loss = getattr(self, "loss", None)
        # The training rows' entropy sums: the floor's, without held-out rows, and
        # the penalty scale's, in one pass.
        train_sums = functools.cache(
            lambda: _entropy_sums(X, train_rows, sample_weight, missing)
        )
        floor = functools.cache(
            lambda: _loss_floor(loss, X, monitored_rows, sample_weight, missing)
            if validation_rows is not None or loss != "binary_crossentropy"
            else _floor_of(train_sums())
        )
        # A partial_fit call's one epoch sees no plateau: no scale to compute for it.
        plateau_scale = None if incremental else self._plateau_scale(
            lambda: _observed_per_row(X, monitored_rows, sample_weight, missing)
        )
        fit_rows = (
            train_rows if validation_rows is None
            else np.concatenate([train_rows, validation_rows])
        )
        if plateau_scale is None and not incremental and self._without_spread(
            X, fit_rows, sample_weight, missing
        ):
            # No spread for a relative tolerance to hold on to: a unit scale.
            plateau_scale = CONSTANT_TARGETS_SCALE
        # What alpha="auto" is scaled by for the loss (1 but for the cross-entropy;
        # a fit's, not a partial_fit call's: its penalty follows the chunk).
        alpha_scale = functools.cache(
            lambda: _scale_of(train_sums(), missing, X.shape[1])
            if getattr(self, "alpha", None) == "auto"
            and loss == "binary_crossentropy"
            and not incremental
            else 1.0
        )

        guide = self._guiding(
            X, spec, missing, n_train, train_rows, sample_weight, all_streams,
            fresh=not (continuing or incremental),
        )

        def start(start_streams):
            """A model, its optimizer and objective, ready to train from one start."""
            guided = False
            model = self._build_model(
                spec, X.dtype, self._params.copy() if continuing else None
            )
            if not continuing:
                model.initialize(start_streams["init"], self._init_scheme)
                guided = guide(start_streams, model)
            optimizer = Adam(
                model.params,
                learning_rate=self.learning_rate_init,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                state=self._optimizer_state if continuing else None,
                warmup_steps=warmup_steps(source) if guided else 0,
            )
            objective = self._build_objective(
                model, start_streams, size, alpha_scale(), continuing=continuing
            )
            validate = None
            if validation_rows is not None:
                validate = _validation_loss(
                    objective, X, validation_rows, sample_weight, missing, validation_buffers
                )
            penalty = self._penalty_monitor(objective, validate is not None, size, continuing)
            schedule = None if incremental else Schedule(self.learning_rate, optimizer, max_epochs)
            monitors = [*([] if penalty is None else [penalty]), *own_monitors]

            progress = SimpleNamespace(result=None)  # read by the snapshots, as it trains

            def run(epochs, *, result=None, **kwargs):
                if source.corruption is not None:  # each start draws its own noise
                    source.corruption.rng = start_streams["noise"]
                progress.result = TrainingResult() if result is None else result
                return train(
                    objective,
                    optimizer,
                    source,
                    rng=start_streams["shuffle"],
                    max_epochs=epochs,
                    result=progress.result,
                    validate=validate,
                    tol=self.tol,
                    n_iter_no_change=self.n_iter_no_change,
                    plateau_window=self._plateau_window(),
                    patience=self._stop_patience(validate is not None),
                    floor=0.0 if incremental else self._plateau_floor(floor, validate is not None),
                    scale=plateau_scale,
                    schedule=schedule,
                    **{"first_epoch": n_iter + 1, "monitors": monitors, **kwargs},
                )

            return SimpleNamespace(
                model=model,
                optimizer=optimizer,
                objective=objective,
                monitors=monitors,
                run=run,
                progress=progress,
                guided=guided,
            )

        context = {
            "X": X,
            "sample_weight": sample_weight,
            "train_rows": train_rows,
            "alpha_scale": alpha_scale,
            "source": source,
            "streams": streams,
            "n_iter": n_iter,
        }

        # What the fit's history attributes depend on, besides the optimizer and result.
        history = dict(
            continuing=continuing,
            n_iter=n_iter,
            validated=validation_rows is not None,
            validation_seed=validation_seed,
            split=split,
        )

        def state(chosen):
            def snapshot(n):
                # As a stop now would leave it: with rows held out, the best epoch's.
                result = chosen.progress.result
                result = TrainingResult() if result is None else result
                best = result.best_params
                params = chosen.model.params if best is None else best
                return {
                    **copy.deepcopy(learned),  # what preprocessing learned (the imputer's)
                    **self._model_attributes(spec, params.copy()),
                    **self._objective_attributes(chosen.objective),
                    "_noise_bounds": copy.deepcopy(noise_bounds),  # the snapshot's own
                    # The optimizer's state() is a copy: the snapshot's own.
                    **self._history_attributes(chosen.optimizer.state(), result, **history),
                    "n_iter_": n,
                }

            return snapshot

        chosen, result = self._train_from_starts(
            start,
            all_streams,
            max_epochs,
            n_iter,
            context,
            state,
            threads=lambda first: _blas_threads(first.model, source.batch_size),
        )
        model, optimizer = chosen.model, chosen.optimizer
        optimizer.learning_rate = self.learning_rate_init  # the saved state is the rate-free part

        # Commit the fitted state all at once.
        attributes = {
            **learned,
            **self._model_attributes(spec, model.params),
            **self._objective_attributes(chosen.objective),
            "_noise_bounds": noise_bounds,
        }
        attributes.update(self._fitted_extras(attributes, X, sample_weight))
        self._commit_fit(
            attributes,
            optimizer,
            result,
            **history,
        )
        self._warn_about_stop(
            result,
            incremental,
            lambda: self._unconverged_advice(X, fit_rows, sample_weight, missing),
        )
        return self

    def _train_from_starts(
        self, start, all_streams, max_epochs, n_iter, context, state, threads=None
    ):
        """Train from the best of the random starts, then go on to the end (both engines).

        ``start(streams)`` returns a candidate (``run(max_epochs, **train_kwargs)``,
        its ``objective`` and its list of ``monitors``, which ``run`` uses)
        initialised from one dict of ``all_streams`` and saying whether it is
        ``guided``; with more than one, each trains :meth:`_start_epochs`
        epochs and the best goes on (:func:`~skae._training.best_start`),
        unless the first is guided and :meth:`_guided_start_alone` (it then
        trains alone). Every epoch of every start is
        reported to the monitors: ``verbose``, the subclass's
        (:meth:`_training_monitors`, given ``context`` and the candidate's
        ``objective``) and the callbacks', whose snapshot is ``state(candidate)``
        of the candidate a stop would keep (the leading start while they compete).
        ``threads(candidate)`` is the context to train in. Returns the chosen
        candidate and its :class:`~skae._training.TrainingResult`.

        A divergence that ``alpha="auto"`` may explain (sample weights summing
        to less than one row's), or the penalties and Gaussian noise in use,
        says so.
        """
        try:
            return self._run_starts(
                start, all_streams, max_epochs, n_iter, context, state, threads
            )
        except DivergenceError as error:
            message = str(error)
            if self._standardizes_inputs:  # scaling X cannot help
                message = message.replace(SCALING_ADVICE, RATE_ADVICE)
            hints = [
                h
                for h in (
                    self._auto_alpha_hint(context),
                    self._settings_hint(),
                    self._training_data_hint(context),
                    # X as given (an estimator that standardizes trains on its own).
                    None if self._standardizes_inputs else _float32_hint(context["X"]),
                )
                if h
            ]
            if message == str(error) and not hints:
                raise
            raise DivergenceError(" ".join([message, *hints])) from error

    def _infinity_advice(self, allow_nan):
        """What else to do with the infinities of X, after "replace them with finite values"."""
        return "mark them missing (NaN)" if allow_nan else "drop those rows"

    def _training_data_hint(self, context):
        """What in the training data can explain a divergence, or None.

        ``context["X"]`` is the data as :meth:`_training_data` made them; the
        estimators that standardize their inputs say what there could diverge.
        """
        return None

    def _settings_hint(self):
        """The penalties and noise in use that can make training diverge too, or None."""
        settings = {}
        alpha = getattr(self, "alpha", None)
        if isinstance(alpha, Real) and alpha >= 1:
            settings["alpha"] = alpha
        for name in ("sparsity", "contraction"):  # weights of the order of the loss's, or more
            if getattr(self, name, 0) >= 1:
                settings[name] = getattr(self, name)
        if getattr(self, "noise", None) == "gaussian" and self.noise_level >= 1:
            settings["noise_level"] = self.noise_level  # noise as large as standardized data
        if not settings:
            return None
        listed = ", ".join(f"{name}={value!r}" for name, value in settings.items())
        return f"Strong penalties or noise can make it diverge too: lower {listed}."

    def _auto_alpha_hint(self, context):
        """Why ``alpha="auto"`` may be too strong for these sample weights, or None."""
        weights = context["sample_weight"]
        if getattr(self, "alpha", None) != "auto" or weights is None:
            return None
        size = float(weights[context["train_rows"]].sum())
        scale = context["alpha_scale"]()
        alpha = _resolve_alpha("auto", size, scale)
        if alpha < 1:
            return None
        scaled = "" if scale == 1.0 else f" (times {scale:.3g}, for the loss's units)"
        return (
            f'With alpha="auto" the L2 penalty is {_AUTO_ALPHA_SCALE}{scaled} over the '
            f"training rows' total sample weight ({size:.3g}), here {alpha:.3g}: rescale "
            "sample_weight so that it counts rows (e.g. divide it by its mean), or set "
            "alpha to a number."
        )

    def _run_starts(self, start, all_streams, max_epochs, n_iter, context, state, threads):
        """:meth:`_train_from_starts` without its explanation of a divergence."""
        n_starts = len(all_streams)
        current = []
        leader = SimpleNamespace(candidate=None, result=None, score=math.inf)
        memo = SimpleNamespace(key=None, extras=None)

        def snapshot(n):
            """The model a stop now leaves: the leading start's while starts compete.

            Each call copies the weights; the extras (:meth:`_fitted_extras`)
            are computed once per model state: an epoch ends and the next
            begins on the same model, and a start that trails leaves the
            leader's in place.
            """
            candidate = current[-1]
            if leader.candidate is not None and leader.candidate is not candidate:
                if not start_score(candidate.progress.result) < leader.score:
                    candidate, n = leader.candidate, n_iter + leader.result.n_epochs
            attributes = state(candidate)(n)
            result = candidate.progress.result
            key = (0 if result is None else result.n_epochs, n)
            if memo.key is None or memo.key[0] is not result or memo.key[1:] != key:
                extras = self._fitted_extras(
                    attributes, context["X"], context["sample_weight"]
                )
                memo.key, memo.extras = (result, *key), extras
            return {**attributes, **memo.extras}

        def lead(candidate, result, score):
            leader.candidate, leader.result, leader.score = candidate, result, score

        callback = epoch_monitor(self, snapshot)
        callbacks = [] if callback is None else [callback]

        def alone(first):
            """Whether the first start trains without a contest."""
            return n_starts == 1 or (first.guided and self._guided_start_alone())

        def starts():
            for k, start_streams in enumerate(all_streams, 1):
                candidate = start(start_streams)
                if self.verbose and not (k == 1 and alone(candidate)):
                    print(f"Start {k} of {n_starts}:", flush=True)
                candidate.monitors += self._training_monitors(
                    SimpleNamespace(**context, objective=candidate.objective)
                )
                candidate.monitors += callbacks
                current[:] = [candidate]
                yield candidate

        try:
            candidates = starts()
            first = next(candidates)
            with contextlib.nullcontext() if threads is None else threads(first):
                if alone(first):
                    return first, first.run(max_epochs)
                chosen, result = best_start(
                    itertools.chain([first], candidates),
                    min(self._start_epochs(), max_epochs),
                    on_leader=lead if callback is not None else None,
                )
                done = result.n_epochs
                if (
                    result.converged
                    or result.interrupted
                    or result.stopped_by_monitor
                    or done >= max_epochs
                ):
                    return chosen, result
                current[:] = [chosen]
                if self.verbose:
                    print(f"Going on from the best start, {done} epochs in:", flush=True)
                result = chosen.run(
                    max_epochs - done, first_epoch=n_iter + 1 + done, result=result
                )
            return chosen, result
        finally:
            # The starts' monitors refer back to these: drop them, so that no cycle
            # keeps a start's model and optimizer alive after the fit.
            current.clear()
            leader.candidate = leader.result = None
            memo.key = memo.extras = None

    def _epoch_budget(self):
        """Most epochs a :meth:`fit` trains, every start's included (the callbacks' count).

        An upper bound: fixed before the data are seen, it counts the starts of
        ``n_init="auto"`` that a guided first start does without.
        """
        continuing = self.warm_start and self.__sklearn_is_fitted__()
        n_starts = 1 if continuing else self._n_starts()
        return self.max_iter + (n_starts - 1) * min(self._start_epochs(), self.max_iter)

    def _warn_of_trained_validation_rows(self, split):
        """Warn if a warm start may hold out rows that an earlier fit of this model trained on.

        A warm start holds out the rows the first fit did (the same seed, by row
        content) only with the same ``validation_fraction`` and sample weights:
        another share is another split (not nested: identical rows and weights
        move its edges), other weights move its edges too, and a fit that held
        out none, or a ``partial_fit``, trained on them all.
        ``_clean_validation_fraction`` is the share every fit so far held out (0
        for none, NaN when they differed). ``_clean_split`` is the digest of the
        rows they split and the keys of those they all held out
        (:func:`~skae._data.split_record`), for fits of the same rows: the record
        starts again at a fit of other rows, whose overlap with the earlier ones
        it cannot tell. ``split`` is this fit's record.
        """
        clean = getattr(self, "_clean_validation_fraction", None)
        if clean is None:
            return
        earlier = getattr(self, "_clean_split", None)
        if clean == self.validation_fraction and (
            earlier is None
            or earlier["rows"] != split["rows"]  # other rows
            or np.isin(split["held_out"], earlier["held_out"], assume_unique=True).all()
        ):
            return
        if clean == self.validation_fraction:
            why = (
                "it holds out rows of the same data that an earlier fit of this warm "
                "start trained on (other sample weights move the split's edges)"
            )
            remedy = "fit from scratch (warm_start=False)"
        elif clean == 0:
            why = (
                "an earlier fit of this warm start trained on every row it was given "
                "(without early stopping, or by partial_fit)"
            )
            remedy = "fit from scratch (warm_start=False)"
        elif math.isnan(clean):
            why = (
                "earlier fits of this warm start held out different rows (another "
                "validation_fraction, or none) and trained on the others"
            )
            remedy = "fit from scratch (warm_start=False)"
        else:
            why = (
                f"an earlier fit of this warm start held out validation_fraction={clean:g} "
                f"and trained on the rest, while this one holds out "
                f"{self.validation_fraction:g}, another split"
            )
            remedy = f"keep validation_fraction={clean:g}, or fit from scratch"
        sets_alpha = " (and sets alpha='auto')" if self._validation_sets_alpha() else ""
        warnings.warn(
            f"Early stopping validates on rows the model may have trained on: {why}. "
            "If X holds the rows it was fitted on, the validation loss that stops "
            f"training{sets_alpha} reads low; to validate on unseen rows, {remedy}.",
            UserWarning,
            stacklevel=_outside_stacklevel(),
        )

    def _commit_fit(
        self, attributes, optimizer, result, *, continuing, n_iter, validated, validation_seed,
        split,
    ):
        """Set every fitted attribute of a fit that succeeded, at once (both engines).

        ``attributes`` are the model's (:meth:`_model_attributes`); the others
        are :meth:`_history_attributes`.
        """
        history = self._history_attributes(
            optimizer.state(),
            result,
            continuing=continuing,
            n_iter=n_iter,
            validated=validated,
            validation_seed=validation_seed,
            split=split,
        )
        # One update of the estimator's dict: another thread reading the model sees
        # the old one or the new one, never a mix.
        self.__dict__.update({**attributes, **history})

    def _history_attributes(
        self, optimizer_state, result, *, continuing, n_iter, validated, validation_seed, split
    ):
        """The fitted attributes of training so far: the optimizer's state, counts, curves.

        What a fit that ends with ``result`` sets besides the model (its commit,
        and a callback's snapshot of it); the curves of a continued fit are
        appended to, with NaN for epochs without validation. A first fit with
        no epoch yet (a snapshot of the initial weights) has empty curves and
        no loss.
        """
        previous_curve = self.validation_loss_curve_ if continuing else None
        if validated:
            new_entries = list(result.validation_loss_curve)
        else:
            new_entries = [float("nan")] * result.n_epochs
        if previous_curve is None and not validated:
            validation_curve = None
        elif previous_curve is None:
            validation_curve = [float("nan")] * n_iter + new_entries
        else:
            validation_curve = list(previous_curve) + new_entries
        if validated and result.n_epochs:
            best_validation_loss = float(result.best_validation_loss)
        else:
            best_validation_loss = self.best_validation_loss_ if continuing else None
        loss_curve = (list(self.loss_curve_) if continuing else []) + list(result.loss_curve)
        # The validation_fraction every fit so far held out (0: one trained on every
        # row; NaN: they held out different shares, so different rows): the rows a
        # warm start holds out are unseen only with that fraction (see
        # _warn_of_trained_validation_rows). None for a model pickled without it.
        held_out = self.validation_fraction if validated else 0.0
        clean = getattr(self, "_clean_validation_fraction", None) if continuing else held_out
        if clean is not None and clean != held_out:
            clean = float("nan")
        # Likewise the rows of the same data that every fit held out, none trained on
        # them (split_record: the data's digest, the held-out rows' keys); a fit of
        # other rows starts the record again.
        earlier = getattr(self, "_clean_split", None) if continuing else None
        clean_split = earlier
        if validated:
            if earlier is None or earlier["rows"] != split["rows"]:
                clean_split = split
            else:
                held_out = np.intersect1d(
                    earlier["held_out"], split["held_out"], assume_unique=True
                )
                clean_split = {"rows": split["rows"], "held_out": held_out}
        return {
            "_optimizer_state": optimizer_state,
            "_validation_seed": validation_seed,
            "_clean_validation_fraction": clean,
            "_clean_split": clean_split,
            "n_iter_": n_iter + result.n_epochs,
            "t_": (self.t_ if continuing else 0) + result.n_samples_seen,
            "loss_curve_": loss_curve,
            "loss_": loss_curve[-1] if loss_curve else None,
            "best_loss_": float(min(loss_curve)) if loss_curve else None,
            "validation_loss_curve_": validation_curve,
            "best_validation_loss_": best_validation_loss,
        }

    def _warn_about_stop(self, result, incremental, advice=None):
        """Warn when a fit was interrupted, or stopped at ``max_iter`` unconverged.

        The warning points at the user's line (:func:`_outside_stacklevel`);
        ``advice``, a callable, returns what to add to the ``ConvergenceWarning``.
        """
        stacklevel = _outside_stacklevel()
        if result.interrupted:
            kept = (
                "the weights of its best validation epoch"
                if result.validation_loss_curve
                else "the weights of its last complete epoch"
            )
            warnings.warn(
                f"Training was interrupted after {result.n_epochs} complete epoch(s); "
                f"the model keeps {kept}.",
                UserWarning,
                stacklevel=stacklevel,
            )
        elif not (incremental or result.converged or result.stopped_by_monitor):
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet. Raise max_iter"
                + (
                    ", or go on training with warm_start=True"
                    if "warm_start" in self.get_params()
                    else ""
                )
                + " (loss_curve_ shows how far it got)."
                + (advice() if advice is not None else ""),
                ConvergenceWarning,
                stacklevel=stacklevel,
            )

    def _unconverged_advice(self, X, rows, sample_weight, missing):
        """What to add to the ``ConvergenceWarning`` of a fit out of epochs.

        ``""`` by default, or sentences with a leading space, on ``X``'s ``rows``
        (those trained on and held out). Called after the fitted state is set.
        """
        return ""

    # -- fitted state -----------------------------------------------------------------------
    def __sklearn_is_fitted__(self):
        return hasattr(self, "_params")

    def __getstate__(self):
        # BaseEstimator.__getstate__ returns the live __dict__ for classes outside
        # sklearn: copy it before editing, or pickling would damage the model.
        state = dict(super().__getstate__())
        for name in (*_VIEW_ATTRIBUTES, *_FIT_CALL_ATTRIBUTES):
            state.pop(name, None)
        from . import __version__

        state["_skae_version"] = __version__
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        pickled_version = state.pop("_skae_version", None)
        if pickled_version is not None and pickled_version != __version__:
            warnings.warn(
                f"Trying to unpickle a {type(self).__name__} from skae version "
                f"{pickled_version} when using version {__version__}. This might lead "
                "to breaking code or invalid results. Use at your own risk.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
        if "_params" in state:
            self._restore_views()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = self._array_api_problem() is None
        return tags

    # -- inference --------------------------------------------------------------------------
    def _chunks(self, n_samples):
        # Temporaries per row: a few layers' outputs. Capped well below scikit-learn's
        # working_memory default, so that a large input streams in modest chunks.
        row_bytes = 4 * max(self._layer_sizes) * self._params.dtype.itemsize
        working_memory = min(get_config()["working_memory"], _INFERENCE_MEMORY_MIB)
        n_rows = get_chunk_n_rows(row_bytes, max_n_rows=n_samples, working_memory=working_memory)
        if n_rows >= n_samples:  # one chunk: spares a small call gen_batches' validation
            return (slice(0, n_samples),)
        return gen_batches(n_samples, n_rows)

    def _validate_input(self, X):
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        X = X.tocsr() if sp.issparse(X) else X
        groups = getattr(self, "_categorical_groups", ())
        if groups:
            MissingEntries(X.shape[1], groups).check_one_hot(X)
        # Scores and reconstructions of such data mean little (BCE is unbounded below).
        self._warn_about_range(X, loss=self._loss, fitted=True)
        return X

    def _inference_missing(self, X, *, scoring=False):
        """The MissingEntries for inference on validated ``X``, or None (plain path).

        Needed when ``X`` has a NaN, when the model takes the mask as inputs, and,
        for ``scoring``, when it has categorical groups (an all-zero group is missing).
        """
        groups = getattr(self, "_categorical_groups", ())
        as_input = getattr(self, "_mask_as_input", False)
        if not ((scoring and groups) or as_input or has_missing(X)):
            return None
        return MissingEntries(X.shape[1], groups, as_input=as_input)

    def _filled_chunk(self, X, rows, missing):
        """Rows ``rows`` of ``X``, dense, missing entries 0: (network inputs, filled, mask)."""
        chunk = X[rows]
        chunk = chunk.toarray() if sp.issparse(chunk) else np.array(chunk)
        observed = np.empty_like(chunk)
        missing.fill(chunk, observed)
        return missing.network_inputs(chunk, observed), chunk, observed

    def _sample_errors(self, X, *, with_counts=False):
        """Per-sample reconstruction error of validated ``X``, in chunks.

        With missing entries (or categorical groups), the mean loss over each
        row's observed variables: NaN for a row with none. ``with_counts`` also
        returns the rows' numbers of observed variables (None on the plain path).
        """
        objective = self._objective()
        errors = np.empty(X.shape[0], dtype=np.float64)
        missing = self._inference_missing(X, scoring=True)
        if missing is None:
            # A reconstruction that overflows scores -inf: NumPy's warnings say nothing more.
            with np.errstate(over="ignore", invalid="ignore"):
                for rows in self._chunks(X.shape[0]):
                    chunk = X[rows]
                    chunk = chunk.toarray() if sp.issparse(chunk) else chunk
                    errors[rows] = objective.sample_errors(chunk)
            # X is finite: only a reconstruction that overflowed gives NaN, or an
            # infinite error (-inf too: binary cross-entropy off [0, 1] is unbounded below).
            errors[~np.isfinite(errors)] = np.inf
            return (errors, None) if with_counts else errors
        counts = np.empty(X.shape[0], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for rows in self._chunks(X.shape[0]):
                inputs, chunk, observed = self._filled_chunk(X, rows, missing)
                errors[rows] = objective.observed_errors(inputs, chunk, observed)
                counts[rows] = missing.row_counts(observed)
        errors[~np.isfinite(errors)] = np.inf
        with np.errstate(invalid="ignore", divide="ignore"):
            errors /= counts
        errors[counts == 0] = np.nan
        return (errors, counts) if with_counts else errors


def _row_errors(objective, X, rows, buffers):
    """Per-sample reconstruction errors of ``rows`` of ``X`` (dense, memmap or CSR).

    Rows are gathered in chunks into the reused arrays of ``buffers`` (a dict).
    """
    errors = np.empty(rows.size, dtype=np.float64)
    for start in range(0, rows.size, _VALIDATION_CHUNK):
        chunk = rows[start : start + _VALIDATION_CHUNK]
        buf = buffers.get(chunk.size)
        if buf is None:
            buf = buffers[chunk.size] = np.empty((chunk.size, X.shape[1]), dtype=X.dtype)
        errors[start : start + chunk.size] = objective.sample_errors(gather_rows(X, chunk, buf))
    return errors


def _validation_loss(objective, X, rows, sample_weight, missing=None, buffers=None):
    """``validate()`` for the loop: the weighted mean reconstruction error over ``rows``.

    With missing entries, the validation rows' mean loss over observed variables,
    ``Σ_i w_i Σ_v M_iv ℓ_iv / Σ_i w_i Σ_v M_iv``, as the training loss defines it.
    ``buffers`` (a dict) holds the gathered rows' buffers; the random starts of a
    fit share one.
    """
    weights = None if sample_weight is None else sample_weight[rows]
    if missing is not None:
        return _masked_validation_loss(objective, X, rows, weights, missing)
    buffers = {} if buffers is None else buffers

    def validate():
        return weighted_mean(_row_errors(objective, X, rows, buffers), weights)

    return validate


def _unit_interval_slack(dtype):
    """How far out of [0, 1] a value still counts as in it (``√eps`` of ``dtype``).

    Rounding errors, as MinMaxScaler's output can carry, are in range.
    """
    return float(np.sqrt(np.finfo(dtype).eps))


def _loss_floor(loss, X, rows, sample_weight, missing=None):
    """The least reconstruction loss of ``X``'s ``rows`` any reconstruction reaches.

    0 for the squared error. The binary cross-entropy of an entry ``t`` is least,
    its binary entropy ``H(t)``, at the logit of ``t``; its floor is the rows'
    ``H`` averaged as :func:`_validation_loss` averages the loss (categorical
    groups' one-hot targets add 0). Targets off [0, 1] beyond rounding
    (:func:`_unit_interval_slack`), where that loss has no least value, give 0.
    For the validation rows it is the least validation loss; for the training
    rows, the least training loss before penalties.
    """
    if loss != "binary_crossentropy":
        return 0.0
    return _floor_of(_entropy_sums(X, rows, sample_weight, missing))


def _auto_alpha_scale(loss, X, rows, sample_weight, missing=None):
    """What ``alpha="auto"``'s ``0.64 / n`` is multiplied by for the loss of ``X``'s ``rows``.

    1 for the squared error: the 0.64 is set for standardized data, whose loss
    when every feature is reconstructed as its mean is 1. For the binary
    cross-entropy, that loss in its own units: the cross-entropy of reconstructing
    every feature as its (weighted, observed) mean, a categorical group as its
    categories' frequencies, above the targets' entropy (:func:`_loss_floor`),
    which no reconstruction removes; between 0 and log 2. Targets off [0, 1]
    beyond rounding give 1.
    """
    if loss != "binary_crossentropy":
        return 1.0
    return _scale_of(_entropy_sums(X, rows, sample_weight, missing), missing, X.shape[1])


def _floor_of(sums):
    """:func:`_loss_floor` from :func:`_entropy_sums`' result."""
    if sums is None or sums.denominator <= 0:
        return 0.0
    return sums.entropy / sums.denominator


def _scale_of(sums, missing, n_features):
    """:func:`_auto_alpha_scale` from :func:`_entropy_sums`' result."""
    if sums is None or sums.denominator <= 0:
        return 1.0
    counts, totals = sums.counts, sums.totals
    in_group = np.zeros(n_features, dtype=bool)
    mean_loss = 0.0
    for g in () if missing is None else missing.groups:
        in_group[g] = True
        if counts[g[0]] > 0:  # the group's columns share their observed weight
            mean_loss += counts[g[0]] * float(entr(totals[g] / counts[g[0]]).sum())
    numeric = ~in_group & (counts > 0)
    p = np.clip(totals[numeric] / counts[numeric], 0.0, 1.0)
    mean_loss += float(np.dot(counts[numeric], binary_entropy(p)))
    return max(mean_loss - sums.entropy, 0.0) / sums.denominator


def _entropy_sums(X, rows, sample_weight, missing=None):
    """Sums over ``X``'s ``rows`` for :func:`_loss_floor` and :func:`_auto_alpha_scale`.

    A namespace of ``entropy`` (``Σ w H(t)`` over the observed entries),
    ``denominator`` (``Σ w`` times each row's observed variables, as
    :func:`_validation_loss` averages), and per column ``totals`` (``Σ w t``) and
    ``counts`` (``Σ w`` over the rows observing it); None if a target lies off
    [0, 1] beyond rounding. Sparse rows without missing entries are read as
    stored (zeros add no entropy); dense rows in chunks within scikit-learn's
    ``working_memory``.
    """
    slack = _unit_interval_slack(X.dtype)
    d = X.shape[1]
    # Its callers take ratios of these sums: weights brought near 1 cannot overflow them.
    weights = np.ones(rows.size) if sample_weight is None else unit_scaled(sample_weight[rows])
    if sp.issparse(X) and missing is None:
        # Zeros have entropy 0: the stored entries alone, without densifying the rows.
        T = sp.csr_array(X[rows])  # a copy of the rows, summing duplicate entries
        T.sum_duplicates()
        if T.nnz and (T.data.min() < -slack or T.data.max() > 1 + slack):
            return None
        T.data = np.clip(T.data.astype(np.float64), 0.0, 1.0)
        w = weights
        totals = np.asarray(T.T @ w, dtype=np.float64)
        T.data = binary_entropy(T.data)
        return SimpleNamespace(
            entropy=float(np.dot(w, T.sum(axis=1))),
            denominator=float(w.sum()) * d,
            totals=totals,
            counts=np.full(d, float(w.sum())),
        )
    # Rows per chunk within scikit-learn's working_memory: several float64 copies each.
    step = get_chunk_n_rows(row_bytes=6 * 8 * d, max_n_rows=_ENTROPY_CHUNK)
    entropy = denominator = 0.0
    totals, counts = np.zeros(d), np.zeros(d)
    for start in range(0, rows.size, step):
        chunk = rows[start : start + step]
        T = gather_rows(X, chunk, np.empty((chunk.size, d), dtype=X.dtype))
        w = weights[start : start + step]
        if missing is None:
            row_counts = np.full(chunk.size, d, dtype=np.float64)
            counts += float(w.sum())
        else:
            observed = np.empty_like(T)
            missing.fill(T, observed)  # missing targets become 0, whose entropy is 0
            row_counts = missing.row_counts(observed)
            counts += w @ observed
        if T.size and (T.min() < -slack or T.max() > 1 + slack):
            return None
        # A categorical group's columns are one-hot (checked), of entropy 0: the
        # entries of every column count, as the group's own least loss is 0.
        T = np.clip(T.astype(np.float64), 0.0, 1.0)
        totals += w @ T
        entropy += float(np.dot(w, binary_entropy(T).sum(axis=1)))
        denominator += float(np.dot(w, row_counts))
    return SimpleNamespace(entropy=entropy, denominator=denominator, totals=totals, counts=counts)


#: float32 data beyond this magnitude get :func:`_float32_hint` when training diverges:
#: gradients grow as the data squared, and their squares overflow float32 (3.4e38)
#: from about 1.4e9 on, whatever the rate (measured: 7.5e9 trains, 2.5e10 does not).
_FLOAT32_LARGE = 1e9


def _float32_hint(X):
    """Why float32 data of large magnitude can diverge whatever the rate, or None.

    Adam's squared gradients of such data can overflow float32's range, 3.4e38,
    where float64's holds: a lower learning rate does not help then.
    """
    if not (isinstance(X, np.ndarray) or sp.issparse(X)) or X.dtype != np.float32:
        return None  # float64, or a device array (whose fit says what it can)
    values = X.data if sp.issparse(X) else X
    with np.errstate(invalid="ignore"):
        largest = float(np.nanmax(np.abs(values), initial=0.0))
    if not largest > _FLOAT32_LARGE:
        return None
    return (
        f"X is float32 and reaches {largest:.3g}: at that scale squared gradients can "
        "overflow float32 (3.4e38) whatever the learning rate; standardize X, or pass "
        "it as float64."
    )


def _constant_columns(X, rows, sample_weight, missing=None):
    """Whether each column of ``X`` takes one value over its ``rows`` of positive weight.

    Only observed entries count. Read in chunks of rows (densified, for sparse
    ``X``), and only until a column takes a second value: the first chunks are
    small, so that data that vary cost a few rows' copy, and they double up to
    ``_VALIDATION_CHUNK`` rows (fewer for wide data).
    """
    return not _column_values(X, rows, sample_weight, missing, stop=True)[1].any()


def _constant_features(X, rows, sample_weight, missing=None):
    """Which columns of ``X`` take one value over its ``rows`` of positive weight.

    Only observed entries count; a column with none among them is not constant.
    Read as :func:`_constant_columns` says, all of the rows.
    """
    seen, varies = _column_values(X, rows, sample_weight, missing)
    return seen & ~varies


def _column_values(X, rows, sample_weight, missing=None, *, stop=False):
    """``(seen, varies)`` for each column of ``X`` over its ``rows`` of positive weight.

    Whether the column has an observed entry there, and whether it takes a second
    value (with ``stop``, reading only until a column does).
    """
    if sample_weight is not None:
        rows = rows[sample_weight[rows] > 0]
    d = X.shape[1]
    value = np.zeros(d, dtype=X.dtype)  # each column's one value, once seen
    seen = np.zeros(d, dtype=bool)
    varies = np.zeros(d, dtype=bool)
    largest = max(1, min(_VALIDATION_CHUNK, 2**22 // max(d, 1)))
    start, size = 0, min(16, largest)
    while start < rows.size:
        chunk = rows[start : start + size]
        start, size = start + size, min(2 * size, largest)
        filled = gather_rows(X, chunk, np.empty((chunk.size, d), dtype=X.dtype))
        if missing is None:
            observed = None
        else:  # missing entries become 0, and do not count
            mask = np.empty_like(filled)
            missing.fill(filled, mask)
            observed = mask.astype(bool)
        present = np.ones(d, dtype=bool) if observed is None else observed.any(axis=0)
        first = np.flatnonzero(present & ~seen)
        if first.size:
            at = 0 if observed is None else observed[:, first].argmax(axis=0)
            value[first] = filled[at, first]
            seen[first] = True
        differs = filled != value
        if observed is not None:
            differs &= observed
        varies |= differs.any(axis=0)
        if varies.all() or (stop and varies.any()):
            break  # nothing more to learn from the rows left
    return seen, varies


def _observed_per_row(X, rows, sample_weight, missing=None):
    """The mean number of observed entries of ``X``'s ``rows`` (sample-weighted)."""
    d = X.shape[1]
    if missing is None or rows.size == 0:
        return float(d)
    w = np.ones(rows.size) if sample_weight is None else sample_weight[rows]
    total = 0.0
    for start in range(0, rows.size, _VALIDATION_CHUNK):
        chunk = rows[start : start + _VALIDATION_CHUNK]
        filled = gather_rows(X, chunk, np.empty((chunk.size, d), dtype=X.dtype))
        observed = np.empty_like(filled)
        missing.fill(filled, observed)
        weights = w[start : start + _VALIDATION_CHUNK]
        total += float(np.dot(weights, missing.row_counts(observed)))
    return total / float(w.sum()) if w.sum() > 0 else float(d)


def _column_root_mean_squares(X, rows, sample_weight, missing=None):
    """Each column's root mean square over the observed entries of ``X``'s ``rows``.

    Sample-weighted; NaN for a column that none of the rows observes (or whose
    rows all weigh 0), inf for squares beyond float64.
    """
    d = X.shape[1]
    sums, counts = np.zeros(d), np.zeros(d)
    w = None if sample_weight is None else sample_weight[rows].astype(np.float64)
    if w is not None and w.size and w.max() > 0:
        w = w / w.max()  # only ratios count; a huge weight times a square overflows
    # Wide data: fewer rows a chunk (2**21 entries, with their float64 squares 25 MB).
    size = max(1, min(_VALIDATION_CHUNK, 2**21 // max(d, 1)))
    for start in range(0, rows.size, size):
        chunk = rows[start : start + size]
        filled = gather_rows(X, chunk, np.empty((chunk.size, d), dtype=X.dtype))
        weights = np.ones(chunk.size) if w is None else w[start : start + size]
        if missing is None:
            counts += weights.sum()
        else:  # missing entries become 0, and do not count
            observed = np.empty_like(filled)
            missing.fill(filled, observed)
            counts += weights @ observed
        with np.errstate(over="ignore"):
            sums += weights @ np.square(filled, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(sums / counts)


def _masked_validation_loss(objective, X, rows, weights, missing):
    """``validate()`` of :func:`_validation_loss` for data with missing entries.

    The loss per observed variable, or per row for an objective whose
    ``per_variable`` is False (the VAE's negative ELBO of the observed entries).
    """
    per_variable = getattr(objective, "per_variable", True)
    weights = None if weights is None else unit_scaled(weights)  # a ratio: no overflow
    chunks = []
    observed_weight = denominator = 0.0
    for start in range(0, rows.size, _VALIDATION_CHUNK):
        chunk = rows[start : start + _VALIDATION_CHUNK]
        filled = gather_rows(X, chunk, np.empty((chunk.size, X.shape[1]), dtype=X.dtype))
        observed = np.empty_like(filled)
        missing.fill(filled, observed)
        w = np.ones(chunk.size) if weights is None else weights[start : start + chunk.size]
        observed_weight += float(np.dot(w, missing.row_counts(observed)))
        denominator = observed_weight if per_variable else denominator + float(w.sum())
        chunks.append((missing.network_inputs(filled, observed), filled, observed, w))
    if not observed_weight > 0:
        raise ValueError(
            "The rows held out for early stopping have no observed entries (or zero "
            "weight): there is no validation loss. Use early_stopping=False or more data."
        )

    def validate():
        total = 0.0
        for inputs, filled, observed, w in chunks:
            total += float(np.dot(w, objective.observed_errors(inputs, filled, observed)))
        return total / denominator

    return validate


class _DenseAutoencoder(_BaseAutoencoder):
    """The plain network of the family: encoder, linear code layer, decoder.

    Shared by the estimators whose model is one :class:`~skae._model.Network`
    trained on an :class:`~skae._objectives.Objective` (the transformer, and the
    estimators built on it).
    """

    def _plateau_floor(self, floor, validated):
        # The reconstruction loss's own floor: for the binary cross-entropy the
        # targets' entropy, which no fit removes (the squared error's is 0).
        return floor()

    def _architecture(self, n_features):
        encoder = _layer_tuple(self.hidden_layer_sizes, "hidden_layer_sizes")
        if self.decoder_layer_sizes is None:
            decoder = encoder[::-1]
        else:
            decoder = _layer_tuple(self.decoder_layer_sizes, "decoder_layer_sizes")
        n_inputs = 2 * n_features if getattr(self, "mask_as_input", False) else n_features
        sizes = (n_inputs, *encoder, self.n_components, *decoder, n_features)
        return sizes, len(encoder) + 1

    def _spec(self, n_features):
        layer_sizes, n_encoder_layers = self._architecture(n_features)
        encoder = layer_sizes[1:n_encoder_layers]
        decoder = layer_sizes[n_encoder_layers + 1 : -1]
        if self.tied_weights and decoder != encoder[::-1]:
            raise ValueError(
                "tied_weights=True needs a mirrored decoder: leave decoder_layer_sizes=None "
                f"or give the encoder's sizes reversed, {encoder[::-1]!r} (got "
                f"{self.decoder_layer_sizes!r})."
            )
        mask_as_input = bool(getattr(self, "mask_as_input", False))
        if self.tied_weights and mask_as_input:
            raise ValueError(
                "tied_weights=True cannot be combined with mask_as_input=True: the network "
                "then has 2 * n_features inputs but n_features outputs."
            )
        return {
            "layer_sizes": layer_sizes,
            "n_encoder_layers": n_encoder_layers,
            "activation": self.activation,
            "loss": self.loss,
            "tied_weights": bool(self.tied_weights),
            "categorical_groups": check_categorical_groups(
                getattr(self, "categorical_groups", None), n_features
            ),
            "mask_as_input": mask_as_input,
        }

    def _build_model(self, spec, dtype, params=None):
        return Network(
            spec["layer_sizes"],
            spec["n_encoder_layers"],
            spec["activation"],
            tied=spec["tied_weights"],
            dtype=dtype,
            params=params,
        )

    def _build_objective(self, model, streams, n_train, alpha_scale=1.0, continuing=False):
        return Objective(
            model,
            self.loss,
            alpha=_resolve_alpha(self.alpha, n_train, alpha_scale),
            sparsity=self.sparsity,
            contraction=self.contraction,
            rng=streams["noise"],
            groups=self._spec_groups(model),
        )

    def _spec_groups(self, model):
        """The categorical groups of the model being fitted (validated again, cheaply)."""
        return check_categorical_groups(
            getattr(self, "categorical_groups", None), model.layer_sizes[-1]
        )

    def _model_attributes(self, spec, params):
        network = self._build_model(spec, params.dtype, params)
        attributes = {f"_{key}": value for key, value in spec.items()}
        attributes.update(_params=params, coefs_=network.coefs, intercepts_=network.intercepts)
        return attributes

    def _restore_views(self):
        if not isinstance(self._params, np.ndarray):
            spec = {"loss": self._loss, **self._network_spec()}
            attributes = self._array_api_attributes(spec, self._params)
            self.coefs_, self.intercepts_ = attributes["coefs_"], attributes["intercepts_"]
            return
        network = self._network()
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts

    def _network_spec(self):
        return {
            key: getattr(self, f"_{key}")
            for key in ("layer_sizes", "n_encoder_layers", "activation", "tied_weights")
        }

    def _network(self):
        spec = self._network_spec()
        return self._build_model({**spec, "loss": None}, self._params.dtype, self._params)

    def _objective(self):
        return Objective(
            self._network(), self._loss, groups=getattr(self, "_categorical_groups", ())
        )

    @property
    def _n_features_out(self):
        """Number of output features of :meth:`transform`."""
        return self._layer_sizes[self._n_encoder_layers]


class AutoencoderTransformer(
    CallbackSupportMixin,
    ClassNamePrefixFeaturesOutMixin,
    _FitTransformMixin,
    TransformerMixin,
    _DenseAutoencoder,
):
    """Autoencoder for nonlinear dimensionality reduction.

    An encoder network maps each sample to a code of ``n_components`` values
    (the linear bottleneck); a decoder maps codes back to feature space. Both are
    trained together by minibatch Adam to reconstruct the training data.
    :meth:`transform` returns the codes of new data and :meth:`inverse_transform`
    decodes codes into feature space, so the estimator can stand wherever
    :class:`~sklearn.decomposition.PCA` does, in a :class:`~sklearn.pipeline.Pipeline`
    for instance. Scale the inputs first (e.g. with
    :class:`~sklearn.preprocessing.StandardScaler`).

    The variants are options of the same estimator and combine freely: a
    denoising autoencoder (``noise``), sparse codes (``sparsity``), a contractive
    autoencoder (``contraction``) and tied weights (``tied_weights``).

    Parameters
    ----------
    n_components : int, default=2
        Width of the code layer (the bottleneck). May exceed ``n_features``
        (an overcomplete code), though it rarely helps.

    hidden_layer_sizes : array-like of int or int, default=(128, 64)
        Widths of the encoder's hidden layers, from the input towards the code.
        ``()`` gives a single linear layer each way.

    decoder_layer_sizes : array-like of int, int or None, default=None
        Widths of the decoder's hidden layers, from the code towards the output.
        None mirrors the encoder (``hidden_layer_sizes`` reversed).

    activation : {"relu", "leaky_relu", "elu", "softplus", "tanh", "logistic", \
"identity"}, default="elu"
        Activation of the hidden layers. The code layer is always linear; so is
        the output layer (see ``loss``). With ``"identity"`` the network is a
        linear autoencoder. ``"elu"`` (``a`` for ``a > 0``, else ``exp(a) - 1``)
        is smooth where ``"relu"`` bends: a ReLU network reconstructs a curved
        surface from flat pieces and needs many of them for a smooth manifold
        of several dimensions (on a 5-D manifold in 100-D, 2.8 times the held-out
        error of the ELU network of the same size), while on tables the two are
        close; on 2-D codes of curved sheets ``"relu"`` often does better (see
        the user guide and the benchmarks page of the documentation). An epoch
        costs 15–30 % more than with ``"relu"`` (an exponential per unit).

    loss : {"squared_error", "binary_crossentropy"}, default="squared_error"
        Reconstruction loss. ``"binary_crossentropy"`` is for data in [0, 1]
        (fitting on anything else warns): the output layer then produces logits
        and reconstructions are their logistic sigmoid.

    alpha : float or "auto", default="auto"
        L2 penalty: ``alpha / 2`` times the squared norm of all weight matrices
        is added to the mean reconstruction loss (biases are not penalised; a
        tied matrix counts once). ``"auto"`` follows the data: with rows held
        out (``early_stopping``), after each epoch it is ``5 · L_val / n``,
        with ``L_val`` that epoch's validation loss and ``n`` the training rows
        (the penalty of a Gaussian prior on the weights when the noise variance
        is what the network cannot yet reconstruct), so data the network
        reconstructs closely are penalised little and noisy data, on which it
        would overfit, more. Before the first epoch, and in fits without
        validation, it is ``0.64 / n`` (1.5e-3 at 426 rows), set for the
        squared error, whose loss when every feature is reconstructed as its
        mean is 1 on standardized data. With ``loss="binary_crossentropy"``, a
        Bernoulli likelihood with no noise variance to estimate, it is that
        throughout, held-out rows or not, and in :meth:`fit` times the same
        loss in its units, above the targets' entropy (the cross-entropy of the
        training rows' feature means, a categorical group's category
        frequencies, over what no reconstruction removes: up to log 2, 0.06 to
        0.2 on breast cancer, wine and digits scaled to [0, 1]; 1 for data off
        [0, 1]). A ``warm_start`` fit of the squared error after one that held
        rows out starts from ``5 · L_val / n``
        of the weights that fit kept (from ``0.64 / n`` when a :meth:`partial_fit`,
        which holds no rows out, came after it). ``n`` counts the training rows of the
        fit or of the :meth:`partial_fit` call; with ``sample_weight``, their
        total weight, so that a weight of k counts as k rows and rescaling all
        the weights rescales the penalty. For
        :meth:`partial_fit` on small chunks, set a number: the penalty of each
        call would otherwise follow the chunk's size.

    noise : {"gaussian", "masking", "salt_and_pepper"} or None, default=None
        Corrupt the training inputs, afresh for every minibatch, and train the
        network to reconstruct the clean rows (a denoising autoencoder):
        ``"gaussian"`` adds noise of standard deviation ``noise_level``;
        ``"masking"`` sets a fraction ``noise_level`` of the entries to 0 (a
        categorical group's entries together: it is hidden as a whole, as a
        missing group is, its mask entries with it under ``mask_as_input``);
        ``"salt_and_pepper"`` sets a fraction ``noise_level`` of the entries to
        their feature's minimum or maximum over the training data (over the
        data of every ``partial_fit`` call with this noise so far), and of the
        categorical groups to a category drawn uniformly. Only
        training is corrupted: :meth:`transform`, :meth:`score` and
        :meth:`score_samples` see the data as given.

    noise_level : float, default=0.1
        Standard deviation (``"gaussian"``) or fraction of corrupted entries
        (``"masking"``, ``"salt_and_pepper"``, then in [0, 1]). Only used when
        ``noise`` is not None.

    sparsity : float, default=0.0
        Weight of an L1 penalty on the codes: ``sparsity`` times the
        (sample-weighted) mean over samples of ``‖code‖₁``, the absolute values
        summed over the ``n_components`` code units. Larger values give sparser
        codes at some cost in reconstruction.

    contraction : float, default=0.0
        Weight of the contractive penalty: ``contraction`` times the
        (sample-weighted) mean over samples of ``‖∂code/∂x‖²_F``, the squared
        Frobenius norm of the encoder's Jacobian. It is estimated without bias
        with one random probe per sample and minibatch (``‖J v‖²`` with
        ``v ~ N(0, I)``, whose expectation is ``‖J‖²_F``), for encoders of any
        depth, at the cost of about one more pass through the encoder.

    tied_weights : bool, default=False
        Each decoder weight matrix is the transpose of its mirror encoder
        matrix, which halves the number of weights (the biases stay separate).
        Needs a mirrored decoder (``decoder_layer_sizes=None``, or the
        encoder's sizes reversed). ``coefs_``
        still lists every layer; the decoder's entries are transposed views of
        the encoder's.

    categorical_groups : list of sequences of int or None, default=None
        Column indices of one-hot blocks, one per categorical feature, as
        :class:`~sklearn.preprocessing.OneHotEncoder` (``drop=None``) writes
        them in a :class:`~sklearn.compose.ColumnTransformer`
        (:func:`skae.categorical_groups_from` reads them from a fitted one).
        Each group is reconstructed by a softmax over its columns and scored by
        cross-entropy, counts as one variable, and is missing as a whole unless
        one of its entries is an observed 1 (beside which NaNs are 0s): when
        all are 0 (an unknown category from ``handle_unknown="ignore"``), or
        0s and NaNs. :meth:`inverse_transform` returns
        one-hot rows (the most probable category) there. Groups must be
        disjoint, in range and have at least two columns; their entries 0 or 1.
        :meth:`fit` refuses a group missing as a whole in every training row
        (of positive weight): nothing of it could be learned; rows held out for
        early stopping that alone observe a group train instead.

    mask_as_input : bool, default=False
        Append the observed-entries mask (1 observed, 0 missing) to the
        network's inputs, so that it can tell a missing entry from an observed
        0. The first layer then has ``2 * n_features`` inputs. Not with
        ``tied_weights``.

    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"`` uses ``n_train // 32`` clipped to
        ``[32, 128]``, where ``n_train`` counts the rows trained on (not those
        held out by ``early_stopping``, nor rows of zero weight): about 32
        updates per epoch from 1024 to 4096 training rows, more above, and
        batches of 32 below. Larger than the number of training rows means
        full batch.

    learning_rate : {"constant", "adaptive", "cosine"}, default="adaptive"
        Learning-rate schedule. ``"constant"``: ``learning_rate_init``
        throughout, and training stops at the first plateau of the loss (see
        ``tol``). ``"adaptive"``: at each plateau the rate is divided by 5, and
        training stops at the plateau that would take it below
        ``learning_rate_init / 1000``, or, with rows held out
        (``early_stopping``), at a plateau right after a lowered rate with no
        improvement since (``2 * n_iter_no_change`` epochs without one: the
        lower rate did not help). ``"cosine"``: the rate at epoch ``e`` of
        ``E = max_iter`` is ``lr_min + (learning_rate_init - lr_min) (1 +
        cos(π e / E)) / 2`` with ``lr_min = learning_rate_init / 1000``: half a
        cosine towards a thousandth, which the last epoch nears only for a
        large ``max_iter`` (at ``max_iter=10`` it trains at 0.025 times the
        initial rate); a plateau still stops training early. Each
        :meth:`fit` starts the schedule afresh; :meth:`partial_fit` uses
        ``learning_rate_init``.

    learning_rate_init : float, default=2e-3
        Adam's (initial) step size.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the training data) of a
        :meth:`fit`: those of the start that training goes on from count,
        including its contest epochs (``n_init``); the contest epochs of the
        dropped starts and a guided start's passes before its first epoch
        (``init``) do not. ``n_iter_`` counts the same epochs, summed over
        ``warm_start`` fits.

    shuffle : bool, default=True
        Whether to shuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, the validation split and
        the noise, each from its own stream (children of one
        :class:`numpy.random.SeedSequence`). An int gives bitwise-identical
        results across calls; None draws the seed from NumPy's global random
        state (``np.random.seed`` reproduces such fits). See :term:`Glossary
        <random_state>`.

    tol : float, default=1e-3
        Relative tolerance of a plateau: the monitored loss (validation loss
        with ``early_stopping``, else training loss), averaged over the last
        ``n_iter_no_change`` epochs, has not improved on its best by at least
        ``tol`` times that best for ``n_iter_no_change`` consecutive epochs.
        With ``loss="binary_crossentropy"`` the best counts above the least
        loss of the monitored rows' targets, their mean binary entropy, which
        no reconstruction removes. Where every column of ``X`` is constant
        (its observed entries in the rows of positive weight; all 0, or a
        rounding residue, after a ``StandardScaler``), the tolerance is ``tol``
        itself, absolute, as for data of unit scale: the loss of such data
        falls by about the same share every epoch, and a share of it would
        never make a plateau. What a plateau does depends on ``learning_rate``.

    verbose : bool, default=False
        Print one line per epoch: training loss, validation loss, time.

    warm_start : bool, default=False
        When True, :meth:`fit` continues from the previous weights and optimizer
        state instead of starting afresh. The network (layer sizes, activation,
        loss, tied weights) must not change. With rows held out, each fit keeps
        the best epoch of its own (``best_validation_loss_`` is that epoch's),
        whereas :class:`~sklearn.neural_network.MLPRegressor` keeps the best of
        all its warm-started fits: a loop of short fits ends on the last one's.
        The optimizer state kept is the last epoch's, also where early stopping
        restored an earlier epoch's weights.

    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the samples, monitor their
        reconstruction loss to decide when to stop (and, with ``alpha="auto"``, to
        set the penalty), and restore the weights of the epoch with the best
        validation loss. ``"auto"`` does so for data of at least 200 distinct
        samples of positive weight with an observed entry, and trains on all
        the samples of other data (identical rows stay together on one side:
        with fewer distinct ones, each held out would be a pattern never
        trained on), or when ``noise`` (with ``noise_level > 0``), ``sparsity`` or
        ``contraction`` is set (they trade reconstruction for something else,
        and a validation loss of reconstruction alone would stop them early).
        The validation samples are chosen by row content, so duplicated rows
        fall on the same side, and a warm-start fit holds out the same rows
        again (with another ``validation_fraction``, with sample weights that
        move the split onto rows an earlier fit trained on, or after a fit that
        held out none or a :meth:`partial_fit`, rows the model may have trained
        on: it warns then).
        Not used by :meth:`partial_fit`.

    validation_fraction : float, default=0.1
        Share of the (sample-weighted) training data held out for validation:
        whole groups of identical rows are held out while they fit in this
        share, so the share held out falls short of it by less than the weight
        of one group; when no group fits (tiny data), the lightest one is held
        out. Only used when rows are held out (``early_stopping``).

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Adam's numerical-stability term.

    n_iter_no_change : int, default=20
        Number of epochs without improvement by ``tol`` that make a plateau,
        and the number of epochs whose mean loss is watched: one lucky epoch
        (a dip in the loss of the held-out rows) then does not end training,
        or lower the rate, while the loss is still falling. With rows held
        out, twice as many epochs without improvement end training (see
        ``learning_rate``).

    n_init : "auto" or int, default="auto"
        Number of initialisations (random ones, the first guided where
        ``init`` says so) that compete at the start of a
        :meth:`fit`: each trains for 10 epochs (``max_iter`` if fewer; a start
        whose loss reaches a plateau before stops there, and if it wins, the
        fit ends with it), and
        training goes on from the one whose monitored loss was lowest in any of
        its epochs (validation loss with ``early_stopping``, else training
        loss), from its last epoch, as if it had trained alone; the others are
        dropped. The loss a few epochs in is a good guide to where a network
        from a random start will end, so this avoids most of the poor local
        minima of a single random start (folded codes of a curved manifold, for
        instance) for the price of about ``10 · (n_init - 1)`` epochs (30 for
        the four starts of ``"auto"``). A start
        that diverges in the contest drops out; the fit fails only if all do (a
        divergence after it fails the fit, as with one start). The first start
        draws what a fit with ``n_init=1`` draws. ``"auto"``: 1 where the first
        start is guided (``init``), which then trains alone, else 4 (a start
        that ``init`` meant to guide but left random competes); as
        :class:`~sklearn.cluster.KMeans`'s ``n_init="auto"`` runs one start from
        ``"k-means++"``. A guided start that ten epochs in trails a random one
        still ends with the lower held-out error more often than not (see the
        user guide). Not used by a warm-start fit or by :meth:`partial_fit`,
        which go on from the fitted weights.

    init : {"auto", "isomap", "random"}, default="auto"
        How the first start of a fresh :meth:`fit` is initialised (any other
        start of ``n_init`` is random). ``"random"``: random weights, as
        every start. ``"isomap"``: a guided start, so that a curved manifold (a
        Swiss roll, an S-curve) unrolls instead of folding: an
        :class:`~sklearn.manifold.Isomap` embedding (10 neighbours, dense
        eigensolver) in ``n_components`` dimensions is computed from the
        training rows (held-out rows are never used; of more than 2,000, 2,000
        drawn in proportion to the sample weights; the embedding and the
        regressions are unweighted; sparse rows are copied dense), the encoder
        learns to map these rows onto it and then the decoder to map the
        encoder's codes back to the rows, 25 passes of Adam each over random
        minibatches of 128 rows (a pass skips its last, partial minibatch;
        ``learning_rate_init``, the decoder on ``loss``), from the
        start's random weights; training goes on from there (alone with
        ``n_init="auto"``, else after the contest of ``n_init`` starts), its
        rate rising linearly to ``learning_rate_init`` over the first epoch's
        minibatches (at full rate, Adam's first steps move every weight by about
        the rate, which at larger rates undid the unrolled embedding). It
        needs rows without missing entries, ``tied_weights=False``, no
        ``categorical_groups``, no ``mask_as_input`` and more than
        ``max(10, n_components)`` training rows, and refuses a fit without them;
        where Isomap cannot embed the rows (too many components
        for them, too few distinct rows, a neighbours graph in more than 20
        separate pieces, say) or a regression diverges, the start stays
        random, with a UserWarning. Isomap embeds the distinct rows; identical
        rows share their code. ``"auto"``: ``"isomap"`` where it can guide a
        fit of at least 100 training rows to at most 3 components (folding is
        a failure of narrow codes: wider ones gained nothing from it on the
        benchmarks) whose rows it uses take at most 256 MiB counted as dense
        float64 (up to 16,777 features from 2,000 rows), else ``"random"``,
        silently. The guided start costs the embedding (about a second for
        2,000 rows, growing faster than their square) and the two
        regressions. Not used by a warm-start fit or by :meth:`partial_fit`.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, encoder layers then decoder layers; ``coefs_[i]`` has
        shape ``(n_inputs, n_outputs)`` of layer ``i``. Views into one flat
        parameter vector (with ``tied_weights``, the decoder's are transposed
        views of the encoder's).

    intercepts_ : list of ndarray
        Bias vectors, in the same order as ``coefs_``.

    n_iter_ : int
        Number of passes over training data: the epochs of every :meth:`fit`
        (accumulated over ``warm_start`` fits) plus one per :meth:`partial_fit`
        call, each call being one pass over the data it is given whatever its
        size. :class:`~sklearn.neural_network.MLPRegressor` counts the passes
        of its latest call only, though its ``t_`` and ``loss_curve_``
        accumulate as these do.

    t_ : int
        Number of training samples seen (accumulated likewise); rows of zero
        sample weight are not seen.

    loss_ : float
        Training objective (mean reconstruction loss plus the penalty terms) of
        the last epoch.

    loss_curve_ : list of float
        Training objective of every epoch: the sample-weighted mean of the
        minibatch objectives, one entry per pass counted in ``n_iter_``.

    best_loss_ : float
        Smallest entry of ``loss_curve_``.

    validation_loss_curve_ : list of float or None
        Mean reconstruction loss of the validation samples after every epoch;
        None if no fit used ``early_stopping``. Otherwise it has ``n_iter_``
        entries, NaN for the passes that held nothing out (:meth:`partial_fit`
        calls, fits without ``early_stopping``).

    best_validation_loss_ : float or None
        Validation loss of the weights kept by the last fit with
        ``early_stopping`` (the best epoch of that fit); None if there was none.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction; what a linear
        autoencoder converges to.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor; no
        access to a bottleneck.
    sklearn.neural_network.BernoulliRBM : Restricted Boltzmann machine features.

    Notes
    -----
    The network is ``n_features → hidden_layer_sizes → n_components →
    decoder_layer_sizes → n_features``, fully connected, with ``activation``
    on the hidden layers and linear code and output layers. Weights are drawn
    LeCun-uniform, ``U(±√(3/fan_in))``, and biases ``U(±1/√fan_in)``: a deep
    network then starts small, and (with ReLU units) the units' kinks lie at
    different places across standardized data rather than all through the
    origin, which matters most for data of few features (see
    :ref:`convergence`).

    Missing values (NaN) are accepted by :meth:`fit`, :meth:`partial_fit`,
    :meth:`transform`, :meth:`score` and :meth:`score_samples`, dense or
    sparse (a stored NaN is missing; an implicit zero is an observed 0). They
    enter the network as 0, which on standardized data is the feature's mean
    (optionally with the mask as inputs, ``mask_as_input``; a denoising
    ``noise`` corrupts the observed entries only), and the loss
    counts the observed entries only: ``Σ_i w_i Σ_j M_ij ℓ_ij / Σ_i w_i Σ_j
    M_ij``, with ``M_ij`` 1 for an observed entry and 0 for a missing one; a
    row with nothing observed contributes nothing. The network learns nothing
    of a feature that no training row observes: a fresh :meth:`fit` warns of
    such features (and refuses such a categorical group). Infinite values are
    still refused. See :ref:`missing`.

    The per-sample error is the mean over features of the squared error (or of
    the binary cross-entropy). The training objective is its sample-weighted
    mean plus the penalties: ``alpha / 2 · ‖W‖²``, ``sparsity`` times the mean
    ``‖code‖₁`` and ``contraction`` times the mean ``‖∂code/∂x‖²_F``. A
    minibatch estimates it without bias: sample weights are normalised by their
    mean over the whole training set, never by a minibatch's own sum. A weight
    of ``k`` is ``k`` repeated rows in expectation, not update for update
    (the repeats fall into other minibatches), except where all the data fit
    in one minibatch (``batch_size="auto"`` on 32 rows or fewer). Adam
    updates the weights with ``m ← β1·m + (1-β1)·g``, ``v ← β2·v + (1-β2)·g²``
    and ``θ ← θ − lr·√(1-β2ᵗ)/(1-β1ᵗ) · m/(√v + ε)``. ``max_iter`` counts
    epochs, not updates: those of the start that goes on, its first 10
    included (``n_iter_`` and the loss curves count them too), not those of
    the starts dropped.

    With ``activation="identity"`` and squared error, the autoencoder is linear
    and its best reconstruction is PCA's: the codes then span the principal
    subspace (in some basis), and its reconstruction error cannot beat PCA's.

    A fit that fails (bad input, or training that diverges to a non-finite
    loss) raises and leaves the estimator as it was. An interrupted fit
    (``KeyboardInterrupt``) keeps the best weights seen so far (those of the
    last complete epoch, or of the best validation epoch) and warns.

    References
    ----------
    .. [1] G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of
       data with neural networks", Science 313 (5786), 504-507, 2006.
    .. [2] P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting
       and composing robust features with denoising autoencoders", ICML 2008.
    .. [3] S. Rifai, P. Vincent, X. Muller, X. Glorot and Y. Bengio, "Contractive
       auto-encoders: explicit invariance during feature extraction", ICML 2011.
    .. [4] D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization",
       ICLR 2015. :arxiv:`1412.6980`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(),
    ...                      AutoencoderTransformer(n_components=2, random_state=0))
    >>> codes = pipe.fit_transform(X)
    >>> codes.shape
    (1797, 2)
    >>> pipe.inverse_transform(codes).shape
    (1797, 64)

    A denoising autoencoder with tied weights:

    >>> dae = AutoencoderTransformer(n_components=8, noise="masking", noise_level=0.2,
    ...                              tied_weights=True, max_iter=20, random_state=0)
    >>> dae = make_pipeline(StandardScaler(), dae).fit(X)
    >>> len(dae[-1].coefs_), dae[-1].coefs_[-1].base is dae[-1].coefs_[0].base
    (6, True)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "decoder_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(set(LOSSES))],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "noise": [StrOptions(set(NOISES)), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "contraction": [Interval(Real, 0, None, closed="left")],
        "tied_weights": ["boolean"],
        "categorical_groups": [list, tuple, None],
        "mask_as_input": ["boolean"],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"auto", "isomap", "random"})],
    }

    #: Runs on PyTorch, CuPy, ... inputs with array_api_dispatch on (skae._xp_estimator).
    _array_api_path = True

    _init_scheme = "lecun"

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 64),
        decoder_layer_sizes=None,
        activation="elu",
        loss="squared_error",
        alpha="auto",
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contraction=0.0,
        tied_weights=False,
        categorical_groups=None,
        mask_as_input=False,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=2e-3,
        max_iter=1000,
        shuffle=True,
        random_state=None,
        tol=1e-3,
        verbose=False,
        warm_start=False,
        early_stopping="auto",
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=20,
        n_init="auto",
        init="auto",
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.loss = loss
        self.alpha = alpha
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contraction = contraction
        self.tied_weights = tied_weights
        self.categorical_groups = categorical_groups
        self.mask_as_input = mask_as_input
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.n_init = n_init
        self.init = init

    def _n_starts(self):
        return _AUTO_N_INIT if self.n_init == "auto" else self.n_init

    def _guided_start_alone(self):
        return self.n_init == "auto"

    def _guided_init(self, X, spec, missing, n_train):
        # "auto" guides where it is cheap and sound; "isomap" where it can, else refuses.
        if self.init == "random":
            return False
        reason = None
        if spec["categorical_groups"]:
            reason = "categorical_groups are set"
        elif missing is not None:
            reason = "X has missing entries (impute them first)"
        elif spec["tied_weights"]:
            reason = "tied_weights=True (the guided start trains encoder and decoder apart)"
        elif spec["mask_as_input"]:
            reason = "mask_as_input=True"
        elif n_train <= max(GUIDE_NEIGHBORS, self.n_components):
            reason = (
                f"Isomap's graph of {GUIDE_NEIGHBORS} neighbours needs more than "
                f"max({GUIDE_NEIGHBORS}, n_components) training rows, got {n_train}"
            )
        if reason is not None and self.init == "isomap":
            raise ValueError(
                f"init='isomap' cannot guide this fit: {reason}. Use init='random', or "
                "init='auto', which starts at random where it cannot guide."
            )
        if self.init == "auto" and (
            n_train < GUIDE_MIN_ROWS
            or self.n_components > GUIDE_MAX_COMPONENTS
            or min(n_train, GUIDE_ROWS) * X.shape[1] * 8 > GUIDE_MAX_BYTES
        ):
            return False
        return reason is None

    def _plateau_window(self):
        # A plateau is judged on the mean loss of the last n_iter_no_change epochs.
        return self.n_iter_no_change

    def _stop_patience(self, validated):
        # With rows held out, a plateau right after a lowered rate, with no improvement
        # since, ends training: the best weights came before it, and a lower rate rarely
        # brings the held-out loss back. Without, each lower rate still refines the
        # weights that are kept, the last epoch's.
        return 2 * self.n_iter_no_change if validated else None

    def _validation_sets_alpha(self):
        # alpha="auto" with rows held out follows the squared error's validation loss.
        return (
            isinstance(self.alpha, str)
            and self.alpha == "auto"
            and self.loss != "binary_crossentropy"
        )

    def _penalty_monitor(self, objective, validated, size, continuing=False):
        # Continuing, from the validation loss of the weights the previous fit kept, if
        # it held rows out.
        if not (validated and self._validation_sets_alpha()):
            return None
        curve = getattr(self, "validation_loss_curve_", None) if continuing else None
        last = self.best_validation_loss_ if curve and np.isfinite(curve[-1]) else None
        return _ValidatedPenalty(objective, size, last)

    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def fit(self, X, y=None, sample_weight=None):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse CSR/CSC input is densified one minibatch at a
            time. float32 input is trained in float32.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the reconstruction loss. A
            weight of k counts as k rows: with ``alpha="auto"`` the penalty is
            over the training rows' total weight (as ``MLPRegressor``'s is over
            the minibatch's), so weights that sum to 1 make it ``n_samples``
            times that of unit weights. Weights averaging below 0.1 there warn;
            rescale them to average 1, or set ``alpha``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, sample_weight, incremental=False)

    @validated_partial_fit
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def partial_fit(self, X, y=None, sample_weight=None):
        """Run one epoch of training on ``X``, continuing from the current model.

        The first call initialises the network. ``early_stopping`` and
        ``max_iter`` are not used; the optimizer state carries over between calls,
        and each call counts as one iteration in ``n_iter_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the reconstruction loss,
            relative within the call: they are scaled to a mean of 1 over its
            rows, as in :meth:`fit`, so that scaling a call's weights does not
            weight it against other calls (as for ``MLPRegressor``, whose
            minibatches' losses are weighted means); with ``alpha="auto"``
            their total counts as the number of rows the penalty is set by.
            To weight a chunk against the others, repeat its rows or pass it
            in more calls.

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._fit(X, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = True
        return tags

    def transform(self, X):
        """Encode ``X`` into codes of width ``n_components``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode; processed in chunks so memory stays bounded. Missing
            entries (NaN) enter the network as 0, as in training.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, of the same float dtype as ``X`` (float64 for other input).
            With ``array_api_dispatch`` on, an array of ``X``'s namespace and
            device (:ref:`gpu`). Codes that overflow (values far beyond the
            training data's) raise a ValueError rather than come back infinite.
        """
        if self._array_api_input(X, "transform"):
            return self._array_api_transform(X)
        X = self._validate_input(X)
        network = self._network()
        codes = np.empty((X.shape[0], self._n_features_out), dtype=X.dtype)
        missing = self._inference_missing(X)
        # What overflows is refused below (a layer's overflow a ReLU zeroes is not):
        # NumPy's warnings would say nothing more.
        with np.errstate(over="ignore", invalid="ignore"):
            for rows in self._chunks(X.shape[0]):
                inputs = X[rows] if missing is None else self._filled_chunk(X, rows, missing)[0]
                codes[rows] = network.encode(inputs)
        _refuse_overflow(self, codes, "codes")
        return codes

    def inverse_transform(self, X):
        """Decode codes back into feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructions, of the same float dtype as ``X``; with
            ``categorical_groups``, one-hot rows of the most probable category
            in each group; with ``array_api_dispatch`` on, of its namespace and device.
        """
        if self._array_api_input(X, "inverse_transform"):
            return self._array_api_inverse_transform(X)
        X = _check_codes(self, X)
        objective = self._objective()
        out = np.empty((X.shape[0], self.n_features_in_), dtype=X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # what overflows is refused below
            for rows in self._chunks(X.shape[0]):
                out[rows] = objective.output(objective.network.decode_raw(X[rows]))
        _refuse_overflow(self, out, "reconstructions", advice=_CODES_ADVICE)
        return out

    def score_samples(self, X):
        """Negative reconstruction error of each sample; higher is better.

        Large errors (low scores) flag samples unlike the training data, which
        makes this an anomaly score. No noise is applied.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over features of the squared error (or of the binary
            cross-entropy, with that ``loss``) between each sample and its
            reconstruction. With missing entries, the mean is over the sample's
            observed entries only (a categorical group counting as one entry,
            scored by its cross-entropy); a sample with no observed entry
            scores NaN. A sample whose reconstruction overflows (finite but
            huge values) scores ``-inf``. With ``array_api_dispatch`` on, an
            array of ``X``'s namespace and device.
        """
        if self._array_api_input(X, "score_samples"):
            return self._array_api_score_samples(X)
        X = self._validate_input(X)
        scores = self._sample_errors(X)
        np.negative(scores, out=scores)
        return scores

    def score(self, X, y=None, sample_weight=None):
        """Negative mean reconstruction error; higher is better.

        So :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate` need no ``scoring``.
        The error is the training ``loss`` (and each categorical group's
        cross-entropy): scores compare models with the same ``loss`` and
        groups only. To search over ``loss``, pass a ``scoring`` that measures
        every candidate alike, such as one on ``inverse_transform(transform(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the mean.

        Returns
        -------
        score : float
            The (weighted) mean of :meth:`score_samples`. With missing entries
            (or categorical groups), each sample's weight is multiplied by its
            number of observed entries, so that the score is minus the mean
            loss over all observed entries, as training defines it; samples
            with nothing observed count for nothing.
        """
        if self._array_api_input(X, "score"):
            scores = to_numpy(self._array_api_score_samples(X))
            return weighted_mean(scores, _score_weights(sample_weight, scores))
        X = self._validate_input(X)
        errors, counts = self._sample_errors(X, with_counts=True)
        sample_weight = _score_weights(sample_weight, errors)
        if counts is None:
            np.negative(errors, out=errors)
            return weighted_mean(errors, sample_weight)
        weights = counts if sample_weight is None else counts * sample_weight
        if not weights.sum() > 0:
            raise ValueError(
                "X has no observed entries (with positive weight): there is nothing to score."
            )
        # Rows of zero weight do not count, infinite errors (0 · inf is NaN) included.
        return -float(np.dot(weights, np.where(weights > 0, errors, 0.0)) / weights.sum())
