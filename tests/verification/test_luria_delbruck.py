"""theory.md section 2: resistant cells present at detection (Luria-Delbrueck, Lea-Coulson,
Iwasa-Nowak-Michor 2006) on both engines.

The tumour grows from one cell (restarted on extinction) until the total reaches M; one
neutral marker mechanism (resists nothing) with probability u per division. Each patient's
m = (cells_at_start) u (the compartment engine stops within +1% of M, the agent engine at M
exactly); the expected pmf is the average of the theory's pmf over the patients' m (20
quantile groups). The tests compare the pmf on few cells (0, 1, 2, 3, 4-5, 6-7, 8-11, ...,
tail >= M/100), where a 5% change of m concentrates its effect (per-value cells would spread
it over hundreds of degrees of freedom and lose power).

M is 1e5 on the compartment engine and 1e4 on the agent engine, with u scaled to keep m:
the agent engine simulates every event, (b + d)/(b - d) M per tumour, and tens of thousands
of tumours of 1e5 cells (4e9-6e9 events per case) would take 8-9 minutes per case on two
shared cores (timed on 500 tumours); at 1e4, under 35 s. The theory (a large-M limit) still
holds at 1e4: the exact law at that M (``_exact_pmf``) would be rejected by these tests at
most 1.1 ALPHA of the time (``test_theory_holds_at_agent_size``; 0.00104 pure birth, 0.00103
with death), and the compartment engine passes the agent's designs at M = 1e4 too (p = 0.033
pure birth, 0.99 with death; the planted errors rejected with p = 6e-8 and 2e-9).
"""

import numpy as np
import pytest

from .harness import CASE_IDS, CASES, check, check_binomial, engine_params, scenario, simulate
from .stats import ALPHA, chi2_pmf, chi2_power, log_edges
from .theory import lea_coulson_like_pmf, lea_coulson_pmf, no_resistant_at_detection

#: Detection size on each engine (see the module docstring).
DETECTION = {"compartment": 1e5, "gpu": 1e5, "agent": 1e4}


def _size(cells: float) -> int:
    """pmf support of the tests, 0 .. 1% of the detection size (tail beyond)."""
    return int(cells) // 100


def _detect(b: float, d: float, u: float, cells: float, n: int, seed: int, planted, engine):
    tumor = {"birth_rate": b, "death_rate": d, "detection_cells": cells, "lethal_cells": 1e12}
    marker = [{"name": "marker", "mutation_rate": u, "resists": {}}]
    sc = scenario(tumor, mechanism=marker)
    planted = planted and ("mutation_rate", planted)
    return simulate(sc, n, seed, planted=planted, engine=engine).patients


def _mixture(pmf_of_m, m: np.ndarray, groups: int = 20) -> np.ndarray:
    """The pmf averaged over the patients' m (grouped by quantile)."""
    order = np.array_split(np.sort(m), groups)
    return sum(len(g) * pmf_of_m(float(g.mean())) for g in order) / len(m)


def _pmf_test(pmf_of_m, b, d, m, n, seed, planted, engine, record) -> None:
    """Chi-square of the resistant cells at detection against ``pmf_of_m`` (m -> pmf of a
    given support) averaged over the patients' m, with its power against m x 1.05."""
    cells = DETECTION[engine]
    u, size = m / cells, _size(cells)
    patients = _detect(b, d, u, cells, n, seed, planted, engine)
    each_m = patients.cells_at_start.to_numpy() * u
    edges = log_edges(size)
    pmf = _mixture(lambda mi: pmf_of_m(mi, size), each_m)
    statistic, df, p = chi2_pmf(patients.resistant_cells_at_start.to_numpy(), pmf, edges)
    power = chi2_power(pmf, _mixture(lambda mi: pmf_of_m(1.05 * mi, size), each_m), n, edges)
    result = {"stat": f"chi2={statistic:.1f} df={df}", "n": n, "p": p, "power": power}
    check(dict(result, mean_m=each_m.mean()), planted, record)


def _exact_pmf(b: float, d: float, u: float, cells: int, size: int) -> np.ndarray:
    """Exact pmf (0 .. size-1) of resistant cells when the total first reaches ``cells``.

    The total is a birth-death walk whatever the types; the resistant count's law at the
    first passage to N + 1 is its law at N times A_N = p U_N + q D_N A_{N-1} A_N (an up step,
    or a down step and back to N; A_0 restarts with none). Counts >= 1.5 size are lumped
    (raising the bound to 2 size changes the pmf by < 1e-6 relative).
    """
    p, q = b / (b + d), d / (b + d)
    top = 3 * size // 2
    r = np.arange(top + 1)
    kernel = np.zeros((top + 1, top + 1))
    kernel[:, 0] = 1.0
    law = np.zeros(top + 1)
    law[0] = 1.0
    for total in range(1, cells):
        held = np.minimum(r, total)
        up = np.where(r < top, (held + (total - held) * u) / total, 0.0)
        step_up = np.diag(1.0 - up) + np.diag(up[:-1], 1)
        if q == 0.0:
            kernel = step_up
        else:
            down = np.where(r < top, held / total, 0.0)
            down_then = (1.0 - down)[:, None] * kernel  # D_N A_{N-1}
            down_then[1:] += down[1:, None] * kernel[:-1]
            kernel = np.linalg.solve(np.eye(top + 1) - q * down_then, p * step_up)
        law = law @ kernel
    return law[:size]


#: The pmf tests' designs: (b, d, m, n, seed).
PURE_BIRTH = (0.5, 0.0, 1.0, 40000, 31)
WITH_DEATH = (0.5, 0.25, 2.0, 20000, 32)


def _theory_pmf(b: float, d: float):
    """m, size -> the theory's pmf: Lea-Coulson for pure birth, its generalisation with death."""
    if d == 0.0:
        return lea_coulson_pmf
    return lambda m, size: lea_coulson_like_pmf(m, 1.0 - d / b, size)


def test_lea_coulson_helpers():
    """The generating-function pmf at s = 1 is the Ma-Sandri-Sarkar Lea-Coulson recursion, its
    p0 is exp(m ln(s)/(1-s)), and it sums to 1 minus the heavy tail ~ m/(s K); the exact
    finite-size pmf of pure birth has p0 = (1-u)^(M-1)."""
    np.testing.assert_allclose(
        lea_coulson_like_pmf(1.3, 1.0, 200), lea_coulson_pmf(1.3, 200), atol=1e-15
    )
    p = lea_coulson_like_pmf(1.0, 0.5, 4000)
    assert p[0] == pytest.approx(no_resistant_at_detection(1.0, 0.5), rel=1e-12)
    assert 1.0 - p.sum() == pytest.approx(1.0 / (0.5 * 4000), rel=0.05)
    assert _exact_pmf(0.5, 0.0, 1e-3, 2000, 10)[0] == pytest.approx((1 - 1e-3) ** 1999)


@pytest.mark.verify
@pytest.mark.parametrize("design", [PURE_BIRTH, WITH_DEATH], ids=["pure-birth", "with-death"])
def test_theory_holds_at_agent_size(design, record):
    """At the agent engine's M = 1e4 the exact law of resistant cells at detection is
    rejected by the pmf test (noncentral chi-square) at most 1.1 ALPHA of the time: the
    large-M theory holds there."""
    b, d, m, n, _ = design
    cells = int(DETECTION["agent"])
    size = _size(cells)
    exact = _exact_pmf(b, d, m / cells, cells, size)
    rejected = chi2_power(_theory_pmf(b, d)(m, size), exact, n, log_edges(size))
    record({"stat": f"rejection rate under the exact law at M={cells}", "n": n, "rate": rejected})
    assert rejected <= 1.1 * ALPHA, rejected


@pytest.mark.verify
@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_lea_coulson_pure_birth(planted, engine, record):
    """Pure birth b = 0.5, m = 1 (u = 1e-5 at M = 1e5, 1e-4 at 1e4): Lea-Coulson pmf of
    resistant cells at detection, chi-square on the log-spaced cells merged to expected >= 5,
    ALPHA = 1e-3, n = 40000; power against u x 1.05 (noncentral chi-square) = 0.997
    (compartment), 0.999 (agent)."""
    b, d, m, n, seed = PURE_BIRTH
    _pmf_test(_theory_pmf(b, d), b, d, m, n, seed, planted, engine, record)


@pytest.mark.verify
@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_luria_delbruck_with_death(planted, engine, record):
    """b = 0.5, d = 0.25 (s = 0.5), m = 2 (u = 2e-5 at M = 1e5, 2e-4 at 1e4): pmf from
    G(z) = exp[m (1-z)/(1-s-z) ln(s/(1-z))] (power-series recursion, checked against an FFT
    of G), chi-square on the log-spaced cells merged to expected >= 5, ALPHA = 1e-3,
    n = 20000; power against u x 1.05 = 0.994 (compartment), 0.998 (agent)."""
    b, d, m, n, seed = WITH_DEATH
    _pmf_test(_theory_pmf(b, d), b, d, m, n, seed, planted, engine, record)


@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_no_resistant_cell_with_death(planted, engine, record):
    """P(no resistant cell at detection) = exp(m ln(s)/(1-s)) with b = 0.5, d = 0.25
    (s = 0.5), M = 1e4, u = 1.2e-4 (m = 1.2, P = 0.190): two-sided exact binomial test,
    ALPHA = 1e-3, n = 30000; power against u x 1.05 (P = 0.177) = 0.9998. Fast subset on the
    compartment engine."""
    b, d, u, n = 0.5, 0.25, 1.2e-4, 30000
    patients = _detect(b, d, u, 1e4, n, 33, planted, engine)
    s = 1.0 - d / b
    m = patients.cells_at_start.to_numpy() * u
    p0 = float(np.mean([no_resistant_at_detection(mi, s) for mi in m]))
    p1 = float(np.mean([no_resistant_at_detection(1.05 * mi, s) for mi in m]))
    none = int((patients.resistant_cells_at_start == 0).sum())
    check_binomial(none, n, p0, p1, planted, record)
