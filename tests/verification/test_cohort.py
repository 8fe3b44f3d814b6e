"""A virtual cohort against theory: cure under one drug (theory.md section 3) with a prior on
the mutation rate, each patient at its own drawn rate.

Tumours grow from one cell to M = 1e5 (b = 0.5, d = 0.25, s = 0.5), then a drug adds 0.5 to
the death rate of the cells it reaches (s' = -0.5); one mechanism resists it fully, gained
at rate u per division, u drawn per patient from a log-uniform prior on [2e-6, 2e-5] (M u
from 0.2 to 2). Given the patient's u and size at treatment start M, P(cure) =
exp(-M u) exp(M u s/s'); over the prior the cure fraction is the mean of these.
"""

import math

import numpy as np
import pytest
from scipy import integrate

import refractory
import refractory.simulation

from .harness import CASE_IDS, CASES, check_mean, scenario
from .theory import cure_one_step

B, D, EFFECT, M = 0.5, 0.25, 0.5, 1e5
S, S_TREATED = 1 - D / B, 1 - (D + EFFECT) / B
LOW, HIGH = 2e-6, 2e-5
PATH = "mechanism.0.mutation_rate"


def _cohort_scenario():
    return scenario(
        {"birth_rate": B, "death_rate": D, "detection_cells": M, "lethal_cells": 1e7},
        mechanism=[{"name": "r", "mutation_rate": 1e-5, "resists": {"A": 1.0}}],
        drug=[{"name": "A", "max_effect": EFFECT}],
        line=[{"drugs": ["A"]}],
        cohort={PATH: {"distribution": "loguniform", "low": LOW, "high": HIGH}},
    )


def _plant(monkeypatch, error: float) -> None:
    """A planted error in the per-patient rows: every patient's rate 1 + error times its draw."""
    rows_of = refractory.simulation.cohort_rows

    def planted(model, terms, drawn):
        rows = rows_of(model, terms, drawn)
        return rows._replace(mutation_rate=rows.mutation_rate * (1.0 + error))

    monkeypatch.setattr(refractory.simulation, "cohort_rows", planted)


def _prior_mean() -> float:
    """P(cure) averaged over the log-uniform prior at M exactly (for the docstring's check)."""
    value, _ = integrate.quad(
        lambda x: cure_one_step(M * math.exp(x), S, S_TREATED), math.log(LOW), math.log(HIGH)
    )
    return value / math.log(HIGH / LOW)


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_cohort_cure_matches_theory_over_the_prior(planted, record, monkeypatch):
    """z test of the cure fraction against the mean of each patient's closed form at its own
    drawn u and M, ALPHA = 1e-3, n = 48000; power against u x 1.05 >= 0.99. The planted case
    runs every patient at 1.05 times the rate its row should hold."""
    if planted:
        _plant(monkeypatch, planted)
    patients = refractory.simulate(_cohort_scenario(), patients=48000, seed=5).patients
    assert not (~patients.cured & ~patients.lethal).any()
    mu = patients["cells_at_start"].to_numpy() * patients[PATH].to_numpy()
    expected = np.mean([cure_one_step(x, S, S_TREATED) for x in mu])
    alternative = np.mean([cure_one_step(1.05 * x, S, S_TREATED) for x in mu])
    assert abs(expected - _prior_mean()) < 0.01  # the draws cover the prior
    check_mean(patients["cured"].to_numpy(float), expected, alternative, planted, record)
