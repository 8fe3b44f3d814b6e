"""Each point of a sweep matches its own closed form: P(no resistant cell at detection) =
exp(m ln(s)/(1-s)) with m = M u (theory.md section 2), at two mutation rates of one grid."""

import numpy as np
import pytest

import refractory

from .harness import CASE_IDS, CASES, check, scenario
from .stats import ALPHA, binomial_p, binomial_power
from .theory import no_resistant_at_detection

#: b = 0.5, d = 0.25 (s = 0.5), detection at M = 1e4, u = 6e-5 and 1.2e-4 (m = 0.6, 1.2).
B, D, M, RATES, N = 0.5, 0.25, 1e4, (6e-5, 1.2e-4), 30000


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
def test_each_sweep_point_matches_its_closed_form(planted, record):
    """Exact two-sided binomial test per point, Bonferroni over the 2 points (ALPHA / 2 each),
    n = 30000 per point; power against u x 1.05 computed at ALPHA / 2 (>= 0.99). The planted
    case sweeps rates 5% above those the theory is given."""
    factor = 1.0 + (planted or 0.0)
    swept = scenario(
        {"birth_rate": B, "death_rate": D, "detection_cells": M},
        mechanism=[{"name": "r", "mutation_rate": RATES[0]}],
        sweep={"mechanism.0.mutation_rate": {"values": [u * factor for u in RATES]}},
    )
    patients = refractory.simulate(swept, patients=N, seed=41).patients
    s = 1.0 - D / B
    for point, u in enumerate(RATES):
        at = patients[patients["point"] == point]
        m = at["cells_at_start"].to_numpy() * u
        p0 = float(np.mean([no_resistant_at_detection(mi, s) for mi in m]))
        p1 = float(np.mean([no_resistant_at_detection(1.05 * mi, s) for mi in m]))
        none = int((at["resistant_cells_at_start"] == 0).sum())
        check(
            {
                "stat": f"binomial {none}/{len(at)} vs {p0:.4f} at u = {u:g}, Bonferroni x2",
                "n": len(at),
                "p": min(1.0, 2 * binomial_p(none, len(at), p0)),
                "power": binomial_power(p0, p1, len(at), ALPHA / 2),
            },
            planted,
            record,
        )
