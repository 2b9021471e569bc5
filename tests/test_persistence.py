"""Saving and loading fitted models: pickle, joblib, skops."""

import copy
import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import AutoencoderTransformer, InconsistentVersionWarning


@pytest.fixture
def fitted(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutoencoderTransformer(
            2, hidden_layer_sizes=(8, 4), early_stopping=True, max_iter=5, random_state=0
        ).fit(blobs)


def _outputs(ae, X):
    """What a fitted model computes: transform, inverse, scores and predictions it has."""
    outputs = []
    if hasattr(ae, "transform"):
        outputs.append(ae.transform(X))
        if hasattr(ae, "inverse_transform"):
            outputs.append(ae.inverse_transform(outputs[0]))
    for method in ("score_samples", "decision_function", "predict"):
        if hasattr(ae, method):
            outputs.append(getattr(ae, method)(X))
    assert outputs, f"{type(ae).__name__} computes nothing this test compares"
    return outputs


def _roundtrip_pickle(ae):
    return pickle.loads(pickle.dumps(ae))


def _roundtrip_joblib(ae):
    buffer = io.BytesIO()
    joblib.dump(ae, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize("roundtrip", [_roundtrip_pickle, _roundtrip_joblib])
def test_roundtrip_is_bitwise_identical_and_trains_on(fitted, blobs, roundtrip):
    loaded = roundtrip(fitted)
    for a, b in zip(_outputs(fitted, blobs), _outputs(loaded, blobs), strict=True):
        assert_array_equal(a, b)
    # coefs_/intercepts_ are views into the loaded flat buffer again
    assert all(np.shares_memory(w, loaded._params) for w in loaded.coefs_ + loaded.intercepts_)
    # partial_fit continues identically from both
    fitted_copy = roundtrip(fitted)
    loaded.partial_fit(blobs)
    fitted_copy.partial_fit(blobs)
    assert_array_equal(loaded._params, fitted_copy._params)
    assert loaded.n_iter_ == fitted.n_iter_ + 1


def _dump_pickle(ae, tmp_path):
    return pickle.loads(pickle.dumps(ae))


def _dump_joblib(ae, tmp_path):
    path = tmp_path / "ae.joblib"
    joblib.dump(ae, path)
    return joblib.load(path)


def _deepcopy(ae, tmp_path):
    return copy.deepcopy(ae)


@pytest.mark.parametrize("save", [_dump_pickle, _dump_joblib, _deepcopy])
def test_saving_leaves_the_original_intact(fitted, blobs, tmp_path, save):
    before = _outputs(fitted, blobs)
    params = fitted._params.copy()
    saved = save(fitted, tmp_path)
    # The original keeps its fitted attributes, still views into its own buffer.
    for ae in (fitted, saved):
        assert len(ae.coefs_) == len(ae.intercepts_) == 6
        assert all(np.shares_memory(w, ae._params) for w in ae.coefs_ + ae.intercepts_)
        for a, b in zip(before, _outputs(ae, blobs), strict=True):
            assert_array_equal(a, b)
    assert_array_equal(fitted._params, params)
    # The copy owns its weights: training it leaves the original alone.
    assert not np.shares_memory(saved._params, fitted._params)
    saved.partial_fit(blobs)
    assert_array_equal(fitted._params, params)
    fitted.partial_fit(blobs)
    assert_array_equal(fitted._params, saved._params)


def test_unfitted_roundtrip():
    ae = _roundtrip_pickle(AutoencoderTransformer(3))
    assert ae.get_params()["n_components"] == 3
    assert not hasattr(ae, "coefs_")


def test_pickle_records_version_and_warns_on_mismatch(fitted, blobs, monkeypatch):
    assert fitted.__getstate__()["_skae_version"] == skae.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        _roundtrip_pickle(fitted)  # same version: no warning
    monkeypatch.setattr(skae, "__version__", "0.0.1")
    data = pickle.dumps(fitted)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning, match="from skae version 0.0.1 when using"):
        loaded = pickle.loads(data)
    assert_array_equal(loaded.transform(blobs), fitted.transform(blobs))


#: Every public estimator class; future estimators are covered by the tests below.
PUBLIC_ESTIMATORS = [
    obj
    for obj in (getattr(skae, name) for name in skae.__all__)
    if isinstance(obj, type) and issubclass(obj, BaseEstimator)
]

#: Small, quick settings, each used by the estimators that have the parameter.
_QUICK_PARAMS = {
    "hidden_layer_sizes": (8, 4),
    "early_stopping": True,
    "max_iter": 5,
    "random_state": 0,
}


def _quick(cls):
    names = cls().get_params()
    return cls(**{k: v for k, v in _QUICK_PARAMS.items() if k in names})


def test_public_estimators_are_listed():
    assert AutoencoderTransformer in PUBLIC_ESTIMATORS
    assert InconsistentVersionWarning not in PUBLIC_ESTIMATORS


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda cls: cls.__name__)
def test_skops_trusts_exactly_its_own_type(cls, blobs, tmp_path):
    sio = pytest.importorskip("skops.io")
    from skops.io.exceptions import UntrustedTypesFoundException

    own_type = f"{cls.__module__}.{cls.__qualname__}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = _quick(cls).fit(blobs)
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    assert sio.get_untrusted_types(file=path) == [own_type]
    loaded = sio.load(path, trusted=[own_type])
    assert type(loaded) is cls
    for a, b in zip(_outputs(fitted, blobs), _outputs(loaded, blobs), strict=True):
        assert_array_equal(a, b)
    if hasattr(loaded, "partial_fit"):
        loaded.partial_fit(blobs)
    with pytest.raises(UntrustedTypesFoundException, match="Untrusted types"):
        sio.load(path)


def test_skops_with_feature_names(blobs, tmp_path):
    pd = pytest.importorskip("pandas")
    sio = pytest.importorskip("skops.io")
    df = pd.DataFrame(blobs, columns=[f"c{i}" for i in range(blobs.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(2, max_iter=2, random_state=0).fit(df)
    path = tmp_path / "ae.skops"
    sio.dump(ae, path)
    assert sio.get_untrusted_types(file=path) == ["skae._estimator.AutoencoderTransformer"]
    loaded = sio.load(path, trusted=["skae._estimator.AutoencoderTransformer"])
    assert_array_equal(loaded.feature_names_in_, ae.feature_names_in_)
