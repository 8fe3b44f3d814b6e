"""Per-patient xoshiro256** states derived from numpy's SeedSequence.

Row i of ``patient_states(seed, first, count)`` equals
``SeedSequence(seed, spawn_key=(first + i,)).generate_state(4, numpy.uint64)``, i.e. the
state of ``SeedSequence(seed).spawn(...)[first + i]``, so a patient's stream depends only
on (seed, patient index), never on how patients are chunked. SeedSequence's hashing
(O'Neill's seed_seq design, numpy.random.bit_generator) is replayed here vectorised over
patients, because constructing one SeedSequence per patient costs about 10 us.
"""

import numpy as np

_MASK32 = 0xFFFFFFFF
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = np.uint32(0xCA01F9DD)
_MIX_MULT_R = np.uint32(0x4973F715)
_XSHIFT = np.uint32(16)
_POOL_SIZE = 4
_STATE_WORDS = 4
# Replacement for the (probability 2**-256) all-zero state, which xoshiro cannot leave.
_NONZERO_STATE = np.array(
    [0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x2545F4914F6CDD1D],
    dtype=np.uint64,
)


def _int_to_words(value: int) -> list[int]:
    """Little-endian 32-bit words of a non-negative int, [0] for 0 (as SeedSequence does)."""
    if value < 0:
        raise ValueError("seed and patient indices must be non-negative")
    words = [value & _MASK32]
    value >>= 32
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words


class _Hasher:
    """SeedSequence's hashmix with its running multiplier, applied to uint32 columns."""

    def __init__(self) -> None:
        self.const = _INIT_A

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(self.const)
        self.const = (self.const * _MULT_A) & _MASK32
        value = value * np.uint32(self.const)
        return value ^ (value >> _XSHIFT)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = _MIX_MULT_L * x - _MIX_MULT_R * y
    return result ^ (result >> _XSHIFT)


def _pool(entropy: np.ndarray) -> list[np.ndarray]:
    """SeedSequence.mix_entropy for each row of a (rows, words) uint32 entropy matrix."""
    hashmix = _Hasher()
    zeros = np.zeros(entropy.shape[0], dtype=np.uint32)
    width = entropy.shape[1]
    pool = [hashmix(entropy[:, i] if i < width else zeros) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = _mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL_SIZE, width):
        for dst in range(_POOL_SIZE):
            pool[dst] = _mix(pool[dst], hashmix(entropy[:, src]))
    return pool


def _generate_state(pool: list[np.ndarray]) -> np.ndarray:
    """SeedSequence.generate_state(4, uint64) for each row of a pool."""
    const = _INIT_B
    words = []
    for i in range(2 * _STATE_WORDS):
        value = pool[i % _POOL_SIZE] ^ np.uint32(const)
        const = (const * _MULT_B) & _MASK32
        value = value * np.uint32(const)
        words.append((value ^ (value >> _XSHIFT)).astype(np.uint64))
    low = np.stack(words[0::2], axis=1)
    high = np.stack(words[1::2], axis=1)
    return low | (high << np.uint64(32))


def _states_for_width(seed_words: list[int], keys: np.ndarray, key_width: int) -> np.ndarray:
    """States for patient indices ``keys`` that all have ``key_width`` 32-bit words."""
    entropy = np.empty((keys.size, len(seed_words) + key_width), dtype=np.uint32)
    entropy[:, : len(seed_words)] = np.array(seed_words, dtype=np.uint32)
    for j in range(key_width):
        entropy[:, len(seed_words) + j] = (keys >> np.uint64(32 * j)) & np.uint64(_MASK32)
    return _generate_state(_pool(entropy))


def patient_states(seed: int, first: int, count: int) -> np.ndarray:
    """Xoshiro256** states (count, 4) uint64 of patients first, ..., first + count - 1.

    Row i is SeedSequence(seed, spawn_key=(first + i,)).generate_state(4, uint64), with an
    all-zero state replaced by a fixed non-zero constant.
    """
    if first < 0 or count < 0 or first + count > 2**64:
        raise ValueError("patient indices must lie in [0, 2**64)")
    seed_words = _int_to_words(seed)
    seed_words += [0] * (_POOL_SIZE - len(seed_words))
    keys = np.uint64(first) + np.arange(count, dtype=np.uint64)
    states = np.empty((count, _STATE_WORDS), dtype=np.uint64)
    two_words = keys > np.uint64(_MASK32)
    for key_width, rows in ((1, ~two_words), (2, two_words)):
        if rows.any():
            states[rows] = _states_for_width(seed_words, keys[rows], key_width)
    states[~states.any(axis=1)] = _NONZERO_STATE
    return states
