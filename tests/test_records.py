"""Patients run in groups (agent groups, GPU launches) write the rows a whole chunk writes:
the views of ``outputs_rows`` keep each patient's trace rows, or none, right."""

import numpy as np
import pytest

from refractory.bundled import scenarios_folder
from refractory.compile import compile_model
from refractory.engine import _simulate, allocate_outputs, outputs_rows, run_compartment
from refractory.kernels.model import shared_rows
from refractory.kernels.records import Outputs
from refractory.scenario import load_scenario
from refractory.settings import DEFAULT_SETTINGS


@pytest.mark.parametrize("trace", [0, 13, 20], ids=["none", "some", "all"])
def test_groups_write_what_one_chunk_writes(trace):
    model = compile_model(load_scenario(scenarios_folder() / "treatment" / "intermittent.toml"))
    first, count = 10, 9  # with trace 13: patients 10-12 traced, across the first two groups
    whole = run_compartment(model, 4, first, count, trace)
    outputs = allocate_outputs(model, count, whole.traced)
    for a, b in ((0, 2), (2, 5), (5, 9)):
        _simulate(shared_rows(model), 4, first + a, outputs_rows(outputs, a, b), DEFAULT_SETTINGS)
    assert whole.traced == {0: 0, 13: 3, 20: 9}[trace]
    for name, array in zip(Outputs._fields, outputs, strict=True):
        assert np.array_equal(array, getattr(whole.outputs, name), equal_nan=True), name
    if whole.traced:
        assert (outputs.trace_cells[: whole.traced] > 0).any()
    assert (outputs.trace_cells[whole.traced] == -1).all()  # the spare row is never written
