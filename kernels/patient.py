"""One virtual patient from the first cell to cure, death or the horizon, and batches of them.

The treatment policy runs here, inside compiled code, so a whole patient costs no Python
calls: treatment starts at detection, scans measure the burden, progression switches to the
next line, progression on the last line (or lethal burden) makes the disease refractory.
"""

import numpy as np
from numba import njit, prange
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
    new_table,
    set_rates,
    total_cells,
)
from refractory.kernels.compartment import STACK_SIZE, advance, new_stack
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
)
from refractory.kernels.random import binomial
from refractory.kernels.treatment import (
    dosed_drug_acting,
    fill_exposure,
    measure,
    schedule_doses,
    take_doses,
)


@njit(cache=True)
def _advance(
    state,
    model,
    ints,
    reals,
    meta,
    stack_ints,
    stack_start,
    barcodes,
    starts,
    exposure,
    t,
    t_stop,
    threshold,
):
    """Advance the tumour with the model's engine (cell by cell, or clone transitions)."""
    if model.engine == ENGINE_AGENT:
        return agent_advance(
            state, model, ints, reals, meta, barcodes, starts, exposure, t, t_stop, threshold
        )
    return advance(
        state, model, ints, reals, meta, stack_ints, stack_start, exposure, t, t_stop, threshold
    )


@njit(cache=True)
def _snapshot(ints, reals, meta, moment, day, origin, snap_day, snap_cells, snap_first):
    """Record clone sizes and first-seen days (relative to ``origin``) at an output moment."""
    snap_day[moment] = day
    for c in range(meta[USED]):
        snap_cells[moment, c] = ints[c, CELLS]
        snap_first[moment, c] = reals[c, FIRST_SEEN] - origin


@njit(cache=True)
def _trace(ints, meta, row, day, line, trace_day, trace_line, trace_cells):
    """Record every slot's cells at ``day`` in row ``row`` of a traced patient; next row."""
    if row >= trace_day.shape[0] or (row > 0 and trace_day[row - 1] == day):
        return row
    trace_day[row] = day
    trace_line[row] = line
    for c in range(meta[USED]):
        trace_cells[row, c] = ints[c, CELLS]
    return row + 1


@njit(cache=True)
def _seen_cells(model, ints, meta):
    """Cells a scan sees: all of them, or those outside the sanctuary when scans miss it."""
    seen = 0
    for c in range(meta[USED]):
        if model.sanctuary_visible == 1 or (ints[c, GENOTYPE] & SANCTUARY) == 0:
            seen += ints[c, CELLS]
    return seen


@njit(cache=True)
def _place_clone(state, model, ints, reals, meta, exposure, genotype, cells):
    """Add an initial clone, its cells split between the sites by the sanctuary's share."""
    sheltered = binomial(state, cells, model.sanctuary_share) if model.sanctuary_share > 0 else 0
    for site, count in ((np.int64(0), cells - sheltered), (SANCTUARY, sheltered)):
        if count > 0:
            c = clone_slot(model, ints, reals, meta, genotype | site, np.int64(-1), exposure, 0.0)
            ints[c, CELLS] += count


@njit(cache=True)
def _record_scan(scans, row, day, line, measured, cells, drug_on):
    """Write one scan (day, 1-based line or 0, measured and true burden, on drug); next row."""
    if row >= scans.shape[0]:
        return row
    scans[row, S_DAY] = day
    scans[row, S_LINE] = line
    scans[row, S_MEASURED] = measured
    scans[row, S_TRUE] = cells
    scans[row, S_ON_DRUG] = 1.0 if drug_on else 0.0
    return row + 1


@njit(cache=True)
def _open_line(line_row, day):
    """Start a line's output row on ``day``: nothing progressed, given or counted yet."""
    line_row[L_START_DAY] = day
    for column in (L_PROGRESSED, L_RELAPSE, L_ON_TREATMENT, L_DOSES_SCHEDULED, L_DOSES_TAKEN):
        line_row[column] = 0.0
    line_row[L_DAYS_ON_DRUG] = 0.0


@njit(cache=True)
def _earliest(days):
    """Smallest entry (inf for none)."""
    first = np.inf
    for day in days:
        first = min(first, day)
    return first


@njit(cache=True)
def _category(measured, baseline, partial_response_decrease):
    if measured == 0.0:
        return RESPONSE_CR
    if measured <= (1.0 - partial_response_decrease) * baseline:
        return RESPONSE_PR
    return RESPONSE_SD


@njit(cache=True)
def new_workspace(model):
    """One patient's scratch arrays, as the tuple ``simulate_patient`` takes: the clone table
    (ints, reals, meta), the pending-cells stack, the agent engine's cells (barcodes, block
    starts), the exposure vector and the dosed drugs' levels, dose days and next doses."""
    ints, reals, meta = new_table(model.max_clones)
    stack_ints, stack_start = new_stack(STACK_SIZE)
    nd = model.drug_max_effect.shape[0]
    return (
        ints,
        reals,
        meta,
        stack_ints,
        stack_start,
        np.empty(model.agent_cells, np.int32),
        np.empty(model.max_clones + 1, np.int64),
        np.empty(nd + 2),
        np.empty(nd),
        np.empty(nd),
        np.empty(nd),
    )


@njit(cache=True)
def _reset(model, work):
    """Clear a workspace for a new patient (it may hold the last one's state), without
    allocating, so that compiled GPU code can reuse preallocated rows."""
    ints, reals, meta, _, _, _, starts, exposure, level, dosed_at, next_dose = work
    for c in range(ints.shape[0]):
        for j in range(ints.shape[1]):
            ints[c, j] = 0
        for j in range(reals.shape[1]):
            reals[c, j] = 0.0
    for j in range(meta.shape[0]):
        meta[j] = 0
    for c in range(starts.shape[0]):
        starts[c] = 0
    untreated = model.line_exposure[-1]
    for j in range(exposure.shape[0]):
        exposure[j] = untreated[j]
    for j in range(level.shape[0]):
        level[j] = 0.0
        dosed_at[j] = 0.0
        next_dose[j] = np.inf


@njit(cache=True)
def simulate_patient(
    state,
    model,
    work,
    patient,
    lines,
    snap_day,
    snap_cells,
    snap_first,
    genotypes,
    trace_day,
    trace_line,
    trace_cells,
    lineage_cells,
    lineage_resistant,
    lineage_mechanisms,
    scans,
):
    """Simulate one patient from the first cell (or the given clones) to cure, death or horizon.

    ``work`` is a workspace (``new_workspace``), cleared here: nothing is allocated, so the
    same code compiles for the GPU (kernels.gpu).

    Writes the patient row (P_* columns), one row per line received (L_* columns), clone
    snapshots at treatment start (moment 0), at each line's progression (moment l + 1) and at
    the end (last moment), the genotype and parent genotype of each clone slot (slots, 2),
    and, if the trace arrays have rows, every slot's cells at treatment start, at each scan
    and at the end (with the line then running, 0 = none). Days count from treatment start.
    A single cell restarts on extinction until one lineage reaches detection. The agent
    engine also records each barcode's cells, resistant cells and mechanisms at the clone
    snapshot moments in ``lineage_*`` (moments, barcodes). Every scan (and the baseline
    measurement of each line) goes to a row of ``scans`` (S_* columns).

    The treatment policy: each line starts after its treatment-free interval, is given on its
    schedule (continuous, intermittent, adaptive pauses at scans) with dosed drugs taken per
    the adherence probability, ends at progression or at the end of its fixed course; a
    progression then opens the next line. Rates are refilled whenever the exposure changes and
    held constant over steps while a dosed drug's concentration moves (kernels.treatment).
    """
    _reset(model, work)
    ints, reals, meta, stack_ints, stack_start, barcodes, starts = work[:7]
    exposure, level, dosed_at, next_dose = work[7:]
    n_lines = model.line_drugs.shape[0]
    lethal = model.lethal_cells
    patient[P_CURED] = 0.0
    patient[P_LETHAL] = 0.0
    if model.start_cells.shape[0] == 0:
        while True:
            meta[USED] = 0
            founder = clone_slot(model, ints, reals, meta, np.int64(0), np.int64(-1), exposure, 0.0)
            ints[founder, CELLS] = 1
            place_cells(ints, meta, barcodes, starts)
            t, reason = _advance(
                state,
                model,
                ints,
                reals,
                meta,
                stack_ints,
                stack_start,
                barcodes,
                starts,
                exposure,
                0.0,
                np.inf,
                model.detection_cells,
            )
            if reason == REACHED_THRESHOLD:
                break
        patient[P_DAYS_TO_DETECTION] = t
    else:
        for i in range(model.start_cells.shape[0]):
            genotype, cells = model.start_genotypes[i], model.start_cells[i]
            _place_clone(state, model, ints, reals, meta, exposure, genotype, cells)
        place_cells(ints, meta, barcodes, starts)
        t = 0.0
    origin = t
    horizon = origin + model.horizon_days
    total = total_cells(ints, meta)
    patient[P_CELLS_AT_START] = total
    resistant = 0
    for c in range(meta[USED]):
        if (ints[c, GENOTYPE] & MECHANISMS) != 0:
            resistant += ints[c, CELLS]
    patient[P_RESISTANT_AT_START] = resistant
    _snapshot(ints, reals, meta, 0, 0.0, origin, snap_day, snap_cells, snap_first)
    label_cells(meta, barcodes, starts)
    snapshot_lineages(
        ints, meta, barcodes, starts, 0, lineage_cells, lineage_resistant, lineage_mechanisms
    )
    row = _trace(ints, meta, 0, 0.0, 1 if n_lines > 0 else 0, trace_day, trace_line, trace_cells)
    cv = model.measurement_cv
    last_measured = measure(state, float(_seen_cells(model, ints, meta)), cv)
    last_scan_day = t
    first = last_measured if last_measured >= model.visible_cells else 0.0
    scan_row = _record_scan(scans, 0, 0.0, 0, first, total, False)
    stale = False  # the exposure must be refilled before the next advance
    refractory = False
    line = -1
    evaluating = False  # scans are read against the line
    giving = False  # the line's treatment is being given
    drug_on = False  # its drugs are administered now (schedules pause them)
    completed = False  # the line's fixed course is over: follow-up
    pending = 0 if n_lines > 0 else -1
    pending_start = t + model.line_free_days[0] if n_lines > 0 else np.inf
    line_start = line_end = t
    baseline = nadir = last_measured
    best = RESPONSE_NONE
    course_end = phase_end = np.inf
    next_scan = t + model.scan_every_days
    end_reason = END_HORIZON
    if n_lines > 0 or model.start_cells.shape[0] > 0:
        while True:
            changed, stale = stale, False
            if t >= course_end:
                giving = drug_on = False
                completed = changed = True
                course_end = phase_end = np.inf
                schedule_doses(model, -1, t, next_dose)
                line_end = t
                lines[line, L_END_DAY] = t - origin
                lines[line, L_END_REASON] = END_COMPLETED
            if t >= phase_end:
                drug_on = not drug_on
                phase_end += model.line_days_on[line] if drug_on else model.line_days_off[line]
                schedule_doses(model, line if drug_on else -1, t, next_dose)
                changed = True
            if t >= pending_start:
                line, pending, pending_start = pending, -1, np.inf
                evaluating = giving = drug_on = changed = True
                completed = False
                line_start = t
                best = RESPONSE_NONE
                if last_scan_day != t:
                    total = total_cells(ints, meta)
                    last_measured = measure(state, float(_seen_cells(model, ints, meta)), cv)
                    scan_row = _record_scan(
                        scans,
                        scan_row,
                        t - origin,
                        line + 1,
                        last_measured if last_measured >= model.visible_cells else 0.0,
                        total,
                        True,
                    )
                baseline = nadir = last_measured
                course_end = t + model.line_max_days[line]
                if model.line_schedule[line] == SCHEDULE_INTERMITTENT:
                    phase_end = t + model.line_days_on[line]
                _open_line(lines[line], t - origin)
                schedule_doses(model, line, t, next_dose)
            if _earliest(next_dose) <= t:
                take_doses(state, model, line, t, next_dose, level, dosed_at, lines[line])
                changed = True
            stop = min(min(next_scan, horizon), min(min(course_end, phase_end), pending_start))
            stop = min(stop, _earliest(next_dose))
            acting = dosed_drug_acting(model, level, dosed_at, t)
            if acting:
                stop = min(stop, t + model.pk_step)
            if changed or acting:
                fill_exposure(model, line, drug_on, level, dosed_at, 0.5 * (t + stop), exposure)
                for c in range(meta[USED]):
                    set_rates(model, ints, reals, c, exposure)
            before = t
            t, reason = _advance(
                state,
                model,
                ints,
                reals,
                meta,
                stack_ints,
                stack_start,
                barcodes,
                starts,
                exposure,
                t,
                stop,
                lethal,
            )
            if drug_on:
                lines[line, L_DAYS_ON_DRUG] += t - before
            if reason == EXTINCT:
                patient[P_CURED] = 1.0
                end_reason = END_CURED
                break
            if reason == REACHED_THRESHOLD:
                patient[P_LETHAL] = 1.0
                patient[P_DAYS_TO_LETHAL] = t - origin
                end_reason = END_LETHAL
                if evaluating:
                    lines[line, L_PROGRESSED] = 1.0
                    lines[line, L_DAYS_TO_PROGRESSION] = t - line_start
                    lines[line, L_RELAPSE] = 1.0 if nadir == 0.0 or completed else 0.0
                    lines[line, L_ON_TREATMENT] = 1.0 if giving else 0.0
                if (evaluating or pending >= 0) and not completed:
                    refractory = True
                    patient[P_DAYS_TO_REFRACTORY] = t - origin
                break
            if t >= horizon:
                end_reason = END_HORIZON
                break
            if t < next_scan:
                continue
            next_scan += model.scan_every_days
            row = _trace(ints, meta, row, t - origin, line + 1, trace_day, trace_line, trace_cells)
            total = total_cells(ints, meta)
            last_measured = measure(state, float(_seen_cells(model, ints, meta)), cv)
            measured = last_measured if last_measured >= model.visible_cells else 0.0
            last_measured, last_scan_day = measured, t
            followed = line + 1 if evaluating or giving else 0
            scan_row = _record_scan(scans, scan_row, t - origin, followed, measured, total, drug_on)
            if not evaluating:
                continue
            reference = nadir
            adaptive = model.line_schedule[line] == SCHEDULE_ADAPTIVE
            if nadir > 0.0 and (adaptive or model.progression_from_baseline == 1):
                reference = baseline
            if measured > 0.0 and measured > (1.0 + model.progression_increase) * reference:
                if best == RESPONSE_NONE:
                    best = RESPONSE_PD
                lines[line, L_BEST_RESPONSE] = best
                lines[line, L_PROGRESSED] = 1.0
                lines[line, L_DAYS_TO_PROGRESSION] = t - line_start
                lines[line, L_RELAPSE] = 1.0 if nadir == 0.0 or completed else 0.0
                lines[line, L_ON_TREATMENT] = 1.0 if giving else 0.0
                if giving:
                    line_end = t
                    lines[line, L_END_DAY] = t - origin
                    lines[line, L_END_REASON] = END_PROGRESSION
                _snapshot(
                    ints,
                    reals,
                    meta,
                    line + 1,
                    t - origin,
                    origin,
                    snap_day,
                    snap_cells,
                    snap_first,
                )
                snapshot_lineages(
                    ints,
                    meta,
                    barcodes,
                    starts,
                    line + 1,
                    lineage_cells,
                    lineage_resistant,
                    lineage_mechanisms,
                )
                evaluating = False
                if line == n_lines - 1:
                    if giving:
                        refractory = True
                        patient[P_DAYS_TO_REFRACTORY] = t - origin
                        if adaptive and not drug_on:
                            drug_on = stale = True
                            schedule_doses(model, line, t, next_dose)
                    continue
                pending = line + 1
                pending_start = max(t, line_end + model.line_free_days[pending])
                giving = drug_on = False
                stale = True
                course_end = phase_end = np.inf
                schedule_doses(model, -1, t, next_dose)
                continue
            category = _category(measured, baseline, model.partial_response_decrease)
            if best == RESPONSE_NONE or category < best:
                best = category
            nadir = min(nadir, measured)
            if giving and adaptive:
                if drug_on and measured < model.line_pause_below[line] * baseline:
                    drug_on = False
                    schedule_doses(model, -1, t, next_dose)
                    stale = True
                elif not drug_on and measured >= model.line_resume_at[line] * baseline:
                    drug_on = True
                    schedule_doses(model, line, t, next_dose)
                    stale = True
        if evaluating:
            if end_reason == END_CURED:
                best = RESPONSE_CR
            elif end_reason == END_LETHAL and best == RESPONSE_NONE:
                best = RESPONSE_PD
            lines[line, L_BEST_RESPONSE] = best
            if giving:
                lines[line, L_END_DAY] = t - origin
                lines[line, L_END_REASON] = end_reason
    patient[P_REFRACTORY] = 1.0 if refractory else 0.0
    patient[P_CELLS_AT_END] = total_cells(ints, meta)
    patient[P_LINES_RECEIVED] = line + 1
    patient[P_END_DAY] = t - origin
    patient[P_OVERFLOW] = meta[OVERFLOW]
    patient[P_CLONE_STEPS] = meta[CLONE_STEPS]
    patient[P_EVENTS] = meta[EVENTS]
    _snapshot(
        ints,
        reals,
        meta,
        snap_day.shape[0] - 1,
        t - origin,
        origin,
        snap_day,
        snap_cells,
        snap_first,
    )
    snapshot_lineages(
        ints,
        meta,
        barcodes,
        starts,
        snap_day.shape[0] - 1,
        lineage_cells,
        lineage_resistant,
        lineage_mechanisms,
    )
    _trace(ints, meta, row, t - origin, line + 1, trace_day, trace_line, trace_cells)
    for c in range(meta[USED]):
        genotypes[c, 0] = ints[c, GENOTYPE]
        genotypes[c, 1] = ints[c, PARENT]


@njit(cache=True, parallel=True)
def simulate_batch(
    states,
    model,
    patients,
    lines,
    snap_day,
    snap_cells,
    snap_first,
    genotypes,
    trace_day,
    trace_line,
    trace_cells,
    lineage_cells,
    lineage_resistant,
    lineage_mechanisms,
    scans,
):
    """Simulate ``states.shape[0]`` patients in parallel, each on its own generator state.

    Outputs are preallocated by the caller (NaN or -1 filled) with a leading patient axis;
    the trace arrays cover the first ``trace_day.shape[0]`` patients only; the lineage arrays
    (patients, moments, barcodes) are empty along barcodes for the compartment engine. Each patient
    writes only its own rows, so results do not depend on the thread count.
    """
    traced = trace_day.shape[0]
    no_day = np.empty(0, np.float64)
    no_line = np.empty(0, np.int64)
    no_cells = np.empty((0, trace_cells.shape[2]), np.int64)
    for p in prange(states.shape[0]):
        if p < traced:
            simulate_patient(
                states[p],
                model,
                new_workspace(model),
                patients[p],
                lines[p],
                snap_day[p],
                snap_cells[p],
                snap_first[p],
                genotypes[p],
                trace_day[p],
                trace_line[p],
                trace_cells[p],
                lineage_cells[p],
                lineage_resistant[p],
                lineage_mechanisms[p],
                scans[p],
            )
        else:
            simulate_patient(
                states[p],
                model,
                new_workspace(model),
                patients[p],
                lines[p],
                snap_day[p],
                snap_cells[p],
                snap_first[p],
                genotypes[p],
                no_day,
                no_line,
                no_cells,
                lineage_cells[p],
                lineage_resistant[p],
                lineage_mechanisms[p],
                scans[p],
            )
