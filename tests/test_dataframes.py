"""Data frames in and out: set_output, ColumnTransformer, FeatureUnion."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_transformer
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skae import AutoencoderTransformer

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

COLUMNS = ["height", "width", "depth", "mass", "density"]
CODES = ["autoencodertransformer0", "autoencodertransformer1"]


@pytest.fixture
def frame():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(80, 2))
    values = np.tanh(latent @ rng.normal(size=(2, 5))) + 0.05 * rng.normal(size=(80, 5))
    df = pd.DataFrame(values, columns=COLUMNS)
    df["colour"] = rng.choice(["red", "green", "blue"], size=80)
    return df


def small(**params):
    defaults = dict(n_components=2, hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    return AutoencoderTransformer(**{**defaults, **params})


def test_pandas_output_has_named_columns(frame):
    X = frame[COLUMNS]
    ae = small().set_output(transform="pandas")
    codes = ae.fit_transform(X)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == CODES
    assert_array_equal(codes.index, X.index)
    assert_array_equal(ae.feature_names_in_, COLUMNS)
    assert_array_equal(ae.get_feature_names_out(), CODES)
    # The same numbers as the default output; reconstructions are plain arrays.
    assert_allclose(codes.to_numpy(), small().fit(X).transform(X))
    assert ae.inverse_transform(codes).shape == X.shape


def test_pandas_output_in_a_pipeline(frame):
    pipe = make_pipeline(StandardScaler(), small()).set_output(transform="pandas")
    codes = pipe.fit_transform(frame[COLUMNS])
    assert list(codes.columns) == CODES
    assert list(pipe.get_feature_names_out()) == CODES


def test_transform_checks_column_names(frame):
    ae = small().fit(frame[COLUMNS])
    with pytest.raises(ValueError, match="feature names"):
        ae.transform(frame[COLUMNS[::-1]])


def test_polars_in_and_out(frame):
    pl = pytest.importorskip("polars")
    X = pl.from_pandas(frame[COLUMNS])
    ae = small().set_output(transform="polars")
    codes = ae.fit_transform(X)
    assert isinstance(codes, pl.DataFrame)
    assert codes.columns == CODES
    assert_allclose(codes.to_numpy(), small().fit(frame[COLUMNS]).transform(frame[COLUMNS]))


def test_column_transformer_feature_names(frame):
    ct = make_column_transformer(
        (make_pipeline(StandardScaler(), small()), COLUMNS),
        (OneHotEncoder(sparse_output=False), ["colour"]),
    ).set_output(transform="pandas")
    out = ct.fit_transform(frame)
    expected = [f"pipeline__{name}" for name in CODES] + [
        "onehotencoder__colour_blue",
        "onehotencoder__colour_green",
        "onehotencoder__colour_red",
    ]
    assert list(out.columns) == expected
    assert list(ct.get_feature_names_out()) == expected
    assert out.shape == (frame.shape[0], 5)


def test_two_autoencoders_in_a_column_transformer(frame):
    ct = make_column_transformer(
        (small(n_components=1), COLUMNS[:3]),
        (small(n_components=2), COLUMNS[3:]),
        verbose_feature_names_out=True,
    )
    out = ct.fit_transform(frame)
    assert out.shape == (frame.shape[0], 3)
    assert list(ct.get_feature_names_out()) == [
        "autoencodertransformer-1__autoencodertransformer0",
        "autoencodertransformer-2__autoencodertransformer0",
        "autoencodertransformer-2__autoencodertransformer1",
    ]


def test_feature_union_feature_names(frame):
    union = make_union(small(), PCA(n_components=2)).set_output(transform="pandas")
    out = union.fit_transform(frame[COLUMNS])
    expected = [f"autoencodertransformer__{name}" for name in CODES] + ["pca__pca0", "pca__pca1"]
    assert list(out.columns) == expected
    assert list(union.get_feature_names_out()) == expected
