"""What a valid scenario asks of the machine, estimated before anything runs.

The schema (refractory.scenario) checks each value on its own; here the values are checked
together against what the kernels can represent and finish: clone counts are int64, days are
float64, a clone table has at most ``MAX_CLONE_SLOTS`` genotypes, and one patient's work and
one chunk's outputs must fit a budget. Each limit is a refusal with one paragraph naming the
file, the field, the estimate, the limit and the fix (``ScenarioError``), raised before any
output folder is made: ``check_work`` from ``compile_model``, ``check_memory`` from the
command line once the chunk size and traced patients are known.
"""

import math
from dataclasses import dataclass

from refractory.errors import ScenarioError, number
from refractory.kernels.model import P_COLUMNS, PatientModel
from refractory.scenario import Drug, Scenario
from refractory.settings import DEFAULT_SETTINGS, EngineSettings

#: Clone counts are int64; a step may overshoot the lethal size by e^MAX_LOG_GROWTH, so sizes
#: stay below 2^62 (4.6e18 cells) to leave that headroom below 2^63.
MAX_CELLS = float(2**62)
#: Days are float64: above 2^53 days consecutive whole days are no longer distinct, so a step
#: of a day (or a scan interval) would be lost to rounding.
MAX_DAYS = float(2**53)
#: Events of the event-by-event phase one patient may need (about 20 ns each: under a minute).
EVENT_BUDGET = 1e9
#: Exact-transition steps one patient may need (under a microsecond each: about a minute).
STEP_BUDGET = 1e8
#: Bytes of one chunk's output arrays, and of a batch's patients table, held in memory.
MEMORY_BUDGET = 8 * 2**30
#: log of float64's largest number: an Emax term (c / ec50)^hill must stay below it.
LOG_FLOAT_MAX = math.log(1.7976931348623157e308)
#: -log of float64's smallest normal number: the powers in the Emax curve stay within
#: e^(+-LOG_FLOAT_MIN), where neither overflows nor underflows.
LOG_FLOAT_MIN = -math.log(2.2250738585072014e-308)


@dataclass(frozen=True)
class Term:
    """One part of an estimate: its size, the field that drives it and how it arises."""

    size: float
    field: str
    how: str
    interval: bool = False  # the field is a time between things: raising it lowers the term


def check_work(
    scenario: Scenario, source: str = "<scenario>", settings: EngineSettings = DEFAULT_SETTINGS
) -> None:
    """Refuse a scenario whose counts, times, concentrations, genotypes, events or steps the
    kernels cannot represent or finish with the engine ``settings`` (each limit is stated in
    the README)."""
    _check_sizes(scenario, source)
    _check_days(scenario, source)
    for drug in scenario.drugs:
        _check_emax(scenario, drug, source)
    _check_genotypes(scenario, source, settings)
    below = number(float(settings.exact_below_cells))
    _refuse_over(
        event_terms(scenario, settings),
        EVENT_BUDGET,
        f"events of the event-by-event phase (below {below} cells)",
        source,
    )
    _refuse_over(step_terms(scenario, settings), STEP_BUDGET, "exact-transition steps", source)


def check_memory(
    model: PatientModel,
    patients: int,
    chunk_size: int,
    trace: int,
    source: str = "<scenario>",
) -> None:
    """Refuse a batch whose chunk of output arrays (the kernel's per-patient rows, scans and
    clone snapshots, and the traced patients' rows) or whose merged patients table would
    exceed ``MEMORY_BUDGET``."""
    per_patient, per_traced = output_bytes(model)
    count = min(patients, chunk_size)
    chunk = count * per_patient + min(trace, count) * per_traced
    if chunk > MEMORY_BUDGET:
        raise ScenarioError(
            source,
            f"one chunk of {count} patients needs about {_bytes(chunk)} of output arrays "
            f"({_bytes(per_patient)} per patient, {_bytes(per_traced)} more per traced "
            f"patient: {model.max_clones} clone slots, {_rows(model)} scans each), more "
            f"than the limit of {_bytes(MEMORY_BUDGET)}",
            "Use a smaller --chunk-size or --trace, or raise monitoring.scan_every_days "
            "(fewer scans per patient).",
            field="--chunk-size",
        )
    table = patients * P_COLUMNS * 8
    if table > MEMORY_BUDGET:
        raise ScenarioError(
            source,
            f"scenario.patients = {number(float(patients))} makes a patients table of about "
            f"{_bytes(table)} "
            f"({P_COLUMNS * 8} bytes a patient) that the batch holds in memory when it merges "
            f"its chunks, more than the limit of {_bytes(MEMORY_BUDGET)}",
            f"Lower patients to at most {MEMORY_BUDGET // (P_COLUMNS * 8)}, or run the batch "
            "in parts with --patient-range into separate folders.",
            field="scenario.patients",
        )


def output_bytes(model: PatientModel) -> tuple[int, int]:
    """Bytes of output arrays per patient and extra per traced patient, read off the arrays
    ``allocate_outputs`` makes (for no patient: no memory)."""
    from refractory.engine import allocate_outputs

    outputs = allocate_outputs(model, 0, 0)
    traced = ("trace_day", "trace_line", "trace_cells")
    per_row = {
        name: math.prod(array.shape[1:]) * array.itemsize
        for name, array in zip(outputs._fields, outputs, strict=True)
    }
    per_patient = sum(size for name, size in per_row.items() if name not in traced)
    return per_patient, sum(size for name, size in per_row.items() if name in traced)


def warnings(scenario: Scenario) -> list[str]:
    """Valid but probably unintended: a line whose birth-lowering effect on a sensitive cell
    exceeds the birth rate (birth is clipped at zero, so the excess does nothing except
    against cells that resist part of it)."""
    found = []
    birth = scenario.tumor.birth_rate
    for position, line in enumerate(scenario.lines, start=1):
        drugs = [d for d in scenario.drugs if d.name in line.drugs and d.effect == "birth"]
        effects = [peak_effect(scenario, d, line.dose_fraction) for d in drugs]
        combined = max(effects, default=0.0) if line.combine == "max" else math.fsum(effects)
        if combined > birth:
            names = " + ".join(d.name for d in drugs)
            found.append(
                f"line {position} ({line.name}): {names} lower the birth rate by up to "
                f"{number(combined)} per day, more than tumor.birth_rate ({number(birth)}); "
                "birth is clipped at 0, so a fully sensitive cell stops dividing and the "
                "excess only acts on cells that resist part of the effect. To kill beyond "
                'stopping division use effect = "death" or "kills_dividing".'
            )
    return found


def peak_effect(scenario: Scenario, drug: Drug, fraction: float | None = None) -> float:
    """The largest effect ``drug`` reaches on a fully sensitive cell: at the peak
    concentration of ``fraction`` x dose (default: the largest dose fraction of the lines
    that give it) for an Emax drug, else max_effect x fraction."""
    if fraction is None:
        fraction = _largest_fraction(scenario, drug)
    if drug.ec50 is None:
        return drug.max_effect * fraction
    log_ratio = drug.hill * (_log(peak_concentration(drug, fraction)) - _log(drug.ec50))
    return drug.max_effect / (1.0 + math.exp(min(-log_ratio, LOG_FLOAT_MAX)))


def peak_concentration(drug: Drug, fraction: float) -> float:
    """Highest concentration of an Emax drug: one dose x fraction held constant, or the
    steady-state peak of repeated doses, dose x fraction / (1 - 2^(-interval / half-life))."""
    if not drug.dosed:
        return drug.dose * fraction
    kept = -math.expm1(-math.log(2) * drug.interval_days / drug.half_life_days)
    return drug.dose * fraction / kept if kept > 0 else math.inf


def _log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


def event_terms(scenario: Scenario, settings: EngineSettings = DEFAULT_SETTINGS) -> list[Term]:
    """Expected or largest events of the event-by-event phase of one patient.

    Growing from one cell to ``EXACT_BELOW`` cells takes about EXACT_BELOW x (b + d) / (b - d)
    events (each moves the count by one, with drift (b - d) / (b + d)), after about d / (b - d)
    lineages that die out first, each of about (b + d) / (b - d) events. From treatment start
    a tumour can stay below EXACT_BELOW cells for the whole horizon (held near zero net
    growth), at up to EXACT_BELOW x the fastest per-cell event rate events per day.
    """
    tumor = scenario.tumor
    below = float(settings.exact_below_cells)
    terms = []
    if tumor.start == "single_cell":
        b, d = tumor.birth_rate, tumor.death_rate
        untreated = b + d + _untreated_moves(scenario)
        per_count = untreated / (b - d)
        terms.append(
            Term(
                (below + d / (b - d)) * per_count,
                "tumor.death_rate",
                f"growing from one cell to {number(below)} cells at birth {number(b)} and "
                f"death {number(d)} takes about {number(below)} x (b + d) / (b - d) = "
                f"{_sci(below * per_count)} events",
            )
        )
    if _treated_phase(scenario):
        rates = _cell_rates(scenario)
        horizon = scenario.scenario.horizon_days
        for rate in rates:
            terms.append(
                Term(
                    below * rate.size * horizon,
                    rate.field,
                    f"a tumour held below {number(below)} cells for horizon_days "
                    f"({number(horizon)}) at {rate.how} ({number(rate.size)} per cell per day) "
                    f"has up to {_sci(below * rate.size * horizon)} events",
                )
            )
    return terms


def step_terms(scenario: Scenario, settings: EngineSettings = DEFAULT_SETTINGS) -> list[Term]:
    """Largest exact-transition steps of one patient over the horizon.

    A step grows a clone by at most ``MAX_LOG_GROWTH`` in log and shrinks one by at most a
    factor e, so a clone that shrinks at rate r for the horizon and regrows needs about
    horizon x r x (1 + 1 / MAX_LOG_GROWTH) steps; moves allow ``MAX_SWITCH_STEP`` per cell
    per step, competition ``MAX_TOTAL_CHANGE`` of the births per step, a dosed drug a step
    of ``PK_STEP_FRACTION`` of its half-life and interval, and every scan and schedule
    switch ends a step.
    """
    if not _treated_phase(scenario):
        return []
    horizon = scenario.scenario.horizon_days
    regrow = 1 + 1 / settings.max_log_growth_per_step
    terms = [
        Term(horizon * rate.size * regrow, rate.field, f"{rate.how}: shrinking and regrowing")
        for rate in _death_rates(scenario)
    ]
    moves = _moves(scenario)
    if moves is not None:
        size = horizon * moves.size / settings.max_switch_step
        terms.append(Term(size, moves.field, f"{moves.how}: {_sci(size)} steps"))
    if scenario.competition is not None:
        size = horizon * scenario.tumor.birth_rate / settings.max_total_change_per_step
        terms.append(Term(size, "tumor.birth_rate", f"competition: {_sci(size)} steps"))
    for drug in scenario.drugs:
        if drug.dosed:
            shorter = (
                "interval_days" if drug.interval_days <= drug.half_life_days else ("half_life_days")
            )
            size = horizon / (settings.pk_step_fraction * getattr(drug, shorter))
            field = f'drug "{drug.name}".{shorter}'
            terms.append(Term(size, field, f"dosing: {_sci(size)} steps", interval=True))
    scans = horizon / scenario.monitoring.scan_every_days
    field = "monitoring.scan_every_days"
    terms.append(Term(scans, field, f"scans: {_sci(scans)}", interval=True))
    for position, line in enumerate(scenario.lines, start=1):
        if line.schedule == "intermittent":
            size = 2 * horizon / (line.days_on + line.days_off)
            field = f"line[{position}].days_on"
            terms.append(Term(size, field, f"schedule switches: {_sci(size)}", interval=True))
    return terms


def _cell_rates(scenario: Scenario) -> list[Term]:
    """Upper bounds of a cell's event rates per day after treatment start, by field: birth,
    death, each drug's added death, and moves; their sum is the fastest per-cell rate."""
    moves = _moves(scenario)
    birth = Term(scenario.tumor.birth_rate, "tumor.birth_rate", "birth")
    return [birth, *_death_rates(scenario), *([moves] if moves else [])]


def _death_rates(scenario: Scenario) -> list[Term]:
    """Death (with the persisters' factor) and each killing drug's largest added death."""
    tumor, persister = scenario.tumor, scenario.persister
    death = tumor.death_rate * (max(1.0, persister.death_fraction) if persister else 1.0)
    return [Term(death, "tumor.death_rate", "death")] + [
        Term(peak_effect(scenario, drug), f'drug "{drug.name}".max_effect', f'drug "{drug.name}"')
        for drug in scenario.drugs
        if drug.effect != "birth"
    ]


def _moves(scenario: Scenario) -> Term | None:
    """A cell's fastest rate of migrating plus switching phenotype (None without either)."""
    site, persister = scenario.sanctuary, scenario.persister
    moves = max(site.migration_in, site.migration_out) if site else 0.0
    if persister is not None:
        moves += max(persister.switch_on * (1 + persister.induction), persister.switch_off)
    if moves == 0:
        return None
    field = "sanctuary.migration_in" if site is not None else "persister.switch_on"
    return Term(moves, field, "moves (migration and switching)")


def _untreated_moves(scenario: Scenario) -> float:
    """Per-cell rate of moves of a cycling primary-site cell before treatment."""
    moves = scenario.sanctuary.migration_in if scenario.sanctuary else 0.0
    return moves + (scenario.persister.switch_on if scenario.persister else 0.0)


def _treated_phase(scenario: Scenario) -> bool:
    """Whether patients run to the horizon (untreated growth from one cell stops at
    detection)."""
    return bool(scenario.lines) or scenario.tumor.start == "cells"


def _largest_fraction(scenario: Scenario, drug: Drug) -> float:
    """The largest dose fraction of the lines that give ``drug`` (1 if none does)."""
    fractions = [line.dose_fraction for line in scenario.lines if drug.name in line.drugs]
    return max(fractions, default=1.0)


def _refuse_over(terms: list[Term], budget: float, what: str, source: str) -> None:
    """A refusal naming the largest term when the terms sum past ``budget``."""
    total = math.fsum(term.size for term in terms)
    if not total > budget:  # also catches nan
        return
    worst = max(terms, key=lambda term: term.size if math.isfinite(term.size) else math.inf)
    raise ScenarioError(
        source,
        f"one patient may need {_sci(total)} {what}, more than the limit of {_sci(budget)} "
        f"per patient (about a minute of one core); the largest part: {worst.how}",
        f"{'Raise' if worst.interval else 'Lower'} {worst.field}, or lower "
        "scenario.horizon_days (rates are per cell per day).",
        field=worst.field,
    )


def _check_sizes(scenario: Scenario, source: str) -> None:
    """Cell numbers the kernel counts in int64 stay below ``MAX_CELLS``."""
    tumor = scenario.tumor
    sizes = [("tumor.lethal_cells", tumor.lethal_cells)]
    if tumor.start == "cells":
        sizes.append(("the total cells of [[tumor.clone]]", tumor.treatment_start_cells))
    for field, size in sizes:
        if size > MAX_CELLS:
            raise ScenarioError(
                source,
                f"{field} = {number(float(size))} is above the limit of {_sci(MAX_CELLS)} "
                "cells (2^62: clone counts are 64-bit integers, with room for a step's "
                "overshoot)",
                f"Lower {field.removeprefix('tumor.')} to at most {_sci(MAX_CELLS)}.",
                field=field if field.startswith("tumor.") else "tumor.clone",
            )


def _check_days(scenario: Scenario, source: str) -> None:
    """The horizon and the expected time to detection stay below ``MAX_DAYS``; a patient's
    scans fit the memory budget on their own."""
    horizon = scenario.scenario.horizon_days
    if horizon > MAX_DAYS:
        raise ScenarioError(
            source,
            f"scenario.horizon_days = {number(horizon)} is above the limit of "
            f"{_sci(MAX_DAYS)} days (2^53: beyond it days are float64 numbers too coarse "
            "to step by a day)",
            f"Lower horizon_days in [scenario] to at most {_sci(MAX_DAYS)}.",
            field="scenario.horizon_days",
        )
    tumor = scenario.tumor
    if tumor.start == "single_cell":
        days = math.log(tumor.detection_cells) / (tumor.birth_rate - tumor.death_rate)
        if not days <= MAX_DAYS:
            raise ScenarioError(
                source,
                f"growing to tumor.detection_cells ({number(tumor.detection_cells)}) at net "
                f"growth birth_rate - death_rate = {number(tumor.birth_rate - tumor.death_rate)}"
                f" per day takes about {_sci(days)} days, above the limit of "
                f"{_sci(MAX_DAYS)} days (2^53, float64 days)",
                "Raise birth_rate or lower death_rate in [tumor].",
                field="tumor.birth_rate",
            )
    rows = horizon / scenario.monitoring.scan_every_days + 2
    row_bytes = 5 * 8
    if rows * row_bytes > MEMORY_BUDGET:
        raise ScenarioError(
            source,
            f"monitoring.scan_every_days = {number(scenario.monitoring.scan_every_days)} over "
            f"horizon_days = {number(horizon)} makes {_sci(rows)} scans per patient "
            f"({_bytes(rows * row_bytes)} of scan rows for one patient), more than the limit "
            f"of {_bytes(MEMORY_BUDGET)}",
            f"Raise scan_every_days to at least {_sci(horizon * row_bytes / MEMORY_BUDGET)} "
            "or lower horizon_days.",
            field="monitoring.scan_every_days",
        )


def _check_emax(scenario: Scenario, drug: Drug, source: str) -> None:
    """The Emax curve's powers are float64 numbers: the kernel computes (c / ec50)^hill at
    the concentration c, the compiler c^hill and ec50^hill at a constant one, so each of
    peak c / ec50, c and ec50 raised to hill (and to 1) lies within float64's range."""
    if drug.ec50 is None:
        return
    peak = peak_concentration(drug, _largest_fraction(scenario, drug))
    logs = {"peak concentration / ec50": _log(peak) - _log(drug.ec50), "ec50": _log(drug.ec50)}
    if not drug.dosed:
        logs["concentration"] = _log(peak)
    for name, log_value in logs.items():
        if max(1.0, drug.hill) * abs(log_value) < LOG_FLOAT_MIN:
            continue
        raise ScenarioError(
            source,
            f'drug "{drug.name}": ({name})^hill = e^{_sci(drug.hill * log_value)} (peak '
            f"concentration {_sci(peak)}, ec50 {number(drug.ec50)}, hill {number(drug.hill)})"
            " is outside float64's range, the limit of 1e-308 to 1.8e308, so the Emax curve "
            "c^hill / (c^hill + ec50^hill) cannot be computed",
            "Bring dose and ec50 closer to 1 (concentrations are in any unit shared by dose "
            "and ec50), or lower hill, in the [[drug]] table.",
            field=f'drug "{drug.name}".ec50',
        )


def expected_genotypes(scenario: Scenario) -> float:
    """About how many distinct genotypes arise in a patient: with M divisions and mutation
    rates u, a set of j mechanisms arises about M x e_j(u) times (e_j the elementary
    symmetric polynomial: sum of products of j rates), and at most C(k, j) such sets exist,
    so sum over j of min(C(k, j), M e_j) (exact for equal rates). M is the cells born by the
    lethal size, lethal_cells x b / (b - d), or for a shrinking tumour start x b x horizon."""
    tumor = scenario.tumor
    rates = [m.mutation_rate for m in scenario.mechanisms if m.mutation_rate > 0]
    b, d = tumor.birth_rate, tumor.death_rate
    if b > d:
        divisions = tumor.lethal_cells * b / (b - d)
    else:
        divisions = tumor.treatment_start_cells * b * scenario.scenario.horizon_days
    symmetric = [1.0] + [0.0] * len(rates)
    for u in rates:
        for j in range(len(rates), 0, -1):
            symmetric[j] += symmetric[j - 1] * u
    return 1.0 + math.fsum(
        min(math.comb(len(rates), j), divisions * symmetric[j]) for j in range(1, len(rates) + 1)
    )


def _check_genotypes(scenario: Scenario, source: str, settings: EngineSettings) -> None:
    """The genotypes (times the site and phenotype states) expected fit the clone table."""
    states = (2 if scenario.sanctuary else 1) * (2 if scenario.persister else 1)
    slots = expected_genotypes(scenario) * states
    if slots <= settings.max_clone_slots:
        return
    mutating = sum(m.mutation_rate > 0 for m in scenario.mechanisms)
    raise ScenarioError(
        source,
        f"{mutating} mechanisms that arise by mutation are expected to make about "
        f"{_sci(slots)} distinct clones (genotypes x {states} site and phenotype states) "
        "before the tumour reaches tumor.lethal_cells, more than the limit of "
        f"{settings.max_clone_slots} clone slots a patient has",
        "Use fewer mechanisms with mutation_rate > 0, or lower their mutation rates.",
        field="mechanism",
    )


def _rows(model: PatientModel) -> str:
    return _sci(model.horizon_days / model.scan_every_days + 2)


def _sci(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "an unbounded number of"


def _bytes(size: float) -> str:
    if not math.isfinite(size):
        return "an unbounded number of bytes"
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(int(math.log(max(size, 1), 1024)), len(units) - 1)
    return f"{size / 1024**power:.3g} {units[power]}" if power else f"{int(size)} bytes"
