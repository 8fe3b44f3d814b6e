"""Batches of virtual patients: chunks written atomically, resumable, with a manifest.

A patient's results depend only on (scenario, seed, patient index), so a batch can be split
into chunks, run on any number of threads, interrupted and resumed, and ends with the same
tables. Each chunk's tables go to ``chunks/`` under temporary names and are renamed when
complete; the manifest records the scenario's hash so a changed scenario is refused rather
than mixed with old results.
"""

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numba
import pandas as pd
from refractory import compile as compile_settings
from refractory.compile import compile_model
from refractory.engine import engine_runner
from refractory.errors import ScenarioError
from refractory.results import TABLES, Tables, tables_from_chunk
from refractory.scenario import Scenario, scenario_hash

DEFAULT_CHUNK = 2000
#: Patients per chunk on the GPU: a launch needs about 1e5 patients to fill one.
DEFAULT_GPU_CHUNK = 100_000
DEFAULT_TRACE = 20
MANIFEST = "manifest.json"


def package_version() -> str:
    """The installed refractory version (or "unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refractory")
    except PackageNotFoundError:
        return "unknown"


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


def write_json(data: dict, path: Path) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def chunk_ranges(first: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    """Half-open patient ranges of at most ``size``, aligned on ``first``."""
    for start in range(first, stop, size):
        yield start, min(start + size, stop)


def _chunk_path(out: Path, table: str, start: int, stop: int) -> Path:
    return out / "chunks" / f"{start:09d}-{stop - 1:09d}.{table}.parquet"


def _check_resumable(out: Path, digest: str, source: str) -> None:
    manifest = out / MANIFEST
    if not manifest.exists():
        return
    previous = json.loads(manifest.read_text())
    if previous.get("scenario_hash") != digest:
        raise ScenarioError(
            source,
            f"the output folder {out} holds results of a different scenario (or seed or "
            "engine) than this file describes now, so they cannot be resumed or extended",
            "Choose another folder with --out, or delete that folder to start afresh.",
            field="--out",
        )


def _manifest(
    scenario: Scenario, digest: str, first: int, stop: int, chunk: int, trace: int, device: str
) -> dict:
    return {
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "scenario_hash": digest,
        "seed": scenario.scenario.seed,
        "patients": stop - first,
        "patient_range": [first, stop],
        "engine": scenario.scenario.engine,
        "device": device,
        "chunk_size": chunk,
        "traced_patients": trace,
        "engine_settings": {
            "exact_below_cells": compile_settings.EXACT_BELOW,
            "max_log_growth_per_step": compile_settings.MAX_LOG_GROWTH,
            "threshold_tolerance": compile_settings.THRESHOLD_TOLERANCE,
            "mutant_bins": compile_settings.MUTANT_BINS,
            "agent_max_cells": compile_settings.AGENT_MAX_CELLS,
        },
        "refractory_version": package_version(),
        "numba_version": numba.__version__,
        "threads": numba.get_num_threads(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run_batch(
    scenario: Scenario,
    out: Path,
    *,
    source: str = "<scenario>",
    patient_range: tuple[int, int] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    trace: int = DEFAULT_TRACE,
    progress: bool | None = None,
    device: str = "cpu",
) -> Tables:
    """Simulate the scenario's patients into ``out``, resuming finished chunks; return tables.

    ``patient_range`` (start, stop) runs only those patient indices (each still on its own
    stream, so patient 17 alone equals patient 17 of the whole batch). Patients with an index
    below ``trace`` also record every clone at every scan (the ``trace`` table). ``device``
    "gpu" runs the compartment engine on a CUDA GPU (a chunk already written on either device
    is kept: both give the same distributions).
    """
    first, stop = patient_range or (0, scenario.scenario.patients)
    model = compile_model(scenario, source)
    try:
        engine = engine_runner(scenario.scenario.engine, device)
    except ValueError as reason:
        raise ScenarioError(
            source,
            f"cannot run on the {device.upper()}: {reason}",
            "Run without --device gpu (the CPU runs every engine), or on a machine with an "
            "NVIDIA GPU and numba-cuda installed (pip install 'refractory[gpu]').",
            field="--device",
        ) from None
    digest = f"{scenario_hash(scenario)}-trace{trace}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chunks").mkdir(exist_ok=True)
    _check_resumable(out, digest, source)
    manifest = _manifest(scenario, digest, first, stop, chunk_size, trace, device)
    manifest["status"] = "running"
    write_json(manifest, out / MANIFEST)
    ranges = list(chunk_ranges(first, stop, chunk_size))
    if progress is None:
        progress = sys.stderr.isatty()
    started = time.perf_counter()
    from tqdm import tqdm

    with tqdm(total=stop - first, unit="patient", disable=not progress) as bar:
        for start, end in ranges:
            if not _chunk_path(out, "patients", start, end).exists():
                raw = engine(model, scenario.scenario.seed, start, end - start, trace)
                _write_chunk(out, start, end, tables_from_chunk(raw, scenario))
            bar.update(end - start)
    tables = _merge(out, ranges)
    _remove_stale_chunks(out, ranges)
    manifest["status"] = "complete"
    manifest["seconds"] = round(time.perf_counter() - started, 3)
    write_json(manifest, out / MANIFEST)
    return tables


def _write_chunk(out: Path, start: int, stop: int, tables: Tables) -> None:
    """Write one chunk's tables; the patients file goes last and marks the chunk complete."""
    for name in ("trace", "lineages", "scans", "lines", "clones", "patients"):
        write_parquet(getattr(tables, name), _chunk_path(out, name, start, stop))


def _merge(out: Path, ranges: list[tuple[int, int]]) -> Tables:
    merged = {}
    for name in TABLES:
        frames = [pd.read_parquet(_chunk_path(out, name, a, b)) for a, b in ranges]
        frames = [frame for frame in frames if len(frame)] or frames[:1]
        merged[name] = pd.concat(frames, ignore_index=True)
        write_parquet(merged[name], out / f"{name}.parquet")
    return Tables(**merged)


def _remove_stale_chunks(out: Path, ranges: list[tuple[int, int]]) -> None:
    """Delete chunk files of an earlier plan (another chunk size) so the folder is canonical."""
    keep = {_chunk_path(out, name, a, b).name for a, b in ranges for name in TABLES}
    for path in (out / "chunks").iterdir():
        if path.name not in keep:
            path.unlink()
