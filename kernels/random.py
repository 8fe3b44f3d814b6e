"""Random generator and exact discrete/continuous samplers, compiled with Numba.

Every kernel is ``@numba.njit(cache=True)``, takes only scalars and numpy arrays, uses
``math`` only and allocates nothing, so the same source can later be compiled as CUDA
device functions. The generator state is a ``uint64[4]`` array mutated in place.

Inside the samplers the four state words travel as a tuple (``words``) that every helper
takes and returns, read from the array once and written back once per public call; the
helpers that only choose an algorithm are inlined (``inline="always"``), so a result is not
copied back through nested calls. The public functions, which take the state array, are
compiled without numba's reference counting (``_nrt=False``; they allocate nothing): it
would add an atomic increment and decrement of the array's counter to every call, and the
patients' states are views of one array, so all threads would update the same counter.

Exactness at huge parameters (Poisson means up to 1e16, binomial n up to 1e15) relies on
Loader's (2000) saddle-point form of the log-probabilities (``_stirlerr`` and ``_bd0``)
instead of differences of ``lgamma`` values, and on keeping the integer part of the mean
apart from its fraction when a proposal is rounded to an integer.
"""

import math

import numba

_U64_5 = numba.uint64(5)
_U64_9 = numba.uint64(9)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_M52 = 1.0 / 4503599627370496.0  # 2**-52
_TWO_PI = 6.283185307179586
# Leva's (1992) ratio-of-uniforms normal: width of the v range (> 2 sqrt(2/e)), centre and
# coefficients of the quadratic form, and its levels inside / outside the acceptance region.
LEVA_WIDTH = 1.7156
_LEVA_S = 0.449871
_LEVA_T = 0.386595
_LEVA_A = 0.19600
_LEVA_B = 0.25472
LEVA_INNER = 0.27597
LEVA_OUTER = 0.27846


@numba.njit(cache=True)
def _rotl(x, k):
    """Rotate the uint64 ``x`` left by ``k`` bits (0 < k < 64)."""
    return (x << numba.uint64(k)) | (x >> numba.uint64(64 - k))


@numba.njit(cache=True, _nrt=False)
def load(state):
    """The four words of a uint64[4] generator state, as a tuple."""
    return (state[0], state[1], state[2], state[3])


@numba.njit(cache=True, _nrt=False)
def store(state, words):
    """Write the tuple ``words`` back into the uint64[4] generator state."""
    state[0] = words[0]
    state[1] = words[1]
    state[2] = words[2]
    state[3] = words[3]


@numba.njit(cache=True)
def next_words(words):
    """Next 64-bit output of xoshiro256** (Blackman & Vigna 2018) and the advanced words."""
    s0, s1, s2, s3 = words
    result = _rotl(s1 * _U64_5, 7) * _U64_9
    s2 ^= s0
    s3 ^= s1
    return result, (s0 ^ s3, s1 ^ s2, s2 ^ (s1 << numba.uint64(17)), _rotl(s3, 45))


@numba.njit(cache=True)
def uniform_words(words):
    """Uniform float64 in [0, 1) from the top 53 bits of one output; and the words."""
    x, words = next_words(words)
    return (x >> numba.uint64(11)) * _TWO_M53, words


@numba.njit(cache=True)
def open_uniform_words(words):
    """Uniform float64 in the open interval (0, 1), safe to take logs of; and the words.

    Midpoints (j + 1/2) 2**-52 of a 52-bit grid, so neither 0 nor 1 can occur.
    """
    x, words = next_words(words)
    return ((x >> numba.uint64(12)) + 0.5) * _TWO_M52, words


@numba.njit(cache=True)
def leva_form(u, v):
    """Leva's quadratic form of a point (u, v): below LEVA_INNER inside the ratio-of-uniforms
    region v^2 <= -4 u^2 log u, above LEVA_OUTER outside it."""
    x = u - _LEVA_S
    y = abs(v) + _LEVA_T
    return x * x + y * (_LEVA_A * y - _LEVA_B * x)


@numba.njit(cache=True)
def normal_words(words):
    """Standard normal variate by Leva's (1992) ratio of uniforms; and the words.

    (u, v) is uniform on (0, 1) x (-0.8578, 0.8578) and v / u is returned when
    v^2 <= -4 u^2 log u (Kinderman & Monahan 1977); two quadratic forms bracket that region,
    so the logarithm is needed on about 1% of the tries (1.37 tries per variate).
    """
    while True:
        u, words = open_uniform_words(words)
        r, words = open_uniform_words(words)
        v = LEVA_WIDTH * (r - 0.5)
        q = leva_form(u, v)
        if q < LEVA_INNER:
            return v / u, words
        if q <= LEVA_OUTER and v * v <= -4.0 * u * u * math.log(u):
            return v / u, words


@numba.njit(cache=True, _nrt=False)
def next_u64(state):
    """Next 64-bit output of xoshiro256** (Blackman & Vigna 2018); advances ``state``.

    ``state`` is a uint64[4] array that must not be all zero.
    """
    x, words = next_words(load(state))
    store(state, words)
    return x


@numba.njit(cache=True, _nrt=False)
def uniform(state):
    """Uniform float64 in [0, 1) from the top 53 bits of one xoshiro output."""
    u, words = uniform_words(load(state))
    store(state, words)
    return u


@numba.njit(cache=True, _nrt=False)
def open_uniform(state):
    """Uniform float64 in the open interval (0, 1) (see ``open_uniform_words``)."""
    u, words = open_uniform_words(load(state))
    store(state, words)
    return u


@numba.njit(cache=True, _nrt=False)
def exponential(state):
    """Exponential variate with rate 1, by inversion: -log(U) with U in (0, 1)."""
    return -math.log(open_uniform(state))


@numba.njit(cache=True, _nrt=False)
def normal(state):
    """Standard normal variate (Leva 1992, see ``normal_words``)."""
    z, words = normal_words(load(state))
    store(state, words)
    return z


@numba.njit(cache=True)
def _log1pmx(x):
    """log(1 + x) - x without cancellation for small |x| (x > -1).

    Uses log1p(x) = 2 atanh(z), z = x / (2 + x), so log1p(x) - x = -x z + 2 z^3 sum z^2k/(2k+3).
    """
    if abs(x) > 0.25:
        return math.log1p(x) - x
    z = x / (2.0 + x)
    z2 = z * z
    total = 0.0
    power = 1.0
    k = 3.0
    while True:
        term = power / k
        total += term
        if term < 1e-17 * total:
            break
        power *= z2
        k += 2.0
    return -x * z + 2.0 * z * z2 * total


@numba.njit(cache=True)
def _gamma_large(words, shape):
    """Gamma(shape >= 1) by Marsaglia & Tsang (2000), acceptance test free of cancellation.

    d(1 - v + log v) is evaluated as d(3 log1pmx(y) - 3y^2 - y^3) with v = (1 + y)^3, which
    keeps the test exact to rounding even for shape ~ 1e13.
    """
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x, words = normal_words(words)
        y = c * x
        if y <= -1.0:
            continue
        v = (1.0 + y) * (1.0 + y) * (1.0 + y)
        u, words = open_uniform_words(words)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v, words
        y2 = y * y
        if math.log(u) < 0.5 * x2 + d * (3.0 * _log1pmx(y) - 3.0 * y2 - y2 * y):
            return d * v, words


@numba.njit(cache=True, inline="always")
def gamma_words(words, shape):
    """Gamma variate with scale 1 and ``shape`` > 0 (Marsaglia & Tsang 2000); and the words.

    For shape < 1 draws Gamma(shape + 1) * U**(1/shape) (Marsaglia & Tsang's boost).
    """
    if shape >= 1.0:
        return _gamma_large(words, shape)
    u, words = open_uniform_words(words)
    boost = math.exp(math.log(u) / shape)
    g, words = _gamma_large(words, shape + 1.0)
    return g * boost, words


@numba.njit(cache=True, _nrt=False)
def gamma(state, shape):
    """Gamma variate with scale 1 and ``shape`` > 0 (see ``gamma_words``)."""
    g, words = gamma_words(load(state), shape)
    store(state, words)
    return g


# log(n!) - log(sqrt(2 pi n) (n/e)^n) for n = 0 .. 15 (Loader 2000, table sferr_halves).
_STIRLERR_SMALL = (
    0.0,
    0.08106146679532726,
    0.0413406959554093,
    0.02767792568499834,
    0.020790672103765093,
    0.016644691189821193,
    0.013876128823070748,
    0.01189670994589177,
    0.010411265261972096,
    0.009255462182712733,
    0.00833056343336287,
    0.007573675487951841,
    0.00694284010720953,
    0.006408994188004207,
    0.0059513701127588475,
    0.005554733551962801,
)


@numba.njit(cache=True)
def _stirlerr(n):
    """log(n!) - log(sqrt(2 pi n) (n/e)^n) for integer n >= 1 (Loader 2000): a table up to
    15, the Stirling series beyond."""
    if n <= 15:
        return _STIRLERR_SMALL[n]
    inv = 1.0 / n
    inv2 = inv * inv
    return (
        1.0 / 12.0
        - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - inv2 / 1188.0) * inv2) * inv2) * inv2
    ) * inv


@numba.njit(cache=True)
def _bd0(x, m, diff):
    """Deviance term x log(x/m) + m - x for x, m > 0, given diff = x - m computed exactly.

    Series diff v + 2 x v sum_j v^2j / (2j + 1) in v = diff / (x + m) when x is close to m
    (Loader 2000), else x log1p(diff/m) - diff. There |v| < 0.1, and the sum is cut where the
    next term is below 1e-18 of the first: after 9 terms, or 4 when v^2 < 1e-5.
    """
    if abs(diff) < 0.1 * (x + m):
        v = diff / (x + m)
        w = v * v
        w2 = w * w
        head = 1.0 / 3.0 + w * (1.0 / 5.0) + w2 * (1.0 / 7.0 + w * (1.0 / 9.0))
        if w >= 1e-5:
            tail = 1.0 / 11.0 + w * (1.0 / 13.0) + w2 * (1.0 / 15.0 + w * (1.0 / 17.0))
            head += w2 * w2 * (tail + w2 * w2 * (1.0 / 19.0))
        return diff * v + 2.0 * x * v * w * head
    return x * math.log1p(diff / m) - diff


@numba.njit(cache=True)
def _split(x):
    """Integer part (int64) and fractional part (float64) of a non-negative float."""
    whole = math.floor(x)
    return numba.int64(whole), x - whole


@numba.njit(cache=True)
def _poisson_inversion(words, lam):
    """Poisson(lam) for small lam by sequential-search inversion (Devroye 1986, X.3.3).

    U < 1 - lam implies U <= exp(-lam), a zero: the exponential is skipped then.
    """
    while True:
        u, words = uniform_words(words)
        if u < 1.0 - lam:
            return numba.int64(0), words
        k = 0
        f = math.exp(-lam)
        while u > f and f > 0.0:
            u -= f
            k += 1
            f *= lam / k
        if f > 0.0:
            return numba.int64(k), words


@numba.njit(cache=True)
def _poisson_log_pmf(k, lam, lam_whole, lam_frac):
    """log P(K = k) for K ~ Poisson(lam), lam = lam_whole + lam_frac, stable for huge lam."""
    if k == 0:
        return -lam
    diff = float(k - lam_whole) - lam_frac
    return -_stirlerr(k) - _bd0(float(k), lam, diff) - 0.5 * math.log(_TWO_PI * k)


@numba.njit(cache=True)
def _poisson_ptrs(words, lam):
    """Poisson(lam >= 10) by Hormann's (1993) PTRS transformed rejection.

    The constants of the exact test are computed only when a proposal reaches it.
    """
    lam_whole, lam_frac = _split(lam)
    b = 0.931 + 2.53 * math.sqrt(lam)
    a = -0.059 + 0.02483 * b
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    log_inv_alpha = math.nan
    while True:
        u, words = open_uniform_words(words)
        v, words = open_uniform_words(words)
        u -= 0.5
        us = 0.5 - abs(u)
        k = lam_whole + numba.int64(math.floor((2.0 * a / us + b) * u + lam_frac + 0.43))
        if us >= 0.07 and v <= v_r:
            return k, words
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.isnan(log_inv_alpha):
            log_inv_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
        log_hat = math.log(v) + log_inv_alpha - math.log(a / (us * us) + b)
        if log_hat <= _poisson_log_pmf(k, lam, lam_whole, lam_frac):
            return k, words


@numba.njit(cache=True, inline="always")
def poisson_words(words, lam):
    """Poisson(lam) variate, exact for lam in [0, 1e16], lam <= 0 gives 0; and the words.

    Inversion for lam < 10, Hormann's PTRS (1993) transformed rejection otherwise.
    """
    if lam <= 0.0:
        return numba.int64(0), words
    if lam < 10.0:
        return _poisson_inversion(words, lam)
    return _poisson_ptrs(words, lam)


@numba.njit(cache=True, _nrt=False)
def poisson(state, lam):
    """Poisson(lam) variate, exact for lam in [0, 1e16] (see ``poisson_words``)."""
    k, words = poisson_words(load(state), lam)
    store(state, words)
    return k


@numba.njit(cache=True)
def _log_q(p, q):
    """log(q) for q = 1 - p, computed from whichever of p and q is the smaller (more exact)."""
    if p < q:
        return math.log1p(-p)
    return math.log(q)


@numba.njit(cache=True)
def _binomial_inversion(words, n, p, q):
    """Binomial(n, p) for p <= 1/2 and n p < 10 by sequential-search inversion.

    One cell (n = 1) is a Bernoulli trial, U < p.
    """
    if n == 1:
        u, words = uniform_words(words)
        return numba.int64(1 if u < p else 0), words
    f0 = math.exp(n * math.log1p(-p))
    ratio = p / q
    while True:
        u, words = uniform_words(words)
        k = 0
        f = f0
        while u > f and f > 0.0:
            u -= f
            k += 1
            f *= ratio * (n - k + 1) / k
        if f > 0.0:
            return numba.int64(k), words


@numba.njit(cache=True)
def _binomial_log_pmf(k, n, p, q, np_whole, np_frac):
    """log P(K = k) for K ~ Binomial(n, p) with n p = np_whole + np_frac (Loader 2000)."""
    if k == 0:
        return n * _log_q(p, q)
    if k == n:
        return n * _log_q(q, p)
    diff = float(k - np_whole) - np_frac
    nk = n - k
    return (
        _stirlerr(n)
        - _stirlerr(k)
        - _stirlerr(nk)
        - _bd0(float(k), n * p, diff)
        - _bd0(float(nk), n * q, -diff)
        + 0.5 * math.log(n / (_TWO_PI * k * float(nk)))
    )


@numba.njit(cache=True)
def _binomial_btrs(words, n, p, q):
    """Binomial(n, p) for p <= 1/2 and n p >= 10 by Hormann's (1993) BTRS.

    The log-probability of the mode, needed only by the exact test, is computed when a
    proposal first reaches that test.
    """
    np_whole, np_frac = _split(n * p)
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    v_r = 0.92 - 4.2 / b
    log_pmf_mode = math.nan
    while True:
        u, words = open_uniform_words(words)
        v, words = open_uniform_words(words)
        u -= 0.5
        us = 0.5 - abs(u)
        k = np_whole + numba.int64(math.floor((2.0 * a / us + b) * u + np_frac + 0.5))
        if us >= 0.07 and v <= v_r:
            return k, words
        if k < 0 or k > n:
            continue
        if math.isnan(log_pmf_mode):
            mode = numba.int64(math.floor((n + 1) * p))
            log_pmf_mode = _binomial_log_pmf(mode, n, p, q, np_whole, np_frac)
        alpha = (2.83 + 5.1 / b) * spq
        log_hat = math.log(v * alpha / (a / (us * us) + b))
        if log_hat <= _binomial_log_pmf(k, n, p, q, np_whole, np_frac) - log_pmf_mode:
            return k, words


@numba.njit(cache=True, inline="always")
def _binomial_small_p(words, n, p, q):
    """Binomial(n, p) for 0 < p <= 1/2: inversion when n p < 10, else BTRS."""
    if n * p < 10.0:
        return _binomial_inversion(words, n, p, q)
    return _binomial_btrs(words, n, p, q)


@numba.njit(cache=True, inline="always")
def binomial_words(words, n, p, q):
    """Binomial(n, p) variate given p and q = 1 - p, each exact to its own precision; and the
    words.

    Lets callers holding an accurate complement (e.g. 1 - alpha ~ 1e-12) avoid cancellation.
    Uses the symmetry n - Binomial(n, q) when p > q. Exact for n up to 1e15.
    """
    if n <= 0 or p <= 0.0:
        return numba.int64(0), words
    if q <= 0.0:
        return numba.int64(n), words
    if p > q:
        k, words = _binomial_small_p(words, n, q, p)
        return n - k, words
    return _binomial_small_p(words, n, p, q)


@numba.njit(cache=True, _nrt=False)
def binomial_pq(state, n, p, q):
    """Binomial(n, p) variate given both p and q = 1 - p (see ``binomial_words``)."""
    k, words = binomial_words(load(state), n, p, q)
    store(state, words)
    return k


@numba.njit(cache=True, _nrt=False)
def binomial(state, n, p):
    """Binomial(n, p) variate, exact for n in [0, 1e15] and p in [0, 1].

    Inversion when min(p, 1-p) n < 10, Hormann's BTRS (1993) otherwise.
    """
    return binomial_pq(state, n, p, 1.0 - p)


@numba.njit(cache=True)
def _geometric_log(words, log_q):
    """Failures before the first success given log of the failure probability (< 0).

    Inversion: floor(log(U) / log(q)) (Devroye 1986, X.2).
    """
    u, words = open_uniform_words(words)
    return numba.int64(math.floor(math.log(u) / log_q)), words


@numba.njit(cache=True, _nrt=False)
def geometric_q(state, q):
    """Failures before the first success, failure probability q in [0, 1), by inversion."""
    if q <= 0.0:
        return numba.int64(0)
    k, words = _geometric_log(load(state), math.log(q))
    store(state, words)
    return k


@numba.njit(cache=True, inline="always")
def negative_binomial_words(words, r, p, q):
    """Failures before the r-th success, given success p and failure q = 1 - p (both exact);
    and the words.

    Sum of r geometric draws when r < 16, otherwise the Poisson(Gamma(r) q / p) mixture.
    The result must fit in int64 (r q / p well below 1e16).
    """
    if r <= 0 or q <= 0.0:
        return numba.int64(0), words
    if r < 16:
        log_q = _log_q(p, q)
        total = numba.int64(0)
        for _ in range(r):
            k, words = _geometric_log(words, log_q)
            total += k
        return total, words
    g, words = gamma_words(words, float(r))
    return poisson_words(words, g * (q / p))


@numba.njit(cache=True, _nrt=False)
def negative_binomial_pq(state, r, p, q):
    """Failures before the r-th success, given p and q = 1 - p (see
    ``negative_binomial_words``)."""
    k, words = negative_binomial_words(load(state), r, p, q)
    store(state, words)
    return k


@numba.njit(cache=True, _nrt=False)
def negative_binomial(state, r, p):
    """Failures before the r-th success with success probability p in (0, 1]."""
    return negative_binomial_pq(state, r, p, 1.0 - p)


@numba.njit(cache=True, _nrt=False)
def negative_binomial_q(state, r, q):
    """Failures before the r-th success with failure probability q = 1 - p in [0, 1)."""
    return negative_binomial_pq(state, r, 1.0 - q, q)
