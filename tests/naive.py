"""Slow plain-Python twins of the Numba kernels, used as references by the tests.

Each twin follows the definition rather than the optimised algorithm: exact 64-bit
integer arithmetic for the generator, 60-digit decimals for closed-form probabilities,
event-by-event simulation for stochastic processes, and explicit convolutions for laws.
Nothing here is compiled; keep additions plain, obviously correct and documented.

Sections: generator, birth-death closed forms, birth-death laws and simulation,
goodness-of-fit helpers.
"""

import math
from decimal import Decimal, localcontext

import numpy as np
from scipy import stats

# --- generator -------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def seeded(seed: int) -> np.ndarray:
    """A generator state (uint64[4]) for the kernels, derived from a test's seed."""
    return np.random.SeedSequence(seed).generate_state(4, np.uint64)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _MASK64


def xoshiro_next(state: list[int]) -> int:
    """xoshiro256** output (Blackman & Vigna 2018 reference C); mutates the 4-int list."""
    s0, s1, s2, s3 = state
    result = (_rotl((s1 * 5) & _MASK64, 7) * 9) & _MASK64
    t = (s1 << 17) & _MASK64
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[:] = [s0, s1, s2, s3]
    return result


# --- birth-death closed forms ------------------------------------------------------------


def kendall_reference(b: float, d: float, t: float) -> tuple[float, float, float, float]:
    """(alpha, beta, 1 - alpha, 1 - beta) by the textbook formula in 60-digit decimals.

    alpha = d (e^{lt} - 1) / (b e^{lt} - d), beta = b (e^{lt} - 1) / (b e^{lt} - d),
    l = b - d; alpha = beta = b t / (1 + b t) when b == d. Inputs are taken exactly.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        b_, d_, t_ = Decimal(b), Decimal(d), Decimal(t)
        if b_ == d_:
            alpha = beta = b_ * t_ / (1 + b_ * t_)
        else:
            growth = ((b_ - d_) * t_).exp()
            denominator = b_ * growth - d_
            alpha = d_ * (growth - 1) / denominator
            beta = b_ * (growth - 1) / denominator
        return float(alpha), float(beta), float(1 - alpha), float(1 - beta)


def log_mean_reference(a: float, c: float) -> float:
    """Logarithmic mean (c - a) / (ln c - ln a) in 60-digit decimals (a if a == c, 0 if 0)."""
    if a == 0 or c == 0:
        return 0.0
    if a == c:
        return a
    with localcontext() as ctx:
        ctx.prec = 60
        a_, c_ = Decimal(a), Decimal(c)
        return float((c_ - a_) / (c_.ln() - a_.ln()))


_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def stirlerr_reference(n: int) -> float:
    """log(n!) - log(sqrt(2 pi n) (n/e)^n) (Stirling's error, Loader 2000) in 60-digit
    decimals, from the exact factorial."""
    with localcontext() as ctx:
        ctx.prec = 60
        n_ = Decimal(n)
        log_factorial = Decimal(math.factorial(n)).ln()
        return float(log_factorial - (n_ + Decimal("0.5")) * n_.ln() + n_ - (2 * _PI).sqrt().ln())


def bd0_reference(x: float, m: float) -> float:
    """Deviance term x log(x / m) + m - x (Loader 2000) in 60-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 60
        x_, m_ = Decimal(x), Decimal(m)
        return float(x_ * (x_ / m_).ln() + m_ - x_)


def mutation_time_cdf(s: np.ndarray, t: float, lam: float) -> np.ndarray:
    """CDF of the density proportional to exp(lam s) on [0, t): expm1(lam s) / expm1(lam t)."""
    if lam == 0:
        return np.clip(s / t, 0.0, 1.0)
    return np.clip(np.expm1(lam * s) / math.expm1(lam * t), 0.0, 1.0)


# --- birth-death laws and simulation -----------------------------------------------------


def kendall_pmf(n0: int, b: float, d: float, t: float, kmax: int) -> np.ndarray:
    """P(N(t) = k), k = 0..kmax, for a linear birth-death process from n0 cells.

    One cell: P(0) = alpha, P(k) = (1 - alpha)(1 - beta) beta^(k-1) (Kendall 1948);
    n0 cells: the n0-fold convolution, truncated at kmax.
    """
    alpha, beta, one_minus_alpha, one_minus_beta = kendall_reference(b, d, t)
    one = np.empty(kmax + 1)
    one[0] = alpha
    one[1:] = one_minus_alpha * one_minus_beta * beta ** np.arange(kmax)
    law = np.zeros(kmax + 1)
    law[0] = 1.0
    for _ in range(n0):
        law = np.convolve(law, one)[: kmax + 1]
    return law


def birth_death_gillespie(rng: np.random.Generator, n: int, b: float, d: float, t: float) -> int:
    """Cell count at time t of a linear birth-death process from n cells, event by event."""
    clock = 0.0
    while n > 0:
        total_rate = n * (b + d)
        if total_rate == 0.0:
            break
        clock += rng.exponential(1.0 / total_rate)
        if clock >= t:
            break
        n += 1 if rng.random() * (b + d) < b else -1
    return n


# --- goodness-of-fit helpers ---------------------------------------------------------------


def chi_square_pvalue(samples: np.ndarray, lo: int, probs: np.ndarray, below: float = 0.0) -> float:
    """Pearson chi-square p-value of integer samples against a discrete law.

    ``probs[j]`` is P(X = lo + j), ``below`` is P(X < lo); the rest of the mass is one cell
    for X >= lo + len(probs). Adjacent cells are merged left to right until each expects >= 5.
    """
    samples = np.asarray(samples)
    size = samples.size
    above = max(0.0, 1.0 - below - float(np.sum(probs)))
    expected = np.concatenate([[below], probs, [above]]) * size
    index = np.clip(samples - lo + 1, 0, len(probs) + 1)
    observed = np.bincount(index, minlength=len(probs) + 2).astype(float)
    merged_obs, merged_exp = [], []
    acc_obs = acc_exp = 0.0
    for obs, exp in zip(observed, expected, strict=True):
        acc_obs += obs
        acc_exp += exp
        if acc_exp >= 5.0:
            merged_obs.append(acc_obs)
            merged_exp.append(acc_exp)
            acc_obs = acc_exp = 0.0
    merged_obs[-1] += acc_obs
    merged_exp[-1] += acc_exp
    merged_obs, merged_exp = np.array(merged_obs), np.array(merged_exp)
    statistic = float(np.sum((merged_obs - merged_exp) ** 2 / merged_exp))
    return float(stats.chi2.sf(statistic, len(merged_obs) - 1))


def chi_square_scipy(samples: np.ndarray, dist) -> float:
    """chi_square_pvalue against a frozen scipy.stats discrete distribution."""
    lo = int(dist.ppf(1e-9))
    hi = int(dist.ppf(1.0 - 1e-9))
    ks = np.arange(lo, hi + 1)
    return chi_square_pvalue(samples, lo, dist.pmf(ks), below=float(dist.cdf(lo - 1)))


def standardized(samples: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """(x - mean) / sd for int64 samples with huge values, subtracting in integers first."""
    whole = int(math.floor(mean))
    return ((samples - np.int64(whole)).astype(float) - (mean - whole)) / sd


def mean_variance_z(z: np.ndarray) -> tuple[float, float]:
    """z-scores of the sample mean and variance of approximately N(0, 1) values.

    Mean: sqrt(N) mean(z). Variance: (var(z) - 1) / sqrt(2 / (N - 1)), the normal-theory
    standard error, fine where the excess kurtosis is negligible (huge parameters).
    """
    size = z.size
    return (
        float(np.mean(z) * math.sqrt(size)),
        float((np.var(z, ddof=1) - 1.0) / math.sqrt(2.0 / (size - 1))),
    )
