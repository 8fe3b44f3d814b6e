"""One virtual patient from the first cell to cure, death or the horizon, and batches of them.

The treatment policy runs here, inside compiled code, so a whole patient costs no Python
calls. The loop is a decision loop: the decisions due now are applied (a fixed course ends,
an intermittent phase turns, a line opens, doses are taken), the next decision point is
chosen in one place (a scan, a dose, a phase or course end, a line's start, the horizon, a
short step while a dosed drug acts), the tumour advances to it, and what it reached is
handled (extinction, lethal burden, horizon, a scan read against the line). Each decision is
a small function of the model and the patient's records (kernels.records); the policy's
state lives in named slots of ``Workspace.policy``.
"""

import numpy as np
from numba import njit, prange
from numba.extending import overload

from refractory.kernels.agent import advance as agent_advance
from refractory.kernels.agent import label_cells, place_cells, snapshot_lineages
from refractory.kernels.clones import (
    CELLS,
    CLONE_STEPS,
    EVENTS,
    FIRST_SEEN,
    GENOTYPE,
    OVERFLOW,
    PARENT,
    USED,
    clone_slot,
    set_rates,
    total_cells,
)
from refractory.kernels.compartment import advance
from refractory.kernels.model import (
    END_COMPLETED,
    END_CURED,
    END_HORIZON,
    END_LETHAL,
    END_PROGRESSION,
    ENGINE_AGENT,
    EXTINCT,
    L_BEST_RESPONSE,
    L_DAYS_ON_DRUG,
    L_DAYS_TO_PROGRESSION,
    L_DOSES_SCHEDULED,
    L_DOSES_TAKEN,
    L_END_DAY,
    L_END_REASON,
    L_ON_TREATMENT,
    L_PROGRESSED,
    L_RELAPSE,
    L_START_DAY,
    MECHANISMS,
    P_CELLS_AT_END,
    P_CELLS_AT_START,
    P_CLONE_STEPS,
    P_CURED,
    P_DAYS_TO_DETECTION,
    P_DAYS_TO_LETHAL,
    P_DAYS_TO_REFRACTORY,
    P_END_DAY,
    P_EVENTS,
    P_LETHAL,
    P_LINES_RECEIVED,
    P_OVERFLOW,
    P_REFRACTORY,
    P_RESISTANT_AT_START,
    REACHED_THRESHOLD,
    RESPONSE_CR,
    RESPONSE_NONE,
    RESPONSE_PD,
    RESPONSE_PR,
    RESPONSE_SD,
    S_DAY,
    S_LINE,
    S_MEASURED,
    S_ON_DRUG,
    S_TRUE,
    SANCTUARY,
    SCHEDULE_ADAPTIVE,
    SCHEDULE_INTERMITTENT,
    patient_model,
)
from refractory.kernels.random import binomial
from refractory.kernels.records import (
    Q_BASELINE,
    Q_BEST,
    Q_COMPLETED,
    Q_COURSE_END,
    Q_DRUG_ON,
    Q_END_REASON,
    Q_EVALUATING,
    Q_GIVING,
    Q_HORIZON,
    Q_LAST_MEASURED,
    Q_LAST_SCAN_DAY,
    Q_LINE,
    Q_LINE_END,
    Q_LINE_START,
    Q_NADIR,
    Q_NEXT_SCAN,
    Q_NOW,
    Q_ORIGIN,
    Q_PENDING,
    Q_PENDING_START,
    Q_PHASE_END,
    Q_REFRACTORY,
    Q_SCAN_ROW,
    Q_STALE,
    Q_TRACE_ROW,
    new_workspace,
    patient_outputs,
    reset_workspace,
)
from refractory.kernels.treatment import (
    dosed_drug_acting,
    fill_exposure,
    measure,
    schedule_doses,
    take_doses,
)


@njit(cache=True, _nrt=False)
def advance_clones(state, model, work, t, t_stop, threshold):
    """Advance the tumour on the clone table: the compartment engine, and the agent engine
    without barcodes (whose ``exact_below`` is infinite: event by event at every size)."""
    return advance(
        state,
        model,
        work.ints,
        work.reals,
        work.meta,
        work.stack_ints,
        work.stack_start,
        work.exposure,
        t,
        t_stop,
        threshold,
    )


def advance_tumour(state, model, work, t, t_stop, threshold):
    """Advance the tumour with the model's engine to ``t_stop``, extinction or ``threshold``;
    returns (time, reason). Compiled code only: numba takes the implementation registered for
    its target, the CPU's below, the GPU's in kernels.gpu (the compartment engine alone, so
    the GPU kernel compiles without the agent engine's code)."""
    raise TypeError("advance_tumour is called from compiled code only")


@overload(advance_tumour, target="cpu", jit_options={"_nrt": False})
def _advance_on_cpu(state, model, work, t, t_stop, threshold):
    """On the CPU: cell by cell for the agent engine with barcodes, else on the clone table."""

    def advance_either(state, model, work, t, t_stop, threshold):
        if model.engine == ENGINE_AGENT and model.agent_cells > 0:
            return agent_advance(
                state,
                model,
                work.ints,
                work.reals,
                work.meta,
                work.barcodes,
                work.starts,
                work.lineages,
                work.exposure,
                t,
                t_stop,
                threshold,
            )
        return advance_clones(state, model, work, t, t_stop, threshold)

    return advance_either


# Outputs written at the moments a decision records something.


@njit(cache=True, _nrt=False)
def _snapshot(work, out, moment, day, origin):
    """Record clone sizes, first-seen days (relative to ``origin``) and, for the agent
    engine, each barcode's cells at an output moment."""
    out.snap_day[moment] = day
    for c in range(work.meta[USED]):
        out.snap_cells[moment, c] = work.ints[c, CELLS]
        out.snap_first[moment, c] = work.reals[c, FIRST_SEEN] - origin
    snapshot_lineages(
        work.ints,
        work.meta,
        work.barcodes,
        work.starts,
        work.lineages,
        moment,
        out.lineage_cells,
        out.lineage_resistant,
        out.lineage_mechanisms,
    )


@njit(cache=True, _nrt=False)
def _trace(work, out, day, line):
    """Record every slot's cells at ``day`` in the next row of a traced patient."""
    q = work.policy
    row = int(q[Q_TRACE_ROW])
    if row >= out.trace_day.shape[0] or (row > 0 and out.trace_day[row - 1] == day):
        return
    out.trace_day[row] = day
    out.trace_line[row] = line
    for c in range(work.meta[USED]):
        out.trace_cells[row, c] = work.ints[c, CELLS]
    q[Q_TRACE_ROW] = row + 1


@njit(cache=True, _nrt=False)
def _record_scan(work, out, day, line, measured, cells, drug_on):
    """Write one scan (day, 1-based line or 0, measured and true burden, on drug)."""
    q = work.policy
    row = int(q[Q_SCAN_ROW])
    if row >= out.scans.shape[0]:
        return
    out.scans[row, S_DAY] = day
    out.scans[row, S_LINE] = line
    out.scans[row, S_MEASURED] = measured
    out.scans[row, S_TRUE] = cells
    out.scans[row, S_ON_DRUG] = 1.0 if drug_on else 0.0
    q[Q_SCAN_ROW] = row + 1


@njit(cache=True, _nrt=False)
def _seen_cells(model, work):
    """Cells a scan sees: all of them, or those outside the sanctuary when scans miss it."""
    seen = 0
    for c in range(work.meta[USED]):
        if model.sanctuary_visible == 1 or (work.ints[c, GENOTYPE] & SANCTUARY) == 0:
            seen += work.ints[c, CELLS]
    return seen


@njit(cache=True, _nrt=False)
def _visible(model, measured):
    """A measurement as reported: 0 below the visible size."""
    return measured if measured >= model.visible_cells else 0.0


@njit(cache=True, _nrt=False)
def _earliest(days):
    """Smallest entry (inf for none)."""
    first = np.inf
    for day in days:
        first = min(first, day)
    return first


@njit(cache=True, _nrt=False)
def _category(measured, baseline, partial_response_decrease):
    if measured == 0.0:
        return RESPONSE_CR
    if measured <= (1.0 - partial_response_decrease) * baseline:
        return RESPONSE_PR
    return RESPONSE_SD


# Before treatment: the tumour grows to detection, or starts from the given clones.


@njit(cache=True, _nrt=False)
def _place_clone(state, model, work, genotype, cells):
    """Add an initial clone, its cells split between the sites by the sanctuary's share."""
    sheltered = binomial(state, cells, model.sanctuary_share) if model.sanctuary_share > 0 else 0
    for site, count in ((np.int64(0), cells - sheltered), (SANCTUARY, sheltered)):
        if count > 0:
            c = clone_slot(
                model,
                work.ints,
                work.reals,
                work.meta,
                genotype | site,
                np.int64(-1),
                work.exposure,
                0.0,
            )
            work.ints[c, CELLS] += count


@njit(cache=True, _nrt=False)
def _plant_founder(model, work):
    """One cell of the founder genotype, alone (again, after the last one's line died out)."""
    work.meta[USED] = 0
    founder = clone_slot(
        model, work.ints, work.reals, work.meta, np.int64(0), np.int64(-1), work.exposure, 0.0
    )
    work.ints[founder, CELLS] = 1
    place_cells(work.ints, work.meta, work.barcodes, work.starts)


@njit(cache=True, _nrt=False)
def _place_start_clones(state, model, work):
    """The scenario's initial clones, in place of growth from one cell."""
    for i in range(model.start_cells.shape[0]):
        _place_clone(state, model, work, model.start_genotypes[i], model.start_cells[i])
    place_cells(work.ints, work.meta, work.barcodes, work.starts)


@njit(cache=True, _nrt=False)
def _start_treatment(state, model, work, out, t):
    """Record the tumour at treatment start (clones, lineages, trace, the first measurement)
    and set the policy's state: no line yet, the first one due after its free interval."""
    q = work.policy
    n_lines = model.line_drugs.shape[0]
    total = total_cells(work.ints, work.meta)
    out.patient[P_CELLS_AT_START] = total
    resistant = 0
    for c in range(work.meta[USED]):
        if (work.ints[c, GENOTYPE] & MECHANISMS) != 0:
            resistant += work.ints[c, CELLS]
    out.patient[P_RESISTANT_AT_START] = resistant
    label_cells(work.ints, work.meta, work.barcodes, work.starts, work.lineages)
    _snapshot(work, out, 0, 0.0, t)
    _trace(work, out, 0.0, 1 if n_lines > 0 else 0)
    measured = measure(state, float(_seen_cells(model, work)), model.measurement_cv)
    _record_scan(work, out, 0.0, 0, _visible(model, measured), total, False)
    q[Q_NOW] = t
    q[Q_ORIGIN] = t
    q[Q_HORIZON] = t + model.horizon_days
    q[Q_LINE] = -1
    q[Q_PENDING] = 0 if n_lines > 0 else -1
    q[Q_PENDING_START] = t + model.line_free_days[0] if n_lines > 0 else np.inf
    q[Q_LINE_START] = t
    q[Q_LINE_END] = t
    q[Q_COURSE_END] = np.inf
    q[Q_PHASE_END] = np.inf
    q[Q_NEXT_SCAN] = t + model.scan_every_days
    q[Q_BASELINE] = measured
    q[Q_NADIR] = measured
    q[Q_BEST] = RESPONSE_NONE
    q[Q_LAST_MEASURED] = measured
    q[Q_LAST_SCAN_DAY] = t
    q[Q_END_REASON] = END_HORIZON


# The decisions due at a moment, in the order they apply.


@njit(cache=True, _nrt=False)
def _end_course(model, work, out):
    """The line's fixed course is over: its drugs stop, follow-up goes on."""
    q = work.policy
    t, line = q[Q_NOW], int(q[Q_LINE])
    q[Q_GIVING] = q[Q_DRUG_ON] = 0.0
    q[Q_COMPLETED] = q[Q_STALE] = 1.0
    q[Q_COURSE_END] = q[Q_PHASE_END] = np.inf
    schedule_doses(model, -1, t, work.next_dose)
    q[Q_LINE_END] = t
    out.lines[line, L_END_DAY] = t - q[Q_ORIGIN]
    out.lines[line, L_END_REASON] = END_COMPLETED


@njit(cache=True, _nrt=False)
def _turn_phase(model, work):
    """An intermittent schedule turns from on to off or back."""
    q = work.policy
    line = int(q[Q_LINE])
    on = q[Q_DRUG_ON] == 0.0
    q[Q_DRUG_ON] = 1.0 if on else 0.0
    q[Q_PHASE_END] += model.line_days_on[line] if on else model.line_days_off[line]
    schedule_doses(model, line if on else -1, q[Q_NOW], work.next_dose)
    q[Q_STALE] = 1.0


@njit(cache=True, _nrt=False)
def _open_line(state, model, work, out):
    """The pending line starts: measured at its start (its baseline) unless a scan just was,
    its course and schedule begin, its first doses are due."""
    q = work.policy
    t = q[Q_NOW]
    line = int(q[Q_PENDING])
    q[Q_LINE] = line
    q[Q_PENDING] = -1
    q[Q_PENDING_START] = np.inf
    q[Q_EVALUATING] = q[Q_GIVING] = q[Q_DRUG_ON] = q[Q_STALE] = 1.0
    q[Q_COMPLETED] = 0.0
    q[Q_LINE_START] = t
    q[Q_BEST] = RESPONSE_NONE
    if q[Q_LAST_SCAN_DAY] != t:
        total = total_cells(work.ints, work.meta)
        measured = measure(state, float(_seen_cells(model, work)), model.measurement_cv)
        q[Q_LAST_MEASURED] = measured
        _record_scan(work, out, t - q[Q_ORIGIN], line + 1, _visible(model, measured), total, True)
    q[Q_BASELINE] = q[Q_NADIR] = q[Q_LAST_MEASURED]
    q[Q_COURSE_END] = t + model.line_max_days[line]
    if model.line_schedule[line] == SCHEDULE_INTERMITTENT:
        q[Q_PHASE_END] = t + model.line_days_on[line]
    row = out.lines[line]
    row[L_START_DAY] = t - q[Q_ORIGIN]
    for column in (L_PROGRESSED, L_RELAPSE, L_ON_TREATMENT, L_DOSES_SCHEDULED, L_DOSES_TAKEN):
        row[column] = 0.0
    row[L_DAYS_ON_DRUG] = 0.0
    schedule_doses(model, line, t, work.next_dose)


@njit(cache=True, _nrt=False)
def _apply_due_decisions(state, model, work, out):
    """Every decision due at the patient's clock, in order: course end, phase turn, line
    start, doses."""
    q = work.policy
    t = q[Q_NOW]
    if t >= q[Q_COURSE_END]:
        _end_course(model, work, out)
    if t >= q[Q_PHASE_END]:
        _turn_phase(model, work)
    if t >= q[Q_PENDING_START]:
        _open_line(state, model, work, out)
    if _earliest(work.next_dose) <= t:
        line = int(q[Q_LINE])
        take_doses(
            state, model, line, t, work.next_dose, work.level, work.dosed_at, out.lines[line]
        )
        q[Q_STALE] = 1.0


@njit(cache=True, _nrt=False)
def _next_decision(model, work):
    """The next decision point: scan, horizon, course or phase end, line start, dose; and
    while a dosed drug acts, a short step (its exposure is held constant over a step).
    Returns (day, whether a dosed drug acts)."""
    q = work.policy
    stop = min(
        min(q[Q_NEXT_SCAN], q[Q_HORIZON]),
        min(min(q[Q_COURSE_END], q[Q_PHASE_END]), q[Q_PENDING_START]),
    )
    stop = min(stop, _earliest(work.next_dose))
    acting = dosed_drug_acting(model, work.level, work.dosed_at, q[Q_NOW])
    if acting:
        stop = min(stop, q[Q_NOW] + model.pk_step)
    return stop, acting


@njit(cache=True, _nrt=False)
def _refresh_rates(model, work, stop, acting):
    """Refill the exposure if it changed (at the middle of the step to ``stop`` while a dosed
    drug acts) and every clone's rates with it."""
    q = work.policy
    if q[Q_STALE] == 1.0 or acting:
        q[Q_STALE] = 0.0
        t, line = q[Q_NOW], int(q[Q_LINE])
        fill_exposure(
            model,
            line,
            q[Q_DRUG_ON] == 1.0,
            work.level,
            work.dosed_at,
            0.5 * (t + stop),
            work.exposure,
        )
        for c in range(work.meta[USED]):
            set_rates(model, work.ints, work.reals, c, work.exposure)


# What the tumour reached.


@njit(cache=True, _nrt=False)
def _record_progression(work, out):
    """Progression on the line followed: when, whether it relapsed (after a complete response
    or a completed course) and whether the line was being given."""
    q = work.policy
    row = out.lines[int(q[Q_LINE])]
    row[L_PROGRESSED] = 1.0
    row[L_DAYS_TO_PROGRESSION] = q[Q_NOW] - q[Q_LINE_START]
    row[L_RELAPSE] = 1.0 if q[Q_NADIR] == 0.0 or q[Q_COMPLETED] == 1.0 else 0.0
    row[L_ON_TREATMENT] = 1.0 if q[Q_GIVING] == 1.0 else 0.0


@njit(cache=True, _nrt=False)
def _become_refractory(work, out):
    q = work.policy
    q[Q_REFRACTORY] = 1.0
    out.patient[P_DAYS_TO_REFRACTORY] = q[Q_NOW] - q[Q_ORIGIN]


@njit(cache=True, _nrt=False)
def _reach_lethal(work, out):
    """Lethal burden: a progression of the line followed; refractory disease unless the
    patient was in follow-up after a completed course."""
    q = work.policy
    out.patient[P_LETHAL] = 1.0
    out.patient[P_DAYS_TO_LETHAL] = q[Q_NOW] - q[Q_ORIGIN]
    q[Q_END_REASON] = END_LETHAL
    evaluating = q[Q_EVALUATING] == 1.0
    if evaluating:
        _record_progression(work, out)
    if (evaluating or q[Q_PENDING] >= 0) and q[Q_COMPLETED] == 0.0:
        _become_refractory(work, out)


@njit(cache=True, _nrt=False)
def _progress(model, work, out, adaptive):
    """Progression at a scan: the line ends (the next one is due after its free interval),
    or on the last line the disease is refractory (an adaptive line then resumes)."""
    q = work.policy
    t, origin, line = q[Q_NOW], q[Q_ORIGIN], int(q[Q_LINE])
    giving = q[Q_GIVING] == 1.0
    if q[Q_BEST] == RESPONSE_NONE:
        q[Q_BEST] = RESPONSE_PD
    out.lines[line, L_BEST_RESPONSE] = q[Q_BEST]
    _record_progression(work, out)
    if giving:
        q[Q_LINE_END] = t
        out.lines[line, L_END_DAY] = t - origin
        out.lines[line, L_END_REASON] = END_PROGRESSION
    _snapshot(work, out, line + 1, t - origin, origin)
    q[Q_EVALUATING] = 0.0
    if line == model.line_drugs.shape[0] - 1:
        if giving:
            _become_refractory(work, out)
            if adaptive and q[Q_DRUG_ON] == 0.0:
                q[Q_DRUG_ON] = q[Q_STALE] = 1.0
                schedule_doses(model, line, t, work.next_dose)
        return
    pending = line + 1
    q[Q_PENDING] = pending
    q[Q_PENDING_START] = max(t, q[Q_LINE_END] + model.line_free_days[pending])
    q[Q_GIVING] = q[Q_DRUG_ON] = 0.0
    q[Q_STALE] = 1.0
    q[Q_COURSE_END] = q[Q_PHASE_END] = np.inf
    schedule_doses(model, -1, t, work.next_dose)


@njit(cache=True, _nrt=False)
def _respond(model, work, measured, adaptive):
    """No progression at a scan: the best response and the nadir so far; an adaptive line
    pauses below its fraction of the baseline and resumes at its other one."""
    q = work.policy
    category = _category(measured, q[Q_BASELINE], model.partial_response_decrease)
    if q[Q_BEST] == RESPONSE_NONE or category < q[Q_BEST]:
        q[Q_BEST] = category
    q[Q_NADIR] = min(q[Q_NADIR], measured)
    if q[Q_GIVING] == 0.0 or not adaptive:
        return
    line = int(q[Q_LINE])
    baseline = q[Q_BASELINE]
    if q[Q_DRUG_ON] == 1.0 and measured < model.line_pause_below[line] * baseline:
        q[Q_DRUG_ON] = 0.0
        schedule_doses(model, -1, q[Q_NOW], work.next_dose)
        q[Q_STALE] = 1.0
    elif q[Q_DRUG_ON] == 0.0 and measured >= model.line_resume_at[line] * baseline:
        q[Q_DRUG_ON] = 1.0
        schedule_doses(model, line, q[Q_NOW], work.next_dose)
        q[Q_STALE] = 1.0


@njit(cache=True, _nrt=False)
def _scan(state, model, work, out):
    """A scheduled scan: trace and measure the burden, then read it against the line:
    progression above (1 + increase) x the nadir (or the baseline, for adaptive lines and
    ``progression_from_baseline``), else a response."""
    q = work.policy
    t, origin, line = q[Q_NOW], q[Q_ORIGIN], int(q[Q_LINE])
    q[Q_NEXT_SCAN] += model.scan_every_days
    _trace(work, out, t - origin, line + 1)
    total = total_cells(work.ints, work.meta)
    measured = _visible(
        model, measure(state, float(_seen_cells(model, work)), model.measurement_cv)
    )
    q[Q_LAST_MEASURED] = measured
    q[Q_LAST_SCAN_DAY] = t
    evaluating = q[Q_EVALUATING] == 1.0
    followed = line + 1 if evaluating or q[Q_GIVING] == 1.0 else 0
    _record_scan(work, out, t - origin, followed, measured, total, q[Q_DRUG_ON] == 1.0)
    if not evaluating:
        return
    reference = q[Q_NADIR]
    adaptive = model.line_schedule[line] == SCHEDULE_ADAPTIVE
    if q[Q_NADIR] > 0.0 and (adaptive or model.progression_from_baseline == 1):
        reference = q[Q_BASELINE]
    if measured > 0.0 and measured > (1.0 + model.progression_increase) * reference:
        _progress(model, work, out, adaptive)
    else:
        _respond(model, work, measured, adaptive)


@njit(cache=True, _nrt=False)
def _next_stop(state, model, work, out):
    """Under treatment, before the tumour advances: apply the decisions due and refresh the
    rates; returns the next decision point (where the advance stops)."""
    _apply_due_decisions(state, model, work, out)
    stop, acting = _next_decision(model, work)
    _refresh_rates(model, work, stop, acting)
    return stop


@njit(cache=True, _nrt=False)
def _reached(state, model, work, out, now, reason):
    """Under treatment, after the tumour advanced to ``now``: count the days on drug, then
    end at cure, lethal burden or the horizon, or scan when one is due. Returns whether the
    patient goes on."""
    q = work.policy
    if q[Q_DRUG_ON] == 1.0:
        out.lines[int(q[Q_LINE]), L_DAYS_ON_DRUG] += now - q[Q_NOW]
    q[Q_NOW] = now
    if reason == EXTINCT:
        out.patient[P_CURED] = 1.0
        q[Q_END_REASON] = END_CURED
        return False
    if reason == REACHED_THRESHOLD:
        _reach_lethal(work, out)
        return False
    if q[Q_NOW] >= q[Q_HORIZON]:
        q[Q_END_REASON] = END_HORIZON
        return False
    if q[Q_NOW] >= q[Q_NEXT_SCAN]:
        _scan(state, model, work, out)
    return True


@njit(cache=True, _nrt=False)
def _close_line(work, out):
    """At the end, the line still followed gets its best response (CR if cured, PD if the
    burden became lethal before any response) and, if being given, its end."""
    q = work.policy
    if q[Q_EVALUATING] == 0.0:
        return
    line = int(q[Q_LINE])
    end_reason = q[Q_END_REASON]
    if end_reason == END_CURED:
        q[Q_BEST] = RESPONSE_CR
    elif end_reason == END_LETHAL and q[Q_BEST] == RESPONSE_NONE:
        q[Q_BEST] = RESPONSE_PD
    out.lines[line, L_BEST_RESPONSE] = q[Q_BEST]
    if q[Q_GIVING] == 1.0:
        out.lines[line, L_END_DAY] = q[Q_NOW] - q[Q_ORIGIN]
        out.lines[line, L_END_REASON] = end_reason


@njit(cache=True, _nrt=False)
def _finish(work, out):
    """The patient's row, the clones at the end and every slot's genotype."""
    q = work.policy
    t, origin = q[Q_NOW], q[Q_ORIGIN]
    out.patient[P_REFRACTORY] = q[Q_REFRACTORY]
    out.patient[P_CELLS_AT_END] = total_cells(work.ints, work.meta)
    out.patient[P_LINES_RECEIVED] = q[Q_LINE] + 1
    out.patient[P_END_DAY] = t - origin
    out.patient[P_OVERFLOW] = work.meta[OVERFLOW]
    out.patient[P_CLONE_STEPS] = work.meta[CLONE_STEPS]
    out.patient[P_EVENTS] = work.meta[EVENTS]
    _snapshot(work, out, out.snap_day.shape[0] - 1, t - origin, origin)
    _trace(work, out, t - origin, q[Q_LINE] + 1)
    for c in range(work.meta[USED]):
        out.genotypes[c, 0] = work.ints[c, GENOTYPE]
        out.genotypes[c, 1] = work.ints[c, PARENT]


@njit(cache=True, _nrt=False)
def simulate_patient(state, model, work, out):
    """Simulate one patient from the first cell (or the given clones) to cure, death or horizon.

    ``work`` is a Workspace (kernels.records), cleared here: nothing is allocated, so the
    same code compiles for the GPU (kernels.gpu). ``out`` is the patient's Outputs.

    Writes the patient row (P_* columns), one row per line received (L_* columns), clone
    snapshots at treatment start (moment 0), at each line's progression (moment l + 1) and at
    the end (last moment), the genotype and parent genotype of each clone slot, and, if the
    trace arrays have rows, every slot's cells at treatment start, at each scan and at the
    end (with the line then running, 0 = none). Days count from treatment start. The agent
    engine also records each barcode's cells, resistant cells and mechanisms at the snapshot
    moments. Every scan (and the baseline measurement of each line) goes to a row of scans.

    The treatment policy: each line starts after its treatment-free interval, is given on its
    schedule (continuous, intermittent, adaptive pauses at scans) with dosed drugs taken per
    the adherence probability, ends at progression or at the end of its fixed course; a
    progression then opens the next line, and progression on the last line (or lethal
    burden) makes the disease refractory. Rates are refilled whenever the exposure changes
    and held constant over steps while a dosed drug's concentration moves
    (kernels.treatment).
    """
    reset_workspace(model, work)
    out.patient[P_CURED] = 0.0
    out.patient[P_LETHAL] = 0.0
    treated = model.line_drugs.shape[0] > 0 or model.start_cells.shape[0] > 0
    growing = model.start_cells.shape[0] == 0
    if growing:
        _plant_founder(model, work)
    else:
        _place_start_clones(state, model, work)
        _start_treatment(state, model, work, out, 0.0)
    while growing or treated:
        # The one place the tumour advances (the GPU kernel inlines it once).
        if growing:  # from one cell to detection
            t, stop, threshold = 0.0, np.inf, model.detection_cells
        else:  # to the next decision point, or cure or lethal burden
            stop = _next_stop(state, model, work, out)
            t, threshold = work.policy[Q_NOW], model.lethal_cells
        now, reason = advance_tumour(state, model, work, t, stop, threshold)
        if not growing:
            if not _reached(state, model, work, out, now, reason):
                break
        elif reason == REACHED_THRESHOLD:
            growing = False
            out.patient[P_DAYS_TO_DETECTION] = now
            _start_treatment(state, model, work, out, now)
        else:  # the founder's line died out: a new founder
            _plant_founder(model, work)
    if treated:
        _close_line(work, out)
    _finish(work, out)


@njit(cache=True, parallel=True, nogil=True)
def simulate_batch(states, rows, outputs):
    """Simulate ``states.shape[0]`` patients in parallel, each on its own generator state.

    ``rows`` is the model as per-patient rows (kernels.model: ``shared_rows`` of one model,
    or a virtual cohort's own values per patient). ``outputs`` is an Outputs record with a
    leading patient axis, preallocated by the caller (NaN or -1 filled; see kernels.records
    for the trace rows). Each patient writes only its own rows, so results do not depend on
    the thread count.
    """
    for p in prange(states.shape[0]):
        model = patient_model(rows, p)
        simulate_patient(states[p], model, new_workspace(model), patient_outputs(outputs, p))
