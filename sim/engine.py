"""Engines: run a chunk of patients of a compiled model, returning the kernels' raw outputs.

An engine is a function (model, seed, first, count, trace, settings, rows) -> RawChunk
registered by name in ``ENGINES``; the batch runner and the tests go through the registry, so
an engine added here is exercised by every engine-parametrised test.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from refractory.kernels.model import (
    L_COLUMNS,
    P_COLUMNS,
    P_LINES_RECEIVED,
    S_COLUMNS,
    PatientModel,
    shared_rows,
)
from refractory.kernels.patient import simulate_batch
from refractory.kernels.records import Outputs
from refractory.kernels.streams import patient_states
from refractory.settings import DEFAULT_SETTINGS, EngineSettings


class LineageRows(NamedTuple):
    """The agent engine's lineage rows: one per patient, snapshot moment and barcode with
    cells then (empty for the compartment engine)."""

    patient: np.ndarray  # index within the chunk
    moment: np.ndarray
    barcode: np.ndarray
    cells: np.ndarray
    resistant: np.ndarray  # cells carrying any mechanism
    mechanisms: np.ndarray  # union of its cells' genotypes


NO_LINEAGES = LineageRows(*(np.empty(0, np.int64) for _ in LineageRows._fields))


@dataclass(frozen=True)
class RawChunk:
    """Kernel outputs for patients ``first`` .. ``first + count - 1``: ``outputs`` with a
    leading patient axis (kernels.records.Outputs; the first ``traced`` patients have trace
    rows), and the agent engine's lineage rows."""

    first: int
    traced: int
    outputs: Outputs
    lineages: LineageRows = NO_LINEAGES

    @property
    def count(self) -> int:
        return self.outputs.patient.shape[0]


def trace_rows(model: PatientModel) -> int:
    """Rows a traced patient needs: treatment start, every scan before the horizon, the end."""
    return int(model.horizon_days // model.scan_every_days) + 2


def allocate_outputs(model: PatientModel, count: int, traced: int, barcodes: int = 0) -> Outputs:
    """Output arrays for ``count`` patients, NaN / -1 where nothing gets written (or zero for
    the per-barcode counts), with trace rows for the first ``traced`` and ``barcodes``
    barcodes per snapshot moment."""
    n_lines = model.line_drugs.shape[0]
    moments = n_lines + 2
    slots = model.max_clones
    rows = trace_rows(model)
    per_barcode = (count, moments, barcodes)
    return Outputs(
        patient=np.full((count, P_COLUMNS), np.nan),
        lines=np.full((count, n_lines, L_COLUMNS), np.nan),
        snap_day=np.full((count, moments), np.nan),
        snap_cells=np.full((count, moments, slots), -1, np.int64),
        snap_first=np.full((count, moments, slots), np.nan),
        genotypes=np.full((count, slots, 2), -1, np.int64),
        trace_day=np.full((traced + 1, rows), np.nan),
        trace_line=np.full((traced + 1, rows), -1, np.int64),
        trace_cells=np.full((traced + 1, rows, slots), -1, np.int64),
        lineage_cells=np.zeros(per_barcode, np.int32),
        lineage_resistant=np.zeros(per_barcode, np.int32),
        lineage_mechanisms=np.zeros(per_barcode, np.int64),
        scans=np.full((count, rows + n_lines, S_COLUMNS), np.nan),
    )


def outputs_rows(outputs: Outputs, a: int, b: int) -> Outputs:
    """Views of patients a .. b - 1 of a batch's outputs. The trace rows taken end one past
    the group's traced patients: the spare row, or the next patient's, which the group never
    writes (kernels.records.patient_outputs gives it no rows)."""
    traced = outputs.trace_day.shape[0] - 1
    t0, t1 = min(a, traced), min(b, traced) + 1
    trace = {"trace_day", "trace_line", "trace_cells"}
    return Outputs(
        *(
            array[t0:t1] if name in trace else array[a:b]
            for name, array in zip(Outputs._fields, outputs, strict=True)
        )
    )


def _traced(first: int, count: int, trace: int) -> int:
    """Patients of the chunk with an index below ``trace``."""
    return min(max(trace - first, 0), count)


def rows_of(rows: PatientModel, a: int, b: int) -> PatientModel:
    """Patients a .. b - 1 of per-patient model rows (a shared row stays shared)."""
    return PatientModel(*(field if field.shape[0] == 1 else field[a:b] for field in rows))


def _simulate(
    rows: PatientModel, seed: int, first: int, outputs: Outputs, settings: EngineSettings
) -> None:
    """Run patients first .. first + len(outputs) - 1 into ``outputs`` (written in place)."""
    with numba.parallel_chunksize(settings.patients_per_handout):
        simulate_batch(patient_states(seed, first, outputs.patient.shape[0]), rows, outputs)


def run_compartment(
    model: PatientModel,
    seed: int,
    first: int,
    count: int,
    trace: int = 0,
    settings: EngineSettings = DEFAULT_SETTINGS,
    rows: PatientModel | None = None,
) -> RawChunk:
    """The compartment engine: clone counts, exact birth-death steps, all cores.

    Patients with an index below ``trace`` also record their clones at every scan. ``rows``
    gives each patient its own model values (a virtual cohort, refractory.cohort; the
    shapes are ``model``'s); without it every patient runs ``model``.
    """
    traced = _traced(first, count, trace)
    outputs = allocate_outputs(model, count, traced)
    _simulate(shared_rows(model) if rows is None else rows, seed, first, outputs, settings)
    return RawChunk(first, traced, outputs)


def run_agent(
    model: PatientModel,
    seed: int,
    first: int,
    count: int,
    trace: int = 0,
    settings: EngineSettings = DEFAULT_SETTINGS,
    rows: PatientModel | None = None,
) -> RawChunk:
    """The agent engine: every cell simulated (exact Gillespie), lineage barcodes recorded.

    Patients run in parallel in groups small enough that their per-barcode outputs fit in
    ``settings.agent_group_bytes``. Lineage rows are kept for the barcodes of treated patients
    that still have cells after treatment start (at a progression or at the end): the
    lineages that could relapse. (At the start every barcode is one cell; keeping them all
    would make a row per cell.) ``rows`` as for ``run_compartment``.
    """
    rows = shared_rows(model) if rows is None else rows
    traced = _traced(first, count, trace)
    outputs = allocate_outputs(model, count, traced)
    moments = outputs.snap_day.shape[1]
    per_patient = 16 * moments * max(model.barcodes, 1)
    group = max(1, math.floor(settings.agent_group_bytes / per_patient))
    parts = []
    for a in range(0, count, group):
        b = min(a + group, count)
        barcoded = allocate_outputs(model, b - a, 0, model.barcodes)
        part = outputs_rows(outputs, a, b)._replace(
            lineage_cells=barcoded.lineage_cells,
            lineage_resistant=barcoded.lineage_resistant,
            lineage_mechanisms=barcoded.lineage_mechanisms,
        )
        _simulate(rows_of(rows, a, b), seed, first + a, part, settings)
        cells = part.lineage_cells
        treated = part.patient[:, P_LINES_RECEIVED] > 0
        survives = (cells[:, 1:, :] > 0).any(axis=1) & treated[:, None]
        keep = (cells > 0) & survives[:, None, :]
        p, m, barcode = np.unravel_index(np.flatnonzero(keep), keep.shape)  # fast when sparse
        parts.append(
            (
                p + a,
                m,
                barcode,
                cells[p, m, barcode],
                part.lineage_resistant[p, m, barcode],
                part.lineage_mechanisms[p, m, barcode],
            )
        )
    columns = zip(*parts, strict=True) if parts else [[np.empty(0, np.int64)]] * 6
    lineages = LineageRows(*(np.concatenate(column).astype(np.int64) for column in columns))
    return RawChunk(first, traced, outputs, lineages)


def run_compartment_gpu(
    model: PatientModel,
    seed: int,
    first: int,
    count: int,
    trace: int = 0,
    settings: EngineSettings = DEFAULT_SETTINGS,
    rows: PatientModel | None = None,
) -> RawChunk:
    """The compartment engine on a CUDA GPU (kernels.gpu), one patient per thread: the CPU
    engine's patient loop on the same streams (its results up to last-bit differences of the
    GPU's log and exp, see kernels.gpu). Launches as many patients at once as half the GPU's
    free memory holds. ``rows`` as for ``run_compartment``."""
    from refractory.kernels.gpu import patients_per_launch, simulate_batch_gpu

    rows = shared_rows(model) if rows is None else rows
    traced = _traced(first, count, trace)
    outputs = allocate_outputs(model, count, traced)
    per_patient = sum(array[:1].nbytes for array in outputs)
    step = patients_per_launch(model, per_patient, count)
    for a in range(0, count, step):
        b = min(a + step, count)
        simulate_batch_gpu(
            patient_states(seed, first + a, b - a), rows_of(rows, a, b), outputs_rows(outputs, a, b)
        )
    return RawChunk(first, traced, outputs)


#: The signature of an engine: (model, seed, first, count, trace, settings, rows) -> RawChunk.
Engine = Callable[[PatientModel, int, int, int, int, EngineSettings, PatientModel | None], RawChunk]


def engine_runner(engine: str, device: str) -> Engine:
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
ENGINES: dict[str, Engine] = {
    "compartment": run_compartment,
    "agent": run_agent,
}
