"""The early-stopping split: row-content keys and the held-out share."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer
from skae._data import row_keys, validation_split


def noncanonical_csr(n_samples, n_features, seed=0):
    """CSR with every entry stored twice, columns in decreasing order within a row."""
    rng = np.random.default_rng(seed)
    indices, data = [], []
    for _ in range(n_samples):
        columns = np.sort(rng.choice(n_features, size=3, replace=False))[::-1]
        indices += [c for c in columns for _ in range(2)]
        data += list(rng.normal(size=6))
    indptr = np.arange(0, 6 * n_samples + 1, 6)
    X = sp.csr_matrix((np.array(data), np.array(indices), indptr), shape=(n_samples, n_features))
    assert not X.has_canonical_format
    return X


def test_distinct_binary_rows_get_distinct_keys():
    rng = np.random.default_rng(0)
    X = np.unique(rng.integers(0, 2, size=(25_000, 30)).astype(float), axis=0)[:20_000]
    assert X.shape[0] == 20_000
    keys = row_keys(X, 0)
    assert np.unique(keys).size >= 20_000 - 2
    assert keys.min() >= 0 and keys.max() < 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_raw_digits_get_one_key_per_distinct_row(dtype):
    X = load_digits().data.astype(dtype)
    n_distinct = np.unique(X, axis=0).shape[0]
    keys = row_keys(X, 3)
    assert np.unique(keys).size == n_distinct
    # Equal rows, equal keys; another seed, other keys.
    _, first = np.unique(X, axis=0, return_index=True)
    assert np.unique(keys[first]).size == n_distinct
    assert not np.array_equal(keys, row_keys(X, 4))


def test_equal_values_get_equal_keys_in_either_float_dtype():
    X = np.random.default_rng(0).normal(size=(500, 7)).astype(np.float32)
    X[::5, 2] = np.nan
    X[1::5, 3] = -0.0
    wide = X.astype(np.float64)
    assert_array_equal(row_keys(X, 2), row_keys(wide, 2))
    assert_array_equal(row_keys(sp.csr_matrix(X), 2), row_keys(wide, 2))
    for fraction in (0.1, 0.3):
        narrow_split = validation_split(X, None, fraction, 7)
        wide_split = validation_split(wide, None, fraction, 7)
        for a, b in zip(narrow_split, wide_split, strict=True):
            assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_keys_equal_dense_keys(dtype):
    X = load_digits().data[:300].astype(dtype)
    X[X < 4] = 0
    csr = sp.csr_matrix(X)
    assert_array_equal(row_keys(csr, 5), row_keys(X, 5))
    # Stored zeros and negative zeros change nothing.
    with_zeros = csr.copy()
    with_zeros.data[::7] = 0.0
    negative = with_zeros.copy()
    negative.data[negative.data == 0] = -0.0
    assert_array_equal(row_keys(negative, 5), row_keys(with_zeros.toarray(), 5))
    dense_negative = X.copy()
    dense_negative[dense_negative == 0] = -0.0
    assert_array_equal(row_keys(dense_negative, 5), row_keys(X, 5))


def test_noncanonical_csr_is_not_written_and_keys_equal_dense():
    X = noncanonical_csr(50, 6)
    before = X.indices.copy(), X.data.copy(), X.indptr.copy()
    keys = row_keys(X, 1)
    assert_array_equal(X.indices, before[0])
    assert_array_equal(X.data, before[1])
    assert_array_equal(X.indptr, before[2])
    assert_array_equal(keys, row_keys(X.toarray(), 1))
    train, val = validation_split(X, None, 0.2, 1)
    assert train.size + val.size == 50
    assert_array_equal(X.indices, before[0])
    assert_array_equal(X.data, before[1])


def held_share(X, sample_weight, fraction, seed):
    _, val = validation_split(X, sample_weight, fraction, seed)
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return weight[val].sum() / weight.sum()


@pytest.mark.parametrize("seed", range(8))
def test_fraction_is_honoured_with_many_duplicates(seed):
    rng = np.random.default_rng(seed)
    X = np.vstack([np.zeros((830, 4)), rng.normal(size=(170, 4))])
    assert 0.08 <= held_share(X, None, 0.1, seed) <= 0.1


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2, 0.35, 0.5])
def test_fraction_is_honoured_on_digits(fraction):
    X = load_digits().data
    share = held_share(X, None, fraction, 0)
    assert fraction - 0.01 <= share <= fraction


@pytest.mark.parametrize("seed", range(5))
def test_stated_tolerance_with_weights_and_duplicates(seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(400, 3)).astype(float)  # 27 distinct rows at most
    weight = rng.uniform(0, 5, size=400) * (rng.uniform(size=400) > 0.2)
    fraction = 0.15
    train, val = validation_split(X, weight, fraction, seed)
    assert np.intersect1d(train, val).size == 0 and train.size + val.size == 400
    # Duplicates on one side.
    val_rows = {row.tobytes() for row in X[val]}
    assert not any(row.tobytes() in val_rows for row in X[train])
    # Held-out weight <= target, short of it by less than the lightest
    # positive-weight group left in training.
    target = fraction * weight.sum()
    held = weight[val].sum()
    assert held <= target * (1 + 1e-12)
    groups = {}
    for row, w in zip(X[train], weight[train], strict=True):
        groups[row.tobytes()] = groups.get(row.tobytes(), 0.0) + w
    lightest = min(w for w in groups.values() if w > 0)
    assert target - held < lightest
    # Groups of zero weight stay in training.
    held_groups = {}
    for row, w in zip(X[val], weight[val], strict=True):
        held_groups[row.tobytes()] = held_groups.get(row.tobytes(), 0.0) + w
    assert min(held_groups.values()) > 0


def test_lightest_group_is_held_out_when_none_fits():
    X = np.repeat(np.eye(3), [50, 30, 20], axis=0)
    _, val = validation_split(X, None, 0.1, 0)
    assert_array_equal(X[val], np.repeat(np.eye(3)[2:], 20, axis=0))


def test_auto_early_stopping_needs_200_distinct_rows():
    # Eight patterns of 125 rows: every held-out group is a pattern the model never
    # trains on. early_stopping=True holds out the lightest (it asked for
    # validation); "auto" asks for 200 distinct rows and trains on every row.
    X = np.repeat(np.array(list(itertools.product([0.0, 1.0], repeat=3))), 125, axis=0)
    train, val = validation_split(X, None, 0.25, 0, required=False, min_distinct=200)
    assert_array_equal(train, np.arange(1000))
    assert val is None
    _, val = validation_split(X, None, 0.1, 0, required=True, min_distinct=200)
    assert val.size == 125
    auto = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=3, n_init=1,
                                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto.fit(X)
        assert auto.validation_loss_curve_ is None
        # 200 distinct rows, each repeated: held out as before, duplicates together.
        distinct = np.random.default_rng(0).normal(size=(200, 3))
        repeated = np.repeat(distinct, 2, axis=0)
        auto.fit(repeated)
    assert auto.validation_loss_curve_ is not None
    # Distinct rows and a small fraction: the lightest row held out, as before.
    rows = np.random.default_rng(1).normal(size=(400, 3))
    _, val = validation_split(rows, None, 0.002, 0, required=False, min_distinct=200)
    assert val.size == 1
