"""Virtual cohorts: drawn values follow their distributions and correlations, depend only on
(seed, patient), reach the kernels as each patient's own model, and bad cohorts are one
paragraph naming the file, the path and the fix."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import refractory
from refractory.cli import main
from refractory.cohort import draw
from refractory.errors import ScenarioError
from refractory.scenario import Cohort, parse_scenario

#: Two-sided level of the distribution tests; each is shown to reject a 5% parameter error.
ALPHA = 1e-3
DRAWS = 40_000

BASE = {
    "scenario": {"name": "cohort", "patients": 40, "seed": 11},
    "tumor": {"birth_rate": 0.5, "death_rate": 0.25, "detection_cells": 1e4, "lethal_cells": 1e6},
    "mechanism": [{"name": "r", "mutation_rate": 1e-4, "resists": {"A": 1.0}}],
    "drug": [{"name": "A", "max_effect": 0.5}],
    "line": [{"drugs": ["A"]}],
}


def _scenario(cohort: dict, **tables) -> refractory.Scenario:
    return parse_scenario(BASE | {"cohort": cohort} | tables, "cohort.toml")


def _draws(spec: dict, n: int = DRAWS, seed: int = 3) -> np.ndarray:
    return draw(Cohort.model_validate({"x": spec}), seed, 0, n)["x"]


#: (cohort distribution, the scipy distribution it must follow, the same 5% off).
LAWS = [
    (
        {"distribution": "lognormal", "median": 0.14, "sigma": 0.3},
        stats.lognorm(0.3, scale=0.14),
        stats.lognorm(0.3 * 1.05, scale=0.14),
    ),
    (
        {"distribution": "normal", "mean": 2.0, "sd": 0.5},
        stats.norm(2.0, 0.5),
        stats.norm(2.0, 0.5 * 1.05),
    ),
    (
        {"distribution": "normal", "mean": 0.1, "sd": 0.1, "low": 0.0, "high": 0.3},
        stats.truncnorm(-1.0, 2.0, 0.1, 0.1),
        stats.truncnorm(-1.0 / 1.05, 2.0 / 1.05, 0.1, 0.1 * 1.05),
    ),
    (
        {"distribution": "uniform", "low": 1.0, "high": 3.0},
        stats.uniform(1.0, 2.0),
        stats.uniform(1.0, 2.0 * 1.05),
    ),
    (
        {"distribution": "loguniform", "low": 1e-9, "high": 1e-7},
        stats.loguniform(1e-9, 1e-7),
        stats.loguniform(1e-9, 1.05e-7),
    ),
    (
        {"distribution": "beta", "a": 2.0, "b": 5.0},
        stats.beta(2.0, 5.0),
        stats.beta(2.0 * 1.05, 5.0),
    ),
]


@pytest.mark.parametrize("spec, law, off", LAWS, ids=[law[0]["distribution"] for law in LAWS])
def test_drawn_values_follow_their_distribution(spec, law, off):
    """One-sample KS test against the distribution at ALPHA (n = 40000), and the same test
    rejects the distribution with one parameter 5% off."""
    values = _draws(spec)
    assert stats.kstest(values, law.cdf).pvalue >= ALPHA
    assert stats.kstest(values, off.cdf).pvalue < ALPHA


def test_a_choice_follows_its_weights():
    """Chi-square goodness of fit of the counts of each value at ALPHA, n = 200000 (the
    first value's weight 5% higher moves its share by 0.008: noncentrality 78, power > 0.999),
    and that alternative is rejected."""
    n = 200_000
    values = _draws({"distribution": "choice", "values": [1, 2, 4], "weights": [0.2, 0.3, 0.5]}, n)
    counts = np.array([(values == v).sum() for v in (1, 2, 4)])
    assert counts.sum() == n
    assert stats.chisquare(counts, n * np.array([0.2, 0.3, 0.5])).pvalue >= ALPHA
    off = np.array([0.2 * 1.05, 0.3, 0.5])
    assert stats.chisquare(counts, n * off / off.sum()).pvalue < ALPHA


@pytest.mark.parametrize("rho", [0.6, -0.4])
def test_correlated_values_have_the_copula_rank_correlation(rho):
    """A Gaussian copula with correlation rho gives Spearman's rank correlation
    (6/pi) arcsin(rho/2) whatever the margins. Fisher z of the sample Spearman, standard
    error sqrt(1.06/(n-3)) (Fieller, Hartley and Pearson 1957), two-sided at ALPHA; the rank
    correlation of rho 5% off is rejected."""
    cohort = Cohort.model_validate(
        {
            "a": {"distribution": "loguniform", "low": 1e-9, "high": 1e-7},
            "b": {"distribution": "lognormal", "median": 0.14, "sigma": 0.2},
            "c": {"distribution": "uniform", "low": 0.0, "high": 1.0},
            "correlation": {"paths": ["a", "b"], "matrix": [[1, rho], [rho, 1]]},
        }
    )
    values = draw(cohort, 7, 0, DRAWS)
    threshold = stats.norm.isf(ALPHA / 2) * math.sqrt(1.06 / (DRAWS - 3))

    def off_by(r: float) -> float:
        observed = stats.spearmanr(values["a"], values["b"]).statistic
        return abs(math.atanh(observed) - math.atanh(6 / math.pi * math.asin(r / 2)))

    assert off_by(rho) < threshold
    assert off_by(rho * 1.05) >= threshold
    independent = stats.spearmanr(values["a"], values["c"]).statistic
    assert abs(math.atanh(independent)) < threshold


def test_a_patients_values_depend_on_the_seed_and_its_index_only():
    cohort = _scenario({"tumor.birth_rate": {"distribution": "uniform", "low": 0.4, "high": 0.6}})
    whole = draw(cohort.cohort, 5, 0, 100)["tumor.birth_rate"]
    part = draw(cohort.cohort, 5, 37, 20)["tumor.birth_rate"]
    assert np.array_equal(whole[37:57], part)
    assert not np.array_equal(whole, draw(cohort.cohort, 6, 0, 100)["tumor.birth_rate"])
    assert len(np.unique(whole)) == 100


def _without_drawn(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if "." not in c]]


def test_degenerate_distributions_give_the_plain_scenario_bit_for_bit():
    plain = refractory.simulate(parse_scenario(BASE, "plain.toml"))
    cohort = _scenario(
        {
            "tumor.birth_rate": {"distribution": "normal", "mean": 0.5, "sd": 0.0},
            "mechanism.0.mutation_rate": {"distribution": "lognormal", "median": 1e-4, "sigma": 0},
            "drug.0.max_effect": {"distribution": "choice", "values": [0.5]},
        }
    )
    drawn = refractory.simulate(cohort)
    assert (drawn.patients["tumor.birth_rate"] == 0.5).all()
    for name in ("patients", "lines", "clones", "scans", "trace"):
        pd.testing.assert_frame_equal(
            _without_drawn(getattr(drawn, name)), getattr(plain, name), check_exact=True
        )


def test_each_patient_runs_the_plain_scenario_with_its_own_values():
    """Patient p of a cohort equals patient p of the plain scenario with p's drawn values set
    (fields the model holds as given reach the kernel exactly)."""
    cohort = _scenario(
        {
            "tumor.birth_rate": {"distribution": "lognormal", "median": 0.5, "sigma": 0.1},
            "tumor.death_rate": {"distribution": "uniform", "low": 0.2, "high": 0.3},
            "mechanism.0.mutation_rate": {"distribution": "loguniform", "low": 1e-5, "high": 1e-3},
            "drug.0.max_effect": {"distribution": "normal", "mean": 0.5, "sd": 0.05, "low": 0.3},
        }
    )
    drawn = refractory.simulate(cohort, trace=0)
    paths = [c for c in drawn.patients.columns if "." in c]
    assert drawn.patients[paths].nunique().min() == len(drawn.patients)
    for p in (0, 13, 39):
        data = {**BASE, "tumor": dict(BASE["tumor"]), "mechanism": [dict(BASE["mechanism"][0])]}
        data["drug"] = [dict(BASE["drug"][0])]
        row = drawn.patients.iloc[p]
        data["tumor"]["birth_rate"] = row["tumor.birth_rate"]
        data["tumor"]["death_rate"] = row["tumor.death_rate"]
        data["mechanism"][0]["mutation_rate"] = row["mechanism.0.mutation_rate"]
        data["drug"][0]["max_effect"] = row["drug.0.max_effect"]
        alone = refractory.simulate(parse_scenario(data), patient_range=(p, p + 1), trace=0)
        pd.testing.assert_frame_equal(
            _without_drawn(drawn.patients.iloc[[p]]).reset_index(drop=True),
            alone.patients,
            check_exact=True,
        )


def test_virtual_twins_share_their_values_and_history_before_treatment():
    cohort = _scenario(
        {"tumor.birth_rate": {"distribution": "lognormal", "median": 0.5, "sigma": 0.1}},
        arm=[{"label": "full"}, {"label": "half", "set": {"drug.0.max_effect": 0.3}}],
    )
    patients = refractory.simulate(cohort).patients
    full = patients[patients.arm == "full"].reset_index(drop=True)
    half = patients[patients.arm == "half"].reset_index(drop=True)
    for column in ("tumor.birth_rate", "days_to_detection", "cells_at_start"):
        assert full[column].equals(half[column])
    assert not full["days_to_refractory"].equals(half["days_to_refractory"])


def test_a_batch_in_chunks_equals_the_run_in_memory(tmp_path):
    cohort = _scenario(
        {"tumor.death_rate": {"distribution": "uniform", "low": 0.1, "high": 0.3}},
        sweep={"mechanism.0.mutation_rate": {"values": [1e-5, 1e-4]}},
    )
    memory = refractory.simulate(cohort)
    batch = refractory.run_batch(cohort, tmp_path / "out", chunk_size=7)
    pd.testing.assert_frame_equal(batch.patients, memory.patients, check_exact=True)
    assert set(memory.patients["point"]) == {0, 1}
    by_point = memory.patients.groupby("point")["tumor.death_rate"]
    assert np.array_equal(by_point.get_group(0).to_numpy(), by_point.get_group(1).to_numpy())


@pytest.mark.parametrize(
    "cohort, tables, expected",
    [
        (
            {"tumor.growth": {"distribution": "normal", "mean": 1, "sd": 1}},
            {},
            "cohort: 'tumor.growth' names no number of the scenario",
        ),
        (
            {"tumor.birth_rate": {"distribution": "lognormal", "median": 0.5}},
            {},
            'needs "sigma" for distribution = "lognormal"',
        ),
        (
            {"tumor.birth_rate": {"distribution": "uniform", "low": 0.6, "high": 0.4}},
            {},
            "must be at least low",
        ),
        (
            {"tumor.birth_rate": {"distribution": "gamma", "shape": 2}},
            {},
            "distribution must be one of",
        ),
        (
            {"tumor.birth_rate": {"distribution": "normal", "mean": 0.5, "sd": 0.1, "a": 1}},
            {},
            'does not take "a"',
        ),
        (
            {"scenario.seed": {"distribution": "uniform", "low": 1, "high": 5}},
            {},
            "is a setting of the run",
        ),
        (
            {"tumor.birth_rate": {"distribution": "uniform", "low": 0.4, "high": 0.6}},
            {"sweep": {"tumor.birth_rate": {"values": [0.4, 0.5]}}},
            "is swept by [sweep] too",
        ),
        (
            {
                "tumor.birth_rate": {"distribution": "uniform", "low": 0.4, "high": 0.6},
                "correlation": {
                    "paths": ["tumor.birth_rate", "tumor.x"],
                    "matrix": [[1, 0], [0, 1]],
                },
            },
            {},
            "which [cohort] does not draw",
        ),
        (
            {
                "tumor.birth_rate": {"distribution": "uniform", "low": 0.4, "high": 0.6},
                "tumor.death_rate": {"distribution": "uniform", "low": 0.1, "high": 0.2},
                "correlation": {
                    "paths": ["tumor.birth_rate", "tumor.death_rate"],
                    "matrix": [[1, 1.2], [1.2, 1]],
                },
            },
            {},
            "correlations strictly between -1 and 1",
        ),
    ],
)
def test_a_bad_cohort_is_one_paragraph(cohort, tables, expected):
    with pytest.raises(ScenarioError) as caught:
        _scenario(cohort, **tables)
    message = str(caught.value)
    assert message.startswith("cohort.toml: ") and expected in message
    assert "\n" not in message


def test_a_drawn_value_outside_its_field_stops_the_run_before_it_starts(tmp_path):
    """A normal death rate with no lower bound draws negative rates in a large cohort: the
    error names the patient, the path, the distribution and the rule, and nothing is run."""
    cohort = _scenario({"tumor.death_rate": {"distribution": "normal", "mean": 0.1, "sd": 0.05}})
    with pytest.raises(ScenarioError, match=r"cohort: patient \d+ draws tumor.death_rate = -") as e:
        refractory.run_batch(cohort, tmp_path / "out", patients=2000)
    assert "normal (mean 0.1, sd 0.05)" in str(e.value) and "must be" in str(e.value)
    assert not (tmp_path / "out").exists()


def test_a_field_the_model_transforms_non_linearly_must_be_swept():
    dosed = {
        "drug": [
            {
                "name": "A",
                "max_effect": 0.5,
                "dose": 1.0,
                "interval_days": 1.0,
                "half_life_days": 0.5,
                "ec50": 0.5,
            }
        ]
    }
    cohort = _scenario(
        {"drug.0.half_life_days": {"distribution": "uniform", "low": 0.4, "high": 0.8}}, **dosed
    )
    with pytest.raises(ScenarioError, match="other than linearly.*Sweep it in \\[sweep\\]"):
        refractory.simulate(cohort)


def test_the_command_line_refuses_a_bad_cohort_with_exit_status_2(tmp_path, capsys):
    path = Path(tmp_path / "bad.toml")
    path.write_text(
        '[scenario]\nname = "bad"\n[tumor]\nbirth_rate = 0.5\ndeath_rate = 0.25\n'
        '[cohort]\n"tumor.birth_rate" = { distribution = "beta", a = 2 }\n'
    )
    status = main(["run", str(path), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert status == 2
    assert str(path) in error and 'needs "b"' in error and "Traceback" not in error
