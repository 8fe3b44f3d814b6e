"""Kaplan-Meier, its band and median, the log-rank test and the censoring convention, against
small examples computed by hand."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from refractory.analysis.survival import (
    Endpoint,
    compare,
    follow_up,
    kaplan_meier,
    km_median,
    lethal_endpoint,
    logrank,
    progression_endpoint,
    refractory_endpoint,
)
from refractory.results import Results

# Six patients: events at days 1, 2, 3, 5; censored at 2 and 4.
EXAMPLE = Endpoint("example", np.array([1, 2, 2, 3, 4, 5.0]), np.array([1, 1, 0, 1, 0, 1], bool))


def test_kaplan_meier_by_hand():
    km = kaplan_meier(EXAMPLE)
    # S = 5/6; 5/6 * 4/5; then 3 at risk at day 3: 2/3 * 2/3; censoring at 4; last event: 0.
    assert km.days == pytest.approx([1, 2, 3, 4, 5])
    assert km.survival == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])
    # Exponential Greenwood at day 3: V = 1/30 + 1/20 + 1/6 = 1/4, so the band is
    # S ** exp(-+ 1.959964 * sqrt(V) / log S).
    s, v = 4 / 9, 0.25
    width = stats.norm.ppf(0.975) * np.sqrt(v) / np.log(s)
    assert km.low[2] == pytest.approx(s ** np.exp(-width), abs=1e-9)
    assert km.high[2] == pytest.approx(s ** np.exp(width), abs=1e-9)
    assert (km.low[2], km.high[2]) == pytest.approx((0.06618, 0.78490), abs=1e-5)
    # Where S reaches 0 the band collapses onto it.
    assert km.low[-1] == km.high[-1] == 0.0
    assert km.median == 3.0
    # The band's lower edge is below 1/2 from day 1; the upper edge only when S reaches 0.
    assert (km.median_low, km.median_high) == (1.0, 5.0)
    assert (km.events, km.patients) == (4, 6)


def test_median_not_reached_and_no_events():
    plateau = Endpoint("x", np.array([1, 2, 10, 10, 10.0]), np.array([1, 0, 0, 0, 0], bool))
    assert np.isnan(kaplan_meier(plateau).median)
    none = kaplan_meier(Endpoint("x", np.array([3, 4.0]), np.array([0, 0], bool)))
    assert none.events == 0 and np.isnan(none.median) and (none.survival == 1).all()
    assert km_median(EXAMPLE.times, EXAMPLE.observed) == 3.0


def test_numbers_at_risk_count_patients_followed_up_to_that_day():
    assert EXAMPLE.at_risk([0, 2, 2.5, 5, 6]).tolist() == [6, 5, 3, 1, 0]


def test_logrank_by_hand():
    # X: events at 1 and 4, censored at 3; Y: events at 2, 5, 6. Per event day (N at risk,
    # N_x of them in X, one event): E_x = N_x / N; V = E_x (N - 1)/N (N - N_x)/(N - 1).
    #   day 1: N 6, N_x 3: E 0.5, V 0.25;  day 2: N 5, N_x 2: E 0.4, V 0.24;
    #   day 4: N 3, N_x 1: E 1/3, V 2/9;   days 5, 6: N_x 0.
    # O_x - E_x = 2 - 37/30; chi2 = (O - E)^2 / V.
    x = Endpoint("x", np.array([1, 3, 4.0]), np.array([1, 0, 1], bool))
    y = Endpoint("y", np.array([2, 5, 6.0]), np.array([1, 1, 1], bool))
    expected = (2 - 37 / 30) ** 2 / (0.25 + 0.24 + 2 / 9)
    chi2, p = logrank(x, y)
    assert chi2 == pytest.approx(expected, rel=1e-9)
    assert p == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-9)
    table = compare([x, y])
    assert np.isnan(table["logrank_p"].iloc[0])
    assert table["logrank_p"].iloc[1] == pytest.approx(p)
    assert table["events"].tolist() == [2, 3]


def test_follow_up_convention():
    # event on day 5; cured (followed to the horizon 100); censored at its last day 40;
    # an event counts even for a patient cured later.
    times = follow_up(
        event_day=np.array([5.0, np.nan, np.nan, 7.0]),
        observed=np.array([True, False, False, True]),
        cured=np.array([False, True, False, True]),
        end_day=np.array([60.0, 20.0, 40.0, 90.0]),
        horizon=100.0,
        origin=np.array([0.0, 0.0, 10.0, 0.0]),
    )
    assert times.tolist() == [5.0, 100.0, 30.0, 7.0]


def _results(tmp_path: Path, patients: pd.DataFrame, lines: pd.DataFrame) -> Results:
    manifest = {"scenario": {"scenario": {"name": "toy", "horizon_days": 1000.0}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    empty = pd.DataFrame()
    return Results(tmp_path, manifest, patients, lines, empty, empty)


def test_endpoints_of_a_results_folder(tmp_path):
    patients = pd.DataFrame(
        {
            "patient": [0, 1, 2],
            "cured": [False, True, False],
            "refractory": [True, False, False],
            "days_to_refractory": [300.0, np.nan, np.nan],
            "lethal": [True, False, False],
            "days_to_lethal": [500.0, np.nan, np.nan],
            "end_day": [500.0, 200.0, 1000.0],
        }
    )
    lines = pd.DataFrame(
        {
            "patient": [0, 0, 1, 2],
            "line": [1, 2, 1, 1],
            "start_day": [0.0, 100.0, 0.0, 0.0],
            "end_day": [100.0, 300.0, 200.0, 1000.0],
            "progressed": [True, True, False, False],
            "days_to_progression": [100.0, 200.0, np.nan, np.nan],
            "end_reason": ["progression", "progression", "cured", "horizon"],
        }
    )
    results = _results(tmp_path, patients, lines)
    refractory = refractory_endpoint(results)
    assert refractory.times.tolist() == [300.0, 1000.0, 1000.0]
    assert refractory.observed.tolist() == [True, False, False]
    assert lethal_endpoint(results).times.tolist() == [500.0, 1000.0, 1000.0]
    first = progression_endpoint(results, 1)
    assert first.times.tolist() == [100.0, 1000.0, 1000.0]
    second = progression_endpoint(results, 2)
    assert second.times.tolist() == [200.0] and second.observed.tolist() == [True]
