"""Numba kernels: xoshiro256** random streams, exact samplers, birth-death transitions, the
compartment and agent engines and the patient loop.

Import the submodules directly (``kernels.random``, ``kernels.patient``, ...); nothing is
compiled at import time. Compiled code is cached on disk in a folder named by a hash of all
kernel sources: numba checks only a function's own file when it reuses a cached compile, so a
change to a kernel another file calls would otherwise leave the caller's stale copy in use.
Setting NUMBA_CACHE_DIR overrides the folder.

Kernels that allocate nothing compile with ``_nrt=False``: numba then counts no references
to the arrays they are given (an atomic increment and decrement per array per call, which
cost 30-50% of the compartment engine's time with the model's many arrays).
"""

import hashlib
import os
from pathlib import Path

import numba


def _sources_key() -> str:
    """A short hash of every kernel source file."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_root() -> Path:
    """The user's cache folder (XDG_CACHE_HOME, else ~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = str(_cache_root() / "refractory" / f"kernels-{_sources_key()}")
