"""A run in memory: ``simulate`` a scenario's patients into Results, writing nothing.

The pieces here are shared with the batch runner (refractory.batch), which persists the
same chunks: resolving a scenario and its overrides, choosing the engine for a device, the
manifest, and running one chunk of patients into tables.
"""

import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from refractory.cohort import Term, check_draws, cohort_rows, cohort_terms, draw
from refractory.compile import compile_model
from refractory.engine import Engine, RawChunk, engine_runner
from refractory.errors import ScenarioError
from refractory.kernels.model import P_OVERFLOW, PatientModel
from refractory.provenance import environment
from refractory.results import ArrowTables, Results, chunk_columns, from_arrow, join_arrow, to_arrow
from refractory.scenario import Scenario, load_scenario, with_overrides
from refractory.settings import DEFAULT_SETTINGS, EngineSettings
from refractory.variation import Variant, tag_tables, variants

#: Patients per chunk on the CPU (the unit written and resumed by batches): making and
#: writing the tables of 5,000 two-drug patients takes 45 to 70 ms of one core, a few
#: percent of their kernel time, so a batch stays near the kernel's rate
#: (refractory.benchmarks.pipeline), while an interrupted batch loses at most one chunk.
DEFAULT_CHUNK = 5000
#: Patients per chunk on the GPU: a launch needs about 1e5 patients to fill one.
DEFAULT_GPU_CHUNK = 100_000
#: Patients whose every clone at every scan is recorded (the ``trace`` table).
DEFAULT_TRACE = 20


def resolve(
    scenario: Scenario | str | os.PathLike,
    patients: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    source: str | None = None,
) -> tuple[Scenario, str]:
    """The scenario to run (read from a file if given a path) with the overrides applied,
    and the name that errors give it."""
    if isinstance(scenario, str | os.PathLike):
        source = source or os.fspath(scenario)
        scenario = load_scenario(scenario)
    source = source or "<scenario>"
    if (patients, seed, engine) != (None, None, None):
        scenario = with_overrides(scenario, patients=patients, seed=seed, engine=engine)
    return scenario, source


def runner(scenario: Scenario, device: str, source: str) -> Engine:
    """The engine function for the scenario on ``device``; a ScenarioError when it cannot."""
    try:
        return engine_runner(scenario.scenario.engine, device)
    except ValueError as reason:
        raise ScenarioError(
            source,
            f"cannot run on the {device.upper()}: {reason}",
            "Run without --device gpu (the CPU runs every engine), or on a machine with an "
            "NVIDIA GPU and numba-cuda installed (pip install 'refractory[gpu]').",
            field="--device",
        ) from None


def default_chunk(device: str) -> int:
    return DEFAULT_GPU_CHUNK if device == "gpu" else DEFAULT_CHUNK


def chunk_ranges(first: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    """Half-open patient ranges of at most ``size``, aligned on ``first``."""
    for start in range(first, stop, size):
        yield start, min(start + size, stop)


def manifest(
    scenario: Scenario,
    patient_range: tuple[int, int],
    trace: int,
    device: str,
    settings: EngineSettings,
) -> dict:
    """What a run was: the scenario as run, its seed, patients, engine and device, every
    engine setting and the environment."""
    first, stop = patient_range
    found = variants(scenario)
    described = {}
    if scenario.sweep is not None:
        described["points"] = [v.values for v in found if v.arm_index == 0]
    if scenario.arms:
        described["arms"] = [arm.label for arm in scenario.arms]
    return {
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        **described,
        "seed": scenario.scenario.seed,
        "patients": stop - first,
        "patient_range": [first, stop],
        "engine": scenario.scenario.engine,
        "device": device,
        "traced_patients": trace,
        "engine_settings": settings.as_dict(),
        "environment": environment(device),
        "status": "complete",
    }


class Planned(NamedTuple):
    """One variant (sweep point and arm) of a run, its compiled model, and the model entries
    its cohort's drawn fields set (None without a cohort)."""

    variant: Variant
    model: PatientModel
    terms: tuple[Term, ...] | None


class Simulated(NamedTuple):
    """A chunk simulated, before its tables are made: the kernels' outputs and, with a
    cohort, the patients' drawn values."""

    raw: RawChunk
    drawn: dict[str, np.ndarray] | None


def simulate_chunk(
    engine: Engine,
    planned: Planned,
    start: int,
    stop: int,
    trace: int,
    settings: EngineSettings,
) -> Simulated:
    """Patients start .. stop - 1 of one variant (sweep point and arm); with a cohort, each
    patient runs its own drawn values."""
    variant, model, terms = planned
    scenario = variant.scenario
    seed = scenario.scenario.seed
    drawn = draw(scenario.cohort, seed, start, stop - start) if scenario.cohort else None
    rows = cohort_rows(model, terms, drawn) if terms else None
    raw = engine(model, seed, start, stop - start, trace, settings, rows)
    _refuse_overflow(raw.outputs.patient[:, P_OVERFLOW], start, variant)
    return Simulated(raw, drawn)


def chunk_tables(planned: Planned, simulated: Simulated) -> ArrowTables:
    """A simulated chunk's tables as Arrow tables, with the columns naming its variant."""
    scenario = planned.variant.scenario
    columns = chunk_columns(simulated.raw, scenario)
    return to_arrow(tag_tables(columns, planned.variant, simulated.drawn))


def _refuse_overflow(flags, start: int, variant: Variant) -> None:
    """A patient whose engine ran out of room dropped cells, so its results would be wrong:
    stop the run with the patients and the settings that bound them (finished chunks stay)."""
    patients = (start + np.flatnonzero(flags == 1)).tolist()
    if not patients:
        return
    where = f" at {variant.key}" if variant.key else ""
    shown = ", ".join(map(str, patients[:10])) + (" ..." if len(patients) > 10 else "")
    engine = variant.scenario.scenario.engine
    raise ScenarioError(
        variant.source,
        f"patient{'s' if len(patients) > 1 else ''} {shown}{where} ran out of room in the "
        f"{engine} engine (its clone slots, EngineSettings.max_clone_slots; "
        "its groups of new cells pending in a step, pending_groups; or the agent engine's "
        "cells, agent_max_cells), so cells were dropped and the results would be wrong; the "
        "run stopped (a batch keeps the chunks it finished)",
        "Run again with a larger setting (refractory.simulate or run_batch with "
        "settings=EngineSettings(...)), with fewer mechanisms, or, for the agent engine, with "
        'engine = "compartment".',
        field="engine settings",
    )


def plan(scenario: Scenario, source: str, settings: EngineSettings) -> list[Planned]:
    """Every variant of the scenario (just itself without a sweep or arms), its model and
    its cohort's terms."""
    planned = []
    for variant in variants(scenario, source):
        model = compile_model(variant.scenario, source, settings)
        cohort = variant.scenario.cohort
        terms = cohort_terms(variant.scenario, model, source, settings) if cohort else None
        planned.append(Planned(variant, model, terms))
    return planned


def check_cohort(planned: list[Planned], first: int, stop: int) -> None:
    """Before a run: patients first .. stop - 1 draw valid values in every variant."""
    for variant, _, terms in planned:
        if terms is not None:
            check_draws(variant.scenario, variant.source, first, stop)


def simulate(
    scenario: Scenario | str | os.PathLike,
    patients: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    device: str = "cpu",
    *,
    trace: int = DEFAULT_TRACE,
    patient_range: tuple[int, int] | None = None,
    settings: EngineSettings = DEFAULT_SETTINGS,
) -> Results:
    """Simulate a scenario's patients in memory and return their Results (nothing written).

    ``scenario`` is a Scenario or the path of a scenario file; ``patients``, ``seed`` and
    ``engine`` override the file's. Patients with an index below ``trace`` also record every
    clone at every scan. ``patient_range`` (start, stop) runs only those patients, each on
    its own stream. A scenario with a [sweep] or [[arm]] tables runs every patient at every
    point under every arm (columns ``point`` and ``arm`` say which). The tables equal those
    of ``run_batch`` for the same arguments.
    """
    scenario, source = resolve(scenario, patients, seed, engine)
    run = runner(scenario, device, source)
    first, stop = patient_range or (0, scenario.scenario.patients)
    planned = plan(scenario, source, settings)
    check_cohort(planned, first, stop)
    parts = [
        chunk_tables(each, simulate_chunk(run, each, start, end, trace, settings))
        for each in planned
        for start, end in chunk_ranges(first, stop, default_chunk(device))
    ]
    return Results(
        folder=None,
        manifest=manifest(scenario, (first, stop), trace, device, settings),
        **from_arrow(join_arrow(parts)),
    )
