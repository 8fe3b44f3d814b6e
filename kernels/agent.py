"""The agent engine: every cell is an agent, advanced by the exact Gillespie direct method.

Cells live in one flat array of lineage barcodes, grouped in blocks by clone slot: the cells
of slot c are ``barcodes[starts[c]:starts[c + 1]]`` and ``starts[meta[USED]]`` is the total.
A cell's genotype is its slot's; its barcode (-1 until the cells are labelled) is inherited
by its daughters. Adding or removing a cell moves one cell per later block (swap at the block
edges), so an event costs O(clones), never O(cells). The clone table ``ints`` keeps the
counts of the blocks, so the treatment policy and snapshots read it as for the compartment
engine. Reference: Gillespie (1977), J. Phys. Chem. 81:2340 (direct method).
"""

import numpy as np
from numba import njit

from refractory.kernels.clones import (
    CELLS,
    DIES,
    DIVIDES,
    EVENTS,
    GENOTYPE,
    OVERFLOW,
    USED,
    at,
    crowd,
    next_event,
    receiving_slot,
)
from refractory.kernels.model import EXTINCT, MECHANISMS, REACHED_STOP, REACHED_THRESHOLD
from refractory.kernels.random import uniform


@njit(cache=True, _nrt=False)
def place_cells(ints, meta, barcodes, starts):
    """Lay out the clone table's cells as unlabelled blocks (after the table was set anew)."""
    if barcodes.shape[0] == 0:
        return
    position = 0
    for c in range(meta[USED]):
        starts[c] = position
        position += ints[c, CELLS]
    starts[meta[USED]] = position
    barcodes[:position] = -1


@njit(cache=True, _nrt=False)
def label_cells(meta, barcodes, starts):
    """Give every cell a distinct barcode 0 .. total - 1, unless the cells are labelled."""
    total = starts[meta[USED]] if barcodes.shape[0] > 0 else 0
    if total == 0 or barcodes[0] >= 0:
        return
    for i in range(total):
        barcodes[i] = i


@njit(cache=True, _nrt=False)
def snapshot_lineages(ints, meta, barcodes, starts, moment, cells, resistant, mechanisms):
    """Per barcode at an output moment: its cells, those carrying any mechanism, and the
    union (bitwise or) of its cells' mechanisms. ``cells``, ``resistant``, ``mechanisms``
    are (moments, barcodes), zero-filled by the caller; unlabelled cells are not counted.
    Site and phenotype are states, not mechanisms: a persister is not a resistant cell."""
    if barcodes.shape[0] == 0:
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


@njit(cache=True, _nrt=False)
def advance(state, model, ints, reals, meta, barcodes, starts, exposure, t, t_stop, threshold):
    """Run the tumour cell by cell from ``t`` to ``t_stop``, extinction or ``threshold`` cells.

    Gillespie's direct method with the rates under ``exposure`` held constant (under competition,
    birth rates and crowding-scaled deaths times the crowding factor of the current total,
    updated at every event): the
    clone of the next event by its total rate, then a uniformly random cell of it. A division
    may give a mutant daughter (new slot, same barcode); a migrating or switching cell moves to
    the slot of its new state with its barcode. Labels every cell when the total first reaches
    ``model.barcode_cells`` (> 0). Stops on the very event that reaches the threshold.
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
            exposure,
            t,
            t_stop,
            threshold,
            np.inf,
        )
    return _events(
        state, model, ints, reals, meta, barcodes, starts, exposure, t, t_stop, threshold, capacity
    )


@njit(cache=True, inline="always")
def _events(
    state, model, ints, reals, meta, barcodes, starts, exposure, t, t_stop, threshold, capacity
):
    """The event loop of ``advance`` at carrying ``capacity`` (inf: no competition)."""
    label_at = model.barcode_cells
    labelled = label_at <= 0.0 or barcodes.shape[0] == 0
    events = 0  # counted locally, stored once: a store per event costs measurably
    while True:
        used = meta[USED]
        total = starts[at(used)]
        if not labelled and total >= label_at:
            label_cells(meta, barcodes, starts)
            labelled = True
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
        i = starts[at(chosen)] + min(np.int64(uniform(state) * n), n - 1)
        if kind == DIES:
            _remove_cell(ints, meta, barcodes, starts, chosen, i)
            continue
        if kind == DIVIDES and total == barcodes.shape[0]:  # out of room: the patient ends
            meta[OVERFLOW] = 1
            reason = REACHED_THRESHOLD
            break
        s = receiving_slot(state, model, ints, reals, meta, exposure, chosen, kind, t)
        if s < 0:
            continue
        if s == used:  # a new slot: its block starts empty at the end
            starts[at(s + 1)] = starts[at(s)]
        barcode = barcodes[at(i)]
        if kind != DIVIDES:  # a move: the cell leaves its block with its barcode
            _remove_cell(ints, meta, barcodes, starts, chosen, i)
        _add_cell(ints, meta, barcodes, starts, s, barcode)
    meta[EVENTS] += events
    return t, reason
