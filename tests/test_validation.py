"""Bad input gets clear errors that say what to do; odd but valid input works, never written."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import (
    AutoencoderImputer,
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoder,
    categorical_groups_from,
)

N_FEATURES = 5
METHODS = ["fit", "partial_fit", "transform", "score", "score_samples"]


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, N_FEATURES))


@pytest.fixture(scope="module")
def fitted(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutoencoderTransformer(2, max_iter=3, random_state=0).fit(X)


def _with(value, row=1, col=2):
    def make(X):
        X = X.copy()
        X[row, col] = value
        return X

    return make


COMPLEX = r"Complex data not supported: .* needs real numbers.*np\.hstack\(\[X\.real, X\.imag\]\)"
NON_NUMERIC = "non-numeric.*encode categorical columns first.*OneHotEncoder in a ColumnTransformer"

BAD_INPUTS = [
    ("inf", _with(np.inf), ValueError, r"Input X contains infinity.*mark them missing \(NaN\)"),
    ("-inf", _with(-np.inf), ValueError, r"Input X contains infinity.*mark them missing \(NaN\)"),
    ("empty", lambda X: X[:0], ValueError, "0 sample"),
    ("no features", lambda X: X[:, :0], ValueError, "0 feature"),
    ("1-D", lambda X: X[:, 0], ValueError, "Expected 2D array, got 1D array"),
    ("3-D", lambda X: X[:, :, None], ValueError, "Found array with dim 3"),
    ("complex", lambda X: X + 1j, ValueError, COMPLEX),
    ("complex list", lambda X: (X + 1j).tolist(), ValueError, COMPLEX),
    ("complex objects", lambda X: (X + 1j).astype(object), ValueError, COMPLEX),
    ("a word", lambda X: [["a"] * X.shape[1]] + X.tolist(), ValueError, NON_NUMERIC),
    ("non-numeric", lambda X: np.full(X.shape, "a", dtype=object), ValueError, NON_NUMERIC),
    ("strings", lambda X: X.astype(str).astype(object) + "x", ValueError, NON_NUMERIC),
    ("scalar", lambda X: 3.0, ValueError, "Expected 2D array, got scalar array"),
    ("too large int", lambda X: [[10**400] * X.shape[1]] + X.tolist(), ValueError,
     r"number too large for a float .*scale X into float64's range"),
    ("iterator", lambda X: iter(X), TypeError, r"X is an iterator .*np\.asarray\(list\(X\)\)"),
    ("generator", lambda X: (row for row in X), TypeError, r"X is an iterator \(generator\)"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "make, exc, match", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_X(X, fitted, method, make, exc, match):
    bad = make(X)
    target = AutoencoderTransformer() if method in ("fit", "partial_fit") else fitted
    with pytest.raises(exc, match=match):
        getattr(target, method)(bad)


WIDER_LONG_DOUBLE = np.finfo(np.longdouble).max > np.finfo(np.float64).max


@pytest.mark.skipif(not WIDER_LONG_DOUBLE, reason="no wider long double on this platform: "
                    "1e400 is an infinity there, and refused as one")
@pytest.mark.parametrize("as_", ["long double", "text"])
@pytest.mark.parametrize(
    "cls",
    [AutoencoderTransformer, VariationalAutoencoder, AutoencoderImputer,
     AutoencoderOutlierDetector],
)
def test_finite_numbers_beyond_float64_are_told_to_scale_not_to_replace_infinities(X, cls, as_):
    bad = X.astype(np.longdouble) if as_ == "long double" else X.astype(object)
    bad[1, 2] = np.longdouble("1e400") if as_ == "long double" else "1e400"
    with pytest.raises(ValueError, match=r"finite numbers beyond float64's range .*divide it "
                       "by a power of ten") as info:
        cls().fit(bad)
    assert "infinit" not in str(info.value)


@pytest.mark.skipif(not WIDER_LONG_DOUBLE, reason="no wider long double on this platform: "
                    "1e400 is an infinity there, and refused as one")
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, VariationalAutoencoder, AutoencoderOutlierDetector]
)
def test_sparse_numbers_beyond_float64_are_told_to_scale_too(X, cls, container):
    """Sparse input is read through its stored values (the imputer takes no sparse X)."""
    bad = X.astype(np.longdouble)
    bad[1, 2] = np.longdouble("1e400")
    with pytest.raises(ValueError, match=r"finite numbers beyond float64's range .*divide it "
                       "by a power of ten") as info:
        cls().fit(container(bad))
    assert "infinit" not in str(info.value)


@pytest.mark.parametrize(
    "estimator, advice",
    [
        (AutoencoderOutlierDetector(), "or drop those rows"),
        (AutoencoderImputer(missing_values=-1), r"or with -1 \(missing_values\) to impute them"),
        (AutoencoderImputer(), r"or mark them missing \(NaN\)"),
    ],
)
def test_infinities_get_advice_where_nan_is_not_missing_too(X, estimator, advice):
    bad = _with(np.inf)(X)
    with pytest.raises(ValueError, match=rf"Input X contains infinity.* Replace the infinities "
                       rf"with finite values, {advice}"):
        estimator.fit(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = clone(estimator).set_params(max_iter=2).fit(X)
    method = "transform" if hasattr(fitted, "transform") else "score_samples"
    with pytest.raises(ValueError, match=advice):
        getattr(fitted, method)(bad)


@pytest.mark.parametrize("method", METHODS)
def test_dataframe_with_text_columns_names_them(X, method):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = AutoencoderTransformer(2, max_iter=2).fit(df)
    bad = df.copy()
    bad["b"] = pd.Series(["red", "blue"] * 20, dtype="str")
    bad["d"] = pd.Series(["x", 1.5] * 20, dtype=object)
    target = AutoencoderTransformer() if method == "fit" else fitted
    message = (
        "Columns ['b', 'd'] of X are non-numeric: AutoencoderTransformer needs numbers; "
        "encode categorical columns first, e.g. with OneHotEncoder in a ColumnTransformer"
    )
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        getattr(target, method)(bad)
    assert info.value.__cause__ is not None  # the original error is chained


@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, AutoencoderImputer, VariationalAutoencoder]
)
def test_the_advice_for_text_columns_works_as_written(cls):
    """The pipeline the error suggests fits the table (with groups where the estimator has any)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "colour": rng.choice(["red", "blue"], 60)})
    df["y"] = rng.normal(size=60)
    with pytest.raises(ValueError, match="non-numeric") as info:
        cls().fit(df)
    advice = str(info.value)
    has_groups = "categorical_groups" in cls().get_params()
    assert ("categorical_groups_from" in advice) == has_groups
    categorical_columns, X = ["colour"], df
    ct = make_column_transformer(
        (OneHotEncoder(sparse_output=False, handle_unknown="ignore"), categorical_columns),
        remainder=StandardScaler(),
    )
    params = {"max_iter": 2, "hidden_layer_sizes": (4,)}
    if has_groups:
        params["categorical_groups"] = categorical_groups_from(ct.fit(X))
        assert params["categorical_groups"] == [[0, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make_pipeline(ct, cls(**params)).fit(X)
    if not has_groups:
        return
    # With missing values in the column, the advice's categories keep them missing.
    assert "categories=[sorted(X[c].dropna().unique()) for c in categorical_columns]" in advice
    X = df.astype({"colour": object})
    X.loc[::5, "colour"] = np.nan
    ct = make_column_transformer(
        (
            OneHotEncoder(
                sparse_output=False,
                handle_unknown="ignore",
                categories=[sorted(X[c].dropna().unique()) for c in categorical_columns],
            ),
            categorical_columns,
        ),
        remainder=StandardScaler(),
    )
    params["categorical_groups"] = categorical_groups_from(ct.fit(X))
    assert params["categorical_groups"] == [[0, 1]]
    assert (ct.transform(X)[::5, :2] == 0).all()  # an all-zero block: missing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make_pipeline(ct, cls(**params)).fit(X)


def test_only_the_columns_that_do_not_convert_are_named(X):
    """Numbers of object dtype and numeric categories convert; text and dates do not."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X[:, :2], columns=["a", "b"])
    df["numbers_as_objects"] = pd.Series(X[:, 2], dtype=object)
    df["numeric_categories"] = pd.Categorical([1.0, 2.0] * 20)
    df["colour"] = ["red", "blue"] * 20
    df["when"] = pd.date_range("2020-01-01", periods=40)
    df["how_long"] = pd.timedelta_range("1D", periods=40)
    df["flag"] = pd.array([True, None] * 20, dtype="boolean")  # pd.NA is a missing value
    df["count"] = pd.array([1, None] * 20, dtype="Int64")
    with pytest.raises(ValueError, match=re.escape(
        "Columns ['when', 'how_long'] of X hold dates, times or durations"
    ) + ".*" + re.escape("Column ['colour'] of X is non-numeric")):
        AutoencoderTransformer().fit(df)
    # A date column alone (NumPy refuses to promote it) gets the same message.
    with pytest.raises(ValueError, match=re.escape("Column ['when'] of X holds dates")):
        AutoencoderTransformer().fit(df[["a", "when"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        numeric = df[["a", "numbers_as_objects", "numeric_categories"]]
        AutoencoderTransformer(max_iter=2).fit(numeric)


@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, AutoencoderImputer, VariationalAutoencoder]
)
def test_pandas_na_among_numbers_of_object_dtype_says_to_convert_to_float64(X, cls):
    """Not "encode categorical columns first": the column is numeric, pd.NA a hole."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X[:, :2], columns=["a", "b"])
    df["b"] = pd.Series(list(X[:, 1]), dtype=object)
    df.loc[3, "b"] = pd.NA
    before = df.copy()
    with pytest.raises(TypeError, match=r"pd\.NA in column \['b'\] of dtype object or "
                                        r"string.*X\.astype\('Float64'\)") as info:
        cls(max_iter=2).fit(df)
    assert "OneHotEncoder" not in str(info.value)
    pd.testing.assert_frame_equal(df, before)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cls(max_iter=2).fit(df.astype("Float64"))  # what the message says works
    # Numbers as pandas strings beside pd.NA: the same, that column named.
    df["b"] = pd.array([str(v) for v in X[:, 1]], dtype="string")
    df.loc[3, "b"] = pd.NA
    with pytest.raises(TypeError, match=r"pd\.NA in column \['b'\] of dtype object or "):
        cls(max_iter=2).fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cls(max_iter=2).fit(df.astype("Float64"))


@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, AutoencoderImputer, VariationalAutoencoder]
)
def test_polars_date_and_duration_columns_are_refused_as_pandas_ones_are(X, cls):
    """scikit-learn's validation would turn them into days or microseconds since 1970."""
    from datetime import date, timedelta

    pl = pytest.importorskip("polars")
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(40)]
    gaps = [timedelta(hours=i) for i in range(40)]
    df = pl.DataFrame({"a": X[:, 0], "day": days, "gap": gaps, "name": ["x"] * 40})
    with pytest.raises(ValueError, match=re.escape(
        "Columns ['day', 'gap'] of X hold dates, times or durations"
    )) as info:
        cls().fit(df)
    assert "Column ['name'] of X is non-numeric: " in str(info.value)  # and what to do
    assert "OneHotEncoder" not in str(info.value).split("Column ['name']")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = cls(max_iter=2).fit(df.select("a"))
    with pytest.raises(ValueError, match=re.escape("Column ['a'] of X holds dates")):
        fitted.transform(df.select("day").rename({"day": "a"}))


@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, AutoencoderImputer, VariationalAutoencoder]
)
def test_pyarrow_tables_name_their_text_and_date_columns_as_frames_do(X, cls):
    """A pyarrow Table's ``columns`` are its arrays, its names in ``column_names``:
    read so, its dates are refused (not microseconds since 1970) and its text named
    (not an internal indexing error)."""
    pa = pytest.importorskip("pyarrow", reason="pyarrow Tables need pyarrow")
    days = np.datetime64("2020-01-01") + np.arange(40)
    table = pa.table({"a": X[:, 0], "day": pa.array(days), "name": ["x"] * 40})
    with pytest.raises(ValueError, match=re.escape(
        "Column ['day'] of X holds dates, times or durations"
    )) as info:
        cls().fit(table)
    assert "Column ['name'] of X is non-numeric: " in str(info.value)
    with pytest.raises(ValueError, match=re.escape("Column ['name'] of X is non-numeric")):
        cls().fit(table.select(["a", "name"]))
    categorical = pa.table({"a": X[:, 0], "d": pa.array(days).dictionary_encode()})
    with pytest.raises(ValueError, match=re.escape("Column ['d'] of X holds dates")):
        cls().fit(categorical)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cls(max_iter=2).fit(table.select(["a"]))  # numbers read as numbers


def test_dates_in_arrays_categoricals_and_frames_with_repeated_names_are_refused(X):
    pd = pytest.importorskip("pandas")
    days = (np.datetime64("2020-01-01") + np.arange(40)).reshape(20, 2)
    with pytest.raises(ValueError, match=r"X holds dates or durations \(datetime64\[D\]\)"):
        AutoencoderTransformer().fit(days)
    df = pd.DataFrame(X[:, :2], columns=["a", "b"])
    df["when"] = pd.Categorical(pd.date_range("2020-01-01", periods=40))
    with pytest.raises(ValueError, match=re.escape("Column ['when'] of X holds dates")):
        AutoencoderTransformer().fit(df)
    df["when"] = pd.date_range("2020-01-01", periods=40)
    df.columns = ["a", "a", "when"]  # repeated names: each column is judged by position
    with pytest.raises(ValueError, match=re.escape("Column ['when'] of X holds dates")):
        AutoencoderTransformer().fit(df)


def test_polars_text_column_is_named(X):
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": X[:, 0], "colour": ["red", "blue"] * 20, "c": X[:, 2]})
    with pytest.raises(ValueError, match=re.escape("Column ['colour'] of X is non-numeric")):
        AutoencoderTransformer().fit(df)


@pytest.mark.parametrize("method", METHODS)
def test_nan_is_a_missing_value_not_an_error(X, fitted, method):
    # Missing values are accepted (tests/test_missing.py); infinities are not (above).
    target = AutoencoderTransformer(max_iter=2) if method in ("fit", "partial_fit") else fitted
    for bad in (_with(np.nan)(X), sp.csr_matrix(_with(np.nan)(X))):
        getattr(target, method)(bad)


def test_an_iterator_that_converts_to_an_array_is_taken_as_one(X, fitted):
    class Rows:  # iterates over its rows, and NumPy converts it as a whole
        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None, copy=None):
            return self.values

        def __iter__(self):
            return iter(self.values)

        def __next__(self):
            raise StopIteration

    assert_array_equal(fitted.transform(Rows(X)), fitted.transform(X))
    codes = fitted.transform(X)
    assert_array_equal(fitted.inverse_transform(Rows(codes)), fitted.inverse_transform(codes))


def test_iterator_codes_for_inverse_transform(X, fitted):
    codes = fitted.transform(X)
    with pytest.raises(TypeError, match=r"X is an iterator .*takes an array of codes"):
        fitted.inverse_transform(iter(codes))


@pytest.mark.parametrize("method", ["transform", "score", "score_samples", "partial_fit"])
def test_wrong_number_of_features(X, fitted, method):
    with pytest.raises(ValueError, match=f"X has 3 features, but .* is expecting {N_FEATURES}"):
        getattr(fitted, method)(X[:, :3])


@pytest.mark.parametrize(
    "cls, how",
    [(cls, "warm_start") for cls in (AutoencoderTransformer, AutoencoderOutlierDetector,
                                     AutoencoderImputer, VariationalAutoencoder)]
    # The outlier detector and the imputer have no partial_fit.
    + [(AutoencoderTransformer, "partial_fit"), (VariationalAutoencoder, "partial_fit")],
)
def test_continuing_on_other_features_says_how_to_train_a_new_network(X, cls, how):
    pd = pytest.importorskip("pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls(max_iter=2, warm_start=True, random_state=0).fit(X)
    before = pickle.dumps(model)
    method = model.partial_fit if how == "partial_fit" else model.fit
    advice = (
        "set warm_start=False and call fit to train a new network" if how == "partial_fit"
        else "set warm_start=False to train a new network"
    )
    with pytest.raises(ValueError, match=f"X has 3 features, but .*\n.*input is the "
                                          f"{N_FEATURES} features .*{advice}"):
        method(X[:, :3])
    assert pickle.dumps(model) == before
    # Other column names, the same way.
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(N_FEATURES)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls(max_iter=2, warm_start=True, random_state=0).fit(frame)
    method = model.partial_fit if how == "partial_fit" else model.fit
    with pytest.raises(ValueError, match=f"(?s)feature names should match.*{advice}"):
        method(frame.rename(columns={"c0": "z"}))
    # Without warm_start, fit trains a new network on other features.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls(max_iter=2, random_state=0).fit(X)
        if how == "partial_fit":
            with pytest.raises(ValueError, match="or call fit to train a new network"):
                model.partial_fit(X[:, :3])
        model.fit(X[:, :3])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda C: C[:, :1], "X has 1 columns.*codes of width n_components = 2"),
        (lambda C: np.hstack([C, C]), "X has 4 columns.*codes of width n_components = 2"),
        (lambda C: C[:, 0], "Expected 2D array"),
        (lambda C: np.where(C > 0, np.nan, C), "Input X contains NaN: .* decodes codes"),
        (lambda C: np.where(C > 0, np.inf, C), "Input X contains infinity.*: .* decodes codes"),
        (lambda C: np.full(C.shape, "a"), "takes codes, numbers like those transform"),
        (lambda C: C[:0], "0 sample"),
        (lambda C: C + 1j, COMPLEX),
        (lambda C: (C + 1j).tolist(), COMPLEX),
        (lambda C: [[10**400, 0]] + C.tolist(), "number too large for a float"),
    ],
)
def test_bad_codes_for_inverse_transform(X, fitted, make, match):
    with pytest.raises(ValueError, match=match):
        fitted.inverse_transform(make(fitted.transform(X)))
    vae = VariationalAutoencoder(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae.fit(X)
    with pytest.raises(ValueError, match=match):
        vae.inverse_transform(make(vae.transform(X)))


def test_complex_columns_of_a_data_frame_are_refused_without_a_copy_of_the_data(X, fitted):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X).astype({2: complex})
    for method in METHODS:
        target = AutoencoderTransformer() if method in ("fit", "partial_fit") else fitted
        with pytest.raises(ValueError, match=COMPLEX) as info:
            getattr(target, method)(df)
        assert "\n" not in str(info.value)  # scikit-learn's message prints the data


@pytest.mark.parametrize(
    "method", ["transform", "inverse_transform", "score", "score_samples", "get_feature_names_out"]
)
def test_not_fitted(X, method):
    args = () if method == "get_feature_names_out" else (X,)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(AutoencoderTransformer(), method)(*args)


def test_renamed_dataframe_columns(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(2, max_iter=2).fit(df)
    renamed = df.rename(columns={"a": "z"})
    for method in ("transform", "score", "score_samples", "partial_fit"):
        with pytest.raises(ValueError, match="feature names should match"):
            getattr(ae, method)(renamed)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        ae.transform(X)


BAD_WEIGHTS = [
    ("negative", lambda n: -np.ones(n), ValueError, "Negative values in data passed to"),
    ("wrong length", lambda n: np.ones(n + 1), ValueError, r"sample_weight.shape == \(41,\)"),
    ("2-D", lambda n: np.ones((n, 2)), ValueError, "Sample weights must be 1D"),
    ("NaN", lambda n: np.full(n, np.nan), ValueError, "contains NaN"),
    ("all zero", lambda n: np.zeros(n), ValueError, "Sample weights must contain at least"),
    ("strings", lambda n: np.array(["x"] * n), ValueError, "could not convert"),
    ("too large int", lambda n: [10**400] + [1] * (n - 1), ValueError,
     r"Invalid sample_weight \(a weight too large for a float"),
]


@pytest.mark.parametrize("method", ["fit", "partial_fit", "score"])
@pytest.mark.parametrize(
    "make, exc, match", [b[1:] for b in BAD_WEIGHTS], ids=[b[0] for b in BAD_WEIGHTS]
)
def test_bad_sample_weight(X, fitted, method, make, exc, match):
    target = fitted if method == "score" else AutoencoderTransformer()
    with pytest.raises(exc, match=match) as info:
        getattr(target, method)(X, sample_weight=make(X.shape[0]))
    assert "needs one finite, non-negative number per row of X (40 rows)" in str(info.value)


WEIGHT_SCALES = [
    # (X's dtype, the weights' one value, what the error says)
    ("float64", 1e307, "sums over 40 such weights overflow float64"),
    ("float32", 1e39, "sums over 40 such weights overflow float32"),
    ("float32", 1e37, "sums over 40 such weights overflow float32"),
    ("float64", 5e-324, "below the smallest normal float64"),
    ("float32", 1e-50, "below the smallest normal float32"),
]


@pytest.mark.parametrize(
    "estimator", [AutoencoderTransformer, AutoencoderOutlierDetector, VariationalAutoencoder]
)
@pytest.mark.parametrize("dtype, value, match", WEIGHT_SCALES)
def test_weights_too_large_or_small_for_the_dtype_are_refused(X, estimator, dtype, value, match):
    """Finite positive weights whose sums overflow (or whose normalisation would) get
    their own error, not a silent fit on weights turned to 0 or infinity."""
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X)
    before = pickle.dumps(model.__dict__)
    weights = np.full(X.shape[0], value)
    for method in [m for m in ("partial_fit", "fit") if hasattr(model, m)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no overflow in a cast on the way
            with pytest.raises(ValueError, match=f"{match}.*divide them by their maximum"):
                getattr(model, method)(X, sample_weight=weights)
    assert pickle.dumps(model.__dict__) == before
    assert weights[0] == value


@pytest.mark.parametrize("dtype, value", [("float64", 1e307), ("float32", 1e39)])
def test_score_takes_weights_of_any_finite_scale(X, fitted, dtype, value):
    X = X.astype(dtype)
    weights = np.linspace(1, 2, X.shape[0])
    want = fitted.score(X, sample_weight=weights)
    assert fitted.score(X, sample_weight=weights * value) == pytest.approx(want, rel=1e-12)
    vae = VariationalAutoencoder(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae.fit(X)
    want = vae.score(X, sample_weight=weights)
    assert vae.score(X, sample_weight=weights * value) == pytest.approx(want, rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weights_validated_in_float64_then_cast_like_before(X):
    """float32 data: the weights as float32, and a fit bitwise as with float32 weights given."""
    X = X.astype(np.float32)
    weights = np.random.RandomState(0).uniform(0.5, 2, X.shape[0])
    fits = [
        AutoencoderTransformer(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
            X, sample_weight=w
        )
        for w in (weights, weights.astype(np.float32), list(weights))
    ]
    for other in fits[1:]:
        assert_array_equal(other._params, fits[0]._params)
    assert fits[0]._params.dtype == np.float32


BAD_PARAMS = [
    ("n_components", 0),
    ("n_components", 1.5),
    ("hidden_layer_sizes", "wide"),
    ("activation", "swish"),
    ("loss", "mae"),
    ("alpha", -1.0),
    ("batch_size", 0),
    ("batch_size", "big"),
    ("learning_rate_init", 0.0),
    ("max_iter", 0),
    ("shuffle", "yes"),
    ("random_state", "seed"),
    ("tol", -1e-3),
    ("early_stopping", 1.0),
    ("validation_fraction", 1.0),
    ("validation_fraction", 0.0),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0.0),
    ("n_iter_no_change", 0),
    ("decoder_layer_sizes", "narrow"),
]


@pytest.mark.parametrize("name, value", BAD_PARAMS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_invalid_parameters_fail_at_fit_time_only(X, name, value, method):
    ae = AutoencoderTransformer(**{name: value})  # no error yet
    ae.set_params(**{name: value})
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        getattr(ae, method)(X)


VAE_BAD_PARAMS = [
    ("learning_rate_init", -0.01),
    ("alpha", -10.0),
    ("beta_1", 1.0),
    ("batch_size", 0),
    ("random_state", "x"),
    ("beta", -1.0),
    ("kl_warmup", -1),
]


@pytest.mark.parametrize(
    "cls, name, value",
    [(AutoencoderTransformer, *bad) for bad in BAD_PARAMS]
    + [(VariationalAutoencoder, *bad) for bad in VAE_BAD_PARAMS],
)
def test_partial_fit_of_a_fitted_model_validates_parameters_and_keeps_it(X, cls, name, value):
    # scikit-learn's _fit_context validates a partial_fit's parameters only while
    # the estimator is unfitted; after set_params a negative step size trained on.
    model = cls(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(X)
    before = pickle.dumps({k: v for k, v in model.__dict__.items() if k != name})
    model.set_params(**{name: value})
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        model.partial_fit(X)
    assert pickle.dumps({k: v for k, v in model.__dict__.items() if k != name}) == before


def test_partial_fit_skips_validation_where_the_user_turned_it_off(X):
    from sklearn import config_context

    ae = AutoencoderTransformer(2, hidden_layer_sizes=(4,), random_state=0).partial_fit(X)
    ae.set_params(max_iter=0)  # unused by partial_fit, refused by validation
    with config_context(skip_parameter_validation=True):
        ae.partial_fit(X)
    assert ae.n_iter_ == 2
    with pytest.raises(InvalidParameterError, match="The 'max_iter' parameter of"):
        ae.partial_fit(X)


@pytest.mark.parametrize(
    "cls",
    [AutoencoderTransformer, AutoencoderImputer, VariationalAutoencoder,
     AutoencoderOutlierDetector],
)
def test_duplicate_column_names_are_named_in_the_error(X, cls):
    """Not scikit-learn's bare narwhals DuplicateError: which names, and what to do."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "a", "c", "b"])
    before = df.copy()
    message = r"X has duplicate column names \['a', 'b'\].*needs distinct ones.*Rename them"
    with pytest.raises(ValueError, match=message):
        cls(max_iter=2).fit(df)
    pd.testing.assert_frame_equal(df, before)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls(max_iter=2).fit(df.set_axis(list("abcde"), axis=1))
    state = pickle.dumps(model)
    with pytest.raises(ValueError, match=message):
        model.score_samples(df) if hasattr(model, "score_samples") else model.transform(df)
    assert pickle.dumps(model) == state


def test_duplicate_names_in_pyarrow_tables_and_in_codes(X, fitted):
    """A pyarrow Table lists its names in column_names (its columns are arrays): unique
    names fit as before; and codes given as a frame are checked too."""
    pd = pytest.importorskip("pandas")
    codes = pd.DataFrame(fitted.transform(X), columns=["c", "c"])
    with pytest.raises(ValueError, match=r"duplicate column names \['c'\].*X\.to_numpy\(\)"):
        fitted.inverse_transform(codes)
    pa = pytest.importorskip("pyarrow")
    table = pa.table({name: X[:, i] for i, name in enumerate("abcde")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AutoencoderTransformer(2, max_iter=2, random_state=0).fit(table)
    assert list(model.feature_names_in_) == list("abcde")
    repeated = pa.Table.from_arrays([pa.array(X[:, i]) for i in range(5)], names=list("abcda"))
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        AutoencoderTransformer(2, max_iter=2).fit(repeated)


def test_sparse_codes_get_an_error_that_says_to_densify(fitted):
    codes = sp.csr_matrix(fitted.transform(np.zeros((3, N_FEATURES))))
    with pytest.raises(TypeError, match=r"takes dense codes.*X is sparse: pass X\.toarray\(\)"):
        fitted.inverse_transform(codes)
    assert_allclose(fitted.inverse_transform(codes.toarray()),
                    fitted.inverse_transform(fitted.transform(np.zeros((3, N_FEATURES)))))


def test_binary_crossentropy_outside_unit_interval_warns_with_range(X):
    ae = AutoencoderTransformer(loss="binary_crossentropy", max_iter=1)
    with pytest.warns(UserWarning, match=re.escape("X ranges over [")):
        ae.fit(X)


def _variants(X):
    readonly = X.copy()
    readonly.flags.writeable = False
    return {
        "read-only": readonly,
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=0)[::2],
        "float32": X.astype(np.float32),
        "list": X.tolist(),
        "int": (X * 10).astype(np.int64),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_array(X),
    }


@pytest.mark.parametrize(
    "kind", ["read-only", "fortran", "strided", "float32", "list", "int", "csr", "csc"]
)
def test_layouts_work_and_are_not_written(X, kind):
    data = _variants(X)[kind]
    before = data.copy() if hasattr(data, "copy") else list(map(list, data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(2, max_iter=3, random_state=0, early_stopping=True)
        ae.fit(data)
    ae.partial_fit(data)
    codes = ae.transform(data)
    assert codes.shape == (40, 2) and np.all(np.isfinite(codes))
    ae.score(data)
    if sp.issparse(data):
        assert_array_equal(data.toarray(), before.toarray())
    else:
        assert_array_equal(np.asarray(data), np.asarray(before))


@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array"])
def test_noncanonical_sparse_input_is_not_written(fmt):
    # Every entry stored twice, columns in decreasing order within each row.
    rng = np.random.default_rng(0)
    n, d = 60, N_FEATURES
    indices = np.concatenate(
        [np.repeat(np.sort(rng.choice(d, 3, replace=False))[::-1], 2) for _ in range(n)]
    )
    data = rng.normal(size=indices.size)
    indptr = np.arange(0, indices.size + 1, 6)
    Xs = getattr(sp, fmt)((data, indices, indptr), shape=(n, d))
    assert not Xs.has_canonical_format
    dense = Xs.toarray()
    before = Xs.indices.copy(), Xs.data.copy(), Xs.indptr.copy()

    def unchanged():
        assert_array_equal(Xs.indices, before[0])
        assert_array_equal(Xs.data, before[1])
        assert_array_equal(Xs.indptr, before[2])

    params = dict(n_components=2, max_iter=3, random_state=0, early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(**params).fit(Xs)
        unchanged()
        ref = AutoencoderTransformer(**params).fit(dense)
    # The same split and training as on the dense equivalent.
    assert_allclose(ae.validation_loss_curve_, ref.validation_loss_curve_, rtol=1e-10)
    assert_allclose(ae.transform(Xs), ref.transform(dense), rtol=1e-10, atol=1e-12)
    unchanged()
    ae.score(Xs)
    ae.score_samples(Xs)
    unchanged()
    ae.partial_fit(Xs)
    unchanged()


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_array"])
def test_sparse_duplicates_summing_past_the_dtype_are_refused(X, fitted, fmt):
    # Stored twice, 1e308 means 2e308: infinite once summed, though each value is finite.
    data = np.array([1e308, 1e308, 0.5, 0.5])
    if fmt.startswith("csr"):  # row 0 stores column 1 twice, row 1 column 0
        indices, indptr = np.array([1, 1, 0]), np.array([0, 2, 3])
    else:  # column 0 stores row 1, column 1 row 0 twice
        indices, indptr = np.array([1, 0, 0]), np.array([0, 1, 3, 3, 3, 3])
        data = data[[2, 0, 1]]
    data = data[:3]
    Xs = getattr(sp, fmt)((data, indices, indptr), shape=(2, N_FEATURES))
    assert np.isinf(Xs.toarray()).any() and np.isfinite(Xs.data).all()
    stored = Xs.data.copy()
    for method in METHODS:
        target = AutoencoderTransformer() if method in ("fit", "partial_fit") else fitted
        with pytest.raises(ValueError, match="stored more than once .* overflows"):
            getattr(target, method)(Xs)
    assert_array_equal(Xs.data, stored)  # not summed in place
    warm = AutoencoderTransformer(2, max_iter=2, warm_start=True).fit(X)
    for method in (warm.fit, warm.partial_fit):  # no advice about the model's dtype
        with pytest.raises(ValueError, match="stored more than once") as info:
            method(Xs)
        assert "fitted in" not in str(info.value)
    # Duplicates with a finite sum are what they mean, as before.
    Xs.data[Xs.data > 1] = 1.0
    assert_allclose(fitted.transform(Xs), fitted.transform(Xs.toarray()))


def test_unsorted_sparse_input_of_ordinary_values_is_not_copied_to_sum_duplicates(
    X, monkeypatch
):
    from skae._estimator import _check_summed_duplicates

    Xs = sp.csr_matrix(X)
    Xs.indices[:2] = Xs.indices[1::-1]  # row 0's first two columns swapped: not canonical
    Xs.data[:2] = Xs.data[1::-1]
    Xs.has_sorted_indices = False
    assert not Xs.has_canonical_format

    def copy(self, *args, **kwargs):
        raise AssertionError("copied")

    monkeypatch.setattr(type(Xs), "copy", copy)
    _check_summed_duplicates(Xs)  # no stored entries whose sum could overflow


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_continuing_a_float32_model_on_values_float32_cannot_hold_says_so(X, how):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AutoencoderTransformer(2, max_iter=2, random_state=0, warm_start=True)
        model.fit(X.astype(np.float32))
    params = model._params.copy()
    big = X * 1e300  # finite in float64, infinite in float32
    method = model.partial_fit if how == "partial_fit" else model.fit
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no raw "overflow in cast"
        with pytest.raises(ValueError, match="fitted in float32 and goes on training in it"):
            method(big)
    assert_array_equal(model._params, params)
    # X that is infinite as given gets scikit-learn's message alone.
    with pytest.raises(ValueError, match="contains infinity") as info:
        method(_with(np.inf)(X))
    assert "fitted in float32" not in str(info.value)


def test_memmap_input(tmp_path, X):
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(2, max_iter=3, random_state=0).fit(ro)
    ref = AutoencoderTransformer(2, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X.astype(np.float32))
    assert_array_equal(ae._params, ref._params)
    assert_allclose(ae.transform(ro), ref.transform(X.astype(np.float32)))
    assert_array_equal(np.asarray(ro), X.astype(np.float32))


@pytest.mark.parametrize("groups", [None, [[2, 3]]])
def test_fit_leaves_a_non_canonical_sparse_matrix_with_nan_as_it_was(groups):
    # Duplicate, unsorted entries: summing them must happen on a copy (in the
    # observed weights, the empty rows with groups and the rows' keys).
    rng = np.random.default_rng(0)
    n, d = 30, 4
    dense = rng.normal(size=(n, d))
    dense[:, 2] = rng.integers(0, 2, size=n)  # a one-hot group of two columns
    dense[:, 3] = 1 - dense[:, 2]
    dense[3, 1] = np.nan
    dense[5, :2] = np.nan  # a row whose numeric entries are all missing
    canonical = sp.csr_matrix(dense)
    data, indices, indptr = [], [], [0]
    for i in range(n):  # each row reversed, its first entry stored as two halves
        row = canonical[i]
        idx, val = list(row.indices[::-1]), list(row.data[::-1])
        val[-1] /= 2
        idx.append(idx[-1])
        val.append(val[-1])
        indices += idx
        data += val
        indptr.append(len(indices))
    X = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(n, d))
    assert not X.has_canonical_format
    before = X.data.copy(), X.indices.copy(), X.indptr.copy()
    AutoencoderTransformer(
        2, hidden_layer_sizes=(8,), max_iter=3, n_init=1, early_stopping=True, random_state=0,
        categorical_groups=groups,
    ).fit(X)
    for array, copy in zip((X.data, X.indices, X.indptr), before, strict=True):
        assert_array_equal(array, copy)
    assert not X.has_canonical_format
