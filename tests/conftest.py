import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def seed(request):
    """Several seeds, so that no test depends on one lucky draw."""
    return request.param


@pytest.fixture(scope="session")
def digits():
    """Standardized digits (1797 x 64) and their labels."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def blobs():
    """A small dense float64 data set with structure."""
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(120, 2))
    X = np.tanh(latent @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(120, 6))
    return X


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)``: the module of ``benchmarks/<name>.py``, loaded by path
    (the scripts are not a package), under ``module_name`` if given."""
    scripts = Path(__file__).resolve().parents[1] / "benchmarks"

    def load(name, module_name=None):
        spec = importlib.util.spec_from_file_location(module_name or name, scripts / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def plateau_scales(monkeypatch):
    """The ``scale`` of every stopping rule made from now on, in order."""
    import skae._training as training_module

    scales = []
    original = training_module.PlateauRule.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        scales.append(self.scale)

    monkeypatch.setattr(training_module.PlateauRule, "__init__", recording)
    return scales


@pytest.fixture
def gathered_rows(monkeypatch):
    """``watch(module)``: a list of the row counts of every ``module.gather_rows`` call."""

    def watch(module):
        sizes = []
        original = module.gather_rows

        def counting(X, rows, out):
            sizes.append(rows.size)
            return original(X, rows, out)

        monkeypatch.setattr(module, "gather_rows", counting)
        return sizes

    return watch

