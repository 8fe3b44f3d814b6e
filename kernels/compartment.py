"""The compartment engine: every clone advances by the exact birth-death transition per step.

Each clone's count after a step is drawn from the exact linear birth-death law (binomial
survivors, negative-binomial growth), so a clone of 1e11 cells costs the same as one of 10.
New mutants are placed inside the step in proportion to the parent's size and grown exactly
to its end; so are cells that migrate between sites or switch phenotype, which leave their
clone as if they died and found (or join) the clone of their new state. Cells move at most
``MOVES_PER_STEP`` times within one step, and steps are kept short enough that a cell moves
with probability at most ``max_switch_step`` per step, so the share of cells in each state
is off by a relative error of order ``max_switch_step`` squared. Below ``exact_below`` cells
the tumour advances event by event (kernels.clones).
"""

import math

import numpy as np
from numba import njit

from refractory.kernels.birth_death import log_mean, mutation_time, transition
from refractory.kernels.clones import (
    BIRTH,
    CELLS,
    CLONE_STEPS,
    CROWDED,
    DEATH,
    GENOTYPE,
    MIGRATE,
    MOVED,
    MUTATION,
    OVERFLOW,
    PARENT,
    STACK_TOP,
    SWITCH,
    USED,
    clone_slot,
    find_slot,
    set_rates,
    ssa_advance,
    total_cells,
)
from refractory.kernels.model import EXTINCT, PERSISTER, REACHED_STOP, REACHED_THRESHOLD, SANCTUARY
from refractory.kernels.random import binomial, poisson

#: Moves (migration or phenotype switch) a cell can make within one step: there and back.
MOVES_PER_STEP = 2
#: Arrival-time groups of the cells that move within a step, when more than ``mutant_bins``
#: move: one, at the median arrival time (the move rates keep a step's moves a small share of
#: the clone, so the timing within the step matters to second order only).
MOVE_GROUPS = 1


@njit(cache=True)
def new_stack(size):
    """Room for ``size`` pending groups of new cells: (stack_ints, stack_start)."""
    return np.empty((size, 4), np.int64), np.empty(size, np.float64)


@njit(cache=True, _nrt=False)
def _push(stack_ints, stack_start, meta, genotype, parent, moved, start, cells):
    """Queue a group of ``cells`` new cells of ``genotype`` arising at ``start`` in the step."""
    top = meta[STACK_TOP]
    if top == stack_ints.shape[0]:
        meta[OVERFLOW] = 1
        return
    stack_ints[top, GENOTYPE] = genotype
    stack_ints[top, CELLS] = cells
    stack_ints[top, PARENT] = parent
    stack_ints[top, MOVED] = moved
    stack_start[top] = start
    meta[STACK_TOP] = top + 1


@njit(cache=True, _nrt=False)
def bin_time(span, net_rate, j, bins):
    """Median arrival time in bin j of ``bins`` equal-probability bins of density ~ e^(r s)."""
    q = (j + 0.5) / bins
    x = net_rate * span
    if abs(x) < 1e-9:
        return q * span
    return math.log1p(q * math.expm1(x)) / net_rate


@njit(cache=True, _nrt=False)
def _push_arrivals(
    state,
    bins,
    groups,
    stack_ints,
    stack_start,
    meta,
    child,
    parent,
    moved,
    count,
    net_rate,
    offset,
    span,
):
    """Queue ``count`` new cells of ``child`` arising over [offset, offset + span) at times of
    density proportional to the parent lineage's size (e^(net_rate s)). Up to ``bins`` cells
    arrive at their own times; more are grouped into ``groups`` equal-probability
    arrival-time bins (multinomial counts), so a step costs O(groups) however many cells a
    huge clone gives off."""
    if count <= bins:
        for _ in range(count):
            start = offset + mutation_time(state, span, net_rate)
            _push(stack_ints, stack_start, meta, child, parent, moved, start, 1)
        return
    remaining = count
    for j in range(groups):
        group = remaining if j == groups - 1 else binomial(state, remaining, 1.0 / (groups - j))
        remaining -= group
        if group > 0:
            start = offset + bin_time(span, net_rate, j, groups)
            _push(stack_ints, stack_start, meta, child, parent, moved, start, group)


@njit(cache=True, _nrt=False)
def _push_offspring(
    state,
    mutation_rate,
    bins,
    stack_ints,
    stack_start,
    meta,
    reals,
    c,
    genotype,
    moved,
    exposure_days,
    net_rate,
    offset,
    span,
):
    """Draw what a lineage gives off over [offset, offset + span) and queue it.

    ``exposure_days`` is the integral of the lineage's size over the interval (cell-days).
    Each mechanism it lacks arises Poisson(b u_i x cell-days) times in mutant daughters; unless
    the lineage's cells already moved ``MOVES_PER_STEP`` times in this step (``moved``),
    Poisson(rate x cell-days) cells migrate and switch. The lineage's rates are those of
    clone slot c.
    """
    divisions = reals[c, BIRTH] * exposure_days
    for i in range(mutation_rate.shape[0]):
        if (genotype >> i) & 1 or mutation_rate[i] == 0.0:
            continue
        count = poisson(state, mutation_rate[i] * divisions)
        child = genotype | (np.int64(1) << i)
        _push_arrivals(
            state,
            bins,
            bins,
            stack_ints,
            stack_start,
            meta,
            child,
            genotype,
            moved,
            count,
            net_rate,
            offset,
            span,
        )
    if moved >= MOVES_PER_STEP:
        return
    for column, bit in ((MIGRATE, SANCTUARY), (SWITCH, PERSISTER)):
        if reals[c, column] > 0.0:
            count = poisson(state, reals[c, column] * exposure_days)
            _push_arrivals(
                state,
                bins,
                MOVE_GROUPS,
                stack_ints,
                stack_start,
                meta,
                genotype ^ bit,
                genotype,
                moved + 1,
                count,
                net_rate,
                offset,
                span,
            )


@njit(cache=True, _nrt=False)
def _grow(state, reals, meta, c, cells, span, moved):
    """Exact birth-death transition of ``cells`` cells of clone c over ``span``.

    A division yields a mutant daughter with probability u, and a cell leaves by migrating or
    switching at their rates (unless it already moved ``MOVES_PER_STEP`` times in the step):
    the lineage itself grows with birth rate b (1 - u) and death rate d + migration +
    switching. Returns the new count, the integral of the lineage's size over the span
    (cell-days) and its net growth rate.
    """
    keep = reals[c, BIRTH] * (1.0 - reals[c, MUTATION])
    lose = reals[c, DEATH]
    if moved < MOVES_PER_STEP:
        lose += reals[c, MIGRATE] + reals[c, SWITCH]
    end = transition(state, cells, keep, lose, span)
    meta[CLONE_STEPS] += 1
    return end, log_mean(float(cells), float(end)) * span, keep - lose


@njit(cache=True, _nrt=False)
def tau_step(state, model, ints, reals, meta, stack_ints, stack_start, exposure, t, dt):
    """Advance every clone by the exact transition over ``dt`` with new cells placed inside:
    first each clone in turn, then the groups of new cells they gave off (last queued first),
    each grown and drawn from at one place in the loop (so the samplers compile once)."""
    mutation_rate = model.mutation_rate
    bins = model.mutant_bins
    meta[STACK_TOP] = 0
    clones = meta[USED]
    next_clone = 0
    while True:
        if next_clone < clones:  # the clones present at the start of the step
            c = next_clone
            next_clone += 1
            cells = ints[c, CELLS]
            if cells == 0:
                continue
            genotype = ints[c, GENOTYPE]
            start, moved, base = 0.0, 0, np.int64(0)
        elif meta[STACK_TOP] > 0:  # a group of new cells, in its clone from its start
            top = meta[STACK_TOP] - 1
            meta[STACK_TOP] = top
            genotype = stack_ints[top, GENOTYPE]
            start = stack_start[top]
            c = find_slot(ints, reals, meta, genotype, t + start)
            if c < 0:
                parent = stack_ints[top, PARENT]
                c = clone_slot(model, ints, reals, meta, genotype, parent, exposure, t + start)
                if c < 0:
                    continue
            cells = stack_ints[top, CELLS]
            moved = stack_ints[top, MOVED]
            base = ints[c, CELLS]
        else:
            return
        span = dt - start
        end, exposure_days, net = _grow(state, reals, meta, c, cells, span, moved)
        ints[c, CELLS] = base + end
        _push_offspring(
            state,
            mutation_rate,
            bins,
            stack_ints,
            stack_start,
            meta,
            reals,
            c,
            genotype,
            moved,
            exposure_days,
            net,
            start,
            span,
        )


@njit(cache=True, _nrt=False)
def _step_length(
    ints, reals, meta, total, dt, threshold, aim, max_log_growth, max_switch_step, max_total_change
):
    """Longest step allowed, up to ``dt``: growing clones grow by at most ``max_log_growth``
    and shrinking ones by at most a factor e; a cell migrates or switches with probability at
    most ``max_switch_step``; the total changes by at most ``max_total_change`` in log (inf:
    no limit); near the threshold, a step aimed at landing just above it (at ``aim`` cells)."""
    growth = 0.0
    decline = 0.0
    moves = 0.0
    net = _net_rate(ints, reals, meta, total)
    for c in range(meta[USED]):
        if ints[c, CELLS] == 0:
            continue
        move = reals[c, MIGRATE] + reals[c, SWITCH]
        rate = reals[c, BIRTH] * (1.0 - reals[c, MUTATION]) - reals[c, DEATH] - move
        growth = max(growth, rate)
        decline = max(decline, -rate)
        moves = max(moves, move)
    if growth > 0.0:
        dt = min(dt, max_log_growth / growth)
    if decline > 0.0:
        dt = min(dt, 1.0 / decline)
    if moves > 0.0:
        dt = min(dt, max_switch_step / moves)
    if net != 0.0 and max_total_change < np.inf:
        dt = min(dt, max_total_change / abs(net))
    if net > 0.0 and threshold < np.inf:
        dt = min(dt, math.log(aim / total) / net)
    return dt


@njit(cache=True, _nrt=False)
def _net_rate(ints, reals, meta, total):
    """Relative growth rate of the whole tumour under the clones' current rates (moves
    between states leave the total unchanged)."""
    net = 0.0
    for c in range(meta[USED]):
        cells = ints[c, CELLS]
        if cells > 0:
            net += (reals[c, BIRTH] * (1.0 - reals[c, MUTATION]) - reals[c, DEATH]) * cells
    return net / total


@njit(cache=True, _nrt=False)
def compete(model, ints, reals, meta, exposure, cells):
    """Set the birth factor of competition at a total of ``cells`` and every clone's rates.

    Returns the rate at which competition moves the total per extra cell, in size: the births
    it removes less the crowding-scaled deaths it spares (both before crowding) x cells / K.
    """
    factor = max(1.0 - cells / model.carrying_capacity, 0.0)
    exposure[exposure.shape[0] - 1] = factor
    births = 0.0
    spared = 0.0
    for c in range(meta[USED]):
        set_rates(model, ints, reals, c, exposure)
        births += reals[c, BIRTH] * ints[c, CELLS]
        spared += reals[c, CROWDED] * factor * ints[c, CELLS]
    if factor == 0.0:
        return 0.0
    return abs(births - spared) / factor / model.carrying_capacity


@njit(cache=True, _nrt=False)
def advance(
    state, model, ints, reals, meta, stack_ints, stack_start, exposure, t, t_stop, threshold
):
    """Run the tumour from ``t`` to ``t_stop`` or until extinction or ``threshold`` cells.

    Event by event below ``exact_below`` cells, exact transitions above. Under competition
    (a finite carrying capacity) birth is held constant within a step at its value for the
    total predicted at mid-step, steps change the total by at most ``max_total_change``, and
    last at most ``max_total_change`` of the time competition takes to pull the total back to
    its equilibrium (or the fluctuations around it would be too wide); event by event, it is
    exact (updated at every event). Returns (time, reason) with reason one of
    reached-stop, reached-threshold, extinct.
    """
    aim = threshold * (1.0 + 0.5 * model.threshold_tolerance)
    competing = model.carrying_capacity < np.inf
    while True:
        total = total_cells(ints, meta)
        if total == 0:
            return t, EXTINCT
        if total >= threshold:
            return t, REACHED_THRESHOLD
        if t >= t_stop:
            return t_stop, REACHED_STOP
        if total < model.exact_below:
            if competing:  # event by event, competition acts at every event
                compete(model, ints, reals, meta, exposure, 0.0)
            t, reason = ssa_advance(state, model, ints, reals, meta, exposure, t, t_stop, threshold)
            if reason != REACHED_STOP:
                return t, reason
            continue
        pull = 0.0
        if competing:
            pull = compete(model, ints, reals, meta, exposure, float(total))
        dt = _step_length(
            ints,
            reals,
            meta,
            total,
            t_stop - t,
            threshold,
            aim,
            model.max_log_growth,
            model.max_switch_step,
            model.max_total_change,
        )
        if pull > 0.0:  # the step holds birth constant: short against the pull's time scale
            dt = min(dt, model.max_total_change / pull)
        if competing:
            middle = total * math.exp(0.5 * dt * _net_rate(ints, reals, meta, total))
            compete(model, ints, reals, meta, exposure, middle)
        tau_step(state, model, ints, reals, meta, stack_ints, stack_start, exposure, t, dt)
        t = t_stop if t_stop - t <= dt else t + dt
