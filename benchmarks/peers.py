"""Other Gillespie solvers on the agent benchmark's network: rebop (Rust) and GillesPy2's
compiled SSA solver (C++ generated for the model and built with the system g++).

The network: ``CELLS`` cells of genotype g0, birth and death ``RATE`` per cell per day, and two
neutral mechanisms each gained with probability ``MUTATION`` per division (genotypes g0..g3;
a division that gains one is the reaction g -> g + g'). Neither solver reports how many
events it simulated, so events are counted as their expectation (b + d) N0 T (the population
is critical: its mean stays N0). Compile time is kept out of the timed repeats: rebop is
warmed up by one untimed run, and GillesPy2's model build and C++ compile (paid for every
new model) is timed once, apart. GillesPy2 returns the populations at given times; it is
asked for three (0, T/2, T), so writing output costs nothing next to the events; the fixed
cost of each run (a process start, a few ms) is timed, as users pay it.
"""

import os
import shutil
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CELLS = 100_000
RATE = 0.5
MUTATION = 1e-3
INSTALL = "pip install -e '.[bench]'"


@dataclass
class PeerResult:
    """Median events per second of one solver, or why it did not run."""

    name: str
    rate: float | None = None
    build_seconds: float | None = None
    missing: str = ""


def reactions() -> list[tuple[float, str, list[str]]]:
    """The network as (rate per cell per day, reactant, products), one reactant cell each."""
    out = []
    for genotype in range(4):
        name = f"g{genotype}"
        missing = [bit for bit in (1, 2) if not genotype & bit]
        out.append((RATE * (1 - MUTATION * len(missing)), name, [name, name]))
        out += [(RATE * MUTATION, name, [name, f"g{genotype | bit}"]) for bit in missing]
        out.append((RATE, name, []))
    return out


def expected_events(days: float) -> float:
    """Expected events in ``days`` days: (b + d) N0 T."""
    return 2 * RATE * CELLS * days


def _median_rate(run, days: float, repeats: int) -> float:
    """Median expected events per second of ``run(seed)`` over seeds 1..repeats."""
    rates = []
    for seed in range(1, repeats + 1):
        started = time.perf_counter()
        run(seed)
        rates.append(expected_events(days) / (time.perf_counter() - started))
    return statistics.median(rates)


def rebop(days: float, repeats: int) -> PeerResult:
    """rebop on one thread, after one untimed warm-up run."""
    try:
        import rebop as solver
    except ImportError:
        return PeerResult("rebop", missing=f"not installed ({INSTALL})")
    network = solver.Gillespie()
    for rate, reactant, products in reactions():
        network.add_reaction(rate, [reactant], products)

    def run(seed: int) -> None:
        network.run({"g0": CELLS}, tmax=days, nb_steps=1, rng=seed)

    run(0)
    return PeerResult("rebop", _median_rate(run, days, repeats))


@contextmanager
def _scripts_on_path():
    """Put this interpreter's scripts folder first on PATH: GillesPy2 runs SCons with the
    resolved interpreter, which in a virtual environment that is not activated is the base
    one without SCons, unless a ``scons`` script is found on PATH."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def gillespy2_model(gillespy2, days: float):
    """The network as a GillesPy2 model with mass-action rates and three output times."""
    model = gillespy2.Model(name="birth_death_mutation")
    model.add_species(
        [gillespy2.Species(name=f"g{g}", initial_value=CELLS if g == 0 else 0) for g in range(4)]
    )
    for index, (rate, reactant, products) in enumerate(reactions()):
        parameter = gillespy2.Parameter(name=f"k{index}", expression=rate)
        model.add_parameter(parameter)
        counts = {name: products.count(name) for name in products}
        model.add_reaction(
            gillespy2.Reaction(
                name=f"r{index}", reactants={reactant: 1}, products=counts, rate=parameter
            )
        )
    model.timespan([0.0, days / 2, days])
    return model


def gillespy2(days: float, repeats: int) -> PeerResult:
    """GillesPy2's SSACSolver on one thread: build time once, then timed runs."""
    name = "GillesPy2"
    try:
        import gillespy2 as solver
    except ImportError:
        return PeerResult(name, missing=f"not installed ({INSTALL})")
    if shutil.which("g++") is None:
        return PeerResult(name, missing="no C++ compiler (g++) to build its solver")
    started = time.perf_counter()
    try:
        with _scripts_on_path():
            ssa = solver.SSACSolver(model=gillespy2_model(solver, days))
    except (solver.SimulationError, solver.core.gillespyError.SolverError) as error:
        return PeerResult(name, missing=f"build failed: {str(error).splitlines()[0]}")
    build = time.perf_counter() - started
    return PeerResult(name, _median_rate(lambda seed: ssa.run(seed=seed), days, repeats), build)


def run_peers(days: float, repeats: int) -> list[PeerResult]:
    """Every peer on the same network and horizon, in one run."""
    return [rebop(days, repeats), gillespy2(days, repeats)]
