"""Each figure drawn from a real small batch and checked for what it shows."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from refractory import load
from refractory.analysis.figures import (
    FIGURES,
    _sample,
    best_change,
    draw,
    drivers_figure,
    km_figure,
    muller_figure,
    muller_layout,
    save,
    scan_burden,
    spider_figure,
    swimmer_figure,
    typical_patient,
    waterfall_figure,
)
from refractory.batch import run_batch
from refractory.results import ResultsError
from refractory.scenario import parse_scenario

TRACED = 12


def small_batch(
    folder: Path, patients: int = 200, trace: int = TRACED, tables: dict | None = None, **scenario
) -> Path:
    """A two-line batch at detection 1e6 cells (a second or two): resistance to each drug;
    ``tables`` adds whole tables (a [persister] table, say)."""
    data = {
        "scenario": {"name": "small", "patients": patients, "seed": 5, "horizon_days": 2000},
        "tumor": {
            "birth_rate": 0.3,
            "death_rate": 0.1,
            "detection_cells": 1e6,
            "lethal_cells": 1e9,
        },
        "mechanism": [
            {"name": "resist_A", "mutation_rate": 2e-6, "resists": {"A": 1.0}},
            {"name": "resist_B", "mutation_rate": 2e-6, "resists": {"B": 1.0}},
        ],
        "drug": [{"name": "A", "max_effect": 0.4}, {"name": "B", "max_effect": 0.4}],
        "line": [{"drugs": ["A"]}, {"drugs": ["B"]}],
        "monitoring": {"scan_every_days": 28},
    }
    data["scenario"].update(scenario)
    data.update(tables or {})
    run_batch(parse_scenario(data), folder, trace=trace, progress=False)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return load(small_batch(tmp_path_factory.mktemp("small") / "out"))


@pytest.fixture(scope="module")
def persister_results(tmp_path_factory):
    """The small batch with cells switching into and out of a persister state."""
    persister = {"switch_on": 0.01, "switch_off": 0.02, "protection": {"A": 1.0}}
    folder = tmp_path_factory.mktemp("persisters") / "out"
    return load(small_batch(folder, patients=40, tables={"persister": persister}))


def _texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]


def test_kaplan_meier_curves_legend_and_numbers_at_risk(results):
    figure = km_figure([results, results], "refractory")
    curves, table = figure.axes
    assert len(curves.get_lines()) == 2
    legend = [t.get_text() for t in curves.get_legend().get_texts()]
    events = int(results.patients["refractory"].sum())
    assert all(f"{events}/{len(results.patients)} events" in text for text in legend)
    ticks = table.get_xticks()
    counts = [t.get_text() for t in table.texts if t.get_text().isdigit()]
    assert len(counts) == 2 * len(ticks)
    assert counts[0] == str(len(results.patients))  # everyone is at risk on day 0
    progression = km_figure(results, "progression")
    assert len(progression.axes[0].get_lines()) == results.lines["line"].nunique()


def test_scan_burden_from_scans_agrees_with_the_trace(results):
    burden = scan_burden(results)
    assert burden["patient"].nunique() == len(results.patients)  # the scans table: everyone
    from_trace = scan_burden(replace(results, scans=pd.DataFrame()))
    assert set(from_trace["patient"]) == set(range(TRACED))
    at_scans = from_trace[from_trace["day"] % 28 == 0]  # the trace also holds each end day
    both = burden.merge(at_scans, on=["patient", "day"], suffixes=("", "_trace"))
    assert len(both) == len(at_scans)
    assert (both["cells"] == both["cells_trace"]).all()
    cured_early = both["cells"] < results.scenario.effective_visible_cells
    assert (both.loc[cured_early, "measured"] == 0).all()


def test_waterfall_bars_are_the_best_changes(results):
    changes = best_change(results)
    received = results.lines[results.lines["best_response"].notna()]
    assert len(changes) == len(received)
    assert (changes.loc[changes["best_response"] == "CR", "change_percent"] == -100).all()
    pr = changes.loc[changes["best_response"] == "PR", "change_percent"]
    assert ((pr > -100) & (pr <= -30)).all()
    figure = waterfall_figure(results)
    panels = [ax for ax in figure.axes if ax.patches]
    assert len(panels) == changes["line"].nunique()
    for ax, (_, group) in zip(panels, changes.groupby("line"), strict=True):
        heights = sorted(bar.get_height() for bar in ax.patches)
        assert heights == pytest.approx(sorted(group["change_percent"]))


def test_swimmer_draws_a_sample_with_a_segment_per_line(results):
    figure = swimmer_figure(results, max_patients=25)
    ax = figure.axes[0]
    labels = [int(t.get_text()) for t in ax.get_yticklabels()]
    assert len(labels) == 25 and len(set(labels)) == 25
    segments = [p for p in ax.patches if isinstance(p, Rectangle)]
    lines = results.lines[results.lines["patient"].isin(labels)]
    # after progression on the last line (refractory disease) the line goes on to the end
    last = lines.sort_values("line").groupby("patient").last().loc[labels]
    patients = results.patients.set_index("patient").loc[labels]
    continued = (
        patients["refractory"]
        & (last["end_reason"] == "progression")
        & (patients["end_day"] > last["end_day"])
    )
    assert len(segments) == len(lines) + int(continued.sum())
    assert swimmer_figure(results, max_patients=25).axes[0].get_yticklabels()[0].get_text() == (
        ax.get_yticklabels()[0].get_text()
    )  # the sample is reproducible


def test_spider_draws_a_sample_of_patients_on_a_log_axis(results):
    figure = spider_figure(results, max_patients=8)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    burden = scan_burden(results)
    burden = burden[burden["patient"].isin(_sample(burden["patient"].unique(), 8))]
    segments = sum(len(g) - 1 for _, g in burden.groupby("patient"))
    cured = results.patients.loc[results.patients["patient"].isin(burden["patient"]), "cured"]
    marks = [line for line in ax.get_lines() if list(line.get_xdata()) == [0, 1]]
    drawn = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line not in marks]
    assert len(drawn) == segments + int(cured.sum())  # plus the dotted drop to cure
    assert {1e9, 1e6} <= {line.get_ydata()[0] for line in marks}  # lethal and detection


@pytest.mark.parametrize("batch", ["results", "persister_results"])
def test_muller_bands_nest_children_inside_parents(batch, request):
    """Bands by mechanisms (cells of every site and phenotype together), each nested in its
    parent's, as wide as its own share; moves between states are not parents."""
    results = request.getfixturevalue(batch)
    patient = typical_patient(results)
    trace = results.trace[results.trace["patient"] == patient]
    days, order, low, high = muller_layout(trace)
    assert order[0] == ""  # the sensitive founder is the outermost band
    assert np.allclose(high[0], 1.0) and np.allclose(low[0], 0.0)
    mutated = trace.dropna(subset=["parent_mechanisms"])
    mutated = mutated[mutated["parent_mechanisms"] != mutated["mechanisms"]]
    parents = mutated.groupby("mechanisms")
    for genotype, parent in parents["parent_mechanisms"].first().items():
        child, mother = order.index(genotype), order.index(parent)
        assert mother < child
        assert (low[child] >= low[mother] - 1e-12).all()
        assert (high[child] <= high[mother] + 1e-12).all()
    shares = trace.pivot_table(index="mechanisms", columns="day", values="cells", aggfunc="sum")
    own = shares.fillna(0) / shares.sum()
    width = high - low
    for i, genotype in enumerate(order):
        children = [order.index(g) for g, p in parents["parent_mechanisms"].first().items()
                    if p == genotype]  # fmt: skip
        inner = width[i] - sum(width[c] for c in children)
        assert inner == pytest.approx(own.loc[genotype].to_numpy(), abs=1e-9)
    figure = muller_figure(results)
    bands = [c for c in figure.axes[1].collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(order)
    assert f"patient {patient}" in figure._suptitle.get_text()


def test_drivers_bars_add_up_to_every_progression(results):
    figure = drivers_figure(results)
    ax = figure.axes[0]
    progressed = results.lines[results.lines["progressed"]]
    totals = {}
    for bar in ax.patches:
        line = round(bar.get_x() + bar.get_width() / 2)
        totals[line] = totals.get(line, 0.0) + bar.get_height()
    assert totals == pytest.approx(dict.fromkeys(progressed["line"].unique(), 100.0))
    kinds = progressed.groupby(["line", "driver_mechanisms", "driver_preexisting"]).ngroups
    assert len(ax.patches) == kinds
    assert "resist_A" in _texts(figure)


def test_draw_saves_every_figure_and_refuses_bad_requests(results, tmp_path):
    for name in FIGURES:
        path = save(draw(results, name), tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert save(draw(results, "muller", patient=0), tmp_path / "m.svg").read_text().count("<svg")
    with pytest.raises(ResultsError, match="no figure called 'pie'"):
        draw(results, "pie")
    with pytest.raises(ResultsError, match="patient 150 was not traced"):
        draw(results, "muller", patient=150)
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        save(draw(results, "km"), tmp_path / "x.gif")


def test_figures_without_a_trace_say_why(tmp_path):
    untraced = load(small_batch(tmp_path / "out", patients=30, trace=0))
    assert any("--trace" in text for text in _texts(draw(untraced, "muller")))
    assert draw(untraced, "waterfall").axes[0].patches  # drawn from the scans table
    no_scans = replace(untraced, scans=pd.DataFrame())
    for name in ("waterfall", "spider"):
        assert any("no scans table" in text for text in _texts(draw(no_scans, name)))
