"""Human summary of a validated scenario, printed by `refractory check FILE`."""

import math

from refractory.errors import number
from refractory.limits import warnings
from refractory.scenario import Drug, Line, Mechanism, Scenario, Tumor


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
    lines += [f"  {_drug(scenario, drug)}" for drug in scenario.drugs] or ["  none"]
    lines.append(f"Lines ({len(scenario.lines)}):")
    lines += [
        f"  {position}. {_line(scenario, line)}"
        for position, line in enumerate(scenario.lines, start=1)
    ] or ["  none: untreated"]
    if scenario.adherence.miss_probability > 0:
        lines.append(
            f"Adherence: each scheduled dose of a dosed drug is missed with probability "
            f"{number(scenario.adherence.miss_probability)}"
        )
    if scenario.competition is not None:
        lines.append(
            f"Competition: every clone's birth rate x max(0, 1 - total cells / "
            f"{number(scenario.competition.carrying_capacity)}) (carrying capacity)"
        )
    lines += _states(scenario)
    watch = scenario.monitoring
    visible = "set" if watch.visible_cells is not None else "default: 1% of the starting burden"
    lines.append(
        f"Monitoring: scan every {number(watch.scan_every_days)} days; "
        f"{_progression(scenario)}; partial response at or below "
        f"{_percent(1 - watch.partial_response_decrease)} of the line's baseline; "
        f"no visible disease below {number(scenario.effective_visible_cells)} cells ({visible})"
        + (
            f"; measured burden x lognormal noise of CV {number(watch.measurement_cv)}"
            if watch.measurement_cv > 0
            else ""
        )
    )
    lines += _variation(scenario)
    lines += [f"Warning: {warning}" for warning in warnings(scenario)]
    return "\n".join(lines)


def _variation(scenario: Scenario) -> list[str]:
    """The cohort's drawn fields, the sweep's points and the trial's arms, if any (each
    patient runs in every point and arm)."""
    lines = []
    cohort = scenario.cohort
    if cohort is not None:
        lines.append("Cohort: each patient draws its own")
        lines += [f"  {path}: {spec.describe()}" for path, spec in cohort.axes.items()]
        if cohort.correlation is not None:
            lines.append(
                "  correlated (Gaussian copula) between "
                + ", ".join(cohort.correlation.paths)
                + ": "
                + "; ".join(
                    " ".join(number(float(x)) for x in row) for row in cohort.correlation.matrix
                )
            )
    sweep = scenario.sweep
    if sweep is not None:
        from refractory.variation import sweep_points

        count = len(sweep_points(sweep, scenario.scenario.seed))
        how = "a grid" if sweep.design == "grid" else f"a {sweep.design.replace('_', ' ')} design"
        lines.append(f"Sweep: {count} points of {how}, every patient at each:")
        for path, axis in sweep.axes.items():
            if axis.values is not None:
                shown = ", ".join(number(float(v)) for v in axis.values)
            else:
                shown = f"{number(axis.low)} to {number(axis.high)} ({axis.scale} scale)"
            lines.append(f"  {path}: {shown}")
    if scenario.arms:
        lines.append(f"Arms ({len(scenario.arms)}), the same virtual patients under each:")
        for arm in scenario.arms:
            changes = ", ".join(f"{path} = {value}" for path, value in arm.changes.items())
            lines.append(f'  "{arm.label}": {changes or "the scenario as written"}')
    return lines


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


_EFFECTS = {
    "death": "raises the death rate",
    "birth": "lowers the birth rate",
    "kills_dividing": "raises the death rate x the crowding factor (1 - N/K)",
}


def _drug(scenario: Scenario, drug: Drug) -> str:
    """What a drug does and how it is given."""
    text = f"{drug.name}: {_EFFECTS[drug.effect]} by up to {number(drug.max_effect)} per day"
    if drug.effect == "kills_dividing" and scenario.competition is None:
        text += " (no [competition]: the factor is 1, as for a death drug)"
    if drug.ec50 is not None:
        hill = f", hill {number(drug.hill)}" if drug.hill != 1.0 else ""
        text += f" (Emax curve, ec50 {number(drug.ec50)}{hill})"
    if drug.dosed:
        text += (
            f"; dose {number(drug.dose)} every {number(drug.interval_days)} days, half-life "
            f"{number(drug.half_life_days)} days"
        )
    elif drug.dose is not None:
        text += f"; held at concentration {number(drug.dose)}"
    return text


def _line(scenario: Scenario, line: Line) -> str:
    """A line's drugs, schedule, dose and stop rule."""
    combined = {"add": "effects add", "max": "strongest drug acts"}[line.combine]
    drugs = " + ".join(line.drugs) + (f" ({combined})" if len(line.drugs) > 1 else "")
    parts = [f"{line.name}: {drugs}"]
    if line.treatment_free_days > 0:
        parts.append(f"after {number(line.treatment_free_days)} days without treatment")
    if line.dose_fraction != 1.0:
        parts.append(f"at {_percent(line.dose_fraction)} of each dose")
    if line.schedule == "intermittent":
        parts.append(
            f"intermittent: {number(line.days_on)} days on, {number(line.days_off)} days off"
        )
    elif line.schedule == "adaptive":
        parts.append(
            f"adaptive: paused when the measured burden falls below "
            f"{_percent(line.pause_fraction)} of the line's baseline, resumed at "
            f"{_percent(line.resume_fraction)} of it"
        )
    else:
        parts.append("continuous")
    if line.max_days is not None:
        parts.append(f"a fixed course of {number(line.max_days)} days (or until progression)")
    else:
        parts.append(f"until {line.until}")
    return ", ".join(parts)


def _progression(scenario: Scenario) -> str:
    """The progression rule with its reference: an adaptive line always judges against its
    baseline (regrowth during a pause is not progression); others per the file."""
    threshold = _percent(1 + scenario.monitoring.progression_increase)
    reference = scenario.monitoring.progression_reference
    adaptive = [i for i, line in enumerate(scenario.lines, 1) if line.schedule == "adaptive"]
    if not adaptive or reference == "baseline":
        return f"progression above {threshold} of the line's {reference}"
    listed = ", ".join(map(str, adaptive))
    return (
        f"progression above {threshold} of the line's nadir (the adaptive line {listed}: of "
        "its baseline)"
    )


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
