"""`refractory summary` and the report of a run with arms and a sweep: a real small batch
laid out as two sweep points under two arms (the second arm's times to refractory disease
stretched by half), and a plain batch unchanged."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_figures import small_batch
from test_trials import MU

from refractory import load
from refractory.analysis.report import PER_FOLDER, build_report, table_html
from refractory.analysis.summary import format_summary, summarize
from refractory.analysis.trials import arms_table, points_table
from refractory.results import TABLES


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return load(small_batch(tmp_path_factory.mktemp("trial") / "out", patients=60, trace=4))


@pytest.fixture(scope="module")
def trial(plain):
    """Every table of ``plain`` four times: points 0 and 1 (mutation rate 1e-9, 1e-8) under
    arms "A" (as run) and "B" (days to refractory disease x 1.5)."""
    copies = {name: [] for name in TABLES}
    for point, rate in enumerate((1e-9, 1e-8)):
        for arm in ("A", "B"):
            for name in TABLES:
                frame = getattr(plain, name).assign(point=point, arm=arm)
                if name == "patients":
                    frame[MU] = rate
                    if arm == "B":
                        later = frame["days_to_refractory"] * 1.5
                        frame["days_to_refractory"] = later
                        frame["end_day"] = np.fmax(frame["end_day"], later)
                copies[name].append(frame)
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in copies.items()}
    return replace(plain, **tables)


def test_summary_of_a_trial_lists_arms_and_points(trial):
    s = summarize(trial)
    assert [row["arm"] for row in s["arms"]] == ["A", "B", "A", "B"]
    assert [row["point"] for row in s["points"]] == [0, 0, 1, 1]
    text = format_summary(trial)
    arms = arms_table(trial)
    b = arms.iloc[1]
    assert "arms (each against the first, A; the numbers above pool them):" in text
    assert (
        f"point 0, arm B: {b.patients} patients, cured {100 * b.cured:.1f}% (95% CI "
        f"{100 * b.cured_low:.1f}% to {100 * b.cured_high:.1f}%)" in text
    )
    assert f"hazard ratio {b.hazard_ratio:.2f} (95% CI {b.hazard_ratio_low:.2f}" in text
    assert f"point 1, arm A ({MU} = 1e-08): 60 patients" in text
    # Stretched times: every pair of known order is longer under B.
    assert (arms.loc[arms["arm"] == "B", "longer_share"] == 1.0).all()


def test_plain_summary_and_report_unchanged(plain):
    assert "arms" not in summarize(plain) and "points" not in summarize(plain)
    assert "arms (" not in format_summary(plain) and "sweep points" not in format_summary(plain)
    text = build_report([plain])
    assert "<h3>Arms</h3>" not in text and "km-arms" not in text
    assert text.count("data:image/png;base64,") == 2 + len(PER_FOLDER)


def test_report_of_a_trial_shows_its_tables_and_figures(trial):
    text = build_report([trial])
    assert "<h3>Arms</h3>" in text and "<h3>Sweep points</h3>" in text
    assert table_html(arms_table(trial)) in text and table_html(points_table(trial)) in text
    for name in ("km-arms-1", "sweep-response-1", "sensitivity-1"):
        assert f'id="figure-{name}"' in text
    assert "sweep-heatmap" not in text  # one swept parameter: response curves instead
    assert "Figures of point 0, arm A (each patient once)" in text
    assert text.count("data:image/png;base64,") == 2 + 3 + len(PER_FOLDER)


def test_table_html_formats():
    table = pd.DataFrame(
        {"arm": ["A"], MU: [1e-9], "cured": [0.25], "hazard_ratio": [0.5], "logrank_p": [1e-5]}
    )
    assert table_html(table) == (
        f"<table><tr><th>arm</th><th>{MU}</th><th>cured</th><th>hazard_ratio</th>"
        "<th>logrank_p</th></tr><tr><td>A</td><td>1e-09</td><td>25.0%</td><td>0.50</td>"
        "<td>1e-05</td></tr></table>"
    )
