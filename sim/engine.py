"""Engines: run a chunk of patients of a compiled model, returning raw per-patient arrays.

An engine is a function (model, seed, first, count, trace) -> RawChunk registered by name in
``ENGINES``; the batch runner and the tests go through the registry, so an engine added here
is exercised by every engine-parametrised test.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kernels.model import L_COLUMNS, P_COLUMNS, PatientModel
from kernels.patient import simulate_batch
from kernels.streams import patient_states


@dataclass(frozen=True)
class RawChunk:
    """Kernel outputs for patients ``first`` .. ``first + count - 1`` (leading patient axis).

    ``patients`` (count, P_COLUMNS) and ``lines`` (count, n_lines, L_COLUMNS) hold the kernel's
    coded columns; ``snap_day`` (count, moments) the day of each clone snapshot (NaN if not
    taken; moments are treatment start, progression on each line, end); ``snap_cells`` and
    ``snap_first`` (count, moments, slots) the cells and first-seen day of each clone slot;
    ``genotypes`` (count, slots, 2) the genotype bitmask of each slot and of the genotype it
    arose from (-1: unused slot / an initial clone). The first ``traced`` patients also have
    ``trace_day`` (traced, rows), ``trace_line`` and ``trace_cells`` (traced, rows, slots):
    every slot's cells at treatment start, at each scan and at the end (NaN / -1 unused rows).
    """

    first: int
    patients: np.ndarray
    lines: np.ndarray
    snap_day: np.ndarray
    snap_cells: np.ndarray
    snap_first: np.ndarray
    genotypes: np.ndarray
    trace_day: np.ndarray
    trace_line: np.ndarray
    trace_cells: np.ndarray


def trace_rows(model: PatientModel) -> int:
    """Rows a traced patient needs: treatment start, every scan before the horizon, the end."""
    return int(model.horizon_days // model.scan_every_days) + 2


def allocate_chunk(model: PatientModel, first: int, count: int, trace: int) -> RawChunk:
    """Output arrays for a chunk, filled with NaN / -1 where nothing gets written.

    Patients whose index is below ``trace`` get trace arrays.
    """
    n_lines = model.line_drugs.shape[0]
    moments = n_lines + 2
    slots = model.max_clones
    traced = min(max(trace - first, 0), count)
    rows = trace_rows(model)
    return RawChunk(
        first=first,
        patients=np.full((count, P_COLUMNS), np.nan),
        lines=np.full((count, n_lines, L_COLUMNS), np.nan),
        snap_day=np.full((count, moments), np.nan),
        snap_cells=np.full((count, moments, slots), -1, np.int64),
        snap_first=np.full((count, moments, slots), np.nan),
        genotypes=np.full((count, slots, 2), -1, np.int64),
        trace_day=np.full((traced, rows), np.nan),
        trace_line=np.full((traced, rows), -1, np.int64),
        trace_cells=np.full((traced, rows, slots), -1, np.int64),
    )


def run_compartment(
    model: PatientModel, seed: int, first: int, count: int, trace: int = 0
) -> RawChunk:
    """The compartment engine: clone counts, exact birth-death steps, all cores.

    Patients with an index below ``trace`` also record their clones at every scan.
    """
    chunk = allocate_chunk(model, first, count, trace)
    simulate_batch(
        patient_states(seed, first, count),
        model,
        chunk.patients,
        chunk.lines,
        chunk.snap_day,
        chunk.snap_cells,
        chunk.snap_first,
        chunk.genotypes,
        chunk.trace_day,
        chunk.trace_line,
        chunk.trace_cells,
    )
    return chunk


#: Engines by the name used in scenario files and on the command line.
ENGINES: dict[str, Callable[[PatientModel, int, int, int, int], RawChunk]] = {
    "compartment": run_compartment,
}
