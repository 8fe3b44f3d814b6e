"""The figures of a results folder, one function each, returning a matplotlib Figure.

Figures are built without pyplot (``matplotlib.figure.Figure``), so no display is needed and
nothing is kept in a global registry; ``save(figure, path)`` writes PNG, SVG or PDF. Figures
that follow clones or burden scan by scan (waterfall, spider, Muller) use the ``trace``
table, which holds the first patients of a batch (``refractory run --trace K``).
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from refractory.analysis import sensitivity, trials
from refractory.analysis.summary import driver_labels
from refractory.analysis.survival import ENDPOINTS, Endpoint, endpoint, kaplan_meier
from refractory.results import Results, ResultsError

RESPONSE_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#fdae61", "PD": "#d73027"}
RESPONSE_NAMES = {
    "CR": "complete response",
    "PR": "partial response",
    "SD": "stable disease",
    "PD": "progressive disease",
}
LINE_COLOURS = ("#4c72b0", "#dd8452", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974")
SENSITIVE_COLOUR = "#b0b0b0"
GENOTYPE_COLOURS = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#666666",
)
SAVE_FORMATS = ("png", "svg", "pdf")
KM_AXIS = {
    "refractory": "share of patients\nnot (yet) refractory",
    "lethal": "share of patients\nbelow the lethal burden",
    "progression": "share of patients\nwithout progression on the line",
}


def save(figure: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``figure`` to ``path``; the suffix (.png, .svg, .pdf) chooses the format."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in SAVE_FORMATS:
        raise ValueError(f"{path}: the file must end in .png, .svg or .pdf; got {path.suffix!r}")
    figure.savefig(path, dpi=dpi, format=suffix)
    return path


def _line_colour(line: int) -> str:
    return LINE_COLOURS[(line - 1) % len(LINE_COLOURS)]


def _line_label(results: Results, line: int) -> str:
    return f"line {line} ({results.scenario.lines[line - 1].name})"


def _mechanism_label(mechanisms: str) -> str:
    return mechanisms or "sensitive (no mechanism)"


def genotype_colours(results: Results) -> dict[str, str]:
    """A colour per genotype (mechanisms joined by "+") found in the batch, the same in every
    figure: grey for sensitive cells, then by number of mechanisms and name."""
    names = set(results.clones["mechanisms"].dropna()) | set(results.trace["mechanisms"].dropna())
    names |= set(results.lines.get("driver_mechanisms", pd.Series(dtype=object)).dropna())
    ordered = sorted(names - {""}, key=lambda g: (g.count("+"), g))
    colours = {"": SENSITIVE_COLOUR}
    colours.update({g: GENOTYPE_COLOURS[i % len(GENOTYPE_COLOURS)] for i, g in enumerate(ordered)})
    return colours


def _message(figure: Figure, text: str) -> Figure:
    """A figure that says why there is nothing to draw."""
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    return figure


def _no_trace(results: Results) -> str:
    return (
        f"{results.name}: no traced patients in this folder. Run the batch with "
        "--trace K (K > 0) to record clones at every scan."
    )


def _no_scans(results: Results) -> str:
    return (
        f"{results.name}: this folder holds no scans table and no traced patients, so the "
        "burden at each scan is unknown. Run the batch again (with --trace K, K > 0)."
    )


# Kaplan-Meier ---------------------------------------------------------------------------


def batch_labels(results: Sequence[Results]) -> list[str]:
    """The scenario names, or the folder names where scenario names repeat."""
    names = [r.name for r in results]
    if len(set(names)) == len(names):
        return names
    return [r.label for r in results]


def km_figure(
    results: Results | Sequence[Results],
    endpoint_name: str = "refractory",
    labels: Sequence[str] | None = None,
) -> Figure:
    """Kaplan-Meier curves with 95% bands of one endpoint, one curve per Results (per line for
    ``"progression"``) named by ``labels`` (default: ``batch_labels``), medians in the legend
    and numbers at risk under the axis."""
    batches = [results] if isinstance(results, Results) else list(results)
    groups: list[Endpoint] = []
    for batch, label in zip(batches, labels or batch_labels(batches), strict=True):
        if endpoint_name == "progression":
            for line in sorted(batch.lines["line"].unique()):
                name = f"{label}: line {line} ({batch.scenario.lines[line - 1].name})"
                groups.append(endpoint(batch, "progression", int(line), name))
        else:
            groups.append(endpoint(batch, endpoint_name, label=label))
    figure = Figure(figsize=(8.5, 4.6 + 0.28 * len(groups)), layout="constrained")
    if not groups:
        return _message(figure, "No patient received a line of treatment: nothing to draw.")
    grid = figure.add_gridspec(2, 1, height_ratios=(4.0, 0.45 + 0.28 * len(groups)))
    ax = figure.add_subplot(grid[0])
    table = figure.add_subplot(grid[1], sharex=ax)
    horizon = max(float(np.max(g.times)) if len(g.times) else 0.0 for g in groups)
    for i, group in enumerate(groups):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        km = kaplan_meier(group)
        days = np.concatenate([[0.0], km.days, [np.max(group.times)]])
        survival = np.concatenate([[1.0], km.survival, km.survival[-1:]])
        low = np.concatenate([[1.0], km.low, km.low[-1:]])
        high = np.concatenate([[1.0], km.high, km.high[-1:]])
        ax.step(days, survival, where="post", color=colour, lw=1.8, label=_km_legend(km))
        ax.fill_between(days, low, high, step="post", color=colour, alpha=0.18, lw=0)
    what = ENDPOINTS[endpoint_name]
    origin = "line start" if endpoint_name == "progression" else "treatment start"
    ax.set_ylabel(KM_AXIS[endpoint_name])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, horizon)
    ax.grid(alpha=0.3)
    ax.set_title(f"Kaplan-Meier: {what} (shaded: 95% confidence band)")
    ax.legend(loc="best", fontsize=8, frameon=True)
    ax.tick_params(labelbottom=False)
    _at_risk_table(table, groups, ax.get_xticks(), horizon, f"days from {origin}")
    return figure


def _km_legend(km) -> str:
    if np.isnan(km.median):
        median = "median not reached"
    else:
        high = "not reached" if np.isnan(km.median_high) else f"{km.median_high:.0f}"
        median = f"median {km.median:.0f} d (95% CI {km.median_low:.0f} to {high})"
    return f"{km.endpoint.label}: {km.events}/{km.patients} events, {median}"


def _at_risk_table(ax, groups: list[Endpoint], ticks, horizon: float, xlabel: str) -> None:
    ticks = np.asarray([t for t in ticks if 0 <= t <= horizon])
    ax.set_xticks(ticks)
    ax.set_xlim(0, horizon)
    ax.set_ylim(len(groups) - 0.5, -1.2)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(xlabel)
    left = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(0.0, -0.9, "number at risk", transform=left, fontsize=8, style="italic")
    for i, group in enumerate(groups):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        for tick, count in zip(ticks, group.at_risk(ticks), strict=True):
            ax.text(tick, i, str(count), ha="center", va="center", fontsize=8, color=colour)


# Waterfall ------------------------------------------------------------------------------


def scan_burden(results: Results) -> pd.DataFrame:
    """Tumour burden at every scan: ``patient``, ``day``, ``line``, ``cells`` (true count) and
    ``measured`` (0 when not visible). From the ``scans`` table (every patient) when the folder
    has one, else summed from the ``trace`` (the traced patients, read as 0 below the visible
    size)."""
    if not results.scans.empty:
        scans = results.scans.sort_values(["patient", "day"], kind="stable")
        return pd.DataFrame(
            {
                "patient": scans["patient"].to_numpy(),
                "day": scans["day"].to_numpy(),
                "line": scans["line"].to_numpy(),
                "cells": scans["true_cells"].to_numpy(),
                "measured": scans["measured_cells"].to_numpy(),
            }
        )
    if results.trace.empty:
        return pd.DataFrame(columns=["patient", "day", "line", "cells", "measured"])
    burden = results.trace.groupby(["patient", "day"], sort=True).agg(
        line=("line", "max"), cells=("cells", "sum")
    )
    burden = burden.reset_index()
    visible = results.scenario.effective_visible_cells
    burden["measured"] = np.where(burden["cells"] >= visible, burden["cells"], 0)
    return burden


def best_change(results: Results) -> pd.DataFrame:
    """Best (lowest) measured burden on each line relative to the line's baseline:
    ``patient``, ``line``, ``best_response``, ``change_percent`` (patients of ``scan_burden``).

    The baseline is the last burden measured at or before the line's start; the best is the
    lowest measured at a scan after it, or 0 when the tumour was cured on that line. Lines
    without a scan or a best response are left out.
    """
    columns = ["patient", "line", "best_response", "change_percent"]
    burden = scan_burden(results)
    scans = burden[["patient", "day", "measured"]]
    lines = results.lines[results.lines["patient"].isin(burden["patient"].unique())]
    lines = lines[lines["best_response"].notna() & (lines["best_response"] != "")]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    keys = lines[["patient", "line", "best_response", "start_day", "end_day", "end_reason"]]
    baseline = pd.merge_asof(
        keys.sort_values("start_day"),
        scans.sort_values("day").astype({"day": float}),
        left_on="start_day",
        right_on="day",
        by="patient",
        direction="backward",
    ).rename(columns={"measured": "baseline"})
    during = keys[["patient", "line", "start_day", "end_day"]].merge(scans, on="patient")
    during = during[(during["day"] > during["start_day"]) & (during["day"] <= during["end_day"])]
    best = during.groupby(["patient", "line"])["measured"].min().rename("best").reset_index()
    table = baseline.merge(best, on=["patient", "line"], how="left")
    table.loc[table["end_reason"] == "cured", "best"] = 0.0
    table = table[(table["baseline"] > 0) & table["best"].notna()]
    table["change_percent"] = 100.0 * (table["best"] - table["baseline"]) / table["baseline"]
    return table.sort_values(["patient", "line"])[columns].reset_index(drop=True)


def waterfall_figure(results: Results) -> Figure:
    """Best change of measured burden from each line's baseline, one bar per patient (of
    ``scan_burden``), sorted, coloured by best response; one panel per line."""
    changes = best_change(results)
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    if changes.empty:
        return _message(figure, _no_scans(results))
    lines = sorted(changes["line"].unique())
    axes = figure.subplots(1, len(lines), sharey=True, squeeze=False)[0]
    monitoring = results.scenario.monitoring
    for ax, line in zip(axes, lines, strict=True):
        data = changes[changes["line"] == line].sort_values("change_percent", ascending=False)
        x = np.arange(len(data))
        colours = [RESPONSE_COLOURS[r] for r in data["best_response"]]
        ax.bar(x, data["change_percent"], color=colours, width=0.85 if len(data) <= 60 else 1.0)
        ax.axhline(0, color="black", lw=0.8)
        ax.axhline(100 * monitoring.progression_increase, color="grey", ls="--", lw=0.8)
        ax.axhline(-100 * monitoring.partial_response_decrease, color="grey", ls=":", lw=0.8)
        ax.set_xticks([])
        ax.set_xlabel(f"{len(data)} patients, sorted")
        ax.set_title(_line_label(results, int(line)))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("best change of measured burden\nfrom the line's baseline (%)")
    present = [r for r in RESPONSE_COLOURS if r in set(changes["best_response"])]
    handles = [Patch(color=RESPONSE_COLOURS[r], label=f"{r}: {RESPONSE_NAMES[r]}") for r in present]
    handles += [
        Line2D([], [], color="grey", ls="--", lw=0.8, label="progression at the first scan"),
        Line2D([], [], color="grey", ls=":", lw=0.8, label="partial response"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    figure.suptitle(f"{results.name}: best response per patient and line (waterfall)")
    return figure


# Swimmer --------------------------------------------------------------------------------


def _shown(sample: np.ndarray, patients: pd.Series) -> str:
    """ "20 of 1000 patients (random sample)", or "12 patients" when all are shown."""
    total = patients.nunique()
    if len(sample) < total:
        return f"{len(sample)} of {total} patients (random sample)"
    return f"{total} patients"


def _sample(patients: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """At most ``count`` patient indices, a fixed random sample when there are more."""
    if len(patients) <= count:
        return patients
    return np.sort(np.random.default_rng(seed).choice(patients, count, replace=False))


SWIMMER_EVENTS = {
    "progression": ("v", "#d73027", "progression (next line starts)"),
    "refractory": ("D", "black", "refractory disease"),
    "cured": ("*", "#1a9850", "cured"),
    "lethal": ("X", "black", "death (lethal burden)"),
    "horizon": (">", "#555555", "alive at the horizon"),
}


def _continues(patient: pd.Series, line) -> bool:
    """Whether the patient's last line went on after progression (refractory disease) to the
    patient's end."""
    return bool(
        patient["refractory"]
        and line.end_reason == "progression"
        and patient["end_day"] > line.end_day
    )


def swimmer_figure(results: Results, max_patients: int = 30) -> Figure:
    """One bar per patient (a fixed random sample when there are many) from treatment start
    to the end, a segment per line; the marker at a line's start shows its best response."""
    patients = results.patients.set_index("patient")
    sample = _sample(patients.index.to_numpy(), max_patients)
    sample = patients.loc[sample].sort_values("end_day").index.to_numpy()
    lines = results.lines[results.lines["patient"].isin(sample)]
    figure = Figure(figsize=(9, 1.6 + 0.22 * len(sample)), layout="constrained")
    if lines.empty:
        return _message(figure, f"{results.name}: no patient received a line of treatment.")
    ax = figure.add_subplot()
    row_of = {patient: i for i, patient in enumerate(sample)}
    last_line = lines.groupby("patient")["line"].transform("max") == lines["line"]
    for line, last in zip(lines.itertuples(), last_line, strict=True):
        y = row_of[line.patient]
        colour = _line_colour(line.line)
        ax.barh(y, line.end_day - line.start_day, left=line.start_day, height=0.6, color=colour)
        if last and _continues(patients.loc[line.patient], line):
            end_day = patients.loc[line.patient, "end_day"]
            ax.barh(
                y, end_day - line.end_day, left=line.end_day, height=0.6, color=colour, alpha=0.4
            )
        if line.best_response:
            response = RESPONSE_COLOURS[line.best_response]  # a dot above the line's start
            ax.plot(line.start_day + 8, y + 0.42, "o", ms=4, color=response)
        if line.progressed and not last:
            marker, colour, _ = SWIMMER_EVENTS["progression"]
            ax.plot(line.end_day, y, marker, ms=6, color=colour)
    chosen = patients.loc[sample]
    if chosen["end_day"].max() >= results.horizon_days:
        ax.axvline(results.horizon_days, color="grey", lw=0.8, ls=":")
    rows = np.array([row_of[p] for p in sample])
    events = {
        "refractory": (chosen["refractory"], chosen["days_to_refractory"]),
        "cured": (chosen["cured"], chosen["end_day"]),
        "lethal": (chosen["lethal"], chosen["days_to_lethal"]),
        "horizon": (~chosen["cured"] & ~chosen["lethal"], chosen["end_day"]),
    }
    present = {"progression"} if (lines["progressed"] & ~last_line).any() else set()
    for name, (where, day) in events.items():
        marker, colour, _ = SWIMMER_EVENTS[name]
        where = where.to_numpy(bool)
        ax.plot(day.to_numpy()[where], rows[where], marker, ls="", ms=7, color=colour)
        if where.any():
            present.add(name)
    ax.set_yticks(rows, [str(p) for p in sample], fontsize=7)
    ax.set_ylabel("patient")
    ax.set_xlabel("days from treatment start")
    last = chosen["end_day"].max()
    ax.set_xlim(-0.01 * last, 1.04 * last)
    ax.set_ylim(-0.7, len(sample) - 0.3)
    ax.grid(axis="x", alpha=0.3)
    shown = _shown(sample, results.patients["patient"])
    figure.suptitle(f"{results.name}: treatment course per patient (swimmer plot), {shown}")
    handles = [
        Patch(color=_line_colour(line), label=_line_label(results, line))
        for line in sorted(lines["line"].unique())
    ]
    if chosen["refractory"].any():
        handles.append(Patch(color="grey", alpha=0.4, label="last line, after refractory disease"))
    handles += [
        Line2D(
            [],
            [],
            marker="o",
            ms=4,
            ls="",
            color=RESPONSE_COLOURS[r],
            label=f"best response on the line: {r}",
        )
        for r in RESPONSE_COLOURS
        if r in set(lines["best_response"].dropna())
    ]
    handles += [
        Line2D([], [], marker=marker, ls="", color=colour, label=label)
        for name, (marker, colour, label) in SWIMMER_EVENTS.items()
        if name in present
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# Burden trajectories --------------------------------------------------------------------


def _size_marks(ax, results: Results) -> None:
    """Horizontal lines at the lethal, treatment-start and visible sizes (log axis)."""
    tumor = results.scenario.tumor
    marks = [
        (tumor.lethal_cells, "lethal burden", "black", "-"),
        (tumor.treatment_start_cells, "treatment start (detection)", "#555555", "--"),
        (results.scenario.effective_visible_cells, "visible at a scan", "#555555", ":"),
    ]
    for cells, label, colour, style in marks:
        ax.axhline(cells, color=colour, ls=style, lw=0.9, label=label)


def _log_cells_axis(ax, results: Results) -> None:
    """A log axis of cells from one cell to above the lethal size."""
    ax.set_yscale("log")
    ax.set_ylim(0.5, 5 * results.scenario.tumor.lethal_cells)


def spider_figure(results: Results, max_patients: int = 20) -> Figure:
    """Total tumour cells at every scan for a sample of patients (log scale), each segment
    coloured by the line running, with the lethal, detection and visible sizes marked."""
    burden = scan_burden(results)
    figure = Figure(figsize=(9, 5), layout="constrained")
    if burden.empty:
        return _message(figure, _no_scans(results))
    sample = _sample(np.unique(burden["patient"]), max_patients)
    ax = figure.add_subplot()
    patients = results.patients.set_index("patient")
    for patient in sample:
        own = burden[burden["patient"] == patient]
        days, cells, line = (own[c].to_numpy() for c in ("day", "cells", "line"))
        for i in range(len(days) - 1):
            ax.plot(days[i : i + 2], cells[i : i + 2], color=_line_colour(max(line[i + 1], 1)))
        if patients.loc[patient, "cured"]:
            cured_day = patients.loc[patient, "end_day"]
            ax.plot([days[-1], cured_day], [cells[-1], 1], ":", color=_line_colour(line[-1]))
            ax.plot(cured_day, 1, "*", color="#1a9850", ms=9)
    _size_marks(ax, results)
    ax.axhspan(0.5, results.scenario.effective_visible_cells, color="grey", alpha=0.08, lw=0)
    _log_cells_axis(ax, results)
    ax.set_xlim(0, 1.03 * burden["day"].max())
    ax.set_xlabel("days from treatment start")
    ax.set_ylabel("tumour cells (true count, log scale)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{results.name}: tumour burden at each scan, {_shown(sample, burden['patient'])}")
    handles = [
        Line2D([], [], color=_line_colour(line), label=f"during {_line_label(results, line)}")
        for line in sorted(set(burden["line"]) - {0})
    ]
    handles += ax.get_legend_handles_labels()[0]
    handles.append(Line2D([], [], marker="*", ls="", color="#1a9850", label="cured (no cell left)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# Muller ---------------------------------------------------------------------------------


def typical_patient(results: Results) -> int:
    """A traced patient to show: the refractory one whose time to refractory disease is the
    median among the traced, else the first traced patient."""
    traced = results.patients[results.patients["patient"].isin(results.trace["patient"])]
    refractory = traced[traced["refractory"]].sort_values("days_to_refractory", kind="stable")
    if len(refractory):
        return int(refractory["patient"].iloc[(len(refractory) - 1) // 2])
    return int(traced["patient"].iloc[0])


def muller_layout(trace: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Bands of a Muller plot for one patient's trace rows.

    Returns the days (T), the genotypes in drawing order (G, parents before children), and the
    lower and upper edges (G, T) of each genotype's band as a share of the tumour: a band
    holds the genotype and all its descendants, children nested in the middle of the parent's
    band, so drawing them in order shows the lineage. A parent never seen in the trace is
    added with no cells; genotypes without a known parent hang from the bottom level. Cells of
    every site and phenotype count together: moving between them does not make a new band.
    """
    days = np.unique(trace["day"].to_numpy(float))
    counts = trace.pivot_table(
        index="mechanisms", columns="day", values="cells", aggfunc="sum", fill_value=0
    ).reindex(columns=days, fill_value=0)
    mutated = trace.dropna(subset=["parent_mechanisms"])
    mutated = mutated[mutated["parent_mechanisms"] != mutated["mechanisms"]]
    parents = mutated.groupby("mechanisms")["parent_mechanisms"].first()
    parent_of = {g: parents.get(g) for g in counts.index}
    for parent in set(parents) - set(counts.index):
        parent_of[parent] = None
        counts.loc[parent] = 0
    children: dict[str | None, list[str]] = {}
    first_day = {g: float(days[np.argmax(counts.loc[g].to_numpy() > 0)]) for g in parent_of}
    for genotype in sorted(parent_of, key=lambda g: (first_day[g], g)):
        children.setdefault(parent_of[genotype], []).append(genotype)
    own = {g: counts.loc[g].to_numpy(float) for g in parent_of}
    total: dict[str, np.ndarray] = {}

    def subtree(genotype: str) -> np.ndarray:
        total[genotype] = own[genotype] + sum(
            (subtree(child) for child in children.get(genotype, [])), np.zeros(len(days))
        )
        return total[genotype]

    grand = sum((subtree(root) for root in children.get(None, [])), np.zeros(len(days)))
    scale = np.where(grand > 0, grand, 1.0)
    order: list[str] = []
    lower: list[np.ndarray] = []

    def place(genotype: str, bottom: np.ndarray) -> None:
        order.append(genotype)
        lower.append(bottom)
        inner = bottom + own[genotype] / 2
        for child in children.get(genotype, []):
            place(child, inner)
            inner = inner + total[child]

    bottom = np.zeros(len(days))
    for root in children.get(None, []):
        place(root, bottom)
        bottom = bottom + total[root]
    low = np.array(lower) / scale
    high = low + np.array([total[g] for g in order]) / scale
    return days, order, low, high


def muller_figure(results: Results, patient: int | None = None) -> Figure:
    """Clone composition over time for one traced patient (Muller plot), under the cells of
    each clone and in all (log scale) with the treatment lines shaded."""
    figure = Figure(figsize=(9, 6), layout="constrained")
    if results.trace.empty:
        return _message(figure, _no_trace(results))
    patient = typical_patient(results) if patient is None else patient
    trace = results.trace[results.trace["patient"] == patient]
    if trace.empty:
        traced = sorted(results.trace["patient"].unique())
        raise ResultsError(
            f"{results.folder or results.name}: patient {patient} was not traced, so its "
            f"clones were not recorded scan by scan; traced patients are {traced[0]} to "
            f"{traced[-1]}. Choose one of them, or re-run it alone into another folder with "
            f"--patient-range {patient}:{patient + 1} --trace {patient + 1}."
        )
    days, order, low, high = muller_layout(trace)
    colours = genotype_colours(results)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    totals = trace.groupby("day")["cells"].sum()
    top.plot(totals.index, totals.to_numpy(), color="black", lw=1.8, label="all tumour cells")
    for genotype, own in trace.groupby("mechanisms"):
        top.plot(own["day"], own["cells"], color=colours[genotype], lw=1.2, marker=".", ms=3)
    _size_marks(top, results)
    _log_cells_axis(top, results)
    top.set_ylabel("tumour cells")
    for i, genotype in enumerate(order):
        bottom.fill_between(days, low[i], high[i], color=colours[genotype], lw=0)
    lines = results.lines[results.lines["patient"] == patient]
    record = results.patients.set_index("patient").loc[patient]
    for line in lines.itertuples():
        for ax in (top, bottom):
            ax.axvline(line.start_day, color="black", lw=0.8, ls="--")
        last = line.line == lines["line"].max()
        end = record["end_day"] if last and _continues(record, line) else line.end_day
        top.axvspan(line.start_day, end, color=_line_colour(line.line), alpha=0.15)
        label = f" line {line.line}: {results.scenario.lines[line.line - 1].name}"
        top.text(
            line.start_day,
            1.02,
            label,
            transform=blended_transform_factory(top.transData, top.transAxes),
            fontsize=8,
            va="bottom",
        )
    outcome = _outcome(record)
    bottom.set_ylim(0, 1)
    bottom.set_xlim(0, days[-1] if len(days) > 1 else 1.0)
    bottom.set_ylabel("share of tumour cells\n(clones nested in their parent)")
    bottom.set_xlabel("days from treatment start")
    handles = [
        Patch(color=colours[g], label=_mechanism_label(g))
        for g in sorted(order, key=lambda g: (g.count("+") + (g != ""), g))
    ]
    bottom.legend(
        handles=handles,
        title="clone (mechanisms)",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title_fontsize=8,
    )
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.suptitle(f"{results.name}: clones of patient {patient} ({outcome})")
    return figure


def _outcome(record: pd.Series) -> str:
    if record["cured"]:
        return f"cured on day {record['end_day']:.0f}"
    if record["lethal"]:
        return (
            f"refractory on day {record['days_to_refractory']:.0f}, lethal burden on day "
            f"{record['days_to_lethal']:.0f}"
        )
    if record["refractory"]:
        return f"refractory on day {record['days_to_refractory']:.0f}"
    return "alive at the horizon"


# Mechanisms at progression --------------------------------------------------------------


def _state_colour(colour: str, phenotype: str, site: str) -> tuple[float, ...]:
    """A genotype's colour, darker for persister cells and paler for sanctuary cells."""
    rgb = np.array(to_rgb(colour))
    if phenotype == "persister":
        rgb = 0.6 * rgb
    if site == "sanctuary":
        rgb = rgb + 0.5 * (1.0 - rgb)
    return tuple(rgb)


def drivers_figure(results: Results) -> Figure:
    """Share of progressions on each line by the largest clone's mechanisms (and its site and
    phenotype, where the scenario has them), solid where that clone existed before treatment,
    hatched where it arose during treatment."""
    lines = results.lines
    progressed = lines[lines["progressed"]] if len(lines) else lines
    figure = Figure(figsize=(8, 4.8), layout="constrained")
    if progressed.empty:
        return _message(figure, f"{results.name}: no progression in this batch.")
    colours = genotype_colours(results)
    progressed = progressed.assign(
        driver=driver_labels(progressed),
        colour=[
            _state_colour(colours.get(m, SENSITIVE_COLOUR), phenotype, site)
            for m, phenotype, site in zip(
                progressed["driver_mechanisms"],
                progressed.get("driver_phenotype", pd.Series("cycling", progressed.index)),
                progressed.get("driver_site", pd.Series("primary", progressed.index)),
                strict=True,
            )
        ],
    )
    counts = (
        progressed.groupby(["line", "driver", "colour", "driver_preexisting"])
        .size()
        .rename("progressions")
        .reset_index()
    )
    per_line = progressed.groupby("line").size()
    received = lines.groupby("line").size()
    line_numbers = sorted(received.index)
    ax = figure.add_subplot()
    bottoms = dict.fromkeys(line_numbers, 0.0)
    ordered = counts.sort_values(["driver_preexisting", "driver"], ascending=[False, True])
    for row in ordered.itertuples():
        share = 100.0 * row.progressions / per_line[row.line]
        ax.bar(
            row.line,
            share,
            bottom=bottoms[row.line],
            width=0.6,
            color=row.colour,
            edgecolor="white",
            hatch="" if row.driver_preexisting else "///",
        )
        bottoms[row.line] += share
    for line in line_numbers:
        n = int(per_line.get(line, 0))
        ax.text(
            line, 101, f"{n} of {received[line]}\nprogressed", ha="center", va="bottom", fontsize=8
        )
    ax.set_xticks(line_numbers, [_line_label(results, line) for line in line_numbers])
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("share of progressions on the line (%)")
    ax.set_title(f"{results.name}: largest clone at each progression")
    kinds = counts.drop_duplicates("driver").sort_values(
        "driver", key=lambda d: d.str.count(r"\+") * 1000 + d.str.len()
    )
    handles = [
        Patch(color=row.colour, label=row.driver.replace("(sensitive)", _mechanism_label("")))
        for row in kinds.itertuples()
    ]
    handles += [
        Patch(facecolor="white", edgecolor="black", label="pre-existing (before treatment)"),
        Patch(facecolor="white", edgecolor="black", hatch="///", label="acquired during treatment"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# Trials, sweeps and cohorts -------------------------------------------------------------


def _ratio_text(row: pd.Series, first: str) -> str:
    """Two lines: "B vs A: hazard ratio 0.45 (95% CI 0.40 to 0.52), log-rank p = 3e-15" and
    the paired view."""
    if np.isnan(row["hazard_ratio"]):
        ratio = "hazard ratio not estimable (an arm without events)"
    else:
        ratio = (
            f"hazard ratio {row['hazard_ratio']:.2f} (95% CI {row['hazard_ratio_low']:.2f} to "
            f"{row['hazard_ratio_high']:.2f})"
        )
    paired = (
        f"paired: longer in {100 * row['longer_share']:.0f}%, shorter in "
        f"{100 * row['shorter_share']:.0f}% of {row['paired']:.0f} twin pairs of known order"
        if row["paired"] > 0
        else "no twin pair of known order"
    )
    return f"{row['arm']} vs {first}: {ratio}, log-rank p = {row['logrank_p']:.2g}\n    {paired}"


def arms_km_figure(results: Results, point: int | None = None) -> Figure:
    """Kaplan-Meier curves of time to refractory disease, one per arm (``km_figure``), with
    each arm's Cox hazard ratio against the first arm, the log-rank p-value and the paired
    view written in the figure; with a sweep, at ``point`` (default: the first)."""
    if not trials.has_arms(results):
        return _message(Figure(figsize=(8, 3)), f"{results.name}: this run has no arms.")
    where = {}
    if trials.has_points(results):
        where["point"] = trials.points(results)[0] if point is None else point
    chosen = trials.subset(results, **where)
    labels = trials.arm_labels(chosen)
    table = trials.arms_table(chosen)
    figure = km_figure([trials.subset(chosen, arm=arm) for arm in labels], labels=labels)
    text = "\n".join(_ratio_text(row, labels[0]) for _, row in table.iloc[1:].iterrows())
    figure.suptitle(
        f"{text}\n(Cox model clustered by patient; paired: the same patient in each arm)",
        x=0.01,
        ha="left",
        fontsize=8.5,
    )
    if where:
        ax = figure.axes[0]
        ax.set_title(f"{ax.get_title()}\n{_point_title(results, where['point'])}")
    return figure


def _point_title(results: Results, point: int) -> str:
    """ "point 3: tumor.detection_cells = 1e+09, ..." """
    row = results.patients[results.patients["point"] == point].iloc[0]
    values = ", ".join(f"{path} = {row[path]:.3g}" for path in trials.swept_paths(results))
    return f"point {point}: {values}" if values else f"point {point}"


def _arm_panels(results: Results) -> list[tuple[str, Results]]:
    """("arm LABEL", its rows) per arm, or one ("", the run) without arms."""
    if not trials.has_arms(results):
        return [("", results)]
    return [(f"arm {arm}", trials.subset(results, arm=arm)) for arm in trials.arm_labels(results)]


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Edges of cells centred on sorted ``values``: midway between neighbours (on the log
    scale for a log axis), half a step beyond the ends (a decade or one unit for one value)."""
    x = np.log10(values) if log else np.asarray(values, float)
    if len(x) == 1:
        edges = np.array([x[0] - 0.5, x[0] + 0.5])
    else:
        middle = (x[1:] + x[:-1]) / 2
        edges = np.concatenate([[2 * x[0] - middle[0]], middle, [2 * x[-1] - middle[-1]]])
    return 10**edges if log else edges


def sweep_heatmap_figure(results: Results) -> Figure:
    """Cure fraction over the first two swept parameters, a panel per arm: one cell per grid
    point with its percentage, or for a sampled design (no full grid) one dot per point;
    log axes for log-scaled paths. Other swept parameters are pooled."""
    swept = trials.swept_paths(results)
    if len(swept) < 2:
        return _message(
            Figure(figsize=(8, 3)),
            f"{results.name}: a heatmap needs a sweep of two parameters; this run sweeps "
            f"{len(swept)}. See the sweep-response figure.",
        )
    x_path, y_path = swept[:2]
    panels = _arm_panels(results)
    figure = Figure(figsize=(4.6 * len(panels) + 1.2, 4.4), layout="constrained")
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    x_log, y_log = trials.log_scaled(results, x_path), trials.log_scaled(results, y_path)
    for ax, (title, panel) in zip(axes, panels, strict=True):
        cure = panel.patients.groupby([y_path, x_path])["cured"].mean().unstack(x_path)
        if cure.notna().all().all():
            mesh = ax.pcolormesh(
                _cell_edges(cure.columns.to_numpy(), x_log),
                _cell_edges(cure.index.to_numpy(), y_log),
                cure.to_numpy(),
                cmap="viridis",
                vmin=0,
                vmax=1,
            )
            for (i, j), value in np.ndenumerate(cure.to_numpy()):
                ax.text(
                    cure.columns[j],
                    cure.index[i],
                    f"{100 * value:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value < 0.6 else "black",
                )
        else:
            stacked = cure.stack().rename("cured").reset_index()
            mesh = ax.scatter(
                stacked[x_path], stacked[y_path], c=stacked["cured"], cmap="viridis", vmin=0, vmax=1
            )
        ax.set_xscale("log" if x_log else "linear")
        ax.set_yscale("log" if y_log else "linear")
        ax.set_xlabel(x_path)
        ax.set_title(title)
    axes[0].set_ylabel(y_path)
    figure.colorbar(mesh, ax=list(axes), label="cure fraction")
    figure.suptitle(f"{results.name}:\nshare of patients cured at each sweep point")
    return figure


def sweep_response_figure(results: Results) -> Figure:
    """Cure fraction against each swept parameter (a panel each), a line per arm with its 95%
    Clopper-Pearson band; the patients of points sharing the value are pooled."""
    swept = trials.swept_paths(results)
    if not swept:
        return _message(Figure(figsize=(8, 3)), f"{results.name}: this run has no sweep.")
    figure = Figure(figsize=(4.4 * len(swept) + 1.5, 4.2), layout="constrained")
    axes = figure.subplots(1, len(swept), sharey=True, squeeze=False)[0]
    for ax, path in zip(axes, swept, strict=True):
        for i, (title, panel) in enumerate(_arm_panels(results)):
            counts = panel.patients.groupby(path)["cured"].agg(["sum", "count"])
            bands = np.array(
                [trials.proportion_interval(int(k), int(n)) for k, n in counts.to_numpy()]
            )
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            values = counts.index.to_numpy(float)
            share = (counts["sum"] / counts["count"]).to_numpy()
            style = ("o-", "s--", "^:", "D-.")[i % 4]  # arms that agree stay visible
            ax.plot(values, share, style, color=colour, label=title or "cure fraction")
            ax.fill_between(values, bands[:, 0], bands[:, 1], color=colour, alpha=0.2, lw=0)
        ax.set_xscale("log" if trials.log_scaled(results, path) else "linear")
        ax.set_xlabel(path)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of patients cured\n(shaded: 95% Clopper-Pearson interval)")
    axes[-1].legend(fontsize=8)
    figure.suptitle(f"{results.name}: cure across the sweep")
    return figure


def sensitivity_figure(results: Results) -> Figure:
    """Partial rank correlation (PRCC) of cure and of time to refractory disease with each
    cohort and sweep parameter, a bar per parameter (and arm); a hollow bar is not
    significant (p >= 0.05)."""
    table = sensitivity.sensitivity_table(results)
    if table.empty:
        return _message(
            Figure(figsize=(8, 3)), f"{results.name}: no cohort or sweep parameter varies."
        )
    parameters = list(dict.fromkeys(table["parameter"]))
    panels = _arm_panels(results)
    figure = Figure(figsize=(10, 1.6 + 0.5 * len(parameters) * len(panels)), layout="constrained")
    axes = figure.subplots(1, len(sensitivity.OUTCOMES), sharey=True)
    height = 0.8 / len(panels)
    for ax, (outcome, words) in zip(axes, sensitivity.OUTCOMES.items(), strict=True):
        for i, (title, _) in enumerate(panels):
            rows = table[table["outcome"] == outcome]
            if title:
                rows = rows[rows["arm"] == title.removeprefix("arm ")]
            rows = rows.set_index("parameter").reindex(parameters)
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            y = np.arange(len(parameters)) + (i - (len(panels) - 1) / 2) * height
            significant = (rows["p_value"] < 0.05).to_numpy()
            ax.barh(
                y,
                rows["prcc"].fillna(0.0),
                height=height * 0.9,
                color=[colour if s else "white" for s in significant],
                edgecolor=colour,
                label=title or None,
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel(f"PRCC with {words}")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(np.arange(len(parameters)), parameters)
    axes[0].invert_yaxis()
    if len(panels) > 1:
        axes[-1].legend(fontsize=8, loc="lower right")
    figure.suptitle(
        f"{results.name}: sensitivity to each varied parameter (partial rank correlation; "
        "hollow: p >= 0.05)"
    )
    return figure


# Registry -------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Results], Figure]] = {
    "km": lambda r: km_figure(r, "refractory"),
    "km-lethal": lambda r: km_figure(r, "lethal"),
    "km-progression": lambda r: km_figure(r, "progression"),
    "waterfall": waterfall_figure,
    "swimmer": swimmer_figure,
    "spider": spider_figure,
    "muller": muller_figure,
    "drivers": drivers_figure,
    "km-arms": arms_km_figure,
    "sweep-heatmap": sweep_heatmap_figure,
    "sweep-response": sweep_response_figure,
    "sensitivity": sensitivity_figure,
}


def draw(results: Results, name: str, patient: int | None = None) -> Figure:
    """The figure called ``name`` (a key of ``FIGURES``); ``patient`` chooses the Muller plot's."""
    if name not in FIGURES:
        raise ResultsError(
            f"there is no figure called {name!r}; choose one of {', '.join(FIGURES)}."
        )
    if patient is not None:
        if name != "muller":
            raise ResultsError(f"--patient chooses the patient of the muller figure, not {name}.")
        return muller_figure(results, patient)
    return FIGURES[name](results)
