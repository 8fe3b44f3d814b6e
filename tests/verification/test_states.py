"""Sites and phenotypes: the mean cells in each state against the linear ODE.

The cells of a multi-type linear birth-death process with migration and switching between
types have mean m(t) = m(0) exp(Q t), where Q holds each type's net growth rate on the
diagonal (minus its rates of leaving) and the rates of moving from type i to type j off it
(the first-moment equation of multi-type branching processes; Athreya and Ney 1972, V.7).
Four types: primary or sanctuary site, cycling or persister phenotype, under one drug that
reaches the sanctuary at a quarter of its effect, that persisters are 90% protected from,
and that doubles (primary) the switching into the persister state.
"""

import numpy as np
import pytest
from scipy.linalg import expm

from .harness import check, engine_params, scenario, simulate
from .stats import ALPHA, z_p, z_power

B, D, EFFECT, REACH, PROTECTION = 0.3, 0.2, 0.2, 0.25, 0.9
BIRTH_FRACTION, DEATH_FRACTION = 0.3, 0.5
SWITCH_ON, INDUCTION, SWITCH_OFF, MIGRATION_IN, MIGRATION_OUT = 0.02, 2.0, 0.05, 0.01, 0.03
CELLS, SHARE, DAYS, PATIENTS = 5000, 0.1, 40.0, 2000
#: (site, phenotype) of the four types, in the order of Q.
TYPES = (("primary", "cycling"), ("primary", "persister"))
TYPES += (("sanctuary", "cycling"), ("sanctuary", "persister"))
#: Model field planted 5% off -> the keyword of ``expected_means`` it is, and its true value.
PLANTED_FIELDS = {
    "switch_on": ("switch_on", SWITCH_ON),
    "migration_in": ("migration_in", MIGRATION_IN),
    "sanctuary_exposure": ("reach", REACH),
    "persister_protection": ("protection", PROTECTION),
}


def expected_means(
    switch_on=SWITCH_ON, migration_in=MIGRATION_IN, reach=REACH, protection=PROTECTION
) -> np.ndarray:
    """m(DAYS) = m(0) exp(Q DAYS) for the four types of TYPES."""
    persister_birth, persister_death = B * BIRTH_FRACTION, D * DEATH_FRACTION
    drug = np.array([1.0, 1.0 - protection, reach, reach * (1.0 - protection)]) * EFFECT
    births = np.array([B, persister_birth, B, persister_birth])
    deaths = np.array([D, persister_death, D, persister_death]) + drug
    q = np.diag(births - deaths)
    moves = {
        (0, 1): switch_on * (1 + INDUCTION),
        (2, 3): switch_on * (1 + INDUCTION * reach),
        (1, 0): SWITCH_OFF,
        (3, 2): SWITCH_OFF,
        (0, 2): migration_in,
        (1, 3): migration_in,
        (2, 0): MIGRATION_OUT,
        (3, 1): MIGRATION_OUT,
    }
    for (i, j), rate in moves.items():
        q[i, j] += rate
        q[i, i] -= rate
    start = CELLS * np.array([1.0 - SHARE, 0.0, SHARE, 0.0])
    return start @ expm(q * DAYS)


def cells_by_type(clones, patients: int) -> np.ndarray:
    """(patients, 4) cells at the end in each type of TYPES."""
    end = clones[clones["moment"] == "end"]
    index = {kind: i for i, kind in enumerate(TYPES)}
    kinds = np.array([index[kind] for kind in zip(end["site"], end["phenotype"], strict=True)])
    counts = np.zeros((patients, len(TYPES)))
    np.add.at(counts, (end["patient"].to_numpy(), kinds), end["cells"].to_numpy())
    return counts


def state_scenario():
    tumor = {
        "birth_rate": B,
        "death_rate": D,
        "start": "cells",
        "detection_cells": CELLS,
        "lethal_cells": 1e7,
        "clone": [{"cells": CELLS}],
    }
    return scenario(
        tumor,
        horizon_days=DAYS,
        drug=[{"name": "A", "max_effect": EFFECT}],
        line=[{"drugs": ["A"]}],
        sanctuary={
            "share": SHARE,
            "exposure": {"A": REACH},
            "migration_in": MIGRATION_IN,
            "migration_out": MIGRATION_OUT,
        },
        persister={
            "switch_on": SWITCH_ON,
            "switch_off": SWITCH_OFF,
            "induction": INDUCTION,
            "birth_fraction": BIRTH_FRACTION,
            "death_fraction": DEATH_FRACTION,
            "protection": {"A": PROTECTION},
        },
        # progression never ends the line: the drug acts for the whole run
        monitoring={"progression_increase": 1e6},
    )


@pytest.mark.parametrize("planted", [None, *PLANTED_FIELDS], ids=["true-model", *PLANTED_FIELDS])
@pytest.mark.parametrize("engine", engine_params())
def test_mean_cells_by_site_and_phenotype(planted, engine, record):
    """z test of each type's mean cells at day 40 against the ODE, Bonferroni over the four
    types at ALPHA (n = 2000 patients); power against each planted 5% error (of the switching
    rate, the migration rate, the sanctuary's exposure, the persisters' protection) is that of
    the most shifted type at ALPHA / 4."""
    error = 0.05 if planted else None
    sim = simulate(
        state_scenario(), PATIENTS, seed=31, planted=planted and (planted, error), engine=engine
    )
    counts = cells_by_type(sim.clones, PATIENTS)
    expected = expected_means()
    sd = counts.std(axis=0, ddof=1)
    p_values = [z_p(counts[:, i].mean(), expected[i], sd[i] / np.sqrt(PATIENTS)) for i in range(4)]
    keyword, value = PLANTED_FIELDS[planted or "switch_on"]  # the true model: power vs switch_on
    shifted = expected_means(**{keyword: value * 1.05})
    power = max(
        z_power(shifted[i] - expected[i], sd[i], sd[i], PATIENTS, ALPHA / 4) for i in range(4)
    )
    result = {
        "stat": "z on 4 means, Bonferroni",
        "n": PATIENTS,
        "relative_error": np.round(counts.mean(axis=0) / expected - 1, 4).tolist(),
        "p": min(1.0, 4 * min(p_values)),
        "power": power,
    }
    check(result, error, record)
