"""Test-session set-up shared by ``tests/`` and the doctests in ``skae/``."""

import os

# scikit-learn's array-API estimator check (NumPy namespace: dispatch enabled must
# not change results) only runs when SciPy's array-API mode is on, and SciPy reads
# the variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
