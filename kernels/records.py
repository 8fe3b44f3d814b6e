"""The named records the patient loop reads and writes, besides the model (kernels.model).

``Outputs`` is what one patient writes, ``Workspace`` its scratch arrays, and the policy
slots (``Q_*``) name the treatment policy's state inside ``Workspace.policy``. A batch holds
the same records with a leading patient axis on every array; ``patient_outputs`` and
``patient_workspace`` give patient p its rows, on the CPU and on the GPU alike.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from refractory.kernels.clones import new_table
from refractory.kernels.compartment import new_stack


class Outputs(NamedTuple):
    """What the patient loop writes for one patient; ``moments`` = lines + 2 (treatment start,
    progression on each line, end), ``slots`` = model.max_clones, ``rows`` = trace rows.

    In a batch every array has a leading patient axis, except that the trace arrays cover
    only the first patients (those traced) plus one spare row that gives every other patient
    an empty view (``patient_outputs``).
    """

    patient: np.ndarray  # (P_COLUMNS,) float64
    lines: np.ndarray  # (lines, L_COLUMNS) float64, one row per line received
    snap_day: np.ndarray  # (moments,) float64: day of each clone snapshot
    snap_cells: np.ndarray  # (moments, slots) int64: cells of each clone slot then
    snap_first: np.ndarray  # (moments, slots) float64: its first-seen day
    genotypes: np.ndarray  # (slots, 2) int64: genotype and parent genotype of each slot
    trace_day: np.ndarray  # (rows,) float64: day of each trace row (empty: not traced)
    trace_line: np.ndarray  # (rows,) int64: 1-based line followed then (0: none)
    trace_cells: np.ndarray  # (rows, slots) int64: every slot's cells then
    lineage_cells: np.ndarray  # (moments, barcodes) int32: each barcode's cells (agent engine)
    lineage_resistant: np.ndarray  # (moments, barcodes) int32: those carrying a mechanism
    lineage_mechanisms: np.ndarray  # (moments, barcodes) int64: union of their genotypes
    scans: np.ndarray  # (rows + lines, S_COLUMNS) float64: every measurement of the burden


class Workspace(NamedTuple):
    """One patient's scratch arrays: cleared for each patient (``reset_workspace``) and never
    allocated inside the loop, so that compiled GPU code can reuse preallocated rows."""

    ints: np.ndarray  # (slots, 3) int64: the clone table (kernels.clones)
    reals: np.ndarray  # (slots, REAL_COLUMNS) float64
    meta: np.ndarray  # (META_SIZE,) int64: its counters
    stack_ints: np.ndarray  # (pending, 4) int64: groups of new cells inside a step
    stack_start: np.ndarray  # (pending,) float64: their offsets inside the step
    barcodes: np.ndarray  # (agent_cells,) int32: every cell's barcode (agent engine)
    starts: np.ndarray  # (slots + 1,) int64: where each slot's block of cells starts
    lineages: np.ndarray  # (slots, columns) int64: or each slot's cells per barcode (a tree)
    exposure: np.ndarray  # (nd + 2,) float64: what the engines read (kernels.model)
    level: np.ndarray  # (nd,) float64: each dosed drug's concentration after its last dose
    dosed_at: np.ndarray  # (nd,) float64: day of that dose
    next_dose: np.ndarray  # (nd,) float64: day of its next dose (inf: none scheduled)
    policy: np.ndarray  # (Q_SLOTS,) float64: the treatment policy's state (Q_* slots)


# Slots of the treatment policy's state (Workspace.policy). Days count from the first cell;
# flags are 0.0 or 1.0, line indices are 0-based (-1: none).
Q_NOW = 0  # the patient's clock
Q_ORIGIN = 1  # treatment start (day 0 of the outputs)
Q_HORIZON = 2  # when the simulation stops
Q_LINE = 3  # the line followed (-1: none yet)
Q_PENDING = 4  # the line to open next (-1: none)
Q_PENDING_START = 5  # when it opens (inf: not yet due)
Q_LINE_START = 6
Q_LINE_END = 7  # when the last line given stopped being given
Q_COURSE_END = 8  # end of the line's fixed course (inf: none)
Q_PHASE_END = 9  # end of the intermittent schedule's on or off phase (inf: none)
Q_NEXT_SCAN = 10
Q_BASELINE = 11  # measured burden at the line's start
Q_NADIR = 12  # smallest measured burden on the line
Q_BEST = 13  # best response on the line so far (RESPONSE_* code)
Q_LAST_MEASURED = 14  # the latest measurement
Q_LAST_SCAN_DAY = 15
Q_EVALUATING = 16  # scans are read against the line
Q_GIVING = 17  # the line's treatment is being given
Q_DRUG_ON = 18  # its drugs are administered now (schedules pause them)
Q_COMPLETED = 19  # the line's fixed course is over: follow-up
Q_STALE = 20  # the exposure must be refilled before the next advance
Q_REFRACTORY = 21
Q_END_REASON = 22  # END_* code of the simulation's end
Q_TRACE_ROW = 23  # next free row of the trace arrays
Q_SCAN_ROW = 24  # next free row of the scans array
Q_SLOTS = 25


@njit(cache=True)
def new_workspace(model):
    """One patient's scratch arrays (their shapes, listed only here, size batch workspaces
    too: kernels.gpu)."""
    ints, reals, meta = new_table(model.max_clones)
    stack_ints, stack_start = new_stack(model.pending_groups)
    nd = model.drug_max_effect.shape[0]
    return Workspace(
        ints,
        reals,
        meta,
        stack_ints,
        stack_start,
        np.empty(0 if model.lineage_columns else model.agent_cells, np.int32),
        np.empty(model.max_clones + 1, np.int64),
        np.empty(
            (model.max_clones, model.lineage_columns) if model.lineage_columns else (0, 0), np.int64
        ),
        np.empty(nd + 2),
        np.empty(nd),
        np.empty(nd),
        np.empty(nd),
        np.empty(Q_SLOTS),
    )


@njit(cache=True, _nrt=False)
def reset_workspace(model, work):
    """Clear a workspace for a new patient (it may hold the last one's state) in place."""
    for c in range(work.ints.shape[0]):
        for j in range(work.ints.shape[1]):
            work.ints[c, j] = 0
        for j in range(work.reals.shape[1]):
            work.reals[c, j] = 0.0
    for j in range(work.meta.shape[0]):
        work.meta[j] = 0
    for c in range(work.starts.shape[0]):
        work.starts[c] = 0
    untreated = model.line_exposure[-1]
    for j in range(work.exposure.shape[0]):
        work.exposure[j] = untreated[j]
    for j in range(work.level.shape[0]):
        work.level[j] = 0.0
        work.dosed_at[j] = 0.0
        work.next_dose[j] = np.inf
    for j in range(work.policy.shape[0]):
        work.policy[j] = 0.0


@njit(cache=True)
def patient_outputs(outputs, p):
    """Patient ``p``'s rows of a batch's outputs (an empty trace past the traced patients)."""
    traced = outputs.trace_day.shape[0] - 1
    row = min(np.int64(p), traced)  # a prange index is unsigned: one integer type
    rows = outputs.trace_day.shape[1] if row < traced else 0
    return Outputs(
        outputs.patient[p],
        outputs.lines[p],
        outputs.snap_day[p],
        outputs.snap_cells[p],
        outputs.snap_first[p],
        outputs.genotypes[p],
        outputs.trace_day[row, :rows],
        outputs.trace_line[row, :rows],
        outputs.trace_cells[row, :rows],
        outputs.lineage_cells[p],
        outputs.lineage_resistant[p],
        outputs.lineage_mechanisms[p],
        outputs.scans[p],
    )


@njit(cache=True)
def patient_workspace(work, p):
    """Patient (or thread) ``p``'s rows of a batch workspace."""
    return Workspace(
        work.ints[p],
        work.reals[p],
        work.meta[p],
        work.stack_ints[p],
        work.stack_start[p],
        work.barcodes[p],
        work.starts[p],
        work.lineages[p],
        work.exposure[p],
        work.level[p],
        work.dosed_at[p],
        work.next_dose[p],
        work.policy[p],
    )
