"""The GPU engine without a GPU: the kernel's per-patient rows, run in a plain CPU loop, give
the CPU engine's results exactly (the same compiled patient loop on the same streams), and a
run that cannot use a GPU is refused with the reason. The GPU itself is checked against
theory by tests/verification, which adds it to the engines wherever numba finds one."""

from pathlib import Path

import numpy as np
import pytest

from refractory.cli import main
from refractory.compile import compile_model
from refractory.engine import allocate_outputs, engine_runner, run_compartment
from refractory.kernels.gpu import simulate_rows
from refractory.kernels.model import shared_rows
from refractory.kernels.records import Outputs
from refractory.kernels.streams import patient_states
from refractory.scenario import load_scenario
from tests.verification.harness import ENGINE_NAMES

ROOT = Path(__file__).resolve().parent.parent
#: Lines, dosed drugs with PK, adaptive pauses, competition; sites and persisters.
SCENARIOS = [
    "scenarios/benchmarks/three-lines-pk-adaptive-1e10.toml",
    "scenarios/treatment/persisters.toml",
]


def _dirty(shape, dtype):
    """Scratch rows holding leftovers, as reused GPU memory does: each patient must clear
    its own."""
    return np.full(shape, 7, dtype)


@pytest.mark.parametrize("path", SCENARIOS)
def test_kernel_rows_give_the_cpu_engine_results(path):
    model = compile_model(load_scenario(ROOT / path))
    first, count, trace = 40, 12, 43  # patients 40-42 traced, 43-51 not
    expected = run_compartment(model, 5, first, count, trace)
    outputs = allocate_outputs(model, count, expected.traced)
    simulate_rows(patient_states(5, first, count), shared_rows(model), outputs, empty=_dirty)
    assert expected.traced == 3
    for name, array in zip(Outputs._fields, outputs, strict=True):
        assert np.array_equal(array, getattr(expected.outputs, name), equal_nan=True), name


def test_the_gpu_runs_the_compartment_engine_only():
    with pytest.raises(ValueError, match="compartment engine only"):
        engine_runner("agent", "gpu")


@pytest.mark.skipif("gpu" in ENGINE_NAMES, reason="a GPU is present")
def test_run_on_a_missing_gpu_is_refused_cleanly(tmp_path, capsys):
    out = tmp_path / "results"
    status = main(["run", str(ROOT / SCENARIOS[1]), "--device", "gpu", "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 2
    assert "--device gpu" in error and "no CUDA GPU" in error
    assert "Traceback" not in error
    assert not out.exists()


@pytest.mark.verify
def test_the_kernel_with_a_cohort_compiles_for_the_gpu_without_one():
    """numba-cuda types and compiles the whole kernel to PTX for an H100 (cc 9.0) with a
    cohort's per-patient model rows, no GPU needed (about a minute; needs the gpu extra)."""
    pytest.importorskip("numba_cuda", reason="needs numba-cuda (pip install 'refractory[gpu]')")
    from refractory.cohort import cohort_rows, draw
    from refractory.kernels import gpu
    from refractory.settings import DEFAULT_SETTINGS
    from refractory.simulation import plan

    scenario = load_scenario(ROOT / "scenarios" / "cohorts" / "correlated-cohort.toml")
    (planned,) = plan(scenario, "cohort", DEFAULT_SETTINGS)
    rows = cohort_rows(planned.model, planned.terms, draw(scenario.cohort, 1, 0, 8))
    arguments = (
        patient_states(1, 0, 8),
        rows,
        gpu.batch_workspace(planned.model, 8),
        allocate_outputs(planned.model, 8, 2),
    )
    ptx = gpu.ptx_without_gpu(arguments, cc=(9, 0))
    assert ".entry" in ptx and "simulate_patient" in ptx
