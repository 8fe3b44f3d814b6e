"""The agent engine: every cell is an agent, advanced by the exact Gillespie direct method.

A cell's genotype is its slot's; its barcode (none until the cells are labelled) is inherited
by its daughters. Each event picks a uniformly random cell of the chosen clone. The engine
keeps what the lineage outputs need in one of two layouts:

- counts: each slot's cells per barcode in a Fenwick tree (kernels.lineages, ``tree``), a
  few kilobytes per slot whatever the number of cells; used for tumours too large for the
  per-cell array to stay in the caches, with few barcodes (``EngineSettings.agent_lineages``,
  refractory.compile.lineage_columns);
- cells: one flat array of barcodes, grouped in blocks by clone slot: the cells of slot c are
  ``barcodes[starts[c]:starts[c + 1]]``. Adding or removing a cell moves one cell per later
  block (swap at the block edges), so an event costs O(clones), never O(cells), but reads a
  random cell of an array that leaves the caches at 1e6 cells.

Both draw the same random numbers, so the clone table ``ints`` (which the treatment policy
and the snapshots read as for the compartment engine) follows the same trajectory in both;
they differ only in which barcode the random cell carries, uniform either way. Reference:
Gillespie (1977), J. Phys. Chem. 81:2340 (direct method).
"""

import numpy as np
from numba import njit

from refractory.kernels import lineages
from refractory.kernels.clones import (
    CELLS,
    DIES,
    DIVIDES,
    EVENTS,
    GENOTYPE,
    LABELLED,
    OVERFLOW,
    USED,
    at,
    crowd,
    next_event,
    receiving_slot,
    total_cells,
)
from refractory.kernels.model import EXTINCT, MECHANISMS, REACHED_STOP, REACHED_THRESHOLD
from refractory.kernels.random import uniform


@njit(cache=True, _nrt=False)
def place_cells(ints, meta, barcodes, starts):
    """Lay out the clone table's cells as unlabelled blocks (after the table was set anew)."""
    meta[LABELLED] = 0
    if barcodes.shape[0] == 0:
        return
    position = 0
    for c in range(meta[USED]):
        starts[c] = position
        position += ints[c, CELLS]
    starts[meta[USED]] = position
    barcodes[:position] = -1


@njit(cache=True, _nrt=False)
def label_cells(ints, meta, barcodes, starts, tree):
    """Give every cell a distinct barcode 0 .. total - 1 in slot order, unless the cells are
    labelled (or no barcodes are kept). Flags an overflow if the tree has too few barcodes."""
    if meta[LABELLED] or (barcodes.shape[0] == 0 and tree.shape[0] == 0):
        return
    meta[LABELLED] = 1
    if tree.shape[0] > 0:
        if not lineages.label(ints, meta, tree):
            meta[OVERFLOW] = 1
        return
    for i in range(starts[meta[USED]]):
        barcodes[i] = i


@njit(cache=True, _nrt=False)
def snapshot_lineages(ints, meta, barcodes, starts, tree, moment, cells, resistant, mechanisms):
    """Per barcode at an output moment: its cells, those carrying any mechanism, and the
    union (bitwise or) of its cells' mechanisms. ``cells``, ``resistant``, ``mechanisms``
    are (moments, barcodes), zero-filled by the caller; unlabelled cells are not counted.
    Site and phenotype are states, not mechanisms: a persister is not a resistant cell."""
    if not meta[LABELLED]:
        return
    if tree.shape[0] > 0:
        lineages.snapshot(ints, meta, tree, moment, cells, resistant, mechanisms)
        return
    for c in range(meta[USED]):
        genotype = ints[c, GENOTYPE] & MECHANISMS
        for i in range(starts[c], starts[c + 1]):
            b = barcodes[i]
            if b < 0 or b >= cells.shape[1]:
                continue
            cells[moment, b] += 1
            if genotype != 0:
                resistant[moment, b] += 1
                mechanisms[moment, b] |= genotype


@njit(cache=True, inline="always")
def _add_cell(ints, meta, barcodes, starts, c, barcode):
    """Append a cell with ``barcode`` to block c: each later block's first cell moves to its
    end, opening a hole at the end of block c."""
    used = meta[USED]
    hole = starts[at(used)]
    for later in range(used - 1, c, -1):
        first = starts[at(later)]
        barcodes[at(hole)] = barcodes[at(first)]
        starts[at(later)] = first + 1
        hole = first
    barcodes[at(hole)] = barcode
    starts[at(used)] += 1
    ints[at(c), CELLS] += 1


@njit(cache=True, inline="always")
def _remove_cell(ints, meta, barcodes, starts, c, i):
    """Remove the cell at position i of block c: the block's last cell fills position i and
    each later block's last cell moves to the hole at its front."""
    used = meta[USED]
    hole = starts[at(c + 1)] - 1
    barcodes[at(i)] = barcodes[at(hole)]
    for later in range(c + 1, used):
        last = starts[at(later + 1)] - 1
        barcodes[at(hole)] = barcodes[at(last)]
        starts[at(later)] = hole
        hole = last
    starts[at(used)] -= 1
    ints[at(c), CELLS] -= 1


@njit(cache=True, inline="always")
def _cell_event(state, model, ints, reals, meta, barcodes, starts, exposure, chosen, kind, i, t):
    """Carry out an event of the cell at position i of slot ``chosen``'s block (the cells
    layout). Returns the change in the total."""
    if kind == DIES:
        _remove_cell(ints, meta, barcodes, starts, chosen, i)
        return -1
    used = meta[USED]
    s = receiving_slot(state, model, ints, reals, meta, exposure, chosen, kind, t)
    if s < 0:
        return 0
    if s == used:  # a new slot: its block starts empty at the end
        starts[at(s + 1)] = starts[at(s)]
    barcode = barcodes[at(i)]
    if kind != DIVIDES:  # a move: the cell leaves its block with its barcode
        _remove_cell(ints, meta, barcodes, starts, chosen, i)
    _add_cell(ints, meta, barcodes, starts, s, barcode)
    return 1 if kind == DIVIDES else 0


@njit(cache=True, inline="always")
def _counted_event(
    state, model, ints, reals, meta, tree, exposure, chosen, kind, k, t, step, tagged
):
    """Carry out an event of slot ``chosen``'s k-th cell in barcode order (the counts layout;
    ``tagged``: the cells have barcodes). Returns the change in the total."""
    barcode = lineages.find(tree, chosen, k, step) if tagged else np.int64(-1)
    if kind == DIES:
        ints[at(chosen), CELLS] -= 1
        if tagged:
            lineages.add(tree, chosen, barcode, -1, step)
        return -1
    used = meta[USED]
    s = receiving_slot(state, model, ints, reals, meta, exposure, chosen, kind, t)
    if s < 0:
        return 0
    if s == used:  # a new slot: its row of the tree starts empty
        lineages.clear(tree, s)
    if kind != DIVIDES:  # a move: the cell leaves its slot with its barcode
        ints[at(chosen), CELLS] -= 1
        if tagged:
            lineages.add(tree, chosen, barcode, -1, step)
    ints[at(s), CELLS] += 1
    if tagged:
        lineages.add(tree, s, barcode, 1, step)
    return 1 if kind == DIVIDES else 0


@njit(cache=True, _nrt=False)
def advance(
    state, model, ints, reals, meta, barcodes, starts, tree, exposure, t, t_stop, threshold
):
    """Run the tumour cell by cell from ``t`` to ``t_stop``, extinction or ``threshold`` cells.

    Gillespie's direct method with the rates under ``exposure`` held constant (under competition,
    birth rates and crowding-scaled deaths times the crowding factor of the current total,
    updated at every event): the
    clone of the next event by its total rate, then a uniformly random cell of it. A division
    may give a mutant daughter (new slot, same barcode); a migrating or switching cell moves to
    the slot of its new state with its barcode. Labels every cell when the total first reaches
    ``model.barcode_cells`` (> 0). Stops on the very event that reaches the threshold. Keeps
    each slot's cells per barcode in ``tree`` when it has rows, else every cell in
    ``barcodes`` and ``starts``.
    Returns (time, reason) like refractory.kernels.compartment.advance.
    """
    capacity = model.carrying_capacity
    if capacity == np.inf:  # the loop inlined with the constant: no crowding code in it
        return _events(
            state,
            model,
            ints,
            reals,
            meta,
            barcodes,
            starts,
            tree,
            exposure,
            t,
            t_stop,
            threshold,
            np.inf,
        )
    return _events(
        state,
        model,
        ints,
        reals,
        meta,
        barcodes,
        starts,
        tree,
        exposure,
        t,
        t_stop,
        threshold,
        capacity,
    )


@njit(cache=True, inline="always")
def _events(
    state,
    model,
    ints,
    reals,
    meta,
    barcodes,
    starts,
    tree,
    exposure,
    t,
    t_stop,
    threshold,
    capacity,
):
    """The event loop of ``advance`` at carrying ``capacity`` (inf: no competition)."""
    label_at = model.barcode_cells
    waiting = label_at > 0.0 and not meta[LABELLED]  # to label on reaching label_at cells
    counting = tree.shape[0] > 0
    tagged = counting and meta[LABELLED] != 0  # the tree holds the cells' barcodes
    step = lineages.top_step(tree)
    room = model.agent_cells
    total = total_cells(ints, meta)
    events = 0  # counted locally, stored once: a store per event costs measurably
    while True:
        used = meta[USED]
        if waiting and total >= label_at:
            label_cells(ints, meta, barcodes, starts, tree)
            waiting = False
            tagged = counting
        if total == 0:
            reason = EXTINCT
            break
        if total >= threshold:
            reason = REACHED_THRESHOLD
            break
        if t >= t_stop:
            t, reason = t_stop, REACHED_STOP
            break
        factor = crowd(reals, used, capacity, total)
        t, chosen, kind = next_event(state, ints, reals, used, t, t_stop, factor)
        if chosen < 0:
            t, reason = t_stop, REACHED_STOP
            break
        events += 1
        n = ints[at(chosen), CELLS]
        k = min(np.int64(uniform(state) * n), n - 1)
        if kind == DIVIDES and total == room:  # out of room: the patient ends
            meta[OVERFLOW] = 1
            reason = REACHED_THRESHOLD
            break
        if counting:
            total += _counted_event(
                state, model, ints, reals, meta, tree, exposure, chosen, kind, k, t, step, tagged
            )
        else:
            i = starts[at(chosen)] + k
            total += _cell_event(
                state, model, ints, reals, meta, barcodes, starts, exposure, chosen, kind, i, t
            )
    meta[EVENTS] += events
    return t, reason
