"""Statistics, figures and the report of Results (refractory.Results; never runs simulations)."""

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
    "compare",
    "endpoint",
    "format_summary",
    "kaplan_meier",
    "km_median",
    "logrank",
    "summarize",
]
