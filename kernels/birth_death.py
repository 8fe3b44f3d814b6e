"""Exact transition of a linear birth-death clone over a time step, compiled with Numba.

A clone of n cells with per-cell birth rate b and death rate d, observed after time t,
has the law of a sum of n independent Kendall (1948) generating-function laws: one cell
leaves 0 cells with probability alpha, otherwise a geometric number >= 1 with ratio beta.
So the new count is S + NegativeBinomial(S, 1 - beta) with S ~ Binomial(n, 1 - alpha).

All probabilities are computed together with their complements, without subtraction,
from h = expm1(s t) / s and w = exp(s t) for the non-positive rate s = -|b - d|, so
nothing overflows and nothing cancels at b >> d, d >> b, b == d, t = 0 or huge t.
Functions taking the generator state are compiled without reference counting, as the
samplers of kernels.random are.
"""

import math

import numba

from refractory.kernels.random import (
    binomial_words,
    load,
    negative_binomial_words,
    open_uniform,
    store,
)

_SERIES_LIMIT = 1e-8


@numba.njit(cache=True)
def _expm1_ratio(s, t):
    """expm1(s t) / s, equal to t at s = 0, accurate for every sign and size of s t."""
    x = s * t
    if abs(x) < _SERIES_LIMIT:
        return t * (1.0 + 0.5 * x)
    return math.expm1(x) / s


@numba.njit(cache=True)
def extinction_and_growth(b, d, t):
    """Kendall's (alpha, beta, 1 - alpha, 1 - beta) for one cell over time t.

    alpha = d E / (b E + lambda), beta = b E / (b E + lambda), E = expm1(lambda t),
    lambda = b - d (Kendall 1948; Bailey 1964, 8.6); alpha = beta = b t / (1 + b t) if b == d.
    Each of the four is a ratio of non-negative terms, hence accurate to a few ulps (and
    clamped to <= 1 against last-bit rounding).
    """
    rate = b - d
    s = -abs(rate)
    h = _expm1_ratio(s, t)
    w = math.exp(s * t)
    if rate > 0.0:
        growth_weight, survival_weight = w, 1.0
    else:
        growth_weight, survival_weight = 1.0, w
    denominator = b * h + growth_weight
    return (
        min(d * h / denominator, 1.0),
        min(b * h / denominator, 1.0),
        min(survival_weight / denominator, 1.0),
        min(growth_weight / denominator, 1.0),
    )


@numba.njit(cache=True, _nrt=False)
def transition(state, n, b, d, t):
    """Exact count after time t of a linear birth-death clone of n cells.

    Survivors S ~ Binomial(n, 1 - alpha), then S + NegativeBinomial(S, success 1 - beta):
    pure death (b = 0) is Binomial(n, exp(-d t)), pure birth is n + NegBin(n, exp(-b t)).
    """
    if n <= 0:
        return numba.int64(0)
    alpha, beta, one_minus_alpha, one_minus_beta = extinction_and_growth(b, d, t)
    survivors, words = binomial_words(load(state), n, one_minus_alpha, alpha)
    growth, words = negative_binomial_words(words, survivors, one_minus_beta, beta)
    store(state, words)
    return survivors + growth


@numba.njit(cache=True)
def log_mean(a, c):
    """Logarithmic mean (c - a) / (log c - log a) of non-negative a and c.

    Equals a when a == c and 0 when either is 0; the log of the ratio (one logarithm, two
    only if the ratio overflows), or log1p of it for a ~ c, keeps it exact; the result is
    clamped to [min, max] against last-bit rounding.
    Used to average an exponentially changing clone size over a step.
    """
    if a <= 0.0 or c <= 0.0:
        return 0.0
    low = min(a, c)
    high = max(a, c)
    if high == low:
        return low
    if high > 2.0 * low:
        ratio = high / low
        if ratio < math.inf:
            mean = (high - low) / math.log(ratio)
        else:
            mean = (high - low) / (math.log(high) - math.log(low))
    else:
        x = (high - low) / low
        mean = low * x / math.log1p(x)
    return min(max(mean, low), high)


@numba.njit(cache=True, _nrt=False)
def _uniform_time(state, t):
    """Uniform time in [0, t) for t > 0, redrawing the rare rounding to t."""
    while True:
        s = open_uniform(state) * t
        if s < t:
            return s


@numba.njit(cache=True, _nrt=False)
def mutation_time(state, t, lam):
    """Time in [0, t) with density proportional to exp(lam s), by inversion (t > 0).

    Draws a truncated exponential X with rate |lam| on [0, t) as -log1p(U expm1(-|lam| t))/|lam|
    and returns X (lam < 0) or t - X (lam > 0); rounding that lands outside [0, t) is redrawn.
    Uniform when |lam| t < 1e-12; 0 when t <= 0. Places new mutants in proportion to the
    clone size.
    """
    if t <= 0.0:
        return 0.0
    rate = abs(lam)
    if rate * t < 1e-12:
        return _uniform_time(state, t)
    scale = math.expm1(-rate * t)
    while True:
        x = -math.log1p(open_uniform(state) * scale) / rate
        s = t - x if lam > 0.0 else x
        if 0.0 <= s < t:
            return s
