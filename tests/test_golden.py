"""Every table of the golden cases (tests/golden) is bit-identical to the recorded one."""

import pandas as pd
import pytest

from tests.golden.cases import CASES, run_case, stored


@pytest.mark.parametrize("name", CASES)
def test_batch_tables_equal_the_recorded_ones(name, tmp_path):
    tables = run_case(name, tmp_path / name)
    expected = stored(name)
    assert set(tables) == set(expected)
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(tables[table], frame, check_exact=True, obj=table)
