"""theory.md section 1: the linear birth-death process (Kendall 1948) on both engines.

Every test runs twice: on the true model (must pass at ALPHA = 1e-3) and with a planted 5%
rate error (the simulation's rate is off, the theory is not; the test must reject). The
designed power against the planted error is computed in each test and asserted >= 0.99.
"""

import math

import numpy as np
import pytest
from scipy import stats

from .harness import CASE_IDS, CASES, check, check_binomial, engine_params, scenario, simulate
from .stats import (
    ALPHA,
    bonferroni_rejects,
    chi2_pmf,
    chi2_power,
    mean_variance_p,
    z_p,
    z_power,
)
from .theory import eventual_extinction, kendall_moments, kendall_pmf


def _untreated(b: float, d: float, cells: int, horizon: float, lethal: float = 1e15):
    tumor = {
        "birth_rate": b,
        "death_rate": d,
        "start": "cells",
        "detection_cells": cells,
        "lethal_cells": lethal,
        "clone": [{"cells": cells}],
    }
    return scenario(tumor, horizon_days=horizon)


# Engine and forced compartment path (None: default).
PATHS = {
    "mixed": ("compartment", None),
    "transitions": ("compartment", 0.0),
    "event-by-event": ("compartment", 1e18),
    "agent": ("agent", None),
}
# The default paths are in the fast subset (`make test`); the forced paths run under `verify`.
PATH_PARAMS = [
    pytest.param(path, id=path, marks=() if path in ("mixed", "agent") else pytest.mark.verify)
    for path in PATHS
]


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("path", PATH_PARAMS)
def test_kendall_pmf_from_one_cell(path, planted, record):
    """Full pmf of N(t) from one cell (b = 0.5, d = 0.2, t = 8): chi-square, cells merged to
    expected >= 5, ALPHA = 1e-3, n = 5000 patients; power against birth rate x 1.05
    (noncentral chi-square) = 0.99998. Run on the compartment engine's three paths (default:
    events below 100 cells then transitions; transitions only; events only) and on the agent
    engine. The default path and the agent engine are in the fast subset."""
    b, d, t, n = 0.5, 0.2, 8.0, 5000
    size = 3000
    engine, exact_below = PATHS[path]
    sim = simulate(
        _untreated(b, d, 1, t),
        n,
        seed=11,
        planted=planted and ("birth_rate", planted),
        exact_below=exact_below,
        engine=engine,
    )
    pmf = kendall_pmf(b, d, t, size)
    statistic, df, p = chi2_pmf(sim.patients.cells_at_end.to_numpy(), pmf)
    power = chi2_power(pmf, kendall_pmf(b * 1.05, d, t, size), n)
    check(
        {"stat": f"chi2={statistic:.1f} df={df}", "n": n, "p": p, "power": power}, planted, record
    )


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params())
def test_kendall_moments_from_many_cells(planted, engine, record):
    """N(t) from N0 = 1000 cells (b = 0.3, d = 0.1, t = 5): two z tests, mean N0 e^{lambda t}
    and variance N0 (b+d)/(b-d) e^{lambda t}(e^{lambda t}-1) (sample variance, standard error
    from the fourth moment), Bonferroni at ALPHA = 1e-3 overall (1/2 each), n = 2000;
    power of the mean test alone against birth rate x 1.05 (a 7.8% shift of the mean) ~ 1."""
    b, d, t, n0, n = 0.3, 0.1, 5.0, 1000, 2000
    sim = simulate(
        _untreated(b, d, n0, t),
        n,
        seed=12,
        planted=planted and ("birth_rate", planted),
        engine=engine,
    )
    mean, variance = kendall_moments(b, d, t, n0)
    p_mean, p_var = mean_variance_p(sim.patients.cells_at_end.to_numpy(), mean, variance)
    mean1, variance1 = kendall_moments(b * 1.05, d, t, n0)
    power = z_power(mean1 - mean, math.sqrt(variance), math.sqrt(variance1), n, ALPHA / 2)
    p = min(1.0, 2 * min(p_mean, p_var))  # Bonferroni-adjusted
    assert bonferroni_rejects([p_mean, p_var]) == (p < ALPHA)
    check(
        {
            "stat": "z mean, z variance",
            "n": n,
            "p_mean": p_mean,
            "p_var": p_var,
            "p": p,
            "power": power,
        },
        planted,
        record,
    )


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params())
def test_kendall_critical(planted, engine, record):
    """Critical process b = d = 0.5 from one cell, t = 10: alpha = beta = bt/(1+bt), the full
    pmf by chi-square (cells merged to >= 5), ALPHA = 1e-3, n = 20000; power against birth
    rate x 1.05 (supercritical, noncentral chi-square) > 0.9999."""
    b, t, n = 0.5, 10.0, 20000
    sim = simulate(
        _untreated(b, b, 1, t),
        n,
        seed=13,
        planted=planted and ("birth_rate", planted),
        engine=engine,
    )
    pmf = kendall_pmf(b, b, t, 4000)
    statistic, df, p = chi2_pmf(sim.patients.cells_at_end.to_numpy(), pmf)
    power = chi2_power(pmf, kendall_pmf(b * 1.05, b, t, 4000), n)
    check(
        {"stat": f"chi2={statistic:.1f} df={df}", "n": n, "p": p, "power": power}, planted, record
    )


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params(fast=("compartment", "agent")))
def test_pure_death_binomial(planted, engine, record):
    """Pure death from N0 = 1000 cells, d = 0.2, t = 5: N(t) ~ Binomial(N0, e^{-dt}), chi-square
    (merged to >= 5), ALPHA = 1e-3, n = 300; power against death rate x 1.05 ~ 1. Birth is
    set to 0 through a cytostatic drug whose maximal effect equals the birth rate (the
    scenario schema needs birth_rate > 0). Fast subset."""
    b, d, n0, t, n = 0.1, 0.2, 1000, 5.0, 300
    tumor = {
        "birth_rate": b,
        "death_rate": d,
        "start": "cells",
        "lethal_cells": 1e15,
        "clone": [{"cells": n0}],
    }
    sc = scenario(
        tumor,
        horizon_days=t,
        drug=[{"name": "C", "effect": "birth", "max_effect": b}],
        line=[{"drugs": ["C"]}],
    )
    sim = simulate(sc, n, seed=14, planted=planted and ("death_rate", planted), engine=engine)
    k = np.arange(n0 + 1)
    pmf = stats.binom.pmf(k, n0, math.exp(-d * t))
    statistic, df, p = chi2_pmf(sim.patients.cells_at_end.to_numpy(), pmf)
    power = chi2_power(pmf, stats.binom.pmf(k, n0, math.exp(-1.05 * d * t)), n)
    check(
        {"stat": f"chi2={statistic:.1f} df={df}", "n": n, "p": p, "power": power}, planted, record
    )


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params())
def test_eventual_extinction(planted, engine, record):
    """Eventual extinction from N0 = 3 cells, b = 0.5, d = 0.3: P = (d/b)^3 = 0.216; cured
    (extinct before the lethal size 1e4, from which extinction has probability 0.6^1e4)
    by a two-sided exact binomial test, ALPHA = 1e-3, n = 10000; power against birth rate x
    1.05 (P = 0.187) = 0.99997."""
    b, d, n0, n = 0.5, 0.3, 3, 10000
    sim = simulate(
        _untreated(b, d, n0, 1e4, lethal=1e4),
        n,
        seed=15,
        planted=planted and ("birth_rate", planted),
        engine=engine,
    )
    p0 = eventual_extinction(b, d, n0)
    cured = int(sim.patients.cured.sum())
    assert not (~sim.patients.cured & ~sim.patients.lethal).any()  # every patient resolved
    p1 = eventual_extinction(b * 1.05, d, n0)
    check_binomial(cured, n, p0, p1, planted, record)


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params())
def test_yule_time_to_size(planted, engine, record):
    """Yule process (d = 0, b = 0.3) from one cell, time to reach N = 50 (days_to_detection,
    exact below 100 cells): z test of the mean H_{N-1}/b with variance sum_{k<N} 1/(bk)^2,
    ALPHA = 1e-3, n = 3000; power against birth rate x 1.05 (4.8% shorter mean) = 0.9999."""
    b, size, n = 0.3, 50, 3000
    tumor = {"birth_rate": b, "death_rate": 0.0, "detection_cells": size, "lethal_cells": 1e6}
    sim = simulate(
        scenario(tumor), n, seed=16, planted=planted and ("birth_rate", planted), engine=engine
    )
    assert (sim.patients.cells_at_start == size).all()
    k = np.arange(1, size)
    mean, sd = np.sum(1 / (b * k)), math.sqrt(np.sum(1 / (b * k) ** 2))
    times = sim.patients.days_to_detection.to_numpy()
    p = z_p(times.mean(), mean, sd / math.sqrt(n))
    power = z_power(mean - mean / 1.05, sd, sd / 1.05, n)
    check(
        {"stat": f"z mean {times.mean():.4f} vs {mean:.4f}", "n": n, "p": p, "power": power},
        planted,
        record,
    )
