"""What a benchmark ran on: shared by the benchmark scripts."""

import contextlib
import os
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn

import skae


@contextlib.contextmanager
def one_thread_each():
    """One BLAS/OpenMP thread (threadpoolctl) while the block runs; the caller's after.

    PyTorch's thread count, which a script may set to 1 inside the block, is
    restored too if PyTorch was imported before it (a script's own import of it
    has no earlier setting to go back to). For the scripts' ``main``: called
    in-process (by the tests), they leave the caller's settings as they were.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


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


def blas_text(machine):
    """The BLAS libraries of :func:`machine_info`'s ``machine``, for a printed line."""
    return "; ".join(machine.get("blas") or []) or "unknown"


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
