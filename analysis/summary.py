"""Key numbers of a batch: cure, time to refractory disease, what drove progression."""

import numpy as np
import pandas as pd

from refractory.analysis import trials
from refractory.analysis.sensitivity import sensitivity_table
from refractory.analysis.survival import kaplan_meier, refractory_endpoint
from refractory.results import Results


def driver_labels(progressed: pd.DataFrame) -> pd.Series:
    """What drove each progression in words: its mechanisms ("(sensitive)" for none), with
    "persister" or "in sanctuary" added when the driving cells were in that state."""
    label = progressed["driver_mechanisms"].replace("", "(sensitive)")
    for column, state, words in (
        ("driver_phenotype", "persister", " persister"),
        ("driver_site", "sanctuary", " in sanctuary"),
    ):
        if column in progressed:
            label = label.where(progressed[column] != state, label + words)
    return label


def summarize(results: Results) -> dict:
    """The numbers that answer: how many were cured, when did the rest become refractory,
    and which mechanisms (pre-existing or acquired) drove each progression; for a run with
    arms or a sweep (its numbers pooled over them) also ``arms`` and ``points``, the rows of
    ``trials.arms_table`` and ``trials.points_table``; with a cohort or a sweep
    ``sensitivity``, the rows of ``sensitivity.sensitivity_table``."""
    p = results.patients
    km = kaplan_meier(refractory_endpoint(results))
    lines = results.lines
    per_line = []
    for line, group in lines.groupby("line", sort=True):
        progressed = group[group["progressed"]]
        drivers = driver_labels(progressed).value_counts()
        per_line.append(
            {
                "line": int(line),
                "drugs": group["drugs"].iloc[0],
                "patients": len(group),
                "best_response": group["best_response"].value_counts(normalize=True).to_dict(),
                "progressed": float(group["progressed"].mean()),
                "drivers": (drivers / max(len(progressed), 1)).to_dict(),
                "driver_preexisting": float(progressed["driver_preexisting"].mean())
                if len(progressed)
                else float("nan"),
            }
        )
    progressions = lines[lines["progressed"]] if len(lines) else lines
    preexisting_resistance = (progressions["driver_mechanisms"] != "") & progressions[
        "driver_preexisting"
    ].astype(bool)
    return {
        "name": results.name,
        "patients": len(p),
        "seed": results.manifest["seed"],
        "engine": results.manifest["engine"],
        "cured": float(p["cured"].mean()),
        "refractory": float(p["refractory"].mean()),
        "lethal": float(p["lethal"].mean()),
        "median_days_to_refractory": km.median,
        "median_days_to_refractory_ci": (km.median_low, km.median_high),
        "progressions": len(progressions),
        "preexisting_resistance_share": float(preexisting_resistance.mean())
        if len(progressions)
        else float("nan"),
        "lines": per_line,
        **(
            {"arms": trials.arms_table(results).to_dict("records")}
            if trials.has_arms(results)
            else {}
        ),
        **(
            {"points": trials.points_table(results).to_dict("records")}
            if trials.has_points(results)
            else {}
        ),
        **(
            {"sensitivity": sensitivity_table(results).to_dict("records")}
            if trials.varied_paths(results)
            else {}
        ),
    }


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def format_summary(results: Results) -> str:
    """A few lines of plain text for the terminal."""
    s = summarize(results)
    median = s["median_days_to_refractory"]
    median_text = "not reached" if np.isnan(median) else f"{median:.0f} days"
    out = [
        f"{s['name']}: {s['patients']} patients, seed {s['seed']}, {s['engine']} engine",
        f"  cured (no tumour cells left): {_percent(s['cured'])}",
        f"  refractory disease: {_percent(s['refractory'])}; median time to it (Kaplan-Meier, "
        f"from treatment start): {median_text}",
        f"  lethal burden reached: {_percent(s['lethal'])}",
    ]
    for line in s["lines"]:
        responses = ", ".join(
            f"{k} {_percent(v)}" for k, v in sorted(line["best_response"].items())
        )
        out.append(
            f"  line {line['line']} ({line['drugs']}): {line['patients']} patients; best "
            f"response {responses}; progressed {_percent(line['progressed'])}"
        )
        if line["drivers"]:
            drivers = ", ".join(f"{k} {_percent(v)}" for k, v in line["drivers"].items())
            out.append(
                f"    largest clone at progression: {drivers}; it pre-existed treatment in "
                f"{_percent(line['driver_preexisting'])}"
            )
    if "arms" in s:
        first = s["arms"][0]["arm"]
        out.append(f"  arms (each against the first, {first}; the numbers above pool them):")
        out += [f"    {_group(row)}: {_outcome(row)}{_versus(row)}" for row in s["arms"]]
    if "points" in s:
        swept = trials.swept_paths(results)
        out.append("  sweep points:")
        for row in s["points"]:
            values = ", ".join(f"{path} = {row[path]:.3g}" for path in swept)
            out.append(f"    {_group(row)} ({values}): {_outcome(row)}")
    if s.get("sensitivity"):
        out.append("  sensitivity (partial rank correlation with cure; with time to refractory):")
        out += _sensitivity_lines(s["sensitivity"])
    return "\n".join(out)


def _sensitivity_lines(rows: list[dict]) -> list[str]:
    """ "    mechanism.1.mutation_rate: -0.62 (p 3e-106); -0.67 (p 2e-128)" per parameter (and
    arm)."""
    found: dict[tuple, list[str]] = {}
    for row in rows:
        key = (row.get("arm"), row["parameter"])
        shown = (
            "n/a (the outcome does not vary)"
            if np.isnan(row["prcc"])
            else f"{row['prcc']:+.2f} (p {row['p_value']:.2g})"
        )
        found.setdefault(key, []).append(shown)
    return [
        f"    {parameter}{f' [{arm}]' if arm is not None else ''}: {'; '.join(values)}"
        for (arm, parameter), values in found.items()
    ]


def _group(row: dict) -> str:
    return trials.group_title({key: row[key] for key in trials.GROUPS if key in row})


def _outcome(row: dict) -> str:
    """ "200 patients, cured 30.0% (95% CI 24.0% to 36.6%), median to refractory 194 days" """
    median = row["median_days_to_refractory"]
    median_text = "not reached" if np.isnan(median) else f"{median:.0f} days"
    return (
        f"{row['patients']} patients, cured {_percent(row['cured'])} (95% CI "
        f"{_percent(row['cured_low'])} to {_percent(row['cured_high'])}), median time to "
        f"refractory disease {median_text}"
    )


def _versus(row: dict) -> str:
    if np.isnan(row["logrank_p"]):
        return ""
    ratio = (
        "hazard ratio not estimable (an arm without refractory disease)"
        if np.isnan(row["hazard_ratio"])
        else f"hazard ratio {row['hazard_ratio']:.2f} (95% CI {row['hazard_ratio_low']:.2f} to "
        f"{row['hazard_ratio_high']:.2f})"
    )
    return (
        f"; {ratio}, log-rank p {row['logrank_p']:.2g}, longer in "
        f"{_percent(row['longer_share'])} of {row['paired']:.0f} pairs of known order"
    )
