"""Slow plain-Python twins of the compartment engine's pieces, for the tests."""

import math

import numpy as np


def genotype_rates(model, genotype: int, line: int) -> tuple[float, float, float]:
    """Birth, death and total mutation probability, written the obvious way."""
    carried = [i for i in range(len(model.mutation_rate)) if genotype >> i & 1]
    birth = model.birth_rate * math.prod(model.birth_factor[i] for i in carried)
    mutation = sum(u for i, u in enumerate(model.mutation_rate) if i not in carried)
    death = model.death_rate
    if line < 0:
        return birth, death, mutation
    effects = []
    for j in np.flatnonzero(model.line_drugs[line]):
        remaining = math.prod(1.0 - model.resistance[i, j] for i in carried)
        effects.append((model.drug_max_effect[j] * remaining, model.drug_lowers_birth[j] == 1))
    if model.line_takes_max[line] and effects:
        effects = [max(effects, key=lambda e: e[0])]
    birth = max(birth - sum(e for e, lowers in effects if lowers), 0.0)
    death += sum(e for e, lowers in effects if not lowers)
    return birth, death, mutation


def gillespie_with_mutation(rng, cells, birth, death, u, t):
    """Event-by-event: one clone whose divisions give a mutant daughter with probability u.

    Mutants (one neutral mechanism, same rates) are not mutated further. Returns the parent
    and mutant counts at time t.
    """
    parent, mutant, now = cells, 0, 0.0
    while parent + mutant > 0:
        rate = (birth + death) * (parent + mutant)
        now += rng.exponential(1.0 / rate)
        if now >= t:
            break
        if rng.random() * (parent + mutant) < parent:
            if rng.random() < death / (birth + death):
                parent -= 1
            elif rng.random() < u:
                mutant += 1
            else:
                parent += 1
        else:
            mutant += 1 if rng.random() < birth / (birth + death) else -1
    return parent, mutant
