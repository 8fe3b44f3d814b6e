"""Engines: run a chunk of patients of a compiled model, returning raw per-patient arrays.

An engine is a function (model, seed, first, count, trace) -> RawChunk registered by name in
``ENGINES``; the batch runner and the tests go through the registry, so an engine added here
is exercised by every engine-parametrised test.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numba
import numpy as np
from refractory.kernels.model import L_COLUMNS, P_COLUMNS, P_LINES_RECEIVED, S_COLUMNS, PatientModel
from refractory.kernels.patient import simulate_batch
from refractory.kernels.streams import patient_states


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
    ``scans`` (count, scan rows, S_COLUMNS): every measurement of the burden (NaN rows unused).
    The agent engine adds one row per patient, snapshot moment and barcode with cells then:
    ``lineage_patient`` (rows,) index within the chunk, ``lineage_moment``,
    ``lineage_barcode``, ``lineage_cells``, ``lineage_resistant`` (cells carrying any
    mechanism) and ``lineage_mechanisms`` (union of its cells' genotypes); empty otherwise.
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
    scans: np.ndarray
    lineage_patient: np.ndarray
    lineage_moment: np.ndarray
    lineage_barcode: np.ndarray
    lineage_cells: np.ndarray
    lineage_resistant: np.ndarray
    lineage_mechanisms: np.ndarray


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
        scans=np.full((count, rows + n_lines, S_COLUMNS), np.nan),
        **{name: np.empty(0, np.int64) for name in LINEAGE_FIELDS},
    )


#: The RawChunk fields of the lineage rows (agent engine).
LINEAGE_FIELDS = (
    "lineage_patient",
    "lineage_moment",
    "lineage_barcode",
    "lineage_cells",
    "lineage_resistant",
    "lineage_mechanisms",
)


def _lineage_arrays(count: int, moments: int, barcodes: int) -> tuple[np.ndarray, ...]:
    """Zeroed per-barcode outputs (count, moments, barcodes): cells, resistant, mechanisms."""
    shape = (count, moments, barcodes)
    return np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int64)


#: Patients handed to a thread at a time: small, so threads that draw quick patients (cured
#: early) take more of them and the threads finish together.
PATIENTS_PER_HANDOUT = 4


def _simulate(model: PatientModel, seed: int, chunk: RawChunk, a: int, b: int, lineages):
    """Run patients a .. b - 1 of the chunk into its arrays (views, written in place)."""
    with numba.parallel_chunksize(PATIENTS_PER_HANDOUT):
        _simulate_batch(model, seed, chunk, a, b, lineages)


def _simulate_batch(model: PatientModel, seed: int, chunk: RawChunk, a: int, b: int, lineages):
    simulate_batch(
        patient_states(seed, chunk.first + a, b - a),
        model,
        chunk.patients[a:b],
        chunk.lines[a:b],
        chunk.snap_day[a:b],
        chunk.snap_cells[a:b],
        chunk.snap_first[a:b],
        chunk.genotypes[a:b],
        chunk.trace_day[a:b],
        chunk.trace_line[a:b],
        chunk.trace_cells[a:b],
        *lineages,
        chunk.scans[a:b],
    )


def run_compartment(
    model: PatientModel, seed: int, first: int, count: int, trace: int = 0
) -> RawChunk:
    """The compartment engine: clone counts, exact birth-death steps, all cores.

    Patients with an index below ``trace`` also record their clones at every scan.
    """
    chunk = allocate_chunk(model, first, count, trace)
    _simulate(model, seed, chunk, 0, count, _lineage_arrays(count, chunk.snap_day.shape[1], 0))
    return chunk


#: Bytes of per-barcode outputs held at once by the agent engine (patients run in groups).
AGENT_GROUP_BYTES = 128 * 2**20


def run_agent(model: PatientModel, seed: int, first: int, count: int, trace: int = 0) -> RawChunk:
    """The agent engine: every cell simulated (exact Gillespie), lineage barcodes recorded.

    Patients run in parallel in groups small enough that their per-barcode outputs fit in
    ``AGENT_GROUP_BYTES``. Lineage rows are kept for the barcodes of treated patients that
    still have cells after treatment start (at a progression or at the end): the lineages
    that could relapse. (At the start every barcode is one cell; keeping them all would
    make a row per cell.)
    """
    chunk = allocate_chunk(model, first, count, trace)
    moments = chunk.snap_day.shape[1]
    per_patient = 16 * moments * max(model.barcodes, 1)
    group = max(1, math.floor(AGENT_GROUP_BYTES / per_patient))
    parts = []
    for a in range(0, count, group):
        b = min(a + group, count)
        cells, resistant, mechanisms = _lineage_arrays(b - a, moments, model.barcodes)
        _simulate(model, seed, chunk, a, b, (cells, resistant, mechanisms))
        treated = chunk.patients[a:b, P_LINES_RECEIVED] > 0
        survives = (cells[:, 1:, :] > 0).any(axis=1) & treated[:, None]
        keep = (cells > 0) & survives[:, None, :]
        p, m, barcode = np.unravel_index(np.flatnonzero(keep), keep.shape)  # fast when sparse
        parts.append(
            (
                p + a,
                m,
                barcode,
                cells[p, m, barcode],
                resistant[p, m, barcode],
                mechanisms[p, m, barcode],
            )
        )
    columns = zip(*parts, strict=True) if parts else [np.empty(0, np.int64)] * 6
    lineages = {
        name: np.concatenate(column).astype(np.int64)
        for name, column in zip(LINEAGE_FIELDS, columns, strict=True)
    }
    return replace(chunk, **lineages)


def run_compartment_gpu(
    model: PatientModel, seed: int, first: int, count: int, trace: int = 0
) -> RawChunk:
    """The compartment engine on a CUDA GPU (kernels.gpu), one patient per thread: the CPU
    engine's patient loop on the same streams (its results up to last-bit differences of the
    GPU's log and exp, see kernels.gpu). Launches as many patients at once as half the GPU's
    free memory holds."""
    from refractory.kernels.gpu import patients_per_launch, simulate_batch_gpu

    chunk = allocate_chunk(model, first, count, trace)
    per_patient = sum(getattr(chunk, name)[:1].nbytes for name in PATIENT_OUTPUTS)
    step = patients_per_launch(model, per_patient, count)
    for a in range(0, count, step):
        b = min(a + step, count)
        simulate_batch_gpu(
            patient_states(seed, first + a, b - a),
            model,
            *(getattr(chunk, name)[a:b] for name in PATIENT_OUTPUTS),
        )
    return chunk


#: RawChunk arrays with a row per patient that the GPU kernel fills, in its argument order.
PATIENT_OUTPUTS = (
    "patients",
    "lines",
    "snap_day",
    "snap_cells",
    "snap_first",
    "genotypes",
    "trace_day",
    "trace_line",
    "trace_cells",
    "scans",
)


def engine_runner(
    engine: str, device: str
) -> Callable[[PatientModel, int, int, int, int], RawChunk]:
    """The function that runs ``engine`` on ``device`` ("cpu" or "gpu"; the GPU runs the
    compartment engine only). Raises ValueError with the reason when it cannot."""
    if device == "cpu":
        return ENGINES[engine]
    if engine != "compartment":
        raise ValueError(
            f"the GPU runs the compartment engine only, and this scenario asks for the "
            f"{engine} engine"
        )
    from refractory.kernels.gpu import gpu_problem

    problem = gpu_problem()
    if problem:
        raise ValueError(problem)
    return run_compartment_gpu


#: Engines by the name used in scenario files and on the command line.
ENGINES: dict[str, Callable[[PatientModel, int, int, int, int], RawChunk]] = {
    "compartment": run_compartment,
    "agent": run_agent,
}
