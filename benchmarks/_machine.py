"""What a benchmark ran on: shared by the benchmark scripts."""

import os
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn

import skae

#: Environment variables that change which BLAS kernels run, or how many threads.
BLAS_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")


def blas_kernels():
    """The BLAS libraries loaded, each with its version and the kernels it chose.

    The kernels matter beyond speed: a long training run amplifies their
    differences in rounding, so two kernels give different errors split by split.
    """
    from threadpoolctl import threadpool_info

    return [
        f"{_owner(pool.get('filepath'))}{pool.get('internal_api')} {pool.get('version')} "
        f"({pool.get('architecture')} kernel, {pool.get('threading_layer')})"
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]


def _owner(path):
    """``"numpy: "`` for a wheel's bundled copy of a library, else ``""``.

    Wheels bundle their libraries in ``numpy.libs`` (Linux, Windows) or
    ``numpy/.dylibs`` (macOS).
    """
    parts = Path(path or "").parts
    owners = [
        parts[i - 1] if part in (".libs", ".dylibs") else part.removesuffix(".libs")
        for i, part in enumerate(parts)
        if i and (part.endswith(".libs") or part == ".dylibs")
    ]
    return f"{owners[-1]}: " if owners else ""


def machine_info():
    """The processor, the versions and the thread pools the timings were measured with."""
    from threadpoolctl import threadpool_info

    torch = sys.modules.get("torch")  # only when a PyTorch reference imported it
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skae": skae.__version__,
        "torch": getattr(torch, "__version__", None),
        "blas": blas_kernels(),
        "env": {name: os.environ[name] for name in BLAS_ENVIRONMENT if name in os.environ},
        "thread_pools": [
            {k: pool[k] for k in ("user_api", "internal_api", "num_threads")}
            for pool in threadpool_info()
        ],
    }
