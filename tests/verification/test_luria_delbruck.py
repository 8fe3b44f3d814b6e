"""theory.md section 2: resistant cells present at detection (Luria-Delbrueck, Lea-Coulson,
Iwasa-Nowak-Michor 2006) on the compartment engine: tens of thousands of tumours of 1e4-1e5
cells are 1e9-1e10 cell events, too many for the agent engine here; the agent engine's
resistant cells at detection are compared with the compartment engine's in test_engines.py.

The tumour grows from one cell (restarted on extinction) until the total reaches M = 1e5;
one neutral marker mechanism (resists nothing) with probability u per division. The engine
stops within +1% of M (aiming at +0.5%), so each patient's m = (cells_at_start) u; the
expected pmf is the average of the theory's pmf over the patients' m (20 quantile groups).
The tests compare the pmf on few cells (0, 1, 2, 3, 4-5, 6-7, 8-11, ..., tail), where a 5%
change of m concentrates its effect (per-value cells would spread it over hundreds of
degrees of freedom and lose power).
"""

import numpy as np
import pytest

from .harness import CASE_IDS, CASES, check, check_binomial, scenario, simulate
from .stats import chi2_pmf, chi2_power, log_edges
from .theory import lea_coulson_like_pmf, lea_coulson_pmf, no_resistant_at_detection

M = 1e5
SIZE = 1000  # pmf support 0..999 (k <= 1% of M), tail >= 1000


def _detect(b: float, d: float, u: float, n: int, seed: int, planted):
    tumor = {"birth_rate": b, "death_rate": d, "detection_cells": M, "lethal_cells": 1e12}
    marker = [{"name": "marker", "mutation_rate": u, "resists": {}}]
    sim = simulate(
        scenario(tumor, mechanism=marker), n, seed, planted=planted and ("mutation_rate", planted)
    )
    return sim.patients


def _mixture(pmf_of_m, m: np.ndarray, groups: int = 20) -> np.ndarray:
    """The pmf averaged over the patients' m (grouped by quantile)."""
    order = np.array_split(np.sort(m), groups)
    return sum(len(g) * pmf_of_m(float(g.mean())) for g in order) / len(m)


def test_lea_coulson_helpers():
    """The generating-function pmf at s = 1 is the Ma-Sandri-Sarkar Lea-Coulson recursion, its
    p0 is exp(m ln(s)/(1-s)), and it sums to 1 minus the heavy tail ~ m/(s K)."""
    np.testing.assert_allclose(
        lea_coulson_like_pmf(1.3, 1.0, 200), lea_coulson_pmf(1.3, 200), atol=1e-15
    )
    p = lea_coulson_like_pmf(1.0, 0.5, 4000)
    assert p[0] == pytest.approx(no_resistant_at_detection(1.0, 0.5), rel=1e-12)
    assert 1.0 - p.sum() == pytest.approx(1.0 / (0.5 * 4000), rel=0.05)


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_lea_coulson_pure_birth(planted, record):
    """Pure birth b = 0.5, u = 1e-5 (m = 1): Lea-Coulson pmf of resistant cells at detection,
    chi-square on the log-spaced cells merged to expected >= 5, ALPHA = 1e-3, n = 40000;
    power against u x 1.05 (noncentral chi-square) = 0.997."""
    u, n = 1e-5, 40000
    patients = _detect(0.5, 0.0, u, n, seed=31, planted=planted)
    m = patients.cells_at_start.to_numpy() * u
    edges = log_edges(SIZE)
    pmf = _mixture(lambda mi: lea_coulson_pmf(mi, SIZE), m)
    statistic, df, p = chi2_pmf(patients.resistant_cells_at_start.to_numpy(), pmf, edges)
    power = chi2_power(pmf, _mixture(lambda mi: lea_coulson_pmf(1.05 * mi, SIZE), m), n, edges)
    check(
        {
            "stat": f"chi2={statistic:.1f} df={df}",
            "n": n,
            "p": p,
            "power": power,
            "mean_m": m.mean(),
        },
        planted,
        record,
    )


@pytest.mark.verify
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_luria_delbruck_with_death(planted, record):
    """b = 0.5, d = 0.25 (s = 0.5), u = 2e-5 (m = 2): pmf from G(z) = exp[m (1-z)/(1-s-z)
    ln(s/(1-z))] (power-series recursion, checked against an FFT of G), chi-square on the
    log-spaced cells merged to expected >= 5, ALPHA = 1e-3, n = 20000; power against u x 1.05
    = 0.994."""
    u, s, n = 2e-5, 0.5, 20000
    patients = _detect(0.5, 0.25, u, n, seed=32, planted=planted)
    m = patients.cells_at_start.to_numpy() * u
    edges = log_edges(SIZE)
    pmf = _mixture(lambda mi: lea_coulson_like_pmf(mi, s, SIZE), m)
    statistic, df, p = chi2_pmf(patients.resistant_cells_at_start.to_numpy(), pmf, edges)
    alt = _mixture(lambda mi: lea_coulson_like_pmf(1.05 * mi, s, SIZE), m)
    power = chi2_power(pmf, alt, n, edges)
    check(
        {
            "stat": f"chi2={statistic:.1f} df={df}",
            "n": n,
            "p": p,
            "power": power,
            "mean_m": m.mean(),
        },
        planted,
        record,
    )


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_no_resistant_cell_with_death(planted, record):
    """P(no resistant cell at detection) = exp(m ln(s)/(1-s)) with b = 0.5, d = 0.25
    (s = 0.5), M = 1e4, u = 1.2e-4 (m = 1.2, P = 0.190): two-sided exact binomial test,
    ALPHA = 1e-3, n = 30000; power against u x 1.05 (P = 0.177) = 0.9998. Fast subset."""
    b, d, u, n, size = 0.5, 0.25, 1.2e-4, 30000, 1e4
    tumor = {"birth_rate": b, "death_rate": d, "detection_cells": size, "lethal_cells": 1e12}
    marker = [{"name": "marker", "mutation_rate": u, "resists": {}}]
    patients = simulate(
        scenario(tumor, mechanism=marker),
        n,
        seed=33,
        planted=planted and ("mutation_rate", planted),
    ).patients
    s = 1.0 - d / b
    m = patients.cells_at_start.to_numpy() * u
    p0 = float(np.mean([no_resistant_at_detection(mi, s) for mi in m]))
    p1 = float(np.mean([no_resistant_at_detection(1.05 * mi, s) for mi in m]))
    none = int((patients.resistant_cells_at_start == 0).sum())
    check_binomial(none, n, p0, p1, planted, record)
