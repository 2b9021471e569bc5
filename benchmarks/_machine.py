"""What a benchmark ran on: shared by the benchmark scripts."""

import os
import platform
import sys

import numpy as np
import sklearn

import skae


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
        "thread_pools": [
            {k: pool[k] for k in ("user_api", "internal_api", "num_threads")}
            for pool in threadpool_info()
        ],
    }
