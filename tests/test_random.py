"""Tests of kernels.random: generator bits, and each sampler as a statistical law.

Every statistical check uses a fixed seed and a per-case level FAMILY_ALPHA / (number of
cases) (Bonferroni), so a correct sampler fails a test function with probability < 1e-3.

Power: with N draws, a relative error eps in a parameter theta gives the Pearson chi-square
a noncentrality of about N eps^2 theta^2 I(theta) (I the Fisher information per draw). The
least informative case here, Binomial(100, 0.01), gives N eps^2 n p / q = 505 at N = 2e5 and
eps = 5%, far above the ~60 needed for power 0.99 at level 1e-4 with <= 40 cells. For KS,
a 5% error in an exponential rate or normal scale moves the CDF by >= 0.012 while the
critical distance at N = 2e5 and level 1e-4 is 0.0047. The z-tests of huge parameters have
standard errors of ~0.2% (mean, in sd units) and ~0.3% (variance) against a 5% shift.
The chi-square and KS tests of the samplers also run each sample against the law with a
planted 5% error in its parameter (the smaller of p and 1 - p, the mean, or the scale) and
must reject it at the same level.
"""

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from refractory.kernels import random as kr
from tests.naive import (
    bd0_reference,
    chi_square_pvalue,
    chi_square_scipy,
    mean_variance_z,
    seeded,
    standardized,
    stirlerr_reference,
    xoshiro_next,
)

FAMILY_ALPHA = 1e-3
N = 200_000
N_HUGE = 50_000
PLANTED = 1.05


def planted_pq(p: float, q: float) -> tuple[float, float]:
    """(p, q) with the smaller of the two multiplied by PLANTED (their sum stays 1)."""
    if p <= q:
        return p * PLANTED, 1.0 - p * PLANTED
    return 1.0 - q * PLANTED, q * PLANTED


def z_critical(cases: int) -> float:
    return float(stats.norm.isf(FAMILY_ALPHA / cases / 2.0))


@numba.njit
def _fill_continuous(state, which, shape, out):
    for i in range(out.size):
        if which == 0:
            out[i] = kr.uniform(state)
        elif which == 1:
            out[i] = kr.open_uniform(state)
        elif which == 2:
            out[i] = kr.exponential(state)
        elif which == 3:
            out[i] = kr.normal(state)
        else:
            out[i] = kr.gamma(state, shape)


@numba.njit
def _fill_poisson(state, lam, out):
    for i in range(out.size):
        out[i] = kr.poisson(state, lam)


@numba.njit
def _fill_binomial(state, n, p, q, out):
    for i in range(out.size):
        out[i] = kr.binomial_pq(state, n, p, q)


@numba.njit
def _fill_negative_binomial(state, r, p, q, out):
    for i in range(out.size):
        out[i] = kr.negative_binomial_pq(state, r, p, q)


@numba.njit
def _fill_geometric(state, q, out):
    for i in range(out.size):
        out[i] = kr.geometric_q(state, q)


def continuous(which: int, seed: int, shape: float = 1.0, size: int = N) -> np.ndarray:
    out = np.empty(size)
    _fill_continuous(seeded(seed), which, shape, out)
    return out


def poisson_draws(lam: float, seed: int, size: int = N) -> np.ndarray:
    out = np.empty(size, dtype=np.int64)
    _fill_poisson(seeded(seed), lam, out)
    return out


def binomial_draws(n: int, p: float, seed: int, q: float | None = None, size: int = N):
    out = np.empty(size, dtype=np.int64)
    _fill_binomial(seeded(seed), n, p, 1.0 - p if q is None else q, out)
    return out


def negative_binomial_draws(r: int, p: float, q: float, seed: int, size: int = N):
    out = np.empty(size, dtype=np.int64)
    _fill_negative_binomial(seeded(seed), r, p, q, out)
    return out


# --- generator bits ------------------------------------------------------------------------


def test_next_u64_matches_plain_python_twin():
    state = seeded(1)
    twin = [int(word) for word in state]
    for _ in range(1000):
        assert int(kr.next_u64(state)) == xoshiro_next(twin)
    assert [int(word) for word in state] == twin


def test_uniform_uses_53_bits_and_open_uniform_avoids_endpoints():
    u = continuous(0, 2)
    assert u.min() >= 0.0 and u.max() < 1.0
    scaled = u * 2.0**53
    assert np.array_equal(scaled, np.floor(scaled))
    # The lowest of the 53 bits is a fair coin: binomial z-test at level 1e-3.
    odd = np.mean(scaled.astype(np.int64) % 2)
    assert abs(odd - 0.5) * math.sqrt(4 * u.size) < z_critical(1)
    v = continuous(1, 3)
    assert v.min() > 0.0 and v.max() < 1.0


CONTINUOUS = [
    ("uniform", 0, 1.0, stats.uniform()),
    ("open_uniform", 1, 1.0, stats.uniform()),
    ("exponential", 2, 1.0, stats.expon()),
    ("normal", 3, 1.0, stats.norm()),
    ("gamma0.3", 4, 0.3, stats.gamma(0.3)),
    ("gamma1", 4, 1.0, stats.gamma(1.0)),
    ("gamma5", 4, 5.0, stats.gamma(5.0)),
    ("gamma1e6", 4, 1e6, stats.gamma(1e6)),
]


@pytest.mark.parametrize(
    ("name", "which", "shape", "dist"), CONTINUOUS, ids=[c[0] for c in CONTINUOUS]
)
def test_continuous_samplers_ks(name, which, shape, dist):
    draws = continuous(which, 10 + which, shape)
    assert stats.kstest(draws, dist.cdf).pvalue > FAMILY_ALPHA / len(CONTINUOUS)


# A 5% error in the normal's scale or a gamma's shape (mean) moves the CDF by >= 0.012,
# against a KS critical distance of 0.0047 at N = 2e5 and level 1e-4.
PLANTED_CONTINUOUS = [
    ("normal", 3, 1.0, stats.norm(scale=PLANTED)),
    ("gamma1", 4, 1.0, stats.gamma(PLANTED)),
    ("gamma5", 4, 5.0, stats.gamma(5.0 * PLANTED)),
]


@pytest.mark.parametrize(
    ("name", "which", "shape", "wrong"), PLANTED_CONTINUOUS, ids=[c[0] for c in PLANTED_CONTINUOUS]
)
def test_continuous_ks_rejects_a_planted_error(name, which, shape, wrong):
    draws = continuous(which, 10 + which, shape)
    assert stats.kstest(draws, wrong.cdf).pvalue < FAMILY_ALPHA / len(CONTINUOUS)


def leva_boundary_forms(points: int = 200_001) -> np.ndarray:
    """Leva's quadratic form along the edge v = +-2 u sqrt(-log u) of the ratio-of-uniforms
    region, u in (0, 1]."""
    u = np.linspace(1.0 / points, 1.0, points)
    v = 2.0 * u * np.sqrt(-np.log(u))
    return np.array(
        [kr.leva_form(a, b) for a, b in zip(u, v, strict=True)]
        + [kr.leva_form(a, -b) for a, b in zip(u[::1000], v[::1000], strict=True)]
    )


def test_leva_levels_bracket_the_ratio_of_uniforms_region():
    # The region's edge lies between the two levels, so a form below the inner level is
    # inside and one above the outer level is outside; its v range fits in the rectangle.
    forms = leva_boundary_forms()
    assert kr.LEVA_INNER <= forms.min() and forms.max() <= kr.LEVA_OUTER
    assert kr.LEVA_WIDTH / 2.0 >= math.sqrt(2.0 / math.e)
    # The check can fail: levels moved by 1e-5 (a third of the margin) cut the edge.
    assert forms.min() < kr.LEVA_INNER + 1e-5 and forms.max() > kr.LEVA_OUTER - 1e-5


def test_gamma_huge_shape_mean_and_variance():
    shape = 1e13
    draws = continuous(4, 20, shape, size=N_HUGE)
    z_mean, z_var = mean_variance_z((draws - shape) / math.sqrt(shape))
    assert max(abs(z_mean), abs(z_var)) < z_critical(2)


# --- Poisson --------------------------------------------------------------------------------

# 0.2 and 0.5 take the zero without the exponential for U < 1 - lam; a 5% error in lam gives
# the chi-square a noncentrality of N (0.05)^2 lam >= 100.
POISSON_LAMS = [0.2, 0.5, 5.0, 9.9, 10.0, 30.0, 1e4]


@pytest.mark.parametrize("lam", POISSON_LAMS)
def test_poisson_chi_square(lam):
    draws = poisson_draws(lam, 30)
    level = FAMILY_ALPHA / len(POISSON_LAMS)
    assert chi_square_scipy(draws, stats.poisson(lam)) > level
    assert chi_square_scipy(draws, stats.poisson(lam * PLANTED)) < level


@pytest.mark.parametrize("lam", [1e12, 1e16])
def test_poisson_huge_mean_variance_and_parity(lam):
    draws = poisson_draws(lam, 31, size=N_HUGE)
    z_mean, z_var = mean_variance_z(standardized(draws, lam, math.sqrt(lam)))
    # The parity of a draw is a fair coin; it catches rounding of lam + offset to even floats.
    z_odd = (np.mean(draws % 2) - 0.5) * math.sqrt(4 * draws.size)
    assert max(abs(z_mean), abs(z_var), abs(z_odd)) < z_critical(6)


def test_poisson_nonpositive_mean_is_zero():
    state = seeded(32)
    assert kr.poisson(state, 0.0) == 0
    assert kr.poisson(state, -3.0) == 0


# --- binomial -------------------------------------------------------------------------------

BINOMIAL_CASES = [
    (1, 0.3),
    (1, 0.8),
    (5, 0.3),
    (100, 0.01),
    (1000, 0.5),
    (10**6, 1e-5),
    (10**12, 1e-9),
    (50, 0.97),
    (200, 0.2),
    (10**12, 1.0 - 1e-11),
]


@pytest.mark.parametrize(("n", "p"), BINOMIAL_CASES)
def test_binomial_chi_square(n, p):
    draws = binomial_draws(n, p, 40)
    assert draws.min() >= 0 and draws.max() <= n
    level = FAMILY_ALPHA / len(BINOMIAL_CASES)
    assert chi_square_scipy(draws, stats.binom(n, p)) > level
    assert chi_square_scipy(draws, stats.binom(n, planted_pq(p, 1.0 - p)[0])) < level


def test_binomial_pq_uses_the_exact_complement():
    # p = 1 - 1e-12 is not representable next to 1; with q given exactly the number of
    # failures is Binomial(n, 1e-12) = Poisson(10) to within 1e-11.
    n, q = 10**13, 1e-12
    failures = n - binomial_draws(n, 1.0 - q, 41, q=q)
    assert chi_square_scipy(failures, stats.binom(n, q)) > FAMILY_ALPHA


def test_binomial_huge_n_mean_variance_and_parity():
    n, p = 10**15, 0.5
    draws = binomial_draws(n, p, 42, size=N_HUGE)
    z_mean, z_var = mean_variance_z(standardized(draws, n * p, math.sqrt(n * p * (1 - p))))
    z_odd = (np.mean(draws % 2) - 0.5) * math.sqrt(4 * draws.size)
    assert max(abs(z_mean), abs(z_var), abs(z_odd)) < z_critical(3)


def test_binomial_degenerate_parameters():
    state = seeded(43)
    assert kr.binomial(state, 0, 0.5) == 0
    assert kr.binomial(state, 7, 0.0) == 0
    assert kr.binomial(state, 7, 1.0) == 7


# --- negative binomial and geometric --------------------------------------------------------

# (r, p, q): small r (geometric sums) and large r (Poisson-gamma), q = 1 - p given exactly.
NEGATIVE_BINOMIAL_CASES = [
    (1, 0.3, 0.7),
    (5, 0.5, 0.5),
    (15, 0.05, 0.95),
    (3, 0.9, 0.1),
    (16, 0.4, 0.6),
    (1000, 0.9, 0.1),
    (10**13, 1.0 - 1e-12, 1e-12),
    (200, 1e-3, 1.0 - 1e-3),
]


@pytest.mark.parametrize(("r", "p", "q"), NEGATIVE_BINOMIAL_CASES)
def test_negative_binomial_chi_square(r, p, q):
    draws = negative_binomial_draws(r, p, q, 50)
    level = FAMILY_ALPHA / len(NEGATIVE_BINOMIAL_CASES)
    assert chi_square_scipy(draws, stats.nbinom(r, p)) > level
    assert chi_square_scipy(draws, stats.nbinom(r, planted_pq(p, q)[0])) < level


@pytest.mark.parametrize(("r", "p"), [(10**4, 1e-6), (10**13, 0.5), (7, 1e-9)])
def test_negative_binomial_huge_mean_and_variance(r, p):
    q = 1.0 - p
    draws = negative_binomial_draws(r, p, q, 51, size=N_HUGE)
    mean, sd = r * q / p, math.sqrt(r * q) / p
    z = standardized(draws, mean, sd)
    z_mean = float(np.mean(z) * math.sqrt(z.size))
    # Variance z-test with the exact fourth moment: kurtosis excess 6/r + p^2/(r q).
    excess = 6.0 / r + p * p / (r * q)
    z_var = (np.var(z, ddof=1) - 1.0) / math.sqrt((2.0 + excess) / z.size)
    assert max(abs(z_mean), abs(z_var)) < z_critical(6)


def test_negative_binomial_public_wrappers_agree():
    for r, p in [(0, 0.5), (4, 0.5), (40, 0.25)]:
        a, b = seeded(52), seeded(52)
        assert kr.negative_binomial(a, r, p) == kr.negative_binomial_q(b, r, 1.0 - p)
    state = seeded(53)
    assert kr.negative_binomial(state, 0, 0.3) == 0
    assert kr.negative_binomial(state, 9, 1.0) == 0
    assert kr.negative_binomial_q(state, 10**6, 0.0) == 0


@pytest.mark.parametrize("q", [0.2, 0.9])
def test_geometric_q_chi_square(q):
    out = np.empty(N, dtype=np.int64)
    _fill_geometric(seeded(54), q, out)
    # scipy's geom counts trials (support 1, 2, ...); failures are one fewer.
    ks = np.arange(0, int(stats.geom(1 - q).ppf(1 - 1e-9)))
    assert chi_square_pvalue(out, 0, stats.geom(1 - q).pmf(ks + 1)) > FAMILY_ALPHA / 2


# --- log-probability terms ---------------------------------------------------------------

# (x, m): v^2 = ((x - m) / (x + m))^2 below 1e-5 (four terms of the series), between 1e-5 and
# 0.01 (nine terms), and beyond (the logarithm).
BD0_POINTS = [
    (1e6, 1e6 - 3.0),
    (1e12 + 7.0, 1e12 - 1234.5),
    (100.0, 99.5),
    (100.0, 95.0),
    (12.0, 11.0),
    (1000.0, 830.0),
    (3.0, 7.5),
    (1e9, 1e6),
]


@pytest.mark.parametrize("n", [*range(1, 21), 30, 100, 1000])
def test_stirlerr_matches_decimal_reference(n):
    # A table up to 15; beyond, the series cut after n^-9, whose next term is 2.1e-14 of the
    # value at n = 16 and smaller after.
    assert kr._stirlerr(n) == pytest.approx(stirlerr_reference(n), rel=3e-14, abs=0.0)


@pytest.mark.parametrize(("x", "m"), BD0_POINTS)
def test_bd0_matches_decimal_reference(x, m):
    assert kr._bd0(x, m, x - m) == pytest.approx(bd0_reference(x, m), rel=1e-14, abs=0.0)


# --- properties ---------------------------------------------------------------------------

SETTINGS = settings(deadline=None, max_examples=300)


@SETTINGS
@given(lam=st.floats(-10.0, 1e16), seed=st.integers(0, 2**32))
def test_poisson_is_non_negative(lam, seed):
    assert kr.poisson(seeded(seed), lam) >= 0


@SETTINGS
@given(n=st.integers(0, 10**15), p=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_binomial_within_zero_and_n(n, p, seed):
    assert 0 <= kr.binomial(seeded(seed), n, p) <= n


@SETTINGS
@given(
    r=st.integers(0, 10**6),
    q=st.floats(0.0, 1.0 - 1e-6),
    seed=st.integers(0, 2**32),
)
def test_negative_binomial_is_non_negative(r, q, seed):
    assert kr.negative_binomial_q(seeded(seed), r, q) >= 0


@SETTINGS
@given(shape=st.floats(1e-3, 1e13), seed=st.integers(0, 2**32))
def test_gamma_is_non_negative_and_finite(shape, seed):
    x = kr.gamma(seeded(seed), shape)
    assert 0.0 <= x < math.inf
