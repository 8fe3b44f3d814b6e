"""The treatment policy's decisions, each alone: given the policy's state in its slots, the
handler of one decision sets the state and the outputs the treatment rules say."""

import math

import numpy as np
import pytest

from refractory.bundled import scenarios_folder
from refractory.compile import compile_model
from refractory.engine import allocate_outputs
from refractory.kernels import patient as loop
from refractory.kernels import records as r
from refractory.kernels.model import (
    END_PROGRESSION,
    L_DAYS_TO_PROGRESSION,
    L_END_REASON,
    L_PROGRESSED,
    L_RELAPSE,
    P_DAYS_TO_REFRACTORY,
    RESPONSE_NONE,
    RESPONSE_PR,
)
from refractory.kernels.streams import patient_states
from refractory.scenario import load_scenario

TREATMENT = scenarios_folder() / "treatment"


def _patient(name: str):
    """A scenario's model, a cleared workspace and one patient's outputs."""
    model = compile_model(load_scenario(TREATMENT / f"{name}.toml"))
    work = r.new_workspace(model)
    r.reset_workspace(model, work)
    out = r.patient_outputs(allocate_outputs(model, 1, 1), 0)
    return model, work, out


def _on_line(work, line: int, now: float, baseline: float) -> np.ndarray:
    """The policy's state while ``line`` is given and evaluated since day 0."""
    q = work.policy
    q[r.Q_NOW], q[r.Q_ORIGIN], q[r.Q_LINE], q[r.Q_PENDING] = now, 0.0, line, -1
    q[r.Q_EVALUATING] = q[r.Q_GIVING] = q[r.Q_DRUG_ON] = 1.0
    q[r.Q_BASELINE] = q[r.Q_NADIR] = baseline
    q[r.Q_BEST] = RESPONSE_NONE
    for slot in (r.Q_PENDING_START, r.Q_COURSE_END, r.Q_PHASE_END):
        q[slot] = math.inf
    return q


def test_the_next_decision_is_the_earliest_and_short_while_a_dosed_drug_acts():
    model, work, _ = _patient("adherence")
    q = _on_line(work, 0, 3.0, 1e8)
    q[r.Q_NEXT_SCAN], q[r.Q_HORIZON], q[r.Q_PHASE_END] = 28.0, 730.0, 10.0
    assert loop._next_decision(model, work) == (10.0, False)
    work.next_dose[0] = 4.0
    assert loop._next_decision(model, work) == (4.0, False)
    work.level[0], work.dosed_at[0] = 2.0, 3.0
    stop, acting = loop._next_decision(model, work)
    assert acting and stop == 3.0 + model.pk_step < 4.0


def test_an_adaptive_line_pauses_below_its_fraction_and_resumes_at_baseline():
    model, work, _ = _patient("adaptive")
    q = _on_line(work, 0, 14.0, 100.0)
    loop._respond(model, work, 40.0, True)  # below pause_below = 0.5 of the baseline
    assert q[r.Q_DRUG_ON] == 0.0 and q[r.Q_STALE] == 1.0
    assert q[r.Q_BEST] == RESPONSE_PR and q[r.Q_NADIR] == 40.0
    q[r.Q_STALE] = 0.0
    loop._respond(model, work, 99.0, True)  # not yet back at resume_at = 1.0
    assert q[r.Q_DRUG_ON] == 0.0 and q[r.Q_STALE] == 0.0
    loop._respond(model, work, 100.0, True)
    assert q[r.Q_DRUG_ON] == 1.0 and q[r.Q_STALE] == 1.0


def test_progression_on_a_line_opens_the_next_after_its_free_interval():
    model, work, out = _patient("intermittent")
    q = _on_line(work, 0, 300.0, 1e9)
    q[r.Q_LINE_START] = 20.0
    loop._progress(model, work, out, False)
    assert out.lines[0, L_PROGRESSED] == 1.0
    assert out.lines[0, L_DAYS_TO_PROGRESSION] == 280.0
    assert out.lines[0, L_END_REASON] == END_PROGRESSION
    assert out.lines[0, L_RELAPSE] == 0.0
    assert q[r.Q_PENDING] == 1 and q[r.Q_PENDING_START] == 300.0 + 28.0  # treatment_free_days
    assert q[r.Q_GIVING] == q[r.Q_DRUG_ON] == q[r.Q_EVALUATING] == 0.0
    assert q[r.Q_REFRACTORY] == 0.0


def test_progression_on_the_last_line_given_is_refractory_disease():
    model, work, out = _patient("intermittent")
    q = _on_line(work, 1, 500.0, 1e9)
    loop._progress(model, work, out, False)
    assert q[r.Q_REFRACTORY] == 1.0 and out.patient[P_DAYS_TO_REFRACTORY] == 500.0
    assert q[r.Q_PENDING] == -1


@pytest.mark.parametrize("completed", [False, True])
def test_lethal_burden_is_refractory_unless_in_follow_up_after_a_completed_course(completed):
    model, work, out = _patient("fixed-course")
    q = _on_line(work, 0, 90.0, 1e8)
    q[r.Q_COMPLETED] = 1.0 if completed else 0.0
    q[r.Q_GIVING] = 0.0 if completed else 1.0
    loop._reach_lethal(work, out)
    assert out.lines[0, L_PROGRESSED] == 1.0
    assert out.lines[0, L_RELAPSE] == (1.0 if completed else 0.0)
    assert q[r.Q_REFRACTORY] == (0.0 if completed else 1.0)


def test_a_line_opens_with_a_baseline_measurement_and_its_first_doses():
    model, work, out = _patient("adherence")
    clone = model.start_cells[0]
    loop._place_clone(patient_states(1, 0, 1)[0], model, work, model.start_genotypes[0], clone)
    q = work.policy
    q[r.Q_NOW], q[r.Q_PENDING], q[r.Q_LAST_SCAN_DAY], q[r.Q_LAST_MEASURED] = 5.0, 0, 0.0, 1.0
    loop._open_line(patient_states(1, 0, 1)[0], model, work, out)
    assert q[r.Q_LINE] == 0 and q[r.Q_PENDING] == -1 and q[r.Q_PENDING_START] == math.inf
    assert q[r.Q_BASELINE] == q[r.Q_NADIR] == q[r.Q_LAST_MEASURED] == clone  # exact scans
    assert work.next_dose[0] == 5.0
    assert out.scans[0, 0] == 5.0 and q[r.Q_SCAN_ROW] == 1
