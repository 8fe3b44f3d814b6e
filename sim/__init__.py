"""refractory: stochastic simulation of how heterogeneous tumours become refractory to treatment.

The API: ``load_scenario`` reads and validates a scenario file; ``simulate`` runs its
patients in memory; ``run_batch`` runs them into a results folder (chunks, resume,
manifest); ``load`` reads such a folder. All three give ``Results``: the tables as pandas
DataFrames with the run's manifest, which the functions of ``refractory.analysis`` take.
"""

from refractory.batch import run_batch
from refractory.results import Results, ResultsError, load
from refractory.scenario import Scenario, load_scenario
from refractory.settings import EngineSettings
from refractory.simulation import simulate

__all__ = [
    "EngineSettings",
    "Results",
    "ResultsError",
    "Scenario",
    "load",
    "load_scenario",
    "run_batch",
    "simulate",
]
