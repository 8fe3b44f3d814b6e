"""Agent engine on growing tumours against rebop: the workload where per-cell storage leaves
the caches, beside the stationary one of benchmarks/agent.py.

The model: 1,000 cells of one genotype with birth 1 and death 0.5 per cell per day, gaining
one neutral mechanism with probability 1e-3 per division, untreated, grown to ``size``
cells (1e6; also 1e7 without ``--quick``). The agent engine stops on the event that reaches
the size (as a lethal burden) and counts its events; rebop runs the same network for the
mean time to that size, ln(size / 1,000) / 0.5 days, and its events are counted as their
expectation, (b + d) / (b - d) x (size - 1,000). One thread each, medians of paired runs,
compile and warm-up runs apart.

Run alone with ``python -m refractory.benchmarks.growing [--quick]``.
"""

import math
import statistics
import time

import numba

from refractory.benchmarks.measure import Row, run_alone
from refractory.benchmarks.peers import INSTALL
from refractory.compile import compile_model
from refractory.engine import run_agent
from refractory.kernels.model import P_EVENTS
from refractory.scenario import parse_scenario
from refractory.settings import EngineSettings

SECTION = "agent, growing"
START, BIRTH, DEATH, MUTATION = 1000, 1.0, 0.5, 1e-3


def _model(size: float):
    scenario = parse_scenario(
        {
            "scenario": {"name": "bench-growing", "horizon_days": 1000.0, "engine": "agent"},
            "tumor": {
                "birth_rate": BIRTH,
                "death_rate": DEATH,
                "start": "cells",
                "detection_cells": START,
                "lethal_cells": size,
                "clone": [{"cells": START}],
            },
            "mechanism": [{"name": "m", "mutation_rate": MUTATION}],
        },
        "bench-growing",
    )
    settings = EngineSettings(agent_max_cells=int(size) + 1)
    return compile_model(scenario, "bench-growing", settings), settings


def _agent(model, settings, seed: int) -> float:
    started = time.perf_counter()
    chunk = run_agent(model, seed, 0, 1, 0, settings)
    return float(chunk.outputs.patient[0, P_EVENTS]) / (time.perf_counter() - started)


def _rebop(size: float):
    """rebop's run of the same network, or None when it is not installed."""
    try:
        import rebop
    except ImportError:
        return None
    network = rebop.Gillespie()
    network.add_reaction(BIRTH * (1 - MUTATION), ["g0"], ["g0", "g0"])
    network.add_reaction(BIRTH * MUTATION, ["g0"], ["g0", "g1"])
    network.add_reaction(DEATH, ["g0"], [])
    network.add_reaction(BIRTH, ["g1"], ["g1", "g1"])
    network.add_reaction(DEATH, ["g1"], [])
    days = math.log(size / START) / (BIRTH - DEATH)
    events = (BIRTH + DEATH) / (BIRTH - DEATH) * (size - START)

    def run(seed: int) -> float:
        started = time.perf_counter()
        network.run({"g0": START}, tmax=days, nb_steps=1, rng=seed)
        return events / (time.perf_counter() - started)

    return run


def rows(quick: bool) -> list[Row]:
    """Events per second of the agent engine and of rebop, and their ratio, per size."""
    sizes, repeats = ((1e6,), 3) if quick else ((1e6, 1e7), 5)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    out = []
    try:
        for size in sizes:
            model, settings = _model(size)
            peer = _rebop(size)
            _agent(model, settings, 0)
            if peer:
                peer(0)
            agent_rates, peer_rates = [], []
            for seed in range(1, repeats + 1):
                agent_rates.append(_agent(model, settings, seed))
                if peer:
                    peer_rates.append(peer(seed))
            workload = f"1e3 -> {size:.0e} cells, b = 1, d = 0.5, 1 mutation, 1 thread"
            agent_rate = statistics.median(agent_rates)
            out.append(
                Row(
                    SECTION,
                    "agent engine, " + workload,
                    "events per second",
                    agent_rate,
                    "1/s",
                    repeats,
                )
            )
            if not peer:
                out.append(
                    Row(
                        SECTION,
                        "rebop (optional peer)",
                        "not run",
                        float("nan"),
                        "",
                        0,
                        judged_by=f"not installed ({INSTALL})",
                    )
                )
                continue
            ratio = statistics.median(a / p for a, p in zip(agent_rates, peer_rates, strict=True))
            out += [
                Row(
                    SECTION,
                    "rebop, " + workload,
                    "events per second",
                    statistics.median(peer_rates),
                    "1/s",
                    repeats,
                    judged_by="expected events (b + d) / (b - d) x (size - 1e3)",
                ),
                Row(
                    SECTION,
                    "agent engine / rebop, " + workload,
                    "ratio",
                    ratio,
                    "",
                    repeats,
                    judged_by="median of paired runs' events/s ratios",
                    ratio=ratio,
                    target=">= 1",
                    met=bool(ratio >= 1),
                ),
            ]
    finally:
        numba.set_num_threads(threads)
    return out


if __name__ == "__main__":
    run_alone(rows, __doc__.splitlines()[0])
