"""Closed forms of theory.md sections 1-4, written directly from the formulas there."""

import math

import numpy as np
from scipy import stats


def kendall_alpha_beta(b: float, d: float, t: float) -> tuple[float, float]:
    """Kendall's alpha(t) (extinction by t) and beta(t) (geometric ratio), one cell."""
    lam = b - d
    if lam == 0.0:
        a = b * t / (1.0 + b * t)
        return a, a
    e = math.exp(lam * t)
    return d * (e - 1.0) / (b * e - d), b * (e - 1.0) / (b * e - d)


def kendall_pmf(b: float, d: float, t: float, size: int) -> np.ndarray:
    """P(N(t) = n) for n = 0 .. size-1 from one cell."""
    a, beta = kendall_alpha_beta(b, d, t)
    n = np.arange(size)
    pmf = (1.0 - a) * (1.0 - beta) * beta ** np.maximum(n - 1, 0)
    pmf[0] = a
    return pmf


def kendall_moments(b: float, d: float, t: float, n0: int) -> tuple[float, float]:
    """Mean and variance of N(t) from ``n0`` cells (n0 independent copies)."""
    lam = b - d
    if lam == 0.0:
        return float(n0), n0 * 2.0 * b * t
    e = math.exp(lam * t)
    return n0 * e, n0 * (b + d) / (b - d) * e * (e - 1.0)


def eventual_extinction(b: float, d: float, n0: int) -> float:
    """(d/b)^N0 for b > d, else 1."""
    return (d / b) ** n0 if b > d else 1.0


def lea_coulson_like_pmf(m: float, s: float, size: int) -> np.ndarray:
    """pmf on 0 .. size-1 of resistant cells at detection, G(z) = exp[m f(z)] of theory.md 2.

    f(z) = (1-z)/(1-s-z) ln(s/(1-z)); s = 1 is Lea-Coulson. With q = 1 - s = d/b, writing
    g(z) = (1-z) ln(s/(1-z)) (g(q) = 0) the coefficients of f = (g(z) - g(q))/(q - z) are
    f_0 = ln(s)/(1-s) (-1 at s = 1) and, for k >= 1, f_k = sum_{l>=0} q^l/((k+l)(k+l+1)),
    all positive (no cancellation). Then p_0 = exp(m f_0) and n p_n = m sum_i i f_i p_{n-i}.
    """
    q = 1.0 - s
    k = np.arange(1, size, dtype=np.float64)
    f = np.empty(size)
    f[0] = -1.0 if q == 0.0 else math.log(s) / (1.0 - s)
    if q == 0.0:
        f[1:] = 1.0 / (k * (k + 1.0))
    else:
        terms = int(min(1e5, 50.0 / -math.log(q))) + 2
        lag = np.arange(terms, dtype=np.float64)
        weights = q**lag
        for start in range(0, size - 1, 256):  # blocks keep the (k, l) table small
            kk = k[start : start + 256, None] + lag[None, :]
            f[1 + start : 1 + start + len(kk)] = (weights / (kk * (kk + 1.0))).sum(axis=1)
    p = np.zeros(size)
    p[0] = math.exp(m * f[0])
    weighted = np.arange(size) * f  # i f_i
    for n in range(1, size):
        p[n] = m * np.dot(weighted[1 : n + 1], p[n - 1 :: -1][:n]) / n
    return p


def lea_coulson_pmf(m: float, size: int) -> np.ndarray:
    """Lea-Coulson pmf by the Ma-Sandri-Sarkar recursion p_n = (m/n) sum p_i / (n-i+1)."""
    p = np.zeros(size)
    p[0] = math.exp(-m)
    for n in range(1, size):
        i = np.arange(n)
        p[n] = m / n * np.sum(p[:n] / (n - i + 1))
    return p


def no_resistant_at_detection(m: float, s: float) -> float:
    """P(no resistant cell at detection) = exp(m ln(s)/(1-s)) (e^-m at s = 1)."""
    return math.exp(-m) if s == 1.0 else math.exp(m * math.log(s) / (1.0 - s))


def cure_one_step(mu_n: float, s: float, s_treated: float) -> float:
    """p1_up p1_down = exp(-M u n) exp(M u n s/s') (theory.md 3), ``mu_n`` = M u n."""
    return math.exp(-mu_n) * math.exp(mu_n * s / s_treated)


def no_escape(n0: float, u: float, b_treated: float, d_treated: float, s_r: float) -> float:
    """P(no de novo escape) = exp(-N0 u b' s_R / (d' - b')) (theory.md 4)."""
    return math.exp(-n0 * u * b_treated * s_r / (d_treated - b_treated))


def w_law(b: float, d: float, r0: int) -> tuple[float, callable]:
    """Law of W = sum of r0 iid (0 w.p. d/b, else Exp(mean b/lambda)) (theory.md 4).

    Returns P(W = 0) and the CDF of W given W > 0 (a binomial mixture of gammas).
    """
    lam = b - d
    s = lam / b
    scale = b / lam
    k = np.arange(1, r0 + 1)
    weights = stats.binom.pmf(k, r0, s)
    weights = weights / weights.sum()
    atom = (d / b) ** r0

    def cdf(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, np.float64)
        return np.sum(weights[:, None] * stats.gamma.cdf(w[None, :], k[:, None], scale=scale), 0)

    return atom, cdf


def w_sample(rng: np.random.Generator, b: float, d: float, r0: int, n: int) -> np.ndarray:
    """n draws of W (for Monte-Carlo power of the KS test)."""
    lam = b - d
    alive = rng.binomial(r0, lam / b, n)
    out = np.zeros(n)
    positive = alive > 0
    out[positive] = rng.gamma(alive[positive], b / lam)
    return out


def two_step_escape(
    m_total: float, u1: float, u2: float, b: float, d: float, b_treated: float, d_treated: float
) -> float:
    """Rough expected number of surviving doubly resistant lineages made in two steps (1 then
    2, or 2 then 1) from single mutants that exist at detection (a first-order estimate used
    only to show that the "p2_up" term is negligible; theory.md leaves it to the paper):
    before detection the single mutants divide about b^2 u1 M ln(M)/lambda^2 times; after it,
    the ~ b u1 M ln(M)/lambda of them divide b'/(d'-b') times each; every division makes a
    double mutant with probability u2, which survives with probability s.
    """
    lam = b - d
    s = lam / b
    log_m = math.log(m_total)
    before = b * b * m_total * log_m / lam**2
    after = b * m_total * log_m / lam * b_treated / (d_treated - b_treated)
    return (before + after) * s * (u1 * u2 + u2 * u1)


def p2_down(m_total: float, u1: float, u2: float, u12: float, s: float, s_treated: float):
    """exp(-M u^2 (2 n1 n2 + n12 (n1 + n2)) s/s'^2) with n_i u = u_i (theory.md 3)."""
    return math.exp(-m_total * (2 * u1 * u2 + u12 * (u1 + u2)) * s / s_treated**2)
