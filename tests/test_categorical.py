"""Categorical groups: validation, the ColumnTransformer helper, softmax groups in use."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skae import AutoencoderImputer, AutoencoderTransformer, categorical_groups_from
from skae._categorical import check_categorical_groups
from skae._data import BatchSource, Corruption, MissingEntries

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def mixed(n=300, seed=0):
    """Two numeric columns that decide a 3-category column (one-hot in columns 2-4)."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 2))
    category = (latent[:, 0] > 0.5).astype(int) + (latent[:, 0] > -0.5)
    X = np.column_stack([latent, np.eye(3)[category], latent[:, 1] ** 2])
    return X, [[2, 3, 4]], category


BAD_GROUPS = [
    ("out of range", [[0, 6]], "refers to column 6, but X has 6 columns"),
    ("negative", [[-1, 0]], r"refers to column -1: .*\(negative ones do not count from the end"),
    ("one column", [[0]], r"has 1 column\(s\); a one-hot group needs at least 2"),
    ("overlap", [[0, 1], [1, 2]], r"Column 1 is in categorical_groups\[0\] and categorical"),
    ("repeated", [[0, 0]], "repeats a column"),
    ("not integers", [[0.5, 1]], "must hold integer column indices"),
    ("booleans", [[True, False]], "must hold integer column indices"),
    ("a string", "ab", "must be a list of sequences"),
    ("a flat list", [0, 1], r"categorical_groups\[0\] must be a sequence"),
    ("a generator", ([0, 1] for _ in range(1)), r"got an iterator \(generator\).*list\(\.\.\.\)"),
    ("a group generator", [(c for c in (0, 1))], r"categorical_groups\[0\] .*an iterator"),
    ("a group iterator", [iter([0, 1])], r"categorical_groups\[0\] .*an iterator"),
]


@pytest.mark.parametrize(
    "groups, match", [b[1:] for b in BAD_GROUPS], ids=[b[0] for b in BAD_GROUPS]
)
def test_bad_groups(groups, match):
    with pytest.raises(ValueError, match=match):
        check_categorical_groups(groups, 6)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, AutoencoderImputer])
def test_bad_groups_in_the_estimators(cls):
    X, _, _ = mixed()
    with pytest.raises(ValueError, match=r"refers to column 9.*refitted.*categories="):
        cls(categorical_groups=[[2, 9]], max_iter=2).fit(X)
    # An iterator would pass the first check and be empty at the next: refused up front.
    with pytest.raises(ValueError, match=r"categorical_groups\[0\] must be .*an iterator"):
        cls(categorical_groups=[iter([2, 3, 4])], max_iter=2).fit(X)


@pytest.mark.parametrize(
    "column, value, match",
    [(2, 0.5, "holds the value 0.5"), (3, 1.0, "more than one 1")],
)
@pytest.mark.parametrize("cls", [AutoencoderTransformer, AutoencoderImputer])
def test_groups_must_be_one_hot(cls, column, value, match):
    X, groups, _ = mixed()
    X[0, column] = value
    if value == 1.0:
        X[0, 2:5] = [1, 1, 0]
    with pytest.raises(ValueError, match=match):
        cls(categorical_groups=groups, max_iter=2).fit(X)


@pytest.mark.parametrize(
    "method", ["transform", "score_samples", "score", "imputer.transform"]
)
@pytest.mark.parametrize(
    "column, value, match",
    [(2, 0.5, "holds the value 0.5"), (3, 1.0, "more than one 1"), (4, 7.0, "value 7")],
)
def test_groups_must_be_one_hot_after_fit_too(method, column, value, match):
    """Inference refuses a non-one-hot group as fit does, and changes nothing."""
    X, groups, _ = mixed()
    cls = AutoencoderImputer if method.startswith("imputer.") else AutoencoderTransformer
    est = cls(categorical_groups=groups, max_iter=2, random_state=0).fit(X)
    params = est._params.copy()
    bad = X[:4].copy()
    bad[1, 3] = np.nan  # a missing group and a numeric hole in other rows are fine
    bad[2, 0] = np.nan
    bad[0, column] = value
    if value == 1.0:
        bad[0, 2:5] = [1, 1, 0]
    before = bad.copy()
    with pytest.raises(ValueError, match=match):
        getattr(est, method.split(".")[-1])(bad)
    assert_array_equal(bad, before)
    assert_array_equal(est._params, params)
    bad[0] = X[0]
    getattr(est, method.split(".")[-1])(bad)  # the same rows, one-hot again


def _one_hot_violations(X, groups):
    """Per group: the kinds of violation a plain per-group loop over dense ``X`` finds."""
    found = {}
    for number, g in enumerate(groups):
        block = X[:, g][~np.isnan(X[:, g]).any(axis=1)]
        bad = block[(block != 0) & (block != 1)]
        kinds = {f"holds the value {v:g}" for v in bad}
        if (block.sum(axis=1) > 1).any():
            kinds.add("more than one 1")
        if kinds:
            found[number] = kinds
    return found


@pytest.mark.parametrize("layout", ["contiguous", "scattered"])
@pytest.mark.parametrize("container", ["dense", "float32", "csr", "csc"])
def test_one_hot_check_agrees_with_a_per_group_loop(layout, container):
    """All groups checked at once find what checking group by group finds."""
    rng = np.random.default_rng(0)
    n_groups, size = 6, 3
    columns = np.arange(n_groups * size + 2)
    if layout == "scattered":
        columns = rng.permutation(columns)
    groups = [columns[i * size : (i + 1) * size].tolist() for i in range(n_groups)]
    for trial in range(40):
        X = rng.normal(size=(50, columns.size))
        for g in groups:
            X[:, g] = np.eye(size + 1)[rng.integers(size + 1, size=50), :size]  # some all 0
        for _ in range(trial % 4):  # 0-3 defects: a value, a second 1, a NaN
            row, col = rng.integers(50), rng.choice(np.concatenate(groups))
            X[row, col] = rng.choice([np.nan, 1.0, 0.5, -1.0, 2.0])
        expected = _one_hot_violations(X, groups)
        data = {
            "dense": X,
            "float32": X.astype(np.float32),
            "csr": sp.csr_matrix(X),
            "csc": sp.csc_matrix(X),
        }[container]
        missing = MissingEntries(X.shape[1], groups)
        if not expected:
            missing.check_one_hot(data)
            continue
        with pytest.raises(ValueError, match=r"categorical_groups\[(\d+)\]") as error:
            missing.check_one_hot(data)
        number = int(re.search(r"categorical_groups\[(\d+)\]", str(error.value))[1])
        assert number in expected
        assert any(kind in str(error.value) for kind in expected[number]), (
            str(error.value),
            expected[number],
        )


@pytest.mark.parametrize("sparse", [False, True])
def test_one_hot_check_reaches_rows_past_its_first_blocks(sparse):
    """A defect in a late row of a wide table (checked a block of rows at a time) is found."""
    n_groups = 512
    groups = [[2 * i, 2 * i + 1] for i in range(n_groups)]
    X = np.zeros((2100, 2 * n_groups))
    X[:, ::2] = 1
    missing = MissingEntries(X.shape[1], groups)
    missing.check_one_hot(sp.csr_matrix(X) if sparse else X)
    X[2099, -1] = 1
    with pytest.raises(ValueError, match=r"categorical_groups\[511\].*more than one 1"):
        missing.check_one_hot(sp.csr_matrix(X) if sparse else X)


@pytest.mark.parametrize("sparse", [False, True])
def test_one_hot_check_reads_the_observed_entries_beside_a_nan(sparse):
    """A group's NaN entries are not checked; its observed entries are, beside them too."""
    X = np.array([[np.nan, 1.0, 0.0, 1.0], [0.0, np.nan, np.nan, 0.0], [1.0, 0.0, 0.0, 1.0]])
    missing = MissingEntries(4, [[0, 1, 2]])
    missing.check_one_hot(sp.csr_matrix(X) if sparse else X)
    X[0, 2] = 0.5
    with pytest.raises(ValueError, match="holds the value 0.5"):
        missing.check_one_hot(sp.csr_matrix(X) if sparse else X)
    X[0, 2] = 1.0
    with pytest.raises(ValueError, match="more than one 1"):
        missing.check_one_hot(sp.csr_matrix(X) if sparse else X)


def test_one_hot_check_of_sparse_data_densifies_little():
    """Wide sparse data with a NaN in every group: bounded memory, not rows x all columns."""
    tracemalloc = pytest.importorskip("tracemalloc")
    rng = np.random.default_rng(0)
    n, n_groups, size = 3000, 400, 100
    columns = np.arange(n_groups) * size + rng.integers(size, size=(n, n_groups))
    X = sp.csr_matrix(
        (np.ones(n * n_groups), columns.ravel(), np.arange(0, n * n_groups + 1, n_groups)),
        shape=(n, n_groups * size),
    )
    X.data[rng.choice(X.nnz, 2000, replace=False)] = np.nan  # missing categories
    groups = [list(range(i * size, (i + 1) * size)) for i in range(n_groups)]
    tracemalloc.start()
    try:
        MissingEntries(X.shape[1], groups).check_one_hot(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, peak  # densifying whole row blocks would take ~900 MiB
    X.data[5] = 0.5
    with pytest.raises(ValueError, match=r"categorical_groups\[5\].*holds the value 0.5"):
        MissingEntries(X.shape[1], groups).check_one_hot(X)


def test_one_hot_check_sums_duplicate_sparse_entries_without_touching_them():
    """A non-canonical matrix is read as its dense equal, and left as it was."""
    # Row 0 stores column 1 twice (0.5 + 0.5 = 1): one-hot. Row 1 stores 1 + 1 = 2.
    ok = sp.csr_matrix(
        (np.array([0.5, 0.5, 1.0]), np.array([1, 1, 0]), np.array([0, 2, 3])), shape=(2, 3)
    )
    before = ok.data.copy(), ok.indices.copy()
    assert not ok.has_canonical_format
    MissingEntries(3, [[0, 1, 2]]).check_one_hot(ok)
    assert_array_equal(ok.data, before[0])
    assert_array_equal(ok.indices, before[1])
    assert not ok.has_canonical_format
    twice = sp.csr_matrix(
        (np.array([1.0, 1.0]), np.array([2, 2]), np.array([0, 2, 2])), shape=(2, 3)
    )
    with pytest.raises(ValueError, match="holds the value 2"):
        MissingEntries(3, [[0, 1, 2]]).check_one_hot(twice)


def test_groups_are_normalised():
    assert check_categorical_groups(None, 3) == ()
    assert check_categorical_groups([np.array([0, 2]), (1, 3)], 4) == ((0, 2), (1, 3))


# -- categorical_groups_from ---------------------------------------------------------------
def _raw(n=60, seed=0):
    rng = np.random.RandomState(seed)
    return np.column_stack(
        [rng.normal(size=n), rng.randint(3, size=n), rng.normal(size=n), rng.randint(2, size=n)]
    )


def test_groups_from_a_column_transformer():
    X = _raw()
    ct = make_column_transformer(
        (StandardScaler(), [0, 2]), (OneHotEncoder(sparse_output=False), [1, 3])
    )
    out = ct.fit_transform(X)
    groups = categorical_groups_from(ct)
    assert groups == [[2, 3, 4], [5, 6]]
    assert_array_equal(out[:, groups[0]].sum(axis=1), 1)
    assert_array_equal(np.argmax(out[:, groups[0]], axis=1), X[:, 1])


def test_groups_from_an_encoder_in_a_pipeline_with_remainder():
    X = _raw()
    ct = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), [3, 1]),
        remainder="passthrough",
    )
    ct.fit(X)
    assert categorical_groups_from(ct) == [[0, 1], [2, 3, 4]]


def test_groups_from_refuses_an_encoder_before_the_last_step_of_a_pipeline():
    """Steps after the encoder change its columns: no groups can be read, and none
    silently (the block would be taken for numbers)."""
    from sklearn.preprocessing import FunctionTransformer

    X = _raw()
    ct = make_column_transformer(
        (make_pipeline(OneHotEncoder(sparse_output=False), FunctionTransformer()), [1]),
        remainder="passthrough",
    ).fit(X)
    with pytest.raises(ValueError, match=r"Pipeline 'pipeline' one-hot encodes in its step "
                       r"'onehotencoder', which is not its last.*Make the OneHotEncoder"):
        categorical_groups_from(ct)


@pytest.mark.parametrize("container", ["dense", "csr"])
def test_a_group_observed_in_no_training_row_is_refused_by_fit(container):
    """No observed 1 in any row (of positive weight): nothing of the group
    could be learned. partial_fit, whose later batches may observe it, goes on."""
    import pickle

    X, groups, _ = mixed()
    model = AutoencoderTransformer(categorical_groups=groups, max_iter=2).fit(X)
    before = pickle.dumps(model)
    bad = X.copy()
    bad[:, 2:5] = 0.0
    bad[::3, 3] = np.nan
    data = sp.csr_matrix(bad) if container == "csr" else bad
    given = data.copy()
    with pytest.raises(ValueError, match=r"The categorical group \[2, 3, 4\] is missing \(no "
                       r"entry an observed 1\) in every training row \(of positive weight\)"):
        model.fit(data)
    assert pickle.dumps(model) == before
    assert_array_equal(data.toarray() if sp.issparse(data) else data,
                       given.toarray() if sp.issparse(given) else given)
    # Observed in one row, but only one of weight 0: still refused; of weight 1: trains.
    bad[1, 2:5] = [0.0, 1.0, 0.0]
    weights = np.ones(len(bad))
    weights[1] = 0.0
    fresh = AutoencoderTransformer(categorical_groups=groups, max_iter=2, early_stopping=False)
    with pytest.raises(ValueError, match="every training row"):
        fresh.fit(bad, sample_weight=weights)
    fresh.fit(bad)
    AutoencoderTransformer(categorical_groups=groups, max_iter=2).partial_fit(given)


@pytest.mark.parametrize("early_stopping", ["auto", True])
def test_held_out_rows_that_alone_observe_a_group_train_instead(monkeypatch, early_stopping):
    """A group observed only in rows held out for early stopping could not be learned:
    those rows train instead, the same rows again in a warm start, so that fit neither
    fails by the luck of the split nor learns an arbitrary category."""
    import skae._estimator as estimator_module

    X, groups, _ = mixed(n=400)
    bad = X.copy()
    bad[:, 2:5] = 0.0
    splits, calls = [], []
    split = estimator_module.validation_split

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        splits.append(split(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(estimator_module, "validation_split", spy)
    fitted = []
    train = estimator_module.BatchSource.__init__

    def record(self, X, rows, *args, **kwargs):
        fitted.append(rows.copy())
        train(self, X, rows, *args, **kwargs)

    monkeypatch.setattr(estimator_module.BatchSource, "__init__", record)
    model = AutoencoderTransformer(
        categorical_groups=groups, max_iter=2, n_init=1, early_stopping=early_stopping,
        random_state=0,
    )
    with pytest.raises(ValueError, match="Leave it out of categorical_groups"):
        model.fit(bad)  # observed nowhere: refused
    (_, weights, fraction, seed), _ = calls[-1]
    # The split goes by the rows' content: two rows that stay held out once they
    # observe the group (its middle category).
    chosen = []
    for row in range(len(bad)):
        candidate = bad.copy()
        candidate[row, 3] = 1.0
        if row in split(candidate, weights, fraction, seed)[1]:
            chosen.append(row)
        if len(chosen) == 2:
            break
    bad[chosen, 3] = 1.0
    held_out = split(bad, weights, fraction, seed)[1]
    assert set(chosen) <= set(held_out)
    given = bad.copy()
    model.fit(bad)
    assert_array_equal(bad, given)
    assert set(chosen) <= set(fitted[-1])  # trained on
    validated = np.setdiff1d(np.arange(len(bad)), fitted[-1])
    assert_array_equal(validated, np.setdiff1d(held_out, chosen))  # the rest held out
    assert len(model.validation_loss_curve_) == 2
    # A warm start holds out the same rows.
    model.set_params(warm_start=True).fit(bad)
    assert_array_equal(fitted[-1], fitted[-2])


def test_no_row_left_to_validate_on_after_moving_is_an_error_with_early_stopping_true():
    """Every held-out row alone observes a group: "auto" trains on every row, True says
    why it cannot hold rows out."""
    X = np.column_stack([np.arange(4.0), np.zeros((4, 2))])
    X[3, 1] = 1.0  # the group [1, 2] is observed in row 3 only
    spec = {"categorical_groups": [[1, 2]]}
    train, held_out = np.array([0, 1, 2]), np.array([3])
    with pytest.raises(ValueError, match="every row held out alone observes a categorical "
                       "group, and trains instead: no row is left to validate on"):
        AutoencoderTransformer(early_stopping=True)._train_on_every_group(
            X, spec, train, held_out
        )
    rows, validation = AutoencoderTransformer()._train_on_every_group(X, spec, train, held_out)
    assert_array_equal(rows, np.arange(4)) and validation is None
    # A row observing it in training: nothing moves.
    X[0, 2] = 1.0
    rows, validation = AutoencoderTransformer()._train_on_every_group(X, spec, train, held_out)
    assert rows is train and validation is held_out


@pytest.mark.parametrize("after", ["passthrough", None])
def test_groups_from_a_pipeline_whose_later_steps_pass_through(after):
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("ohe", OneHotEncoder(sparse_output=False)), ("rest", after)])
    ct = make_column_transformer((pipe, [1]), remainder="passthrough").fit(_raw())
    assert categorical_groups_from(ct) == [[0, 1, 2]]


def test_groups_from_a_nested_column_transformer_are_shifted_to_its_block():
    """A ColumnTransformer in a ColumnTransformer (or a Pipeline's last step) is read too."""
    X = np.array([[0.5, 0, 1, 7.0], [1.5, 1, 0, 8.0], [2.5, 2, 1, 9.0]] * 2)
    inner = make_column_transformer(
        (OneHotEncoder(), [0]), (StandardScaler(), [1]), (OneHotEncoder(), [2])
    )
    ct = make_column_transformer((StandardScaler(), [0]), (make_pipeline(inner), [1, 3, 2]))
    out = ct.fit_transform(X)
    groups = categorical_groups_from(ct)
    assert groups == [[1, 2, 3], [5, 6]]
    for group in groups:  # each is one-hot in the output
        assert_array_equal(out[:, group].sum(axis=1), 1)
        assert set(np.unique(out[:, group])) == {0.0, 1.0}
    assert categorical_groups_from(make_column_transformer((inner, [1, 3, 2])).fit(X)) == [
        [0, 1, 2], [4, 5]
    ]


def test_groups_from_an_encoder_with_infrequent_categories():
    X = _raw(200)
    X[:5, 1] = 7  # a rare category
    ct = make_column_transformer(
        (OneHotEncoder(min_frequency=10, sparse_output=False), [1]), remainder="passthrough"
    )
    out = ct.fit_transform(X)
    groups = categorical_groups_from(ct)
    assert groups == [[0, 1, 2, 3]]  # three frequent categories + "infrequent"
    assert_array_equal(out[:, groups[0]].sum(axis=1), 1)


@pytest.mark.parametrize("handle_unknown", ["infrequent_if_exist", "warn", "ignore", "error"])
def test_unknown_values_written_as_the_infrequent_category_warn(handle_unknown):
    """With handle_unknown="infrequent_if_exist" or "warn" a NaN at transform lands in
    the infrequent column, observed: a warning says so; "ignore" writes it as zeros."""
    X = _raw(200)
    X[:5, 1] = 7  # a rare category
    encoder = OneHotEncoder(
        categories=[np.unique(X[:, 1])], min_frequency=10, handle_unknown=handle_unknown,
        sparse_output=False,
    )
    ct = make_column_transformer((encoder, [1]), remainder="passthrough").fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = categorical_groups_from(ct)
    assert groups == [[0, 1, 2, 3]]
    messages = [str(w.message) for w in caught if "infrequent category" in str(w.message)]
    if handle_unknown in ("infrequent_if_exist", "warn"):
        assert len(messages) == 1 and "handle_unknown='ignore'" in messages[0]
        assert caught[0].filename == __file__
        hidden = X[:3].copy()
        hidden[:, 1] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # handle_unknown="warn" says so itself
            assert_array_equal(ct.transform(hidden)[:, 3], 1)  # what the warning says
    else:
        assert messages == []


def test_a_single_category_is_not_a_group():
    X = _raw()
    X[:, 3] = 1
    ct = make_column_transformer((OneHotEncoder(), [3, 1])).fit(X)
    assert categorical_groups_from(ct) == [[1, 2, 3]]


def test_a_single_category_whose_zero_may_mean_missing_warns():
    """With handle_unknown="ignore" a one-column block is 0 for unknown and missing
    values too, and the autoencoder would read that 0 as observed: a warning says so,
    and what to do. With handle_unknown="error" the column is a constant: no warning."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=50), "s": ["yes"] * 50, "c": rng.choice(["u", "v"], 50)}
    )
    df.loc[::4, "s"] = None
    ct = make_column_transformer(
        (StandardScaler(), ["a"]),
        (OneHotEncoder(categories=[["yes"], ["u", "v"]], handle_unknown="ignore"), ["s", "c"]),
    ).fit(df)
    with pytest.warns(UserWarning, match=r"single category for its feature 's': its one column "
                      r"\(output column 1\) is not a group.*handle_unknown='ignore'.*NaN where "
                      r"it is missing") as record:
        assert categorical_groups_from(ct) == [[2, 3]]
    assert len(record) == 1 and record[0].filename == __file__
    X = _raw()
    X[:, 3] = 1
    constant = make_column_transformer((OneHotEncoder(), [3, 1])).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert categorical_groups_from(constant) == [[1, 2, 3]]


def test_groups_from_refuses_an_encoder_inside_another_transformer():
    """A FeatureUnion's output columns cannot be placed: refused, not read as numbers."""
    from sklearn.pipeline import FeatureUnion

    union = FeatureUnion([("ohe", OneHotEncoder(sparse_output=False)), ("same", "passthrough")])
    ct = make_column_transformer((union, [1]), remainder="passthrough").fit(_raw())
    with pytest.raises(ValueError, match=r"transformer 'featureunion' \(FeatureUnion\) holds a "
                       r"OneHotEncoder \('ohe'\).*its own entry in the ColumnTransformer"):
        categorical_groups_from(ct)
    # In a Pipeline's last step, too.
    ct = make_column_transformer((make_pipeline(StandardScaler(), union), [1])).fit(_raw())
    with pytest.raises(ValueError, match=r"holds a OneHotEncoder"):
        categorical_groups_from(ct)


def test_groups_from_nested_pipelines_and_encoders_hidden_in_earlier_steps():
    """A Pipeline whose last step is a Pipeline ending in the encoder is read; an
    encoder inside an earlier step (a ColumnTransformer, a FeatureUnion) is refused,
    as the encoder itself there is; a one-column warning from a nested
    ColumnTransformer points at the caller's line."""
    from sklearn.pipeline import make_union

    X = _raw()
    nested = make_pipeline(
        SimpleImputer(strategy="most_frequent"), make_pipeline(OneHotEncoder())
    )
    ct = make_column_transformer((nested, [1]), remainder="passthrough").fit(X)
    assert categorical_groups_from(ct) == [[0, 1, 2]]
    for earlier in (
        make_column_transformer((OneHotEncoder(sparse_output=False), [0])),
        make_union(OneHotEncoder(sparse_output=False), "passthrough"),
    ):
        ct = make_column_transformer((make_pipeline(earlier, StandardScaler()), [1])).fit(X)
        with pytest.raises(ValueError, match=r"one-hot encodes in its step .* which is not "
                           r"its last"):
            categorical_groups_from(ct)
    X[:, 3] = 1
    inner = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), [0])
    )
    ct = make_column_transformer((StandardScaler(), [0]), (inner, [3])).fit(X)
    with pytest.warns(UserWarning, match=r"output column 1\) is not a group") as record:
        assert categorical_groups_from(ct) == []
    assert record[0].filename == __file__


def test_an_encoder_that_selects_no_column_gives_no_group():
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_selector

    frame = pd.DataFrame({"x": np.arange(6.0), "y": np.arange(6.0) ** 2})
    ct = make_column_transformer(
        (StandardScaler(), make_column_selector(dtype_include="number")),
        (OneHotEncoder(), make_column_selector(dtype_exclude="number")),  # selects nothing
    ).fit(frame)
    assert categorical_groups_from(ct) == []
    frame["c"] = list("aabbcc")
    ct = make_column_transformer(
        (OneHotEncoder(), make_column_selector(dtype_exclude="number")),
        (StandardScaler(), []),
        remainder="passthrough",
    ).fit(frame)
    assert categorical_groups_from(ct) == [[0, 1, 2]]


@pytest.mark.parametrize("missing", [np.nan, None])
def test_groups_from_refuses_missing_values_as_a_category(missing):
    """OneHotEncoder's NaN category would never be imputed; the documented recipe imputes it."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b"], 200)})
    df["c"] = df["c"].astype(object)
    df.loc[rng.uniform(size=200) < 0.3, "c"] = missing
    before = df.copy()
    default = make_column_transformer(
        (StandardScaler(), ["x"]), (OneHotEncoder(sparse_output=False), ["c"])
    ).fit(df)
    match = r"feature 'c' as a category of their own .*categ"
    with pytest.raises(ValueError, match=match) as info:
        categorical_groups_from(default)
    assert "handle_unknown='ignore', sparse_output=False)" in str(info.value)
    categories = [sorted(df[c].dropna().unique()) for c in ["c"]]
    ct = make_column_transformer(
        (StandardScaler(), ["x"]),
        (
            OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False),
            ["c"],
        ),
    )
    table = ct.fit_transform(df)
    assert categorical_groups_from(ct) == [[1, 2]]
    filled = AutoencoderImputer(
        categorical_groups=[[1, 2]], hidden_layer_sizes=(8,), max_iter=5, random_state=0
    ).fit_transform(table)
    assert_array_equal(filled[:, 1:].sum(axis=1), 1)  # every category imputed
    pd.testing.assert_frame_equal(df, before)


def test_groups_from_refuses_dropped_categories_and_other_objects():
    ct = make_column_transformer((OneHotEncoder(drop="first"), [1])).fit(_raw())
    with pytest.raises(ValueError, match=r"drop='first'.*Use OneHotEncoder\(drop=None\)"):
        categorical_groups_from(ct)
    with pytest.raises(ValueError, match="needs a fitted sklearn.compose.ColumnTransformer"):
        categorical_groups_from(OneHotEncoder())
    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), [1])), StandardScaler())
    with pytest.raises(ValueError, match=r"got Pipeline: pass the pipeline's ColumnTransformer"):
        categorical_groups_from(pipe.fit(_raw()))
    assert categorical_groups_from(pipe[0]) == [[0, 1, 2]]
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        categorical_groups_from(make_column_transformer((OneHotEncoder(), [1])))


# -- the estimators with groups ------------------------------------------------------------
def test_inverse_transform_returns_one_hot_rows():
    X, groups, _ = mixed()
    ae = AutoencoderTransformer(4, categorical_groups=groups, max_iter=50, random_state=0).fit(X)
    rec = ae.inverse_transform(ae.transform(X))
    block = rec[:, 2:5]
    assert set(np.unique(block)) <= {0.0, 1.0}
    assert_array_equal(block.sum(axis=1), 1)
    # The numeric columns stay real-valued reconstructions.
    assert len(np.unique(rec[:, 0])) > 10
    assert ae._categorical_groups == ((2, 3, 4),)


def test_a_group_is_missing_unless_an_observed_entry_is_1():
    """All 0s, or 0s and NaNs, hide the category; a NaN beside an observed 1 is a 0."""
    X, groups, category = mixed()
    ae = AutoencoderTransformer(2, categorical_groups=groups, max_iter=5, random_state=0).fit(X)
    rows, category = X[:30], category[:30]
    unknown, with_nan = rows.copy(), rows.copy()
    unknown[:, 2:5] = 0
    with_nan[:, 3] = np.nan
    hidden = category == 1  # the NaN took the row's 1
    assert hidden.any() and not hidden.all()
    same = np.where(hidden[:, None], unknown, rows)
    assert_allclose(ae.score_samples(with_nan), ae.score_samples(same), rtol=1e-12)
    assert_allclose(ae.transform(with_nan), ae.transform(same), rtol=1e-12)
    before = with_nan.copy()
    ae.score(with_nan)
    assert_array_equal(with_nan, before)


def test_score_samples_with_groups_is_the_mean_over_variables():
    X, groups, category = mixed()
    ae = AutoencoderTransformer(2, categorical_groups=groups, max_iter=5, random_state=0).fit(X)
    raw = ae._network().raw_output(X)
    logits = raw[:, 2:5]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    crossentropy = -log_p[np.arange(len(X)), category]
    squared = ((raw[:, [0, 1, 5]] - X[:, [0, 1, 5]]) ** 2).sum(axis=1)
    assert_allclose(-ae.score_samples(X), (squared + crossentropy) / 4, rtol=1e-10)


def test_groups_are_learned():
    X, groups, category = mixed(600)
    ae = AutoencoderTransformer(
        4, categorical_groups=groups, hidden_layer_sizes=(32,), max_iter=150, random_state=0
    ).fit(X)
    rec = ae.inverse_transform(ae.transform(X))
    assert np.mean(np.argmax(rec[:, 2:5], axis=1) == category) > 0.9


@pytest.mark.parametrize("as_input", [False, True])
def test_masking_noise_hides_a_group_as_a_whole(as_input):
    """A group is one variable: masking noise hides all its entries or none, and
    with the mask as input clears all its mask entries, as a missing group looks at
    inference (values 0, mask 0); the numeric columns keep their own draws."""
    X, groups, _ = mixed(n=400)
    X[::7, 0] = np.nan  # a numeric hole, so that the mask has both kinds
    d = X.shape[1]
    corrupt = Corruption("masking", 0.4, np.random.default_rng(0), groups=groups)
    source = BatchSource(X, np.arange(len(X)), None, 50, corruption=corrupt,
                         mask=MissingEntries(d, groups, as_input=as_input))
    hidden_groups = partly_dropped = numeric_dropped = 0
    for inputs, targets, _, _mask in source.epoch(np.random.default_rng(1)):
        values = inputs[:, 2:5]
        dropped = corrupt.dropped[:, 2:5]
        assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()
        hidden = dropped.all(axis=1)
        assert (values[hidden] == 0).all()
        assert_array_equal(values[~hidden], targets[~hidden, 2:5])
        if as_input:
            present = inputs[:, d + 2 : d + 5]
            assert (present[hidden] == 0).all() and (present[~hidden] == 1).all()
        hidden_groups += int(hidden.sum())
        partly_dropped += int((corrupt.dropped[:, 0] != corrupt.dropped[:, 1]).sum())
        numeric_dropped += int(corrupt.dropped[:, [0, 1, 5]].sum())
    assert 0.3 * len(X) < hidden_groups < 0.5 * len(X)  # about noise_level of the rows
    assert partly_dropped > 0 and 0.3 * 3 * len(X) < numeric_dropped < 0.5 * 3 * len(X)


def test_salt_and_pepper_noise_sets_a_group_to_a_random_category():
    """Per column, salt and pepper gave a group rows of several 1s or none (85 % of the
    rows it changed at this level), values no row takes; a group now gets a category,
    drawn uniformly, in about noise_level of the rows; the numeric columns keep theirs."""
    X, groups, category = mixed(n=3000)
    X[::7, 2:5] = np.nan  # a missing group stays missing: 0 at the input
    d = X.shape[1]
    corrupt = Corruption("salt_and_pepper", 0.4, np.random.default_rng(0),
                         low=np.nanmin(X, axis=0), high=np.nanmax(X, axis=0), groups=groups)
    source = BatchSource(X, np.arange(len(X)), None, 500, corruption=corrupt,
                         mask=MissingEntries(d, groups))
    changed, drawn, numeric_changed = 0, [], 0
    for inputs, targets, _, mask in source.epoch(np.random.default_rng(1)):
        values, observed = inputs[:, 2:5], mask[:, 2] > 0
        assert (values[~observed] == 0).all()
        assert (values[observed].sum(axis=1) == 1).all()
        assert np.isin(values, [0, 1]).all()
        moved = observed & (values != targets[:, 2:5]).any(axis=1)
        changed += int(moved.sum())
        drawn.extend(np.argmax(values[observed], axis=1))
        numeric_changed += int((inputs[:, [0, 1, 5]] != targets[:, [0, 1, 5]]).sum())
    n_observed = len(X) - len(X[::7])
    # a draw of the category it had leaves a row as it was: 2/3 of 0.4 change
    assert 0.2 * n_observed < changed < 0.34 * n_observed
    assert 0.25 < np.mean(np.array(drawn) == 0) < 0.45  # about the category's share
    assert 0.3 * 3 * len(X) < numeric_changed < 0.5 * 3 * len(X)


def spy_on_network_inputs(monkeypatch):
    """A list that gets each minibatch's network inputs and targets as training goes."""
    from skae import _data

    seen = []
    inputs = _data.BatchSource._masked_inputs

    def spy(self, targets, mask):
        out = inputs(self, targets, mask)
        seen.append((out.copy(), targets.copy()))
        return out

    monkeypatch.setattr(_data.BatchSource, "_masked_inputs", spy)
    return seen


def test_a_fit_with_masking_noise_hides_groups_whole(monkeypatch):
    """The estimator hands its groups to the noise (a spy on the network's inputs)."""
    X, groups, _ = mixed()
    seen = spy_on_network_inputs(monkeypatch)
    d = X.shape[1]
    AutoencoderTransformer(categorical_groups=groups, noise="masking", noise_level=0.3,
                           mask_as_input=True, max_iter=2, n_init=1, random_state=0).fit(X)
    batches = np.vstack([batch for batch, _ in seen])
    values, present = batches[:, 2:5], batches[:, d + 2 : d + 5]
    assert ((present == 0).all(axis=1) | (present == 1).all(axis=1)).all()
    assert_array_equal((present == 0).all(axis=1), (values == 0).all(axis=1))
    assert 0.2 < (present == 0).all(axis=1).mean() < 0.4


def test_a_fit_with_salt_and_pepper_noise_keeps_groups_one_hot(monkeypatch):
    """The estimator hands its groups to the noise (a spy on the network's inputs)."""
    X, groups, _ = mixed()
    seen = spy_on_network_inputs(monkeypatch)
    AutoencoderTransformer(categorical_groups=groups, noise="salt_and_pepper", noise_level=0.3,
                           max_iter=2, n_init=1, random_state=0).fit(X)
    values = np.vstack([batch[:, 2:5] for batch, _ in seen])
    targets = np.vstack([clean[:, 2:5] for _, clean in seen])
    assert (values.sum(axis=1) == 1).all() and np.isin(values, [0, 1]).all()
    assert 0.1 < (values != targets).any(axis=1).mean() < 0.3


def test_groups_that_shift_in_a_refit_say_to_give_the_categories():
    """Refitted on rows that lack a category (a cross-validation fold), the encoder
    writes fewer columns and the groups read before no longer fit: the error says why
    and what to do."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 90), "x": rng.normal(size=90) * 3})
    ct = make_column_transformer(
        (OneHotEncoder(sparse_output=False), ["c"]), remainder=StandardScaler()
    )
    groups = categorical_groups_from(ct.fit(df))
    assert groups == [[0, 1, 2]]
    pipe = make_pipeline(ct, AutoencoderTransformer(categorical_groups=groups, max_iter=2))
    with pytest.raises(ValueError, match=r"is not one-hot: .*shift when a fold lacks a "
                       r"category: give its OneHotEncoder the categories"):
        pipe.fit(df[df["c"] != "b"])
