"""A patient's clone table and the exact event-by-event (Gillespie) simulation on it.

Clones are kept by genotype (a bitmask of mechanisms, with the site and phenotype bits of
kernels.model). Small tumours advance one event at a time here; larger ones by the
compartment engine's exact transitions.
"""

import numpy as np
from numba import njit

from refractory.kernels.model import (
    EXTINCT,
    PERSISTER,
    REACHED_STOP,
    REACHED_THRESHOLD,
    SANCTUARY,
    exposed_rates,
    switch_rates,
)
from refractory.kernels.random import exponential, uniform

# The clone table is three plain arrays (a tuple of arrays costs reference counting at every
# call that numba does not inline): ``ints`` (C, 3) genotype, cells and the parent genotype
# that first gave rise to it (-1: an initial clone); ``reals`` (C, REAL_COLUMNS) first-seen
# day, then per cell under the current exposure: birth and death rates, mutation probability
# per division, migration and phenotype-switching rates, the sum of the four rates, and the
# part of the death rate that scales with crowding, at no crowding (kernels.model);
# ``meta`` counters (LABELLED: the agent engine gave its cells barcodes). Pending groups of
# new cells inside a step: ``stack_ints`` (S, 4) genotype, cells, parent genotype and how
# many moves (migrations, switches) they made in it, ``stack_start`` (S,) their offset
# inside the step.
GENOTYPE, CELLS, PARENT, MOVED = 0, 1, 2, 3
FIRST_SEEN, BIRTH, DEATH, MUTATION, MIGRATE, SWITCH, RATE, CROWDED = 0, 1, 2, 3, 4, 5, 6, 7
REAL_COLUMNS = 8
USED, OVERFLOW, CLONE_STEPS, EVENTS, STACK_TOP, LABELLED = 0, 1, 2, 3, 4, 5
META_SIZE = 6
# What a cell does at an event.
DIVIDES, DIES, MIGRATES, SWITCHES = 0, 1, 2, 3


@njit(cache=True)
def at(i):
    """The index ``i`` (>= 0) as unsigned: numba then compiles no wraparound of negative
    indices, which costs measurably at every event of the event loops."""
    return np.uint64(i)


@njit(cache=True)
def new_table(slots):
    """An empty clone table of ``slots`` slots: (ints, reals, meta) as laid out above."""
    ints = np.zeros((slots, 3), np.int64)
    return ints, np.zeros((slots, REAL_COLUMNS), np.float64), np.zeros(META_SIZE, np.int64)


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def set_rates(model, ints, reals, c, exposure):
    """Rates of slot c under ``exposure`` (see kernels.model.PatientModel)."""
    b, d, u, crowded = exposed_rates(model, ints[c, GENOTYPE], exposure)
    m, s = switch_rates(model, ints[c, GENOTYPE], exposure)
    reals[c, BIRTH] = b
    reals[c, DEATH] = d
    reals[c, MUTATION] = u
    reals[c, MIGRATE] = m
    reals[c, SWITCH] = s
    reals[c, RATE] = b + d + m + s
    reals[c, CROWDED] = crowded


@njit(cache=True, _nrt=False)
def clone_slot(model, ints, reals, meta, genotype, parent, exposure, now):
    """Index of the genotype's slot, created with rates under ``exposure`` if new; -1 if full."""
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
    set_rates(model, ints, reals, c, exposure)
    meta[USED] = c + 1
    return c


@njit(cache=True, _nrt=False)
def total_cells(ints, meta):
    """Cells in all clones."""
    total = 0
    for c in range(meta[USED]):
        total += ints[c, CELLS]
    return total


@njit(cache=True, _nrt=False)
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


@njit(cache=True, inline="always")
def next_event(state, ints, reals, used, t, t_stop, factor):
    """Gillespie's direct method: the time of the next event, its clone, and what its cell does
    (DIVIDES, DIES, MIGRATES or SWITCHES), from the clones' total rates (RATE) and their death
    rates with the crowding-scaled part at the crowding ``factor`` (see ``crowd``).

    Returns (t_stop, -1, DIVIDES) when no event happens before ``t_stop``. Shared by the
    clone-table simulation below and the agent engine (Gillespie 1977, J. Phys. Chem. 81:2340).
    """
    rate = 0.0
    for c in range(used):
        rate += reals[c, RATE] * ints[c, CELLS]
    if rate <= 0.0:
        return t_stop, -1, DIVIDES
    t_next = t + exponential(state) / rate
    if t_next >= t_stop:
        return t_stop, -1, DIVIDES
    target = uniform(state) * rate
    chosen = -1
    for c in range(used):
        weight = reals[c, RATE] * ints[c, CELLS]
        if weight > 0.0:
            chosen = c
            if target < weight:
                break
            target -= weight
    k = at(chosen)
    n = ints[k, CELLS]
    death = reals[k, DEATH]
    if factor != 1.0:  # (1 - factor) x the finite crowded part is 0 otherwise: the same value
        death -= reals[k, CROWDED] * (1.0 - factor)
    dies = death * n
    if target < dies:
        return t_next, chosen, DIES
    target -= dies
    migrates = reals[k, MIGRATE] * n
    if target < migrates:
        return t_next, chosen, MIGRATES
    if target - migrates < reals[k, SWITCH] * n:
        return t_next, chosen, SWITCHES
    return t_next, chosen, DIVIDES


@njit(cache=True, inline="always")
def daughter_genotype(state, mutation_rate, ints, reals, parent):
    """Genotype of the new daughter of a division in slot ``parent``: -1 for the parent's
    own, else (with the parent's total mutation probability) a mutant genotype."""
    u = uniform(state)
    if u >= reals[at(parent), MUTATION]:
        return np.int64(-1)
    genotype = ints[at(parent), GENOTYPE]
    return genotype | (np.int64(1) << gained_mechanism(mutation_rate, genotype, u))


@njit(cache=True, inline="always")
def receiving_slot(state, model, ints, reals, meta, exposure, chosen, kind, t):
    """Slot that receives the cell an event in slot ``chosen`` makes or moves: for a division
    the parent's own or (with its mutation probability) a mutant's; for a migration or a
    switch the slot of the other site or phenotype; -1 if the table is full. Inlined into
    loops compiled without reference counting, so passing the model costs nothing."""
    genotype = ints[at(chosen), GENOTYPE]
    if kind == DIVIDES:
        target = daughter_genotype(state, model.mutation_rate, ints, reals, chosen)
        if target < 0:
            return chosen
    else:
        target = genotype ^ (SANCTUARY if kind == MIGRATES else PERSISTER)
    return clone_slot(model, ints, reals, meta, target, genotype, exposure, t)


@njit(cache=True, inline="always")
def crowd(reals, used, capacity, total):
    """Under competition (a finite ``capacity``), set every clone's total rate with its birth
    rate and its crowding-scaled death (which must be those without competition) times the
    crowding factor at ``total`` cells; called before every event, it makes competition exact.
    Returns the factor (1 without competition)."""
    if capacity == np.inf:
        return 1.0
    factor = max(1.0 - total / capacity, 0.0)
    for c in range(used):
        death = reals[c, DEATH] - reals[c, CROWDED] * (1.0 - factor)
        reals[c, RATE] = reals[c, BIRTH] * factor + death + reals[c, MIGRATE]
        reals[c, RATE] += reals[c, SWITCH]
    return factor


@njit(cache=True, _nrt=False)
def ssa_advance(state, model, ints, reals, meta, exposure, t, t_stop, threshold):
    """Gillespie direct method until ``t_stop``, extinction, ``threshold`` or ``exact_below``.

    Exact, one event at a time (O(clones) per event), with competition applied at every event
    (the clones' birth rates must be those without it); stops on the very event that reaches
    the threshold. Returns (time, reason).
    """
    capacity = model.carrying_capacity
    if capacity == np.inf:  # the loop inlined with the constant: no crowding code in it
        return _ssa_events(state, model, ints, reals, meta, exposure, t, t_stop, threshold, np.inf)
    return _ssa_events(state, model, ints, reals, meta, exposure, t, t_stop, threshold, capacity)


@njit(cache=True, inline="always")
def _ssa_events(state, model, ints, reals, meta, exposure, t, t_stop, threshold, capacity):
    """The event loop of ``ssa_advance`` at carrying ``capacity`` (inf: no competition)."""
    total = total_cells(ints, meta)
    exact_below = model.exact_below
    events = 0  # counted locally, stored once: a store per event costs measurably
    while True:
        if total == 0:
            reason = EXTINCT
            break
        if total >= threshold:
            reason = REACHED_THRESHOLD
            break
        if total >= exact_below:
            reason = REACHED_STOP
            break
        factor = crowd(reals, meta[USED], capacity, total)
        t, chosen, kind = next_event(state, ints, reals, meta[USED], t, t_stop, factor)
        if chosen < 0:
            t, reason = t_stop, REACHED_STOP
            break
        events += 1
        if kind == DIES:
            ints[at(chosen), CELLS] -= 1
            total -= 1
            continue
        s = receiving_slot(state, model, ints, reals, meta, exposure, chosen, kind, t)
        if s < 0:
            continue
        ints[at(s), CELLS] += 1
        if kind == DIVIDES:
            total += 1
        else:  # a move: the cell leaves its slot
            ints[at(chosen), CELLS] -= 1
    meta[EVENTS] += events
    return t, reason
