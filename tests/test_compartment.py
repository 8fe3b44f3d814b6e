"""The compartment kernel's pieces against their plain-Python twins."""

import itertools

import numpy as np
import pytest
from scipy import stats

from refractory.compile import compile_model
from refractory.kernels import clones as table
from refractory.kernels import compartment as k
from refractory.kernels import model as km
from refractory.kernels.streams import patient_states
from refractory.scenario import parse_scenario
from tests.naive_engine import genotype_rates, gillespie_with_mutation

MIXED = {
    "scenario": {"name": "mixed"},
    "tumor": {"birth_rate": 0.3, "death_rate": 0.1},
    "mechanism": [
        {
            "name": "pump",
            "mutation_rate": 1e-6,
            "resists": {"A": 0.5, "B": 0.8},
            "fitness_cost": 0.1,
        },
        {"name": "target", "mutation_rate": 2e-6, "resists": {"A": 1.0}, "fitness_cost": 0.05},
        {"name": "marker", "mutation_rate": 3e-6},
    ],
    "drug": [
        {"name": "A", "max_effect": 0.2},
        {"name": "B", "effect": "birth", "max_effect": 0.25},
        {"name": "C", "max_effect": 0.3},
    ],
    "line": [
        {"drugs": ["A", "B"]},
        {"drugs": ["A", "B", "C"], "combine": "max"},
        {"drugs": ["B"]},
    ],
}


def test_genotype_rates_match_twin():
    model = compile_model(parse_scenario(MIXED))
    for genotype, line in itertools.product(range(8), range(-1, 3)):
        fast = km.genotype_rates(model, np.int64(genotype), line)
        np.testing.assert_allclose(fast, genotype_rates(model, genotype, line), rtol=1e-14)


def _one_clone_model(birth, death, u):
    scenario = parse_scenario(
        {
            "scenario": {"name": "step"},
            "tumor": {
                "birth_rate": birth,
                "death_rate": death,
                "start": "cells",
                "clone": [{"cells": 1}],
            },
            "mechanism": [{"name": "marker", "mutation_rate": u}],
        }
    )
    return compile_model(scenario)


def _empty_table(model):
    return (*table.new_table(model.max_clones), *k.new_stack(64))


def test_tau_step_matches_event_by_event():
    """One exact step of a 200-cell clone with mutation against event-by-event simulation.

    Two-sample tests (alpha = 1e-3 each) on the parent count (KS), the mutant count (KS) and
    P(no mutant cell at the end) (two-proportion z). Expected mutations: u b n0 (e^(lambda dt)
    - 1)/lambda = 1.51, and P(no mutant cell) is about 0.26; with 10000 replicates a side a 10%
    error in the mutation rate moves it by 0.02-0.03, which the z test (and the KS test on the
    mutant count) detects: checked by hand with the rate planted 10% high (z = -3.5).
    """
    birth, death, u, n0, dt, reps = 0.5, 0.2, 8e-3, 200, 1.5, 10000
    model = _one_clone_model(birth, death, u)
    states = patient_states(5, 0, reps)
    fast = np.empty((reps, 2), np.int64)
    for r in range(reps):
        ints, reals, meta, stack_ints, stack_start = _empty_table(model)
        untreated = model.line_exposure[-1].copy()
        c = table.clone_slot(model, ints, reals, meta, np.int64(0), np.int64(-1), untreated, 0.0)
        ints[c, table.CELLS] = n0
        k.tau_step(states[r], model, ints, reals, meta, stack_ints, stack_start, untreated, 0.0, dt)
        fast[r] = ints[0, table.CELLS], ints[1, table.CELLS]
    rng = np.random.default_rng(6)
    slow = np.array([gillespie_with_mutation(rng, n0, birth, death, u, dt) for _ in range(reps)])
    assert stats.ks_2samp(fast[:, 0], slow[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(fast[:, 1], slow[:, 1]).pvalue > 1e-3
    p_fast, p_slow = (fast[:, 1] == 0).mean(), (slow[:, 1] == 0).mean()
    pooled = (p_fast + p_slow) / 2
    z = (p_fast - p_slow) / np.sqrt(2 * pooled * (1 - pooled) / reps)
    assert abs(z) < stats.norm.isf(0.5e-3)


@pytest.mark.parametrize("net_rate", [-0.5, 0.0, 1e-12, 0.3, 40.0])
def test_bin_times_are_quantiles_of_the_arrival_density(net_rate):
    span, bins = 2.0, 16
    times = [k.bin_time(span, net_rate, j, bins) for j in range(bins)]
    assert all(0.0 <= a < b < span for a, b in itertools.pairwise(times))
    grid = np.linspace(0, span, 200001)
    density = np.exp(net_rate * (grid - span) if net_rate > 0 else net_rate * grid)
    cdf = np.cumsum(density) / density.sum()
    expected = [grid[np.searchsorted(cdf, (j + 0.5) / bins)] for j in range(bins)]
    np.testing.assert_allclose(times, expected, atol=1e-4)


def test_gained_mechanism_follows_rates():
    model = compile_model(parse_scenario(MIXED))
    total = model.mutation_rate.sum()
    grid = np.linspace(0, total, 6001)[:-1]
    picks = [table.gained_mechanism(model.mutation_rate, np.int64(0), x) for x in grid]
    shares = np.bincount(picks, minlength=3) / len(picks)
    np.testing.assert_allclose(shares, model.mutation_rate / total, atol=1e-3)
    assert table.gained_mechanism(model.mutation_rate, np.int64(0b011), 0.0) == 2
