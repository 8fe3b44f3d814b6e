"""refractory's model and engine driver: scenarios, compilation, engines, batches, results."""

from sim.batch import run_batch
from sim.scenario import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario", "run_batch"]
