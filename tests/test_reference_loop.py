"""The C loop the agent engine is benchmarked against follows the kernel's trajectory from
the same generator state, in each way of keeping lineages, and the engine's choice of layout
follows its rule."""

import pytest

from refractory.benchmarks import growing
from refractory.benchmarks.reference import build
from refractory.compile import CELLS_LAYOUT_BYTES, TREE_ROW_BYTES, lineage_columns
from refractory.kernels import lineages
from refractory.settings import EngineSettings


@pytest.mark.parametrize(
    "barcode_at, layout", [("none", "auto"), ("detection", "cells"), ("detection", "counts")]
)
def test_the_c_loop_follows_the_kernel(barcode_at, layout, tmp_path):
    binary = build(tmp_path)
    if binary is None:
        pytest.skip("no C compiler (cc, gcc or clang)")
    run = growing.model(20_000.0, barcode_at, layout)
    for seed in (1, 2, 3):
        _, c_rate, same = growing.paired_run(run, 20_000.0, seed, binary)
        assert same and c_rate > 0


def test_counts_are_chosen_past_the_cells_bound_when_small():
    cells_bound = CELLS_LAYOUT_BYTES // 4
    assert lineage_columns("auto", 8, 1000, cells_bound) == 0  # every cell fits the bound
    assert lineage_columns("auto", 8, 1000, cells_bound + 1) == lineages.width(1000) == 1025
    widest = TREE_ROW_BYTES // 8  # the most barcodes a tree within the bound counts
    assert lineage_columns("auto", 8, widest, 10**7) == widest + 1
    assert lineage_columns("auto", 8, widest + 1, 10**7) == 0  # a row past the first caches
    assert lineage_columns("auto", 1024, 4000, cells_bound + 1) == 0  # counts are larger
    assert lineage_columns("counts", 8, 1000, 10) == 1025
    assert lineage_columns("cells", 8, 1000, 10**9) == 0
    assert lineage_columns("counts", 8, 0, 10**9) == 0  # no barcodes: nothing kept
    assert [lineages.width(n) for n in (1, 2, 3, 4, 5)] == [2, 3, 5, 5, 9]


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match='agent_lineages is \'tree\'.*"auto", "counts"'):
        EngineSettings(agent_lineages="tree")
