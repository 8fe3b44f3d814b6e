"""A drug that kills dividing cells under competition: the Lotka-Volterra form of Strobl et
al. (2021), dS/dt = r S (1 - N/K)(1 - d_D) - d_T S, with r = birth_rate, d_D = max_effect /
birth_rate and d_T = death_rate (effect = "kills_dividing": death added as max_effect x
(1 - N/K)).

One clone of N0 cells under the drug follows dN/dt = N ((b - e)(1 - N/K) - d), a logistic
equation with rate r = b - e - d and ceiling C = K (1 - d / (b - e)), solved by
N(t) = C N0 e^(rt) / (C + N0 (e^(rt) - 1)) for either sign of r. With d_D = 1.5 > 1 (the
regime where crowding matters most: the drug's kill outweighs birth, and it weakens as
the tumour crowds) the tumour shrinks from N0 = K/2; a plain death drug of the same effect
would shrink it to 41% of that mean in 10 days. As in test_logistic, the stochastic mean
differs from the ODE by O(Var N / K) cells, far below the test's standard error.
"""

import math

import pytest

from .harness import CASE_IDS, CASES, check_mean, engine_params, scenario, simulate

B, D, E, K, N0, DAYS, PATIENTS = 0.3, 0.05, 0.45, 2e4, 1e4, 10.0, 400


def mean_cells(t: float, kill: float = E, crowded: bool = True) -> float:
    """The ODE's N(t) under the drug (``crowded`` False: a plain death drug, for contrast)."""
    if not crowded:  # dN/dt = N (b (1 - N/K) - d - e): logistic with rate b - d - e
        rate, ceiling = B - D - kill, K * (1 - (D + kill) / B)
    else:
        rate, ceiling = B - kill - D, K * (1 - D / (B - kill))
    grown = math.exp(rate * t)
    return ceiling * N0 * grown / (ceiling + N0 * (grown - 1))


def _scenario(kill: float, effect: str = "kills_dividing"):
    tumor = {
        "birth_rate": B,
        "death_rate": D,
        "start": "cells",
        "detection_cells": N0,
        "lethal_cells": 1e6,
        "clone": [{"cells": N0}],
    }
    return scenario(
        tumor,
        horizon_days=DAYS,
        competition={"carrying_capacity": K},
        drug=[{"name": "A", "effect": effect, "max_effect": kill}],
        line=[{"drugs": ["A"]}],
        monitoring={"scan_every_days": 2 * DAYS},
    )


def test_the_crowding_changes_the_mean_far_beyond_the_planted_error():
    """The design's contrast: crowding-scaled kill (2002 cells at day 10) vs plain death
    (821) differ by far more than the planted 5% kill error (about 350 cells)."""
    scaled, plain = mean_cells(DAYS), mean_cells(DAYS, crowded=False)
    assert scaled == pytest.approx(2002, abs=1) and plain < 0.6 * scaled
    assert abs(mean_cells(DAYS, E * 1.05) - scaled) > 300


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("engine", engine_params(fast=("compartment", "agent")))
def test_mean_cells_follow_the_lotka_volterra_ode(planted, engine, record):
    """z test of the mean cells at day 10 (n = 400, ALPHA = 1e-3) against the ODE (2002
    cells); the planted error runs the drug with a 5% larger kill (1652 cells); power from
    the sample sd."""
    kill = E * (1 + planted) if planted else E
    sim = simulate(_scenario(kill), PATIENTS, seed=43, engine=engine)
    cells = sim.patients["cells_at_end"].to_numpy(float)
    check_mean(cells, mean_cells(DAYS), mean_cells(DAYS, E * 1.05), planted, record)


def test_without_competition_it_is_a_death_drug():
    """No [competition]: the crowding factor is 1, so the draws equal effect = "death"."""
    tumor = {"birth_rate": B, "death_rate": D, "start": "cells", "detection_cells": N0}
    tumor |= {"lethal_cells": 1e6, "clone": [{"cells": N0}]}
    runs = [
        simulate(
            scenario(
                tumor,
                horizon_days=DAYS,
                drug=[{"name": "A", "effect": effect, "max_effect": E}],
                line=[{"drugs": ["A"]}],
            ),
            20,
            seed=5,
        ).patients["cells_at_end"]
        for effect in ("kills_dividing", "death")
    ]
    assert runs[0].equals(runs[1])
