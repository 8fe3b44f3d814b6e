"""Agent engine: cell events per second on a birth-death-mutation model, against rebop.

The model: 1e5 cells with b = d = 0.5 per cell per day (critical, so the size stays near
1e5 and the event rate near (b + d) 1e5 per day), two neutral mechanisms gained with
probability 1e-3 per division each (four genotypes), untreated for ``--days`` days. Reports
the median over ``--repeats`` of events per second on one thread and on all threads (one
patient per thread), counting the events the kernel simulated. If the optional rebop package
(a Rust Gillespie solver) is installed, the same reaction network is run side by side on one
thread; its events are counted as their expectation (b + d) N0 T, since it does not report
them. The compile time is excluded (one warm-up run first). Part of ``refractory bench``;
also runs alone: ``python -m benchmarks.agent [--patients N] [--days T] [--repeats R]``.
"""

import argparse
import statistics
import time

import numba

from benchmarks.measure import Row
from kernels.model import P_EVENTS
from sim.compile import compile_model
from sim.engine import run_agent
from sim.scenario import parse_scenario

CELLS = 100_000
RATE = 0.5
MUTATION = 1e-3


def scenario(days: float):
    """The benchmark model as a scenario for the agent engine."""
    return parse_scenario(
        {
            "scenario": {"name": "bench-agent", "horizon_days": days, "engine": "agent"},
            "tumor": {
                "birth_rate": RATE,
                "death_rate": RATE,
                "start": "cells",
                "detection_cells": CELLS,
                "lethal_cells": 1e7,
                "clone": [{"cells": CELLS}],
            },
            "mechanism": [
                {"name": "m1", "mutation_rate": MUTATION},
                {"name": "m2", "mutation_rate": MUTATION},
            ],
        },
        "bench-agent",
    )


def agent_rate(days: float, patients: int, threads: int, repeats: int) -> tuple[float, float]:
    """Median events per second of the agent engine, and events per patient."""
    model = compile_model(scenario(days))
    numba.set_num_threads(threads)
    run_agent(model, 0, 0, 1)
    rates, events = [], 0.0
    for repeat in range(repeats):
        started = time.perf_counter()
        chunk = run_agent(model, repeat + 1, 0, patients)
        elapsed = time.perf_counter() - started
        events = float(chunk.patients[:, P_EVENTS].sum())
        rates.append(events / elapsed)
    return statistics.median(rates), events / patients


def rebop_rate(days: float, repeats: int) -> float | None:
    """Median events per second of rebop on the same network (None if not installed)."""
    try:
        import rebop
    except ImportError:
        return None
    network = rebop.Gillespie()
    for genotype in range(4):
        name = f"g{genotype}"
        missing = [bit for bit in (1, 2) if not genotype & bit]
        network.add_reaction(RATE * (1 - MUTATION * len(missing)), [name], [name, name])
        for bit in missing:
            network.add_reaction(RATE * MUTATION, [name], [name, f"g{genotype | bit}"])
        network.add_reaction(RATE, [name], [])
    expected = 2 * RATE * CELLS * days
    rates = []
    for repeat in range(repeats + 1):
        started = time.perf_counter()
        network.run({"g0": CELLS}, tmax=days, nb_steps=1, rng=repeat)
        if repeat:  # the first run is a warm-up
            rates.append(expected / (time.perf_counter() - started))
    return statistics.median(rates)


def rows(quick: bool) -> list[Row]:
    """The suite's rows: events per second on 1 and all threads, and the ratio to rebop."""
    days, repeats = (5.0, 3) if quick else (20.0, 5)
    threads = numba.config.NUMBA_NUM_THREADS
    workload = f"agent engine, {CELLS} cells, b = d = {RATE}, 2 mutations, {days:g} days"
    one, _ = agent_rate(days, 4, 1, repeats)
    many, _ = agent_rate(days, 4 * threads, threads, repeats)
    numba.set_num_threads(threads)
    out = [
        Row("agent", workload + ", 1 thread", "events per second", one, "1/s", repeats),
        Row("agent", workload + f", {threads} threads", "events per second", many, "1/s", repeats),
    ]
    peer = rebop_rate(days, repeats)
    if peer is None:
        out.append(
            Row(
                "agent",
                "rebop (optional peer)",
                "not installed",
                float("nan"),
                "",
                0,
                judged_by="pip install rebop to compare",
            )
        )
    else:
        out.append(
            Row("agent", "rebop 1 thread, same network", "events per second", peer, "1/s", repeats)
        )
        out.append(
            Row(
                "agent",
                "agent engine / rebop, 1 thread",
                "ratio",
                one / peer,
                "",
                repeats,
                judged_by="events/s ratio in the same run",
                ratio=one / peer,
                target=">= 1",
                met=one >= peer,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--days", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads = numba.get_num_threads()
    print(
        f"birth-death-mutation: {CELLS} cells, b = d = {RATE}, 2 mechanisms u = {MUTATION}, "
        f"{args.days:g} days; median of {args.repeats}"
    )
    one, per_patient = agent_rate(args.days, args.patients, 1, args.repeats)
    print(
        f"  agent engine, 1 thread:   {one / 1e6:6.1f} M events/s "
        f"({per_patient:.3g} events per patient)"
    )
    if threads > 1:
        many, _ = agent_rate(args.days, args.patients, threads, args.repeats)
        print(f"  agent engine, {threads} threads:  {many / 1e6:6.1f} M events/s")
    peer = rebop_rate(args.days, args.repeats)
    if peer is None:
        print("  rebop: not installed (optional: pip install rebop)")
    else:
        print(f"  rebop, 1 thread:          {peer / 1e6:6.1f} M events/s (expected events)")


if __name__ == "__main__":
    main()
