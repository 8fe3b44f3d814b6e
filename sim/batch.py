"""Batches of virtual patients: chunks written atomically, resumable, with a manifest.

A patient's results depend only on (scenario, seed, patient index), so a batch can be split
into chunks, run on any number of threads, interrupted and resumed, and ends with the same
tables. Each table is a parquet dataset, a folder (``patients.parquet/``) of one file per
chunk, in order by name: a chunk's files are written under temporary names and renamed when
complete, and nothing is merged or read back at the end. The manifest records the
scenario's hash so a changed scenario is refused rather than mixed with old results.
"""

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from refractory.engine import Engine
from refractory.errors import ScenarioError
from refractory.limits import check_memory
from refractory.results import MANIFEST, TABLES, ArrowTables, Results
from refractory.scenario import Scenario, scenario_hash
from refractory.settings import DEFAULT_SETTINGS, EngineSettings
from refractory.simulation import (
    DEFAULT_TRACE,
    Planned,
    Simulated,
    check_cohort,
    chunk_ranges,
    chunk_tables,
    default_chunk,
    manifest,
    plan,
    resolve,
    runner,
    simulate_chunk,
)

Tables = ArrowTables
#: Threads writing a chunk's files: the scans table, the largest, takes about half the
#: writing time, so more threads than cores or than tables gain nothing.
WRITERS = min(5, os.cpu_count() or 1)
#: The tables written at once, largest first; the patients file follows them.
CONCURRENT_TABLES = ("scans", "clones", "lines", "trace", "lineages")


@dataclass(frozen=True)
class Task:
    """One unit of work of a batch, and the name of its chunk: patients start .. stop - 1 of
    variant ``variant`` (the index of its sweep point and arm; 0 for a plain scenario)."""

    start: int
    stop: int
    variant: int = 0

    @property
    def patients(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Work:
    """Everything a batch's chunks depend on besides their Task; ``run`` is a pure function
    of the two, so a chunk's tables are the same whichever process or machine runs it."""

    scenario: Scenario
    source: str
    trace: int
    settings: EngineSettings
    device: str

    def prepare(self) -> tuple[Engine, list[Planned]]:
        """The engine and every variant with its compiled model, once per process (a
        ScenarioError when the scenario cannot run)."""
        return _prepared(self)

    def run(self, task: Task) -> Tables:
        """The tables of the task's patients."""
        return self.tables(task, self.simulate(task))

    def simulate(self, task: Task) -> Simulated:
        """The task's patients simulated (its kernels release the GIL)."""
        engine, planned = self.prepare()
        return simulate_chunk(
            engine, planned[task.variant], task.start, task.stop, self.trace, self.settings
        )

    def tables(self, task: Task, simulated: Simulated) -> Tables:
        """The tables of the task's simulated patients."""
        return chunk_tables(self.prepare()[1][task.variant], simulated)


#: Prepared engines and models of the Work this process has run, by what they depend on.
_PREPARED: dict[tuple, tuple[Engine, list[Planned]]] = {}


def _prepared(work: Work) -> tuple[Engine, list[Planned]]:
    key = (scenario_hash(work.scenario), work.source, work.settings, work.device)
    if key not in _PREPARED:
        planned = plan(work.scenario, work.source, work.settings)
        _PREPARED.clear()  # one batch at a time: keep only its models
        _PREPARED[key] = runner(work.scenario, work.device, work.source), planned
    return _PREPARED[key]


#: How a batch's missing tasks are run: called with the Work and the tasks, it yields each
#: task with its tables as it finishes, in any order (``in_process``, or a cluster's).
Chunks = Callable[[Work, list[Task]], Iterable[tuple[Task, Tables]]]


def in_process(work: Work, tasks: list[Task]) -> Iterator[tuple[Task, Tables]]:
    """Run the tasks one after another in this process, each on all of numba's threads.
    The kernels of the next task run in a second thread (they release the GIL) while this
    one makes the last task's tables and the caller writes them; at most two chunks are
    held."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refractory-kernel") as pool:
        running = None
        for task in tasks:
            future = pool.submit(work.simulate, task)
            if running is not None:
                yield running[0], work.tables(running[0], running[1].result())
            running = (task, future)
        if running is not None:
            yield running[0], work.tables(running[0], running[1].result())


def write_atomic(path: Path, write) -> None:
    """Call ``write(temporary_path)`` then rename over ``path``: readers never see half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_arrow(table: pa.Table, path: Path) -> None:
    """Write a table atomically, without dictionary encoding (it costs a third of the
    writing time, and snappy compression alone gives files as small)."""
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, use_dictionary=False))


def write_json(data: dict, path: Path) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def _chunk_path(out: Path, table: str, start: int, stop: int, key: str = "") -> Path:
    """A chunk's file in its table's folder, named by its variant (sweep point and arm, none
    for a plain scenario) and its patients, so that names sort in run order."""
    prefix = f"{key}." if key else ""
    return out / f"{table}.parquet" / f"{prefix}{start:09d}-{stop - 1:09d}.parquet"


def run_digest(scenario: Scenario, trace: int, settings: EngineSettings) -> str:
    """What a folder's chunks depend on: the scenario (with its seed and engine), the traced
    patients and the engine settings."""
    settings_text = json.dumps(settings.as_dict(), sort_keys=True).encode()
    return f"{scenario_hash(scenario)}-trace{trace}-{hashlib.sha256(settings_text).hexdigest()[:8]}"


def _check_resumable(out: Path, digest: str, source: str) -> None:
    manifest_path = out / MANIFEST
    if not manifest_path.exists():
        return
    previous = json.loads(manifest_path.read_text())
    if previous.get("scenario_hash") != digest:
        raise ScenarioError(
            source,
            f"the output folder {out} holds results of a different scenario (or seed, engine, "
            "traced patients or engine settings) than this run asks for, so they cannot be "
            "resumed or extended",
            "Choose another folder with --out, or delete that folder to start afresh.",
            field="--out",
        )


def run_batch(
    scenario: Scenario | str | os.PathLike,
    out: str | os.PathLike,
    *,
    patients: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    device: str = "cpu",
    source: str | None = None,
    patient_range: tuple[int, int] | None = None,
    chunk_size: int | None = None,
    trace: int = DEFAULT_TRACE,
    progress: bool | None = None,
    settings: EngineSettings = DEFAULT_SETTINGS,
    chunks: Chunks = in_process,
) -> Results:
    """Simulate the scenario's patients into the folder ``out``, resuming finished chunks,
    and return its Results (the tables ``simulate`` gives in memory, read from the folder
    when first used).

    ``scenario``, ``patients``, ``seed``, ``engine``, ``device``, ``patient_range``,
    ``trace`` and ``settings`` are as for ``refractory.simulate``; ``source`` names the
    scenario in errors. Chunks of ``chunk_size`` patients (default 5000; 100,000 on the GPU)
    are written atomically, so an interrupted batch resumes where it stopped; a chunk already
    written on either device is kept (both give the same distributions). ``chunks`` runs the
    missing chunks (default: in this process; ``refractory.cluster`` runs them on a Dask
    cluster), and this process writes each one as it arrives.
    """
    scenario, source = resolve(scenario, patients, seed, engine, source)
    out = Path(out)
    first, stop = patient_range or (0, scenario.scenario.patients)
    chunk_size = chunk_size or default_chunk(device)
    work = Work(scenario, source, trace, settings, device)
    _, planned = work.prepare()
    for _, model, _ in planned:
        check_memory(model, (stop - first) * len(planned), chunk_size, trace, source)
    check_cohort(planned, first, stop)
    digest = run_digest(scenario, trace, settings)
    out.mkdir(parents=True, exist_ok=True)
    _remove_older_layout(out)
    _check_resumable(out, digest, source)
    record = manifest(scenario, (first, stop), trace, device, settings)
    record.update(
        scenario_hash=digest,
        chunk_size=chunk_size,
        status="running",
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_json(record, out / MANIFEST)
    tasks = [
        Task(start, end, index)
        for index in range(len(planned))
        for start, end in chunk_ranges(first, stop, chunk_size)
    ]
    key = {task: planned[task.variant].variant.key for task in tasks}
    if progress is None:
        progress = sys.stderr.isatty()
    started = time.perf_counter()
    from tqdm import tqdm

    writers = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="refractory-writer")
    with (
        writers,
        tqdm(total=sum(t.patients for t in tasks), unit="patient", disable=not progress) as bar,
    ):
        missing = []
        for task in tasks:
            if _chunk_path(out, "patients", task.start, task.stop, key[task]).exists():
                bar.update(task.patients)
            else:
                missing.append(task)
        for task, tables in chunks(work, missing):
            write_chunk(out, task.start, task.stop, key[task], tables, writers)
            bar.update(task.patients)
    files = [(task.start, task.stop, key[task]) for task in tasks]
    _remove_stale_chunks(out, files)
    record["status"] = "complete"
    record["seconds"] = round(time.perf_counter() - started, 3)
    write_json(record, out / MANIFEST)
    return Results(folder=out, manifest=record)  # tables read when first used


def write_chunk(
    out: Path, start: int, stop: int, key: str, tables: Tables, writers: Executor
) -> None:
    """Write one chunk's tables, all but the patients file at once on the ``writers``
    (pyarrow releases the GIL), then the patients file, which marks the chunk complete."""

    def write(name: str) -> None:
        path = _chunk_path(out, name, start, stop, key)
        path.parent.mkdir(exist_ok=True)
        write_arrow(tables[name], path)

    for written in [writers.submit(write, name) for name in CONCURRENT_TABLES]:
        written.result()
    write("patients")


def _remove_stale_chunks(out: Path, files: list[tuple[int, int, str]]) -> None:
    """Delete chunk files of an earlier plan (another chunk size, another patient range) so
    the folder holds this run's patients only."""
    keep = {_chunk_path(out, "patients", a, b, key).name for a, b, key in files}
    for name in TABLES:
        for path in (out / f"{name}.parquet").iterdir():
            if path.name not in keep:
                path.unlink()


def _remove_older_layout(out: Path) -> None:
    """Remove what a version that merged its chunks wrote (a ``chunks/`` folder, one file per
    table): this run writes each table as a folder of chunk files."""
    shutil.rmtree(out / "chunks", ignore_errors=True)
    for name in TABLES:
        path = out / f"{name}.parquet"
        if path.is_file():
            path.unlink()
