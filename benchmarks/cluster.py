"""The Dask cluster's efficiency: a batch on ``local:2`` (two worker processes, one thread
each) against the same batch on two numba threads in one process, and the fixed cost of a
task. Each worker's first task loads (or compiles) the kernels; that warm-up is timed apart
and left out of the efficiency."""

import importlib.util
import tempfile
import time
from pathlib import Path

from refractory.batch import Task, Work, run_batch
from refractory.benchmarks.measure import Row
from refractory.bundled import scenarios_folder
from refractory.scenario import load_scenario
from refractory.settings import DEFAULT_SETTINGS
from refractory.simulation import DEFAULT_CHUNK, DEFAULT_TRACE

SECTION = "dask cluster"
SCENARIO = "two-drugs-1e9.toml"
#: Patients per second on local:2 over those on 2 threads in one process, at 20,000 patients.
EFFICIENCY_TARGET = 0.8
WORKERS = 2


def _seconds(scenario, patients: int, chunk_size: int, chunks=None) -> float:
    """Wall time of run_batch into a fresh folder (files written and merged)."""
    options = {} if chunks is None else {"chunks": chunks}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_batch(scenario, Path(out), patients=patients, chunk_size=chunk_size, **options)
        return time.perf_counter() - start


def _best(run, repeats: int) -> float:
    return min(run() for _ in range(repeats))


def rows(quick: bool) -> list[Row]:
    """Efficiency of local:2 against 2 threads, the fixed cost per task, and the warm-up."""
    from refractory.cluster import INSTALL, code_identity, connect, on_cluster, run_task

    if importlib.util.find_spec("distributed") is None:
        why = f"dask.distributed is not installed ({INSTALL})"
        return [Row(SECTION, SCENARIO, "not run", float("nan"), "", 0, judged_by=why)]
    import numba

    scenario = load_scenario(scenarios_folder() / "benchmarks" / SCENARIO)
    patients = 4_000 if quick else 20_000
    repeats = 1 if quick else 3
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(min(WORKERS, numba.config.NUMBA_NUM_THREADS))
        _seconds(scenario, 200, DEFAULT_CHUNK)  # loads the kernels in this process
        local = _best(lambda: _seconds(scenario, patients, DEFAULT_CHUNK), repeats)
    finally:
        numba.set_num_threads(threads)
    with connect(WORKERS, quiet=True) as client:
        work = Work(scenario, SCENARIO, DEFAULT_TRACE, DEFAULT_SETTINGS, "cpu")
        start = time.perf_counter()
        client.run(run_task, work, Task(0, 1), code_identity(), 1)  # every worker at once
        warm_up = time.perf_counter() - start
        chunks = on_cluster(client, threads=1)
        cluster = _best(lambda: _seconds(scenario, patients, DEFAULT_CHUNK, chunks), repeats)
        # The fixed cost: the same small batch in 2 tasks and in 100.
        few, many = 2, 100
        small = 2_000
        in_few = _best(lambda: _seconds(scenario, small, small // few, chunks), repeats)
        in_many = _best(lambda: _seconds(scenario, small, small // many, chunks), repeats)
    efficiency = local / cluster
    batch = f"{SCENARIO}, {patients:,} patients in chunks of {DEFAULT_CHUNK:,}"
    if quick:
        batch += " (--quick: a smaller batch than the 20,000 the target is set for)"
    return [
        Row(
            SECTION,
            f"{batch}: local:{WORKERS} (1 thread per worker) against {WORKERS} threads in one "
            "process",
            "cluster efficiency",
            efficiency,
            "",
            repeats,
            judged_by="patients per second on the cluster / in one process, best of the "
            "repeats, files written; the workers' warm-up excluded",
            ratio=efficiency,
            target=f">= {EFFICIENCY_TARGET}",
            met=bool(efficiency >= EFFICIENCY_TARGET),
            extra={
                "patients_per_second_cluster": patients / cluster,
                "patients_per_second_one_process": patients / local,
                "seconds_cluster": cluster,
                "seconds_one_process": local,
            },
        ),
        Row(
            SECTION,
            f"{SCENARIO}, {small:,} patients on local:{WORKERS} in {many} tasks against {few}",
            "fixed cost per task",
            (in_many - in_few) / (many - few) * 1000,
            "ms",
            repeats,
            judged_by="wall time added per extra task (scheduling, sending the tables back, "
            "writing the chunk's files, as a run in one process does too), so the patients' own "
            "cost cancels",
            extra={"seconds_in_few": in_few, "seconds_in_many": in_many},
        ),
        Row(
            SECTION,
            f"local:{WORKERS}: each worker's first patient (kernels loaded from numba's cache)",
            "worker warm-up",
            warm_up,
            "s",
            1,
            judged_by="not in the efficiency; a fresh machine without the cache compiles",
        ),
    ]
