"""Agent engine on growing tumours against rebop and the C loop: the workload where per-cell
storage leaves the caches, beside the stationary one of benchmarks/agent.py. The agent
engine runs with barcodes (in the lineage layout its settings choose: every cell, or counts
per barcode past the caches) and without (``barcode_at = "none"``: counts only, as rebop
keeps them); the judged ratio to rebop is the latter's.

The model: 1,000 cells of one genotype with birth 1 and death 0.5 per cell per day, gaining
one neutral mechanism with probability 1e-3 per division, untreated, grown to ``size``
cells (1e6; also 1e7 without ``--quick``). The agent engine stops on the event that reaches
the size (as a lethal burden) and counts its events; rebop runs the same network for the
mean time to that size, ln(size / 1,000) / 0.5 days, and its events are counted as their
expectation, (b + d) / (b - d) x (size - 1,000). The same event loop in C
(benchmarks/reference/ssa.c, in the engine's layout) runs from each patient's generator
state, its trajectory checked identical to the kernel's. One thread each, medians of paired
runs, compile and warm-up runs apart.

Run alone with ``python -m refractory.benchmarks.growing [--quick]``.
"""

import math
import statistics
import tempfile
import time
from pathlib import Path

import numba

from refractory.benchmarks.measure import Row, run_alone
from refractory.benchmarks.peers import INSTALL
from refractory.benchmarks.reference import (
    Network,
    build,
    final_cells,
    missing_compiler_row,
    run_reference,
)
from refractory.compile import compile_model
from refractory.engine import run_agent
from refractory.kernels.model import P_EVENTS
from refractory.kernels.streams import patient_states
from refractory.scenario import parse_scenario
from refractory.settings import EngineSettings

SECTION = "agent, growing"
START, BIRTH, DEATH, MUTATION = 1000, 1.0, 0.5, 1e-3
HORIZON = 1000.0
NAMES = {"detection": "agent engine, barcodes", "none": "agent engine, counts only"}


def model(size: float, barcode_at: str, lineages: str = "auto"):
    """The workload grown to ``size`` cells: (scenario, compiled model, engine settings)."""
    scenario = parse_scenario(
        {
            "scenario": {"name": "bench-growing", "horizon_days": HORIZON, "engine": "agent"},
            "tumor": {
                "birth_rate": BIRTH,
                "death_rate": DEATH,
                "start": "cells",
                "detection_cells": START,
                "lethal_cells": size,
                "clone": [{"cells": START}],
            },
            "mechanism": [{"name": "m", "mutation_rate": MUTATION}],
            "agent": {"barcode_at": barcode_at},
        },
        "bench-growing",
    )
    settings = EngineSettings(agent_max_cells=int(size) + 1, agent_lineages=lineages)
    return scenario, compile_model(scenario, "bench-growing", settings), settings


def _layout(compiled) -> str:
    """How a compiled model's agent engine keeps lineages (compile.lineage_columns)."""
    if compiled.barcodes == 0:
        return "none"
    return "counts" if compiled.lineage_columns else "cells"


def paired_run(run: tuple, size: float, seed: int, binary: Path | None):
    """One patient of ``run`` (from ``model``) in the kernel and, with a C ``binary``, in the
    C loop from the same generator state: the kernel's events per second, the C loop's (None
    without it) and whether both followed the same trajectory (events and final clones)."""
    scenario, compiled, settings = run
    started = time.perf_counter()
    chunk = run_agent(compiled, seed, 0, 1, 0, settings)
    events = chunk.outputs.patient[0, P_EVENTS]
    rate = float(events) / (time.perf_counter() - started)
    if binary is None:
        return rate, None, True
    network = Network(START, BIRTH, DEATH, MUTATION, 0.0, HORIZON, int(size), _layout(compiled))
    c_events, seconds, final = run_reference(binary, network, patient_states(seed, 0, 1)[0])
    same = c_events == events and final == final_cells(chunk, scenario)
    return rate, c_events / seconds, same


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
    """Events per second of the agent engine (with and without barcodes) and of rebop, and
    the ratios to rebop, per size."""
    sizes, repeats = ((1e6,), 3) if quick else ((1e6, 1e7), 5)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    out = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            binary = build(Path(folder))
            for size in sizes:
                out += _size_rows(size, repeats, binary)
    finally:
        numba.set_num_threads(threads)
    return out


def _size_rows(size: float, repeats: int, binary: Path | None) -> list[Row]:
    workload = f"1e3 -> {size:.0e} cells, b = 1, d = 0.5, 1 mutation, 1 thread"
    runs = {how: model(size, how) for how in NAMES}
    peer = _rebop(size)
    rates = {how: [] for how in runs} | {"rebop": []} | {("C", how): [] for how in runs}
    same = {how: True for how in runs}
    for seed in range(repeats + 1):  # seed 0: the warm-up, not kept
        for how, run in runs.items():
            rate, c_rate, alike = paired_run(run, size, seed, binary)
            rates[how].append(rate)
            rates["C", how].append(c_rate)
            same[how] &= alike
        if peer:
            rates["rebop"].append(peer(seed))
    out = [
        Row(
            SECTION,
            f"{NAMES[how]}, {workload}",
            "events per second",
            statistics.median(rates[how][1:]),
            "1/s",
            repeats,
        )
        for how in runs
    ]
    out += (
        _reference_rows(
            rates, same, {how: _layout(run[1]) for how, run in runs.items()}, workload, repeats
        )
        if binary
        else [missing_compiler_row(SECTION)]
    )
    if not peer:
        return out + [
            Row(
                SECTION,
                "rebop (optional peer)",
                "not run",
                float("nan"),
                "",
                0,
                judged_by=f"not installed ({INSTALL})",
            )
        ]
    out.append(
        Row(
            SECTION,
            f"rebop, {workload}",
            "events per second",
            statistics.median(rates["rebop"][1:]),
            "1/s",
            repeats,
            judged_by="expected events (b + d) / (b - d) x (size - 1e3)",
        )
    )
    for how in runs:
        pairs = zip(rates[how][1:], rates["rebop"][1:], strict=True)
        ratio = statistics.median(a / p for a, p in pairs)
        judged = how == "none"
        out.append(
            Row(
                SECTION,
                f"{NAMES[how]} / rebop, {workload}",
                "ratio",
                ratio,
                "",
                repeats,
                judged_by="median of paired runs' events/s ratios",
                ratio=ratio,
                target=">= 1" if judged else "",
                met=bool(ratio >= 1) if judged else None,
            )
        )
    return out


def _reference_rows(
    rates: dict, same: dict, layouts: dict, workload: str, repeats: int
) -> list[Row]:
    """The C loop's events per second in each mode (the kernel's lineage layout), and the
    kernel's time over the C loop's (target at most 1.15), from paired runs of the same
    generator states."""
    out = []
    for how in NAMES:
        mode = {"none": "counts only", "cells": "barcodes per cell", "counts": "barcode counts"}[
            layouts[how]
        ]
        pairs = zip(rates["C", how][1:], rates[how][1:], strict=True)
        ratio = statistics.median(c / a for c, a in pairs)
        out += [
            Row(
                SECTION,
                f"C reference (same loop, same generator), {mode}, {workload}",
                "events per second",
                statistics.median(rates["C", how][1:]),
                "1/s",
                repeats,
                judged_by="trajectories identical to the kernel's"
                if same[how]
                else "TRAJECTORIES DIFFER",
                met=same[how],
            ),
            Row(
                SECTION,
                f"agent engine ({mode}) time / C reference time, {workload}",
                "ratio",
                ratio,
                "",
                repeats,
                judged_by="median of paired runs' C events/s / kernel events/s",
                ratio=ratio,
                target="<= 1.15",
                met=bool(ratio <= 1.15),
            ),
        ]
    return out


if __name__ == "__main__":
    run_alone(rows, __doc__.splitlines()[0])
