"""Treatment as given: drug exposure over time and the burden a scan measures.

A dosed drug (one with a dosing interval) acts through its concentration: each dose taken adds
``dose x dose_fraction`` to a one-compartment level that decays at the first-order rate
ln 2 / half-life, and the effect is the Emax (Hill) curve of that level. Other drugs act at a
constant effect while the line's schedule has them on. The vector these functions fill is
the ``exposure`` the engines read (kernels.model.PatientModel).
"""

import math

import numpy as np
from numba import njit

from refractory.kernels.model import L_DOSES_SCHEDULED, L_DOSES_TAKEN
from refractory.kernels.random import normal, uniform


@njit(cache=True)
def concentration(level, decay, elapsed):
    """Concentration ``elapsed`` days after it was ``level`` (first-order elimination)."""
    return level * math.exp(-decay * elapsed)


@njit(cache=True)
def emax(max_effect, conc, ec50, hill):
    """Effect at concentration ``conc``: max_effect x c^h / (c^h + ec50^h)."""
    if conc <= 0.0:
        return 0.0
    x = (conc / ec50) ** hill
    return max_effect * x / (1.0 + x)


@njit(cache=True)
def fill_exposure(model, line, drug_on, level, dosed_at, now, exposure):
    """Write the exposure at ``now``: dosed drugs by their concentration (they wash out after
    the line stops), the line's other drugs at their constant effect while ``drug_on``."""
    nd = model.drug_max_effect.shape[0]
    for j in range(nd):
        effect = 0.0
        if model.drug_interval[j] > 0.0:
            conc = concentration(level[j], model.drug_decay[j], now - dosed_at[j])
            if conc > model.washed_out * model.drug_ec50[j]:
                effect = emax(
                    model.drug_max_effect[j], conc, model.drug_ec50[j], model.drug_hill[j]
                )
        elif drug_on:
            effect = model.line_exposure[line, j]
        exposure[j] = effect
    exposure[nd] = model.line_exposure[line, nd]
    exposure[nd + 1] = 1.0


@njit(cache=True)
def dosed_drug_acting(model, level, dosed_at, now):
    """Whether some dosed drug is above its washed-out level (steps must then be short)."""
    for j in range(model.drug_interval.shape[0]):
        if model.drug_interval[j] > 0.0 and level[j] > 0.0:
            conc = concentration(level[j], model.drug_decay[j], now - dosed_at[j])
            if conc > model.washed_out * model.drug_ec50[j]:
                return True
    return False


@njit(cache=True)
def schedule_doses(model, line, now, next_dose):
    """First doses of the line's dosed drugs at ``now`` (``line`` = -1: stop all doses)."""
    for j in range(next_dose.shape[0]):
        given = line >= 0 and model.line_drugs[line, j] == 1 and model.drug_interval[j] > 0.0
        next_dose[j] = now if given else np.inf


@njit(cache=True)
def take_doses(state, model, line, now, next_dose, level, dosed_at, line_row):
    """Give every dose due at ``now`` (each missed with the adherence probability), count
    them in the line's row and schedule the next ones."""
    fraction = model.line_dose_fraction[line]
    for j in range(next_dose.shape[0]):
        if next_dose[j] > now:
            continue
        line_row[L_DOSES_SCHEDULED] += 1.0
        missed = model.miss_probability > 0.0 and uniform(state) < model.miss_probability
        if not missed:
            conc = concentration(level[j], model.drug_decay[j], now - dosed_at[j])
            level[j] = conc + model.drug_dose[j] * fraction
            dosed_at[j] = now
            line_row[L_DOSES_TAKEN] += 1.0
        next_dose[j] = now + model.drug_interval[j]


@njit(cache=True)
def measure(state, cells, cv):
    """A measured burden: the true one times lognormal noise of mean 1 and coefficient of
    variation ``cv`` (exact when cv = 0, drawing nothing)."""
    if cv == 0.0:
        return cells
    variance = math.log1p(cv * cv)
    return cells * math.exp(math.sqrt(variance) * normal(state) - 0.5 * variance)
