"""One self-contained HTML report of one or more results folders (figures embedded as PNG).

The report opens without network access: no external style sheet, script, font or image.
"""

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from refractory.analysis import figures, trials
from refractory.analysis.summary import summarize
from refractory.analysis.survival import compare, lethal_endpoint, refractory_endpoint
from refractory.results import Results, load
from refractory.summary import describe

RESPONSES = ("CR", "PR", "SD", "PD")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.key { font-size: 1.1em; } .key b { font-size: 1.15em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; max-width: 60em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { color: #666; font-size: 0.9em; }
"""


def figure_html(figure: Figure, caption: str, name: str) -> str:
    """A figure as an embedded PNG with its caption; ``name`` becomes its id and alt text."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure id="figure-{name}"><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    )


def _percent(x: float) -> str:
    return "–" if np.isnan(x) else f"{100 * x:.1f}%"


def _days(x: float) -> str:
    return "not reached" if np.isnan(x) else f"{x:.0f}"


def median_text(summary: dict) -> str:
    """Median days to refractory disease with its 95% confidence interval."""
    median = summary["median_days_to_refractory"]
    if np.isnan(median):
        return "not reached"
    low, high = summary["median_days_to_refractory_ci"]
    return f"{median:.0f} days (95% CI {_days(low)} to {_days(high)})"


def key_numbers(results: Results) -> str:
    """The headline numbers of one batch, as an HTML list and a table per line."""
    s = summarize(results)
    n = s["patients"]
    cured = int(results.patients["cured"].sum())
    items = [
        f"<b>{_percent(s['cured'])}</b> of {n} patients cured ({cured}: no tumour cell left)",
        f"<b>{_percent(s['refractory'])}</b> became refractory; median time to refractory "
        f"disease from treatment start (Kaplan-Meier): <b>{median_text(s)}</b>",
        f"<b>{_percent(s['lethal'])}</b> reached the lethal burden",
        f"of {s['progressions']} progressions, <b>{_percent(s['preexisting_resistance_share'])}"
        "</b> were driven by resistance that pre-existed treatment (the largest clone carried "
        "a mechanism and arose before day 0)",
    ]
    rows = []
    for line in s["lines"]:
        responses = [line["best_response"].get(r, 0.0) for r in RESPONSES]
        drivers = ", ".join(f"{html.escape(k)} {_percent(v)}" for k, v in line["drivers"].items())
        rows.append(
            f"<tr><td>{line['line']} ({html.escape(line['drugs'])})</td><td>{line['patients']}"
            "</td>"
            + "".join(f"<td>{_percent(r)}</td>" for r in responses)
            + f"<td>{_percent(responses[0] + responses[1])}</td>"
            f"<td>{_percent(line['progressed'])}</td><td>{drivers or '–'}</td>"
            f"<td>{_percent(line['driver_preexisting'])}</td></tr>"
        )
    table = (
        "<table><tr><th>line</th><th>patients</th>"
        + "".join(f"<th>{r}</th>" for r in RESPONSES)
        + "<th>response rate (CR+PR)</th><th>progressed</th><th>largest clone at progression"
        "</th><th>it pre-existed</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>Untreated: no line of treatment.</p>"
    )
    return (
        '<ul class="key">'
        + "".join(f"<li>{item}</li>" for item in items)
        + "</ul><p>Best response per line (share of the patients who received it):</p>"
        + table
    )


def _comparison(batches: Sequence[Results]) -> str:
    labels = figures.batch_labels(batches)
    parts = []
    for title, make in (
        ("time to refractory disease", refractory_endpoint),
        ("time to lethal burden", lethal_endpoint),
    ):
        table = compare([make(b, label) for b, label in zip(batches, labels, strict=True)])
        rows = "".join(
            f"<tr><td>{html.escape(row.group)}</td><td>{row.patients}</td><td>{row.events}</td>"
            f"<td>{_days(row.median_days)}</td><td>{_days(row.median_low)} to "
            f"{_days(row.median_high)}</td><td>{_chi2(row.logrank_chi2)}</td>"
            f"<td>{_p(row.logrank_p)}</td></tr>"
            for row in table.itertuples()
        )
        parts.append(
            f"<h3>{title.capitalize()}</h3><table><tr><th>folder</th><th>patients</th>"
            "<th>events</th><th>median (days)</th><th>95% CI</th><th>log-rank χ² vs first</th>"
            f"<th>p</th></tr>{rows}</table>"
        )
    return (
        "<h2>Comparison</h2><p>Each folder against the first by the two-sided log-rank test "
        "(cured patients followed event-free to the horizon).</p>" + "".join(parts)
    )


TRIAL_COLUMNS = {
    "patients": str,
    "cured": _percent,
    "cured_low": _percent,
    "cured_high": _percent,
    "refractory": _percent,
    "median_days_to_refractory": _days,
    "median_days_to_refractory_low": _days,
    "median_days_to_refractory_high": _days,
    "hazard_ratio": lambda x: "–" if np.isnan(x) else f"{x:.2f}",
    "hazard_ratio_low": lambda x: "–" if np.isnan(x) else f"{x:.2f}",
    "hazard_ratio_high": lambda x: "–" if np.isnan(x) else f"{x:.2f}",
    "logrank_p": lambda x: _p(x),
    "paired": lambda x: "–" if np.isnan(x) else f"{x:.0f}",
    "longer_share": _percent,
    "shorter_share": _percent,
}


def table_html(table) -> str:
    """An arms or points table as HTML: shares in percent, days whole, swept values in three
    significant digits."""

    def cell(column: str, value) -> str:
        if column in TRIAL_COLUMNS:
            return TRIAL_COLUMNS[column](value)
        return f"{value:.3g}" if isinstance(value, float) else html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(c, v)}</td>" for c, v in row.items()) + "</tr>"
        for row in table.to_dict("records")
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def trial_sections(results: Results, index: int) -> str:
    """The arms table, the points table and their figures, for a run with arms or a sweep
    (empty for a plain run)."""
    parts = []
    if trials.has_arms(results):
        parts.append(
            "<h3>Arms</h3><p>The same virtual patients under each arm. Against the first arm: "
            "the Cox hazard ratio of refractory disease with its 95% interval (robust variance "
            "clustered by patient), the log-rank p-value and the paired view (of the twin pairs "
            "whose order is known, the share refractory later or sooner under this arm).</p>"
            + table_html(trials.arms_table(results))
        )
    if trials.has_points(results):
        parts.append(
            "<h3>Sweep points</h3><p>Cure with its 95% Clopper-Pearson interval and the "
            "Kaplan-Meier median time to refractory disease at each point.</p>"
            + table_html(trials.points_table(results))
        )
    names = [name for name, shown in TRIAL_FIGURES if shown(results)]
    parts += [
        figure_html(figures.FIGURES[name](results), CAPTIONS[name], f"{name}-{index + 1}")
        for name in names
    ]
    return "".join(parts)


def _chi2(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:.2f}"


def _p(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:.2g}"


CAPTIONS = {
    "km": "Share of patients not yet refractory, from the start of treatment (Kaplan-Meier, "
    "95% band). Cured patients can never become refractory: they are followed to the horizon, "
    "so the curve's plateau is the cure rate. Numbers at risk under the axis.",
    "km-lethal": "Share of patients below the lethal burden (death from disease), from the "
    "start of treatment.",
    "km-progression": "Time from the start of each line to progression on it (patients who "
    "received that line).",
    "drivers": "Which clone carried each progression: the mechanisms of the largest clone at "
    "the progressing scan, solid where that clone existed before treatment began, hatched "
    "where it arose during treatment.",
    "muller": "What the clones did in a typical patient (the traced refractory patient with "
    "the median time to refractory disease). Top: cells of each clone and in all, on a log "
    "scale, treatment lines shaded. Bottom: each clone's share of the tumour, clones drawn "
    "inside the clone they arose from; a clone too small to see here is visible above.",
    "swimmer": "The course of each patient: a bar per line from its start to its end (pale: "
    "the last line continued after refractory disease), the best response of each line as a "
    "dot at its start, and how the course ended.",
    "spider": "Total tumour cells at every scan for a sample of patients, coloured by the line "
    "running. Below the visible size (grey band) a scan reads no disease; a dotted drop to "
    "one cell marks cure.",
    "waterfall": "Best change of the measured burden from each line's baseline, one bar per "
    "patient, coloured by best response (CR: no visible disease at a scan).",
}
CAPTIONS.update(
    {
        "km-arms": "Time to refractory disease under each arm (Kaplan-Meier, 95% bands), the "
        "same virtual patients in every arm (at the first sweep point with a sweep). Above: "
        "each arm against the first, its Cox hazard ratio, log-rank p-value and paired view.",
        "sweep-heatmap": "Share of patients cured at each point of the sweep over its first "
        "two parameters (log axes for log-scaled ones).",
        "sweep-response": "Share of patients cured against each swept parameter, with its 95% "
        "Clopper-Pearson interval.",
        "sensitivity": "Partial rank correlation (PRCC) of cure and of time to refractory "
        "disease with each parameter the cohort or the sweep varies, the others held by "
        "regression on their ranks; hollow bars: p >= 0.05.",
    }
)
#: The figures of runs with arms or a sweep, each with when it is drawn.
TRIAL_FIGURES = (
    ("km-arms", trials.has_arms),
    ("sweep-heatmap", lambda r: len(trials.swept_paths(r)) >= 2),
    ("sweep-response", lambda r: len(trials.swept_paths(r)) == 1),
    ("sensitivity", lambda r: any(r.patients[p].nunique() > 1 for p in trials.varied_paths(r))),
)
PER_FOLDER = ("drivers", "muller", "swimmer", "spider", "waterfall", "km-progression")


def build_report(
    batches: Sequence[Results],
    *,
    title: str | None = None,
    intro: str = "",
    per_folder: Sequence[str] = PER_FOLDER,
) -> str:
    """The HTML text of the report of ``batches`` (one or more results folders).

    ``title`` replaces the heading, ``intro`` (HTML) goes right under it and ``per_folder``
    names the figures drawn for each folder (the lessons choose theirs).
    """
    batches = list(batches)
    labels = figures.batch_labels(batches)
    title = title or f"refractory report: {' vs '.join(labels)}"
    body = [f"<h1>{html.escape(title)}</h1>", intro]
    for batch in batches:
        m = batch.manifest
        body.append(
            f'<p class="note">{html.escape(str(batch.folder or "in memory"))}: '
            f"{m['patients']} patients, seed {m['seed']}, {html.escape(m['engine'])} engine, "
            f"refractory {html.escape(str(m.get('environment', {}).get('refractory')))}; "
            f"{m.get('traced_patients', 0)} "
            "patients traced scan by scan.</p>"
        )
    if len(batches) > 1:
        body.append(_comparison(batches))
    for i, (batch, label) in enumerate(zip(batches, labels, strict=True)):
        scenario = html.escape(describe(batch.scenario))
        trial = trials.groups(batch) != [{}]
        pooled = '<p class="note">All arms and sweep points together:</p>' if trial else ""
        body.append(f"<h2>{html.escape(label)}</h2>{pooled}{key_numbers(batch)}")
        body.append(trial_sections(batch, i))
        body.append(f"<details><summary>The scenario</summary><pre>{scenario}</pre></details>")
    body.append("<h2>Figures</h2>")
    for endpoint, name in (("refractory", "km"), ("lethal", "km-lethal")):
        body.append(figure_html(figures.km_figure(batches, endpoint), CAPTIONS[name], name))
    for i, (batch, label) in enumerate(zip(batches, labels, strict=True)):
        if len(batches) > 1:
            body.append(f"<h3>{html.escape(label)}</h3>")
        shown = trials.first_group(batch)
        first = trials.group_title(trials.groups(batch)[0])
        if first:
            body.append(f'<p class="note">Figures of {html.escape(first)} (each patient once):</p>')
        for name in per_folder:
            figure = figures.FIGURES[name](shown)
            body.append(figure_html(figure, CAPTIONS[name], f"{name}-{i + 1}"))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_report(folders: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the report of ``folders`` to ``out`` (default: report.html in the first folder)."""
    batches = [load(folder) for folder in folders]
    path = Path(out) if out is not None else batches[0].folder / "report.html"
    path.write_text(build_report(batches), encoding="utf-8")
    return path
