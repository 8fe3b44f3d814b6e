"""Pharmacokinetics: repeated first-order dosing and the Emax effect it drives."""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

from refractory.compile import compile_model
from refractory.engine import ENGINES
from refractory.kernels import treatment as tx
from refractory.kernels.streams import patient_states
from refractory.results import tables_from_chunk
from refractory.scenario import parse_scenario
from tests.verification.harness import plant

DOSE, INTERVAL, HALF_LIFE, EC50, HILL, MAX_EFFECT = 2.0, 1.0, 0.5, 1.0, 2.0, 0.3


def _scenario(days: float, **line) -> dict:
    return {
        "scenario": {"name": "pk", "horizon_days": days},
        "tumor": {
            "birth_rate": 1e-9,
            "death_rate": 0.0,
            "start": "cells",
            "clone": [{"cells": 1e8}],
        },
        "drug": [
            {
                "name": "A",
                "max_effect": MAX_EFFECT,
                "dose": DOSE,
                "interval_days": INTERVAL,
                "half_life_days": HALF_LIFE,
                "ec50": EC50,
                "hill": HILL,
            }
        ],
        "line": [{"drugs": ["A"], **line}],
        "monitoring": {"scan_every_days": days},
    }


def closed_form(t: float, dose: float = DOSE) -> float:
    """Concentration of doses at 0, tau, 2 tau, ...: D e^(-k (t - n tau)) (1 - e^(-(n+1) k
    tau)) / (1 - e^(-k tau)) with n the last dose before t."""
    k = math.log(2) / HALF_LIFE
    n = math.floor(t / INTERVAL + 1e-12)
    since = t - n * INTERVAL
    return (
        dose
        * math.exp(-k * since)
        * -math.expm1(-(n + 1) * k * INTERVAL)
        / -math.expm1(-k * INTERVAL)
    )


def test_concentration_profile_matches_repeated_dosing_closed_form():
    """The kernel's dosing (take_doses, concentration) against the closed form, 20 days."""
    model = compile_model(parse_scenario(_scenario(20.0)))
    state = patient_states(1, 0, 1)[0]
    level, dosed_at = np.zeros(1), np.zeros(1)
    next_dose = np.zeros(1)
    row = np.zeros(16)
    tx.schedule_doses(model, 0, 0.0, next_dose)
    grid = np.linspace(0.0, 20.0, 2001)
    got = []
    for t in grid:
        if next_dose[0] <= t:
            tx.take_doses(state, model, 0, next_dose[0], next_dose, level, dosed_at, row)
        got.append(tx.concentration(level[0], model.drug_decay[0], t - dosed_at[0]))
    expected = [closed_form(t) for t in grid]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert row[8] == row[9] == 21  # doses scheduled and taken at days 0..20


@pytest.mark.parametrize("planted", [None, 0.05], ids=["true-model", "planted-5pct"])
def test_tumour_shrinks_by_the_integral_of_the_emax_effect(planted):
    """A non-growing population of 1e8 cells dies at rate E(C(t)): log(N_T / N_0) must equal
    -integral of E over [0, T] (relative error of steps held constant: below 0.1%; the
    binomial noise at 1e8 cells is ~1e-4 in log). An elimination rate planted 5% off must
    miss it."""
    days = 10.0
    sc = parse_scenario(_scenario(days, dose_fraction=0.5))
    model = plant(compile_model(sc), "drug_decay", planted)
    raw = ENGINES["compartment"](model, 3, 0, 4)
    end = tables_from_chunk(raw, sc)["patients"]["cells_at_end"].to_numpy()

    def effect(t):
        c = closed_form(t, DOSE * 0.5)
        return MAX_EFFECT * c**HILL / (c**HILL + EC50**HILL)

    breaks = np.arange(0.0, days + INTERVAL, INTERVAL)
    exposure = sum(
        integrate.quad(effect, a, b, epsabs=1e-13)[0] for a, b in itertools.pairwise(breaks)
    )
    matches = np.allclose(np.log(end / 1e8), -exposure, rtol=1e-3, atol=0)
    assert matches == (planted is None)
