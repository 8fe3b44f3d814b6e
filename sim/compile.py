"""Turn a validated Scenario into the arrays the compiled kernels read.

The only place where model objects become arrays: dtypes and contiguity are fixed here so
that each kernel compiles once for every scenario.
"""

import math

import numpy as np

from refractory.errors import ScenarioError, number
from refractory.kernels import lineages
from refractory.kernels.model import (
    ENGINE_AGENT,
    ENGINE_COMPARTMENT,
    SCHEDULE_ADAPTIVE,
    SCHEDULE_CONTINUOUS,
    SCHEDULE_INTERMITTENT,
    PatientModel,
)
from refractory.scenario import Drug, Scenario
from refractory.settings import DEFAULT_SETTINGS, EngineSettings


def genotype_names(genotype: int, mechanism_names: tuple[str, ...]) -> str:
    """Mechanism names of a genotype bitmask joined by "+" ("" for none)."""
    return "+".join(name for i, name in enumerate(mechanism_names) if genotype >> i & 1)


def agent_sizes(
    scenario: Scenario, source: str = "<scenario>", limit: int = DEFAULT_SETTINGS.agent_max_cells
) -> tuple[int, float, int]:
    """Cells the agent engine holds per patient (the lethal size, or detection when untreated,
    at most ``limit``), the size at which it labels cells (0: at treatment start) and the
    number of barcodes. A ScenarioError when every patient needs more than ``limit``: the
    tumour at treatment start (or at detection, untreated) is bigger. A patient that grows
    past the room it has stops the run with its number (refractory.simulation). Without
    barcodes (``barcode_at = "none"``) no cell is stored: (0, 0.0, 0); every event is still
    simulated, so the tumour may grow to at most ``limit`` cells (a ScenarioError else)."""
    tumor = scenario.tumor
    untreated_growth = tumor.start == "single_cell" and not scenario.lines
    certain = tumor.detection_cells if untreated_growth else tumor.treatment_start_cells
    needed = tumor.detection_cells if untreated_growth else tumor.lethal_cells
    counting = scenario.agent.barcode_at == "none"
    if counting and needed > limit:
        where = "detection_cells" if untreated_growth else "lethal_cells"
        raise ScenarioError(
            source,
            f"the agent engine simulates every event (about (b + d) / (b - d) per cell grown) "
            f"up to {number(float(limit))} cells per patient, but patients of this scenario may "
            f"reach {number(needed)} cells",
            f"Lower {where} in [tumor] to at most {number(float(limit))}, raise "
            'EngineSettings.agent_max_cells, or use engine = "compartment", whose exact '
            "transitions cost the same at any size.",
            field=f"tumor.{where}",
        )
    if counting:
        return 0, 0.0, 0
    if certain > limit:
        where = "detection_cells" if tumor.start == "single_cell" else "clone"
        raise ScenarioError(
            source,
            f"the agent engine holds at most {number(float(limit))} cells per patient "
            f"(4 bytes each), but every patient of this scenario reaches {number(certain)} "
            "cells",
            f"Lower {where} in [tumor] to at most {number(float(limit))} cells, or use "
            'engine = "compartment" (in [scenario] or --engine compartment), which has no '
            "size limit.",
            field=f"tumor.{where}",
        )
    cells = min(math.ceil(needed), limit)
    barcode_at = scenario.agent.barcode_at
    if barcode_at != "detection":
        return cells, float(barcode_at), math.ceil(barcode_at)
    return cells, 0.0, math.ceil(tumor.treatment_start_cells)


def compile_model(
    scenario: Scenario, source: str = "<scenario>", settings: EngineSettings = DEFAULT_SETTINGS
) -> PatientModel:
    """Arrays and scalars for the kernels, with the engines' numerical ``settings``;
    ``source`` names the file in errors.

    A scenario the kernels cannot represent or finish is refused first (refractory.limits).
    """
    from refractory.limits import check_work

    check_work(scenario, source, settings)
    tumor = scenario.tumor
    mechanisms = scenario.mechanisms
    slots = min(2 ** len(mechanisms) * _states(scenario), settings.max_clone_slots)
    drugs = scenario.drugs
    drug_names = [drug.name for drug in drugs]
    mechanism_names = [m.name for m in mechanisms]
    resistance = np.zeros((len(mechanisms), len(drugs)), np.float64)
    for i, mechanism in enumerate(mechanisms):
        for drug, fraction in mechanism.resists:
            resistance[i, drug_names.index(drug)] = fraction
    line_drugs = np.zeros((len(scenario.lines), len(drugs)), np.int64)
    for line_index, line in enumerate(scenario.lines):
        for drug in line.drugs:
            line_drugs[line_index, drug_names.index(drug)] = 1
    start_genotypes = np.array(
        [sum(1 << mechanism_names.index(m) for m in clone.mechanisms) for clone in tumor.clones],
        np.int64,
    )
    start_cells = np.array([int(clone.cells) for clone in tumor.clones], np.int64)
    return PatientModel(
        birth_rate=float(tumor.birth_rate),
        death_rate=float(tumor.death_rate),
        mutation_rate=np.array([m.mutation_rate for m in mechanisms], np.float64),
        birth_factor=np.array([1.0 - m.fitness_cost for m in mechanisms], np.float64),
        resistance=resistance,
        drug_max_effect=np.array([d.max_effect for d in drugs], np.float64),
        drug_lowers_birth=np.array([d.effect == "birth" for d in drugs], np.int64),
        drug_kills_dividing=np.array([d.effect == "kills_dividing" for d in drugs], np.int64),
        line_drugs=line_drugs,
        line_takes_max=np.array([line.combine == "max" for line in scenario.lines], np.int64),
        start_genotypes=start_genotypes,
        start_cells=start_cells,
        detection_cells=float(tumor.detection_cells),
        lethal_cells=float(tumor.lethal_cells),
        horizon_days=float(scenario.scenario.horizon_days),
        scan_every_days=float(scenario.monitoring.scan_every_days),
        progression_increase=float(scenario.monitoring.progression_increase),
        partial_response_decrease=float(scenario.monitoring.partial_response_decrease),
        visible_cells=float(scenario.effective_visible_cells),
        max_log_growth=settings.max_log_growth_per_step,
        threshold_tolerance=settings.threshold_tolerance,
        max_clones=slots,
        pending_groups=settings.pending_groups,
        mutant_bins=settings.mutant_bins,
        **_engine_fields(scenario, source, settings, slots),
        **_treatment_fields(scenario, line_drugs, settings),
        **_state_fields(scenario, settings),
    )


def _states(scenario: Scenario) -> int:
    """Site and phenotype states a genotype's cells can be in (1, 2 or 4)."""
    return (2 if scenario.sanctuary else 1) * (2 if scenario.persister else 1)


def _state_fields(scenario: Scenario, settings: EngineSettings) -> dict:
    """PatientModel fields of the sanctuary site and the persister phenotype (inert without)."""
    names = [drug.name for drug in scenario.drugs]
    site, persister = scenario.sanctuary, scenario.persister
    return {
        "sanctuary_exposure": np.array(
            [site.exposure_of(name) if site else 1.0 for name in names], np.float64
        ),
        "sanctuary_share": float(site.share) if site else 0.0,
        "sanctuary_visible": int(site.visible) if site else 1,
        "migration_in": float(site.migration_in) if site else 0.0,
        "migration_out": float(site.migration_out) if site else 0.0,
        "switch_on": float(persister.switch_on) if persister else 0.0,
        "switch_off": float(persister.switch_off) if persister else 0.0,
        "induction": float(persister.induction) if persister else 0.0,
        "persister_birth": float(persister.birth_fraction) if persister else 1.0,
        "persister_death": float(persister.death_fraction) if persister else 1.0,
        "persister_protection": np.array(
            [persister.protection_from(name) if persister else 0.0 for name in names], np.float64
        ),
        "max_switch_step": settings.max_switch_step,
    }


def _engine_fields(scenario: Scenario, source: str, settings: EngineSettings, slots: int) -> dict:
    """The PatientModel fields that select and size the engine. The agent engine runs event by
    event at every size: cell by cell with barcodes, on the clone table without them."""
    if scenario.scenario.engine != "agent":
        return {
            "engine": ENGINE_COMPARTMENT,
            "exact_below": float(settings.exact_below_cells),
            "agent_cells": 0,
            "barcode_cells": 0.0,
            "barcodes": 0,
            "lineage_columns": 0,
        }
    cells, barcode_cells, barcodes = agent_sizes(scenario, source, settings.agent_max_cells)
    return {
        "engine": ENGINE_AGENT,
        "exact_below": math.inf,
        "agent_cells": cells,
        "barcode_cells": barcode_cells,
        "barcodes": barcodes,
        "lineage_columns": lineage_columns(settings.agent_lineages, slots, barcodes, cells),
    }


#: Above this many bytes of per-cell barcodes (4 per cell) a random cell's read leaves the
#: caches and costs more than the counts' O(log barcodes) descent (measured on growing
#: tumours: cells 1.5 times faster at 1e6 cells, counts 1.7 times faster at 1e7)...
CELLS_LAYOUT_BYTES = 16 * 2**20
#: ...as long as a slot's tree stays in the first caches: a descent costs about 44 ns within
#: 8 KiB (1,000 barcodes), 55 ns within 32 KiB and 150 ns within 1 MiB (1e5 barcodes), where
#: a stationary tumour of 1e5 cells ran 5 times slower counted than kept cell by cell.
TREE_ROW_BYTES = 32 * 2**10


def lineage_columns(layout: str, slots: int, barcodes: int, cells: int) -> int:
    """Columns of the agent engine's per-slot barcode counts (kernels.lineages, 8 bytes per
    slot and column), or 0 to keep every cell (4 bytes each) instead. ``auto``: the counts
    when every cell would take more than CELLS_LAYOUT_BYTES, a slot's counts at most
    TREE_ROW_BYTES, and all of them less memory than the cells; ``counts`` or ``cells``
    (EngineSettings.agent_lineages) choose."""
    columns = lineages.width(barcodes)
    if barcodes == 0 or layout == "cells":
        return 0
    if layout == "counts":
        return columns
    small = 8 * (columns - 1) <= TREE_ROW_BYTES and 2 * slots * columns <= cells
    return columns if 4 * cells > CELLS_LAYOUT_BYTES and small else 0


def _constant_effect(drug: Drug, fraction: float) -> float:
    """Effect of a drug given at a constant exposure: Emax at the concentration dose x
    fraction when it has an ec50, else max_effect x fraction. Dosed drugs act through their
    concentration profile instead (0 here)."""
    if drug.dosed:
        return 0.0
    if drug.ec50 is None:
        return drug.max_effect * fraction
    concentration = drug.dose * fraction
    return (
        drug.max_effect
        * concentration**drug.hill
        / (concentration**drug.hill + drug.ec50**drug.hill)
    )


def _treatment_fields(scenario: Scenario, line_drugs: np.ndarray, settings: EngineSettings) -> dict:
    """PatientModel fields of treatment as given: exposure, schedules, adherence, competition."""
    drugs, lines = scenario.drugs, scenario.lines
    nd = len(drugs)
    exposure = np.zeros((len(lines) + 1, nd + 2), np.float64)
    exposure[:, nd + 1] = 1.0
    for index, line in enumerate(lines):
        for j, drug in enumerate(drugs):
            if line_drugs[index, j]:
                exposure[index, j] = _constant_effect(drug, line.dose_fraction)
        exposure[index, nd] = 1.0 if line.combine == "max" else 0.0
    dosed = [d for d in drugs if d.dosed]
    pk_step = min(
        (settings.pk_step_fraction * min(d.interval_days, d.half_life_days) for d in dosed),
        default=math.inf,
    )
    schedules = {
        "continuous": SCHEDULE_CONTINUOUS,
        "intermittent": SCHEDULE_INTERMITTENT,
        "adaptive": SCHEDULE_ADAPTIVE,
    }
    watch = scenario.monitoring
    capacity = scenario.competition.carrying_capacity if scenario.competition else math.inf

    def per_drug(get) -> np.ndarray:
        return np.array([get(d) for d in drugs], np.float64)

    def per_line(get) -> np.ndarray:
        return np.array([get(line) for line in lines], np.float64)

    return {
        "line_exposure": exposure,
        "drug_dose": per_drug(lambda d: d.dose or 0.0),
        "drug_interval": per_drug(lambda d: d.interval_days or 0.0),
        "drug_decay": per_drug(lambda d: math.log(2) / d.half_life_days if d.dosed else 0.0),
        "drug_ec50": per_drug(lambda d: d.ec50 or 0.0),
        "drug_hill": per_drug(lambda d: d.hill),
        "line_dose_fraction": per_line(lambda line: line.dose_fraction),
        "line_schedule": np.array([schedules[line.schedule] for line in lines], np.int64),
        "line_days_on": per_line(lambda line: line.days_on or 0.0),
        "line_days_off": per_line(lambda line: line.days_off or 0.0),
        "line_pause_below": per_line(lambda line: line.pause_fraction),
        "line_resume_at": per_line(lambda line: line.resume_fraction),
        "line_max_days": per_line(lambda line: line.max_days or math.inf),
        "line_free_days": per_line(lambda line: line.treatment_free_days),
        "measurement_cv": float(watch.measurement_cv),
        "progression_from_baseline": int(watch.progression_reference == "baseline"),
        "miss_probability": float(scenario.adherence.miss_probability),
        "carrying_capacity": float(capacity),
        "max_total_change": settings.max_total_change_per_step
        if scenario.competition
        else math.inf,
        "pk_step": float(pk_step),
        "washed_out": settings.washed_out_fraction,
    }
