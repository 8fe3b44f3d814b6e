"""Timing helpers and the row format of the benchmark table."""

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    """One line of the benchmark table: what was run, the figure, and how it is judged."""

    section: str
    workload: str
    figure: str
    value: float
    unit: str
    repeats: int
    judged_by: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


#: Parallel efficiency the suite aims at on all threads.
EFFICIENCY_TARGET = 0.85


def efficiency_row(section: str, workload: str, efficiency: float, repeats: int, how: str) -> Row:
    """The parallel-efficiency row of a workload, judged against EFFICIENCY_TARGET."""
    return Row(
        section,
        workload,
        "parallel efficiency",
        efficiency,
        "",
        repeats,
        judged_by=how,
        ratio=efficiency,
        target=f">= {EFFICIENCY_TARGET}",
        met=bool(efficiency >= EFFICIENCY_TARGET),
    )


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls of ``run`` (after the caller has warmed it up)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def python_in_fresh_process(code: str, env_extra: dict | None = None) -> str:
    """Run ``code`` in a new interpreter (of this environment); return its stdout."""
    env = dict(os.environ, **(env_extra or {}))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def machine() -> dict:
    """What the figures were measured on."""
    import numba
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
