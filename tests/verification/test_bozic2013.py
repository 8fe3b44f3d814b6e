"""Reproduction of Bozic et al. 2013 (eLife 2:e00747), simultaneous dual therapy, M = 1e9:
the scenario files in scenarios/papers against theory.md section 3 and the published cure
rates (~26% with n12 = 1, ~99.9% with n12 = 0).

No planted-error companions here: 4000 patients of the n12 = 1 scenario take 6-30 s on
2 busy cores (the lethal patients grow to 1e13 cells), and at that n the binomial test's
power against a 5% mutation-rate error is only ~0.3 (P = 0.264 vs 0.247). The same
formula is checked with planted errors and power >= 0.99 at M = 1e5 in test_cure_probability.py.
"""

from pathlib import Path

import pytest

from refractory.scenario import load_scenario, with_overrides

from .harness import simulate
from .stats import ALPHA, binomial_p
from .theory import cure_one_step, p2_down, two_step_escape

PAPERS = Path(__file__).resolve().parents[2] / "scenarios" / "papers"
N = 4000


def _run(name: str):
    sc = with_overrides(load_scenario(PAPERS / name), patients=N)
    patients = simulate(sc, N, seed=sc.scenario.seed).patients
    assert not (~patients.cured & ~patients.lethal).any()  # everyone cured or lethal
    return sc, patients


def _rates(sc):
    b, d = sc.tumor.birth_rate, sc.tumor.death_rate
    d_treated = d + max(drug.max_effect for drug in sc.drugs)
    rates = {m.name: m.mutation_rate for m in sc.mechanisms}
    return b, d, d_treated, rates


@pytest.mark.verify
def test_bozic_dual_n12_1(record):
    """n12 = 1 (u12 = 1e-9, M u n12 = 1), n1 = n2 = 50 (u1 = u2 = 5e-8): expected
    p1_up p1_down = exp(-1) exp(s/s') = 0.2636 (s = 1/14, s' = -3/14), times p2_down
    (1 - 8e-6) and the estimated pre-existing two-step escape exp(-1.9e-3): 0.2631 (published
    ~26%); with M = each run's mean cells_at_start (1.005e9, detection overshoot) 0.2614.
    Two-sided exact binomial test, ALPHA = 1e-3, n = 4000 (standard error 0.007)."""
    sc, patients = _run("bozic2013-dual-n12-1.toml")
    b, d, d_treated, rates = _rates(sc)
    s, s_treated = 1 - d / b, 1 - d_treated / b
    m_total = float(patients.cells_at_start.mean())
    u1, u2, u12 = rates["resist_1"], rates["resist_2"], rates["resist_12"]
    p2 = p2_down(m_total, u1, u2, u12, s, s_treated)
    escape = two_step_escape(m_total, u1, u2, b, d, b, d_treated)
    expected = cure_one_step(m_total * u12, s, s_treated) * p2 * (1 - escape)
    cured = int(patients.cured.sum())
    p = binomial_p(cured, N, expected)
    record({"stat": f"binomial {cured}/{N} vs {expected:.4f}", "n": N, "p": p, "case": "true"})
    assert abs(expected - 0.26) < 0.01
    assert p >= ALPHA


@pytest.mark.verify
def test_bozic_dual_n12_0(record):
    """n12 = 0: published ~99.9% cured. One-sided exact binomial test of H0: failure rate
    <= 0.5% (cure >= 99.5%) against more failures, ALPHA = 1e-3, n = 4000 (expected failures
    under the estimated two-step escape ~0.2%: ~8); the test must not reject. Also reported:
    the observed failure rate against the two-step estimate."""
    sc, patients = _run("bozic2013-dual-n12-0.toml")
    b, d, d_treated, rates = _rates(sc)
    m_total = float(patients.cells_at_start.mean())
    escape = two_step_escape(m_total, rates["resist_1"], rates["resist_2"], b, d, b, d_treated)
    failures = int((~patients.cured).sum())
    p = binomial_p(failures, N, 0.005, alternative="greater")
    record(
        {
            "stat": f"failures {failures}/{N} (two-step estimate {escape:.4f})",
            "n": N,
            "p": p,
            "case": "true",
        }
    )
    assert p >= ALPHA
