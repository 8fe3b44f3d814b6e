"""Virtual trials, sweeps and cohorts: one row per sweep point, one row per arm.

A run with a sweep, arms or a cohort holds, in ``patients``, a ``point`` column (the sweep's
point), an ``arm`` column (the arm's label) and one float64 column per varied path named by
its dotted path (``"tumor.detection_cells"``). The same patient index appears once per arm
(and per point): the patient's virtual twin under each arm, with the same history up to
treatment start. Every other table carries ``point`` and ``arm`` too, so ``subset`` cuts a
run into its groups and each group is an ordinary ``Results``.

Times to refractory disease follow ``survival.follow_up``: a cured patient is followed
event-free to the horizon, any other patient without the event is censored at its
``end_day``.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy import stats

from refractory.analysis.survival import CONFIDENCE, kaplan_meier, logrank, refractory_endpoint
from refractory.results import TABLES, Results, ResultsError

GROUPS = ("point", "arm")


def _scenario_part(results: Results, name: str):
    return results.manifest["scenario"].get(name) or {}


def has_arms(results: Results) -> bool:
    return "arm" in results.patients


def has_points(results: Results) -> bool:
    return "point" in results.patients


def varied_paths(results: Results) -> list[str]:
    """The columns of ``patients`` named by a dotted path: the fields the cohort draws per
    patient and the sweep sets per point, in table order."""
    return [column for column in results.patients.columns if "." in column]


def swept_paths(results: Results) -> list[str]:
    """The varied paths that hold one value per sweep point (the sweep's; a cohort's vary
    between the patients of a point)."""
    if not has_points(results):
        return []
    by_point = results.patients.groupby("point")
    return [path for path in varied_paths(results) if (by_point[path].nunique() <= 1).all()]


def log_scaled(results: Results, path: str) -> bool:
    """Whether ``path`` is best shown on a log axis: swept with ``scale = "log"``, drawn
    from a log-uniform or log-normal distribution, or else (a grid's listed values) all
    positive and spanning a decade or more."""
    spec = _scenario_part(results, "sweep").get(path) or _scenario_part(results, "cohort").get(
        path, {}
    )
    if spec.get("values") is None and "scale" in spec:  # a sampled design's range
        return spec["scale"] == "log"
    if "distribution" in spec:
        return spec["distribution"] in ("loguniform", "lognormal")
    values = results.patients[path]
    return bool(values.min() > 0 and values.max() >= 10 * values.min())


def arm_labels(results: Results) -> list[str]:
    """The arms in the scenario's order (the first is the reference arm), then any label
    the manifest does not list in order of appearance."""
    present = list(dict.fromkeys(results.patients["arm"]))
    listed = [arm["label"] for arm in results.manifest["scenario"].get("arm") or []]
    return [a for a in listed if a in present] + [a for a in present if a not in listed]


def points(results: Results) -> list[int]:
    return sorted(int(p) for p in results.patients["point"].unique())


def subset(results: Results, **where) -> Results:
    """The run restricted to the rows where each of ``where``'s columns (``point``, ``arm``)
    has the given value, in every table that has that column."""
    unknown = set(where) - set(GROUPS)
    if unknown:
        raise ValueError(f"subset selects by {', '.join(GROUPS)}; not by {sorted(unknown)}")

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        keep = np.ones(len(frame), bool)
        for column, value in where.items():
            if column in frame:
                keep &= (frame[column] == value).to_numpy()
        return frame[keep].reset_index(drop=True)

    return replace(results, **{name: rows(getattr(results, name)) for name in TABLES})


def groups(results: Results) -> list[dict]:
    """Each (point, arm) of the run as the ``subset`` keywords that select it: points in
    order, arms in ``arm_labels`` order; ``[{}]`` for a plain run."""
    point_keys = [{"point": p} for p in points(results)] if has_points(results) else [{}]
    arm_keys = [{"arm": a} for a in arm_labels(results)] if has_arms(results) else [{}]
    return [{**p, **a} for p in point_keys for a in arm_keys]


def first_group(results: Results) -> Results:
    """The first arm at the first point (the whole run when it has neither)."""
    return subset(results, **groups(results)[0])


def group_title(where: dict) -> str:
    """ "point 3, arm together" for the keywords of ``groups``."""
    return ", ".join(f"{key} {value}" for key, value in where.items())


def proportion_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval of a binomial proportion (NaN without trials)."""
    if trials == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(successes, trials).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)


def outcomes(results: Results) -> dict:
    """Patients, cure fraction with its Clopper-Pearson interval, refractory fraction and the
    Kaplan-Meier median days to refractory disease with its interval."""
    p = results.patients
    cured = int(p["cured"].sum())
    low, high = proportion_interval(cured, len(p))
    km = kaplan_meier(refractory_endpoint(results))
    return {
        "patients": len(p),
        "cured": cured / len(p) if len(p) else float("nan"),
        "cured_low": low,
        "cured_high": high,
        "refractory": float(p["refractory"].mean()) if len(p) else float("nan"),
        "median_days_to_refractory": km.median,
        "median_days_to_refractory_low": km.median_low,
        "median_days_to_refractory_high": km.median_high,
    }


def points_table(results: Results) -> pd.DataFrame:
    """One row per sweep point (per point and arm with arms): ``point``, ``arm``, each swept
    path's value, then ``outcomes``."""
    if not has_points(results):
        raise ResultsError(f"{results.label}: this run has no sweep (no point column).")
    swept = swept_paths(results)
    rows = []
    for where in groups(results):
        group = subset(results, **where)
        values = {path: float(group.patients[path].iloc[0]) for path in swept}
        rows.append({**where, **values, **outcomes(group)})
    return pd.DataFrame(rows)


def arms_table(results: Results) -> pd.DataFrame:
    """One row per arm (per point and arm with a sweep): ``point``, ``arm``, ``outcomes`` and
    ``versus_first`` against the first arm at the same point (NaN in the first arm's row)."""
    if not has_arms(results):
        raise ResultsError(f"{results.label}: this run has no arms (no arm column).")
    labels = arm_labels(results)
    rows = []
    for where in groups(results):
        group = subset(results, **where)
        first = subset(results, **{**where, "arm": labels[0]})
        versus = versus_first(first, group) if where["arm"] != labels[0] else VERSUS_NONE
        rows.append({**where, **outcomes(group), **versus})
    return pd.DataFrame(rows)


def refractory_times(results: Results) -> pd.DataFrame:
    """Each patient's days to refractory disease (or to censoring) and whether it happened."""
    data = refractory_endpoint(results)
    return pd.DataFrame(
        {
            "patient": results.patients["patient"].to_numpy(),
            "days": data.times,
            "event": data.observed,
        }
    )


VERSUS_NONE = dict.fromkeys(
    (
        "hazard_ratio",
        "hazard_ratio_low",
        "hazard_ratio_high",
        "logrank_p",
        "paired",
        "longer_share",
        "shorter_share",
    ),
    float("nan"),
)


def versus_first(first: Results, other: Results, confidence: float = CONFIDENCE) -> dict:
    """``other`` against ``first`` (two arms of the same virtual patients): the Cox hazard
    ratio with its interval (``hazard_ratio``), the log-rank p-value and the paired view
    (``paired_order``).

    The log-rank test (``survival.logrank``) compares the arms as independent samples; for
    positively correlated twins it is conservative (its p-value too large), so the Cox
    interval, which accounts for the pairing, is the sharper test of a difference."""
    first_times, other_times = refractory_times(first), refractory_times(other)
    ratio, low, high = hazard_ratio(first_times, other_times, confidence)
    _, p = logrank(refractory_endpoint(first), refractory_endpoint(other))
    return {
        "hazard_ratio": ratio,
        "hazard_ratio_low": low,
        "hazard_ratio_high": high,
        "logrank_p": p,
        **paired_order(first_times, other_times),
    }


def hazard_ratio(
    first: pd.DataFrame, other: pd.DataFrame, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Hazard of refractory disease under ``other`` relative to ``first``, with its interval:
    a Cox proportional-hazards model with the arm as its one covariate (lifelines
    ``CoxPHFitter``, Efron's ties), clustered by patient.

    Each patient appears in both arms (virtual twins with a common history up to treatment
    start), so the two rows of a patient are not independent. The model keeps the
    population-average (marginal) hazard ratio that a trial of two arms estimates and takes
    its variance from the robust sandwich estimator with the patient as the cluster (Lin and
    Wei 1989), which is valid however strongly the twins' times are correlated; the
    model-based variance would treat the twins as independent patients and, twins being
    positively correlated, overstate the uncertainty of the comparison. Stratifying by
    patient instead would estimate a within-pair (conditional) ratio from the pairs whose
    order is known only, a different quantity from a trial's. NaN when either arm has no
    event (the ratio's estimate is then 0 or infinite).

    ``first`` and ``other`` have the columns ``patient``, ``days`` and ``event``.
    """
    if not (first["event"].any() and other["event"].any()):
        return float("nan"), float("nan"), float("nan")
    data = pd.concat([first.assign(arm=0.0), other.assign(arm=1.0)], ignore_index=True)
    fitter = CoxPHFitter(alpha=1.0 - confidence)
    fitter.fit(data, duration_col="days", event_col="event", cluster_col="patient")
    low, high = np.exp(fitter.confidence_intervals_.loc["arm"].to_numpy())
    return float(fitter.hazard_ratios_["arm"]), float(low), float(high)


def paired_order(first: pd.DataFrame, other: pd.DataFrame) -> dict:
    """The paired view of two arms of the same patients: of the patients whose order is
    known (``paired``), the share whose time to refractory disease is longer under ``other``
    than under ``first`` (``longer_share``) and the share whose time is shorter
    (``shorter_share``); the rest are ties (refractory on the same day in both arms).

    The order of a twin pair is known when the earlier of the two times is an event: an event
    on day t in one arm and a censored time at or after t in the other (a cure counts as
    followed to the horizon) is a longer time in the censored arm. Two censored times, or a
    censored time before the other's event, leave the order unknown: such pairs (both twins
    cured, say) are left out of the denominator rather than guessed.
    """
    pairs = first.merge(other, on="patient", suffixes=("_first", "_other"))
    t1, e1 = pairs["days_first"].to_numpy(), pairs["event_first"].to_numpy(bool)
    t2, e2 = pairs["days_other"].to_numpy(), pairs["event_other"].to_numpy(bool)
    longer = e1 & ((t2 > t1) | (~e2 & (t2 >= t1)))
    shorter = e2 & ((t1 > t2) | (~e1 & (t1 >= t2)))
    tie = e1 & e2 & (t1 == t2)
    known = int((longer | shorter | tie).sum())
    share = (lambda mask: float(mask.sum() / known)) if known else (lambda mask: float("nan"))
    return {"paired": known, "longer_share": share(longer), "shorter_share": share(shorter)}
