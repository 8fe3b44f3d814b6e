"""Tests of kernels.birth_death against decimal closed forms, Kendall's law and Gillespie.

Statistical checks use fixed seeds and per-case level FAMILY_ALPHA / (number of cases).
Power: a 5% error in b, d or t changes alpha or beta by >= 2%; at N = 2e5 draws this gives
the chi-square a noncentrality of order N (0.02)^2 / 2 = 40 or more even from one cell
(critical regime, alpha = beta = 1/2), against ~35 needed for power 0.9 at level 1e-4
with ~20 cells; checked offline, every such perturbed case gives p < 1e-20 here.
The huge-count z-tests have standard errors of 0.45% (mean, in sd units) and 0.63%
(variance) at N = 5e4, so a 5% variance error is ~8 sigma.
"""

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from refractory.kernels import birth_death as bd
from tests.naive import (
    birth_death_gillespie,
    chi_square_pvalue,
    kendall_pmf,
    kendall_reference,
    log_mean_reference,
    mean_variance_z,
    mutation_time_cdf,
    seeded,
    standardized,
)

FAMILY_ALPHA = 1e-3
N = 200_000
N_HUGE = 50_000


@numba.njit
def _fill_transition(state, n, b, d, t, out):
    for i in range(out.size):
        out[i] = bd.transition(state, n, b, d, t)


@numba.njit
def _fill_mutation_time(state, t, lam, out):
    for i in range(out.size):
        out[i] = bd.mutation_time(state, t, lam)


def transitions(n: int, b: float, d: float, t: float, seed: int, size: int = N) -> np.ndarray:
    out = np.empty(size, dtype=np.int64)
    _fill_transition(seeded(seed), n, b, d, t, out)
    return out


# --- extinction and growth probabilities ---------------------------------------------------

KENDALL_POINTS = [
    (1.0, 0.5, 2.0),
    (0.5, 1.0, 2.0),
    (1.0, 1.0, 3.0),
    (10.0, 1e-6, 1.0),
    (1e-6, 10.0, 1.0),
    (2.0, 0.0, 5.0),
    (0.0, 2.0, 5.0),
    (1.0, 1.0 - 1e-10, 7.0),
    (1.0, 1.0 + 1e-12, 7.0),
    (3.0, 1.0, 1e-12),
    (3.0, 1.0, 0.0),
    (1.0, 0.5, 1e4),
    (0.5, 1.0, 1e4),
    (1.0, 1.0, 1e4),
    (1e-9, 2e-9, 1.0),
]


@pytest.mark.parametrize(("b", "d", "t"), KENDALL_POINTS)
def test_extinction_and_growth_matches_decimal_reference(b, d, t):
    got = bd.extinction_and_growth(b, d, t)
    want = kendall_reference(b, d, t)
    for value, reference in zip(got, want, strict=True):
        assert value == pytest.approx(reference, rel=1e-13, abs=1e-300)


@settings(deadline=None, max_examples=500)
@given(b=st.floats(0.0, 10.0), d=st.floats(0.0, 10.0), t=st.floats(0.0, 1e4))
def test_extinction_and_growth_are_probabilities(b, d, t):
    alpha, beta, one_minus_alpha, one_minus_beta = bd.extinction_and_growth(b, d, t)
    for value in (alpha, beta, one_minus_alpha, one_minus_beta):
        assert 0.0 <= value <= 1.0
    assert alpha + one_minus_alpha == pytest.approx(1.0, abs=1e-15)
    assert beta + one_minus_beta == pytest.approx(1.0, abs=1e-15)


# --- transition law ------------------------------------------------------------------------

REGIMES = {
    "supercritical": (1.0, 0.5, 2.0),
    "subcritical": (0.5, 1.0, 1.0),
    "critical": (1.0, 1.0, 1.0),
    "pure_birth": (1.0, 0.0, 1.0),
    "pure_death": (0.0, 1.0, 0.5),
}
LAW_CASES = [(name, n0) for name in REGIMES for n0 in (1, 5)]


def exact_law(n0: int, b: float, d: float, t: float) -> np.ndarray:
    """Kendall law truncated where the remaining tail is below 1e-10."""
    kmax = 64
    while True:
        law = kendall_pmf(n0, b, d, t, kmax)
        if 1.0 - law.sum() < 1e-10:
            return law
        kmax *= 2


@pytest.mark.parametrize(("regime", "n0"), LAW_CASES, ids=[f"{r}-{n}" for r, n in LAW_CASES])
def test_transition_matches_kendall_law(regime, n0):
    b, d, t = REGIMES[regime]
    draws = transitions(n0, b, d, t, seed=60 + n0)
    assert chi_square_pvalue(draws, 0, exact_law(n0, b, d, t)) > FAMILY_ALPHA / len(LAW_CASES)


@pytest.mark.parametrize("regime", ["supercritical", "subcritical", "critical"])
def test_gillespie_twin_matches_kendall_law(regime):
    # Validates the closed form (and so the reference law above) independently of it:
    # 4000 event-by-event runs give a noncentrality of ~10 for a 5% error in alpha, so this
    # guards against gross formula mistakes; the precise check is the transition test.
    b, d, t = REGIMES[regime]
    rng = np.random.default_rng(61)
    draws = np.array([birth_death_gillespie(rng, 3, b, d, t) for _ in range(4000)])
    assert chi_square_pvalue(draws, 0, exact_law(3, b, d, t)) > FAMILY_ALPHA / 3


HUGE_CASES = {
    "supercritical": (1.0, 0.9, 1.0),
    "subcritical": (0.9, 1.0, 1.0),
    "critical": (1.0, 1.0, 0.5),
    "pure_birth": (0.3, 0.0, 1.0),
    "pure_death": (0.0, 0.3, 1.0),
}


@pytest.mark.parametrize("regime", list(HUGE_CASES))
def test_transition_huge_count_mean_and_variance(regime):
    b, d, t = HUGE_CASES[regime]
    n0 = 10**11
    rate = b - d
    if rate == 0.0:
        mean, variance = float(n0), n0 * 2.0 * b * t
    else:
        growth = math.exp(rate * t)
        mean = n0 * growth
        variance = n0 * (b + d) / rate * growth * math.expm1(rate * t)
    draws = transitions(n0, b, d, t, seed=62, size=N_HUGE)
    z_mean, z_var = mean_variance_z(standardized(draws, mean, math.sqrt(variance)))
    z_critical = stats.norm.isf(FAMILY_ALPHA / (2 * len(HUGE_CASES)) / 2)
    assert max(abs(z_mean), abs(z_var)) < z_critical


@settings(deadline=None, max_examples=300)
@given(
    n=st.integers(0, 10**12),
    b=st.floats(0.0, 10.0),
    d=st.floats(0.0, 10.0),
    t=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**32),
)
def test_transition_is_non_negative_and_zero_stays_zero(n, b, d, t, seed):
    state = seeded(seed)
    assert bd.transition(state, 0, b, d, t) == 0
    count = bd.transition(state, n, b, d, t)
    assert count >= 0
    if b == 0.0:
        assert count <= n


# --- logarithmic mean ----------------------------------------------------------------------

LOG_MEAN_POINTS = [
    (1.0, 2.0),
    (2.0, 1.0),
    (1.0, 1.0 + 1e-12),
    (1e-300, 1e300),
    (3.0, 3.0),
    (0.0, 5.0),
    (7.0, 0.0),
    (1.0, 1e6),
    (1e10, 1e10 * (1 + 1e-6)),
]


@pytest.mark.parametrize(("a", "c"), LOG_MEAN_POINTS)
def test_log_mean_matches_decimal_reference(a, c):
    assert bd.log_mean(a, c) == pytest.approx(log_mean_reference(a, c), rel=4e-16, abs=0.0)


@settings(deadline=None, max_examples=500)
@given(a=st.floats(0.0, 1e300), c=st.floats(0.0, 1e300))
def test_log_mean_lies_between_its_arguments(a, c):
    mean = bd.log_mean(a, c)
    if a == 0.0 or c == 0.0:
        assert mean == 0.0
    else:
        assert min(a, c) <= mean <= max(a, c)


# --- mutation time ---------------------------------------------------------------------------

MUTATION_CASES = [(2.0, 0.0), (2.0, 1e-14), (2.0, 1.5), (2.0, -1.5), (0.5, 100.0), (0.5, -100.0)]


@pytest.mark.parametrize(("t", "lam"), MUTATION_CASES)
def test_mutation_time_ks(t, lam):
    out = np.empty(N)
    _fill_mutation_time(seeded(70), t, lam, out)
    pvalue = stats.kstest(out, lambda s: mutation_time_cdf(s, t, lam)).pvalue
    assert pvalue > FAMILY_ALPHA / len(MUTATION_CASES)


@pytest.mark.parametrize("lam", [1e4, -1e4])
def test_mutation_time_extreme_rates_are_exponential_at_the_edge(lam):
    # With |lam| t = 1e4 the truncation is e^-10000: distance to the heavy end is Exp(|lam|).
    t = 1.0
    out = np.empty(N)
    _fill_mutation_time(seeded(71), t, lam, out)
    distance = (t - out) if lam > 0 else out
    assert stats.kstest(distance * abs(lam), "expon").pvalue > FAMILY_ALPHA / 2


@settings(deadline=None, max_examples=500)
@given(t=st.floats(1e-300, 1e4), lam=st.floats(-1e3, 1e3), seed=st.integers(0, 2**32))
def test_mutation_time_lies_in_the_step(t, lam, seed):
    assert 0.0 <= bd.mutation_time(seeded(seed), t, lam) < t
