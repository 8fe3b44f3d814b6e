"""Shared statistical machinery of the verification suite.

Every check is a test of a simple null hypothesis (the closed form of theory.md) at level
``ALPHA``; each comes with the power it has against a stated alternative (the closed form
with a rate off by 5%), so a test module can show both that the true model passes and that
a planted error is detected.
"""

from collections.abc import Callable

import numpy as np
from scipy import stats

#: Significance level of every verification test (small, so that the suite is not flaky).
ALPHA = 1e-3
#: Bins of a chi-square test are merged until each expects at least this many counts.
MIN_EXPECTED = 5.0
#: Smallest power against the planted 5% rate error that a test design must have.
MIN_POWER = 0.99


def merge_bins(expected: np.ndarray, minimum: float = MIN_EXPECTED) -> np.ndarray:
    """Labels grouping consecutive cells so that every group expects >= ``minimum`` counts.

    Cells are swept left to right and a group is closed once it reaches ``minimum``; a short
    remainder at the right end joins the last group.
    """
    labels = np.empty(len(expected), np.int64)
    group, total = 0, 0.0
    for i, e in enumerate(expected):
        labels[i] = group
        total += e
        if total >= minimum:
            group, total = group + 1, 0.0
    if total < minimum and group > 0:
        labels[labels == group] = group - 1
    return labels


def _cells(pmf: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    """Probabilities of the cells [edges[i], edges[i+1]) and of the tail >= edges[-1].

    ``pmf`` gives P(X = k) for k = 0 .. K-1 and ``edges`` defaults to 0, 1, .., K (one cell
    per value); the tail takes the rest of the mass.
    """
    pmf = np.asarray(pmf, np.float64)
    if edges is None:
        edges = np.arange(len(pmf) + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(pmf)])
    at = cumulative[np.minimum(edges, len(pmf))]
    return np.append(np.diff(at), max(0.0, 1.0 - at[-1]))


def log_edges(limit: int) -> np.ndarray:
    """Cell edges 0, 1, 2, 3, 4, 6, 8, 12, 16, ... below ``limit`` (few cells for a heavy tail).

    Few cells concentrate a chi-square test's power on the shape's bulk (a 5% change of the
    Luria-Delbrueck m moves mass smoothly; one cell per value would spread it over hundreds
    of degrees of freedom).
    """
    edges = [0, 1, 2, 3]
    k = 4
    while k < limit:
        edges.append(k)
        edges.append(3 * k // 2)
        k *= 2
    return np.array([e for e in edges if e < limit] + [limit])


def _grouped(n: int, p0: np.ndarray) -> np.ndarray:
    return merge_bins(n * p0)


def chi2_pmf(
    samples: np.ndarray, pmf: np.ndarray, edges: np.ndarray | None = None
) -> tuple[float, int, float]:
    """Pearson chi-square of integer ``samples`` against ``pmf`` (see :func:`_cells`).

    Cells are merged to expected counts >= 5. Returns (statistic, degrees of freedom, p).
    """
    samples = np.asarray(samples, np.int64)
    probs = _cells(pmf, edges)
    n = len(samples)
    if edges is None:
        edges = np.arange(len(probs))
    cell = np.searchsorted(np.asarray(edges), samples, side="right") - 1
    observed = np.bincount(cell, minlength=len(probs))
    labels = _grouped(n, probs)
    obs = np.bincount(labels, weights=observed)
    exp = np.bincount(labels, weights=n * probs)
    statistic = float(np.sum((obs - exp) ** 2 / exp))
    df = len(exp) - 1
    return statistic, df, float(stats.chi2.sf(statistic, df))


def chi2_power(
    pmf0: np.ndarray,
    pmf1: np.ndarray,
    n: int,
    edges: np.ndarray | None = None,
    alpha: float = ALPHA,
) -> float:
    """Power of :func:`chi2_pmf` with ``n`` samples from ``pmf1`` (noncentral chi-square).

    Uses the cells that ``n`` draws under ``pmf0`` would produce and the noncentrality
    n sum (p1 - p0)^2 / p0 over them.
    """
    k = max(len(pmf0), len(pmf1))
    p0 = _cells(np.pad(pmf0, (0, k - len(pmf0))), edges)
    p1 = _cells(np.pad(pmf1, (0, k - len(pmf1))), edges)
    labels = _grouped(n, p0)
    g0 = np.bincount(labels, weights=p0)
    g1 = np.bincount(labels, weights=p1)
    df = len(g0) - 1
    noncentrality = n * float(np.sum((g1 - g0) ** 2 / g0))
    critical = stats.chi2.isf(alpha, df)
    return float(stats.ncx2.sf(critical, df, noncentrality))


def binomial_p(successes: int, n: int, p: float, alternative: str = "two-sided") -> float:
    """Exact binomial test p-value of ``successes`` out of ``n`` against probability ``p``."""
    return float(stats.binomtest(int(successes), int(n), p, alternative=alternative).pvalue)


def binomial_power(p0: float, p1: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided exact binomial test of p0 when the truth is p1 (exact sums)."""
    k = np.arange(n + 1)
    pmf0 = stats.binom.pmf(k, n, p0)
    # Two-sided exact test (scipy's rule): reject k when the sum of the pmf values <= pmf0[k]
    # is <= alpha.
    order = np.argsort(pmf0)
    cumulative = np.cumsum(pmf0[order])
    reject = np.zeros(n + 1, bool)
    reject[order] = cumulative <= alpha
    return float(stats.binom.pmf(k, n, p1)[reject].sum())


def z_p(estimate: float, expected: float, standard_error: float) -> float:
    """Two-sided normal p-value of (estimate - expected) / standard_error."""
    return float(2.0 * stats.norm.sf(abs(estimate - expected) / standard_error))


def z_power(shift: float, sd0: float, sd1: float, n: int, alpha: float = ALPHA) -> float:
    """Power of a two-sided z test of a mean (per-sample sd0 under H0, sd1 under H1)."""
    z = stats.norm.isf(alpha / 2)
    return float(stats.norm.cdf((abs(shift) * np.sqrt(n) - z * sd0) / sd1))


def mean_variance_p(samples: np.ndarray, mean: float, variance: float) -> tuple[float, float]:
    """z-test p-values of the sample mean and the sample variance against (mean, variance).

    The variance's standard error is estimated from the sample's fourth central moment:
    Var(s^2) ~ (mu4 - variance^2 (n - 3) / (n - 1)) / n.
    """
    x = np.asarray(samples, np.float64)
    n = len(x)
    p_mean = z_p(x.mean(), mean, np.sqrt(variance / n))
    centred = x - x.mean()
    mu4 = np.mean(centred**4)
    se_var = np.sqrt(max(mu4 - variance**2 * (n - 3) / (n - 1), 1e-300) / n)
    p_var = z_p(x.var(ddof=1), variance, se_var)
    return p_mean, p_var


def ks_p(samples: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """One-sample Kolmogorov-Smirnov p-value of ``samples`` against a continuous ``cdf``."""
    return float(stats.kstest(np.asarray(samples, np.float64), cdf).pvalue)


def empirical_power(draw_p: Callable[[np.random.Generator], float], reps: int, seed: int) -> float:
    """Fraction of ``reps`` replicate p-values below ``ALPHA`` (``draw_p`` simulates one)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([draw_p(rng) < ALPHA for _ in range(reps)]))


def bonferroni_rejects(p_values: list[float], alpha: float = ALPHA) -> bool:
    """Bonferroni: whether any of ``p_values`` is below alpha / (number of p-values)."""
    return min(p_values) < alpha / len(p_values)
