"""Human summary of a validated scenario, printed by `refractory check FILE`."""

import math

from refractory.errors import number
from refractory.limits import warnings
from refractory.scenario import Line, Mechanism, Scenario, Tumor


def describe(scenario: Scenario) -> str:
    """A few lines saying what the scenario will simulate, in the file's own terms."""
    meta = scenario.scenario
    lines = [
        f'Scenario "{meta.name}": {meta.patients} patients, seed {meta.seed}, '
        f'engine "{meta.engine}", horizon {number(meta.horizon_days)} days from treatment start'
    ]
    if meta.description:
        lines.append(f"  {meta.description}")
    lines += _tumor(scenario.tumor)
    lines.append(f"Mechanisms ({len(scenario.mechanisms)}):")
    lines += [f"  {_mechanism(scenario, m)}" for m in scenario.mechanisms] or [
        "  none: every cell is fully sensitive"
    ]
    lines.append(f"Drugs ({len(scenario.drugs)}):")
    lines += [
        f"  {drug.name}: {'raises the death' if drug.effect == 'death' else 'lowers the birth'}"
        f" rate by up to {number(drug.max_effect)} per day"
        for drug in scenario.drugs
    ] or ["  none"]
    lines.append(f"Lines ({len(scenario.lines)}):")
    lines += [
        f"  {position}. {_line(line)}" for position, line in enumerate(scenario.lines, start=1)
    ] or ["  none: untreated"]
    lines += _states(scenario)
    watch = scenario.monitoring
    visible = "set" if watch.visible_cells is not None else "default: 1% of the starting burden"
    lines.append(
        f"Monitoring: scan every {number(watch.scan_every_days)} days; progression above "
        f"{_percent(1 + watch.progression_increase)} of the line's nadir; partial response at "
        f"or below {_percent(1 - watch.partial_response_decrease)} of the line's baseline; "
        f"no visible disease below {number(scenario.effective_visible_cells)} cells ({visible})"
    )
    lines += [f"Warning: {warning}" for warning in warnings(scenario)]
    return "\n".join(lines)


def _tumor(tumor: Tumor) -> list[str]:
    birth, death = tumor.birth_rate, tumor.death_rate
    net = birth - death
    growth = f"doubling every {number(round(math.log(2) / net, 1))} days" if net > 0 else "shrinks"
    lines = [
        f"Tumour: birth {number(birth)}, death {number(death)} per cell per day; net growth "
        f"{number(net)} per day ({growth}); s = 1 - d/b = {number(round(1 - death / birth, 4))}"
    ]
    if tumor.start == "single_cell":
        lines.append(
            f"  grows from one cell; treatment starts at detection "
            f"({number(tumor.detection_cells)} cells); lethal at {number(tumor.lethal_cells)} cells"
        )
    else:
        clones = "; ".join(
            f"{clone.cells} {'+'.join(clone.mechanisms) or 'sensitive'}" for clone in tumor.clones
        )
        lines.append(
            f"  starts from {number(tumor.treatment_start_cells)} cells ({clones}); treatment from "
            f"day 0; lethal at {number(tumor.lethal_cells)} cells"
        )
    return lines


def _states(scenario: Scenario) -> list[str]:
    """The sanctuary site and the persister phenotype, if the scenario has them."""
    lines = []
    site, persister = scenario.sanctuary, scenario.persister
    if site:
        start = (
            f"{_percent(site.share)} of the initial cells"
            if site.share
            else "filled by migration from the primary site"
        )
        reach = ", ".join(f"{d.name} {_percent(site.exposure_of(d.name))}" for d in scenario.drugs)
        lines.append(
            f"Sanctuary: {start}; drugs act there at {reach or 'no drug'} of their effect; "
            f"migration {number(site.migration_in)} in and {number(site.migration_out)} out per "
            f"cell per day; {'seen' if site.visible else 'missed'} by scans"
        )
    if persister:
        shielded = ", ".join(
            f"{d.name} {_percent(persister.protection_from(d.name))}" for d in scenario.drugs
        )
        lines.append(
            f"Persisters: cells switch in at {number(persister.switch_on)} per day (x "
            f"{number(1 + persister.induction)} under a drug at full effect) and out at "
            f"{number(persister.switch_off)}; they divide at {_percent(persister.birth_fraction)}"
            f" and die at {_percent(persister.death_fraction)} of the tumour's rates; escape "
            f"{shielded or 'no drug'} of each drug's effect"
        )
    return lines


def _line(line: Line) -> str:
    combined = {"add": "effects add", "max": "strongest drug acts"}[line.combine]
    drugs = " + ".join(line.drugs) + (f" ({combined})" if len(line.drugs) > 1 else "")
    return f"{line.name}: {drugs}, until {line.until}"


def _mechanism(scenario: Scenario, mechanism: Mechanism) -> str:
    resists = ", ".join(f"{drug} {_percent(f)}" for drug, f in mechanism.resists) or "nothing"
    text = (
        f"{mechanism.name}: mutation rate {number(mechanism.mutation_rate)} per division; "
        f"resists {resists}; fitness cost {_percent(mechanism.fitness_cost)}"
    )
    tumor = scenario.tumor
    if tumor.start == "single_cell" and mechanism.mutation_rate > 0:
        # Growing to N cells takes about N * b / (b - d) divisions, each mutating with rate u.
        s = 1 - tumor.death_rate / tumor.birth_rate
        arising = mechanism.mutation_rate * tumor.detection_cells / s
        text += f"; about {arising:.3g} mutations arise before detection"
    return text


def _percent(fraction: float) -> str:
    return f"{number(round(100 * fraction, 2))}%"
