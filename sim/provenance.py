"""Where and with what a run was made: versions, platform, processor and GPU, for manifests
and benchmark tables."""

import os
import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@cache
def package_version(name: str = "refractory") -> str:
    """An installed distribution's version ("unknown" when it is not installed), read once
    per process (reading a distribution's metadata takes milliseconds)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The name of the CUDA GPU numba would use, or None."""
    try:
        from numba import cuda

        if not cuda.is_available():
            return None
        name = cuda.get_current_device().name
    except Exception:  # no CUDA target, or no driver: there is no GPU to name
        return None
    return name.decode() if isinstance(name, bytes) else str(name)


def environment(device: str = "cpu") -> dict:
    """The software and machine a run is made with (the GPU's name for ``device`` "gpu")."""
    import numba

    return {
        "refractory": package_version(),
        "python": platform.python_version(),
        **{name: package_version(name) for name in ("numpy", "numba", "scipy", "pandas")},
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": numba.get_num_threads(),
        "gpu": gpu_name() if device == "gpu" else None,
    }
