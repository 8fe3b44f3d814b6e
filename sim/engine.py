"""Engines: run a chunk of patients of a compiled model, returning raw per-patient arrays.

An engine is a function (model, seed, first, count) -> RawChunk registered by name in
``ENGINES``; the batch runner and the tests go through the registry, so an engine added here
is exercised by every engine-parametrised test.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kernels.compartment import L_COLUMNS, P_COLUMNS, PatientModel, simulate_batch
from kernels.streams import patient_states


@dataclass(frozen=True)
class RawChunk:
    """Kernel outputs for patients ``first`` .. ``first + count - 1`` (leading patient axis).

    ``patients`` (count, P_COLUMNS) and ``lines`` (count, n_lines, L_COLUMNS) hold the kernel's
    coded columns; ``snap_day`` (count, moments) the day of each clone snapshot (NaN if not
    taken; moments are treatment start, progression on each line, end); ``snap_cells`` and
    ``snap_first`` (count, moments, slots) the cells and first-seen day of each clone slot;
    ``genotypes`` (count, slots) the genotype bitmask of each slot (-1 unused).
    """

    first: int
    patients: np.ndarray
    lines: np.ndarray
    snap_day: np.ndarray
    snap_cells: np.ndarray
    snap_first: np.ndarray
    genotypes: np.ndarray


def allocate_chunk(model: PatientModel, first: int, count: int) -> RawChunk:
    """Output arrays for a chunk, filled with NaN / -1 where nothing gets written."""
    n_lines = model.line_drugs.shape[0]
    moments = n_lines + 2
    slots = model.max_clones
    return RawChunk(
        first=first,
        patients=np.full((count, P_COLUMNS), np.nan),
        lines=np.full((count, n_lines, L_COLUMNS), np.nan),
        snap_day=np.full((count, moments), np.nan),
        snap_cells=np.full((count, moments, slots), -1, np.int64),
        snap_first=np.full((count, moments, slots), np.nan),
        genotypes=np.full((count, slots), -1, np.int64),
    )


def run_compartment(model: PatientModel, seed: int, first: int, count: int) -> RawChunk:
    """The compartment engine: clone counts, exact birth-death steps, all cores."""
    chunk = allocate_chunk(model, first, count)
    simulate_batch(
        patient_states(seed, first, count),
        model,
        chunk.patients,
        chunk.lines,
        chunk.snap_day,
        chunk.snap_cells,
        chunk.snap_first,
        chunk.genotypes,
    )
    return chunk


#: Engines by the name used in scenario files and on the command line.
ENGINES: dict[str, Callable[[PatientModel, int, int, int], RawChunk]] = {
    "compartment": run_compartment,
}
