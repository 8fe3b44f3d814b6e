"""The figures of virtual trials and sweeps, drawn from runs built by hand and checked for
what they show."""

import numpy as np
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.patches import Rectangle
from test_figures import _texts
from test_trials import BIRTH, CELLS, GRID, MU, sweep_run, twin_trial

from refractory.analysis.figures import (
    FIGURES,
    arms_km_figure,
    draw,
    sensitivity_figure,
    sweep_heatmap_figure,
    sweep_response_figure,
)
from refractory.analysis.sensitivity import sensitivity_table
from refractory.analysis.trials import arms_table


def _curves(ax) -> list:
    return [line for line in ax.get_lines() if line.get_label() and not line.get_label()[0] == "_"]


def test_arms_km_figure_shows_each_arm_and_its_hazard_ratio():
    trial = twin_trial({"A": 1 / 300, "B": 0.5 / 300, "C": 1 / 300}, seed=0)
    figure = arms_km_figure(trial)
    ax = figure.axes[0]
    assert len(_curves(ax)) == 3
    assert [t.get_text().split(":")[0] for t in ax.get_legend().get_texts()] == ["A", "B", "C"]
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3
    text = figure.get_suptitle()
    table = arms_table(trial)
    for row in table.iloc[1:].itertuples():
        assert (
            f"{row.arm} vs A: hazard ratio {row.hazard_ratio:.2f} (95% CI "
            f"{row.hazard_ratio_low:.2f} to {row.hazard_ratio_high:.2f}), log-rank p = "
            f"{row.logrank_p:.2g}" in text
        )
        assert f"longer in {100 * row.longer_share:.0f}%" in text
    assert "clustered by patient" in text


def test_arms_km_figure_at_a_sweep_point():
    run = sweep_run(arms={"continuous": 1.0, "adaptive": 0.5})
    title = arms_km_figure(run, point=3).axes[0].get_title()
    assert f"point 3: {MU} = 1e-08, {CELLS} = 1e+09" in title


def test_sweep_heatmap_has_a_cell_per_grid_point_per_arm():
    run = sweep_run(arms={"continuous": 1.0, "adaptive": 0.5})
    figure = sweep_heatmap_figure(run)
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == ["arm continuous", "arm adaptive"]
    for ax in panels:
        (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
        cure = run.patients[run.patients["arm"] == "continuous"].groupby([CELLS, MU])["cured"]
        assert mesh.get_array().size == len(GRID[MU]) * len(GRID[CELLS]) == 6
        assert np.sort(mesh.get_array().ravel()).tolist() == sorted(cure.mean())
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_xlabel() == MU
        assert sum(t.get_text().endswith("%") for t in ax.texts) == 6
    assert panels[0].get_ylabel() == CELLS
    assert any(ax.get_ylabel() == "cure fraction" for ax in figure.axes)


def test_sweep_heatmap_of_a_sampled_design_shows_points():
    run = sweep_run(grid={MU: [1e-9, 1e-8], CELLS: [1e8, 1e9]}, patients=20)
    # Move one point off the grid: the design is no longer a full grid.
    run.patients.loc[run.patients["point"] == 3, MU] = 3e-9
    (ax,) = [ax for ax in sweep_heatmap_figure(run).axes if ax.get_label() != "<colorbar>"]
    assert not [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(ax.collections[0].get_offsets()) == 4


def test_sweep_response_curve_with_its_band():
    run = sweep_run(grid={MU: [1e-9, 3e-9, 1e-8]}, patients=50)
    figure = sweep_response_figure(run)
    (ax,) = figure.axes
    (curve,) = _curves(ax)
    by_value = run.patients.groupby(MU)["cured"].mean()
    assert curve.get_xdata().tolist() == by_value.index.tolist()
    assert curve.get_ydata().tolist() == by_value.tolist()
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert ax.get_xscale() == "log" and ax.get_xlabel() == MU


def test_sensitivity_bars_per_parameter_and_arm():
    run = sweep_run(arms={"continuous": 1.0, "adaptive": 0.5})
    figure = sensitivity_figure(run)
    assert len(figure.axes) == 2
    table = sensitivity_table(run)
    for ax, outcome in zip(figure.axes, ("cured", "days_to_refractory"), strict=True):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(bars) == 3 * 2
        widths = sorted(round(b.get_width(), 9) for b in bars)
        expected = table.loc[table["outcome"] == outcome, "prcc"].round(9).sort_values().tolist()
        assert widths == expected
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [MU, CELLS, BIRTH]
    assert figure.axes[0].get_xlabel() == "PRCC with cure"


def test_trial_figures_in_the_registry_and_plain_runs_say_why_not():
    plain = twin_trial({"A": 1 / 300}, patients=20)
    plain.patients.drop(columns="arm", inplace=True)
    for name in ("km-arms", "sweep-heatmap", "sweep-response", "sensitivity"):
        assert name in FIGURES
        texts = " ".join(_texts(draw(plain, name)))
        assert any(why in texts for why in ("has no", "sweeps 0", "no cohort or sweep"))
