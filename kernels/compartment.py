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


class Clones(NamedTuple):
    """One patient's clone table and mutant stack (allocated once per patient in the kernel)."""

    genotype: np.ndarray  # (C,) int64 bitmask of mechanisms
    cells: np.ndarray  # (C,) int64
    first_seen: np.ndarray  # (C,) float64: absolute day the living lineage first arose
    birth: np.ndarray  # (C,) birth rate under the current line
    death: np.ndarray  # (C,) death rate under the current line
    mutation: np.ndarray  # (C,) probability that a division yields a new mechanism
    used: np.ndarray  # (1,) number of slots in use
    overflow: np.ndarray  # (1,) set to 1 if a genotype or a mutant group found no room
    work: np.ndarray  # (2,) exact transitions drawn, single-cell events simulated
    stack_top: np.ndarray  # (1,) number of pending mutant groups
    stack_genotype: np.ndarray  # (S,) pending mutant groups inside the current step
    stack_start: np.ndarray  # (S,) offset inside the step where the group arises
    stack_cells: np.ndarray  # (S,) group size


@njit(cache=True)
def new_clones(max_clones):
    """An empty clone table with room for ``max_clones`` genotypes."""
    return Clones(
        np.zeros(max_clones, np.int64),
        np.zeros(max_clones, np.int64),
        np.zeros(max_clones, np.float64),
        np.zeros(max_clones, np.float64),
        np.zeros(max_clones, np.float64),
        np.zeros(max_clones, np.float64),
        np.zeros(1, np.int64),
        np.zeros(1, np.int64),
        np.zeros(2, np.int64),
        np.zeros(1, np.int64),
        np.zeros(_STACK_SIZE, np.int64),
        np.zeros(_STACK_SIZE, np.float64),
        np.zeros(_STACK_SIZE, np.int64),
    )


@njit(cache=True)
def clone_slot(model, clones, genotype, line, now):
    """Index of the genotype's slot, creating it with rates for ``line`` if new; -1 if full.

    ``now`` is when cells of this genotype arise: it becomes the first-seen day of a lineage
    that was absent, and can only move earlier for one that is alive.
    """
    used = clones.used[0]
    for c in range(used):
        if clones.genotype[c] == genotype:
            if clones.cells[c] == 0 or now < clones.first_seen[c]:
                clones.first_seen[c] = now
            return c
    if used == clones.genotype.shape[0]:
        clones.overflow[0] = 1
        return -1
    b, d, u = genotype_rates(model, genotype, line)
    clones.genotype[used] = genotype
    clones.cells[used] = 0
    clones.first_seen[used] = now
    clones.birth[used] = b
    clones.death[used] = d
    clones.mutation[used] = u
    clones.used[0] = used + 1
    return used


@njit(cache=True)
def set_line(model, clones, line):
    """Re-evaluate every clone's rates for a new line (-1: untreated)."""
    for c in range(clones.used[0]):
        b, d, u = genotype_rates(model, clones.genotype[c], line)
        clones.birth[c] = b
        clones.death[c] = d
        clones.mutation[c] = u


@njit(cache=True)
def total_cells(clones):
    """Cells in all clones."""
    total = 0
    for c in range(clones.used[0]):
        total += clones.cells[c]
    return total


@njit(cache=True)
def _gained_mechanism(model, genotype, u):
    """The mechanism a mutant daughter gains, given a uniform ``u`` below the total rate."""
    acc = 0.0
    last = -1
    for i in range(model.mutation_rate.shape[0]):
        if (genotype >> i) & 1 or model.mutation_rate[i] == 0.0:
            continue
        last = i
        acc += model.mutation_rate[i]
        if u < acc:
            return i
    return last


@njit(cache=True)
def ssa_advance(state, model, clones, line, t, t_stop, threshold):
    """Gillespie direct method until ``t_stop``, extinction, ``threshold`` or ``exact_below``.

    Exact, one event at a time (O(clones) per event); stops on the very event that reaches
    the threshold. Returns (time, reason).
    """
    total = total_cells(clones)
    while True:
        if total == 0:
            return t, _EXTINCT
        if total >= threshold:
            return t, _REACHED_THRESHOLD
        if total >= model.exact_below:
            return t, _REACHED_STOP
        rate = 0.0
        for c in range(clones.used[0]):
            rate += (clones.birth[c] + clones.death[c]) * clones.cells[c]
        if rate <= 0.0:
            return t_stop, _REACHED_STOP
        t_next = t + exponential(state) / rate
        if t_next >= t_stop:
            return t_stop, _REACHED_STOP
        t = t_next
        clones.work[1] += 1
        target = uniform(state) * rate
        chosen = -1
        for c in range(clones.used[0]):
            weight = (clones.birth[c] + clones.death[c]) * clones.cells[c]
            if weight > 0.0:
                chosen = c
                if target < weight:
                    break
                target -= weight
        if target < clones.death[chosen] * clones.cells[chosen]:
            clones.cells[chosen] -= 1
            total -= 1
            continue
        u = uniform(state)
        if u < clones.mutation[chosen]:
            genotype = clones.genotype[chosen]
            child = genotype | (np.int64(1) << _gained_mechanism(model, genotype, u))
            s = clone_slot(model, clones, child, line, t)
            if s < 0:
                continue
            clones.cells[s] += 1
        else:
            clones.cells[chosen] += 1
        total += 1


@njit(cache=True)
def _push(clones, genotype, start, cells):
    """Queue a group of ``cells`` new mutants of ``genotype`` arising at ``start`` in the step."""
    top = clones.stack_top[0]
    if top == clones.stack_cells.shape[0]:
        clones.overflow[0] = 1
        return
    clones.stack_genotype[top] = genotype
    clones.stack_start[top] = start
    clones.stack_cells[top] = cells
    clones.stack_top[0] = top + 1


@njit(cache=True)
def _bin_time(span, net_rate, j, bins):
    """Median arrival time in bin j of ``bins`` equal-probability bins of density ~ e^(r s)."""
    q = (j + 0.5) / bins
    x = net_rate * span
    if abs(x) < 1e-9:
        return q * span
    return math.log1p(q * math.expm1(x)) / net_rate


@njit(cache=True)
def _push_mutants(state, model, clones, genotype, divisions, net_rate, offset, span):
    """Draw a lineage's mutants over [offset, offset + span) and queue them.

    ``divisions`` is the expected number of divisions of the lineage over the interval; each
    mechanism it lacks arises Poisson(u x divisions) times, at times with density
    proportional to the lineage's size (e^(net_rate s)). More than ``mutant_bins`` mutants of
    one kind are grouped into that many equal-probability arrival-time bins (multinomial
    counts), so a step costs O(bins) however many mutants a huge clone makes.
    """
    bins = model.mutant_bins
    for i in range(model.mutation_rate.shape[0]):
        if (genotype >> i) & 1 or model.mutation_rate[i] == 0.0:
            continue
        count = poisson(state, model.mutation_rate[i] * divisions)
        child = genotype | (np.int64(1) << i)
        if count <= bins:
            for _ in range(count):
                _push(clones, child, offset + mutation_time(state, span, net_rate), 1)
            continue
        remaining = count
        for j in range(bins):
            group = remaining if j == bins - 1 else binomial(state, remaining, 1.0 / (bins - j))
            remaining -= group
            if group > 0:
                _push(clones, child, offset + _bin_time(span, net_rate, j, bins), group)


@njit(cache=True)
def _grow(state, model, clones, c, cells, span):
    """Exact birth-death transition of ``cells`` cells of clone c over ``span``; queue mutants.

    A division yields a mutant daughter with probability ``mutation``: the lineage itself grows
    with birth rate b (1 - u) and emits mutants at rate b u times its size.
    """
    b = clones.birth[c]
    d = clones.death[c]
    keep = b * (1.0 - clones.mutation[c])
    end = transition(state, cells, keep, d, span)
    clones.work[0] += 1
    divisions = b * log_mean(float(cells), float(end)) * span
    return end, divisions, keep - d


@njit(cache=True)
def tau_step(state, model, clones, line, t, dt):
    """Advance every clone by the exact transition over ``dt`` with mutants placed inside."""
    clones.stack_top[0] = 0
    for c in range(clones.used[0]):
        if clones.cells[c] == 0:
            continue
        end, divisions, net = _grow(state, model, clones, c, clones.cells[c], dt)
        clones.cells[c] = end
        _push_mutants(state, model, clones, clones.genotype[c], divisions, net, 0.0, dt)
    while clones.stack_top[0] > 0:
        top = clones.stack_top[0] - 1
        clones.stack_top[0] = top
        genotype = clones.stack_genotype[top]
        start = clones.stack_start[top]
        span = dt - start
        c = clone_slot(model, clones, genotype, line, t + start)
        if c < 0:
            continue
        end, divisions, net = _grow(state, model, clones, c, clones.stack_cells[top], span)
        clones.cells[c] += end
        _push_mutants(state, model, clones, genotype, divisions, net, start, span)


@njit(cache=True)
def _step_length(model, clones, total, t, t_stop, threshold):
    """Longest step allowed: to ``t_stop``; growing clones grow by at most ``max_log_growth``
    and shrinking ones by at most a factor e in log; near the threshold, a step aimed at
    landing just above it."""
    dt = t_stop - t
    growth = 0.0
    decline = 0.0
    net = 0.0
    for c in range(clones.used[0]):
        if clones.cells[c] == 0:
            continue
        rate = clones.birth[c] * (1.0 - clones.mutation[c]) - clones.death[c]
        growth = max(growth, rate)
        decline = max(decline, -rate)
        net += rate * clones.cells[c]
    net /= total
    if growth > 0.0:
        dt = min(dt, model.max_log_growth / growth)
    if decline > 0.0:
        dt = min(dt, 1.0 / decline)
    if net > 0.0 and threshold < np.inf:
        aim = threshold * (1.0 + 0.5 * model.threshold_tolerance)
        dt = min(dt, math.log(aim / total) / net)
    return dt


@njit(cache=True)
def advance(state, model, clones, line, t, t_stop, threshold):
    """Run the tumour from ``t`` to ``t_stop`` or until extinction or ``threshold`` cells.

    Event by event below ``exact_below`` cells, exact transitions above. Returns
    (time, reason) with reason one of reached-stop, reached-threshold, extinct.
    """
    while True:
        total = total_cells(clones)
        if total == 0:
            return t, _EXTINCT
        if total >= threshold:
            return t, _REACHED_THRESHOLD
        if t >= t_stop:
            return t_stop, _REACHED_STOP
        if total < model.exact_below:
            t, reason = ssa_advance(state, model, clones, line, t, t_stop, threshold)
            if reason != _REACHED_STOP:
                return t, reason
            continue
        dt = _step_length(model, clones, total, t, t_stop, threshold)
        tau_step(state, model, clones, line, t, dt)
        t = t_stop if t_stop - t <= dt else t + dt


@njit(cache=True)
def _snapshot(clones, moment, day, origin, snap_day, snap_cells, snap_first):
    """Record clone sizes and first-seen days (relative to ``origin``) at an output moment."""
    snap_day[moment] = day
    for c in range(clones.used[0]):
        snap_cells[moment, c] = clones.cells[c]
        snap_first[moment, c] = clones.first_seen[c] - origin


@njit(cache=True)
def _grow_to_detection(state, model, clones):
    """Grow from one sensitive cell until the total reaches detection; restart on extinction.

    Returns the day of detection, counted from the founder cell of the surviving attempt.
    """
    while True:
        clones.used[0] = 0
        founder = clone_slot(model, clones, np.int64(0), -1, 0.0)
        clones.cells[founder] = 1
        t, reason = advance(state, model, clones, -1, 0.0, np.inf, model.detection_cells)
        if reason == _REACHED_THRESHOLD:
            return t


@njit(cache=True)
def _category(measured, baseline, model):
    if measured == 0.0:
        return RESPONSE_CR
    if measured <= (1.0 - model.partial_response_decrease) * baseline:
        return RESPONSE_PR
    return RESPONSE_SD


@njit(cache=True)
def simulate_patient(state, model, patient, lines, snap_day, snap_cells, snap_first, genotypes):
    """Simulate one patient from the first cell (or the given clones) to cure, death or horizon.

    Writes the patient row (P_* columns), one row per line (L_* columns), clone snapshots at
    treatment start (moment 0), at each line's progression (moment l + 1) and at the end
    (last moment), and the genotype of each clone slot. Days count from treatment start.
    """
    clones = new_clones(model.max_clones)
    n_lines = model.line_drugs.shape[0]
    patient[P_CURED] = 0.0
    patient[P_LETHAL] = 0.0
    if model.start_cells.shape[0] == 0:
        t = _grow_to_detection(state, model, clones)
        patient[P_DAYS_TO_DETECTION] = t
    else:
        for i in range(model.start_cells.shape[0]):
            c = clone_slot(model, clones, model.start_genotypes[i], -1, 0.0)
            clones.cells[c] += model.start_cells[i]
        t = 0.0
    origin = t
    horizon = origin + model.horizon_days
    total = total_cells(clones)
    patient[P_CELLS_AT_START] = total
    resistant = 0
    for c in range(clones.used[0]):
        if clones.genotype[c] != 0:
            resistant += clones.cells[c]
    patient[P_RESISTANT_AT_START] = resistant
    _snapshot(clones, 0, 0.0, origin, snap_day, snap_cells, snap_first)
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
        set_line(model, clones, line)
        if line_open:
            lines[0, L_START_DAY] = 0.0
            lines[0, L_PROGRESSED] = 0.0
        while True:
            t, reason = advance(
                state, model, clones, line, t, min(next_scan, horizon), model.lethal_cells
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
            if refractory or line < 0:
                continue
            total = total_cells(clones)
            measured = float(total) if total >= model.visible_cells else 0.0
            if measured > 0.0 and measured > (1.0 + model.progression_increase) * nadir:
                if best == RESPONSE_NONE:
                    best = RESPONSE_PD
                lines[line, L_BEST_RESPONSE] = best
                lines[line, L_PROGRESSED] = 1.0
                lines[line, L_DAYS_TO_PROGRESSION] = t - line_start
                lines[line, L_END_DAY] = t - origin
                lines[line, L_END_REASON] = END_PROGRESSION
                _snapshot(clones, line + 1, t - origin, origin, snap_day, snap_cells, snap_first)
                if line == n_lines - 1:
                    refractory = True
                    line_open = False
                    patient[P_DAYS_TO_REFRACTORY] = t - origin
                    continue
                line += 1
                set_line(model, clones, line)
                line_start = t
                baseline = measured
                nadir = measured
                best = RESPONSE_NONE
                lines[line, L_START_DAY] = t - origin
                lines[line, L_PROGRESSED] = 0.0
                continue
            category = _category(measured, baseline, model)
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
    total = total_cells(clones)
    patient[P_REFRACTORY] = 1.0 if refractory else 0.0
    patient[P_CELLS_AT_END] = total
    patient[P_LINES_RECEIVED] = line + 1
    patient[P_END_DAY] = t - origin
    patient[P_OVERFLOW] = clones.overflow[0]
    patient[P_CLONE_STEPS] = clones.work[0]
    patient[P_EVENTS] = clones.work[1]
    _snapshot(clones, snap_day.shape[0] - 1, t - origin, origin, snap_day, snap_cells, snap_first)
    for c in range(clones.used[0]):
        genotypes[c] = clones.genotype[c]


@njit(cache=True, parallel=True)
def simulate_batch(states, model, patients, lines, snap_day, snap_cells, snap_first, genotypes):
    """Simulate ``states.shape[0]`` patients in parallel, each on its own generator state.

    Outputs are preallocated by the caller (NaN or -1 filled) with a leading patient axis;
    each patient writes only its own rows, so results do not depend on the thread count.
    """
    for p in prange(states.shape[0]):
        simulate_patient(
            states[p],
            model,
            patients[p],
            lines[p],
            snap_day[p],
            snap_cells[p],
            snap_first[p],
            genotypes[p],
        )
