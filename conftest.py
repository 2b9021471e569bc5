"""Test-session set-up shared by ``tests/`` and the doctests in ``skae/``."""

import os

# scikit-learn's array-API estimator checks (NumPy, array-api-strict and PyTorch
# namespaces) and tests/test_array_api.py need SciPy's array-API mode, and SciPy
# reads the variable once, at import: this file is loaded before any test module
# imports SciPy (tests/test_array_api.py checks that it took effect).
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skae.onnx imports skl2onnx (the onnx extra) and its doctest runs onnxruntime.
from importlib.util import find_spec  # noqa: E402

collect_ignore = []
if find_spec("skl2onnx") is None or find_spec("onnxruntime") is None:
    collect_ignore.append("skae/onnx.py")
