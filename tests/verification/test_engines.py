"""theory.md section 6: the agent and compartment engines give the same distributions.

Seven scenarios both engines run (tumours grown from one cell to 1e4 cells, lethal at 1e5):
untreated growth with mutation, monotherapy with pre-existing resistance, a combination with
a cross-resistant mechanism, a sequential line switch, treatment as given (a dosed drug with
missed doses on an intermittent schedule, noisy scans), adaptive therapy under competition,
and a sanctuary site with persister cells. Per scenario, each outcome is
compared by a two-sample test: proportions (cure, refractory) by the two-proportion z test,
times and sizes by the two-sample Kolmogorov-Smirnov test (ties make it conservative), the
heavy-tailed resistant cells at start by a chi-square test of homogeneity on log-spaced
cells merged to expected counts >= 5. The scenario's decision is Bonferroni over its tests at
ALPHA = 1e-3 overall. The planted companion runs the agent engine with the birth rate x 1.05
and must be rejected. Cells at the end are compared only for patients not stopped at the
lethal size, which the compartment engine reaches within 1% and the agent engine exactly.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from .harness import CASE_IDS, CASES, scenario, simulate
from .stats import ALPHA, log_edges, merge_bins

GROWTH = {"birth_rate": 0.3, "death_rate": 0.1, "detection_cells": 1e4, "lethal_cells": 1e5}
SCANS = {"scan_every_days": 14}

SCENARIOS = {
    "untreated-mutation": dict(
        tumor=GROWTH,
        mechanism=[{"name": "r", "mutation_rate": 1e-4}],
    ),
    "monotherapy-preexisting": dict(
        tumor=GROWTH,
        horizon_days=70,
        mechanism=[{"name": "rA", "mutation_rate": 1e-4, "resists": {"A": 1.0}}],
        drug=[{"name": "A", "max_effect": 0.4}],
        line=[{"drugs": ["A"]}],
        monitoring=SCANS,
    ),
    "combination-cross-resistance": dict(
        tumor=GROWTH,
        horizon_days=70,
        mechanism=[
            {"name": "rA", "mutation_rate": 1e-4, "resists": {"A": 1.0}},
            {"name": "rB", "mutation_rate": 1e-4, "resists": {"B": 1.0}},
            {"name": "rAB", "mutation_rate": 3e-5, "resists": {"A": 1.0, "B": 1.0}},
        ],
        drug=[{"name": "A", "max_effect": 0.3}, {"name": "B", "max_effect": 0.3}],
        line=[{"drugs": ["A", "B"]}],
        monitoring=SCANS,
    ),
    "sequential-switch": dict(
        tumor=GROWTH,
        horizon_days=120,
        mechanism=[
            {"name": "rA", "mutation_rate": 1e-4, "resists": {"A": 1.0}},
            {"name": "rB", "mutation_rate": 1e-4, "resists": {"B": 1.0}},
        ],
        drug=[{"name": "A", "max_effect": 0.4}, {"name": "B", "max_effect": 0.4}],
        line=[{"drugs": ["A"]}, {"drugs": ["B"]}],
        monitoring=SCANS,
    ),
    "treatment-as-given": dict(
        tumor=GROWTH,
        horizon_days=150,
        mechanism=[{"name": "rA", "mutation_rate": 1e-4, "resists": {"A": 1.0}}],
        drug=[
            {
                "name": "A",
                "max_effect": 0.5,
                "dose": 2.0,
                "interval_days": 1,
                "half_life_days": 1,
                "ec50": 1.0,
                "hill": 2,
            }
        ],
        line=[{"drugs": ["A"], "schedule": "intermittent", "days_on": 21, "days_off": 7}],
        adherence={"miss_probability": 0.2},
        monitoring={**SCANS, "measurement_cv": 0.2},
    ),
    "adaptive-competition": dict(
        tumor=GROWTH,
        horizon_days=250,
        mechanism=[{"name": "rA", "mutation_rate": 1e-4, "resists": {"A": 1.0}}],
        drug=[{"name": "A", "max_effect": 0.4}],
        line=[{"drugs": ["A"], "schedule": "adaptive"}],
        competition={"carrying_capacity": 3e4},
        monitoring=SCANS,
    ),
    "sanctuary-persisters": dict(
        tumor=GROWTH,
        horizon_days=120,
        drug=[{"name": "A", "max_effect": 0.6}],
        line=[{"drugs": ["A"]}],
        sanctuary={"exposure": {"A": 0.4}, "migration_in": 1e-3, "migration_out": 5e-3},
        persister={
            "switch_on": 0.01,
            "switch_off": 0.05,
            "induction": 2,
            "birth_fraction": 0.3,
            "protection": {"A": 0.9},
        },
        monitoring=SCANS,
    ),
}
#: (scenario, patients per engine): a small run of one scenario is in the fast subset.
RUNS = [
    pytest.param("monotherapy-preexisting", 500, id="monotherapy-preexisting-fast"),
    *[pytest.param(name, 2000, id=name, marks=pytest.mark.verify) for name in SCENARIOS],
]


def two_proportion_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the pooled two-proportion z test (1.0 when both are constant)."""
    pooled = (a.sum() + b.sum()) / (len(a) + len(b))
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    if se == 0.0:
        return 1.0
    return float(2 * stats.norm.sf(abs(a.mean() - b.mean()) / se))


def two_proportion_power(p: float, shift: float, n: int, alpha: float) -> float:
    """Power of that test with n per sample, true proportions p and p + shift."""
    q = p + shift
    se0 = math.sqrt(2 * (p + q) / 2 * (1 - (p + q) / 2) / n)
    se1 = math.sqrt((p * (1 - p) + q * (1 - q)) / n)
    return float(stats.norm.cdf((abs(shift) - stats.norm.isf(alpha / 2) * se0) / se1))


def homogeneity_p(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square test of homogeneity of two count samples on log-spaced cells (merged so
    that every cell expects >= 5 in each sample)."""
    edges = log_edges(int(max(a.max(), b.max())) + 2)
    counts = [
        np.bincount(np.searchsorted(edges, x, side="right") - 1, minlength=len(edges))
        for x in (a, b)
    ]
    labels = merge_bins((counts[0] + counts[1]) * min(len(a), len(b)) / (len(a) + len(b)))
    table = np.array([np.bincount(labels, weights=c) for c in counts])
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False)[1])


def ks_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (1.0 when a sample is too small to compare)."""
    if min(len(a), len(b)) < 20:
        return 1.0
    return float(stats.ks_2samp(a, b).pvalue)


def compare(x: pd.DataFrame, y: pd.DataFrame) -> dict[str, float]:
    """p-values of every outcome comparison between two engines' patient tables."""
    p = {
        "days_to_detection": ks_p(x.days_to_detection.to_numpy(), y.days_to_detection.to_numpy()),
        "resistant_cells_at_start": homogeneity_p(
            x.resistant_cells_at_start.to_numpy(), y.resistant_cells_at_start.to_numpy()
        ),
    }
    if x.lines_received.max() == 0:
        return p
    p["cured"] = two_proportion_p(x.cured.to_numpy(), y.cured.to_numpy())
    p["refractory"] = two_proportion_p(x.refractory.to_numpy(), y.refractory.to_numpy())
    p["days_to_refractory"] = ks_p(
        x.days_to_refractory.dropna().to_numpy(), y.days_to_refractory.dropna().to_numpy()
    )
    alive = [t[~t.lethal & (t.cells_at_end > 0)].cells_at_end.to_numpy() for t in (x, y)]
    p["cells_at_end_alive"] = ks_p(*alive)
    p["lines_received"] = homogeneity_p(x.lines_received.to_numpy(), y.lines_received.to_numpy())
    return p


@pytest.mark.parametrize("planted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("name", "n"), RUNS)
def test_agent_and_compartment_agree(name, n, planted, record):
    """Every outcome's two-sample test, Bonferroni at ALPHA = 1e-3 overall. Power: the cure
    proportion's test (n per engine, level ALPHA / tests) against a 5-point difference is
    recorded; the planted 5% birth-rate error must be rejected."""
    sc = scenario(**SCENARIOS[name])
    compartment = simulate(sc, n, seed=61).patients
    agent = simulate(
        sc, n, seed=62, engine="agent", planted=planted and ("birth_rate", planted)
    ).patients
    p = compare(compartment, agent)
    level = ALPHA / len(p)
    rejected = min(p.values()) < level
    cure = float(compartment.cured.mean())
    power = two_proportion_power(cure, 0.05, n, level) if "cured" in p else float("nan")
    record(
        {
            "scenario": name,
            "n": n,
            "cure": cure,
            "cure_power_5pt": power,
            **{f"p_{key}": value for key, value in p.items()},
            "case": "planted" if planted else "true",
        }
    )
    if planted is None:
        assert not rejected, f"engines disagree at Bonferroni level {level:.2g}: {p}"
    else:
        assert rejected, f"planted {planted:.0%} birth-rate error not detected: {p}"
