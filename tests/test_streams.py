"""Tests of kernels.streams: agreement with numpy's SeedSequence, chunking invariance."""

import time

import numpy as np
import pytest

from refractory.kernels import random as kr
from refractory.kernels.streams import patient_states


def reference_state(seed: int, patient: int) -> np.ndarray:
    return np.random.SeedSequence(seed, spawn_key=(patient,)).generate_state(4, np.uint64)


@pytest.mark.parametrize("seed", [0, 1, 20240601, 2**32 - 1, 2**32, 2**130 + 17])
@pytest.mark.parametrize("first", [0, 7, 2**32 - 2, 2**40, 2**64 - 3])
def test_rows_equal_seed_sequence_children(seed, first):
    states = patient_states(seed, first, 3)
    assert states.shape == (3, 4) and states.dtype == np.uint64
    for i in range(3):
        assert np.array_equal(states[i], reference_state(seed, first + i))


def test_rows_equal_spawned_children():
    children = np.random.SeedSequence(99).spawn(5)
    states = patient_states(99, 0, 5)
    for child, row in zip(children, states, strict=True):
        assert np.array_equal(child.generate_state(4, np.uint64), row)


def test_streams_do_not_depend_on_chunking():
    whole = patient_states(5, 0, 1000)
    chunks = np.concatenate([patient_states(5, lo, 250) for lo in range(0, 1000, 250)])
    assert np.array_equal(whole, chunks)
    assert np.unique(whole, axis=0).shape[0] == 1000


def test_states_are_non_zero_and_drive_the_generator():
    states = patient_states(11, 0, 100)
    assert states.any(axis=1).all()
    state = states[0].copy()
    kr.next_u64(state)
    assert not np.array_equal(state, states[0])


def test_empty_and_invalid_requests():
    assert patient_states(1, 10, 0).shape == (0, 4)
    with pytest.raises(ValueError):
        patient_states(-1, 0, 1)
    with pytest.raises(ValueError):
        patient_states(1, -1, 1)


def test_fast_enough_for_many_patients():
    # Generous bound (measured ~0.25 us per patient): 1e5 patients well under a second.
    start = time.perf_counter()
    patient_states(3, 0, 100_000)
    assert time.perf_counter() - start < 2.0
