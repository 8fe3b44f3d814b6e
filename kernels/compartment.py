"""The compartment engine's compiled patient loop: clone counts, exact steps, treatment policy.

A patient is a set of clones keyed by genotype (a bitmask of resistance mechanisms). Small
tumours (fewer than ``exact_below`` cells) advance event by event (Gillespie direct method);
larger ones advance by the exact linear birth-death transition per clone, with new mutants
placed inside each step in proportion to the parent's size and grown exactly to its end.
Treatment (lines, scans, progression, line switches) runs inside the kernel so that a whole
patient costs no Python calls. Inputs are a :class:`PatientModel` of plain arrays and scalars.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from kernels.birth_death import log_mean, mutation_time, transition
from kernels.random import binomial, exponential, poisson, uniform

# Codes shared with sim/results.py (the kernel writes numbers, the results layer names them).
RESPONSE_NONE, RESPONSE_CR, RESPONSE_PR, RESPONSE_SD, RESPONSE_PD = -1, 0, 1, 2, 3
END_PROGRESSION, END_CURED, END_LETHAL, END_HORIZON = 0, 1, 2, 3

# Columns of the per-patient output row.
P_DAYS_TO_DETECTION = 0
P_CELLS_AT_START = 1
P_RESISTANT_AT_START = 2
P_CELLS_AT_END = 3
P_CURED = 4
P_REFRACTORY = 5
P_DAYS_TO_REFRACTORY = 6
P_LETHAL = 7
P_DAYS_TO_LETHAL = 8
P_LINES_RECEIVED = 9
P_END_DAY = 10
P_OVERFLOW = 11
P_CLONE_STEPS = 12  # exact transitions drawn (clones and mutant groups), for benchmarks
P_EVENTS = 13  # single-cell events simulated by the exact Gillespie phase
P_COLUMNS = 14

# Columns of the per-line output row.
L_START_DAY = 0
L_END_DAY = 1
L_BEST_RESPONSE = 2
L_PROGRESSED = 3
L_DAYS_TO_PROGRESSION = 4
L_END_REASON = 5
L_COLUMNS = 6

# Why an advance() call returned.
_REACHED_STOP, _REACHED_THRESHOLD, _EXTINCT = 0, 1, 2

_STACK_SIZE = 4096


class PatientModel(NamedTuple):
    """Everything one patient's simulation reads, as arrays and scalars (built by sim.compile).

    Rates are per cell per day, sizes in cells, times in days. ``k`` mechanisms, ``nd`` drugs,
    ``nl`` lines, ``m`` initial clones.
    """

    birth_rate: float
    death_rate: float
    mutation_rate: np.ndarray  # (k,) probability per division that a daughter gains mechanism i
    birth_factor: np.ndarray  # (k,) 1 - fitness cost of mechanism i
    resistance: np.ndarray  # (k, nd) fraction of drug j's effect removed by mechanism i
    drug_max_effect: np.ndarray  # (nd,) per day on a fully sensitive cell
    drug_lowers_birth: np.ndarray  # (nd,) 1 if the drug lowers birth, 0 if it adds to death
    line_drugs: np.ndarray  # (nl, nd) 1 where line l gives drug j
    line_takes_max: np.ndarray  # (nl,) 1: strongest single drug; 0: effects add
    start_genotypes: np.ndarray  # (m,) genotypes of the initial clones (start = "cells")
    start_cells: np.ndarray  # (m,) their sizes; empty when growing from a single cell
    detection_cells: float
    lethal_cells: float
    horizon_days: float
    scan_every_days: float
    progression_increase: float
    partial_response_decrease: float
    visible_cells: float
    exact_below: float  # total size under which the kernel simulates event by event
    max_log_growth: float  # largest expected log-growth of any clone in one step
    threshold_tolerance: float  # detection and lethal sizes are reached within this fraction
    max_clones: int
    mutant_bins: int  # above this many mutants in one step, group them by arrival time


@njit(cache=True)
def genotype_rates(model, genotype, line):
    """Birth rate, death rate and total mutation probability of a genotype under a line.

    ``line`` = -1 means untreated. Mechanisms' fitness costs and resistances combine
    multiplicatively; drugs of a line add their effects or, for "max", the strongest acts.
    """
    k = model.mutation_rate.shape[0]
    birth = model.birth_rate
    death = model.death_rate
    total_mutation = 0.0
    for i in range(k):
        if (genotype >> i) & 1:
            birth *= model.birth_factor[i]
        else:
            total_mutation += model.mutation_rate[i]
    if line >= 0:
        take_max = model.line_takes_max[line] == 1
        lower_birth = 0.0
        add_death = 0.0
        best = -1.0
        best_lowers_birth = False
        for j in range(model.drug_max_effect.shape[0]):
            if model.line_drugs[line, j] == 0:
                continue
            effect = model.drug_max_effect[j]
            for i in range(k):
                if (genotype >> i) & 1:
                    effect *= 1.0 - model.resistance[i, j]
            if take_max:
                if effect > best:
                    best = effect
                    best_lowers_birth = model.drug_lowers_birth[j] == 1
            elif model.drug_lowers_birth[j] == 1:
                lower_birth += effect
            else:
                add_death += effect
        if take_max and best > 0.0:
            if best_lowers_birth:
                lower_birth = best
            else:
                add_death = best
        birth = max(birth - lower_birth, 0.0)
        death += add_death
    return birth, death, total_mutation


# The clone table is three plain arrays (a tuple of arrays costs reference counting at every
# call that numba does not inline): ``ints`` (C, 3) genotype, cells and the parent genotype
# that first gave rise to it (-1: an initial clone); ``reals`` (C, 4) first-seen day, birth,
# death and mutation probability under the current line; ``meta`` counters. Pending mutant
# groups inside a step: ``stack_ints`` (S, 3) genotype, cells and parent genotype,
# ``stack_start`` (S,) their offset inside the step.
GENOTYPE, CELLS, PARENT = 0, 1, 2
FIRST_SEEN, BIRTH, DEATH, MUTATION = 0, 1, 2, 3
USED, OVERFLOW, CLONE_STEPS, EVENTS, STACK_TOP = 0, 1, 2, 3, 4
META_SIZE = 5


@njit(cache=True)
def find_slot(ints, reals, meta, genotype, now):
    """Index of the genotype's slot, or -1. Marks cells of it arising at ``now``: the day
    becomes the first-seen day of an absent lineage and can only move earlier for a live one.
    """
    for c in range(meta[USED]):
        if ints[c, GENOTYPE] == genotype:
            if ints[c, CELLS] == 0 or now < reals[c, FIRST_SEEN]:
                reals[c, FIRST_SEEN] = now
            return c
    return -1


@njit(cache=True)
def set_rates(model, ints, reals, c, line):
    """Rates of slot c under ``line`` (-1: untreated)."""
    b, d, u = genotype_rates(model, ints[c, GENOTYPE], line)
    reals[c, BIRTH] = b
    reals[c, DEATH] = d
    reals[c, MUTATION] = u


@njit(cache=True)
def clone_slot(model, ints, reals, meta, genotype, parent, line, now):
    """Index of the genotype's slot, created with rates for ``line`` if new; -1 if full."""
    c = find_slot(ints, reals, meta, genotype, now)
    if c >= 0:
        return c
    c = meta[USED]
    if c == ints.shape[0]:
        meta[OVERFLOW] = 1
        return -1
    ints[c, GENOTYPE] = genotype
    ints[c, CELLS] = 0
    ints[c, PARENT] = parent
    reals[c, FIRST_SEEN] = now
    set_rates(model, ints, reals, c, line)
    meta[USED] = c + 1
    return c


@njit(cache=True)
def total_cells(ints, meta):
    """Cells in all clones."""
    total = 0
    for c in range(meta[USED]):
        total += ints[c, CELLS]
    return total


@njit(cache=True)
def gained_mechanism(mutation_rate, genotype, u):
    """The mechanism a mutant daughter gains, given a uniform ``u`` below the total rate."""
    acc = 0.0
    last = -1
    for i in range(mutation_rate.shape[0]):
        if (genotype >> i) & 1 or mutation_rate[i] == 0.0:
            continue
        last = i
        acc += mutation_rate[i]
        if u < acc:
            return i
    return last


@njit(cache=True)
def ssa_advance(state, model, ints, reals, meta, line, t, t_stop, threshold):
    """Gillespie direct method until ``t_stop``, extinction, ``threshold`` or ``exact_below``.

    Exact, one event at a time (O(clones) per event); stops on the very event that reaches
    the threshold. Returns (time, reason).
    """
    total = total_cells(ints, meta)
    exact_below = model.exact_below
    while True:
        if total == 0:
            return t, _EXTINCT
        if total >= threshold:
            return t, _REACHED_THRESHOLD
        if total >= exact_below:
            return t, _REACHED_STOP
        used = meta[USED]
        rate = 0.0
        for c in range(used):
            rate += (reals[c, BIRTH] + reals[c, DEATH]) * ints[c, CELLS]
        if rate <= 0.0:
            return t_stop, _REACHED_STOP
        t_next = t + exponential(state) / rate
        if t_next >= t_stop:
            return t_stop, _REACHED_STOP
        t = t_next
        meta[EVENTS] += 1
        target = uniform(state) * rate
        chosen = -1
        for c in range(used):
            weight = (reals[c, BIRTH] + reals[c, DEATH]) * ints[c, CELLS]
            if weight > 0.0:
                chosen = c
                if target < weight:
                    break
                target -= weight
        if target < reals[chosen, DEATH] * ints[chosen, CELLS]:
            ints[chosen, CELLS] -= 1
            total -= 1
            continue
        u = uniform(state)
        if u < reals[chosen, MUTATION]:
            genotype = ints[chosen, GENOTYPE]
            gained = gained_mechanism(model.mutation_rate, genotype, u)
            child = genotype | (np.int64(1) << gained)
            s = clone_slot(model, ints, reals, meta, child, genotype, line, t)
            if s < 0:
                continue
            ints[s, CELLS] += 1
        else:
            ints[chosen, CELLS] += 1
        total += 1


@njit(cache=True)
def _push(stack_ints, stack_start, meta, genotype, parent, start, cells):
    """Queue a group of ``cells`` new mutants of ``genotype`` arising at ``start`` in the step."""
    top = meta[STACK_TOP]
    if top == stack_ints.shape[0]:
        meta[OVERFLOW] = 1
        return
    stack_ints[top, GENOTYPE] = genotype
    stack_ints[top, CELLS] = cells
    stack_ints[top, PARENT] = parent
    stack_start[top] = start
    meta[STACK_TOP] = top + 1


@njit(cache=True)
def bin_time(span, net_rate, j, bins):
    """Median arrival time in bin j of ``bins`` equal-probability bins of density ~ e^(r s)."""
    q = (j + 0.5) / bins
    x = net_rate * span
    if abs(x) < 1e-9:
        return q * span
    return math.log1p(q * math.expm1(x)) / net_rate


@njit(cache=True)
def _push_mutants(
    state,
    mutation_rate,
    bins,
    stack_ints,
    stack_start,
    meta,
    genotype,
    divisions,
    net_rate,
    offset,
    span,
):
    """Draw a lineage's mutants over [offset, offset + span) and queue them.

    ``divisions`` is the expected number of divisions of the lineage over the interval; each
    mechanism it lacks arises Poisson(u x divisions) times, at times with density
    proportional to the lineage's size (e^(net_rate s)). More than ``bins`` mutants of one
    kind are grouped into that many equal-probability arrival-time bins (multinomial counts),
    so a step costs O(bins) however many mutants a huge clone makes.
    """
    for i in range(mutation_rate.shape[0]):
        if (genotype >> i) & 1 or mutation_rate[i] == 0.0:
            continue
        count = poisson(state, mutation_rate[i] * divisions)
        child = genotype | (np.int64(1) << i)
        if count <= bins:
            for _ in range(count):
                start = offset + mutation_time(state, span, net_rate)
                _push(stack_ints, stack_start, meta, child, genotype, start, 1)
            continue
        remaining = count
        for j in range(bins):
            group = remaining if j == bins - 1 else binomial(state, remaining, 1.0 / (bins - j))
            remaining -= group
            if group > 0:
                start = offset + bin_time(span, net_rate, j, bins)
                _push(stack_ints, stack_start, meta, child, genotype, start, group)


@njit(cache=True)
def _grow(state, reals, meta, c, cells, span):
    """Exact birth-death transition of ``cells`` cells of clone c over ``span``.

    A division yields a mutant daughter with probability u: the lineage itself grows with
    birth rate b (1 - u) and emits mutants at rate b u times its size. Returns the new
    count, the expected divisions over the span, and the lineage's net growth rate.
    """
    b = reals[c, BIRTH]
    d = reals[c, DEATH]
    keep = b * (1.0 - reals[c, MUTATION])
    end = transition(state, cells, keep, d, span)
    meta[CLONE_STEPS] += 1
    divisions = b * log_mean(float(cells), float(end)) * span
    return end, divisions, keep - d


@njit(cache=True)
def tau_step(state, model, ints, reals, meta, stack_ints, stack_start, line, t, dt):
    """Advance every clone by the exact transition over ``dt`` with mutants placed inside."""
    mutation_rate = model.mutation_rate
    bins = model.mutant_bins
    meta[STACK_TOP] = 0
    for c in range(meta[USED]):
        cells = ints[c, CELLS]
        if cells == 0:
            continue
        end, divisions, net = _grow(state, reals, meta, c, cells, dt)
        ints[c, CELLS] = end
        _push_mutants(
            state,
            mutation_rate,
            bins,
            stack_ints,
            stack_start,
            meta,
            ints[c, GENOTYPE],
            divisions,
            net,
            0.0,
            dt,
        )
    while meta[STACK_TOP] > 0:
        top = meta[STACK_TOP] - 1
        meta[STACK_TOP] = top
        genotype = stack_ints[top, GENOTYPE]
        start = stack_start[top]
        c = find_slot(ints, reals, meta, genotype, t + start)
        if c < 0:
            parent = stack_ints[top, PARENT]
            c = clone_slot(model, ints, reals, meta, genotype, parent, line, t + start)
            if c < 0:
                continue
        span = dt - start
        end, divisions, net = _grow(state, reals, meta, c, stack_ints[top, CELLS], span)
        ints[c, CELLS] += end
        _push_mutants(
            state,
            mutation_rate,
            bins,
            stack_ints,
            stack_start,
            meta,
            genotype,
            divisions,
            net,
            start,
            span,
        )


@njit(cache=True)
def _step_length(ints, reals, meta, total, dt, max_log_growth, threshold, aim):
    """Longest step allowed, up to ``dt``: growing clones grow by at most ``max_log_growth``
    and shrinking ones by at most a factor e; near the threshold, a step aimed at landing
    just above it (at ``aim`` cells)."""
    growth = 0.0
    decline = 0.0
    net = 0.0
    for c in range(meta[USED]):
        cells = ints[c, CELLS]
        if cells == 0:
            continue
        rate = reals[c, BIRTH] * (1.0 - reals[c, MUTATION]) - reals[c, DEATH]
        growth = max(growth, rate)
        decline = max(decline, -rate)
        net += rate * cells
    net /= total
    if growth > 0.0:
        dt = min(dt, max_log_growth / growth)
    if decline > 0.0:
        dt = min(dt, 1.0 / decline)
    if net > 0.0 and threshold < np.inf:
        dt = min(dt, math.log(aim / total) / net)
    return dt


@njit(cache=True)
def advance(state, model, ints, reals, meta, stack_ints, stack_start, line, t, t_stop, threshold):
    """Run the tumour from ``t`` to ``t_stop`` or until extinction or ``threshold`` cells.

    Event by event below ``exact_below`` cells, exact transitions above. Returns
    (time, reason) with reason one of reached-stop, reached-threshold, extinct.
    """
    aim = threshold * (1.0 + 0.5 * model.threshold_tolerance)
    while True:
        total = total_cells(ints, meta)
        if total == 0:
            return t, _EXTINCT
        if total >= threshold:
            return t, _REACHED_THRESHOLD
        if t >= t_stop:
            return t_stop, _REACHED_STOP
        if total < model.exact_below:
            t, reason = ssa_advance(state, model, ints, reals, meta, line, t, t_stop, threshold)
            if reason != _REACHED_STOP:
                return t, reason
            continue
        dt = _step_length(
            ints, reals, meta, total, t_stop - t, model.max_log_growth, threshold, aim
        )
        tau_step(state, model, ints, reals, meta, stack_ints, stack_start, line, t, dt)
        t = t_stop if t_stop - t <= dt else t + dt


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
def _category(measured, baseline, partial_response_decrease):
    if measured == 0.0:
        return RESPONSE_CR
    if measured <= (1.0 - partial_response_decrease) * baseline:
        return RESPONSE_PR
    return RESPONSE_SD


@njit(cache=True)
def simulate_patient(
    state,
    model,
    patient,
    lines,
    snap_day,
    snap_cells,
    snap_first,
    genotypes,
    trace_day,
    trace_line,
    trace_cells,
):
    """Simulate one patient from the first cell (or the given clones) to cure, death or horizon.

    Writes the patient row (P_* columns), one row per line received (L_* columns), clone
    snapshots at treatment start (moment 0), at each line's progression (moment l + 1) and at
    the end (last moment), the genotype and parent genotype of each clone slot (slots, 2),
    and, if the trace arrays have rows, every slot's cells at treatment start, at each scan
    and at the end (with the line then running, 0 = none). Days count from treatment start.
    A single cell restarts on extinction until one lineage reaches detection.
    """
    ints = np.zeros((model.max_clones, 3), np.int64)
    reals = np.zeros((model.max_clones, 4), np.float64)
    meta = np.zeros(META_SIZE, np.int64)
    stack_ints = np.zeros((_STACK_SIZE, 3), np.int64)
    stack_start = np.zeros(_STACK_SIZE, np.float64)
    n_lines = model.line_drugs.shape[0]
    lethal = model.lethal_cells
    patient[P_CURED] = 0.0
    patient[P_LETHAL] = 0.0
    if model.start_cells.shape[0] == 0:
        while True:
            meta[USED] = 0
            founder = clone_slot(model, ints, reals, meta, np.int64(0), np.int64(-1), -1, 0.0)
            ints[founder, CELLS] = 1
            t, reason = advance(
                state,
                model,
                ints,
                reals,
                meta,
                stack_ints,
                stack_start,
                -1,
                0.0,
                np.inf,
                model.detection_cells,
            )
            if reason == _REACHED_THRESHOLD:
                break
        patient[P_DAYS_TO_DETECTION] = t
    else:
        for i in range(model.start_cells.shape[0]):
            genotype = model.start_genotypes[i]
            c = clone_slot(model, ints, reals, meta, genotype, np.int64(-1), -1, 0.0)
            ints[c, CELLS] += model.start_cells[i]
        t = 0.0
    origin = t
    horizon = origin + model.horizon_days
    total = total_cells(ints, meta)
    patient[P_CELLS_AT_START] = total
    resistant = 0
    for c in range(meta[USED]):
        if ints[c, GENOTYPE] != 0:
            resistant += ints[c, CELLS]
    patient[P_RESISTANT_AT_START] = resistant
    _snapshot(ints, reals, meta, 0, 0.0, origin, snap_day, snap_cells, snap_first)
    row = _trace(ints, meta, 0, 0.0, 1 if n_lines > 0 else 0, trace_day, trace_line, trace_cells)
    refractory = False
    line = 0 if n_lines > 0 else -1
    line_open = n_lines > 0
    line_start = t
    baseline = float(total)
    nadir = baseline
    best = RESPONSE_NONE
    next_scan = t + model.scan_every_days
    end_reason = END_HORIZON
    if n_lines > 0 or model.start_cells.shape[0] > 0:
        for c in range(meta[USED]):
            set_rates(model, ints, reals, c, line)
        if line_open:
            lines[0, L_START_DAY] = 0.0
            lines[0, L_PROGRESSED] = 0.0
        while True:
            t, reason = advance(
                state,
                model,
                ints,
                reals,
                meta,
                stack_ints,
                stack_start,
                line,
                t,
                min(next_scan, horizon),
                lethal,
            )
            if reason == _EXTINCT:
                patient[P_CURED] = 1.0
                end_reason = END_CURED
                break
            if reason == _REACHED_THRESHOLD:
                patient[P_LETHAL] = 1.0
                patient[P_DAYS_TO_LETHAL] = t - origin
                end_reason = END_LETHAL
                if line_open:
                    lines[line, L_PROGRESSED] = 1.0
                    lines[line, L_DAYS_TO_PROGRESSION] = t - line_start
                    refractory = True
                    patient[P_DAYS_TO_REFRACTORY] = t - origin
                break
            if t >= horizon:
                end_reason = END_HORIZON
                break
            next_scan += model.scan_every_days
            row = _trace(ints, meta, row, t - origin, line + 1, trace_day, trace_line, trace_cells)
            if not line_open:
                continue
            total = total_cells(ints, meta)
            measured = float(total) if total >= model.visible_cells else 0.0
            if measured > 0.0 and measured > (1.0 + model.progression_increase) * nadir:
                if best == RESPONSE_NONE:
                    best = RESPONSE_PD
                lines[line, L_BEST_RESPONSE] = best
                lines[line, L_PROGRESSED] = 1.0
                lines[line, L_DAYS_TO_PROGRESSION] = t - line_start
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
                if line == n_lines - 1:
                    refractory = True
                    line_open = False
                    patient[P_DAYS_TO_REFRACTORY] = t - origin
                    continue
                line += 1
                for c in range(meta[USED]):
                    set_rates(model, ints, reals, c, line)
                line_start = t
                baseline = measured
                nadir = measured
                best = RESPONSE_NONE
                lines[line, L_START_DAY] = t - origin
                lines[line, L_PROGRESSED] = 0.0
                continue
            category = _category(measured, baseline, model.partial_response_decrease)
            if best == RESPONSE_NONE or category < best:
                best = category
            nadir = min(nadir, measured)
        if line_open:
            if end_reason == END_CURED:
                best = RESPONSE_CR
            elif end_reason == END_LETHAL and best == RESPONSE_NONE:
                best = RESPONSE_PD
            lines[line, L_BEST_RESPONSE] = best
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
):
    """Simulate ``states.shape[0]`` patients in parallel, each on its own generator state.

    Outputs are preallocated by the caller (NaN or -1 filled) with a leading patient axis;
    the trace arrays cover the first ``trace_day.shape[0]`` patients only. Each patient
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
                patients[p],
                lines[p],
                snap_day[p],
                snap_cells[p],
                snap_first[p],
                genotypes[p],
                trace_day[p],
                trace_line[p],
                trace_cells[p],
            )
        else:
            simulate_patient(
                states[p],
                model,
                patients[p],
                lines[p],
                snap_day[p],
                snap_cells[p],
                snap_first[p],
                genotypes[p],
                no_day,
                no_line,
                no_cells,
            )
