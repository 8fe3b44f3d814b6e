"""Scenarios that pass the schema but cannot run are refused before anything runs, each with
one paragraph naming the file, the field, the estimate, the limit and the fix."""

import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from refractory.compile import compile_model
from refractory.errors import ScenarioError
from refractory.limits import (
    EVENT_BUDGET,
    MEMORY_BUDGET,
    check_memory,
    event_terms,
    expected_genotypes,
    output_bytes,
    step_terms,
    warnings,
)
from refractory.scenario import load_scenario, parse_scenario
from refractory.settings import DEFAULT_SETTINGS

SHIPPED = Path(__file__).resolve().parent.parent / "scenarios"

#: A small treated tumour from 1000 cells; each case below changes some of its keys.
BASE = """
[scenario]
name = "limits"
patients = {patients}
horizon_days = {horizon}
[tumor]
birth_rate = {birth}
death_rate = {death}
start = "{start}"
detection_cells = {detection}
lethal_cells = {lethal}
{clone}
{mechanisms}
[[drug]]
name = "A"
max_effect = {max_effect}
{pk}
[[line]]
drugs = ["A"]
[monitoring]
scan_every_days = {scan}
"""
DEFAULTS = {
    "patients": 2,
    "horizon": 365,
    "birth": 0.1,
    "death": 0.05,
    "start": "cells",
    "detection": 1000,
    "lethal": 1e6,
    "clone": "[[tumor.clone]]\ncells = 1000",
    "mechanisms": "",
    "max_effect": 0.1,
    "pk": "",
    "scan": 56,
}
SINGLE = {"start": "single_cell", "clone": "", "detection": 1e4}
SIXTY = "\n".join(f'[[mechanism]]\nname = "m{i}"\nmutation_rate = 0.01' for i in range(60))

#: (keys changed, field named, words the message must contain).
REFUSED = {
    "scan 5e-324": ({"scan": "5e-324"}, "monitoring.scan_every_days", "unbounded number of scans"),
    "scan 1e-9": ({"scan": "1e-9"}, "monitoring.scan_every_days", "3.65e+11 scans per patient"),
    "horizon 1e12": ({"horizon": "1e12"}, "monitoring.scan_every_days", "1.79e+10 scans"),
    "horizon 1e308": ({"horizon": "1e308"}, "scenario.horizon_days", "limit of 9.01e+15 days"),
    "ec50 1e-320": (
        {"pk": "dose = 1.0\nec50 = 1e-320"},
        'drug "A".ec50',
        "outside float64's range",
    ),
    "max_effect 1e308": ({"max_effect": "1e308"}, 'drug "A".max_effect', "limit of 1e+09"),
    "birth 1e300": ({"birth": "1e300"}, "tumor.birth_rate", "3.65e+304 events"),
    "death 1e308": ({"birth": "1e308", "death": "1e308"}, "tumor.birth_rate", "events"),
    "birth 5e-324 from one cell": (
        {**SINGLE, "birth": "5e-324", "death": 0},
        "tumor.birth_rate",
        "above the limit of 9.01e+15 days",
    ),
    "near-critical growth from one cell": (
        {**SINGLE, "birth": 0.1, "death": 0.09999999},
        "tumor.death_rate",
        "growing from one cell to 100 cells",
    ),
    "60 mutating mechanisms": ({"mechanisms": SIXTY}, "mechanism", "1024 clone slots"),
    "lethal beyond int64": (
        {"lethal": 1e19},
        "tumor.lethal_cells",
        "2^62: clone counts are 64-bit integers",
    ),
    "dosing every 1e-6 days": (
        {"pk": "dose = 1.0\nec50 = 1.0\ninterval_days = 1e-6\nhalf_life_days = 1"},
        'drug "A".interval_days',
        "dosing",
    ),
}


def _file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(BASE.format(**{**DEFAULTS, **changes}))
    return path


@pytest.mark.parametrize(("changes", "field", "says"), REFUSED.values(), ids=REFUSED.keys())
def test_unrunnable_scenario_is_refused_with_one_paragraph(tmp_path, changes, field, says):
    path = _file(tmp_path, **changes)
    with pytest.raises(ScenarioError, match=re.escape(says)) as caught:
        compile_model(load_scenario(path), str(path))
    message = str(caught.value)
    assert caught.value.field == field
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "limit" in message


def test_the_base_case_runs_within_the_limits(tmp_path):
    """The cases above differ from a scenario that passes, so each refusal is the change's."""
    path = _file(tmp_path)
    compile_model(load_scenario(path), str(path))


def test_every_shipped_scenario_is_within_the_limits():
    for path in SHIPPED.rglob("*.toml"):
        if "lessons" not in path.parts:
            scenario = load_scenario(path)
            model = compile_model(scenario, str(path))
            check_memory(model, scenario.scenario.patients, 2000, 20, str(path))


def test_growth_events_follow_the_drift_estimate():
    """Growing from one cell to EXACT_BELOW cells: (EXACT_BELOW + d / (b - d)) x (b + d) /
    (b - d) events, i.e. 100 x 3 + 1.5 for b = 0.2, d = 0.1 (the count moves by one per
    event with drift 1/3)."""
    data = {"scenario": {"name": "g"}, "tumor": {"birth_rate": 0.2, "death_rate": 0.1}}
    (growth,) = event_terms(parse_scenario(data))
    assert growth.size == pytest.approx((DEFAULT_SETTINGS.exact_below_cells + 1.0) * 3.0)
    assert step_terms(parse_scenario(data)) == []  # untreated: the run stops at detection


def test_event_budget_boundary_is_the_stated_formula():
    """A tumour held below EXACT_BELOW cells: EXACT_BELOW x rate x horizon events; just
    above the budget is refused, just below accepted."""
    birth = 0.1
    for factor, refused in ((0.99, False), (1.01, True)):
        rate_sum = EVENT_BUDGET * factor / (DEFAULT_SETTINGS.exact_below_cells * 365)
        death = rate_sum - birth - 0.1
        data = BASE.format(**{**DEFAULTS, "death": death})
        scenario = parse_scenario(tomllib.loads(data))
        total = math.fsum(term.size for term in event_terms(scenario))
        assert total == pytest.approx(EVENT_BUDGET * factor)
        if refused:
            with pytest.raises(ScenarioError, match="events of the event-by-event phase"):
                compile_model(scenario)
        else:
            compile_model(scenario)


def test_expected_genotypes_counts_subsets():
    """Two mechanisms at u = 1e-3 with 1e6 x 2 divisions: both singles (2e3 expected each,
    capped at 1) and the double (2e6 x 1e-6 = 2, capped at 1): 1 + 2 + 1 = 4."""
    data = {
        "scenario": {"name": "g"},
        "tumor": {"birth_rate": 0.2, "death_rate": 0.1, "detection_cells": 1e3},
        "mechanism": [{"name": "a", "mutation_rate": 1e-3}, {"name": "b", "mutation_rate": 1e-3}],
    }
    data["tumor"]["lethal_cells"] = 1e6
    assert expected_genotypes(parse_scenario(data)) == 4.0
    data["mechanism"][1]["mutation_rate"] = 1e-12  # double mutants: 2e6 x 1e-15, not capped
    assert expected_genotypes(parse_scenario(data)) == pytest.approx(3.0 + 2e-9)


def test_memory_estimate_matches_the_allocated_arrays(tmp_path):
    from refractory.engine import allocate_outputs

    model = compile_model(load_scenario(_file(tmp_path)))
    per_patient, per_traced = output_bytes(model)
    allocated = sum(array.nbytes for array in allocate_outputs(model, 7, 3))
    assert allocated == 7 * per_patient + (3 + 1) * per_traced  # and the spare trace row


def test_chunk_and_patients_memory_refused(tmp_path):
    path = _file(tmp_path, scan="1e-3")  # 365000 scans per patient: 14.6 MB each
    model = compile_model(load_scenario(path), str(path))
    per_patient, _ = output_bytes(model)
    fitting = MEMORY_BUDGET // per_patient
    check_memory(model, 10**6, fitting, 0, str(path))
    with pytest.raises(ScenarioError, match="one chunk of .* patients needs about") as caught:
        check_memory(model, 10**6, fitting + 1, 0, str(path))
    assert caught.value.field == "--chunk-size"
    with pytest.raises(ScenarioError, match=r"patients = 1e\+16 makes a patients table"):
        check_memory(model, 10**16, 1, 0, str(path))


def test_deep_nesting_is_a_toml_refusal(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ScenarioError, match="nests arrays or inline tables deeper"):
        load_scenario(path)


def test_birth_lowering_effect_above_the_birth_rate_warns(tmp_path):
    path = _file(tmp_path, pk='effect = "birth"', max_effect=0.3)
    (warning,) = warnings(load_scenario(path))
    assert "line 1 (A)" in warning and "more than tumor.birth_rate (0.1)" in warning
    result = subprocess.run(
        [sys.executable, "-m", "refractory.cli", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Warning: line 1 (A)" in result.stdout
    assert warnings(load_scenario(_file(tmp_path, pk='effect = "birth"', max_effect=0.1))) == []


@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_refuses_with_exit_2_and_writes_nothing(tmp_path, command):
    path = _file(tmp_path, scan="1e-9")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "refractory.cli", command, str(path)]
        + (["--out", str(out)] if command == "run" else []),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {path}: monitoring.scan_every_days")
    assert "Traceback" not in result.stderr and not out.exists()
