"""Compartment engine: patients per second, cost per clone-step against the draw-bound limit,
and how the cost grows with tumour size, live clones, patients and threads."""

import numba
import numpy as np

from benchmarks.measure import ROOT, Row, median_seconds
from kernels.birth_death import extinction_and_growth
from kernels.model import P_CLONE_STEPS
from sim.compile import compile_model
from sim.engine import run_compartment
from sim.scenario import load_scenario, parse_scenario

TWO_DRUGS = ROOT / "scenarios" / "benchmarks" / "two-drugs-1e9.toml"
SECTION = "compartment"


def _timed_batch(model, patients: int, threads: int, repeats: int):
    """Median seconds for a batch on ``threads`` threads, and the clone-steps it drew."""
    numba.set_num_threads(threads)
    seconds, _ = median_seconds(lambda: run_compartment(model, 1, 0, patients), repeats)
    raw = run_compartment(model, 1, 0, patients)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return seconds, float(raw.patients[:, P_CLONE_STEPS].sum())


def two_drug_throughput(quick: bool) -> list[Row]:
    """Two-drug scenario at detection 1e9: 1 thread against all threads, in one run."""
    patients, repeats = (1000, 3) if quick else (4000, 5)
    model = compile_model(load_scenario(TWO_DRUGS))
    run_compartment(model, 0, 0, 8)
    workload = f"two drugs, detection 1e9, {patients} patients"
    threads = numba.config.NUMBA_NUM_THREADS
    one, steps = _timed_batch(model, patients, 1, repeats)
    many, _ = _timed_batch(model, patients, threads, repeats)
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
            target=">= 1,000 (core), >= 2,000 writing included (goal)",
            met=patients / many >= 1000,
        ),
        Row(
            SECTION,
            workload,
            "parallel efficiency",
            efficiency,
            "",
            repeats,
            judged_by=f"t(1 thread) / t({threads} threads) / {threads}",
            ratio=efficiency,
            target=">= 0.85",
            met=efficiency >= 0.85,
        ),
        Row(
            SECTION,
            workload + ", 1 thread",
            "ns per clone-step",
            one / steps * 1e9,
            "ns",
            repeats,
            extra={"clone_steps_per_patient": steps / patients},
        ),
    ]


def _step_parameters(count: int, rng: np.random.Generator):
    """Clone sizes and step probabilities like those of the two-drug scenario's steps."""
    cells = np.exp(rng.uniform(np.log(1e2), np.log(1e11), count)).astype(np.int64)
    deaths = rng.choice([0.13, 0.17, 0.21], count)
    steps = rng.uniform(1.0, 10.0, count)
    probabilities = np.array(
        [
            extinction_and_growth(0.14, d, t)
            for d, t in zip(deaths[:2000], steps[:2000], strict=True)
        ]
    )
    picks = rng.integers(0, len(probabilities), count)
    return cells, probabilities[picks, 2], probabilities[picks, 3]


def draw_bound(quick: bool, kernel_ns_per_step: float) -> list[Row]:
    """The cost of the draws a clone-step needs alone (numpy's vectorised generator draws one
    binomial and one negative binomial per clone-step), against the kernel's whole step."""
    count, repeats = (200_000, 3) if quick else (1_000_000, 5)
    rng = np.random.default_rng(0)
    cells, survive, stop = _step_parameters(count, rng)

    def draws():
        survivors = rng.binomial(cells, survive)
        rng.negative_binomial(np.maximum(survivors, 1), stop)

    draws()
    seconds, _ = median_seconds(draws, repeats)
    bound = seconds / count * 1e9
    ratio = kernel_ns_per_step / bound
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
    ]


def _cells_model(cells: float, clones: int = 1, mutation_rate: float = 1e-7):
    """A tumour of ``cells`` cells split over ``clones`` genotypes, one drug, 365 days."""
    mechanisms = max(int(np.ceil(np.log2(max(clones, 2)))), 2)
    scenario = parse_scenario(
        {
            "scenario": {"name": "scaling", "horizon_days": 365.0},
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


def scaling(quick: bool) -> tuple[list[Row], dict]:
    """Cost per patient against tumour size and patients; per clone-step against live clones."""
    repeats = 3
    patients = 200 if quick else 1000
    curves = {"size": [], "clones": [], "patients": []}
    for exponent in range(3, 13, 3 if quick else 1):
        model = _cells_model(10.0**exponent)
        run_compartment(model, 0, 0, 4)
        seconds, _ = median_seconds(lambda m=model: run_compartment(m, 1, 0, patients), repeats)
        curves["size"].append((10.0**exponent, seconds / patients))
    for clones in (1, 4, 16, 64, 256):
        model = _cells_model(1e6 * clones, clones, mutation_rate=0.0)
        run_compartment(model, 0, 0, 4)
        seconds, steps = _timed_batch(model, patients // 4, numba.config.NUMBA_NUM_THREADS, repeats)
        curves["clones"].append((clones, seconds / steps * 1e9))
    model = _cells_model(1e9)
    for count in (1, 10, 100, 1000, 10_000) if quick else (1, 10, 100, 1000, 10_000, 100_000):
        seconds, _ = median_seconds(lambda c=count: run_compartment(model, 1, 0, c), repeats)
        curves["patients"].append((count, seconds / count))
    sizes = [cost for _, cost in curves["size"]]
    flat = max(sizes) / min(sizes)
    rows = [
        Row(
            SECTION,
            "cost per patient, 1e3 .. 1e12 cells, 365 days",
            "max / min",
            flat,
            "",
            repeats,
            judged_by="slowest size / fastest size",
            ratio=flat,
            target="<= 2",
            met=flat <= 2.0,
            extra={"seconds_per_patient": curves["size"]},
        ),
        Row(
            SECTION,
            "ns per clone-step, 1 .. 256 live clones",
            "max / min",
            max(c for _, c in curves["clones"]) / min(c for _, c in curves["clones"]),
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
