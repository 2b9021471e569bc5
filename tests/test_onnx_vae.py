"""ONNX export of VariationalAutoencoder: onnxruntime's outputs against skae's own.

Needs the ``onnx`` extra (skl2onnx, onnxruntime); skipped without it.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import VariationalAutoencoder

skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra (skl2onnx) is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

import skae.onnx  # noqa: E402  (registers the converters; needs skl2onnx)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def make_data(n, seed):
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 3))
    return np.tanh(latent @ rng.normal(size=(3, 8))) + 0.05 * rng.normal(size=(n, 8))


X_TRAIN, X_TEST = make_data(200, 0), make_data(60, 1)


def fit_pipeline(loss="squared_error", activation="tanh", hidden=(12, 6), decoder=None):
    scaler = MinMaxScaler() if loss == "binary_crossentropy" else StandardScaler()
    vae = VariationalAutoencoder(
        3, hidden_layer_sizes=hidden, decoder_layer_sizes=decoder, activation=activation,
        loss=loss, max_iter=5, random_state=0,
    )
    return make_pipeline(scaler, vae).fit(X_TRAIN)


def run_onnx(model, X, output=None):
    options = None if output is None else {VariationalAutoencoder: {"output": output}}
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})[0]


def expected(pipe, X, output):
    codes = pipe.transform(X)
    return codes if output == "codes" else pipe[-1].inverse_transform(codes)


def assert_close(got, want, dtype):
    assert got.shape == want.shape and got.dtype == dtype
    scale = max(1.0, float(np.abs(want).max()))
    assert float(np.abs(got.astype(np.float64) - want).max()) <= RTOL[dtype] * scale
    assert np.ptp(want) > 1e-3  # not vacuous


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", skae.onnx.VARIATIONAL_OUTPUTS)
@pytest.mark.parametrize(
    "loss, activation, hidden, decoder",
    [
        ("squared_error", "tanh", (12, 6), None),
        ("squared_error", "relu", (), (5,)),
        ("binary_crossentropy", "softplus", (7,), ()),
    ],
)
def test_onnxruntime_matches_skae(loss, activation, hidden, decoder, output, dtype):
    pipe = fit_pipeline(loss, activation, hidden, decoder)
    X = X_TEST.astype(dtype)
    assert_close(run_onnx(pipe, X, output), expected(pipe, X, output).astype(np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("output", skae.onnx.VARIATIONAL_OUTPUTS)
def test_nan_is_missing_in_the_graph_as_in_skae(output, dtype):
    """A NaN input enters the encoder as 0, as the VAE's transform does."""
    pipe = fit_pipeline()
    X = pipe[0].transform(X_TEST).astype(dtype)
    X[np.random.RandomState(0).uniform(size=X.shape) < 0.3] = np.nan
    X[0] = np.nan
    vae = pipe[-1]
    got = run_onnx(vae, X, output)
    assert not np.isnan(got).any()
    codes = vae.transform(X)
    assert_close(got, codes if output == "codes" else vae.inverse_transform(codes), dtype)



@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_a_model_fitted_in_float32_matches_in_the_inputs_precision(dtype):
    """Float64 inputs to a float32 model compute in float64, graph and methods alike:
    inverse_transform computed float64 codes in float32 (~2e-7 off the float64 graph)."""
    vae = VariationalAutoencoder(3, hidden_layer_sizes=(12,), max_iter=5, random_state=0)
    vae.fit(StandardScaler().fit_transform(X_TRAIN).astype(np.float32))
    X = StandardScaler().fit(X_TRAIN).transform(X_TEST).astype(dtype)
    codes = vae.transform(X)
    reconstruction = vae.inverse_transform(codes)
    assert codes.dtype == reconstruction.dtype == dtype
    assert_close(run_onnx(vae, X, "codes"), codes.astype(np.float64), dtype)
    assert_close(run_onnx(vae, X, "reconstruction"), reconstruction.astype(np.float64), dtype)

def test_default_output_is_the_posterior_mean():
    pipe = fit_pipeline()
    X = X_TEST.astype(np.float32)
    codes = run_onnx(pipe, X)
    assert codes.shape == (len(X), 3)
    assert_close(codes, pipe.transform(X).astype(np.float64), np.float32)


def test_score_samples_is_not_exported():
    pipe = fit_pipeline()
    with pytest.raises(ValueError, match="option 'output'"):
        skl2onnx.to_onnx(pipe, X_TEST[:1].astype(np.float32),
                         options={VariationalAutoencoder: {"output": "score_samples"}})


def test_export_does_not_change_the_estimator():
    vae = fit_pipeline()[-1]
    before = vae._params.copy()
    skl2onnx.to_onnx(vae, X_TEST[:1].astype(np.float32))
    assert_array_equal(vae._params, before)
    assert vae.encoder_coefs_[-1].shape[1] == 6  # the log-variance head is still there
