"""End to end against the kernel: how much of the kernel's rate a batch keeps once its
tables are made and written.

The same patients of the two-drug scenario (in chunks of the default size) run as kernel
calls alone and through ``refractory.run_batch`` into a fresh folder (tables made, chunk
files written; the returned Results read their tables only when used), in pairs one after
the other (which first alternates), all threads, after a warm-up of both. The figure is the
median ratio of their patients per second. Beside it, one chunk's files written by one
thread and by the batch's writer threads, in paired runs: how much sooner a chunk is written
where the cores allow (the scans table, about half the writing, bounds it).

Run alone with ``python -m refractory.benchmarks.pipeline [--quick]``.
"""

import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from refractory.batch import WRITERS, Task, Work, run_batch, write_chunk
from refractory.benchmarks.compartment import TWO_DRUGS
from refractory.benchmarks.measure import Row, run_alone
from refractory.compile import compile_model
from refractory.engine import run_compartment
from refractory.scenario import load_scenario
from refractory.settings import DEFAULT_SETTINGS
from refractory.simulation import DEFAULT_CHUNK, DEFAULT_TRACE, resolve

SECTION = "end to end"
#: The share of the kernel's patients per second that a batch should keep.
TARGET = 0.95


def _kernel(model, patients: int) -> float:
    start = time.perf_counter()
    for first in range(0, patients, DEFAULT_CHUNK):
        run_compartment(model, 7, first, min(DEFAULT_CHUNK, patients - first))
    return time.perf_counter() - start


def _batch(folder: Path, patients: int) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    run_batch(TWO_DRUGS, folder, patients=patients, seed=7, progress=False)
    return time.perf_counter() - start


def _writing(folder: Path, patients: int, repeats: int) -> list[float]:
    """Seconds to write one chunk of ``patients`` two-drug patients with one thread over
    seconds with the batch's writers, in ``repeats`` paired runs (which first alternates)."""
    scenario, source = resolve(TWO_DRUGS, patients, 7, None, None)
    work = Work(scenario, source, DEFAULT_TRACE, DEFAULT_SETTINGS, "cpu")
    task = Task(0, patients)
    tables = work.run(task)
    folder.mkdir()

    def write(threads: int) -> float:
        with ThreadPoolExecutor(threads) as writers:
            start = time.perf_counter()
            write_chunk(folder, task.start, task.stop, "", tables, writers)
            return time.perf_counter() - start

    write(1)
    speedups = []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            one, pool = write(1), write(WRITERS)
        else:
            pool, one = write(WRITERS), write(1)
        speedups.append(one / pool)
    return speedups


def rows(quick: bool) -> list[Row]:
    """The end-to-end / kernel ratio of patients per second, median of paired runs, and
    the writers' speed-up on one chunk."""
    patients, repeats = (15000, 3) if quick else (20000, 7)
    model = compile_model(load_scenario(TWO_DRUGS))
    ratios, kernel_rates = [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "batch"
        _kernel(model, 200)  # compiled and warm
        _batch(folder, 200)
        for repeat in range(repeats):
            if repeat % 2 == 0:
                kernel, batch = _kernel(model, patients), _batch(folder, patients)
            else:
                batch, kernel = _batch(folder, patients), _kernel(model, patients)
            ratios.append(kernel / batch)
            kernel_rates.append(patients / kernel)
        speedups = _writing(Path(scratch) / "writing", patients, repeats)
    ratio = statistics.median(ratios)
    workload = f"two drugs at 1e9, {patients} patients, chunks of {DEFAULT_CHUNK}"
    return [
        Row(
            SECTION,
            workload + ", kernel alone",
            "patients per second",
            statistics.median(kernel_rates),
            "1/s",
            repeats,
        ),
        Row(
            SECTION,
            workload + ", run_batch (tables made and written)",
            "patients per second, end to end / kernel",
            ratio,
            "",
            repeats,
            judged_by="median ratio of paired runs, all threads",
            ratio=ratio,
            target=f">= {TARGET}",
            met=bool(ratio >= TARGET),
            extra={"ratios": ratios},
        ),
        Row(
            SECTION,
            f"one chunk of {patients} two-drug patients written, 1 thread and {WRITERS}",
            "writing time, 1 thread / writer threads",
            statistics.median(speedups),
            "x",
            repeats,
            judged_by="median ratio of paired runs",
            ratio=statistics.median(speedups),
            extra={"speedups": speedups},
        ),
    ]


if __name__ == "__main__":
    run_alone(rows, __doc__.splitlines()[0])
