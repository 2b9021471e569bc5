"""ONNX export: onnxruntime's outputs against skae's own, for every layer and loss.

Needs the ``onnx`` extra (skl2onnx, onnxruntime); skipped without it.
"""

import importlib
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import AutoencoderImputer, AutoencoderOutlierDetector, AutoencoderTransformer
from skae._activations import ACTIVATIONS
from skae._objectives import LOSSES

skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra (skl2onnx) is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

import skae.onnx  # noqa: E402  (registers the converter; needs skl2onnx)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OUTPUTS = skae.onnx.OUTPUTS
#: max abs error allowed, relative to max(1, max |expected|)
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
N_FEATURES = 8


def make_data(n, seed):
    """Points near a curved 3-d sheet in 8-d, plus a few far-off rows (large activations)."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 3))
    X = np.tanh(latent @ rng.normal(size=(3, N_FEATURES))) + 0.05 * rng.normal(size=(n, 8))
    X[:5] *= 20
    return X


X_TRAIN = make_data(200, seed=0)
X_TEST = make_data(60, seed=1)


def fit_pipeline(activation="relu", loss="squared_error", **params):
    scaler = MinMaxScaler() if loss == "binary_crossentropy" else StandardScaler()
    ae = AutoencoderTransformer(
        3,
        hidden_layer_sizes=params.pop("hidden_layer_sizes", (12, 6)),
        activation=activation,
        loss=loss,
        max_iter=5,
        random_state=0,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # MinMaxScaler maps the training data into [0, 1]; no cross-entropy warning
        return make_pipeline(scaler, ae).fit(X_TRAIN)


_PIPELINES = {}


@pytest.fixture(scope="module")
def pipelines():
    """Fitted pipelines by (activation, loss), each fitted once for the module."""

    def get(activation, loss):
        key = (activation, loss)
        if key not in _PIPELINES:
            _PIPELINES[key] = fit_pipeline(activation, loss)
        return _PIPELINES[key]

    return get


def expected_output(ae, X, output):
    """What skae computes for ``output`` (``ae`` an estimator or a pipeline)."""
    if output == "codes":
        return ae.transform(X)
    if output == "reconstruction":
        # the reconstruction of what the autoencoder sees (after any scaler)
        codes = ae.transform(X)
        last = ae[-1] if hasattr(ae, "steps") else ae
        return last.inverse_transform(codes)
    return ae.score_samples(X)


def run_onnx(model, X, options=None, **kwargs):
    onx = skl2onnx.to_onnx(model, X[:1], options=options, **kwargs)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def export_output(model, X, output):
    options = {AutoencoderTransformer: {"output": output}}
    (result,) = run_onnx(model, X, options=options)
    return result


def max_scaled_error(got, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(got.astype(np.float64) - expected).max()) / scale


def assert_close_to_scale(got, expected, dtype):
    assert got.shape == expected.shape
    assert got.dtype == dtype
    error = max_scaled_error(got, expected)
    assert error <= RTOL[dtype], f"max abs error {error:.3g} x scale > {RTOL[dtype]:g} x scale"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("bare", [False, True], ids=["pipeline", "bare"])
def test_onnxruntime_matches_skae(pipelines, activation, loss, output, dtype, bare):
    pipe = pipelines(activation, loss)
    model, X = (pipe[-1], pipe[0].transform(X_TEST)) if bare else (pipe, X_TEST)
    X = X.astype(dtype)
    expected = expected_output(model, X, output)
    got = export_output(model, X, output)
    assert_close_to_scale(got, expected.astype(np.float64), dtype)
    # not vacuous: the outputs vary
    assert np.ptp(expected) > 1e-3


def test_default_output_is_the_codes(pipelines):
    pipe = pipelines("tanh", "squared_error")
    X = X_TEST.astype(np.float32)
    (codes,) = run_onnx(pipe, X)
    assert codes.shape == (X.shape[0], 3)
    assert_close_to_scale(codes, pipe.transform(X).astype(np.float64), np.float32)


def test_score_samples_keeps_the_methods_sign(pipelines):
    """Higher is more normal: the exported score is minus the reconstruction error."""
    pipe = pipelines("relu", "squared_error")
    X = X_TEST.astype(np.float32)
    scores = export_output(pipe, X, "score_samples")
    assert (scores < 0).all()
    # the far-off rows score lowest
    assert set(np.argsort(scores)[:5]) == set(range(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize(
    "layers",
    [
        {"hidden_layer_sizes": (16,), "decoder_layer_sizes": (4, 8, 16)},
        {"hidden_layer_sizes": (10, 8, 6, 4), "decoder_layer_sizes": 5},
        {"hidden_layer_sizes": ()},
    ],
    ids=["deep-decoder", "deep-encoder", "linear"],
)
def test_asymmetric_networks(layers, output, dtype):
    pipe = fit_pipeline("elu", **dict(layers))
    decoder = layers.get("decoder_layer_sizes", layers["hidden_layer_sizes"])
    n_decoder = 1 if isinstance(decoder, int) else len(decoder)
    assert len(pipe[-1].coefs_) == len(layers["hidden_layer_sizes"]) + n_decoder + 2
    X = X_TEST.astype(dtype)
    got = export_output(pipe, X, output)
    assert_close_to_scale(got, expected_output(pipe, X, output).astype(np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_variants_export_like_the_plain_network(output, dtype):
    """Tied weights export as the transposed matrices they are; training-only options
    (noise, penalties) change nothing at inference."""
    pipe = fit_pipeline(
        "tanh", tied_weights=True, noise="masking", sparsity=1e-3, contraction=1e-2
    )
    assert np.shares_memory(pipe[-1].coefs_[-1], pipe[-1].coefs_[0])
    X = X_TEST.astype(dtype)
    got = export_output(pipe, X, output)
    assert_close_to_scale(got, expected_output(pipe, X, output).astype(np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_model_fitted_in_float32(dtype):
    scaler = StandardScaler().fit(X_TRAIN)
    X_fit = scaler.transform(X_TRAIN).astype(np.float32)
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(12,), activation="softplus", max_iter=5)
    ae.set_params(random_state=0).fit(X_fit)
    assert ae.coefs_[0].dtype == np.float32
    X = scaler.transform(X_TEST).astype(dtype)
    for output in OUTPUTS:
        got = export_output(ae, X, output)
        assert_close_to_scale(got, expected_output(ae, X, output).astype(np.float64), dtype)


def test_sparse_fit_dense_export():
    """ONNX tensors are dense: a model fitted on sparse data runs on the dense rows."""
    rng = np.random.RandomState(0)
    X = sp.random(150, N_FEATURES, density=0.3, format="csr", random_state=rng)
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X)
    dense = X.toarray().astype(np.float32)
    for output in OUTPUTS:
        got = export_output(ae, dense, output)
        expected = expected_output(ae, X.astype(np.float32), output)
        assert_close_to_scale(got, expected.astype(np.float64), np.float32)


def test_integer_input_is_cast_to_float32():
    X = np.random.RandomState(0).randint(0, 5, size=(50, 4))
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X)
    (codes,) = run_onnx(ae, X.astype(np.int64))
    assert_close_to_scale(codes, ae.transform(X), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_nan_is_missing_in_the_graph_as_in_skae(output, loss, dtype):
    """A NaN input is a missing entry: 0 into the network, left out of the row's
    error (a row with nothing observed scores NaN), as transform and score_samples do."""
    X_fit = MinMaxScaler().fit_transform(X_TRAIN)
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(12,), loss=loss, max_iter=5)
    ae.set_params(random_state=0).fit(X_fit)
    rng = np.random.RandomState(0)
    X = MinMaxScaler().fit(X_TRAIN).transform(X_TEST).clip(0, 1).astype(dtype)
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    X[0] = np.nan
    assert not np.isnan(X).all(axis=0).any() and np.isnan(X).any(axis=1).mean() > 0.8
    expected = expected_output(ae, X, output)
    got = export_output(ae, X, output)
    # NaN only where nothing is observed: row 0's score
    nan_rows = np.flatnonzero(np.isnan(got).reshape(len(X), -1).any(axis=1))
    assert_array_equal(nan_rows, [0] if output == "score_samples" else [])
    assert_array_equal(np.isnan(got), np.isnan(expected))
    keep = ~np.isnan(expected)
    assert_close_to_scale(np.where(keep, got, 0), np.where(keep, expected, 0), dtype)



@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_rows_whose_reconstruction_overflows_score_minus_infinity_as_in_skae(loss, dtype):
    """Not NaN, which a threshold (score < t) would let through as an inlier."""
    X_fit = MinMaxScaler().fit_transform(X_TRAIN)
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(12,), loss=loss, max_iter=5)
    ae.set_params(random_state=0).fit(X_fit)
    big = 1e30 if dtype == np.float32 else 1e200
    X = X_fit[:6].astype(dtype)
    X[2:] = big * np.sign(np.random.RandomState(0).normal(size=(4, N_FEATURES)))
    X[[2, 4], 1] = np.nan  # the overflow at a missing entry: inf · 0
    X[5] = np.nan  # nothing observed: NaN, as in skae
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cross-entropy's range warning, on purpose
        expected = ae.score_samples(X)
    got = export_output(ae, X, "score_samples")
    assert np.isfinite(got[:2]).all()
    assert_array_equal(np.isnan(got), [False] * 5 + [True])
    if dtype == np.float64:
        assert_array_equal(got[2:5], -np.inf)
        assert_array_equal(got[2:5], expected[2:5])
    else:  # the graph overflows in float32, where skae computes in float64
        assert (got[2:5] == -np.inf).all()

def test_a_cross_entropy_that_overflows_below_scores_minus_infinity_as_in_skae():
    """Off [0, 1] the cross-entropy is unbounded below: an error of -inf overflowed
    (in float64; skae scores float32 input in float64, where 1e38 does not overflow)."""
    X_fit = MinMaxScaler().fit_transform(X_TRAIN)
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(12,), loss="binary_crossentropy",
                                max_iter=5, random_state=0).fit(X_fit)
    # The far entry's term is -inf when x and its logit share a sign (+inf else).
    X = np.full((2 * N_FEATURES, N_FEATURES), 0.5)  # one entry far off [0, 1] per row
    rows, columns = np.arange(2 * N_FEATURES), np.tile(np.arange(N_FEATURES), 2)
    X[rows, columns] = np.repeat([1e300, -1e300], N_FEATURES)
    X[0, 1] = np.nan  # through the missing entries' path too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cross-entropy's range warning, on purpose
        with np.errstate(all="ignore"):
            raw = ae._objective().sample_errors(np.nan_to_num(X[1:]))
        assert (raw == -np.inf).any()  # the case under test is there
        expected = ae.score_samples(X)
    got = export_output(ae, X, "score_samples")
    assert_array_equal(expected, -np.inf)
    assert_array_equal(got, -np.inf)


def test_codes_feed_a_downstream_classifier(pipelines):
    base = pipelines("relu", "squared_error")
    y = (X_TRAIN[:, 0] > np.median(X_TRAIN[:, 0])).astype(int)
    pipe = make_pipeline(*[step for _, step in base.steps], LogisticRegression())
    pipe.steps[-1][1].fit(base.transform(X_TRAIN), y)
    X = X_TEST.astype(np.float32)
    labels, proba = run_onnx(pipe, X, options={LogisticRegression: {"zipmap": False}})
    assert_array_equal(labels, pipe.predict(X))
    assert_close_to_scale(proba, pipe.predict_proba(X), np.float32)


def test_option_per_instance_and_bad_value(pipelines):
    pipe = pipelines("tanh", "squared_error")
    X = X_TEST.astype(np.float32)
    (reconstruction,) = run_onnx(pipe, X, options={id(pipe[-1]): {"output": "reconstruction"}})
    assert reconstruction.shape == X.shape
    with pytest.raises(ValueError, match="option 'output'"):
        skl2onnx.to_onnx(pipe, X[:1], options={AutoencoderTransformer: {"output": "error"}})


@pytest.mark.parametrize("output", ["reconstruction", "score_samples"])
@pytest.mark.parametrize("first_width", [4, N_FEATURES])
def test_a_class_wide_option_on_stacked_autoencoders_is_refused_at_export(output, first_width):
    # The second autoencoder was fitted on the first one's codes: a class-wide
    # option would feed it reconstructions or scores, and the graph would fail in
    # the runtime, or (codes as wide as the input) silently compute something else.
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(first_width, hidden_layer_sizes=(6,), max_iter=2, random_state=0),
        AutoencoderTransformer(2, hidden_layer_sizes=(3,), max_iter=2, random_state=0),
    ).fit(X_TRAIN)
    X = X_TEST.astype(np.float32)
    refused = rf'output "{output}" feeds another step.*id\(pipe\[-1\]\)'
    with pytest.raises(ValueError, match=refused):
        skl2onnx.to_onnx(pipe, X[:1], options={AutoencoderTransformer: {"output": output}})
    # The advice works: the option on the last autoencoder only.
    (result,) = run_onnx(pipe, X, options={id(pipe[-1]): {"output": output}})
    codes = pipe[:-1].transform(X)
    if output == "score_samples":
        expected = pipe[-1].score_samples(codes)
    else:
        expected = pipe[-1].inverse_transform(pipe[-1].transform(codes))
    assert_close_to_scale(result, expected, np.float32)


def test_scores_feeding_a_classifier_are_refused_at_export(pipelines):
    base = pipelines("relu", "squared_error")
    y = (X_TRAIN[:, 0] > np.median(X_TRAIN[:, 0])).astype(int)
    pipe = make_pipeline(*[step for _, step in base.steps], LogisticRegression())
    pipe.steps[-1][1].fit(base.transform(X_TRAIN), y)
    options = {AutoencoderTransformer: {"output": "score_samples"}}
    with pytest.raises(ValueError, match=r"feeds another step \(LogisticRegression\)"):
        skl2onnx.to_onnx(pipe, X_TEST[:1].astype(np.float32), options=options)


def test_a_sample_of_another_width_is_refused_at_export():
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    ae.fit(X_TRAIN)
    X_wide = np.hstack([X_TEST, X_TEST]).astype(np.float32)
    with pytest.raises(ValueError, match=r"fitted on 8 features.*shape \[None, 16\]"):
        skl2onnx.to_onnx(ae, X_wide[:1])
    # A width given as a NumPy integer is checked too.
    from skl2onnx.common.data_types import FloatTensorType

    declared = [("X", FloatTensorType([None, np.int64(16)]))]
    with pytest.raises(ValueError, match=r"fitted on 8 features.*shape \[None, 16\]"):
        skl2onnx.to_onnx(ae, initial_types=declared)
    # A model that cannot be exported says so first, whatever the sample's width.
    grouped = AutoencoderTransformer(
        3, hidden_layer_sizes=(6,), mask_as_input=True, max_iter=2, random_state=0
    ).fit(X_TRAIN)
    with pytest.raises(NotImplementedError, match="mask_as_input"):
        skl2onnx.to_onnx(grouped, X_wide[:1])
    # A sample of the right width with an unknown number of rows converts.
    assert skl2onnx.to_onnx(ae, X_TEST[:1].astype(np.float32)) is not None


@pytest.mark.parametrize("activation", ["relu", "elu"])  # elu: elementary ops in float64
@pytest.mark.parametrize("output", OUTPUTS)
def test_the_least_opset_exports_and_an_older_one_is_refused(pipelines, output, activation):
    """IsNaN (opset 9) marks the missing entries, IsInf (10) the scores that overflow."""
    pipe = pipelines(activation, "squared_error")
    ae, X = pipe[-1], pipe[0].transform(X_TEST)
    least = 10 if output == "score_samples" else 9
    options = {AutoencoderTransformer: {"output": output}}
    (got,) = run_onnx(ae, X, options=options, target_opset=least)
    assert_close_to_scale(got, expected_output(ae, X, output), np.float64)
    with pytest.raises(ValueError, match=f"needs target_opset {least} or later.*"
                                         f"got target_opset={least - 1}"):
        skl2onnx.to_onnx(ae, X[:1], options=options, target_opset=least - 1)


def test_export_does_not_change_the_estimator(pipelines):
    ae = pipelines("logistic", "binary_crossentropy")[-1]
    before = [w.copy() for w in ae.coefs_ + ae.intercepts_]
    params = ae.get_params()
    skl2onnx.to_onnx(ae, X_TEST[:1])
    assert ae.get_params() == params
    for a, b in zip(before, ae.coefs_ + ae.intercepts_, strict=True):
        assert_array_equal(a, b)


def test_a_data_frame_sample_is_refused_with_the_fix():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_TRAIN.astype(np.float32), columns=[f"f{i}" for i in range(8)])
    ae = AutoencoderTransformer(3, hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    ae.fit(frame)
    with pytest.raises(ValueError, match="one input tensor, got 8.*df.to_numpy"):
        skl2onnx.to_onnx(ae, frame[:1])
    # The fix it names works; so does a scaler ahead, which joins the columns.
    X = X_TEST.astype(np.float32)
    onx = skl2onnx.to_onnx(ae, frame.to_numpy(dtype=np.float32)[:1])
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    (codes,) = session.run(None, {"X": X})
    assert np.abs(codes - ae.transform(pd.DataFrame(X, columns=frame.columns))).max() < 1e-4
    pipe = make_pipeline(StandardScaler(), ae).fit(frame)
    assert skl2onnx.to_onnx(pipe, frame[:1]) is not None


def test_a_model_fitted_on_other_arrays_must_be_moved_to_numpy_first():
    array_api_strict = pytest.importorskip("array_api_strict")
    import sklearn

    with sklearn.config_context(array_api_dispatch=True):
        ae = AutoencoderTransformer(3, hidden_layer_sizes=(6,), max_iter=2, random_state=0)
        ae.fit(array_api_strict.asarray(X_TRAIN))
    with pytest.raises(ValueError, match=r"array_api_strict.*move_estimator_to\(est, numpy"):
        skl2onnx.to_onnx(ae, X_TEST[:1])
    from sklearn.utils._array_api import move_estimator_to

    on_host = move_estimator_to(ae, np, "cpu")
    onx = skl2onnx.to_onnx(on_host, X_TEST[:1])
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    (codes,) = session.run(None, {"X": X_TEST})
    assert np.abs(codes - on_host.transform(X_TEST)).max() < 1e-10


def test_an_unfitted_model_is_refused_as_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="AutoencoderTransformer instance is not fitted"):
        skl2onnx.to_onnx(AutoencoderTransformer(2), X_TRAIN[:1].astype(np.float32))


@pytest.mark.parametrize("cls", [AutoencoderImputer, AutoencoderOutlierDetector])
def test_estimators_without_an_export_are_refused_by_name(cls):
    est = cls(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X_TRAIN)
    with pytest.raises(NotImplementedError, match=f"{cls.__name__} cannot be exported.*skops"):
        skl2onnx.to_onnx(est, X_TRAIN[:1].astype(np.float32))
    pipe = make_pipeline(StandardScaler(), est).fit(X_TRAIN)
    with pytest.raises(NotImplementedError, match=f"{cls.__name__} cannot be exported"):
        skl2onnx.to_onnx(pipe, X_TRAIN[:1].astype(np.float32))


def test_registration_is_idempotent(pipelines):
    pipe = pipelines("leaky_relu", "squared_error")
    X = X_TEST.astype(np.float32)
    first = export_output(pipe, X, "score_samples")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("skae.onnx")
        importlib.reload(skae.onnx)
        skae.onnx._register()
    assert skl2onnx.get_model_alias(AutoencoderTransformer) == skae.onnx._ALIAS
    assert_array_equal(export_output(pipe, X, "score_samples"), first)


def test_missing_skl2onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    monkeypatch.delitem(sys.modules, "skae.onnx")
    with pytest.raises(ImportError, match=r'pip install skl2onnx onnxruntime \(or the onnx '
                       r'extra, pip install "\.\[onnx\]" from a checkout of skae\)'):
        importlib.import_module("skae.onnx")


def _python_blocks(rst):
    """The ``.. code-block:: python`` bodies of an rst text, dedented, in order."""
    blocks, lines, i = [], rst.splitlines(), 0
    while i < len(lines):
        i += 1
        if lines[i - 1].strip() != ".. code-block:: python":
            continue
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)))
    return blocks


def test_deploying_page_examples_run(tmp_path, monkeypatch, capsys):
    """The ONNX and skops code of docs/deploying.rst runs and prints what it says."""
    pytest.importorskip("skops.io", reason="skops is not installed")
    page = Path(__file__).resolve().parents[1] / "docs" / "deploying.rst"
    before_dask = page.read_text().split("\nDask\n====\n")[0]
    blocks = _python_blocks(before_dask)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    error, untrusted = capsys.readouterr().out.splitlines()
    assert float(error) < 1e-5
    assert untrusted == "['skae._estimator.AutoencoderTransformer']"
    assert (tmp_path / "autoencoder.onnx").stat().st_size > 0
    session = ort.InferenceSession(namespace["scores_onx"].SerializeToString())
    (scores,) = session.run(None, {"X": namespace["X32"]})
    assert_close_to_scale(scores, namespace["pipe"].score_samples(namespace["X32"]), np.float32)


def test_the_export_is_of_the_fitted_model_not_of_parameters_set_since():
    X = np.random.default_rng(0).uniform(0, 1, size=(40, 4))
    ae = AutoencoderTransformer(
        2, hidden_layer_sizes=(8,), activation="tanh", loss="binary_crossentropy",
        max_iter=3, n_init=1, random_state=0,
    ).fit(X)
    expected = ae.score_samples(X)
    ae.set_params(activation="relu", loss="squared_error")  # not refitted
    (scores,) = run_onnx(ae, X, options={id(ae): {"output": "score_samples"}})
    assert_close_to_scale(scores, expected, np.float64)


def test_a_subclass_exports_once_registered():
    """skl2onnx matches the exact class: a subclass has no converter until it says it
    computes as its parent; then its graph is the parent's, with the same options."""
    from skl2onnx.common.exceptions import MissingShapeCalculator

    from skae import VariationalAutoencoder

    class Mine(AutoencoderTransformer):
        pass

    class MyVariational(VariationalAutoencoder):
        pass

    X = X_TEST.astype(np.float32)
    mine = Mine(n_components=2, hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X)
    with pytest.raises(MissingShapeCalculator):
        run_onnx(mine, X)
    assert skae.onnx.register_subclass(Mine) is Mine
    for output in OUTPUTS:
        (got,) = run_onnx(mine, X, options={Mine: {"output": output}})
        assert_close_to_scale(got, expected_output(mine, X, output).astype(np.float64),
                              np.float32)
    variational = MyVariational(2, hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X)
    skae.onnx.register_subclass(MyVariational)
    (got,) = run_onnx(variational, X, options={MyVariational: {"output": "reconstruction"}})
    assert_close_to_scale(
        got, expected_output(variational, X, "reconstruction").astype(np.float64), np.float32
    )
    with pytest.raises(ValueError, match="score_samples"):  # not the VAE's to export
        run_onnx(variational, X, options={MyVariational: {"output": "score_samples"}})
    # Only the two exportable families, and classes.
    for wrong in (AutoencoderOutlierDetector, AutoencoderImputer, mine, int):
        with pytest.raises(TypeError, match="subclass of AutoencoderTransformer"):
            skae.onnx.register_subclass(wrong)
