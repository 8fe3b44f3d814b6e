"""theory.md section 5 in the large-K limit, untreated: logistic growth under competition.

With birth b (1 - N/K) and death d the mean follows dN/dt = N (b (1 - N/K) - d), whose
solution is the logistic curve N(t) = C N0 e^(rt) / (C + N0 (e^(rt) - 1)), r = b - d,
C = K (1 - d/b). The stochastic mean differs from it by O(1) cells (Var N / K), far below the
test's standard error here. On both engines: the agent engine applies competition at every
event, the compartment engine holds it per step at the mid-step total.
"""

import math

import pytest

from .harness import CASE_IDS, CASES, check_mean, engine_params, scenario, simulate

B, D, K, N0, DAYS, PATIENTS = 0.3, 0.1, 2e4, 1000, 15.0, 400


def logistic(t: float, b: float = B) -> float:
    r, ceiling = b - D, K * (1 - D / b)
    grown = math.exp(r * t)
    return ceiling * N0 * grown / (ceiling + N0 * (grown - 1))


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params(fast=("compartment", "agent")))
def test_mean_cells_follow_the_logistic_curve(planted, engine, record):
    """z test of the mean cells at day 15 (n = 400, ALPHA = 1e-3) against the logistic curve
    (8247 cells); power against the birth rate x 1.05 (9078 cells) from the sample sd."""
    tumor = {
        "birth_rate": B,
        "death_rate": D,
        "start": "cells",
        "detection_cells": N0,
        "lethal_cells": 1e6,
        "clone": [{"cells": N0}],
    }
    sc = scenario(tumor, horizon_days=DAYS, competition={"carrying_capacity": K})
    sim = simulate(
        sc, PATIENTS, seed=41, planted=planted and ("birth_rate", planted), engine=engine
    )
    cells = sim.patients["cells_at_end"].to_numpy(float)
    check_mean(cells, logistic(DAYS), logistic(DAYS, B * 1.05), planted, record)
