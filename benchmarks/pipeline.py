"""End to end against the kernel: how much of the kernel's rate a batch keeps once its
tables are made and written.

The same patients of the two-drug scenario (in chunks of the default size) run as kernel
calls alone and through ``refractory.run_batch`` into a fresh folder (tables made, chunk
files written; the returned Results read their tables only when used), in pairs one after
the other (which first alternates), all threads, after a warm-up of both. The figure is the
median ratio of their patients per second.

Run alone with ``python -m refractory.benchmarks.pipeline [--quick]``.
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from refractory.batch import run_batch
from refractory.benchmarks.compartment import TWO_DRUGS
from refractory.benchmarks.measure import Row, run_alone
from refractory.compile import compile_model
from refractory.engine import run_compartment
from refractory.scenario import load_scenario
from refractory.simulation import DEFAULT_CHUNK

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


def rows(quick: bool) -> list[Row]:
    """The end-to-end / kernel ratio of patients per second, median of paired runs."""
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
    ]


if __name__ == "__main__":
    run_alone(rows, __doc__.splitlines()[0])
