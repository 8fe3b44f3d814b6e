"""Adaptive therapy with competition (theory.md section 5) against the ODE of the same rules.

Sensitive S and resistant R share a carrying capacity K: dS/dt = S (b (1 - N/K)(1 - D) - d),
dR/dt = R (b (1 - N/K) - d), N = S + R, D = 1 on drug (a birth-lowering drug with
max_effect = b; R resists it fully). Scans every 2 days apply the rules to N: adaptive dosing
pauses below 50% of the starting burden and resumes at it; progression is N above 120% of it.
At K = 1e9 the stochastic engine must give the ODE's time to progression within 2%.
"""

import pytest
from scipy.integrate import solve_ivp

from refractory.compile import compile_model
from refractory.engine import ENGINES
from refractory.results import tables_from_chunk
from refractory.scenario import parse_scenario
from tests.verification.harness import plant

B, D, K, N0, RESISTANT, SCAN = 0.05, 0.01, 1e9, 5e8, 1e-3, 2.0


def _scenario(schedule: str) -> dict:
    return {
        "scenario": {"name": f"adaptive-{schedule}", "horizon_days": 3000},
        "tumor": {
            "birth_rate": B,
            "death_rate": D,
            "start": "cells",
            "clone": [
                {"cells": N0 * (1 - RESISTANT)},
                {"cells": N0 * RESISTANT, "mechanisms": ["resist"]},
            ],
        },
        "mechanism": [{"name": "resist", "resists": {"A": 1.0}}],
        "drug": [{"name": "A", "effect": "birth", "max_effect": B}],
        "line": [{"drugs": ["A"], "schedule": schedule}],
        "monitoring": {"scan_every_days": SCAN, "progression_reference": "baseline"},
        "competition": {"carrying_capacity": K},
    }


def ode_time_to_progression(adaptive: bool) -> float:
    """Scan day of progression of the ODE under the same scan-time rules."""

    def rhs(_, y, on):
        s, r = y
        room = 1 - (s + r) / K
        return [s * (B * room * (1 - on) - D), r * (B * room - D)]

    y, on, t = [N0 * (1 - RESISTANT), N0 * RESISTANT], 1.0, 0.0
    while t < 3000:
        y = solve_ivp(rhs, (t, t + SCAN), y, args=(on,), rtol=1e-10, atol=1e-3).y[:, -1]
        t += SCAN
        burden = y.sum()
        if burden > 1.2 * N0:
            return t
        if adaptive and on and burden < 0.5 * N0:
            on = 0.0
        elif adaptive and not on and burden >= N0:
            on = 1.0
    raise AssertionError("no progression")


def simulated_time_to_progression(schedule: str, planted: float | None = None) -> float:
    """Mean days to progression of 4 patients (the birth rate off by ``planted`` if given)."""
    sc = parse_scenario(_scenario(schedule))
    raw = ENGINES["compartment"](plant(compile_model(sc), "birth_rate", planted), 5, 0, 4)
    lines = tables_from_chunk(raw, sc)["lines"]
    assert lines["progressed"].all()
    return float(lines["days_to_progression"].mean())


@pytest.mark.parametrize("planted", [None, 0.05], ids=["true-model", "planted-5pct"])
@pytest.mark.parametrize("schedule", ["continuous", "adaptive"])
def test_time_to_progression_matches_the_ode(schedule, planted):
    """Mean of 4 patients (near-deterministic at 5e8 cells) within 2% of the ODE; with the
    birth rate planted 5% off, outside it."""
    ode = ode_time_to_progression(schedule == "adaptive")
    simulated = simulated_time_to_progression(schedule, planted)
    assert (simulated == pytest.approx(ode, rel=0.02)) == (planted is None)


def test_adaptive_therapy_delays_progression():
    """With 0.1% resistant cells and strong competition, adaptive beats continuous dosing by
    more than 20% (in the ODE, and in the engine)."""
    assert ode_time_to_progression(True) > 1.2 * ode_time_to_progression(False)
    adaptive = simulated_time_to_progression("adaptive")
    assert adaptive > 1.2 * simulated_time_to_progression("continuous")
