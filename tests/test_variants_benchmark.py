"""benchmarks/variants.py runs end to end on tiny data; its metric helpers measure what they say.

The benchmark's numbers and timings are not tested, only their structure.
"""

import io
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits

from skae import AutoencoderTransformer

# The tiny fits stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")



@pytest.fixture(scope="module")
def variants(load_benchmark):
    return load_benchmark("variants")


@pytest.fixture(scope="module")
def small_digits():
    X, _ = load_digits(return_X_y=True)
    return X[:160]


def test_tiny_benchmark(variants, small_digits):
    params = variants.base_params(epochs=3) | {"hidden_layer_sizes": (8,)}
    log = io.StringIO()
    records = variants.run(variants.MODELS, [0, 1], X=small_digits, params=params, log=log)

    assert len(records) == 2 * (len(variants.MODELS) + 1)
    assert log.getvalue().count("\n") == 2
    by_model = {}
    for record in records:
        by_model.setdefault(record["model"], []).append(record)
        assert record["shape"] == small_digits.shape
        # The benchmark must not rely on anything scikit-learn is about to change.
        assert not [w for w in record.get("warnings", ()) if "Deprecation" in w or "Future" in w]
    assert set(by_model) == {variants.IDENTITY, *variants.MODELS}

    for record in by_model.pop(variants.IDENTITY):
        assert set(record) == {"seed", "model", "shape", "mse_masked", "mse_gaussian"}
        assert record["mse_masked"] > 0 and record["mse_gaussian"] > 0
    keys = ("mse", "mse_masked", "mse_gaussian", "hoyer", "near_zero", "mean_abs_code")
    keys += ("jacobian", "jacobian_rel", "fit_time")
    for name, group in by_model.items():
        for record in group:
            assert all(math.isfinite(record[key]) for key in keys), name
            assert 0 <= record["hoyer"] <= 1 and 0 <= record["near_zero"] <= 1
            assert record["jacobian"] > 0 and record["mse"] > 0
            assert record["n_iter"] == 3  # a fixed budget: the stopping rule is off
            assert record["params"] == variants.MODELS[name]
            tied = record["params"].get("tied_weights", False)
            assert record["weights_stored"] * (2 if tied else 1) == record["weights_listed"]

    table = variants.format_tables(records)
    for section in variants.SECTIONS:
        assert f"### {section.title}" in table
        for _, header, _ in section.columns:
            assert header in table
    assert all(f"`{name}`" in table for name in variants.MODELS)
    assert "±" in table  # two seeds: mean ± sd

    lines = variants.effects(records)
    # One line per model that is not the baseline of its table.
    assert len(lines) == len(variants.MODELS) - 2
    assert all(line.startswith("`") and "seed(s)" in line for line in lines)


def test_command_line(variants, tmp_path, capsys):
    json_path = tmp_path / "variants.json"
    variants.main(
        ["--quick", "--epochs", "2", "--models", "plain", "tied_weights=True"]
        + ["--json", str(json_path)]
    )
    out = capsys.readouterr().out
    assert "### Tied weights" in out and "### Denoising" in out
    assert "### Sparse codes" not in out  # none of its models ran
    assert "1 seed(s), 2 epochs, 1 BLAS thread" in out
    results = json.loads(json_path.read_text())
    assert results["settings"]["quick"] is True
    assert results["machine"]["numpy"] == np.__version__
    models = [r["model"] for r in results["records"]]
    assert models == [variants.IDENTITY, "plain", "tied_weights=True"]


def test_jacobian_of_a_linear_encoder(variants, small_digits, seed):
    """A linear encoder's Jacobian is W₀ᵀ at every row."""
    X = (small_digits - small_digits.mean(0)) / 16
    model = AutoencoderTransformer(
        n_components=5, hidden_layer_sizes=(), activation="identity", max_iter=2, random_state=seed
    )
    model.fit(X)
    norms = variants.jacobian_sq_norms(model.transform, X[:20])
    assert_allclose(norms, np.full(20, np.sum(model.coefs_[0] ** 2)), rtol=1e-7)


def test_jacobian_of_a_nonlinear_map(variants, seed):
    """tanh(X A): row i's Jacobian is diag(1 − tanh²) Aᵀ."""
    rng = np.random.default_rng(seed)
    X, A = rng.normal(size=(30, 7)), rng.normal(size=(7, 3))
    T = np.tanh(X @ A)
    expected = ((1 - T**2) ** 2) @ np.sum(A**2, axis=0)
    norms = variants.jacobian_sq_norms(lambda Z: np.tanh(Z @ A), X)
    assert_allclose(norms, expected, rtol=1e-6)


def test_sparsity_measures(variants):
    one_hot = np.eye(4)[[0, 2, 3]] * [[1.0], [-5.0], [1e-3]]
    assert variants.hoyer_sparsity(one_hot) == pytest.approx(1.0)
    assert variants.near_zero_fraction(one_hot) == pytest.approx(0.75)
    flat = np.array([[1.0, -1.0, 1.0, 1.0], [3.0, 3.0, -3.0, 3.0]])
    assert variants.hoyer_sparsity(flat) == pytest.approx(0.0, abs=1e-12)
    assert variants.near_zero_fraction(flat) == 0
    codes = np.random.default_rng(0).normal(size=(50, 8))
    assert 0 < variants.hoyer_sparsity(codes) < 1
    # Both are scale-free.
    assert variants.hoyer_sparsity(1e-3 * codes) == pytest.approx(variants.hoyer_sparsity(codes))
    assert variants.near_zero_fraction(1e3 * codes) == variants.near_zero_fraction(codes)


def test_corruptions(variants):
    X = np.random.default_rng(0).normal(size=(400, 50))
    masked = variants.corrupt(X, "masking", 0.25, np.random.default_rng(1))
    assert np.mean(masked == 0) == pytest.approx(0.25, abs=0.02)
    assert_allclose(masked[masked != 0], X[masked != 0])
    noisy = variants.corrupt(X, "gaussian", 0.5, np.random.default_rng(1))
    assert np.std(noisy - X) == pytest.approx(0.5, rel=0.05)
    assert variants.mse(X, noisy) == pytest.approx(0.25, rel=0.1)
    with pytest.raises(ValueError, match="unknown corruption"):
        variants.corrupt(X, "salt", 0.1, np.random.default_rng(1))


def test_weight_counts(variants, small_digits):
    X = (small_digits - small_digits.mean(0)) / 16
    kwargs = dict(n_components=3, hidden_layer_sizes=(6,), max_iter=1, random_state=0)
    untied = AutoencoderTransformer(**kwargs).fit(X)
    tied = AutoencoderTransformer(tied_weights=True, **kwargs).fit(X)
    n_weights = 2 * (64 * 6 + 6 * 3)
    assert variants.weight_counts(untied) == (n_weights, n_weights)
    assert variants.weight_counts(tied) == (n_weights // 2, n_weights)
