"""The agent engine against its limit: the same event loop in C (benchmarks/reference/ssa.c).

The C program is built with the system compiler when one is present (skipped with a note
otherwise) and run from the same generator state as the kernel, so the two trajectories
must be identical (same number of events, same final clone sizes); the figure is the ratio
of events per second, each a median of repeats in the same run.
"""

import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numba

from refractory.benchmarks.agent import CELLS, MUTATION, RATE, scenario
from refractory.benchmarks.measure import Row
from refractory.compile import compile_model, genotype_names
from refractory.engine import run_agent
from refractory.kernels.model import P_EVENTS
from refractory.kernels.streams import patient_states
from refractory.results import tables_from_chunk

SOURCE = Path(__file__).resolve().parent / "reference" / "ssa.c"
SECTION = "agent"
#: The C loop's lineage layouts, by their number on its command line.
LAYOUTS = ("none", "cells", "counts")


def build(folder: Path) -> Path | None:
    """Compile the C reference with -O3 -march=native; None when no compiler is found."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    binary = folder / "ssa"
    subprocess.run(
        [compiler, "-O3", "-march=native", "-o", str(binary), str(SOURCE), "-lm"], check=True
    )
    return binary


@dataclass(frozen=True)
class Network:
    """The C loop's model: ``cells`` cells of genotype 0 with per-cell ``birth`` and ``death``
    rates, gaining mechanism 1 or 2 at division with probabilities ``u1``, ``u2``; run for
    ``days``, stopping at ``stop`` cells (0: no stop), keeping lineages as the agent engine
    does in ``layout`` (LAYOUTS: "none", "cells" or "counts")."""

    cells: int
    birth: float
    death: float
    u1: float
    u2: float
    days: float
    stop: int = 0
    layout: str = "cells"


def run_reference(binary: Path, network: Network, state) -> tuple[int, float, list[int]]:
    """Events, seconds and final cells of genotypes 0..3 of one C run."""
    n = network
    args = [n.cells, n.birth, n.death, n.u1, n.u2, n.days, n.stop, LAYOUTS.index(n.layout)]
    out = subprocess.run(
        [str(binary), *map(str, args), *map(str, state)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1]), [int(x) for x in out[2:]]


def final_cells(raw, scenario) -> list[int]:
    """A one-patient run's cells of genotypes 0..3 at its end, in the C loop's order."""
    end = tables_from_chunk(raw, scenario)["clones"].query("moment == 'end'")
    sizes = dict(zip(end.mechanisms, end.cells, strict=True))
    names = tuple(m.name for m in scenario.mechanisms)
    return [sizes.get(genotype_names(g, names), 0) if g >> len(names) == 0 else 0 for g in range(4)]


def missing_compiler_row(section: str) -> Row:
    """The row saying the C loop could not be built."""
    return Row(
        section,
        "C reference",
        "not run",
        float("nan"),
        "",
        0,
        judged_by="no C compiler found (cc, gcc or clang)",
    )


def rows(quick: bool) -> list[Row]:
    """Kernel and C side by side on one thread: identical trajectories, events/s ratio."""
    days, repeats = (5.0, 7) if quick else (20.0, 7)
    with tempfile.TemporaryDirectory() as folder:
        binary = build(Path(folder))
        if binary is None:
            return [missing_compiler_row(SECTION)]
        network = Network(CELLS, RATE, RATE, MUTATION, MUTATION, days)
        sc = scenario(days)
        model = compile_model(sc)
        threads = numba.get_num_threads()
        numba.set_num_threads(1)  # one thread like the C: no wait for a worker thread
        run_agent(model, 0, 0, 1)
        kernel, reference, same = [], [], True
        for repeat in range(repeats):
            seed = repeat + 1
            started = time.perf_counter()
            raw = run_agent(model, seed, 0, 1)
            kernel.append(raw.outputs.patient[0, P_EVENTS] / (time.perf_counter() - started))
            events, seconds, final = run_reference(binary, network, patient_states(seed, 0, 1)[0])
            reference.append(events / seconds)
            same &= events == raw.outputs.patient[0, P_EVENTS] and final == final_cells(raw, sc)
        numba.set_num_threads(threads)
    one, limit = statistics.median(kernel), statistics.median(reference)
    ratio = limit / one
    workload = f"{CELLS} cells, b = d = {RATE}, 2 mutations, {days:g} days, 1 thread"
    return [
        Row(
            SECTION,
            "C reference (same loop, same generator), " + workload,
            "events per second",
            limit,
            "1/s",
            repeats,
            judged_by="trajectories identical to the kernel's" if same else "TRAJECTORIES DIFFER",
            met=same,
        ),
        Row(
            SECTION,
            "agent engine time / C reference time",
            "ratio",
            ratio,
            "",
            repeats,
            judged_by="C events/s / kernel events/s (kernel includes result arrays)",
            ratio=ratio,
            target="<= 1.3",
            met=ratio <= 1.3,
        ),
    ]
