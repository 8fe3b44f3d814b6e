"""theory.md section 1, extinction under therapy: P(extinct by t) = alpha(t)^N0 with b' < d'.

On both engines. The true model must pass at ALPHA = 1e-3; a planted 5% birth-rate error must
be rejected.
"""

import pytest

from .harness import CASE_IDS, CASES, check_binomial, engine_params, scenario, simulate
from .theory import kendall_alpha_beta


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params())
def test_extinction_by_t_under_therapy(planted, engine, record):
    """N0 = 20 cells, b = 0.3, d = 0.1 plus a cytotoxic drug adding 0.4 (d' = 0.5), t = 15:
    P(cured by t) = alpha(t)^20 = 0.660; two-sided exact binomial test, ALPHA = 1e-3,
    n = 10000; power against birth rate x 1.05 (P = 0.615) > 0.9999."""
    b, d, effect, n0, t, n = 0.3, 0.1, 0.4, 20, 15.0, 10000
    tumor = {
        "birth_rate": b,
        "death_rate": d,
        "start": "cells",
        "detection_cells": n0,
        "lethal_cells": 1e12,
        "clone": [{"cells": n0}],
    }
    sc = scenario(
        tumor, horizon_days=t, drug=[{"name": "A", "max_effect": effect}], line=[{"drugs": ["A"]}]
    )
    sim = simulate(sc, n, seed=21, planted=planted and ("birth_rate", planted), engine=engine)
    p0 = kendall_alpha_beta(b, d + effect, t)[0] ** n0
    p1 = kendall_alpha_beta(b * 1.05, d + effect, t)[0] ** n0
    check_binomial(int(sim.patients.cured.sum()), n, p0, p1, planted, record)
