"""Agent engine: cell events per second on a birth-death-mutation model, against other
Gillespie solvers (benchmarks/peers.py: rebop and GillesPy2, when installed).

The model: 1e5 cells with b = d = 0.5 per cell per day (critical, so the size stays near
1e5 and the event rate near (b + d) 1e5 per day), two neutral mechanisms gained with
probability 1e-3 per division each (four genotypes), untreated for ``--days`` days. Reports
the median over ``--repeats`` of events per second on one thread and on all threads (one
patient per thread) and the parallel efficiency, counting the events the kernel simulated
(compile time excluded by one warm-up run); then each peer on the same network on one
thread, side by side in the same run. Part of ``refractory bench``; also runs alone:
``python -m benchmarks.agent [--patients N] [--days T] [--repeats R]``.
"""

import argparse
import statistics
import time

import numba

from refractory.benchmarks.measure import Row, efficiency_row
from refractory.benchmarks.peers import CELLS, MUTATION, RATE, PeerResult, run_peers
from refractory.compile import compile_model
from refractory.engine import run_agent
from refractory.kernels.model import P_EVENTS
from refractory.scenario import parse_scenario

SECTION = "agent"


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
        events = float(chunk.outputs.patient[:, P_EVENTS].sum())
        rates.append(events / elapsed)
    return statistics.median(rates), events / patients


def peer_rows(one: float, peer: PeerResult, repeats: int) -> list[Row]:
    """A peer's events per second and the agent engine's ratio to it, or why it did not run."""
    if peer.rate is None:
        return [
            Row(
                SECTION,
                f"{peer.name} (optional peer)",
                "not run",
                float("nan"),
                "",
                0,
                judged_by=peer.missing,
            )
        ]
    out = []
    if peer.build_seconds is not None:
        out.append(
            Row(
                SECTION,
                f"{peer.name} model build and C++ compile",
                "seconds",
                peer.build_seconds,
                "s",
                1,
                judged_by="paid once per model, not in its events per second",
            )
        )
    out += [
        Row(
            SECTION,
            f"{peer.name} 1 thread, same network",
            "events per second",
            peer.rate,
            "1/s",
            repeats,
            judged_by="expected events (b + d) N0 T",
        ),
        Row(
            SECTION,
            f"agent engine / {peer.name}, 1 thread",
            "ratio",
            one / peer.rate,
            "",
            repeats,
            judged_by="events/s ratio in the same run",
            ratio=one / peer.rate,
            target=">= 1",
            met=one >= peer.rate,
        ),
    ]
    return out


def rows(quick: bool) -> list[Row]:
    """The suite's rows: events per second on 1 and all threads, the parallel efficiency, and
    the ratio to each peer."""
    days, repeats = (5.0, 3) if quick else (20.0, 5)
    threads = numba.config.NUMBA_NUM_THREADS
    workload = f"agent engine, {CELLS} cells, b = d = {RATE}, 2 mutations, {days:g} days"
    one, _ = agent_rate(days, 4, 1, repeats)
    many, _ = agent_rate(days, 4 * threads, threads, repeats)
    numba.set_num_threads(threads)
    efficiency = many / one / threads
    out = [
        Row(SECTION, workload + ", 1 thread", "events per second", one, "1/s", repeats),
        Row(SECTION, workload + f", {threads} threads", "events per second", many, "1/s", repeats),
        efficiency_row(
            SECTION,
            workload,
            efficiency,
            repeats,
            f"events/s on {threads} threads / events/s on 1 thread / {threads}",
        ),
    ]
    for peer in run_peers(days, repeats):
        out += peer_rows(one, peer, repeats)
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
        print(
            f"  agent engine, {threads} threads:  {many / 1e6:6.1f} M events/s "
            f"(parallel efficiency {many / one / threads:.2f})"
        )
    for peer in run_peers(args.days, args.repeats):
        label = f"  {peer.name}, 1 thread:".ljust(27)
        if peer.rate is None:
            print(f"{label} {peer.missing}")
            continue
        build = "" if peer.build_seconds is None else f"; build {peer.build_seconds:.1f} s apart"
        print(f"{label} {peer.rate / 1e6:6.1f} M events/s (expected events{build})")


if __name__ == "__main__":
    main()
