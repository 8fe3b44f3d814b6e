"""Timing helpers and the row format of the benchmark table."""

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from refractory.provenance import environment


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


def run_alone(rows: Callable[[bool], list[Row]], description: str) -> None:
    """A benchmark module run as a script: ``--quick`` for smaller workloads, the machine,
    then its rows as a markdown table."""
    import argparse

    from refractory.benchmarks.suite import markdown

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    print(markdown(rows(parser.parse_args().quick), machine()))


def machine() -> dict:
    """What the figures were measured on (the same record as a run's manifest)."""
    import numba

    info = environment()
    return {
        "cpu": info["cpu"],
        "cores": info["cores"],
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba": info["numba"],
        "numpy": info["numpy"],
        "python": info["python"],
    }
