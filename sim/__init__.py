"""refractory's model and engine driver: scenarios, compilation, engines, batches, results."""

from refractory.batch import run_batch
from refractory.scenario import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario", "run_batch"]
