"""Statistics, figures and the report read from a results folder (never runs simulations)."""

from refractory.analysis.results import Results, ResultsError, load
from refractory.analysis.summary import format_summary, summarize
from refractory.analysis.survival import (
    Endpoint,
    compare,
    endpoint,
    kaplan_meier,
    km_median,
    logrank,
)

__all__ = [
    "Endpoint",
    "Results",
    "ResultsError",
    "compare",
    "endpoint",
    "format_summary",
    "kaplan_meier",
    "km_median",
    "load",
    "logrank",
    "summarize",
]
