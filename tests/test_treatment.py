"""Treatment as given: fixed courses and relapse, adherence, schedules, noisy scans."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from refractory import Results, simulate
from refractory.scenario import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios" / "treatment"
ALPHA = 1e-3


def _run(sc: Scenario, patients: int, seed: int = 1) -> Results:
    """Results of ``patients`` patients, all traced (so all have scans)."""
    return simulate(sc, patients=patients, seed=seed, trace=patients)


def _changed(name: str, **tables: dict) -> Scenario:
    data = load_scenario(SCENARIOS / f"{name}.toml").to_dict()
    for table, values in tables.items():
        if isinstance(data[table], list):
            data[table] = [{**entry, **values} for entry in data[table]]
        else:
            data[table] = {**data[table], **values}
    return parse_scenario(data, name)


def test_fixed_course_then_regrowth_is_relapse_not_refractory():
    """Every patient regrows after the 42-day course: each progression is a relapse off
    treatment, no patient is refractory. Given continuously instead, the same drug cures."""
    tables = _run(load_scenario(SCENARIOS / "fixed-course.toml"), 100)
    lines = tables.lines
    assert (lines["end_reason"] == "completed").all() and (lines["end_day"] == 42).all()
    assert (lines["days_on_drug"] == 42).all()
    assert lines["progressed"].all() and lines["relapse"].all()
    assert not lines["progressed_on_treatment"].any() and not lines["primary_refractory"].any()
    assert (tables.patients["status"] == "relapsed").all() and not tables.patients[
        "refractory"
    ].any()
    continuous = _run(_changed("fixed-course", line={"max_days": None}), 100)
    assert (continuous.patients["status"] == "cured").all()


@pytest.mark.parametrize(("reference", "shorter"), [(0.0, True), (0.3, False)])
def test_missed_doses_shorten_time_to_progression(reference, shorter):
    """Log-rank test (one-sided, alpha 1e-3), 100 patients per arm, time to progression
    censored at the horizon: missing 30% of daily doses against full adherence. Against a
    reference arm that misses 30% too, the test must find nothing."""
    arms = []
    for seed, miss in ((1, reference), (2, 0.3)):
        sc = _changed("adherence", adherence={"miss_probability": miss})
        lines = _run(sc, 100, seed).lines
        days = lines["days_to_progression"].fillna(lines["end_day"]).to_numpy()
        arms.append(stats.CensoredData.right_censored(days, ~lines["progressed"].to_numpy()))
        assert (
            stats.binomtest(
                int(lines["doses_taken"].sum()), int(lines["doses_scheduled"].sum()), 1 - miss
            ).pvalue
            > ALPHA
        )
    # One-sided: more progressions than expected in the missed-dose arm (statistic O - E > 0).
    result = stats.logrank(arms[1], arms[0], alternative="greater")
    assert (result.pvalue < ALPHA) == shorter


def test_intermittent_schedule_gives_drug_on_its_days():
    """Three weeks on, one off: time on drug is 3/4 of the line's time (to within the last
    partial cycle), and the second line starts 28 days after the first ends."""
    tables = _run(load_scenario(SCENARIOS / "intermittent.toml"), 60, seed=2)
    lines = tables.lines
    first = lines[lines["line"] == 1]
    length = first["end_day"] - first["start_day"]
    assert (abs(first["days_on_drug"] - 0.75 * length) <= 21).all()
    second = lines[lines["line"] == 2].merge(first, on="patient", suffixes=("", "_first"))
    assert len(second) > 0
    assert np.allclose(second["start_day"], second["end_day_first"] + 28)


def test_scan_noise_is_lognormal_with_the_set_cv():
    """log(measured / true) of scans well above the visible size is Normal(-s^2/2, s^2), s^2 =
    log(1 + cv^2): Kolmogorov-Smirnov, alpha 1e-3, on all such scans of 100 patients."""
    tables = _run(load_scenario(SCENARIOS / "fixed-course.toml"), 100)
    scans = tables.scans
    clear = scans[scans["true_cells"] >= 1e8]
    assert len(clear) >= 500
    ratio = np.log(clear["measured_cells"] / clear["true_cells"])
    variance = np.log1p(0.25**2)
    assert stats.kstest(ratio, "norm", args=(-variance / 2, np.sqrt(variance))).pvalue > ALPHA
    assert (scans.groupby("patient")["day"].min() == 0).all()
