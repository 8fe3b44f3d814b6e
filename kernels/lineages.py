"""Each clone's cells counted per lineage barcode, one Fenwick tree per clone slot.

What a lineage question needs is how many cells of each clone carry each barcode, not where
each cell is: row c of ``tree`` (slots, 2**m + 1) is a Fenwick (binary indexed) tree of slot
c's cells per barcode (1-based; column 0 unused; 2**m at least the barcodes, so column 2**m
holds the slot's total and a descent needs no bounds check). A uniformly random cell of a clone
and its barcode are found in O(log barcodes) steps within one row (a few kilobytes for a
thousand barcodes), however many cells the tumour holds, where a per-cell array leaves the
caches at 1e6 cells. Reference: Fenwick (1994), Software: Practice and Experience 24:327.
"""

import numpy as np
from numba import njit

from refractory.kernels.clones import CELLS, GENOTYPE, USED, at
from refractory.kernels.model import MECHANISMS


def width(barcodes: int) -> int:
    """Columns of a tree for ``barcodes`` barcodes: the next power of two, plus one."""
    return (1 << max(barcodes - 1, 0).bit_length()) + 1


@njit(cache=True, inline="always")
def top_step(tree):
    """Half the tree's power of two: the first step of a descent (0 for one barcode)."""
    return np.int64((tree.shape[1] - 1) // 2)


@njit(cache=True, inline="always")
def find(tree, c, k, step):
    """Barcode of slot c's k-th cell (0-based) in barcode order, for 0 <= k < its cells;
    ``step`` from ``top_step``. One descent of log2(columns) steps, with no branch on the
    data."""
    position = np.int64(0)
    while step > 0:
        ahead = position + step
        value = tree[at(c), at(ahead)]
        right = value <= k
        position = ahead if right else position
        k = k - value if right else k
        step >>= 1
    return position


@njit(cache=True, inline="always")
def add(tree, c, barcode, delta, step):
    """Add ``delta`` cells of ``barcode`` (0-based) to slot c. The sums that cover a barcode
    are the root's and those a descent towards it passes on its left: the same fixed number
    of steps as ``find``, with no branch on the data (a bottom-up update's varying length
    costs a mispredicted branch per call)."""
    position = np.int64(0)
    target = barcode + 1
    while step > 0:
        ahead = position + step
        left = target <= ahead
        tree[at(c), at(ahead)] += delta if left else 0
        position = position if left else ahead
        step >>= 1
    tree[at(c), at(tree.shape[1] - 1)] += delta


@njit(cache=True, _nrt=False)
def clear(tree, c):
    """Slot c holds no labelled cell."""
    for i in range(tree.shape[1]):
        tree[c, i] = 0


@njit(cache=True, _nrt=False)
def _to_counts(tree, c):
    """Turn row c from a Fenwick tree into plain counts per barcode, in place: O(barcodes)."""
    width = tree.shape[1]
    for i in range(width - 1, 0, -1):
        parent = i + (i & -i)
        if parent < width:
            tree[c, parent] -= tree[c, i]


@njit(cache=True, _nrt=False)
def _to_tree(tree, c):
    """Turn row c from plain counts per barcode into a Fenwick tree, in place: O(barcodes)."""
    width = tree.shape[1]
    for i in range(1, width):
        parent = i + (i & -i)
        if parent < width:
            tree[c, parent] += tree[c, i]


@njit(cache=True, _nrt=False)
def label(ints, meta, tree):
    """Give every cell a distinct barcode 0 .. total - 1 in slot order (slot 0's cells first),
    as a per-cell layout labels its blocks; False when the tree has fewer barcodes than cells.
    """
    first = 0
    for c in range(meta[USED]):
        clear(tree, c)
        cells = ints[c, CELLS]
        if first + cells >= tree.shape[1]:
            return False
        for i in range(first + 1, first + cells + 1):
            tree[c, i] = 1
        _to_tree(tree, c)
        first += cells
    return True


@njit(cache=True, _nrt=False)
def snapshot(ints, meta, tree, moment, cells, resistant, mechanisms):
    """Per barcode at an output moment: its cells, those carrying any mechanism and the union
    of their mechanisms, added into (moments, barcodes) ``cells``, ``resistant`` and
    ``mechanisms`` (see kernels.agent.snapshot_lineages)."""
    for c in range(meta[USED]):
        if ints[c, CELLS] == 0:
            continue
        genotype = ints[c, GENOTYPE] & MECHANISMS
        _to_counts(tree, c)
        for i in range(1, min(tree.shape[1], cells.shape[1] + 1)):
            count = tree[c, i]
            if count == 0:
                continue
            cells[moment, i - 1] += count
            if genotype != 0:
                resistant[moment, i - 1] += count
                mechanisms[moment, i - 1] |= genotype
        _to_tree(tree, c)
