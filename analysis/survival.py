"""Time-to-event statistics: Kaplan-Meier curves with confidence bands, medians, log-rank.

Censoring convention (one place, ``follow_up``): a patient who had the event is counted at
its day; a cured patient can never have it and is followed event-free to the horizon; any
other patient without the event is censored at the last day simulated for it. Times count
from an origin (treatment start, or the start of a line).
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from refractory.results import Results

CONFIDENCE = 0.95
ENDPOINTS = {
    "refractory": "time to refractory disease",
    "lethal": "time to lethal burden",
    "progression": "time to progression",
}


@dataclass(frozen=True)
class Endpoint:
    """Right-censored times to an event for one group of patients (days from an origin)."""

    label: str
    times: np.ndarray
    observed: np.ndarray

    def at_risk(self, days: np.ndarray) -> np.ndarray:
        """Patients still followed without the event just before each day."""
        return (self.times[None, :] >= np.asarray(days, float)[:, None]).sum(axis=1)

    def censored_data(self) -> stats.CensoredData:
        return stats.CensoredData(
            uncensored=self.times[self.observed], right=self.times[~self.observed]
        )


def follow_up(
    event_day: np.ndarray,
    observed: np.ndarray,
    cured: np.ndarray,
    end_day: np.ndarray,
    horizon: float,
    origin: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Days from ``origin`` to the event, to the horizon when cured, else to the last day."""
    observed = np.asarray(observed, bool)
    last = np.where(np.asarray(cured, bool), horizon, np.asarray(end_day, float))
    return np.where(observed, np.asarray(event_day, float), last) - origin


def refractory_endpoint(results: Results, label: str | None = None) -> Endpoint:
    """Days from treatment start to refractory disease."""
    p = results.patients
    return _patient_endpoint(results, p["refractory"], p["days_to_refractory"], label)


def lethal_endpoint(results: Results, label: str | None = None) -> Endpoint:
    """Days from treatment start to the lethal burden."""
    p = results.patients
    return _patient_endpoint(results, p["lethal"], p["days_to_lethal"], label)


def _patient_endpoint(results: Results, observed, event_day, label) -> Endpoint:
    p = results.patients
    observed = observed.to_numpy(bool)
    times = follow_up(event_day, observed, p["cured"], p["end_day"], results.horizon_days)
    return Endpoint(label or results.name, times.astype(float), observed)


def progression_endpoint(results: Results, line: int, label: str | None = None) -> Endpoint:
    """Days from the start of ``line`` to progression on it, for the patients who received it."""
    rows = results.lines[results.lines["line"] == line]
    observed = rows["progressed"].to_numpy(bool)
    start = rows["start_day"].to_numpy(float)
    times = follow_up(
        start + rows["days_to_progression"].to_numpy(float),
        observed,
        rows["end_reason"] == "cured",
        rows["end_day"],
        results.horizon_days,
        origin=start,
    )
    return Endpoint(label or f"{results.name}: line {line}", times, observed)


def endpoint(results: Results, name: str, line: int = 1, label: str | None = None) -> Endpoint:
    """The endpoint called ``name`` (a key of ``ENDPOINTS``)."""
    if name == "progression":
        return progression_endpoint(results, line, label)
    return {"refractory": refractory_endpoint, "lethal": lethal_endpoint}[name](results, label)


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve: S(t) just after each distinct day, its pointwise band, median.

    The band is the exponential Greenwood ("log-log") interval; the median is the first day
    where S <= 1/2, and its interval runs from where the band's lower edge first reaches 1/2
    to where its upper edge does (NaN: not reached), as R's survfit reports it. Where S is 1
    or 0 the band collapses onto S.
    """

    endpoint: Endpoint
    days: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray
    median: float
    median_low: float
    median_high: float

    @property
    def events(self) -> int:
        return int(self.endpoint.observed.sum())

    @property
    def patients(self) -> int:
        return len(self.endpoint.times)


def kaplan_meier(data: Endpoint, confidence: float = CONFIDENCE) -> KaplanMeier:
    """Kaplan-Meier estimate of ``data`` (scipy.stats.ecdf on censored data)."""
    if not data.observed.any():
        days = np.unique(data.times)
        ones = np.ones_like(days)
        nan = float("nan")
        return KaplanMeier(data, days, ones, ones, ones, nan, nan, nan)
    sf = stats.ecdf(data.censored_data()).sf
    with warnings.catch_warnings():  # undefined where S is 1 or 0: handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(confidence, method="log-log")
    # Where S is 1 or 0 the log-log band is undefined (NaN): it collapses onto S.
    low = np.where(np.isnan(band.low.probabilities), sf.probabilities, band.low.probabilities)
    high = np.where(np.isnan(band.high.probabilities), sf.probabilities, band.high.probabilities)
    days = sf.quantiles
    return KaplanMeier(
        endpoint=data,
        days=days,
        survival=sf.probabilities,
        low=low,
        high=high,
        median=_first_at_or_below_half(days, sf.probabilities),
        median_low=_first_at_or_below_half(days, low),
        median_high=_first_at_or_below_half(days, high),
    )


def _first_at_or_below_half(days: np.ndarray, curve: np.ndarray) -> float:
    below = np.nonzero(curve <= 0.5)[0]
    return float(days[below[0]]) if len(below) else float("nan")


def km_median(times: np.ndarray, observed: np.ndarray) -> float:
    """Kaplan-Meier median of right-censored times (NaN if the curve stays above 1/2)."""
    return kaplan_meier(Endpoint("", np.asarray(times, float), np.asarray(observed, bool))).median


def logrank(first: Endpoint, second: Endpoint) -> tuple[float, float]:
    """Two-sided log-rank test: (chi-square statistic with 1 degree of freedom, p-value)."""
    result = stats.logrank(first.censored_data(), second.censored_data())
    return float(result.statistic) ** 2, float(result.pvalue)


def compare(endpoints: list[Endpoint]) -> pd.DataFrame:
    """Each group against the first: events, median with its interval, log-rank test."""
    rows = []
    for data in endpoints:
        km = kaplan_meier(data)
        statistic, pvalue = (
            logrank(endpoints[0], data) if data is not endpoints[0] else (np.nan, np.nan)
        )
        rows.append(
            {
                "group": data.label,
                "patients": km.patients,
                "events": km.events,
                "median_days": km.median,
                "median_low": km.median_low,
                "median_high": km.median_high,
                "logrank_chi2": statistic,
                "logrank_p": pvalue,
            }
        )
    return pd.DataFrame(rows)
