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
END_PROGRESSION, END_CURED, END_LETHAL, END_HORIZON = 0, 1, 2, 3

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
L_COLUMNS = 6

# Why an advance() call returned.
REACHED_STOP, REACHED_THRESHOLD, EXTINCT = 0, 1, 2

# Which engine advances the tumour (PatientModel.engine).
ENGINE_COMPARTMENT, ENGINE_AGENT = 0, 1


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
    mutant_bins: int  # above this many mutants in one step, group them by arrival time
    engine: int  # ENGINE_COMPARTMENT or ENGINE_AGENT
    agent_cells: int  # agent engine: room for this many cells (0 for the compartment engine)
    barcode_cells: float  # agent engine: label cells on first reaching this total (0: at start)
    barcodes: int  # agent engine: number of barcodes given (0 for the compartment engine)


@njit(cache=True)
def genotype_rates(model, genotype, line):
    """Birth rate, death rate and total mutation probability of a genotype under a line.

    ``line`` = -1 means untreated. Mechanisms' fitness costs and resistances combine
    multiplicatively; drugs of a line add their effects or, for "max", the strongest acts.
    """
    k = model.mutation_rate.shape[0]
    birth = model.birth_rate
    death = model.death_rate
    total_mutation = 0.0
    for i in range(k):
        if (genotype >> i) & 1:
            birth *= model.birth_factor[i]
        else:
            total_mutation += model.mutation_rate[i]
    if line >= 0:
        take_max = model.line_takes_max[line] == 1
        lower_birth = 0.0
        add_death = 0.0
        best = -1.0
        best_lowers_birth = False
        for j in range(model.drug_max_effect.shape[0]):
            if model.line_drugs[line, j] == 0:
                continue
            effect = model.drug_max_effect[j]
            for i in range(k):
                if (genotype >> i) & 1:
                    effect *= 1.0 - model.resistance[i, j]
            if take_max:
                if effect > best:
                    best = effect
                    best_lowers_birth = model.drug_lowers_birth[j] == 1
            elif model.drug_lowers_birth[j] == 1:
                lower_birth += effect
            else:
                add_death += effect
        if take_max and best > 0.0:
            if best_lowers_birth:
                lower_birth = best
            else:
                add_death = best
        birth = max(birth - lower_birth, 0.0)
        death += add_death
    return birth, death, total_mutation
