"""scikit-learn's Array API helpers, behind one module of ours.

The helpers of ``sklearn.utils._array_api`` are private and change between
releases, so skae imports them here only: every other module asks this one for
an input's namespace and device, moves arrays with :func:`to_device` and
:func:`to_numpy`, and checks that a fitted model and its input agree with
:func:`check_same_namespace`.

An input takes the Array API path when scikit-learn's dispatch is on
(``sklearn.set_config(array_api_dispatch=True)``) and its namespace is not
NumPy's: PyTorch tensors, CuPy arrays, array-api-strict arrays. NumPy arrays,
array-likes and scipy.sparse matrices always take the NumPy engine.
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.externals import array_api_compat as _compat
from sklearn.utils import _array_api as _sk


def dispatch_enabled():
    """Whether scikit-learn's ``array_api_dispatch`` is on."""
    return bool(get_config()["array_api_dispatch"])


def is_numpy(xp):
    """Whether ``xp`` is NumPy's namespace (or the array-api-compat wrapper of it)."""
    return xp is None or _sk._is_numpy_namespace(xp)


def namespace_and_device(*arrays):
    """``(xp, device)`` of ``arrays`` for the Array API path, or ``(None, None)``.

    ``(None, None)`` means the NumPy engine: dispatch is off, or the arrays are
    NumPy arrays, array-likes or sparse matrices.
    """
    arrays = [a for a in arrays if a is not None]
    if not dispatch_enabled() or not arrays or any(sp.issparse(a) for a in arrays):
        return None, None
    xp, _, device = _sk.get_namespace_and_device(*arrays)
    if is_numpy(xp):
        return None, None
    return xp, device


def array_namespace(array):
    """``(xp, device)`` of one array whatever the configuration, or ``(None, None)`` for NumPy."""
    if isinstance(array, np.ndarray) or sp.issparse(array) or not _compat.is_array_api_obj(array):
        return None, None
    xp = _compat.array_namespace(array)
    if is_numpy(xp):
        return None, None
    return xp, _compat.device(array)


def namespace_name(xp):
    """A short name for messages: ``"torch"``, ``"array_api_strict"``, ``"numpy"``."""
    return "numpy" if xp is None else xp.__name__.rsplit(".", 1)[-1]


def is_array(X):
    """Whether ``X`` is an array of some Array API namespace (NumPy's included)."""
    return _compat.is_array_api_obj(X)


def is_sparse_tensor(X):
    """Whether ``X`` is a sparse array of an Array API library (e.g. a sparse torch tensor)."""
    layout = getattr(X, "layout", None)
    return getattr(X, "is_sparse", False) is True or (
        layout is not None and "sparse" in str(layout)
    )


def to_device(array, xp, device):
    """``array`` (NumPy or any namespace) as an array of ``xp`` on ``device``."""
    if isinstance(array, np.ndarray):
        return xp.asarray(array, device=device)
    return _sk.move_to(array, xp=xp, device=device)


def untracked(array):
    """``array`` without autograd tracking: a PyTorch tensor that requires grad, detached.

    Training and inference never differentiate through their inputs; a tracked
    input would record every operation on it (and refuse ``.numpy()``).
    """
    return array.detach() if getattr(array, "requires_grad", False) else array


def to_numpy(array):
    """``array`` as a NumPy array on the host (one device-to-host copy)."""
    if isinstance(array, np.ndarray):
        return array
    return _sk.move_to(untracked(array), xp=np, device="cpu")


def max_float_dtype(xp, device):
    """The most precise float dtype of ``xp`` on ``device`` (float64 unless it has none)."""
    return _sk._max_precision_float_dtype(xp, device)


def check_same_namespace(X, estimator, *, method):
    """Raise if ``X`` and the fitted parameters differ in namespace or device.

    With dispatch on, scikit-learn's own check (and message, which says how to move
    the estimator). With dispatch off, a model whose parameters live outside NumPy
    cannot take NumPy input either: say how to proceed.
    """
    if dispatch_enabled():
        _sk.check_same_namespace(X, estimator, attribute="_params", method=method)
        return
    xp, device = array_namespace(estimator._params)
    if xp is not None:
        raise ValueError(
            f"{type(estimator).__name__}.{method}(): this model was fitted on "
            f"{namespace_name(xp)} arrays on device {device!r}, with array_api_dispatch "
            "on. Call it inside sklearn.config_context(array_api_dispatch=True) with "
            "arrays of that namespace and device, or move the model to NumPy first: "
            "sklearn.utils._array_api.move_estimator_to(model, numpy, 'cpu')."
        )


def convert_attributes(value, converter):
    """``value`` (an attribute: array, list, dict, ...) with its arrays converted."""
    return _sk._estimator_with_converted_arrays(value, converter)
