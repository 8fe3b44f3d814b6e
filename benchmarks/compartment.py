"""Compartment engine: patients per second, cost per clone-step against the draw-bound limit,
and how the cost grows with tumour size, live clones, patients and threads.

Run alone with ``python -m benchmarks.compartment [--quick]``.
"""

import argparse

import numba
import numpy as np

from refractory.benchmarks.measure import Row, efficiency_row, machine, median_seconds
from refractory.bundled import scenarios_folder
from refractory.compile import compile_model
from refractory.engine import run_compartment
from refractory.kernels.birth_death import extinction_and_growth, transition
from refractory.kernels.model import P_CLONE_STEPS, P_EVENTS
from refractory.scenario import load_scenario, parse_scenario

TWO_DRUGS = scenarios_folder() / "benchmarks" / "two-drugs-1e9.toml"
SECTION = "compartment"


def _timed_batch(model, patients: int, threads: int, repeats: int):
    """Median seconds for a batch on ``threads`` threads, and the clone-steps and cell events
    (the event-by-event phase below ``exact_below`` cells) it drew."""
    numba.set_num_threads(threads)
    seconds, _ = median_seconds(lambda: run_compartment(model, 1, 0, patients), repeats)
    raw = run_compartment(model, 1, 0, patients)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return (
        seconds,
        float(raw.outputs.patient[:, P_CLONE_STEPS].sum()),
        float(raw.outputs.patient[:, P_EVENTS].sum()),
    )


def two_drug_throughput(quick: bool) -> list[Row]:
    """Two-drug scenario at detection 1e9: 1 thread against all threads, in one run."""
    patients, repeats = (1000, 3) if quick else (4000, 5)
    model = compile_model(load_scenario(TWO_DRUGS))
    run_compartment(model, 0, 0, 8)
    workload = f"two drugs, detection 1e9, {patients} patients"
    threads = numba.config.NUMBA_NUM_THREADS
    one, steps, events = _timed_batch(model, patients, 1, repeats)
    many, _, _ = _timed_batch(model, patients, threads, repeats)
    efficiency = one / many / threads
    return [
        Row(
            SECTION, workload + ", 1 thread", "patients per second", patients / one, "1/s", repeats
        ),
        Row(
            SECTION,
            workload + f", {threads} threads",
            "patients per second",
            patients / many,
            "1/s",
            repeats,
            target=">= 2,000 (writing included: end to end section)",
            met=patients / many >= 2000,
        ),
        efficiency_row(
            SECTION,
            workload,
            efficiency,
            repeats,
            f"t(1 thread) / t({threads} threads) / {threads}",
        ),
        Row(
            SECTION,
            workload + ", 1 thread",
            "ns per clone-step",
            one / steps * 1e9,
            "ns",
            repeats,
            judged_by="whole patients (cell events from the first cell included) / clone-steps",
            extra={
                "clone_steps_per_patient": steps / patients,
                "cell_events_per_patient": events / patients,
            },
        ),
    ]


BIRTH = 0.14


def _step_parameters(count: int, rng: np.random.Generator):
    """Clone sizes, death rates and step lengths like those of the two-drug scenario's steps
    (birth rate ``BIRTH``), and each step's survival and stopping probabilities."""
    cells = np.exp(rng.uniform(np.log(1e2), np.log(1e11), count)).astype(np.int64)
    deaths = rng.choice([0.13, 0.17, 0.21], count)[:2000]
    steps = rng.uniform(1.0, 10.0, count)[:2000]
    probabilities = np.array(
        [extinction_and_growth(BIRTH, d, t) for d, t in zip(deaths, steps, strict=True)]
    )
    picks = rng.integers(0, len(probabilities), count)
    return cells, deaths[picks], steps[picks], probabilities[picks, 2], probabilities[picks, 3]


@numba.njit(cache=True)
def _transitions(state, cells, deaths, steps, out):
    """The engine's exact transition for each clone in turn (the kernel's draws alone)."""
    for i in range(cells.shape[0]):
        out[i] = transition(state, cells[i], BIRTH, deaths[i], steps[i])


def draw_bound(quick: bool, kernel_ns_per_step: float) -> list[Row]:
    """The cost of the draws a clone-step needs alone (numpy's vectorised generator draws one
    binomial and one negative binomial per clone-step), against the kernel's whole step and
    against the kernel's transition alone on the same clones."""
    count, repeats = (200_000, 3) if quick else (1_000_000, 5)
    rng = np.random.default_rng(0)
    cells, deaths, steps, survive, stop = _step_parameters(count, rng)

    def draws():
        survivors = rng.binomial(cells, survive)
        rng.negative_binomial(np.maximum(survivors, 1), stop)

    state = np.random.SeedSequence(0).generate_state(4, np.uint64)
    out = np.empty(count, np.int64)

    def kernel():
        _transitions(state, cells, deaths, steps, out)

    draws()
    kernel()
    seconds, _ = median_seconds(draws, repeats)
    bound = seconds / count * 1e9
    ratio = kernel_ns_per_step / bound
    alone = median_seconds(kernel, repeats)[0] / count * 1e9
    marginal = _marginal_step(200 if quick else 1000, repeats)
    return [
        Row(
            SECTION,
            "binomial + negative binomial per clone, numpy vectorised",
            "ns per clone-step (draws alone)",
            bound,
            "ns",
            repeats,
        ),
        Row(
            SECTION,
            "kernel clone-step / draw-bound",
            "ratio",
            ratio,
            "",
            repeats,
            judged_by="kernel ns per clone-step / numpy draws ns per clone-step",
            ratio=ratio,
            target="<= 2",
            met=ratio <= 2.0,
        ),
        Row(
            SECTION,
            "transition kernel alone (probabilities and draws), same clones as numpy's draws",
            "ns per clone-step (draws alone)",
            alone,
            "ns",
            repeats,
            judged_by="transition kernel ns / numpy draws ns, same parameters",
            ratio=alone / bound,
        ),
        Row(
            SECTION,
            "compartment step, 1e9 cells in 4 clones, mutation on, 1 thread",
            "marginal ns per clone-step",
            marginal,
            "ns",
            repeats,
            judged_by="(t(3650 days) - t(365 days)) / their clone-steps difference: patient "
            "set-up and outputs cancel, steps end at the 28-day scans",
            ratio=marginal / bound,
            extra={"marginal_over_draw_bound": marginal / bound},
        ),
    ]


def _marginal_step(patients: int, repeats: int) -> float:
    """Marginal ns per clone-step of a tumour of 1e9 cells in 4 clones on one thread, from
    the same patients followed 365 and 3650 days."""
    costs = []
    for days in (365.0, 3650.0):
        model = _cells_model(1e9, 4, horizon_days=days)
        run_compartment(model, 0, 0, 4)
        seconds, steps, _ = _timed_batch(model, patients, 1, repeats)
        costs.append((seconds / patients, steps / patients))
    (short, short_steps), (long, long_steps) = costs
    return (long - short) / (long_steps - short_steps) * 1e9


def _cells_model(
    cells: float, clones: int = 1, mutation_rate: float = 1e-7, horizon_days: float = 365.0
):
    """A tumour of ``cells`` cells split over ``clones`` genotypes, one drug, followed for
    ``horizon_days`` (scans every 28 days)."""
    mechanisms = max(int(np.ceil(np.log2(max(clones, 2)))), 2)
    scenario = parse_scenario(
        {
            "scenario": {"name": "scaling", "horizon_days": horizon_days},
            "tumor": {
                "birth_rate": 0.14,
                "death_rate": 0.13,
                "start": "cells",
                "lethal_cells": 1e15,
                "clone": [
                    {
                        "cells": max(int(cells / clones), 1),
                        "mechanisms": [f"m{i}" for i in range(mechanisms) if g >> i & 1],
                    }
                    for g in range(clones)
                ],
            },
            "mechanism": [
                {"name": f"m{i}", "mutation_rate": mutation_rate, "resists": {"A": 0.5}}
                for i in range(mechanisms)
            ],
            "drug": [{"name": "A", "max_effect": 0.005}],
            "line": [{"drugs": ["A"]}],
            "monitoring": {"progression_increase": 1e6},
        }
    )
    return compile_model(scenario)


def _size_curve(patients: int, repeats: int, exponents, mutation_rate: float) -> list[tuple]:
    """(cells, seconds per patient, clone-steps per patient) from 10**e cells, all threads."""
    curve = []
    for exponent in exponents:
        model = _cells_model(10.0**exponent, mutation_rate=mutation_rate)
        run_compartment(model, 0, 0, 4)
        seconds, steps, _ = _timed_batch(model, patients, numba.config.NUMBA_NUM_THREADS, repeats)
        curve.append((10.0**exponent, seconds / patients, steps / patients))
    return curve


def _max_over_min(values) -> float:
    return max(values) / min(values)


def scaling(quick: bool) -> tuple[list[Row], dict]:
    """Cost per patient against tumour size and patients; per clone-step against tumour size
    and live clones.

    A larger tumour makes more mutants, so more live clones and mutant groups per step: the
    size curve reports the clone-steps per patient and the cost per clone-step beside the
    cost per patient, and the same sizes with mutation off (one clone at every size).
    """
    repeats = 3
    patients = 200 if quick else 1000
    exponents = range(3, 13, 3 if quick else 1)
    sizes = _size_curve(patients, repeats, exponents, 1e-7)
    single = _size_curve(patients, repeats, exponents, 0.0)
    curves = {
        "size": [(cells, cost) for cells, cost, _ in sizes],
        "size_per_clone_step": [(cells, cost / steps * 1e9) for cells, cost, steps in sizes],
        "size_one_clone": [(cells, cost) for cells, cost, _ in single],
        "clones": [],
        "patients": [],
    }
    for clones in (1, 4, 16, 64, 256):
        model = _cells_model(1e6 * clones, clones, mutation_rate=0.0)
        run_compartment(model, 0, 0, 4)
        seconds, steps, _ = _timed_batch(
            model, patients // 4, numba.config.NUMBA_NUM_THREADS, repeats
        )
        curves["clones"].append((clones, seconds / steps * 1e9))
    model = _cells_model(1e9)
    for count in (1, 10, 100, 1000, 10_000) if quick else (1, 10, 100, 1000, 10_000, 100_000):
        seconds, _ = median_seconds(lambda c=count: run_compartment(model, 1, 0, c), repeats)
        curves["patients"].append((count, seconds / count))
    flat = _max_over_min([cost for _, cost in curves["size"]])
    per_step = _max_over_min([ns for _, ns in curves["size_per_clone_step"]])
    one_clone = _max_over_min([cost for _, cost in curves["size_one_clone"]])
    rows = [
        Row(
            SECTION,
            "cost per patient, 1e3 .. 1e12 cells, 365 days",
            "max / min",
            flat,
            "",
            repeats,
            judged_by="slowest size / fastest size (more cells make more mutant clones: "
            "see the clone-steps, and the rows below)",
            ratio=flat,
            extra={
                "seconds_per_patient": curves["size"],
                "clone_steps_per_patient": [(cells, steps) for cells, _, steps in sizes],
            },
        ),
        Row(
            SECTION,
            "ns per clone-step, 1e3 .. 1e12 cells, 365 days",
            "max / min",
            per_step,
            "",
            repeats,
            judged_by="same runs as the cost per patient, divided by their clone-steps (the "
            "small tumours' few steps carry each patient's set-up and scans)",
            extra={"ns_per_clone_step": curves["size_per_clone_step"]},
        ),
        Row(
            SECTION,
            "cost per patient, 1e3 .. 1e12 cells, 365 days, mutation off (one clone)",
            "max / min",
            one_clone,
            "",
            repeats,
            judged_by="slowest size / fastest size: the engine's cost against size alone",
            ratio=one_clone,
            target="<= 2",
            met=one_clone <= 2.0,
            extra={
                "seconds_per_patient": curves["size_one_clone"],
                "clone_steps_per_patient": [(cells, steps) for cells, _, steps in single],
            },
        ),
        Row(
            SECTION,
            "ns per clone-step, 1 .. 256 live clones",
            "max / min",
            _max_over_min([ns for _, ns in curves["clones"]]),
            "",
            repeats,
            extra={"ns_per_clone_step": curves["clones"]},
        ),
        Row(
            SECTION,
            "cost per patient, 1 .. 1e5 patients",
            "per patient at largest / at 1000",
            curves["patients"][-1][1] / dict(curves["patients"])[1000],
            "",
            repeats,
            extra={"seconds_per_patient": curves["patients"]},
        ),
    ]
    return rows, curves


def main() -> None:
    from refractory.benchmarks.suite import markdown

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args()
    rows = two_drug_throughput(args.quick)
    kernel_ns = next(r.value for r in rows if r.figure == "ns per clone-step")
    rows += draw_bound(args.quick, kernel_ns)
    rows += scaling(args.quick)[0]
    print(markdown(rows, machine()))


if __name__ == "__main__":
    main()
