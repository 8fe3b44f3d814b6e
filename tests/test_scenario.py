"""Scenario files: valid files read back, and every mistake gets a one-paragraph message."""

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from refractory.errors import ScenarioError
from refractory.lessons import lesson_files
from refractory.scenario import (
    MAX_MECHANISMS,
    Scenario,
    load_scenario,
    parse_scenario,
    scenario_hash,
    with_overrides,
)
from refractory.summary import describe

HERE = Path(__file__).parent
EXAMPLE = HERE / "scenarios" / "two-drugs.toml"
# lesson files (a scenario plus a [lesson] table) are validated by tests/test_lessons.py
SHIPPED = sorted(set((HERE.parent / "scenarios").rglob("*.toml")) - set(lesson_files().values()))

DRUG_A = '[[drug]]\nname = "A"\nmax_effect = 0.04\n'
MECHANISM = '[[mechanism]]\nname = "m"\n'


def toml(
    *,
    top: str = "",
    scenario: str = "",
    tumor: str = "birth_rate = 0.14\ndeath_rate = 0.13",
    rest: str = "",
) -> str:
    """A scenario file: the minimal valid one unless parts are replaced or added."""
    return f'{top}\n[scenario]\nname = "t"\n{scenario}\n\n[tumor]\n{tumor}\n\n{rest}'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def assert_one_paragraph(message: str) -> None:
    assert "\n" not in message
    assert "Traceback" not in message
    assert "pydantic" not in message


def test_example_reads_back():
    scenario = load_scenario(EXAMPLE)
    assert scenario.scenario.name == "two-drugs"
    assert (scenario.scenario.patients, scenario.scenario.seed) == (1000, 7)
    assert scenario.scenario.horizon_days == 3650
    assert scenario.scenario.engine == "compartment"
    assert (scenario.tumor.birth_rate, scenario.tumor.death_rate) == (0.14, 0.13)
    assert (scenario.tumor.detection_cells, scenario.tumor.lethal_cells) == (1e9, 1e12)
    assert scenario.tumor.start == "single_cell" and scenario.tumor.clones == ()
    resist_a, resist_ab = scenario.mechanisms
    assert (resist_a.name, resist_a.mutation_rate, resist_a.resists) == (
        "resist_A",
        5e-8,
        (("A", 1.0),),
    )
    assert resist_ab.resistance("B") == 1.0 and resist_a.resistance("B") == 0.0
    assert [(d.name, d.effect, d.max_effect) for d in scenario.drugs] == [
        ("A", "death", 0.04),
        ("B", "death", 0.04),
    ]
    assert [(line.name, line.drugs, line.combine) for line in scenario.lines] == [
        ("A+B", ("A", "B"), "add"),
        ("B", ("B",), "add"),
    ]
    assert scenario.monitoring.scan_every_days == 56
    assert scenario.effective_visible_cells == pytest.approx(1e7)
    assert scenario.mechanism_index("resist_AB") == 1 and scenario.drug_index("B") == 1
    with pytest.raises(KeyError, match="resist_C"):
        scenario.mechanism_index("resist_C")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_scenarios_validate(path):
    load_scenario(path)


def test_defaults_fill_optional_sections(tmp_path):
    scenario = load_scenario(write(tmp_path, toml()))
    meta = scenario.scenario
    assert (meta.patients, meta.seed, meta.horizon_days, meta.engine) == (
        100,
        0,
        3650,
        "compartment",
    )
    assert (scenario.tumor.start, scenario.tumor.detection_cells) == ("single_cell", 1e9)
    assert scenario.tumor.lethal_cells == 1e12
    assert scenario.mechanisms == scenario.drugs == scenario.lines == ()
    monitoring = scenario.monitoring
    assert (monitoring.scan_every_days, monitoring.progression_increase) == (56, 0.2)
    assert (monitoring.partial_response_decrease, monitoring.visible_cells) == (0.3, None)


def test_start_from_clones(tmp_path):
    clones = (
        'start = "cells"\n'
        "[[tumor.clone]]\ncells = 1e4\n"
        '[[tumor.clone]]\nmechanisms = ["m"]\ncells = 100\n'
    )
    text = toml(tumor=f"birth_rate = 0.1\ndeath_rate = 0.2\n{clones}", rest=MECHANISM)
    scenario = load_scenario(write(tmp_path, text))
    assert [(c.mechanisms, c.cells) for c in scenario.tumor.clones] == [((), 10000), (("m",), 100)]
    assert isinstance(scenario.tumor.clones[0].cells, int)
    assert scenario.tumor.treatment_start_cells == 10100
    assert scenario.effective_visible_cells == pytest.approx(101)


def test_visible_cells_can_be_set(tmp_path):
    scenario = load_scenario(write(tmp_path, toml(rest="[monitoring]\nvisible_cells = 1e6")))
    assert scenario.effective_visible_cells == 1e6


def test_no_lines_means_untreated(tmp_path):
    scenario = load_scenario(write(tmp_path, toml(rest=DRUG_A)))
    assert scenario.lines == ()
    assert "untreated" in describe(scenario)


def test_models_are_frozen_and_hashable():
    scenario = load_scenario(EXAMPLE)
    with pytest.raises(ValidationError):
        scenario.tumor.birth_rate = 1.0
    assert hash(scenario) == hash(load_scenario(EXAMPLE))


def test_dict_round_trip():
    scenario = load_scenario(EXAMPLE)
    data = scenario.to_dict()
    assert data["mechanism"][1]["resists"] == {"A": 1.0, "B": 1.0}
    assert Scenario.from_dict(data) == scenario


def test_with_overrides_revalidates():
    scenario = load_scenario(EXAMPLE)
    changed = with_overrides(scenario, patients=5, seed=11)
    assert (changed.scenario.patients, changed.scenario.seed) == (5, 11)
    assert changed.tumor == scenario.tumor
    assert with_overrides(scenario) == scenario
    with pytest.raises(ScenarioError, match=r"scenario\.engine .*got the string \"gillespie\""):
        with_overrides(scenario, engine="gillespie")


def test_scenario_hash():
    scenario = load_scenario(EXAMPLE)
    digest = scenario_hash(scenario)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert scenario_hash(load_scenario(EXAMPLE)) == digest
    assert scenario_hash(with_overrides(scenario, patients=7)) == digest
    assert scenario_hash(with_overrides(scenario, seed=8)) != digest
    assert scenario_hash(scenario.model_copy(update={"lines": scenario.lines[:1]})) != digest


def test_describe_names_sites_and_phenotypes():
    text = describe(load_scenario(HERE.parent / "scenarios" / "treatment" / "sanctuary.toml"))
    assert "Sanctuary: 0.01% of the initial cells; drugs act there at A 20% of their" in text
    assert "seen by scans" in text
    text = describe(load_scenario(HERE.parent / "scenarios" / "treatment" / "persisters.toml"))
    assert "Persisters: cells switch in at 0.002 per day (x 6 under a drug" in text
    assert "escape A 100% of each drug's effect" in text


def test_describe_summarises():
    text = describe(load_scenario(EXAMPLE))
    for part in ('"two-drugs"', "1000 patients", "seed 7", "resist_AB", "A + B", "56 days"):
        assert part in text


def test_describe_says_schedules_competition_dosing_and_the_progression_reference():
    text = describe(load_scenario(HERE.parent / "scenarios" / "treatment" / "adaptive.toml"))
    assert "adaptive: paused when the measured burden falls below 50% of the line's" in text
    assert "resumed at 100% of it" in text
    assert "total cells / 1e+09) (carrying capacity)" in text
    assert "progression above 120% of the line's baseline" in text
    data = load_scenario(HERE.parent / "scenarios" / "treatment" / "adaptive.toml").to_dict()
    data["monitoring"]["progression_reference"] = "nadir"
    text = describe(parse_scenario(data))
    assert "of the line's nadir (the adaptive line 1: of its baseline)" in text
    text = describe(load_scenario(HERE.parent / "scenarios" / "treatment" / "intermittent.toml"))
    assert "intermittent: 21 days on, 7 days off" in text
    text = describe(load_scenario(HERE.parent / "scenarios" / "treatment" / "adherence.toml"))
    assert "dose 2 every 1 days, half-life 1 days" in text and "missed with probability 0.3" in text


def test_describe_a_drug_that_kills_dividing_cells():
    data = {
        "scenario": {"name": "t"},
        "tumor": {"birth_rate": 0.3, "death_rate": 0.1},
        "drug": [{"name": "A", "effect": "kills_dividing", "max_effect": 0.45}],
    }
    text = describe(parse_scenario(data))
    assert "A: raises the death rate x the crowding factor (1 - N/K) by up to 0.45" in text
    assert "no [competition]: the factor is 1" in text


BAD = {
    "unknown top-level key": (
        toml(top="speed = 3"),
        "speed",
        'unknown key "speed" in the top level of the file; allowed keys: scenario, tumor',
    ),
    "unknown key in tumor": (
        toml(tumor="birth_rate = 0.14\ndeath_rate = 0.13\nbirthrate = 1"),
        "tumor.birthrate",
        'unknown key "birthrate" in [tumor]; allowed keys: birth_rate, death_rate, '
        'start, detection_cells, lethal_cells, clone. Did you mean "birth_rate"?',
    ),
    "unknown key in mechanism": (
        toml(rest=MECHANISM + "mutaton_rate = 1e-6"),
        'mechanism "m" (#1).mutaton_rate',
        'Did you mean "mutation_rate"?',
    ),
    "negative rate": (
        toml(tumor="birth_rate = 0.14\ndeath_rate = -0.13"),
        "tumor.death_rate",
        "must be a finite number >= 0 (per cell per day); got -0.13. Fix the value in [tumor].",
    ),
    "nan rate": (toml(tumor="birth_rate = nan\ndeath_rate = 0.1"), "tumor.birth_rate", "got nan"),
    "inf cells": (
        toml(tumor="birth_rate = 0.14\ndeath_rate = 0.13\ndetection_cells = inf"),
        "tumor.detection_cells",
        "got inf",
    ),
    "boolean rate": (
        toml(tumor="birth_rate = true\ndeath_rate = 0.1"),
        "tumor.birth_rate",
        "got true",
    ),
    "probability 1.5": (
        toml(rest=MECHANISM + "mutation_rate = 1.5"),
        'mechanism "m" (#1).mutation_rate',
        "must be a number in [0, 1] (a probability per division); got 1.5",
    ),
    "fitness cost 1": (
        toml(rest=MECHANISM + "fitness_cost = 1"),
        'mechanism "m" (#1).fitness_cost',
        "must be a number in [0, 1) (fractional loss of birth rate); got 1.",
    ),
    "resistance fraction above 1": (
        toml(rest=DRUG_A + MECHANISM + "resists = { A = 2 }"),
        'mechanism "m" (#1).resists.A',
        "got 2",
    ),
    "mutation rates sum above 1": (
        toml(
            rest=f"{MECHANISM}mutation_rate = 0.6\n" + '[[mechanism]]\nname = "n"\n'
            "mutation_rate = 0.6"
        ),
        "mechanism",
        "must sum to at most 1",
    ),
    "too many mechanisms": (
        toml(rest="".join(f'[[mechanism]]\nname = "m{i}"\n' for i in range(MAX_MECHANISMS + 1))),
        "mechanism",
        f"at most {MAX_MECHANISMS} entries (genotypes are 64-bit masks); got {MAX_MECHANISMS + 1}",
    ),
    "mechanism name with plus": (
        toml(rest='[[mechanism]]\nname = "a+b"'),
        'mechanism "a+b" (#1).name',
        'got the string "a+b"',
    ),
    "line names undefined drug": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A", "C"]'),
        "line[1].drugs",
        'names drug "C", which no [[drug]] defines (defined: "A"). '
        'Add a [[drug]] named "C" or remove it from the line.',
    ),
    "resists names undefined drug": (
        toml(rest=DRUG_A + MECHANISM + "resists = { C = 1.0 }"),
        'mechanism "m" (#1).resists',
        'names drug "C"',
    ),
    "duplicate drug name": (
        toml(rest=DRUG_A + DRUG_A),
        'drug "A" (#2).name',
        'repeats the name of drug #1; got the string "A"',
    ),
    "duplicate mechanism name": (
        toml(rest=MECHANISM + MECHANISM),
        'mechanism "m" (#2).name',
        'repeats the name of mechanism #1; got the string "m"',
    ),
    "duplicate drug in a line": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A", "A"]'),
        "line[1].drugs",
        'got the list ["A", "A"]',
    ),
    "detection above lethal": (
        toml(tumor="birth_rate = 0.14\ndeath_rate = 0.13\ndetection_cells = 1e13"),
        "tumor.lethal_cells",
        "must be greater than tumor.detection_cells (1e+13); got 1e+12",
    ),
    "tumour that cannot grow to detection": (
        toml(tumor="birth_rate = 0.1\ndeath_rate = 0.1"),
        "tumor.death_rate",
        "never grows to detection; got 0.1",
    ),
    "clone with start single_cell": (
        toml(tumor="birth_rate = 0.14\ndeath_rate = 0.13\n[[tumor.clone]]\ncells = 10"),
        "tumor.clone",
        'only allowed with start = "cells", but start = "single_cell"',
    ),
    "start cells without clones": (
        toml(tumor='birth_rate = 0.14\ndeath_rate = 0.13\nstart = "cells"'),
        "tumor.clone",
        "none is given",
    ),
    "clone naming unknown mechanism": (
        toml(
            tumor='birth_rate = 0.14\ndeath_rate = 0.13\nstart = "cells"\n'
            '[[tumor.clone]]\ncells = 10\nmechanisms = ["ghost"]'
        ),
        "tumor.clone[1].mechanisms",
        'names mechanism "ghost", which no [[mechanism]] defines (none are defined)',
    ),
    "fractional clone cells": (
        toml(
            tumor='birth_rate = 0.14\ndeath_rate = 0.13\nstart = "cells"\n'
            "[[tumor.clone]]\ncells = 1.5"
        ),
        "tumor.clone[1].cells",
        "must be a whole number >= 1 (cells); got 1.5",
    ),
    "wrong type": (
        toml(scenario='patients = "many"'),
        "scenario.patients",
        'got the string "many"',
    ),
    "unknown engine": (
        toml(scenario='engine = "gillespie"'),
        "scenario.engine",
        'must be one of "compartment", "agent"; got the string "gillespie"',
    ),
    "unknown effect": (
        toml(rest=DRUG_A + 'effect = "kill"'),
        'drug "A" (#1).effect',
        'must be one of "death", "birth", "kills_dividing"; got the string "kill"',
    ),
    "negative drug effect": (
        toml(rest='[[drug]]\nname = "A"\nmax_effect = -1'),
        'drug "A" (#1).max_effect',
        "got -1",
    ),
    "empty drugs list": (
        toml(rest="[[line]]\ndrugs = []"),
        "line[1].drugs",
        "must name at least one drug; got the list []",
    ),
    "partial response decrease of 1": (
        toml(rest="[monitoring]\npartial_response_decrease = 1"),
        "monitoring.partial_response_decrease",
        "must be a number in (0, 1)",
    ),
    "single table where an array is needed": (
        toml(rest='[mechanism]\nname = "m"'),
        "mechanism",
        'must be an array of tables, written as [[mechanism]] blocks; got the table { name = "m" }',
    ),
    "missing required section": (
        '[scenario]\nname = "t"\n',
        "tumor",
        "required section [tumor] is missing. Add a [tumor] table with birth_rate and death_rate.",
    ),
    "dosing interval without half-life": (
        toml(rest=DRUG_A + "dose = 1\nec50 = 1\ninterval_days = 1"),
        'drug "A" (#1).half_life_days',
        "is required when interval_days is given",
    ),
    "dose without ec50": (
        toml(rest=DRUG_A + "dose = 1"),
        'drug "A" (#1).ec50',
        "is required when dose is given",
    ),
    "hill without an Emax curve": (
        toml(rest=DRUG_A + "hill = 2"),
        'drug "A" (#1).hill',
        "only applies to an Emax curve, which needs ec50 and dose; got 2",
    ),
    "intermittent without days_off": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A"]\nschedule = "intermittent"\ndays_on = 21'),
        "line[1].days_off",
        'is required when schedule = "intermittent"',
    ),
    "days_on on a continuous line": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A"]\ndays_on = 21'),
        "line[1].days_on",
        'only applies to schedule = "intermittent", but schedule = "continuous"; got 21',
    ),
    "adaptive resume below pause": (
        toml(
            rest=DRUG_A + '[[line]]\ndrugs = ["A"]\nschedule = "adaptive"\n'
            "pause_below = 0.5\nresume_at = 0.4"
        ),
        "line[1].resume_at",
        "must be above pause_below (0.5)",
    ),
    "unknown schedule": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A"]\nschedule = "weekly"'),
        "line[1].schedule",
        'must be one of "continuous", "intermittent", "adaptive"',
    ),
    "negative treatment-free interval": (
        toml(rest=DRUG_A + '[[line]]\ndrugs = ["A"]\ntreatment_free_days = -1'),
        "line[1].treatment_free_days",
        "got -1",
    ),
    "missed doses without dosed drugs": (
        toml(rest=DRUG_A + "[adherence]\nmiss_probability = 0.2"),
        "adherence.miss_probability",
        "needs a drug given in doses",
    ),
    "miss probability of 1": (
        toml(rest="[adherence]\nmiss_probability = 1"),
        "adherence.miss_probability",
        "must be a number in [0, 1)",
    ),
    "capacity below detection": (
        toml(rest="[competition]\ncarrying_capacity = 1e9"),
        "competition.carrying_capacity",
        "so the tumour is never detected",
    ),
    "negative measurement noise": (
        toml(rest="[monitoring]\nmeasurement_cv = -0.1"),
        "monitoring.measurement_cv",
        "got -0.1",
    ),
    "unknown progression reference": (
        toml(rest='[monitoring]\nprogression_reference = "peak"'),
        "monitoring.progression_reference",
        'must be one of "nadir", "baseline"',
    ),
    "sanctuary naming an unknown drug": (
        toml(rest=DRUG_A + "[sanctuary]\nmigration_in = 1e-3\nexposure = { B = 0.1 }"),
        "sanctuary.exposure",
        'names drug "B", which no [[drug]] defines',
    ),
    "sanctuary exposure above 1": (
        toml(rest=DRUG_A + "[sanctuary]\nmigration_in = 1e-3\nexposure = { A = 1.5 }"),
        "sanctuary.exposure.A",
        "must be a number in [0, 1]",
    ),
    "sanctuary share of a tumour grown from one cell": (
        toml(rest="[sanctuary]\nshare = 0.1\nmigration_in = 1e-3"),
        "sanctuary.share",
        'applies to the initial clones of start = "cells"',
    ),
    "empty sanctuary": (
        toml(rest="[sanctuary]\nmigration_out = 1e-3"),
        "sanctuary.migration_in",
        "leaves the sanctuary empty",
    ),
    "sanctuary visible not a boolean": (
        toml(rest='[sanctuary]\nmigration_in = 1e-3\nvisible = "no"'),
        "sanctuary.visible",
        "must be true or false",
    ),
    "negative migration rate": (
        toml(rest="[sanctuary]\nmigration_in = -1e-3"),
        "sanctuary.migration_in",
        "got -0.001",
    ),
    "persister without switching rates": (
        toml(rest=DRUG_A + "[persister]\nswitch_on = 0.01\nprotection = { A = 1.0 }"),
        "persister.switch_off",
        "persister.switch_off is missing",
    ),
    "persister protection from an unknown drug": (
        toml(
            rest=DRUG_A + "[persister]\nswitch_on = 0.01\nswitch_off = 0.01\n"
            "protection = { B = 1.0 }"
        ),
        "persister.protection",
        'names drug "B", which no [[drug]] defines',
    ),
    "persister birth fraction above 1": (
        toml(
            rest=DRUG_A + "[persister]\nswitch_on = 0.01\nswitch_off = 0.01\n"
            "birth_fraction = 2\nprotection = { A = 1.0 }"
        ),
        "persister.birth_fraction",
        "must be a number in [0, 1]",
    ),
    "unknown persister key": (
        toml(
            rest=DRUG_A + "[persister]\nswitch_on = 0.01\nswitch_off = 0.01\n"
            "protection = { A = 1.0 }\nswitch_rate = 0.1"
        ),
        "persister.switch_rate",
        'unknown key "switch_rate" in [persister]',
    ),
    "missing required field": (
        toml(tumor="death_rate = 0.13"),
        "tumor.birth_rate",
        "tumor.birth_rate is missing; it is required and must be a finite number > 0",
    ),
}


@pytest.mark.parametrize(("text", "field", "says"), BAD.values(), ids=BAD.keys())
def test_bad_scenario_message(tmp_path, text, field, says):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=re.escape(says)) as caught:
        load_scenario(path)
    error = caught.value
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert field in message or f'unknown key "{field.rsplit(".", 1)[-1]}"' in message
    assert (error.path, error.field) == (str(path), field)
    assert_one_paragraph(message)


def test_toml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, '[scenario]\nname = "t"\npatients = = 3\n')
    with pytest.raises(ScenarioError, match=r"bad\.toml: is not valid TOML: .*line 3") as caught:
        load_scenario(path)
    assert caught.value.field is None
    assert_one_paragraph(str(caught.value))


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ScenarioError, match=r"nowhere\.toml: no such file") as caught:
        load_scenario(path)
    assert caught.value.path == str(path)
    assert_one_paragraph(str(caught.value))


def test_several_problems_reported_in_one_paragraph():
    with pytest.raises(ScenarioError, match=r"^x\.toml: scenario\.patients .* 1 more problem"):
        parse_scenario(
            {
                "scenario": {"name": "t", "patients": 0},
                "tumor": {"birth_rate": -1, "death_rate": 0},
            },
            "x.toml",
        )


RATES = st.floats(min_value=1e-6, max_value=10.0)


@settings(deadline=None, max_examples=60)
@given(birth=RATES, fraction=st.floats(0.0, 0.999), effect=st.floats(0.0, 10.0))
def test_valid_rates_round_trip(birth, fraction, effect):
    data = {
        "scenario": {"name": "p"},
        "tumor": {"birth_rate": birth, "death_rate": birth * fraction},
        "drug": [{"name": "A", "max_effect": effect}],
    }
    scenario = parse_scenario(data)
    assert (scenario.tumor.birth_rate, scenario.tumor.death_rate) == (birth, birth * fraction)
    assert scenario.drugs[0].max_effect == effect
    assert Scenario.from_dict(scenario.to_dict()) == scenario


@settings(deadline=None, max_examples=60)
@given(value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70))
def test_mutation_rate_accepted_exactly_when_a_probability(value):
    data = {
        "scenario": {"name": "p"},
        "tumor": {"birth_rate": 1.0, "death_rate": 0.5},
        "mechanism": [{"name": "m", "mutation_rate": value}],
    }
    if math.isfinite(value) and 0 <= value <= 1:
        assert parse_scenario(data).mechanisms[0].mutation_rate == value
    else:
        with pytest.raises(ScenarioError, match=r'mechanism "m" \(#1\)\.mutation_rate'):
            parse_scenario(data)


@settings(deadline=None, max_examples=60)
@given(
    field=st.sampled_from(["death_rate", "detection_cells", "max_effect", "scan_every_days"]),
    value=st.floats(max_value=-1e-12) | st.integers(max_value=-1),
)
def test_negative_values_rejected(field, value):
    data = {"scenario": {"name": "p"}, "tumor": {"birth_rate": 1.0, "death_rate": 0.5}}
    table = {"max_effect": "drug", "scan_every_days": "monitoring"}.get(field, "tumor")
    if table == "drug":
        data["drug"] = [{"name": "A", "max_effect": value}]
    else:
        data.setdefault(table, {})[field] = value
    with pytest.raises(ScenarioError, match=r"; got -") as caught:
        parse_scenario(data, "neg.toml")
    assert caught.value.field.endswith(field)
