"""theory.md section 3: cure under therapy (Bozic et al. 2013) at M = 1e5 on the compartment
engine (the M = 1e9 published scenarios are in test_bozic2013.py).

Tumours grow from one cell to M = 1e5 (b = 0.5, d = 0.25, s = 0.5), then a cytotoxic drug
adds 0.5 to the death rate of cells it reaches (d' = 0.75, s' = -0.5); fully resistant cells
keep b, d. Cured = extinct by the horizon (3650 days; a surviving resistant lineage reaches
the lethal 1e7 cells within about 60 days). Formula in terms of each patient's
M = cells_at_start, averaged over patients.
"""

import math

import numpy as np
import pytest

from .harness import CASE_IDS, CASES, check_binomial, scenario, simulate
from .theory import cure_one_step, p2_down, two_step_escape

B, D, EFFECT = 0.5, 0.25, 0.5
S, S_TREATED = 1 - D / B, 1 - (D + EFFECT) / B
TUMOR = {"birth_rate": B, "death_rate": D, "detection_cells": 1e5, "lethal_cells": 1e7}


def _expected(patients, u: float, factor: float = 1.0) -> float:
    mu = patients.cells_at_start.to_numpy() * u * factor
    return float(np.mean([cure_one_step(x, S, S_TREATED) for x in mu]))


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_cure_one_drug(planted, record):
    """One drug, one resistance mechanism u = 1e-5 (M u n = 1): P(cure) = p1_up p1_down =
    exp(-Mu) exp(Mu s/s') = e^-2 = 0.135; two-sided exact binomial test, ALPHA = 1e-3,
    n = 25000; power against u x 1.05 (P = 0.122) = 0.997."""
    u, n = 1e-5, 25000
    sc = scenario(
        TUMOR,
        mechanism=[{"name": "r", "mutation_rate": u, "resists": {"A": 1.0}}],
        drug=[{"name": "A", "max_effect": EFFECT}],
        line=[{"drugs": ["A"]}],
    )
    patients = simulate(sc, n, seed=41, planted=planted and ("mutation_rate", planted)).patients
    assert not (~patients.cured & ~patients.lethal).any()
    p0, p1 = _expected(patients, u), _expected(patients, u, 1.05)
    check_binomial(int(patients.cured.sum()), n, p0, p1, planted, record)


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_cure_two_drugs(planted, record):
    """Two drugs A, B (combine = "max", each adds 0.5 to death), mechanisms r1 (resists A),
    r2 (resists B) with u1 = u2 = 1e-5 and r12 (resists both) with u12 = 1e-5 (M u n12 = 1):
    P(cure) = p1_up p1_down p2_up p2_down with p1 = e^-2; p2_down from theory.md
    (1 - p2_down = 1.5e-5) and p2_up estimated by theory.two_step_escape (~1e-3): both far
    below the test's resolution (standard error 1.6% relative) and included in the expected
    value. Two-sided exact binomial test, ALPHA = 1e-3, n = 25000; power against u12 x 1.05
    = 0.997 (the planted error scales all three mutation rates)."""
    u1 = u2 = u12 = 1e-5
    n = 25000
    sc = scenario(
        TUMOR,
        mechanism=[
            {"name": "r1", "mutation_rate": u1, "resists": {"A": 1.0}},
            {"name": "r2", "mutation_rate": u2, "resists": {"B": 1.0}},
            {"name": "r12", "mutation_rate": u12, "resists": {"A": 1.0, "B": 1.0}},
        ],
        drug=[{"name": "A", "max_effect": EFFECT}, {"name": "B", "max_effect": EFFECT}],
        line=[{"drugs": ["A", "B"], "combine": "max"}],
    )
    patients = simulate(sc, n, seed=42, planted=planted and ("mutation_rate", planted)).patients
    assert not (~patients.cured & ~patients.lethal).any()
    m_total = float(patients.cells_at_start.mean())
    escape = two_step_escape(m_total, u1, u2, B, D, B, D + EFFECT)
    down = p2_down(m_total, u1, u2, u12, S, S_TREATED)
    assert escape < 2e-3 and 1 - down < 1e-4  # the two-step terms are negligible here
    p2 = math.exp(-escape) * down
    p0, p1 = _expected(patients, u12) * p2, _expected(patients, u12, 1.05) * p2
    cured = int(patients.cured.sum())
    check_binomial(cured, n, p0, p1, planted, record, note=f" (p2 {p2:.5f})")
