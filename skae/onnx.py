"""ONNX export of fitted autoencoders through skl2onnx.

Importing this module registers a shape calculator and a converter for
:class:`~skae.AutoencoderTransformer` with skl2onnx, so that
:func:`skl2onnx.to_onnx` converts the estimator on its own or inside a
:class:`~sklearn.pipeline.Pipeline`. Importing it again, or reloading it, only
registers the same converter again.

The converter has one option, ``"output"``, which says what the exported graph
computes from a (dense) batch ``X`` of shape ``(n_samples, n_features)``:

``"codes"`` (default)
    ``transform(X)``, of shape ``(n_samples, n_components)``.
``"reconstruction"``
    ``inverse_transform(transform(X))``, of shape ``(n_samples, n_features)``.
``"score_samples"``
    ``score_samples(X)``, of shape ``(n_samples,)``: *minus* the per-sample
    reconstruction error, as the method returns it (higher is more normal).

A NaN in ``X`` is a missing entry, as in the estimator's methods: it enters
the network as 0, and ``"score_samples"`` averages each row's error over its
observed entries (NaN for a row with none). A row whose reconstruction
overflows scores ``-inf``, as in the method (a float32 graph overflows sooner
than the method, which computes the score in float64). Codes and
reconstructions that overflow come out infinite or NaN: a graph cannot raise
the method's error.

A :class:`~skae.VariationalAutoencoder` exports the same way, with the
outputs ``"codes"`` (its ``transform``: the posterior mean ``μ``) and
``"reconstruction"`` (the decoder's mean at ``μ``, i.e.
``inverse_transform(transform(X))``); its ``score_samples``, a bound that
averages over random posterior draws, is not exported.

Pass it as skl2onnx passes any converter option, per class
(``options={AutoencoderTransformer: {"output": "reconstruction"}}``) or per
instance (``options={id(ae): {...}}``). A per-class option reaches every
autoencoder of a pipeline, and the steps after an autoencoder were fitted on
its codes: the export refuses a reconstruction or scores that another step of
the graph would take in, so give the option to the last step only there. It
also refuses an input of another width than the model was fitted on.

The graph computes in the input's precision: a float32 input (the usual
``X[:1].astype(np.float32)``) gives a float32 graph, weights included; a float64
input gives a float64 one. ``score_samples`` therefore comes out in float32 from
a float32 graph, where skae's method always returns float64. The hidden layers
use the ONNX operators Relu, LeakyRelu (slope 0.01), Elu, Softplus, Tanh and
Sigmoid. ONNX Runtime has no float64 kernels for LeakyRelu, Elu and Softplus,
so a float64 graph builds those three from Max, Min, Exp, Log and Abs. ONNX
tensors are dense: rows of a sparse matrix go to the runtime as
``X[rows].toarray()``.

A subclass of either estimator converts once registered with
:func:`register_subclass` (skl2onnx matches the exact class, and a subclass
may compute otherwise).

Needs the ``onnx`` extra: ``pip install ".[onnx]"`` from a checkout (skl2onnx, and
onnxruntime to run the exported models).

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> import skae.onnx  # registers the converter
>>> from skae import AutoencoderTransformer
>>> from skae.datasets import make_manifold_clusters
>>> X, _, _ = make_manifold_clusters(300, random_state=0)
>>> ae = AutoencoderTransformer(2, hidden_layer_sizes=(16,), tol=1e-2, random_state=0)
>>> pipe = make_pipeline(StandardScaler(), ae).fit(X)
>>> X32 = X.astype(np.float32)
>>> onx = to_onnx(pipe, X32[:1])
>>> session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
>>> codes = session.run(None, {"X": X32})[0]
>>> codes.shape, codes.dtype
((300, 2), dtype('float32'))
>>> bool(np.abs(codes - pipe.transform(X32)).max() < 1e-4)
True

Anomaly scores, with the sign of :meth:`~skae.AutoencoderTransformer.score_samples`:

>>> onx = to_onnx(pipe, X32[:1], options={AutoencoderTransformer: {"output": "score_samples"}})
>>> session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
>>> scores = session.run(None, {"X": X32})[0]
>>> scores.shape
(300,)
>>> bool(np.abs(scores - pipe.score_samples(X32)).max() < 1e-4)
True
"""

from numbers import Integral

import numpy as np

try:
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import (
        OnnxAbs,
        OnnxAdd,
        OnnxCast,
        OnnxDiv,
        OnnxElu,
        OnnxExp,
        OnnxIdentity,
        OnnxIsInf,
        OnnxIsNaN,
        OnnxLeakyRelu,
        OnnxLog,
        OnnxMatMul,
        OnnxMax,
        OnnxMin,
        OnnxMul,
        OnnxNeg,
        OnnxNot,
        OnnxOr,
        OnnxReduceSumApi11,
        OnnxRelu,
        OnnxSigmoid,
        OnnxSoftplus,
        OnnxSub,
        OnnxTanh,
        OnnxWhere,
    )
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skae.onnx needs skl2onnx, and onnxruntime to run the exported models: "
        'pip install skl2onnx onnxruntime (or the onnx extra, pip install ".[onnx]" from '
        "a checkout of skae)"
    ) from exc

from onnx import TensorProto
from sklearn.utils.validation import check_is_fitted

from ._activations import LEAKY_SLOPE
from ._estimator import AutoencoderTransformer
from ._impute import AutoencoderImputer
from ._outlier import AutoencoderOutlierDetector
from ._vae import VariationalAutoencoder

#: Values of the converter's ``"output"`` option; the first is the default.
OUTPUTS = ("codes", "reconstruction", "score_samples")

#: The alias under which skl2onnx knows the estimator.
_ALIAS = "SkaeAutoencoderTransformer"

#: The outputs of a :class:`~skae.VariationalAutoencoder` (its score is not a
#: reconstruction error, and its bound needs random draws: not exported).
VARIATIONAL_OUTPUTS = OUTPUTS[:2]

#: The alias under which skl2onnx knows the variational autoencoder.
_VARIATIONAL_ALIAS = "SkaeVariationalAutoencoder"


def _export_layers(estimator):
    """Read what the exported graph needs from a fitted estimator.

    The only function here that looks inside the estimator: a change to the
    estimator's fitted attributes needs a change here only.

    Parameters
    ----------
    estimator : AutoencoderTransformer
        A fitted estimator.

    Returns
    -------
    layers : list of (ndarray, ndarray, str)
        ``(W, b, activation)`` of every layer in order, encoder then decoder;
        layer ``i`` computes ``activation(Z @ W + b)``. The code layer and the
        output layer have activation ``"identity"``.
    n_encoder_layers : int
        Number of layers up to and including the code layer.
    loss : str
        The reconstruction loss (``"squared_error"`` or ``"binary_crossentropy"``).
    """
    if not isinstance(estimator._params, np.ndarray):
        raise ValueError(
            f"This {type(estimator).__name__} holds its weights as "
            f"{type(estimator._params).__module__}.{type(estimator._params).__name__} "
            "arrays (it was fitted with array_api_dispatch=True): export a copy moved to "
            "NumPy, est_np = sklearn.utils._array_api.move_estimator_to(est, numpy, "
            '"cpu"), which returns it (est itself stays where it is).'
        )
    groups = getattr(estimator, "_categorical_groups", ())
    if getattr(estimator, "_mask_as_input", False) or groups:
        raise NotImplementedError(
            "ONNX export of a model fitted with mask_as_input=True or categorical_groups "
            "is not supported."
        )
    activation, loss = estimator._activation, estimator._loss  # as fitted, not as set now
    if isinstance(estimator, VariationalAutoencoder):
        return _variational_layers(estimator, activation, loss)
    n_encoder_layers = estimator._n_encoder_layers
    n_layers = len(estimator.coefs_)
    linear = {n_encoder_layers - 1, n_layers - 1}
    layers = [
        (W, b, "identity" if i in linear else activation)
        for i, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_, strict=True))
    ]
    return layers, n_encoder_layers, loss


def _variational_layers(estimator, activation, loss):
    """:func:`_export_layers` of a VariationalAutoencoder: the posterior mean's path.

    The encoder's last layer keeps only its ``μ`` columns (the log-variance head
    is not exported), so ``"codes"`` is ``transform`` (the posterior mean) and
    ``"reconstruction"`` the decoder's mean at it.
    """
    k = estimator._n_features_out
    encoder = list(zip(estimator.encoder_coefs_, estimator.encoder_intercepts_, strict=True))
    decoder = list(zip(estimator.decoder_coefs_, estimator.decoder_intercepts_, strict=True))
    W, b = encoder[-1]
    encoder[-1] = (W[:, :k], b[:k])
    layers = []
    for part in (encoder, decoder):
        layers += [
            (W, b, "identity" if i == len(part) - 1 else activation)
            for i, (W, b) in enumerate(part)
        ]
    return layers, len(encoder), loss


def _leaky_relu(A, dtype, opv):
    """``max(a, 0.01 a)``.

    In float64 from Max and Mul: the LeakyRelu operator holds its slope as a
    float32 attribute, and ONNX Runtime has no float64 kernel for it.
    """
    if dtype == np.float64:
        return OnnxMax(A, OnnxMul(A, _scalar(LEAKY_SLOPE, dtype), op_version=opv), op_version=opv)
    return OnnxLeakyRelu(A, alpha=LEAKY_SLOPE, op_version=opv)


def _elu(A, dtype, opv):
    """``a`` for ``a > 0`` else ``exp(a) - 1``.

    In float64 as ``max(a, 0) + (exp(min(a, 0)) - 1)`` (exact for ``a > 0``):
    ONNX Runtime has no float64 kernel for Elu.
    """
    if dtype == np.float64:
        zero, one = _scalar(0.0, dtype), _scalar(1.0, dtype)
        negative = OnnxSub(
            OnnxExp(OnnxMin(A, zero, op_version=opv), op_version=opv), one, op_version=opv
        )
        return OnnxAdd(OnnxMax(A, zero, op_version=opv), negative, op_version=opv)
    return OnnxElu(A, alpha=1.0, op_version=opv)


def _softplus(A, dtype, opv):
    """``log(1 + exp(a))``, without overflow.

    In float64 as ``max(a, 0) + log(1 + exp(-|a|))``: ONNX Runtime has no float64
    kernel for Softplus.
    """
    if dtype == np.float64:
        zero, one = _scalar(0.0, dtype), _scalar(1.0, dtype)
        tail = OnnxLog(
            OnnxAdd(
                one,
                OnnxExp(OnnxNeg(OnnxAbs(A, op_version=opv), op_version=opv), op_version=opv),
                op_version=opv,
            ),
            op_version=opv,
        )
        return OnnxAdd(OnnxMax(A, zero, op_version=opv), tail, op_version=opv)
    return OnnxSoftplus(A, op_version=opv)


def _scalar(value, dtype):
    return np.array([value], dtype=dtype)


#: activation name -> function (node, numpy dtype, opset) -> node
_ACTIVATION_NODES = {
    "identity": lambda A, dtype, opv: A,
    "relu": lambda A, dtype, opv: OnnxRelu(A, op_version=opv),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": _softplus,
    "tanh": lambda A, dtype, opv: OnnxTanh(A, op_version=opv),
    "logistic": lambda A, dtype, opv: OnnxSigmoid(A, op_version=opv),
}


def _sample_error_node(R, X, loss, dtype, opv):
    """Per-element error whose row mean is the per-sample reconstruction error."""
    if loss == "squared_error":
        D = OnnxSub(R, X, op_version=opv)
        return OnnxMul(D, D, op_version=opv)
    if loss == "binary_crossentropy":
        # softplus(R) - X R: the cross-entropy of expit(R), from the logits.
        return OnnxSub(_softplus(R, dtype, opv), OnnxMul(X, R, op_version=opv), op_version=opv)
    raise NotImplementedError(f"No ONNX export for loss={loss!r}.")


def _output_option(operator):
    options = operator.scope_inst.get_options(operator.raw_operator, {"output": OUTPUTS[0]})
    return options["output"]


def _tensor_type(input_type):
    return DoubleTensorType if isinstance(input_type, DoubleTensorType) else FloatTensorType


def _check_input_shape(estimator, shape):
    """Refuse an input whose declared shape cannot be the estimator's ``X``."""
    if not shape:  # unknown: nothing to check
        return
    n_features = estimator.n_features_in_
    if len(shape) == 2 and not (isinstance(shape[1], Integral) and shape[1] != n_features):
        return
    dims = [int(d) if isinstance(d, Integral) else d for d in shape]
    got = "one value per row" if len(shape) == 1 else f"shape {dims}"
    raise ValueError(
        f"{type(estimator).__name__} was fitted on {n_features} features, but its ONNX "
        f"input has {got}. Convert it with a sample of such rows, e.g. X_train[:1]."
    )


def _step_name(operator):
    raw = operator.raw_operator
    return operator.type if raw is None else type(raw).__name__


def _check_not_consumed(operator, output):
    """Refuse a reconstruction or scores that another step of the graph would take in.

    A pipeline fits each step on the codes of the autoencoder before it; an option
    given per class reaches every autoencoder of the pipeline, so the steps after
    one would get its reconstruction or scores, and compute something else (or
    fail in the runtime).
    """
    if output == "codes":
        return
    name = operator.outputs[0].onnx_name
    for other in operator.scope_inst.operators.values():
        if other is not operator and any(v.onnx_name == name for v in other.inputs):
            raise ValueError(
                f'{type(operator.raw_operator).__name__} exported with output "{output}" '
                f"feeds another step ({_step_name(other)}), which was "
                "fitted on its codes: only an autoencoder whose output ends the graph "
                "(the last step of a pipeline) can output a reconstruction or scores. "
                "An option given per class reaches every autoencoder of a pipeline: "
                'give the "output" option to the last step only, e.g. '
                'options={id(pipe[-1]): {"output": "score_samples"}}.'
            )


def _shape_calculator(operator):
    """Declare the output's type and shape (skl2onnx shape calculator)."""
    check_is_fitted(operator.raw_operator)
    if len(operator.inputs) != 1:
        raise ValueError(
            f"{type(operator.raw_operator).__name__} converts from one input tensor, got "
            f"{len(operator.inputs)} (skl2onnx makes one input per column of a DataFrame). "
            "Convert with an array sample, e.g. to_onnx(model, "
            "df.to_numpy(dtype=np.float32)[:1]), or put the estimator in a Pipeline after "
            "a step that joins the columns."
        )
    estimator = operator.raw_operator
    layers, n_encoder_layers, _ = _export_layers(estimator)  # refuses what cannot export
    input_type = operator.inputs[0].type
    _check_input_shape(estimator, input_type.shape)
    output = _output_option(operator)
    _check_not_consumed(operator, output)
    n_samples = input_type.shape[0] if input_type.shape else None
    if output == "codes":
        shape = [n_samples, layers[n_encoder_layers - 1][0].shape[1]]
    elif output == "reconstruction":
        shape = [n_samples, layers[-1][0].shape[1]]
    else:
        shape = [n_samples]
    operator.outputs[0].type = _tensor_type(input_type)(shape)


#: The least opset of each output's operators: IsNaN (opset 9) for the missing entries,
#: IsInf (10) for the scores that overflow.
_LEAST_OPSET = {"codes": 9, "reconstruction": 9, "score_samples": 10}


def _check_opset(opset, output):
    """Refuse a ``target_opset`` older than the output's operators, saying what works."""
    least = _LEAST_OPSET[output]
    if opset is not None and opset < least:
        raise ValueError(
            f'The "{output}" graph needs target_opset {least} or later (it uses IsNaN for '
            "missing entries"
            + (", IsInf for scores that overflow" if least > 9 else "")
            + f"); got target_opset={opset}. Pass target_opset={least} or later, or leave "
            "it to skl2onnx's default."
        )


def _converter(scope, operator, container):
    """Add the autoencoder's graph to the ONNX model (skl2onnx converter)."""
    estimator = operator.raw_operator
    opv = container.target_opset
    output = container.get_options(estimator, {"output": OUTPUTS[0]})["output"]
    _check_opset(opv, output)
    layers, n_encoder_layers, loss = _export_layers(estimator)

    X = operator.inputs[0]
    if isinstance(X.type, DoubleTensorType):
        dtype = np.float64
    else:
        dtype = np.float32
        if not isinstance(X.type, FloatTensorType):  # integers, for instance
            X = OnnxCast(X, to=TensorProto.FLOAT, op_version=opv)

    # NaN is a missing entry, as in transform and score_samples: the network sees 0
    # there, and a sample's error is the mean over its observed entries.
    missing = OnnxIsNaN(X, op_version=opv)
    X = OnnxWhere(missing, _scalar(0.0, dtype), X, op_version=opv)
    Z = X
    for W, b, activation in layers[: n_encoder_layers if output == "codes" else None]:
        A = OnnxAdd(
            OnnxMatMul(Z, W.astype(dtype), op_version=opv), b.astype(dtype), op_version=opv
        )
        Z = _ACTIVATION_NODES[activation](A, dtype, opv)

    if output == "reconstruction" and loss == "binary_crossentropy":
        Z = OnnxSigmoid(Z, op_version=opv)
    elif output == "score_samples":
        observed = OnnxCast(
            OnnxNot(missing, op_version=opv),
            to=TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT,
            op_version=opv,
        )
        errors = OnnxMul(_sample_error_node(Z, X, loss, dtype, opv), observed, op_version=opv)
        total, count = (
            OnnxReduceSumApi11(E, axes=[1], keepdims=0, op_version=opv) for E in (errors, observed)
        )
        # A reconstruction that overflows (inf · 0 at a missing entry, inf - inf in the
        # cross-entropy) gives a NaN total, or -inf (the cross-entropy off [0, 1] is
        # unbounded below): its score is -inf, as score_samples says; a row with
        # nothing observed keeps 0 / 0 = NaN.
        overflowed = OnnxOr(
            OnnxIsNaN(total, op_version=opv),
            OnnxIsInf(total, detect_positive=0, op_version=opv),
            op_version=opv,
        )
        total = OnnxWhere(overflowed, _scalar(np.inf, dtype), total, op_version=opv)
        Z = OnnxNeg(OnnxDiv(total, count, op_version=opv), op_version=opv)
    OnnxIdentity(Z, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _not_exported(operator):
    """Shape calculator of the estimators without an ONNX export: a clear refusal."""
    raise NotImplementedError(
        f"{type(operator.raw_operator).__name__} cannot be exported to ONNX yet (only "
        "AutoencoderTransformer and VariationalAutoencoder can): deploy it with skops or "
        "Dask instead (see the user guide's page on deploying a model)."
    )


def register_subclass(cls):
    """Export a subclass of the autoencoders with its parent's converter.

    skl2onnx finds a converter by the estimator's exact class, so a subclass of
    :class:`~skae.AutoencoderTransformer` or :class:`~skae.VariationalAutoencoder`
    has none until it is registered (``to_onnx`` raises skl2onnx's
    ``MissingShapeCalculator``). A subclass may compute otherwise than its
    parent: registering it says it does not, and its graph is the parent's,
    computed from the fitted weights, with the same ``"output"`` option.

    Parameters
    ----------
    cls : type
        A subclass of :class:`~skae.AutoencoderTransformer` or
        :class:`~skae.VariationalAutoencoder`.

    Returns
    -------
    cls : type
        The class itself, so that this can decorate its definition.

    Examples
    --------
    >>> from skae import AutoencoderTransformer
    >>> from skae.onnx import register_subclass
    >>> @register_subclass
    ... class MyAutoencoder(AutoencoderTransformer):
    ...     pass
    """
    if not (isinstance(cls, type) and issubclass(cls, (AutoencoderTransformer,
                                                       VariationalAutoencoder))):
        raise TypeError(
            "register_subclass takes a subclass of AutoencoderTransformer or "
            f"VariationalAutoencoder, got {cls!r}."
        )
    outputs = VARIATIONAL_OUTPUTS if issubclass(cls, VariationalAutoencoder) else OUTPUTS
    alias = "Skae_" + f"{cls.__module__}.{cls.__qualname__}".replace(".", "_")
    update_registered_converter(
        cls,
        alias,
        _shape_calculator,
        _converter,
        overwrite=True,
        options={"output": list(outputs)},
    )
    return cls


def _register():
    for unsupported in (AutoencoderImputer, AutoencoderOutlierDetector):
        update_registered_converter(
            unsupported,
            f"Skae{unsupported.__name__}",
            _not_exported,
            _converter,  # never reached: the shape calculator refuses first
            overwrite=True,
        )
    update_registered_converter(
        AutoencoderTransformer,
        _ALIAS,
        _shape_calculator,
        _converter,
        overwrite=True,
        options={"output": list(OUTPUTS)},
    )
    update_registered_converter(
        VariationalAutoencoder,
        _VARIATIONAL_ALIAS,
        _shape_calculator,
        _converter,
        overwrite=True,
        options={"output": list(VARIATIONAL_OUTPUTS)},
    )


_register()
