"""The text and report of a lesson, generated from the numbers of its runs.

Each lesson (keyed by its slug, the file name without number) has a narrator: a function of
the lesson's results in run order that returns two or three plain sentences, and the figures
its report draws per run. A lesson with another slug, or a different number of runs than its
narrator expects, gets the generic comparison (cure, refractory disease, median time).
"""

import html
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from refractory.analysis.report import build_report
from refractory.analysis.survival import kaplan_meier, progression_endpoint, refractory_endpoint
from refractory.results import Results, load

Runs = Sequence[tuple[str, Results]]


def percent(share: float) -> str:
    """A share as a whole percentage ("97%"); a dash for the share of an empty group."""
    return "–" if np.isnan(share) else f"{100 * share:.0f}%"


def days(value: float) -> str:
    """A number of days, or "not reached" for a median that the data never reach."""
    return "not reached" if np.isnan(value) else f"{value:.0f} days"


def cells(value: float) -> str:
    """A count or rate in plain words: 100, 1e+07 -> "1e7", 5e-08 -> "5e-8"."""
    if 1 <= value < 1e4:
        return f"{value:.0f}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def cured(results: Results) -> float:
    return float(results.patients["cured"].mean())


def refractory(results: Results) -> float:
    return float(results.patients["refractory"].mean())


def median_to_refractory(results: Results) -> float:
    """Kaplan-Meier median days from treatment start to refractory disease."""
    return kaplan_meier(refractory_endpoint(results)).median


def median_to_progression(results: Results, line: int = 1) -> float:
    """Kaplan-Meier median days from the start of ``line`` to progression on it."""
    return kaplan_meier(progression_endpoint(results, line)).median


def with_resistance(results: Results) -> float:
    """Share of patients with a resistant cell (any mechanism) at treatment start."""
    return float((results.patients["resistant_cells_at_start"] > 0).mean())


def best_response(results: Results, responses: tuple[str, ...], line: int = 1) -> float:
    """Share of the patients given ``line`` whose best response on it is one of ``responses``."""
    rows = results.lines[results.lines["line"] == line]
    return float(rows["best_response"].isin(responses).mean()) if len(rows) else np.nan


def progressions(results: Results) -> pd.DataFrame:
    return results.lines[results.lines["progressed"]]


def carries(mechanisms: pd.Series, name: str | None) -> pd.Series:
    """Which genotypes (mechanisms joined by "+") carry ``name`` (None: no mechanism at all)."""
    if name is None:
        return mechanisms == ""
    return mechanisms.str.split("+").map(lambda names: name in names).astype(bool)


def driven_by(results: Results, mechanism: str | None) -> float:
    """Share of progressions whose largest clone carried ``mechanism`` (None: no mechanism)."""
    drivers = progressions(results)["driver_mechanisms"]
    return float(carries(drivers, mechanism).mean()) if len(drivers) else np.nan


def driven_from(results: Results, column: str, state: str) -> float:
    """Share of progressions whose largest clone was in ``state`` (``column``: driver_site or
    driver_phenotype)."""
    drivers = progressions(results)[column]
    return float((drivers == state).mean()) if len(drivers) else np.nan


def refractory_days_spread(results: Results) -> tuple[float, float]:
    """10th and 90th percentiles of days to refractory disease among those who had it."""
    values = results.patients["days_to_refractory"].dropna().to_numpy(float)
    if not len(values):
        return np.nan, np.nan
    low, high = np.percentile(values, [10, 90])
    return float(low), float(high)


def share_of_scans_on_drug(results: Results, line: int = 1) -> float:
    """Share of the scans of ``line`` up to its progression (or end) taken while its drugs
    were being given (an adaptive line pauses them)."""
    rows = results.lines[results.lines["line"] == line].set_index("patient")
    scans = results.scans[results.scans["line"] == line]
    last = rows["start_day"] + rows["days_to_progression"].fillna(rows["end_day"])
    before = scans[scans["day"] <= scans["patient"].map(last)]
    return float(before["on_drug"].mean()) if len(before) else np.nan


def status_shares(results: Results) -> str:
    """The patients' statuses as "100% relapsed and refractory, 3% cured" (largest first)."""
    shares = results.patients["status"].value_counts(normalize=True)
    return ", ".join(f"{percent(v)} {k.replace('_', ' ')}" for k, v in shares.items())


# Narrators, one per lesson -----------------------------------------------------------------


def response_is_not_cure(runs: Runs) -> list[str]:
    (_, plain), (_, mixed) = runs
    resistant = float(mixed.patients["resistant_cells_at_start"].median())
    total = float(mixed.patients["cells_at_start"].median())
    return [
        f"Without a resistant subclone, {percent(best_response(plain, ('CR',)))} of patients "
        f"had a complete response and {percent(cured(plain))} were cured.",
        f"With {cells(resistant)} resistant cells among {cells(total)} at treatment start, "
        f"{percent(best_response(mixed, ('CR', 'PR')))} responded "
        f"({percent(best_response(mixed, ('CR',)))} completely), but only "
        f"{percent(cured(mixed))} were cured: {percent(refractory(mixed))} became refractory, "
        f"at a median of {days(median_to_refractory(mixed))} after treatment began.",
        f"Resistant cells drove {percent(driven_by(mixed, 'resist_A'))} of those "
        "progressions: a response shows that the drug kills most cells, not all of them.",
    ]


def resistance_is_already_there(runs: Runs) -> list[str]:
    parts = []
    for _, results in runs:
        scenario = results.scenario
        rate = max(m.mutation_rate for m in scenario.mechanisms)
        parts.append(
            f"{percent(with_resistance(results))} of tumours detected at "
            f"{cells(scenario.tumor.detection_cells)} cells with a mutation rate of {cells(rate)} "
            "per division"
        )
    most = max(runs, key=lambda run: refractory(run[1]))
    low, high = refractory_days_spread(most[1])
    return [
        "A resistant cell was already there at treatment start in " + "; in ".join(parts) + ".",
        f"Of these patients {', '.join(percent(cured(r)) for _, r in runs)} were cured, "
        "respectively.",
        f"Identical patients became refractory at different times: in the run {most[0]!r}, the "
        f"{int(most[1].patients['refractory'].sum())} who did so took between {days(low)} and "
        f"{days(high)} from treatment start (10th to 90th percentile).",
    ]


def combination_vs_sequence(runs: Runs) -> list[str]:
    (together_label, together), (sequence_label, sequence), (pump_label, pump) = runs
    return [
        f"Given together ({together_label}), the two drugs cured {percent(cured(together))} of "
        f"patients; given one after the other ({sequence_label}) they cured "
        f"{percent(cured(sequence))}, and {percent(refractory(sequence))} became refractory "
        f"(median {days(median_to_refractory(sequence))}).",
        f"Where one alteration resists both drugs ({pump_label}), the combination cured "
        f"{percent(cured(pump))}: the largest clone carried the pump in "
        f"{percent(driven_by(pump, 'pump'))} of its progressions, and it was there before "
        f"treatment in {percent(with_resistance_by(pump, 'pump'))} of the tumours.",
    ]


def with_resistance_by(results: Results, mechanism: str) -> float:
    """Share of patients in whom a clone carrying ``mechanism`` existed at treatment start."""
    start = results.clones[results.clones["moment"] == "start"]
    carriers = start[carries(start["mechanisms"], mechanism)]
    return carriers["patient"].nunique() / len(results.patients)


def price_of_resistance(runs: Runs) -> list[str]:
    (_, continuous), (_, adaptive), (_, continuous_free), (_, adaptive_free) = runs
    cost = max(m.fitness_cost for m in adaptive.scenario.mechanisms)
    with_both, without = (
        (median_to_progression(c), median_to_progression(a))
        for c, a in ((continuous, adaptive), (continuous_free, adaptive_free))
    )
    return [
        f"With a fitness cost of {percent(cost)} and competition for room, adaptive therapy "
        f"delayed progression from a median of {days(with_both[0])} (continuous) to "
        f"{days(with_both[1])}; the drug was being given at "
        f"{percent(share_of_scans_on_drug(adaptive))} of its scans until then.",
        f"Without cost or competition, adaptive therapy gave {days(without[1])} against "
        f"{days(without[0])} continuous: "
        + (
            "pausing only let the tumour regrow."
            if without[1] <= without[0]
            else "here the pauses still helped."
        ),
    ]


def missed_doses(runs: Runs) -> list[str]:
    (_, full), (missed_label, missed) = runs
    taken = missed.lines["doses_taken"].sum() / max(missed.lines["doses_scheduled"].sum(), 1)
    horizon = full.horizon_days
    return [
        f"Taking every dose, {percent(progressed(full))} of patients progressed within "
        f"{horizon:.0f} days; with {missed_label} (patients took {percent(taken)} of their "
        f"doses), {percent(progressed(missed))} did, at a median of "
        f"{days(median_to_progression(missed))}, on treatment: refractory by the clinic's rules.",
        f"Fully sensitive cells drove {percent(driven_by(missed, None))} of those progressions,"
        f" and {percent(with_resistance(missed))} of these tumours held a resistant cell at "
        "treatment start.",
    ]


def not_every_escape_is_genetic(runs: Runs) -> list[str]:
    (_, holiday), (_, at_once) = runs
    first = holiday.lines[holiday.lines["line"] == 1]
    return [
        f"{percent(with_resistance(holiday))} of tumours held a cell with a resistance "
        f"mechanism, yet {percent(first['progressed_on_treatment'].mean())} grew back while "
        f"the drug was given, at a median of {days(median_to_progression(holiday))}; persister "
        f"cells made up the largest clone at "
        f"{percent(driven_from(holiday, 'driver_phenotype', 'persister'))} of those "
        "progressions.",
        f"Given the same drug again after the holiday, "
        f"{percent(best_response(holiday, ('CR', 'PR'), line=2))} responded (PR or CR); "
        f"given it again at once, {percent(best_response(at_once, ('CR', 'PR'), line=2))} did.",
    ]


def where_the_drug_does_not_reach(runs: Runs) -> list[str]:
    (_, seen), (_, unseen), (_, everywhere) = runs
    site = seen.scenario.sanctuary
    reach = min((site.exposure_of(d.name) for d in seen.scenario.drugs), default=1.0)
    return [
        f"Where the drug reached every site, {percent(cured(everywhere))} of patients were "
        f"cured; with a sanctuary it reaches at {percent(reach)} of its effect, "
        f"{percent(cured(seen))} were, though {percent(best_response(seen, ('CR',)))} had a "
        f"complete response and {percent(with_resistance(seen))} held a resistant cell.",
        f"Sanctuary cells made up the largest clone at "
        f"{percent(driven_from(seen, 'driver_site', 'sanctuary'))} of the progressions, found "
        f"at a median of {days(median_to_progression(seen))}; when scans missed the sanctuary, "
        f"at a median of {days(median_to_progression(unseen))}.",
    ]


def progressed(results: Results, line: int = 1) -> float:
    rows = results.lines[results.lines["line"] == line]
    return float(rows["progressed"].mean()) if len(rows) else np.nan


def relapsed_or_refractory(runs: Runs) -> list[str]:
    return [
        f"Under {label}: {percent(best_response(results, ('CR',)))} complete responses, then "
        f"regrowth off treatment in {percent(progressed_on(results, False))} and on treatment "
        f"in {percent(progressed_on(results, True))}; patient status {status_shares(results)}."
        for label, results in runs
    ]


def progressed_on(results: Results, on_treatment: bool) -> float:
    """Share of patients whose first line progressed on (or off) treatment."""
    rows = results.lines[results.lines["line"] == 1]
    hit = rows["progressed"] & (rows["progressed_on_treatment"] == on_treatment)
    return float(hit.mean())


def generic(runs: Runs) -> list[str]:
    """Cure, refractory disease and its median time per run (any lesson)."""
    return [
        f"{label}: {percent(cured(results))} cured, {percent(refractory(results))} refractory "
        f"(median time to refractory disease {days(median_to_refractory(results))})."
        for label, results in runs
    ]


@dataclass(frozen=True)
class Narrator:
    """A lesson's text (from its runs in order) and the figures drawn for each run."""

    runs: int
    text: Callable[[Runs], list[str]]
    figures: tuple[str, ...]


NARRATORS = {
    "response-is-not-cure": Narrator(2, response_is_not_cure, ("spider", "drivers", "muller")),
    "resistance-is-already-there": Narrator(3, resistance_is_already_there, ("drivers",)),
    "combination-vs-sequence": Narrator(3, combination_vs_sequence, ("drivers", "muller")),
    "price-of-resistance": Narrator(4, price_of_resistance, ("spider", "muller")),
    "not-every-escape-is-genetic": Narrator(2, not_every_escape_is_genetic, ("spider", "drivers")),
    "where-the-drug-does-not-reach": Narrator(
        3, where_the_drug_does_not_reach, ("spider", "drivers")
    ),
    "missed-doses": Narrator(2, missed_doses, ("spider", "drivers")),
    "relapsed-or-refractory": Narrator(2, relapsed_or_refractory, ("swimmer", "spider")),
}
GENERIC = Narrator(0, generic, ("drivers", "spider"))


def narrator(slug: str, count: int) -> Narrator:
    """The lesson's narrator, or the generic one if it expects another number of runs."""
    chosen = NARRATORS.get(slug, GENERIC)
    return chosen if chosen.runs == count else GENERIC


def lesson_text(slug: str, runs: Runs) -> list[str]:
    """Two or three sentences that state the lesson's point with the numbers of its runs."""
    return narrator(slug, len(runs)).text(runs)


def lesson_report(
    slug: str, title: str, header: dict[str, str], folders: Sequence[Path], out: Path
) -> Path:
    """Write the lesson's HTML report: its question, its generated text, the runs' report."""
    batches = [load(folder) for folder in folders]
    runs = [(b.name, b) for b in batches]
    chosen = narrator(slug, len(runs))
    paragraphs = "".join(
        f"<p><b>{html.escape(key)}:</b> {html.escape(value)}</p>" for key, value in header.items()
    )
    sentences = " ".join(html.escape(s) for s in chosen.text(runs))
    intro = (
        f'<p class="key">{sentences}</p><details open><summary>About this lesson</summary>'
        f"{paragraphs}</details>"
    )
    with warnings.catch_warnings():
        # runs whose patients all progress on the same scan give a log-rank of 0/0 (shown "–")
        warnings.simplefilter("ignore", RuntimeWarning)
        text = build_report(batches, title=title, intro=intro, per_folder=chosen.figures)
    out.write_text(text, encoding="utf-8")
    return out
