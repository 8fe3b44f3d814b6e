"""theory.md section 4: recurrence after therapy on the compartment engine."""

import math

import numpy as np
import pytest

from .harness import CASE_IDS, CASES, check, check_binomial, scenario, simulate
from .stats import ALPHA, binomial_p, empirical_power, ks_p
from .theory import no_escape, w_law, w_sample


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_de_novo_escape(planted, record):
    """N0 = 1e4 sensitive cells under a drug (b' = 0.5, d' = 0.25 + 0.5), resistance u = 2e-4
    with fitness cost 0.2 (b_R = 0.4, d_R = 0.25, s_R = 0.375): P(no escape) =
    exp(-N0 u b' s_R/(d' - b')) = e^-1.5 = 0.223 (= cured: escaped lineages reach the lethal
    1e6 cells). Two-sided exact binomial, ALPHA = 1e-3, n = 25000; power against u x 1.05
    (P = 0.207) = 0.9996."""
    b, d, effect, n0, u, cost, n = 0.5, 0.25, 0.5, 10_000, 2e-4, 0.2, 25000
    tumor = {
        "birth_rate": b,
        "death_rate": d,
        "start": "cells",
        "detection_cells": n0,
        "lethal_cells": 1e6,
        "clone": [{"cells": n0}],
    }
    sc = scenario(
        tumor,
        mechanism=[{"name": "r", "mutation_rate": u, "resists": {"A": 1.0}, "fitness_cost": cost}],
        drug=[{"name": "A", "max_effect": effect}],
        line=[{"drugs": ["A"]}],
    )
    patients = simulate(sc, n, seed=51, planted=planted and ("mutation_rate", planted)).patients
    assert not (~patients.cured & ~patients.lethal).any()
    b_r = b * (1 - cost)
    s_r = 1 - d / b_r
    p0 = no_escape(n0, u, b, d + effect, s_r)
    p1 = no_escape(n0, u * 1.05, b, d + effect, s_r)
    check_binomial(int(patients.cured.sum()), n, p0, p1, planted, record)


def _w_test(w: np.ndarray, atom: float, cdf) -> tuple[float, float, float]:
    """Bonferroni of a binomial test of P(W = 0) and a KS test of W given W > 0."""
    zero = int(np.sum(w == 0))
    p_atom = binomial_p(zero, len(w), atom)
    p_ks = ks_p(w[w > 0], cdf)
    return p_atom, p_ks, min(1.0, 2 * min(p_atom, p_ks))


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_preexisting_resistant_growth(planted, record):
    """R0 = 4 resistant (b_R = 0.5, d_R = 0.25, lambda_R = 0.25) and 1000 sensitive cells at
    treatment start, drug adds 1.0 to death (sensitive cells die out); at t = 40
    (lambda_R t = 10) N(t) e^{-lambda_R t} against W = sum of 4 iid (0 w.p. d/b, else
    exponential with mean b/lambda_R): exact binomial test of P(W = 0) = 1/16 and KS test of
    W | W > 0 against the binomial mixture of gammas, Bonferroni at ALPHA = 1e-3 overall,
    n = 2000; power against death rate x 1.05 (Monte Carlo from the theoretical law of the
    perturbed process, 200 replicates) = 1.00. Fast subset."""
    b, d, effect, r0, t, n = 0.5, 0.25, 1.0, 4, 40.0, 2000
    tumor = {
        "birth_rate": b,
        "death_rate": d,
        "start": "cells",
        "detection_cells": 1000 + r0,
        "lethal_cells": 1e12,
        "clone": [{"cells": 1000}, {"cells": r0, "mechanisms": ["r"]}],
    }
    sc = scenario(
        tumor,
        horizon_days=t,
        mechanism=[{"name": "r", "mutation_rate": 0.0, "resists": {"A": 1.0}}],
        drug=[{"name": "A", "max_effect": effect}],
        line=[{"drugs": ["A"]}],
    )
    patients = simulate(sc, n, seed=52, planted=planted and ("death_rate", planted)).patients
    lam = b - d
    w = patients.cells_at_end.to_numpy() * math.exp(-lam * t)
    atom, cdf = w_law(b, d, r0)
    p_atom, p_ks, p = _w_test(w, atom, cdf)

    def alternative(rng):
        d1 = 1.05 * d
        return _w_test(w_sample(rng, b, d1, r0, n) * math.exp((b - d1 - lam) * t), atom, cdf)[2]

    power = empirical_power(alternative, 200, seed=53)
    assert _w_test(w_sample(np.random.default_rng(54), b, d, r0, n), atom, cdf)[2] >= ALPHA
    check(
        {
            "stat": "binomial P(W=0) + KS",
            "n": n,
            "p_atom": p_atom,
            "p_ks": p_ks,
            "p": p,
            "power": power,
        },
        planted,
        record,
    )
