"""What the kernels read and write: the compiled patient model and the output codes.

``PatientModel`` holds a scenario as plain arrays and scalars (built by sim.compile); the
integer codes name the columns and categories of the kernels' outputs (named again by
sim.results).
"""

from typing import NamedTuple

import numpy as np
from numba import njit

# Codes shared with sim/results.py (the kernel writes numbers, the results layer names them).
RESPONSE_NONE, RESPONSE_CR, RESPONSE_PR, RESPONSE_SD, RESPONSE_PD = -1, 0, 1, 2, 3
END_PROGRESSION, END_CURED, END_LETHAL, END_HORIZON, END_COMPLETED = 0, 1, 2, 3, 4
SCHEDULE_CONTINUOUS, SCHEDULE_INTERMITTENT, SCHEDULE_ADAPTIVE = 0, 1, 2

# Columns of the per-patient output row.
P_DAYS_TO_DETECTION = 0
P_CELLS_AT_START = 1
P_RESISTANT_AT_START = 2
P_CELLS_AT_END = 3
P_CURED = 4
P_REFRACTORY = 5
P_DAYS_TO_REFRACTORY = 6
P_LETHAL = 7
P_DAYS_TO_LETHAL = 8
P_LINES_RECEIVED = 9
P_END_DAY = 10
P_OVERFLOW = 11
P_CLONE_STEPS = 12  # exact transitions drawn (clones and mutant groups), for benchmarks
P_EVENTS = 13  # single-cell events simulated by the exact Gillespie phase
P_COLUMNS = 14

# Columns of the per-line output row.
L_START_DAY = 0
L_END_DAY = 1
L_BEST_RESPONSE = 2
L_PROGRESSED = 3
L_DAYS_TO_PROGRESSION = 4
L_END_REASON = 5
L_RELAPSE = 6  # progression after a complete response or after a completed fixed course
L_ON_TREATMENT = 7  # progression while the line was being given (refractory to it)
L_DOSES_SCHEDULED = 8
L_DOSES_TAKEN = 9
L_DAYS_ON_DRUG = 10
L_COLUMNS = 11

# Columns of a scan row: measured burden (with noise, 0 below visible) and true burden.
S_DAY = 0
S_LINE = 1  # 1-based line followed at the scan, 0 = none
S_MEASURED = 2
S_TRUE = 3
S_ON_DRUG = 4
S_COLUMNS = 5

# Why an advance() call returned.
REACHED_STOP, REACHED_THRESHOLD, EXTINCT = 0, 1, 2

# Which engine advances the tumour (PatientModel.engine).
ENGINE_COMPARTMENT, ENGINE_AGENT = 0, 1

# A clone's key is its genotype (bit i: mechanism i) with two state bits above the mechanisms:
# the cells live in the sanctuary site, and they are in the drug-tolerant persister state.
# Neither is heritable by mutation: cells move between states by migration and switching.
SANCTUARY = np.int64(1) << 60
PERSISTER = np.int64(1) << 61
MECHANISMS = SANCTUARY - 1


class PatientModel(NamedTuple):
    """Everything one patient's simulation reads, as arrays and scalars (built by sim.compile).

    Rates are per cell per day, sizes in cells, times in days. ``k`` mechanisms, ``nd`` drugs,
    ``nl`` lines, ``m`` initial clones.
    """

    birth_rate: float
    death_rate: float
    mutation_rate: np.ndarray  # (k,) probability per division that a daughter gains mechanism i
    birth_factor: np.ndarray  # (k,) 1 - fitness cost of mechanism i
    resistance: np.ndarray  # (k, nd) fraction of drug j's effect removed by mechanism i
    drug_max_effect: np.ndarray  # (nd,) per day on a fully sensitive cell
    drug_lowers_birth: np.ndarray  # (nd,) 1 if the drug lowers birth, 0 if it adds to death
    drug_kills_dividing: np.ndarray  # (nd,) 1: its added death x the crowding factor of birth
    line_drugs: np.ndarray  # (nl, nd) 1 where line l gives drug j
    line_takes_max: np.ndarray  # (nl,) 1: strongest single drug; 0: effects add
    start_genotypes: np.ndarray  # (m,) genotypes of the initial clones (start = "cells")
    start_cells: np.ndarray  # (m,) their sizes; empty when growing from a single cell
    detection_cells: float
    lethal_cells: float
    horizon_days: float
    scan_every_days: float
    progression_increase: float
    partial_response_decrease: float
    visible_cells: float
    exact_below: float  # total size under which the kernel simulates event by event
    max_log_growth: float  # largest expected log-growth of any clone in one step
    threshold_tolerance: float  # detection and lethal sizes are reached within this fraction
    max_clones: int
    pending_groups: int  # room for groups of new cells pending inside one step
    mutant_bins: int  # above this many mutants in one step, group them by arrival time
    engine: int  # ENGINE_COMPARTMENT or ENGINE_AGENT
    agent_cells: int  # agent engine: room for this many cells (0 for the compartment engine)
    barcode_cells: float  # agent engine: label cells on first reaching this total (0: at start)
    barcodes: int  # agent engine: number of barcodes given (0 for the compartment engine)
    lineage_columns: int  # agent engine: columns of the per-slot barcode counts (0: per cell)
    # Treatment as given (defaults reproduce constant exposure). The exposure vector handed
    # to the engines has nd + 2 entries: each drug's effect on a fully sensitive cell now
    # (0 = absent), then 1 if the strongest drug alone acts ("max"), then the factor that
    # competition applies to birth (1 without). line_exposure[l] is line l at its constant
    # dose; its last row (index -1) is untreated.
    line_exposure: np.ndarray  # (nl + 1, nd + 2)
    drug_dose: np.ndarray  # (nd,) concentration added by one dose
    drug_interval: np.ndarray  # (nd,) days between doses; 0 = constant exposure
    drug_decay: np.ndarray  # (nd,) first-order elimination rate, ln 2 / half-life
    drug_ec50: np.ndarray  # (nd,) concentration of half the maximal effect
    drug_hill: np.ndarray  # (nd,) Hill coefficient
    line_dose_fraction: np.ndarray  # (nl,)
    line_schedule: np.ndarray  # (nl,) SCHEDULE_* codes
    line_days_on: np.ndarray  # (nl,) intermittent cycle
    line_days_off: np.ndarray  # (nl,)
    line_pause_below: np.ndarray  # (nl,) adaptive: pause below this x baseline
    line_resume_at: np.ndarray  # (nl,) adaptive: resume at this x baseline
    line_max_days: np.ndarray  # (nl,) fixed course length (inf: until progression)
    line_free_days: np.ndarray  # (nl,) days without treatment before the line starts
    measurement_cv: float  # lognormal noise of a measured burden (0: exact)
    progression_from_baseline: int  # 1: progression is judged against the baseline
    miss_probability: float  # each scheduled dose is missed with this probability
    carrying_capacity: float  # inf: no competition
    max_total_change: float  # under competition: largest relative change of the total per step
    pk_step: float  # longest step while a dosed drug acts (inf: none is dosed)
    washed_out: float  # a dosed drug below this fraction of its ec50 has no effect
    # Sites and phenotypes (all zero without a [sanctuary] or [persister] table).
    sanctuary_exposure: np.ndarray  # (nd,) factor on each drug's effect in the sanctuary
    sanctuary_share: float  # initial clones' cells placed in the sanctuary (start = "cells")
    sanctuary_visible: int  # 1: scans measure sanctuary cells too
    migration_in: float  # per cell per day, primary site -> sanctuary
    migration_out: float  # per cell per day, sanctuary -> primary site
    switch_on: float  # per cell per day, cycling -> persister (off drug)
    switch_off: float  # per cell per day, persister -> cycling
    induction: float  # switch_on x (1 + induction x fraction of the strongest drug's max effect)
    persister_birth: float  # factor on a persister's birth rate
    persister_death: float  # factor on a persister's death rate
    persister_protection: np.ndarray  # (nd,) fraction of each drug's effect persisters escape
    max_switch_step: float  # compartment engine: largest switching probability per cell per step


@njit(cache=True)
def genotype_rates(model, genotype, line):
    """Birth rate, death rate and total mutation probability of a genotype under a line given
    at its constant dose (``line`` = -1: untreated)."""
    birth, death, mutation, _ = exposed_rates(model, genotype, model.line_exposure[line])
    return birth, death, mutation


@njit(cache=True)
def exposed_rates(model, genotype, exposure):
    """Birth rate, death rate and total mutation probability of a genotype under ``exposure``,
    and the part of the death rate that scales with crowding, at no crowding.

    Mechanisms' fitness costs and resistances combine multiplicatively; drug effects add or,
    for "max", the strongest acts; competition then scales the birth rate, and the added death
    of a drug that kills dividing cells (``drug_kills_dividing``) by the same factor
    (dS/dt = b S (1 - N/K) - e S (1 - N/K) - d S, Strobl et al. 2021). In the sanctuary each
    drug's effect is scaled by its exposure factor; persisters divide and die at their own
    factors of the rates and escape their protected fraction of each drug.
    """
    k = model.mutation_rate.shape[0]
    nd = model.drug_max_effect.shape[0]
    birth = model.birth_rate
    death = model.death_rate
    persister = (genotype & PERSISTER) != 0
    sheltered = (genotype & SANCTUARY) != 0
    if persister:
        birth *= model.persister_birth
        death *= model.persister_death
    total_mutation = 0.0
    for i in range(k):
        if (genotype >> i) & 1:
            birth *= model.birth_factor[i]
        else:
            total_mutation += model.mutation_rate[i]
    take_max = exposure[nd] == 1.0
    lower_birth = 0.0
    add_death = 0.0
    crowded = 0.0
    best = -1.0
    best_lowers_birth = False
    best_crowded = False
    for j in range(nd):
        effect = exposure[j]
        if effect == 0.0:
            continue
        for i in range(k):
            if (genotype >> i) & 1:
                effect *= 1.0 - model.resistance[i, j]
        if sheltered:
            effect *= model.sanctuary_exposure[j]
        if persister:
            effect *= 1.0 - model.persister_protection[j]
        if take_max:
            if effect > best:
                best = effect
                best_lowers_birth = model.drug_lowers_birth[j] == 1
                best_crowded = model.drug_kills_dividing[j] == 1
        elif model.drug_lowers_birth[j] == 1:
            lower_birth += effect
        elif model.drug_kills_dividing[j] == 1:
            crowded += effect
        else:
            add_death += effect
    if take_max and best > 0.0:
        if best_lowers_birth:
            lower_birth = best
        elif best_crowded:
            crowded = best
        else:
            add_death = best
    factor = exposure[nd + 1]
    birth = max(birth - lower_birth, 0.0) * factor
    death += add_death
    death += crowded * factor
    return birth, death, total_mutation, crowded


@njit(cache=True)
def switch_rates(model, genotype, exposure):
    """Per-cell rates of leaving a clone's state without dividing: migration to the other site,
    and switching phenotype (into the persister state faster under drug, by ``induction``)."""
    migrate = model.migration_out if (genotype & SANCTUARY) != 0 else model.migration_in
    if (genotype & PERSISTER) != 0:
        return migrate, model.switch_off
    if model.switch_on == 0.0:
        return migrate, 0.0
    return migrate, model.switch_on * (
        1.0 + model.induction * drug_level(model, genotype, exposure)
    )


@njit(cache=True)
def drug_level(model, genotype, exposure):
    """Fraction of its maximal effect that the strongest drug reaches where the cells are."""
    level = 0.0
    for j in range(model.drug_max_effect.shape[0]):
        if exposure[j] > 0.0:
            reach = exposure[j] / model.drug_max_effect[j]
            if (genotype & SANCTUARY) != 0:
                reach *= model.sanctuary_exposure[j]
            level = max(level, reach)
    return level


def shared_rows(model: PatientModel) -> PatientModel:
    """The batch form of one model: every field an array with a leading patient axis of
    length 1, which ``patient_model`` gives to every patient of the batch."""
    return PatientModel(*(np.asarray(value)[np.newaxis] for value in model))


@njit(cache=True)
def _row_index(values, p):
    """Where patient ``p``'s row of a field of per-patient rows is (row 0 when the field is
    shared). An index, not the row: CUDA device functions may not return array views."""
    return np.int64(p) if values.shape[0] > 1 else np.int64(0)  # prange's p is unsigned


@njit(cache=True)
def patient_model(rows, p):
    """Patient ``p``'s model from a batch of per-patient rows (``shared_rows`` gives every
    patient the same row; a virtual cohort gives each its own values, refractory.cohort).
    Array fields come back as views, so nothing is copied or allocated."""
    return PatientModel(
        rows.birth_rate[_row_index(rows.birth_rate, p)],
        rows.death_rate[_row_index(rows.death_rate, p)],
        rows.mutation_rate[_row_index(rows.mutation_rate, p)],
        rows.birth_factor[_row_index(rows.birth_factor, p)],
        rows.resistance[_row_index(rows.resistance, p)],
        rows.drug_max_effect[_row_index(rows.drug_max_effect, p)],
        rows.drug_lowers_birth[_row_index(rows.drug_lowers_birth, p)],
        rows.drug_kills_dividing[_row_index(rows.drug_kills_dividing, p)],
        rows.line_drugs[_row_index(rows.line_drugs, p)],
        rows.line_takes_max[_row_index(rows.line_takes_max, p)],
        rows.start_genotypes[_row_index(rows.start_genotypes, p)],
        rows.start_cells[_row_index(rows.start_cells, p)],
        rows.detection_cells[_row_index(rows.detection_cells, p)],
        rows.lethal_cells[_row_index(rows.lethal_cells, p)],
        rows.horizon_days[_row_index(rows.horizon_days, p)],
        rows.scan_every_days[_row_index(rows.scan_every_days, p)],
        rows.progression_increase[_row_index(rows.progression_increase, p)],
        rows.partial_response_decrease[_row_index(rows.partial_response_decrease, p)],
        rows.visible_cells[_row_index(rows.visible_cells, p)],
        rows.exact_below[_row_index(rows.exact_below, p)],
        rows.max_log_growth[_row_index(rows.max_log_growth, p)],
        rows.threshold_tolerance[_row_index(rows.threshold_tolerance, p)],
        rows.max_clones[_row_index(rows.max_clones, p)],
        rows.pending_groups[_row_index(rows.pending_groups, p)],
        rows.mutant_bins[_row_index(rows.mutant_bins, p)],
        rows.engine[_row_index(rows.engine, p)],
        rows.agent_cells[_row_index(rows.agent_cells, p)],
        rows.barcode_cells[_row_index(rows.barcode_cells, p)],
        rows.barcodes[_row_index(rows.barcodes, p)],
        rows.lineage_columns[_row_index(rows.lineage_columns, p)],
        rows.line_exposure[_row_index(rows.line_exposure, p)],
        rows.drug_dose[_row_index(rows.drug_dose, p)],
        rows.drug_interval[_row_index(rows.drug_interval, p)],
        rows.drug_decay[_row_index(rows.drug_decay, p)],
        rows.drug_ec50[_row_index(rows.drug_ec50, p)],
        rows.drug_hill[_row_index(rows.drug_hill, p)],
        rows.line_dose_fraction[_row_index(rows.line_dose_fraction, p)],
        rows.line_schedule[_row_index(rows.line_schedule, p)],
        rows.line_days_on[_row_index(rows.line_days_on, p)],
        rows.line_days_off[_row_index(rows.line_days_off, p)],
        rows.line_pause_below[_row_index(rows.line_pause_below, p)],
        rows.line_resume_at[_row_index(rows.line_resume_at, p)],
        rows.line_max_days[_row_index(rows.line_max_days, p)],
        rows.line_free_days[_row_index(rows.line_free_days, p)],
        rows.measurement_cv[_row_index(rows.measurement_cv, p)],
        rows.progression_from_baseline[_row_index(rows.progression_from_baseline, p)],
        rows.miss_probability[_row_index(rows.miss_probability, p)],
        rows.carrying_capacity[_row_index(rows.carrying_capacity, p)],
        rows.max_total_change[_row_index(rows.max_total_change, p)],
        rows.pk_step[_row_index(rows.pk_step, p)],
        rows.washed_out[_row_index(rows.washed_out, p)],
        rows.sanctuary_exposure[_row_index(rows.sanctuary_exposure, p)],
        rows.sanctuary_share[_row_index(rows.sanctuary_share, p)],
        rows.sanctuary_visible[_row_index(rows.sanctuary_visible, p)],
        rows.migration_in[_row_index(rows.migration_in, p)],
        rows.migration_out[_row_index(rows.migration_out, p)],
        rows.switch_on[_row_index(rows.switch_on, p)],
        rows.switch_off[_row_index(rows.switch_off, p)],
        rows.induction[_row_index(rows.induction, p)],
        rows.persister_birth[_row_index(rows.persister_birth, p)],
        rows.persister_death[_row_index(rows.persister_death, p)],
        rows.persister_protection[_row_index(rows.persister_protection, p)],
        rows.max_switch_step[_row_index(rows.max_switch_step, p)],
    )
