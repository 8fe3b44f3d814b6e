"""Sweeps and trial arms: every (point, arm) is the plain scenario with its values set, the
same virtual patients are in every arm up to treatment start, and bad tables are refused."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import refractory
from refractory import batch
from refractory.errors import ScenarioError
from refractory.scenario import parse_scenario
from refractory.variation import sweep_points, variants
from tests.conftest import SMALL

ALPHA = 1e-3
TRIAL = refractory.bundled.scenarios_folder() / "cohorts" / "combination-vs-sequence-trial.toml"


def _small(extra: str, patients: int = 30):
    text = SMALL.replace("patients = 60", f"patients = {patients}") + extra
    import tomllib

    return parse_scenario(tomllib.loads(text), "small.toml")


def _without(frame: pd.DataFrame, columns) -> pd.DataFrame:
    return frame.drop(columns=[c for c in columns if c in frame]).reset_index(drop=True)


def test_each_grid_point_is_the_plain_scenario_with_its_values_set():
    swept = _small(
        '[sweep]\n"mechanism.0.mutation_rate" = { values = [2e-6, 1e-5] }\n'
        '"tumor.detection_cells" = { values = [1e5, 1e6] }\n'
    )
    results = refractory.simulate(swept, trace=5)
    assert sorted(results.patients["point"].unique()) == [0, 1, 2, 3]
    point = results.patients[results.patients["point"] == 2]
    assert (point["mechanism.0.mutation_rate"] == 1e-5).all()
    assert (point["tumor.detection_cells"] == 1e5).all()
    data = _small("").to_dict()
    data["mechanism"][0]["mutation_rate"] = 1e-5
    data["tumor"]["detection_cells"] = 1e5
    plain = refractory.simulate(parse_scenario(data), trace=5)
    extra = ["point", "mechanism.0.mutation_rate", "tumor.detection_cells"]
    for name, frame in plain.tables().items():
        mine = getattr(results, name)
        mine = mine[mine["point"] == 2] if "point" in mine else mine
        pd.testing.assert_frame_equal(_without(mine, extra), frame, obj=name)


def test_a_sweep_of_one_value_equals_the_plain_scenario_bit_for_bit():
    swept = refractory.simulate(_small('[sweep]\n"tumor.birth_rate" = { values = [0.3] }\n'))
    plain = refractory.simulate(_small(""))
    for name, frame in plain.tables().items():
        got = _without(getattr(swept, name), ["point", "tumor.birth_rate"])
        pd.testing.assert_frame_equal(got, frame, check_exact=True, obj=name)


def test_arms_share_each_patient_up_to_treatment_start():
    arms = _small(
        '[[arm]]\nlabel = "A then B"\n[[arm]]\nlabel = "B then A"\n'
        'set = { "line.0.drugs" = ["B"], "line.1.drugs" = ["A"] }\n',
        patients=40,
    )
    patients = refractory.simulate(arms).patients
    first, second = (patients[patients["arm"] == label] for label in ("A then B", "B then A"))
    for column in ("patient", "days_to_detection", "cells_at_start", "resistant_cells_at_start"):
        assert np.array_equal(first[column].to_numpy(), second[column].to_numpy()), column
    assert not np.array_equal(first["end_day"].to_numpy(), second["end_day"].to_numpy())


def test_two_identical_arms_give_identical_patients():
    arms = _small('[[arm]]\nlabel = "one"\n[[arm]]\nlabel = "two"\n', patients=20)
    patients = refractory.simulate(arms).patients
    one, two = (_without(patients[patients["arm"] == a], ["arm"]) for a in ("one", "two"))
    pd.testing.assert_frame_equal(one, two)


def test_the_combination_cures_more_than_the_sequence():
    """Bozic et al. 2013 (no alteration resists both drugs, detection at 1e9): one-sided
    Fisher exact test of cure, together > one after the other, 200 twins, ALPHA = 1e-3."""
    patients = refractory.simulate(TRIAL, patients=200).patients
    cured = patients.groupby("arm")["cured"].agg(["sum", "count"])
    table = [
        [cured.loc[arm, "sum"], cured.loc[arm, "count"] - cured.loc[arm, "sum"]]
        for arm in ("together", "one after the other")
    ]
    assert stats.fisher_exact(table, alternative="greater").pvalue < ALPHA


def test_sampled_designs_fill_their_ranges_reproducibly():
    swept = _small(
        '[sweep]\ndesign = "latin_hypercube"\npoints = 16\n'
        '"tumor.detection_cells" = { low = 1e4, high = 1e6, scale = "log" }\n'
        '"tumor.birth_rate" = { low = 0.2, high = 0.4 }\n'
    )
    points = sweep_points(swept.sweep, seed=3)
    assert points == sweep_points(swept.sweep, seed=3) != sweep_points(swept.sweep, seed=4)
    cells = np.log10([p["tumor.detection_cells"] for p in points])
    births = np.array([p["tumor.birth_rate"] for p in points])
    # Latin hypercube: exactly one point in each sixteenth of each (log-)range.
    assert sorted(np.floor((cells - 4) / 2 * 16).astype(int)) == list(range(16))
    assert sorted(np.floor((births - 0.2) / 0.2 * 16).astype(int)) == list(range(16))
    assert len(variants(swept)) == 16


def test_a_batch_of_a_trial_resumes_per_point_arm_and_chunk(tmp_path, monkeypatch):
    scenario = _small(
        '[sweep]\n"tumor.birth_rate" = { values = [0.3, 0.35] }\n'
        '[[arm]]\nlabel = "A then B"\n[[arm]]\nlabel = "B"\nset = { "line.0.drugs" = ["B"] }\n',
        patients=24,
    )
    expected = refractory.simulate(scenario)
    real, calls = batch.write_chunk, {"n": 0}

    def crash_after_five(*args):
        if calls["n"] == 5:
            raise KeyboardInterrupt
        calls["n"] += 1
        real(*args)

    monkeypatch.setattr(batch, "write_chunk", crash_after_five)
    with pytest.raises(KeyboardInterrupt):
        refractory.run_batch(scenario, tmp_path / "out", chunk_size=10)
    monkeypatch.setattr(batch, "write_chunk", real)
    resumed = refractory.run_batch(scenario, tmp_path / "out", chunk_size=10)
    for name, frame in expected.tables().items():
        pd.testing.assert_frame_equal(getattr(resumed, name), frame, obj=name)
    assert len(list((tmp_path / "out" / "patients.parquet").glob("*.parquet"))) == 2 * 2 * 3


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[sweep]\n"tumor.nothing" = { values = [1] }\n', r'sweep point 0 .*unknown key "nothing"'),
        ('[sweep]\ndesign = "grid"\n', "sweeps nothing: it names no field"),
        ('[sweep]\n"tumor.birth_rate" = { low = 0.1, high = 0.3 }\n', "must list its values"),
        (
            '[sweep]\ndesign = "sobol"\n"tumor.birth_rate" = { low = 0.1, high = 0.3 }\n',
            'points is required for design = "sobol"',
        ),
        (
            '[sweep]\n"tumor.death_rate" = { values = [0.1, -0.2] }\n',
            r"sweep point 1 \(tumor.death_rate = -0.2\) gives a scenario that is not valid: "
            r"tumor.death_rate must be a finite number >= 0",
        ),
        ('[sweep]\n"scenario.seed" = { values = [1, 2] }\n', "setting of the run"),
        (
            '[[arm]]\nlabel = "x"\nset = { "tumor.birth_rate" = 0.5 }\n',
            r'arm "x": set changes .tumor.birth_rate., but arms may change only the treatment',
        ),
        ('[[arm]]\nlabel = "x"\nset = { "line.0.drugs" = ["C"] }\n', r'arm "x" gives a scenario'),
        ('[[arm]]\nlabel = "x"\n[[arm]]\nlabel = "x"\n', 'labels must be distinct \\("x"'),
        (
            '[sweep]\n"line.0.dose_fraction" = { values = [0.5] }\n'
            '[[arm]]\nlabel = "x"\nset = { "line.0.dose_fraction" = 1.0 }\n',
            "which \\[sweep\\] also",
        ),
    ],
)
def test_bad_sweeps_and_arms_are_refused_with_the_path_and_the_fix(extra, message):
    with pytest.raises(ScenarioError, match=message) as error:
        _small(extra)
    assert str(error.value).startswith("small.toml: ")


def test_check_describes_the_sweep_and_the_arms():
    from refractory.summary import describe

    text = describe(
        _small(
            '[sweep]\ndesign = "halton"\npoints = 5\n'
            '"tumor.birth_rate" = { low = 0.2, high = 0.4 }\n'
            '[[arm]]\nlabel = "as written"\n[[arm]]\nlabel = "B first"\n'
            'set = { "line.0.drugs" = ["B"] }\n'
        )
    )
    assert "Sweep: 5 points of a halton design" in text
    assert "tumor.birth_rate: 0.2 to 0.4 (linear scale)" in text
    assert "\"B first\": line.0.drugs = ['B']" in text


def test_a_trial_run_writes_its_arms_table(tmp_path):
    from refractory.cli import main

    out = tmp_path / "trial"
    assert main(["run", str(TRIAL), "--patients", "40", "--out", str(out), "--quiet"]) == 0
    arms = pd.read_parquet(out / "arms.parquet")
    assert arms["arm"].tolist() == ["together", "one after the other"]
    assert arms["patients"].tolist() == [40, 40]
    assert not (out / "points.parquet").exists()
