"""Statistics, figures and the report read from a results folder (never runs simulations)."""

from analysis.results import Results, ResultsError, load
from analysis.summary import format_summary, summarize
from analysis.survival import Endpoint, compare, endpoint, kaplan_meier, km_median, logrank

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
