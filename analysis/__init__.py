"""Statistics and summaries read from a results folder (never runs simulations)."""

from analysis.results import Results, ResultsError, load
from analysis.summary import format_summary, summarize

__all__ = ["Results", "ResultsError", "format_summary", "load", "summarize"]
