"""Every table of the golden cases (tests/golden) is bit-identical to the recorded one."""

import pandas as pd
import pytest

from tests.golden.cases import CASES, run_case, simulate_case, stored


@pytest.mark.parametrize("in_memory", [False, True], ids=["run_batch", "simulate"])
@pytest.mark.parametrize("name", CASES)
def test_tables_equal_the_recorded_ones(name, in_memory, tmp_path):
    tables = simulate_case(name) if in_memory else run_case(name, tmp_path / name)
    expected = stored(name)
    assert set(tables) == set(expected)
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(tables[table], frame, check_exact=True, obj=table)
