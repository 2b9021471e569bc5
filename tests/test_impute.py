"""AutoencoderImputer: scikit-learn's imputer API, exact observed entries, quality, categories."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderImputer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def quick(**params):
    defaults = dict(hidden_layer_sizes=(16,), n_components=4, max_iter=20, random_state=0)
    return AutoencoderImputer(**{**defaults, **params})


def with_holes(X, rate=0.2, seed=0):
    rng = np.random.RandomState(seed)
    return np.where(rng.uniform(size=X.shape) < rate, np.nan, X)


@pytest.fixture
def holes(blobs):
    return with_holes(blobs)


# -- scikit-learn's checks -----------------------------------------------------------------
@parametrize_with_checks(
    [
        AutoencoderImputer(max_iter=60),  # the defaults, trained for fewer epochs
        AutoencoderImputer(add_indicator=True, max_iter=50),
        AutoencoderImputer(mask_as_input=False, noise=None, early_stopping=True, max_iter=50),
        AutoencoderImputer(missing_values=-1, keep_empty_features=True, max_iter=50),
    ],
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- the imputer's contract ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_observed_entries_are_exactly_unchanged_and_holes_filled(holes, dtype):
    X = holes.astype(dtype)
    before = X.copy()
    out = quick().fit(X).transform(X)
    observed = ~np.isnan(X)
    assert out.dtype == dtype
    assert_array_equal(out[observed], X[observed])  # bitwise
    assert not np.isnan(out).any()
    assert_array_equal(X, before)  # the caller's data, NaN included


def test_a_numeric_placeholder(holes):
    X = np.where(np.isnan(holes), -1.0, holes)
    imputer = quick(missing_values=-1)
    out = imputer.fit_transform(X)
    nan_out = quick().fit_transform(holes)
    assert_allclose(out, nan_out, rtol=1e-12)
    assert_array_equal(out[X != -1], X[X != -1])
    with pytest.raises(ValueError, match=r"contains NaN, but missing_values=-1"):
        imputer.transform(holes)


def test_fit_transform_is_fit_then_transform(holes):
    assert_array_equal(quick().fit_transform(holes), quick().fit(holes).transform(holes))


def test_complete_rows_are_returned_as_given(holes, blobs):
    imputer = quick().fit(holes)
    out = imputer.transform(blobs)
    assert_array_equal(out, blobs)
    assert not np.shares_memory(out, blobs)


def test_every_hole_shape(blobs):
    X = with_holes(blobs)
    X[3] = np.nan  # an all-NaN row
    X[np.arange(X.shape[0]), np.arange(X.shape[0]) % X.shape[1]] = np.nan  # a NaN in every row
    out = quick().fit(X).transform(X)
    assert np.isfinite(out).all()
    assert_array_equal(out[~np.isnan(X)], X[~np.isnan(X)])


def test_a_constant_feature_is_imputed_with_its_value(holes):
    """As SimpleImputer does, not with the network's approximation of it."""
    X = np.column_stack([holes, np.where(np.isnan(holes[:, 0]), np.nan, 7.0)])
    imputer = quick().fit(X)
    out = imputer.transform(X)
    hidden = np.isnan(X[:, -1])
    assert hidden.any()
    assert_array_equal(out[hidden, -1], 7.0)
    assert_array_equal(out[:, -1], SimpleImputer().fit_transform(X)[:, -1])
    assert imputer.scale_[-1] == 1.0 and imputer.mean_[-1] == 7.0
    nearly = X.copy()
    nearly[0, -1] = 7.5  # not constant: imputed by the network
    assert not np.all(quick().fit(nearly).transform(nearly)[hidden, -1] == 7.0)


@pytest.mark.parametrize("value", [0.1, 3.3, 1e300])
def test_a_constant_whose_mean_rounds_is_a_constant_and_a_new_value_sways_nothing(
    holes, value
):
    """0.1 repeated has a computed deviation of ~1e-17: as a scale it blew imputations up."""
    X = np.column_stack([holes, np.where(np.isnan(holes[:, 0]), np.nan, value)])
    imputer = quick().fit(X)
    assert imputer._constant_features[-1] and imputer.scale_[-1] == 1.0
    assert imputer.mean_[-1] == value  # exactly, not the rounded mean
    out = imputer.transform(X)
    assert_array_equal(out[np.isnan(X[:, -1]), -1], value)
    # A row whose constant changed at transform time is imputed as with the constant.
    row = np.r_[np.nan, holes[1, 1:], value]
    changed = row.copy()
    changed[-1] = value + 0.7 if value < 1e10 else -value
    assert_array_equal(imputer.transform(changed[None]), np.r_[imputer.transform(
        row[None])[0, :-1], changed[-1]][None])
    assert np.abs(out[:, :-1]).max() < 100


def test_a_warm_fit_trains_on_a_first_fit_constant_as_transform_reads_it(holes):
    """The constant keeps its scale; its new values enter neither training nor transform."""
    X = np.column_stack([holes, np.full(len(holes), 0.1)])
    later = X.copy()
    later[:, -1] = np.random.default_rng(1).normal(size=len(X))
    read = quick(warm_start=True, max_iter=3, tol=0).fit(X).fit(later)
    flat = quick(warm_start=True, max_iter=3, tol=0).fit(X).fit(X)
    assert read._constant_features[-1] and read.scale_[-1] == 1.0
    assert_array_equal(read._params, flat._params)
    assert_array_equal(read.transform(later)[:, :-1], flat.transform(X)[:, :-1])


@pytest.mark.parametrize("magnitude", [1e160, 1e300])
def test_huge_values_are_standardized_without_overflow(holes, magnitude):
    """The squares of 1e160 overflow float64; the feature's scale and imputations stay finite."""
    X = holes.copy()
    X[:, 0] *= magnitude
    imputer = quick().fit(X)
    out = imputer.transform(X)
    assert np.isfinite(out).all()
    observed = X[~np.isnan(X[:, 0]), 0]
    assert_allclose(imputer.mean_[0], (observed / magnitude).mean() * magnitude, rtol=1e-12)
    assert_allclose(imputer.scale_[0], (observed / magnitude).std() * magnitude, rtol=1e-12)
    assert_allclose(imputer.scale_[1:], quick().fit(holes).scale_[1:])  # others as before


@pytest.mark.parametrize("magnitude", [1e160, 1e-170])
def test_a_feature_below_zero_is_scaled_by_its_largest_magnitude(holes, magnitude):
    """The power of two comes from max |x|: a feature whose largest value is 0, all
    others far below it, still has its squares brought near 1."""
    X = holes.copy()
    X[:, 0] = (X[:, 0] - np.nanmax(X[:, 0])) * magnitude
    imputer = quick().fit(X)
    observed = X[~np.isnan(X[:, 0]), 0] / magnitude
    assert not imputer._constant_features[0]
    assert_allclose(imputer.mean_[0], observed.mean() * magnitude, rtol=1e-12)
    assert_allclose(imputer.scale_[0], observed.std() * magnitude, rtol=1e-12)
    assert np.isfinite(imputer.transform(X)).all()


def test_the_mean_of_values_near_the_largest_float64_does_not_overflow(holes):
    """Their sum overflows float64 (~100 values of ~2e307); their scaled sum does not."""
    X = holes.copy()
    X[:, 0] = (2.0 + X[:, 0]) * 1e307
    imputer = quick().fit(X)
    observed = X[~np.isnan(X[:, 0]), 0] / 1e307
    assert_allclose(imputer.mean_[0], observed.mean() * 1e307, rtol=1e-12)
    assert_allclose(imputer.scale_[0], observed.std() * 1e307, rtol=1e-12)
    assert np.isfinite(imputer.transform(X)).all()


@pytest.mark.parametrize("magnitude", [2.0**-570, 1e-170, 1e-300])
def test_tiny_values_are_standardized_without_underflow(holes, magnitude):
    """The squares of 1e-170 vanish: its features read as constants, imputed by their minimum."""
    X = holes.copy()
    X[:, :2] *= magnitude  # two features tiny, the others as before
    imputer, reference = quick().fit(X), quick().fit(holes)
    assert not imputer._constant_features.any()
    assert_allclose(imputer.mean_[:2] / magnitude, reference.mean_[:2], rtol=1e-14)
    assert_allclose(imputer.scale_[:2] / magnitude, reference.scale_[:2], rtol=1e-14)
    hidden = np.isnan(X)
    scaled = reference.transform(holes)[hidden] * np.where(np.nonzero(hidden)[1] < 2, magnitude, 1)
    exact = magnitude == 2.0**-570  # a power of two: the standardized data are the same
    assert_allclose(imputer.transform(X)[hidden], scaled, rtol=0 if exact else 1e-9)


@pytest.mark.parametrize("keep", [False, True])
def test_empty_features(holes, keep):
    X = holes.copy()
    X[:, 1] = np.nan
    imputer = quick(keep_empty_features=keep).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = imputer.transform(X)
    # As SimpleImputer and IterativeImputer: a dropped feature is named.
    skipped = [w for w in caught if "Skipping features without any observed" in str(w.message)]
    assert len(skipped) == (0 if keep else 1)
    if not keep:
        assert "[1]" in str(skipped[0].message) and "keep_empty_features=True" in str(
            skipped[0].message
        )
        assert skipped[0].filename == __file__  # the caller's line
    if keep:
        assert out.shape == X.shape
        assert_array_equal(out[:, 1], 0)
        assert_array_equal(imputer.get_feature_names_out(), [f"x{i}" for i in range(6)])
    else:
        kept = quick(keep_empty_features=True).fit(X).transform(X)
        assert out.shape == (X.shape[0], 5)
        assert_array_equal(out, np.delete(kept, 1, axis=1))
        assert_array_equal(imputer.get_feature_names_out(), ["x0", "x2", "x3", "x4", "x5"])


def test_dropped_empty_features_are_named_in_the_warning(holes):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(holes, columns=[f"f{i}" for i in range(holes.shape[1])])
    X["f3"] = np.nan
    imputer = quick().fit(X)
    named = r"Skipping features without any observed values: \['f3'\]"
    with pytest.warns(UserWarning, match=named):
        assert imputer.transform(X).shape == (len(X), 5)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("keep", [False, True])
def test_features_empty_in_fit_are_hidden_from_the_network(holes, keep):
    """Values that appear in a feature empty in fit change no other imputation."""
    X = holes.copy()
    X[:, 1] = np.nan
    imputer = quick(keep_empty_features=keep).fit(X)
    later = holes.copy()
    later[:, 1] = 1000.0 + np.arange(len(later))  # far outside anything seen
    later[::7, 1] = np.nan
    before = later.copy()
    out = imputer.transform(later)
    unseen = later.copy()
    unseen[:, 1] = np.nan
    reference = imputer.transform(unseen)
    assert_array_equal(later, before)
    assert_array_equal(np.delete(out, 1, axis=1) if keep else out,
                       np.delete(reference, 1, axis=1) if keep else reference)
    if keep:
        # As SimpleImputer(keep_empty_features=True): observed entries as given, missing 0.
        simple = SimpleImputer(keep_empty_features=True).fit(X).transform(later)
        assert_array_equal(out[:, 1], simple[:, 1])
        assert_array_equal(out[::7, 1], 0)
        assert_array_equal(out[1::7, 1], later[1::7, 1])
    else:
        assert out.shape == (len(later), 5)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("groups", [None, [[1, 2]]])
def test_a_warm_fit_keeps_the_first_fits_empty_features_unread(holes, groups):
    """Continuing on data that observes a feature empty in the first fit trains as before."""
    X = holes.copy()
    X[:, 1] = np.nan
    if groups:  # a one-hot pair empty as a whole
        X[:, 2] = np.nan
    first = dict(warm_start=True, max_iter=3, tol=0, categorical_groups=groups)
    read, unread = quick(**first).fit(X), quick(**first).fit(X)
    later = X.copy()
    if groups:
        later[:, 1], later[:, 2] = 0.0, 1.0
    else:
        later[:, 1] = 1000.0 + np.arange(len(later))
    before = later.copy()
    read.fit(later)
    unread.fit(X)
    assert_array_equal(later, before)
    assert read.n_iter_ == unread.n_iter_ == 6
    assert_array_equal(read._params, unread._params)
    assert_array_equal(read.loss_curve_, unread.loss_curve_)
    assert_array_equal(read.transform(X), unread.transform(X))
    # The features empty in the first fit are still dropped.
    assert read.transform(later).shape == (len(X), 4 if groups else 5)


def test_a_group_with_a_column_empty_in_training_keeps_it_and_reads_its_nans_as_0s():
    """Its NaNs beside an observed 1 are 0s; beside 0s they hide that column's category."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(200, 2)), np.eye(3)[rng.integers(0, 3, 200)]])
    X[rng.random(200) < 0.2, 0] = np.nan
    params = dict(
        categorical_groups=[[2, 3, 4]], max_iter=3, hidden_layer_sizes=(8,), random_state=0
    )
    nan_column = X.copy()
    nan_column[:, 4] = np.nan
    zero_column = X.copy()
    zero_column[:, 4] = 0.0  # the same data: [0, 0, 0] and [0, 0, NaN] are both missing
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        imputer = AutoencoderImputer(**params).fit(nan_column)
        out = imputer.transform(nan_column)
    messages = [str(w.message) for w in record if not issubclass(w.category, ConvergenceWarning)]
    # No feature dropped; the category never observed is named.
    [message] = messages
    assert re.search(r"Column 4 of the categorical group \[2, 3, 4\] is missing in every "
                     r"training row.*never to a group missing as a whole", message)
    assert_array_equal(imputer._params, AutoencoderImputer(**params).fit(zero_column)._params)
    assert not imputer._empty_features.any()
    # [1, 0, NaN] and [0, 1, NaN] keep their category; [0, 0, NaN] can only be the third.
    assert_array_equal(out[:, 2:5], X[:, 2:5])
    assert_array_equal(out[:, :2][~np.isnan(X[:, :2])], X[:, :2][~np.isnan(X[:, :2])])
    # All the group's columns empty: an empty feature, dropped as the others are.
    empty = X.copy()
    empty[:, 2:5] = np.nan
    with pytest.warns(UserWarning, match=r"Skipping features.*\[2 3 4\]"):
        assert AutoencoderImputer(**params).fit(empty).transform(empty).shape == (200, 2)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"add_indicator": True}, "add_indicator=True differs from the fitted False"),
        ({"missing_values": -1}, "missing_values=-1 differs from the fitted nan"),
    ],
)
def test_warm_start_cannot_change_what_the_output_is_made_of(holes, change, match):
    imputer = quick(warm_start=True, max_iter=2).fit(holes)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(imputer).items()}
    X = holes if "add_indicator" in change else np.nan_to_num(holes, nan=-1)
    with pytest.raises(ValueError, match=match + ".*Refit with warm_start=False"):
        imputer.set_params(**change).fit(X)
    assert_array_equal(imputer._params, state["_params"])
    assert imputer.n_iter_ == state["n_iter_"] and imputer.indicator_ is None
    imputer.set_params(add_indicator=False, missing_values=np.nan).fit(holes)
    assert imputer.n_iter_ == 4  # the same settings go on
    with_indicator = quick(warm_start=True, max_iter=2, add_indicator=True).fit(holes)
    with pytest.raises(ValueError, match="add_indicator=False differs from the fitted True"):
        with_indicator.set_params(add_indicator=False).fit(holes)


@pytest.mark.parametrize("fill", ["zeros", "zeros and NaN"])
def test_a_group_missing_in_every_training_row_is_refused_and_leaves_the_model(fill):
    """No observed 1 in any row: the group is never observed, and imputing it
    would pick an arbitrary category."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(60, 2)), np.eye(3)[rng.integers(0, 3, 60)]])
    X[::3, 0] = np.nan
    params = dict(categorical_groups=[[2, 3, 4]], max_iter=3, hidden_layer_sizes=(8,))
    imputer = AutoencoderImputer(**params).fit(X)
    before = pickle.dumps(imputer)
    bad = X.copy()
    bad[:, 2:] = 0.0
    if fill == "zeros and NaN":
        bad[1::2, 3] = np.nan
    given = bad.copy()
    with pytest.raises(ValueError, match=r"The categorical group \[2, 3, 4\] is missing \(no "
                       r"entry an observed 1\) in every training row.*Leave it out of"):
        imputer.fit(bad)
    assert pickle.dumps(imputer) == before
    assert_array_equal(bad, given)
    bad[5, 2:] = [0.0, 1.0, 0.0]  # observed in one row: it trains
    AutoencoderImputer(**params).fit(bad)


def test_fit_takes_no_sample_weight(holes):
    """As SimpleImputer: fit(X, y=None) refuses a sample_weight rather than ignoring it."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'sample_weight'"):
        quick().fit(holes, sample_weight=np.ones(len(holes)))
    with pytest.raises(TypeError, match="unexpected keyword argument 'sample_weight'"):
        quick().fit_transform(holes, sample_weight=np.ones(len(holes)))


def test_a_placeholder_beyond_float64_is_refused_with_advice(holes):
    with pytest.raises(ValueError, match=r"missing_values=1\d+ is beyond float64's range"):
        quick(missing_values=10**400).fit(holes)
    X = np.where(np.isnan(holes), float(2**70), holes)  # a large integer that floats hold
    out = quick(missing_values=2**70).fit_transform(X)
    assert np.isfinite(out).all() and not np.any(out == float(2**70))


@pytest.mark.parametrize("placeholder", ["NA", None])
def test_missing_values_must_be_a_number(holes, placeholder):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="missing_values"):
        quick(missing_values=placeholder).fit(holes)


@pytest.mark.parametrize("dtype, placeholder", [(np.float32, np.float64(0.1)),
                                                (np.float64, np.float32(0.1)), (np.float32, 0.1)])
def test_a_placeholder_of_another_float_type_marks_its_entries(holes, dtype, placeholder):
    """Compared in X's dtype: float32's 0.1 is not float64's, yet it is the 0.1 meant.

    Only float32 data with a float64 placeholder tell the two apart, with NumPy 2's
    promotion rules (NumPy 1 compared a NumPy scalar in the array's dtype anyway)."""
    X = np.where(np.isnan(holes), dtype(placeholder), holes).astype(dtype)
    imputer = quick(missing_values=placeholder, add_indicator=True).fit(X)
    reference = quick(add_indicator=True).fit(holes.astype(dtype))
    assert_array_equal(imputer.transform(X), reference.transform(holes.astype(dtype)))


def test_pandas_na_as_missing_values_is_nan_as_in_simple_imputer(holes):
    """Nullable frames hold pd.NA, NaN once converted; SimpleImputer takes pd.NA for it too."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(holes).astype("Float64")  # NaN entries are pd.NA here
    assert frame.isna().to_numpy().sum() == np.isnan(holes).sum() > 0
    na = quick(missing_values=pd.NA, add_indicator=True).fit(frame)
    nan = quick(add_indicator=True).fit(holes)
    assert na.__sklearn_tags__().input_tags.allow_nan
    assert_array_equal(na.transform(frame), nan.transform(holes))
    assert_array_equal(na.transform(frame)[:, holes.shape[1]:],
                       SimpleImputer(missing_values=pd.NA, add_indicator=True)
                       .fit(frame).transform(frame)[:, holes.shape[1]:])
    assert na.missing_values is pd.NA  # the parameter as given
    na.set_params(warm_start=True, max_iter=2).fit(holes)  # NaN is what pd.NA marked


def test_a_warm_start_from_a_number_to_pandas_na_says_the_placeholder_differs(holes):
    """pd.NA == -1 is pd.NA, whose truth is ambiguous: compared as NaN, it differs."""
    pd = pytest.importorskip("pandas")
    X = np.where(np.isnan(holes), -1.0, holes)
    imputer = quick(missing_values=-1, warm_start=True, max_iter=2).fit(X)
    before = pickle.dumps(imputer)
    with pytest.raises(ValueError, match=r"missing_values=<NA> differs from the fitted"):
        imputer.set_params(missing_values=pd.NA).fit(holes)
    imputer.set_params(missing_values=-1)
    assert pickle.dumps(imputer) == before


@pytest.mark.parametrize("placeholder", [0, 1, 0.0, 1.0])
def test_zero_or_one_as_missing_values_is_refused_with_categorical_groups(placeholder):
    """One-hot columns hold 0s and 1s as values: as placeholders, every group would be
    missing in every row and its observed categories rewritten."""
    rng = np.random.RandomState(0)
    X = np.c_[rng.uniform(2, 3, size=(60, 2)), np.eye(3)[rng.randint(0, 3, 60)]]
    X[:10, 0] = -1.0
    given = X.copy()
    imputer = quick(missing_values=placeholder, categorical_groups=[[2, 3, 4]])
    with pytest.raises(ValueError, match=f"missing_values={placeholder!r} cannot mark"):
        imputer.fit(X)
    assert not hasattr(imputer, "n_iter_")
    assert_array_equal(X, given)
    out = imputer.set_params(missing_values=-1).fit_transform(X)
    assert_array_equal(out[:, 2:], X[:, 2:])  # every category observed and kept
    quick(missing_values=placeholder).fit(X)  # without groups, any number is a placeholder
    # NaN in such data: the advice is NaN as the placeholder, not the NaNs replaced by it.
    X[20, 0] = np.nan
    with pytest.raises(ValueError, match=r"missing_values=np.nan \(the default\). Set that\.$"):
        quick(missing_values=placeholder, categorical_groups=[[2, 3, 4]]).fit(X)


def test_add_indicator_appends_the_missing_indicator(holes):
    X = holes.copy()
    X[:, 4] = np.nan_to_num(X[:, 4])  # a feature with no missing value gets no column
    imputer = quick(add_indicator=True).fit(X)
    out = imputer.transform(X)
    indicator = MissingIndicator().fit(X)
    assert out.shape == (X.shape[0], 6 + indicator.features_.size)
    assert_array_equal(out[:, 6:], indicator.transform(X))
    assert_array_equal(out[:, :6], quick().fit(X).transform(X))
    names = imputer.get_feature_names_out()
    assert list(names[6:]) == [f"missingindicator_x{i}" for i in indicator.features_]


def test_feature_names_with_data_frames(holes):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(holes, columns=list("abcdef"))
    imputer = quick(add_indicator=True).set_output(transform="pandas").fit(df)
    out = imputer.transform(df)
    assert list(out.columns) == list("abcdef") + [f"missingindicator_{c}" for c in "abcdef"]
    assert list(quick().fit(df).get_feature_names_out()) == list("abcdef")


def test_in_a_pipeline_before_an_estimator():
    X, y = load_breast_cancer(return_X_y=True)
    X = with_holes(X[::2], rate=0.3)
    y = y[::2]
    pipe = make_pipeline(quick(), StandardScaler(), LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85


def test_standardizes_internally(holes):
    """Unscaled data: the same imputation, in the data's own units."""
    scale = np.array([1e-3, 1.0, 1e3, 5.0, 1e4, 0.1])
    offset = np.array([0.0, 100.0, -5e4, 3.0, 1e6, 0.0])
    unscaled = holes * scale + offset
    imputer = quick().fit(unscaled)
    assert_allclose(imputer.mean_, np.nanmean(unscaled, axis=0), rtol=1e-12)
    assert_allclose(imputer.scale_, np.nanstd(unscaled, axis=0), rtol=1e-12)
    out = imputer.transform(unscaled)
    reference = quick().fit(holes).transform(holes)
    assert_allclose((out - offset) / scale, reference, rtol=1e-6, atol=1e-6)


def test_beats_mean_and_knn_on_unscaled_real_data():
    X, _ = load_breast_cancer(return_X_y=True)  # features from 1e-3 to 4e3
    rng = np.random.RandomState(0)
    hidden = rng.uniform(size=X.shape) < 0.2
    masked = np.where(hidden, np.nan, X)
    std = X.std(axis=0)

    def error(imputer):
        return np.mean(((imputer.fit_transform(masked) - X) / std)[hidden] ** 2)

    ours = error(AutoencoderImputer(hidden_layer_sizes=(64, 64), max_iter=40, random_state=0))
    assert ours < 0.5 * error(SimpleImputer())
    assert ours < error(KNNImputer())


def test_refuses_sparse_and_infinite_input(holes):
    with pytest.raises(TypeError, match="needs dense input, and X is sparse"):
        quick().fit(sp.csr_matrix(np.nan_to_num(holes)))
    bad = holes.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity.*mark them missing"):
        quick().fit(bad)
    imputer = quick().fit(holes)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        imputer.transform(bad)


def test_pickle_round_trip(holes):
    imputer = quick(add_indicator=True).fit(holes)
    loaded = pickle.loads(pickle.dumps(imputer))
    assert_array_equal(loaded.transform(holes), imputer.transform(holes))


def test_warm_start_keeps_the_standardization(holes):
    imputer = quick(warm_start=True, max_iter=3).fit(holes)
    mean = imputer.mean_.copy()
    imputer.fit(holes * 10)
    assert_array_equal(imputer.mean_, mean)
    assert imputer.n_iter_ == 6


# -- categories ----------------------------------------------------------------------------
def mixed(n=300, seed=0):
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 2))
    category = (latent[:, 0] > 0.5).astype(int) + (latent[:, 0] > -0.5)
    X = np.column_stack(
        [latent, np.eye(3)[category], latent[:, 1] ** 2, latent.sum(axis=1) * 3 + 10]
    )
    return X, [[2, 3, 4]], category


def test_categories_are_imputed_with_valid_one_hot_rows():
    X, groups, category = mixed()
    rng = np.random.RandomState(1)
    hidden_rows = rng.uniform(size=X.shape[0]) < 0.3
    masked = X.copy()
    masked[hidden_rows, 2:5] = np.nan  # the whole group hidden
    unknown = rng.uniform(size=X.shape[0]) < 0.1
    masked[unknown & ~hidden_rows, 2:5] = 0  # handle_unknown="ignore": missing too
    # 200 epochs: after 60 the accuracy still turns on the start (0.63-0.93 over six
    # seeds), after 200 it is 0.90-0.95.
    imputer = quick(categorical_groups=groups, hidden_layer_sizes=(32,), max_iter=200)
    out = imputer.fit_transform(masked)
    block = out[:, 2:5]
    assert_array_equal(block.sum(axis=1), 1)
    assert set(np.unique(block)) == {0.0, 1.0}
    missing = hidden_rows | unknown
    assert_array_equal(out[~missing], masked[~missing])  # observed rows untouched
    ours = np.mean(np.argmax(block[missing], axis=1) == category[missing])
    most_frequent = np.mean(category[missing] == np.bincount(category[~missing]).argmax())
    assert ours > 0.8 and ours > most_frequent + 0.2
    # Group columns are not standardized; the others are.
    assert_array_equal(imputer.mean_[2:5], 0)
    assert_array_equal(imputer.scale_[2:5], 1)


def test_a_group_with_an_observed_1_keeps_it_and_trains_as_if_its_nans_were_0():
    """``[1, NaN, 0]`` is the first category: kept, its NaN imputed 0, trained on as such."""
    X, groups, category = mixed()
    rng = np.random.RandomState(3)
    holes = (rng.uniform(size=X[:, 2:5].shape) < 0.3) & (X[:, 2:5] == 0)
    partial = X.copy()
    partial[:, 2:5][holes] = np.nan  # only 0s hidden: every category still known
    assert holes.any(axis=1).sum() > 100
    params = dict(categorical_groups=groups, add_indicator=True, max_iter=20)
    imputer = quick(**params).fit(partial)
    # The same model as from the zeros themselves: the NaNs were 0s all along.
    assert_array_equal(imputer._params, quick(**params).fit(X)._params)
    before = partial.copy()
    out = imputer.transform(partial)
    assert_array_equal(partial, before)
    assert_array_equal(out[:, 2:5], X[:, 2:5])  # every 1 kept, every NaN a 0
    assert_array_equal(out[:, 7:], np.isnan(partial[:, 2:5]))  # the NaNs marked, only


def test_a_hidden_category_is_imputed_among_the_columns_not_observed_0():
    """``[0, NaN, NaN]`` is the second or third category; ``[0, NaN, 0]`` the second."""
    X, groups, category = mixed()
    imputer = quick(categorical_groups=groups, hidden_layer_sizes=(32,), max_iter=100).fit(X)
    first = np.flatnonzero(category == 0)[:40]  # rows the network would give category 0
    assert_array_equal(imputer.transform(np.where(np.arange(7) == 3, np.nan, X)[first])[:, 2:5],
                       X[first, 2:5])  # [1, NaN, 0]: kept
    hidden = X[first].copy()
    hidden[:, 2:5] = np.nan
    assert (imputer.transform(hidden)[:, 2] == 1).mean() > 0.8  # the network's own choice
    two = X[first].copy()
    two[:, 2], two[:, 3:5] = 0.0, np.nan
    out = imputer.transform(two)
    assert_array_equal(out[:, 2], 0)
    assert_array_equal(out[:, 3:5].sum(axis=1), 1)
    one = X[first].copy()
    one[:, 2:5] = [0.0, np.nan, 0.0]
    assert_array_equal(imputer.transform(one)[:, 2:5], np.tile([0, 1, 0], (len(first), 1)))


@pytest.mark.parametrize("load, rate, seed", [(load_wine, 0.1, 2), (load_breast_cancer, 0.2, 0)])
def test_defaults_converge_without_warning_on_bundled_data(load, rate, seed):
    # Two fits whose schedule ends after 1,000 epochs (the default max_iter was 1000).
    X = StandardScaler().fit_transform(load(return_X_y=True)[0])
    X[np.random.default_rng(100 + seed).random(X.shape) < rate] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        imputer = AutoencoderImputer(random_state=seed).fit(X)
    assert imputer.n_iter_ < imputer.max_iter


def test_messages_for_missing_markers_and_sparse_input_say_what_to_do(holes):
    import re

    import scipy.sparse as sp

    with pytest.raises(ValueError, match=re.escape(
        "missing_values=inf cannot mark missing entries: X must be finite. Replace the "
        "infinities with NaN"
    )):
        quick(missing_values=np.inf).fit(np.where(np.isnan(holes), np.inf, holes))
    with pytest.raises(ValueError, match=r"missing_values=-1: .* Set that, or replace the "
                       r"NaNs with -1\."):
        quick(missing_values=-1).fit(holes)
    with pytest.raises(TypeError, match=r"needs dense input, and X is sparse: pass "
                       r"X\.toarray\(\).*OneHotEncoder\(sparse_output=False\)"):
        quick().fit(sp.csr_matrix(np.nan_to_num(holes)))


def test_a_divergence_blames_the_learning_rate_not_the_scaling_it_does_itself(holes):
    from skae._training import DivergenceError

    with pytest.raises(DivergenceError, match=r"The learning rate may be too large \(lower "
                       r"learning_rate_init; the rate was 1e\+30 then\)\.") as info:
        quick(learning_rate_init=1e30, max_iter=5).fit(holes)
    assert "StandardScaler" not in str(info.value)
    assert "warm_start" not in str(info.value)  # a first fit: standardized by its own data


@pytest.mark.parametrize("sign", [1, -1])
def test_a_warm_start_that_diverges_on_data_far_from_the_first_fit_says_so(holes, sign):
    """Far either way: data far below the first fit's mean are as far as data above."""
    from skae._training import DivergenceError

    far = sign * np.abs(holes) * 1e150
    imputer = quick(warm_start=True).fit(holes)
    before = pickle.dumps(imputer)
    with pytest.raises(DivergenceError, match=r"standardizes X with the first fit's mean_ and "
                       r"scale_, and X lies up to \S+e\+150 of those scales from mean_: "
                       r"refit with warm_start=False"):
        imputer.fit(far)
    assert pickle.dumps(imputer) == before
    assert np.isfinite(quick().fit(far).transform(far)).all()


def test_a_first_fit_that_diverges_is_not_blamed_on_a_warm_start_despite_a_far_outlier():
    """A first fit standardizes by its own data, yet with over 10,001 rows one value can
    lie more than 100 of its scales from the mean (at most sqrt(n - 1) of them)."""
    from skae._training import DivergenceError

    X = np.random.RandomState(1).normal(size=(20000, 3))
    X[0, 0] = 1e6  # about 141 scales from the mean
    with pytest.raises(DivergenceError, match="learning_rate_init") as info:
        quick(learning_rate_init=1e30, max_iter=2).fit(X)
    assert "warm_start" not in str(info.value)


def test_continuing_in_float32_on_values_it_cannot_hold_offers_what_the_imputer_has(holes):
    imputer = quick(warm_start=True, max_iter=2).fit(holes.astype(np.float32))
    with pytest.raises(ValueError, match=r"fit with warm_start=False\)\.") as info:
        imputer.fit(holes * 1e300)
    assert "partial_fit" not in str(info.value)  # the imputer has none


def test_fitted_attributes_are_set_together_when_the_fit_succeeds(holes, monkeypatch):
    imputer = quick().fit(holes)
    old = {name: getattr(imputer, name) for name in ("mean_", "scale_", "indicator_")}
    seen = []
    original = AutoencoderImputer._train_from_starts

    def during_training(self, *args, **kwargs):
        seen.append({name: getattr(self, name) for name in old})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AutoencoderImputer, "_train_from_starts", during_training)
    imputer.set_params(add_indicator=True).fit(holes * 10 + 3)
    assert seen and all(seen[0][name] is value for name, value in old.items())  # still the old
    assert not np.allclose(imputer.mean_, old["mean_"]) and imputer.indicator_ is not None
    assert not any("pending" in name for name in vars(imputer))
    # A first fit has none of them while it trains.
    seen.clear()
    monkeypatch.setattr(AutoencoderImputer, "_train_from_starts",
                        lambda self, *a, **k: seen.append(hasattr(self, "mean_"))
                        or original(self, *a, **k))
    quick().fit(holes)
    assert seen == [False]


def test_a_feature_within_rounding_of_its_mean_is_constant():
    # Its spread is below float64's resolution at its size: standardizing would
    # divide rounding noise; the feature is kept as a constant instead.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[:, 1] = 1e8 + np.where(np.arange(40) % 2, 1.4901161193847656e-08, 0.0)
    X[::5, 0] = np.nan
    imputer = AutoencoderImputer(
        n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0
    ).fit(X)
    assert imputer._constant_features[1]
    X_missing = X.copy()
    X_missing[0, 1] = np.nan
    assert imputer.transform(X_missing)[0, 1] == 1e8


@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_the_indicator_under_a_global_transform_output(holes, output):
    """The internal MissingIndicator followed a global transform_output, and a polars
    frame has no astype: every transform failed. The output as a whole is wrapped."""
    pytest.importorskip(output)
    expected = quick(add_indicator=True).fit(holes).transform(holes)
    with config_context(transform_output=output):
        imputer = quick(add_indicator=True).fit(holes)
        out = imputer.transform(holes)
        again = imputer.fit_transform(holes)
    assert type(out).__module__.startswith(output)
    assert list(out.columns) == list(imputer.get_feature_names_out())
    assert_allclose(np.asarray(out), expected)
    assert_allclose(np.asarray(again), expected)


def test_a_row_with_nothing_observed_gets_the_means(holes):
    """The network never trains on a row it sees nothing of: such a row's numeric
    features get mean_, as SimpleImputer gives them; other rows are the network's."""
    X = holes.copy()
    X[:, 2] = 3.0  # a constant feature: observing it tells nothing
    imputer = quick(max_iter=5).fit(X)
    rows = np.full((3, X.shape[1]), np.nan)
    rows[1, 2] = 3.0  # only the constant feature observed
    rows[2, 0] = X[0, 0] if np.isfinite(X[0, 0]) else 0.5  # one informative entry
    out = imputer.transform(rows)
    assert_array_equal(out[0], imputer.mean_)
    assert_array_equal(out[1], imputer.mean_)
    assert not np.allclose(out[2, 1:], imputer.mean_[1:])
    assert_array_equal(out[1:2], imputer.transform(rows[1:2]))  # row by row alike
    # A categorical group in such a row is the network's category, a valid one-hot.
    Xg = X.copy()
    Xg[:, -3:] = np.eye(3)[np.arange(X.shape[0]) % 3]
    grouped = quick(max_iter=5, categorical_groups=[[X.shape[1] - 3, X.shape[1] - 2,
                                                     X.shape[1] - 1]]).fit(Xg)
    blind = grouped.transform(np.full((1, X.shape[1]), np.nan))[0]
    assert_array_equal(blind[:-3], grouped.mean_[:-3])
    assert sorted(blind[-3:]) == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("noise", [None, "gaussian", "salt_and_pepper"])
def test_complete_training_data_without_masking_warns(blobs, noise):
    with pytest.warns(UserWarning, match="never sees a missing entry") as record:
        quick(noise=noise, max_iter=2).fit(blobs)
    assert record[0].filename == __file__
    assert str(record[0].message).startswith("X has no missing entries and noise=")
    # Masking that hides nothing, and holes only in a feature never observed, too.
    with pytest.warns(UserWarning, match="never sees a missing entry"):
        quick(noise_level=0.0, max_iter=2).fit(blobs)
    empty = blobs.copy()
    empty[:, 0] = np.nan
    with pytest.warns(UserWarning, match="no missing entries outside the features it "
                      "never observes and"):
        quick(noise=noise, max_iter=2).fit(empty)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        quick(max_iter=2).fit(blobs)  # masking hides entries
        quick(noise=noise, max_iter=2).fit(with_holes(blobs))  # missing entries seen


# -- bounds on the imputed values ----------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_imputed_values_are_clipped_to_the_bounds_and_observed_ones_kept(holes, dtype):
    """As IterativeImputer's min_value / max_value: only imputed entries, per feature."""
    X = holes.astype(dtype)
    missing = np.isnan(X)
    free = quick().fit(X)
    unbounded = free.transform(X)
    low = np.nanquantile(unbounded[missing], 0.3)  # binds on a share of the imputations
    high = np.array([np.inf, 0.2, 0.5, np.inf, 0.1, 0.3])
    bounded = quick(min_value=low, max_value=high).fit(X)
    # Training does not read them: the same network.
    assert_array_equal(bounded._params, free._params)
    before = X.copy()
    out = bounded.transform(X)
    assert_array_equal(X, before)
    assert out.dtype == dtype
    assert_array_equal(out[~missing], X[~missing])  # observed entries as given, beyond too
    highs = np.broadcast_to(high, X.shape)
    assert (X[~missing] < low).any() and (X[~missing] > highs[~missing]).any()
    expected = np.clip(unbounded, dtype(low), high.astype(dtype))
    assert_array_equal(out[missing], expected[missing])
    assert (unbounded[missing] != out[missing]).sum() > missing.sum() // 4


def test_bounds_that_do_not_bind_change_nothing(holes):
    out = quick().fit_transform(holes)
    loose = quick(min_value=-1e3, max_value=[1e3] * holes.shape[1]).fit_transform(holes)
    assert_array_equal(out, loose)
    assert_array_equal(out, quick(min_value=None, max_value=None).fit_transform(holes))


def test_bounds_leave_one_hot_groups_and_kept_empty_features_alone():
    X, groups, _ = mixed(n=200)
    rng = np.random.RandomState(0)
    masked = np.where(rng.uniform(size=X.shape) < 0.2, np.nan, X)
    masked[:, 2:5] = np.where(np.isnan(masked[:, 2:5]).any(axis=1)[:, None], np.nan, X[:, 2:5])
    masked = np.column_stack([masked, np.full(len(X), np.nan)])  # an empty feature
    imputer = quick(categorical_groups=groups, keep_empty_features=True,
                    min_value=0.25, max_value=0.75)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = imputer.fit_transform(masked)
    block = out[:, 2:5]
    assert_array_equal(block.sum(axis=1), 1)  # still one-hot: 0s and 1s, not clipped
    assert set(np.unique(block)) == {0.0, 1.0}
    assert_array_equal(out[:, -1], 0)  # the empty feature's holes are 0, as without bounds
    numeric = np.isnan(masked) & (np.arange(masked.shape[1]) < 7) & ~np.isin(
        np.arange(masked.shape[1]), [2, 3, 4])
    assert numeric.any()
    assert out[numeric].min() >= 0.25 and out[numeric].max() <= 0.75


def test_rows_imputed_with_the_means_are_clipped_too(holes):
    X = holes.copy()
    X[0] = np.nan  # nothing observed: the means
    imputer = quick(min_value=0.0).fit(X)
    out = imputer.transform(X)
    assert_array_equal(out[0], np.maximum(imputer.mean_, 0.0))


def test_a_warm_start_takes_the_new_bounds(holes):
    imputer = quick(warm_start=True, max_iter=3, tol=0).fit(holes)
    imputer.set_params(min_value=0.0)
    imputer.fit(holes)
    out = imputer.transform(holes)
    assert out[np.isnan(holes)].min() >= 0.0


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(min_value=[0.0] * 5), r"min_value has shape \(5,\), but X has 6 features"),
        (dict(max_value=np.zeros((6, 1))), r"max_value has shape \(6, 1\)"),
        (dict(min_value=[0.0] * 5 + [np.nan]), "min_value is NaN for feature 5"),
        (dict(min_value=1.0, max_value=1.0), "feature 0 has min_value=1.0 and max_value=1.0"),
        (dict(min_value=[0, 0, 0, 0, 0, 2], max_value=1.0), "feature 5 has min_value=2.0"),
        (dict(min_value=np.nan), "'min_value' parameter"),
        (dict(max_value="high"), "'max_value' parameter"),
    ],
)
def test_bad_bounds_are_refused_and_leave_a_fitted_imputer_untouched(holes, params, message):
    imputer = quick().fit(holes)
    state = pickle.dumps(imputer)
    with pytest.raises(ValueError, match=message):
        imputer.set_params(**params).fit(holes)
    fitted = pickle.loads(state)
    assert_array_equal(imputer._params, fitted._params)
    assert_array_equal(imputer._min_value, fitted._min_value)
    assert_array_equal(imputer.set_params(min_value=-np.inf, max_value=np.inf).transform(holes),
                       fitted.transform(holes))


def test_transform_keeps_the_bounds_of_the_last_fit(holes):
    """Neither set_params nor an edit of the caller's array reaches a fitted imputer."""
    low = np.zeros(holes.shape[1])
    imputer = quick(min_value=low).fit(holes)
    out = imputer.transform(holes)
    assert out[np.isnan(holes)].min() == 0.0
    low[:] = 50.0
    imputer.set_params(min_value=None)
    assert_array_equal(imputer.transform(holes), out)


def test_float32_data_cannot_be_imputed_within_bounds_beyond_its_range(holes):
    X = holes.astype(np.float32)
    before = X.copy()
    imputer = quick(min_value=1e39).fit(holes)  # float64: a bound like another
    assert imputer.transform(holes)[np.isnan(holes)].min() == 1e39
    with pytest.raises(ValueError, match=r"bounds beyond float32's range \(feature 0: "
                                          r"min_value 1e\+39.*pass X as float64"):
        imputer.transform(X)
    assert_array_equal(X, before)
    # An upper bound beyond float32's range is no bound there.
    out = quick(max_value=1e39).fit(holes).transform(X)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("bound", [10**400, [10**400] * 6, {"a": 1}, ["a"] * 6, [1j] * 6])
def test_bounds_that_are_not_floats_are_refused_with_a_message(holes, bound):
    with pytest.raises(ValueError, match="is not a bound: give a float"):
        quick(min_value=bound).fit(holes)
