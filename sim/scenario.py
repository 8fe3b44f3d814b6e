"""Scenario files: TOML read with tomllib and validated into frozen pydantic models.

Every leaf type below carries its rule as text, so an invalid value is reported as
"<field> must be <rule>; got <value>" (see sim.errors) instead of pydantic's wording.
"""

import hashlib
import json
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_serializer,
    model_validator,
)

from refractory.errors import Problem, ScenarioError, from_validation_error, number, quoted

#: Simulation engines a scenario may ask for; add a name here when an engine is added.
ENGINES = ("compartment", "agent")
STARTS = ("single_cell", "cells")
#: What a drug's effect does: adds to death, lowers birth, or adds to death x the crowding
#: factor 1 - N/K of competition (it kills dividing cells, which crowding makes fewer).
EFFECTS = ("death", "birth", "kills_dividing")
COMBINES = ("add", "max")
STOP_RULES = ("progression",)
SCHEDULES = ("continuous", "intermittent", "adaptive")
REFERENCES = ("nadir", "baseline")
#: Genotypes are bitmasks of mechanisms in an int64 (bits 60 and 61 hold site and phenotype).
MAX_MECHANISMS = 60

_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _typed(base: Any, rule: str, check: Callable[[Any], Any]) -> Any:
    """A type checked by `check` (before pydantic's own, now certain, coercion to `base`),
    with its rule kept as the field description for "missing" messages."""
    return Annotated[base, Field(description=rule), BeforeValidator(check)]


def _finite(value: Any) -> float | None:
    """The value as a finite float, or None for non-numbers, booleans, nan and inf."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def _numeric(
    low: float,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    whole: bool = False,
    unit: str = "",
) -> tuple[str, Callable[[Any], Any]]:
    """Rule text and checker for a finite number (a whole one if `whole`) within bounds."""
    if high is None:
        kind = "a whole number" if whole else "a finite number"
        rule = f"{kind} {'>' if open_low else '>='} {number(low)}"
    else:
        left, right = "(["[not open_low], ")]"[not open_high]
        rule = f"a number in {left}{number(low)}, {number(high)}{right}"
    rule += f" ({unit})" if unit else ""

    def check(value: Any) -> Any:
        x = _finite(value)
        ok = (
            x is not None
            and (x > low if open_low else x >= low)
            and (high is None or (x < high if open_high else x <= high))
            and (not whole or x.is_integer())
        )
        if not ok:
            raise Problem(f"must be {rule}", given=value)
        if whole:
            return value if isinstance(value, int) else int(x)
        return x

    return rule, check


def _number(low: float, high: float | None = None, **options: Any) -> Any:
    """A float (or int, with whole=True) field type; see `_numeric`."""
    return _typed(int if options.get("whole") else float, *_numeric(low, high, **options))


def _choice(options: tuple[str, ...]) -> Any:
    """A string field limited to `options`."""
    rule = f"one of {quoted(options)}"

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Problem(f"must be {rule}", given=value)
        return value

    return _typed(str, rule, check)


def _text(rule: str, *, nonempty: bool) -> Any:
    """A free-text string field."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or (nonempty and not value.strip()):
            raise Problem(f"must be {rule}", given=value)
        return value

    return _typed(str, rule, check)


_NAME_RULE = 'a name made of letters, digits, "_", "." and "-" (no spaces; "+" joins names)'


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise Problem(f"must be {_NAME_RULE}", given=value)
    return value


def _names(kind: str, *, nonempty: bool) -> Any:
    """A list of distinct `kind` names, e.g. the drugs of a line."""
    rule = f'a list of distinct {kind} names such as ["A", "B"]'

    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise Problem(f"must be {rule}", given=value)
        if nonempty and not value:
            raise Problem(f"must name at least one {kind}", given=value)
        for position, item in enumerate(value):
            try:
                _check_name(item)
            except Problem as problem:
                raise Problem(problem.text, given=item, loc=(position,)) from None
        repeated = sorted({item for item in value if value.count(item) > 1})
        if repeated:
            raise Problem(
                f"must not name a {kind} twice ({quoted(repeated)} repeated)",
                given=value,
                fix=f"Remove the repeated {kind} names.",
            )
        return tuple(value)

    return _typed(tuple[str, ...], rule, check)


def _per_drug(unit: str) -> Any:
    """Drug name -> a number in [0, 1] (``unit`` says what it means); kept as pairs so models
    hash."""
    fraction_rule, fraction = _numeric(0, 1, unit=unit)
    rule = f"a table of drug name = {fraction_rule}, such as {{ A = 1.0 }}"

    def check(value: Any) -> tuple[tuple[str, float], ...]:
        if not isinstance(value, dict):
            raise Problem(f"must be {rule}", given=value)
        pairs = []
        for drug, amount in value.items():
            try:
                pairs.append((_check_name(drug), fraction(amount)))
            except Problem as problem:
                raise Problem(problem.text, given=problem.given, loc=(drug,)) from None
        return tuple(pairs)

    serialize = PlainSerializer(dict, return_type=dict[str, float])
    return Annotated[_typed(tuple[tuple[str, float], ...], rule, check), serialize]


def _flag() -> Any:
    """A TOML boolean."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Problem("must be true or false", given=value)
        return value

    return _typed(bool, "true or false", check)


Name = _typed(str, _NAME_RULE, _check_name)
CellCount = _number(1, unit="cells")


class _Table(BaseModel):
    """A TOML table: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScenarioMeta(_Table):
    """[scenario]: what to run and how many times."""

    name: _text("a non-empty string", nonempty=True)
    patients: _number(1, whole=True, unit="simulated patients") = 100
    seed: _number(0, whole=True, unit="random seed") = 0
    horizon_days: _number(0, open_low=True, unit="days from treatment start") = 3650.0
    engine: _choice(ENGINES) = ENGINES[0]
    description: _text("a string", nonempty=False) = ""


class Clone(_Table):
    """[[tumor.clone]]: an initial population carrying some mechanisms."""

    mechanisms: _names("mechanism", nonempty=False) = ()
    cells: _number(1, whole=True, unit="cells")


class Tumor(_Table):
    """[tumor]: growth rates and how the tumour starts."""

    birth_rate: _number(0, open_low=True, unit="per cell per day")
    death_rate: _number(0, unit="per cell per day")
    start: _choice(STARTS) = STARTS[0]
    detection_cells: CellCount = 1e9
    lethal_cells: CellCount = 1e12
    clones: tuple[Clone, ...] = Field(default=(), alias="clone")

    @property
    def treatment_start_cells(self) -> float:
        """Tumour burden when treatment begins: detection size, or the clones' total."""
        if self.start == "cells":
            return float(sum(clone.cells for clone in self.clones))
        return self.detection_cells

    @model_validator(mode="after")
    def _consistent(self) -> "Tumor":
        """The start mode, clones, and size thresholds must fit together."""
        if self.start == "single_cell" and self.clones:
            raise Problem(
                f'is only allowed with start = "cells", but start = "single_cell" and '
                f"{len(self.clones)} [[tumor.clone]] table(s) are given",
                loc=("clone",),
                fix='Set start = "cells" in [tumor], or remove the [[tumor.clone]] tables.',
            )
        if self.start == "cells" and not self.clones:
            raise Problem(
                'needs at least one [[tumor.clone]] table when start = "cells"; none is given',
                loc=("clone",),
                fix='Add [[tumor.clone]] tables with cells = ..., or use start = "single_cell".',
            )
        if self.start == "single_cell" and self.death_rate >= self.birth_rate:
            raise Problem(
                f"must be below tumor.birth_rate ({number(self.birth_rate)}) when "
                'start = "single_cell", or the tumour never grows to detection',
                given=self.death_rate,
                loc=("death_rate",),
                fix="Lower death_rate or raise birth_rate in [tumor].",
            )
        floor, floor_name = self.detection_cells, "tumor.detection_cells"
        if self.start == "cells" and self.treatment_start_cells >= floor:
            floor, floor_name = self.treatment_start_cells, "the total cells of the clones"
        if self.lethal_cells <= floor:
            raise Problem(
                f"must be greater than {floor_name} ({number(floor)})",
                given=self.lethal_cells,
                loc=("lethal_cells",),
                fix=f"Raise lethal_cells in [tumor] or lower {floor_name}.",
            )
        return self


class Mechanism(_Table):
    """[[mechanism]]: a heritable alteration that cells gain by mutation."""

    name: Name
    mutation_rate: _number(0, 1, unit="a probability per division") = 0.0
    resists: _per_drug("fraction of the drug's effect removed") = ()
    fitness_cost: _number(0, 1, open_high=True, unit="fractional loss of birth rate") = 0.0

    def resistance(self, drug: str) -> float:
        """Fraction of `drug`'s effect this mechanism removes (0 when not listed)."""
        return dict(self.resists).get(drug, 0.0)


class Drug(_Table):
    """[[drug]]: a drug and its maximal effect on a fully sensitive cell."""

    name: Name
    effect: _choice(EFFECTS) = EFFECTS[0]
    max_effect: _number(0, unit="per day")
    dose: _number(0, open_low=True, unit="concentration units") | None = None
    interval_days: _number(0, open_low=True, unit="days between doses") | None = None
    half_life_days: _number(0, open_low=True, unit="elimination half-life in days") | None = None
    ec50: _number(0, open_low=True, unit="concentration giving half the maximal effect") | None = (
        None
    )
    hill: _number(0, open_low=True, unit="Hill coefficient") = 1.0

    @property
    def dosed(self) -> bool:
        """Given as repeated doses with first-order elimination (else exposure is constant)."""
        return self.interval_days is not None

    @model_validator(mode="after")
    def _exposure(self) -> "Drug":
        """Dosing needs both its times, and a dose acts only through an Emax curve."""
        pairs = (("interval_days", "half_life_days"), ("half_life_days", "interval_days"))
        for key, other in pairs:
            if getattr(self, key) is not None and getattr(self, other) is None:
                raise Problem(
                    f"is required when {key} is given (repeated dosing needs both)",
                    loc=(other,),
                    fix=f"Add {other} = ... to the [[drug]] table, or remove {key}.",
                )
        needs = (("ec50", "dose"), ("dose", "ec50"), ("interval_days", "dose"))
        for key, required in needs:
            if getattr(self, key) is not None and getattr(self, required) is None:
                raise Problem(
                    f"is required when {key} is given (the effect is max_effect x "
                    "c^hill / (c^hill + ec50^hill) of the concentration c made by the dose)",
                    loc=(required,),
                    fix=f"Add {required} = ... to the [[drug]] table, or remove {key}.",
                )
        if self.hill != 1.0 and self.ec50 is None:
            raise Problem(
                "only applies to an Emax curve, which needs ec50 and dose",
                given=self.hill,
                loc=("hill",),
                fix="Add ec50 and dose to the [[drug]] table, or remove hill.",
            )
        return self


class Line(_Table):
    """[[line]]: one line of therapy, given until the stop rule fires."""

    drugs: _names("drug", nonempty=True)
    combine: _choice(COMBINES) = COMBINES[0]
    until: _choice(STOP_RULES) = STOP_RULES[0]
    name: _text("a non-empty string", nonempty=True) = ""
    dose_fraction: _number(0, open_low=True, unit="fraction of each drug's full dose") = 1.0
    schedule: _choice(SCHEDULES) = SCHEDULES[0]
    days_on: _number(0, open_low=True, unit="days on drug per cycle") | None = None
    days_off: _number(0, open_low=True, unit="days off drug per cycle") | None = None
    pause_below: (
        _number(0, 1, open_low=True, open_high=True, unit="fraction of the line's baseline") | None
    ) = None
    resume_at: _number(0, open_low=True, unit="fraction of the line's baseline") | None = None
    max_days: _number(0, open_low=True, unit="days from the line's start") | None = None
    treatment_free_days: _number(0, unit="days without treatment before the line") = 0.0

    @property
    def pause_fraction(self) -> float:
        """Adaptive: drugs pause when the measured burden falls below this x baseline."""
        return 0.5 if self.pause_below is None else self.pause_below

    @property
    def resume_fraction(self) -> float:
        """Adaptive: drugs resume when the measured burden is back at this x baseline."""
        return 1.0 if self.resume_at is None else self.resume_at

    @model_validator(mode="after")
    def _schedule_keys(self) -> "Line":
        """Each schedule takes its own keys and no other schedule's."""
        own = {"intermittent": ("days_on", "days_off"), "adaptive": ("pause_below", "resume_at")}
        for schedule, keys in own.items():
            for key in keys:
                given = getattr(self, key)
                if schedule == "intermittent" and self.schedule == schedule and given is None:
                    raise Problem(
                        'is required when schedule = "intermittent" (cycles of days on, days off)',
                        loc=(key,),
                        fix=f"Add {key} = ... to the [[line]] table.",
                    )
                if self.schedule != schedule and given is not None:
                    raise Problem(
                        f'only applies to schedule = "{schedule}", but schedule = '
                        f'"{self.schedule}"',
                        given=given,
                        loc=(key,),
                        fix=f'Set schedule = "{schedule}" or remove {key} from the [[line]].',
                    )
        if self.resume_fraction <= self.pause_fraction:
            raise Problem(
                f"must be above pause_below ({number(self.pause_fraction)}), or the drugs "
                "would resume as soon as they pause",
                given=self.resume_fraction,
                loc=("resume_at",),
                fix="Raise resume_at or lower pause_below in the [[line]] table.",
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        """An unnamed line is labelled by its drugs joined with "+" ("A+B")."""
        if isinstance(data, dict) and "name" not in data:
            drugs = data.get("drugs")
            if isinstance(drugs, list | tuple) and all(isinstance(d, str) for d in drugs):
                return {**data, "name": "+".join(drugs)}
        return data


class Monitoring(_Table):
    """[monitoring]: how often the tumour is scanned and how scans are read."""

    scan_every_days: _number(0, open_low=True, unit="days") = 56.0
    progression_increase: _number(0, unit="fraction above the line's nadir") = 0.2
    partial_response_decrease: _number(
        0, 1, open_low=True, open_high=True, unit="fraction below the line's baseline"
    ) = 0.3
    visible_cells: _number(1, unit="cells; smaller burdens read as no visible disease") | None = (
        None
    )
    measurement_cv: _number(0, unit="coefficient of variation of a measured burden") = 0.0
    early_progression_days: _number(0, open_low=True, unit="days from a line's start") = 730.0
    progression_reference: _choice(REFERENCES) = REFERENCES[0]


class Adherence(_Table):
    """[adherence]: how reliably the patient takes scheduled doses."""

    miss_probability: _number(
        0, 1, open_high=True, unit="probability that a scheduled dose is missed"
    ) = 0.0


class Competition(_Table):
    """[competition]: a carrying capacity shared by all clones (logistic birth)."""

    carrying_capacity: CellCount


class Sanctuary(_Table):
    """[sanctuary]: a second site that drugs reach poorly, exchanging cells with the primary."""

    share: _number(0, 1, open_high=True, unit="fraction of the initial clones' cells") = 0.0
    exposure: _per_drug("factor on the drug's effect in the sanctuary") = ()
    migration_in: _number(0, unit="per cell per day, primary site to sanctuary") = 0.0
    migration_out: _number(0, unit="per cell per day, sanctuary to primary site") = 0.0
    visible: _flag() = True

    def exposure_of(self, drug: str) -> float:
        """Factor on ``drug``'s effect in the sanctuary (1 when not listed)."""
        return dict(self.exposure).get(drug, 1.0)


class Persister(_Table):
    """[persister]: a reversible drug-tolerant state that cells switch into and out of."""

    switch_on: _number(0, unit="per cell per day, cycling to persister")
    switch_off: _number(0, unit="per cell per day, persister to cycling")
    induction: _number(0, unit="rise of switch_on per unit of drug effect") = 0.0
    birth_fraction: _number(0, 1, unit="persisters' birth rate as a fraction of the tumour's") = 0.1
    death_fraction: _number(0, unit="persisters' death rate as a multiple of the tumour's") = 1.0
    protection: _per_drug("fraction of the drug's effect a persister escapes")

    def protection_from(self, drug: str) -> float:
        """Fraction of ``drug``'s effect that persisters escape (0 when not listed)."""
        return dict(self.protection).get(drug, 0.0)


def _barcode_moment(value: Any) -> str | float:
    """[agent].barcode_at: "detection", "none" or a number of cells (>= 1)."""
    if value in ("detection", "none"):
        return value
    size = _finite(value)
    if size is None or size < 1:
        raise Problem(f"must be {_BARCODE_RULE}", given=value)
    return size


_BARCODE_RULE = (
    '"detection", "none" (no barcodes: cells counted, not stored) or a number of cells >= 1'
)


class Agent(_Table):
    """[agent]: settings of the agent engine (ignored by the compartment engine)."""

    barcode_at: _typed(str | float, _BARCODE_RULE, _barcode_moment) = "detection"


#: The Sweep field that holds the swept paths (named by their paths alone in messages).
SWEPT = "axes"
#: Designs of a [sweep]: a grid of listed values, or points sampled by scipy.stats.qmc.
DESIGNS = ("grid", "latin_hypercube", "sobol", "halton")
SCALES = ("linear", "log")


def _inline_table(data: Any, example: str) -> dict:
    """A path's inline table without the None values a dumped scenario carries; a Problem
    showing ``example`` when it is not a table."""
    if not isinstance(data, dict):
        raise Problem(f"must be a table such as {example}", given=data)
    return {key: value for key, value in data.items() if value is not None}


class SweepAxis(_Table):
    """One swept field: its values (grid), or its range (sampled designs)."""

    values: tuple[float, ...] | None = None
    low: float | None = None
    high: float | None = None
    scale: _choice(SCALES) = SCALES[0]

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data: Any) -> Any:
        data = _inline_table(data, "{ values = [1e-9, 1e-8] } or { low = 1e8, high = 1e11 }")
        for key in ("low", "high"):
            if key in data and _finite(data[key]) is None:
                raise Problem("must be a finite number", given=data[key], loc=(key,))
        values = data.get("values")
        if values is not None and (
            not isinstance(values, list) or not values or any(_finite(v) is None for v in values)
        ):
            raise Problem(
                "must be a non-empty list of finite numbers", given=values, loc=("values",)
            )
        return data


class Sweep(_Table):
    """[sweep]: the points of a parameter space at which every patient is run.

    Keys other than ``design`` and ``points`` are the swept fields' dotted paths.
    """

    design: _choice(DESIGNS) = DESIGNS[0]
    points: _number(1, whole=True, unit="points of a sampled design") | None = None
    axes: dict[str, SweepAxis] = {}

    @model_validator(mode="before")
    @classmethod
    def _paths(cls, data: Any) -> Any:
        """Every key but design and points names a swept field."""
        if not isinstance(data, dict):
            return data
        fixed = {key: data[key] for key in ("design", "points") if key in data}
        return {**fixed, SWEPT: {k: v for k, v in data.items() if k not in fixed}}

    @model_serializer(mode="wrap")
    def _flat(self, handler) -> dict:
        data = handler(self)
        return {key: value for key, value in data.items() if key != SWEPT} | data[SWEPT]

    @model_validator(mode="after")
    def _complete(self) -> "Sweep":
        if not self.axes:
            raise Problem(
                "sweeps nothing: it names no field",
                fix='Add a swept field, e.g. "mechanism.0.mutation_rate" = '
                "{ values = [1e-9, 1e-8] }, to [sweep].",
            )
        grid = self.design == "grid"
        if grid and self.points is not None:
            raise Problem(
                "is for sampled designs; a grid has one point per combination of values",
                given=self.points,
                loc=("points",),
                fix="Remove points, or choose a sampled design (latin_hypercube, sobol, halton).",
            )
        if not grid and self.points is None:
            raise Problem(
                f'is required for design = "{self.design}"',
                loc=("points",),
                fix="Add points = N (the number of sampled points) to [sweep].",
            )
        for path, axis in self.axes.items():
            if grid and (axis.values is None or axis.low is not None or axis.high is not None):
                raise Problem(
                    "must list its values for a grid",
                    given=axis.model_dump(exclude_none=True),
                    loc=(SWEPT, path),
                    fix=f'Write "{path}" = {{ values = [...] }}, or choose a sampled design.',
                )
            if not grid and (axis.values is not None or axis.low is None or axis.high is None):
                raise Problem(
                    f'must give low and high for design = "{self.design}"',
                    given=axis.model_dump(exclude_none=True),
                    loc=(SWEPT, path),
                    fix=f'Write "{path}" = {{ low = ..., high = ... }}, or use design = "grid".',
                )
            if not grid and not axis.low < axis.high:
                raise Problem("needs low below high", given=axis.high, loc=(SWEPT, path, "high"))
            if not grid and axis.scale == "log" and axis.low <= 0:
                raise Problem(
                    'needs low > 0 for scale = "log"', given=axis.low, loc=(SWEPT, path, "low")
                )
        return self


#: Distributions a [cohort] draws a patient's value from, and the parameters each takes
#: (required, then optional).
DISTRIBUTIONS = {
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("median", "sigma"), ()),
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "beta": (("a", "b"), ()),
    "choice": (("values",), ("weights",)),
}


class Distribution(_Table):
    """How a [cohort] field varies between patients: a distribution and its parameters."""

    distribution: _choice(tuple(DISTRIBUTIONS))
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    sigma: float | None = None
    low: float | None = None
    high: float | None = None
    a: float | None = None
    b: float | None = None
    values: tuple[float, ...] | None = None
    weights: tuple[float, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _finite_numbers(cls, data: Any) -> Any:
        data = _inline_table(data, '{ distribution = "lognormal", median = 0.14, sigma = 0.1 }')
        for key, value in data.items():
            if key in ("values", "weights"):
                if (
                    not isinstance(value, list)
                    or not value
                    or any(_finite(v) is None for v in value)
                ):
                    raise Problem(
                        "must be a non-empty list of finite numbers", given=value, loc=(key,)
                    )
            elif key != "distribution" and _finite(value) is None:
                raise Problem("must be a finite number", given=value, loc=(key,))
        return data

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters given, by name."""
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k != "distribution"}

    @property
    def constant(self) -> float | None:
        """The one value a degenerate distribution gives every patient, else None."""
        given = self.parameters
        if self.distribution == "normal" and given["sd"] == 0:
            return float(given["mean"])
        if self.distribution == "lognormal" and given["sigma"] == 0:
            return float(given["median"])
        if self.distribution in ("uniform", "loguniform") and given["low"] == given["high"]:
            return float(given["low"])
        if self.distribution == "choice":
            weights = given.get("weights") or [1.0] * len(given["values"])
            taken = {v for v, w in zip(given["values"], weights, strict=True) if w > 0}
            if len(taken) == 1:
                return float(taken.pop())
        return None

    def describe(self) -> str:
        """The distribution as a reader would write it: 'normal (mean 0.1, sd 0.05)'."""

        def shown(value: Any) -> str:
            if isinstance(value, list | tuple):
                return "[" + ", ".join(number(float(v)) for v in value) + "]"
            return number(float(value))

        parameters = ", ".join(f"{key} {shown(value)}" for key, value in self.parameters.items())
        return f"{self.distribution} ({parameters})"

    @model_validator(mode="after")
    def _complete(self) -> "Distribution":
        """The distribution's parameters are all there, none is foreign, and they are possible."""
        required, optional = DISTRIBUTIONS[self.distribution]
        given = self.parameters
        missing = [key for key in required if key not in given]
        if missing:
            raise Problem(
                f'needs {quoted(missing)} for distribution = "{self.distribution}"',
                fix=f"Give {', '.join(f'{k} = ...' for k in required)} in its table.",
            )
        foreign = [key for key in given if key not in required + optional]
        if foreign:
            allowed = required + optional
            raise Problem(
                f'does not take {quoted(foreign)} for distribution = "{self.distribution}" '
                f"(it takes {quoted(allowed)})",
                loc=(foreign[0],),
                fix=f"Remove {quoted(foreign)}, or choose the distribution that takes it.",
            )
        for key in ("sd", "sigma"):
            if key in given and given[key] < 0:
                raise Problem(
                    "must be >= 0 (0: every patient the same)", given=given[key], loc=(key,)
                )
        for key in ("a", "b"):
            if key in given and given[key] <= 0:
                raise Problem("must be > 0", given=given[key], loc=(key,))
        if self.median is not None and self.median <= 0:
            raise Problem("must be > 0 for a lognormal", given=self.median, loc=("median",))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise Problem(
                f"must be at least low ({number(self.low)})", given=self.high, loc=("high",)
            )
        if self.distribution == "loguniform" and self.low <= 0:
            raise Problem("must be > 0 for a loguniform", given=self.low, loc=("low",))
        if self.distribution == "normal" and (self.low is not None or self.high is not None):
            low = -math.inf if self.low is None else self.low
            high = math.inf if self.high is None else self.high
            inside = low <= self.mean <= high if self.sd == 0 else low < high
            if not inside:
                raise Problem(
                    "leaves no value for the truncated normal to take",
                    given={"mean": self.mean, "low": self.low, "high": self.high},
                    fix="Widen low and high around the mean.",
                )
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise Problem(
                    f"must give one weight per value ({len(self.values)})",
                    given=list(self.weights),
                    loc=("weights",),
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise Problem(
                    "must be >= 0 with a positive sum", given=list(self.weights), loc=("weights",)
                )
        return self


class Correlation(_Table):
    """[cohort.correlation]: correlations between fields the cohort draws (Gaussian copula:
    the correlation of their normal scores)."""

    paths: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]

    @model_validator(mode="after")
    def _matrix(self) -> "Correlation":
        n = len(self.paths)
        if n < 2 or len(set(self.paths)) != n:
            raise Problem(
                "must list at least two distinct paths of [cohort]",
                given=list(self.paths),
                loc=("paths",),
            )
        rows = [list(row) for row in self.matrix]
        if len(rows) != n or any(len(row) != n for row in rows):
            raise Problem(
                f"must be a {n} x {n} matrix (one row and column per path)",
                given=rows,
                loc=("matrix",),
            )
        symmetric = all(rows[i][j] == rows[j][i] for i in range(n) for j in range(n))
        unit = all(rows[i][i] == 1 for i in range(n))
        bounded = all(-1 < rows[i][j] < 1 for i in range(n) for j in range(n) if i != j)
        if not (symmetric and unit and bounded):
            raise Problem(
                "must be symmetric with 1 on the diagonal and correlations strictly between -1 "
                "and 1",
                given=rows,
                loc=("matrix",),
            )
        if np.linalg.eigvalsh(np.array(rows)).min() <= 0:
            raise Problem(
                "must be positive definite (these correlations cannot hold together)",
                given=rows,
                loc=("matrix",),
                fix="Weaken the correlations.",
            )
        return self


#: The Cohort field that holds the drawn paths (named by their paths alone in messages).
DRAWN = "axes"


class Cohort(_Table):
    """[cohort]: fields each patient draws its own value of, by their dotted paths, and an
    optional [cohort.correlation] between them."""

    axes: dict[str, Distribution] = {}
    correlation: Correlation | None = None

    @model_validator(mode="before")
    @classmethod
    def _paths(cls, data: Any) -> Any:
        """Every key but correlation names a drawn field."""
        if not isinstance(data, dict):
            return data
        fixed = {key: data[key] for key in ("correlation",) if key in data}
        return {**fixed, DRAWN: {k: v for k, v in data.items() if k not in fixed}}

    @model_serializer(mode="wrap")
    def _flat(self, handler) -> dict:
        data = handler(self)
        flat = data[DRAWN]
        if data.get("correlation") is not None:
            flat = flat | {"correlation": data["correlation"]}
        return flat

    @model_validator(mode="after")
    def _complete(self) -> "Cohort":
        if not self.axes:
            raise Problem(
                "draws nothing: it names no field",
                fix='Add a field, e.g. "tumor.birth_rate" = { distribution = "lognormal", '
                "median = 0.14, sigma = 0.1 }, to [cohort].",
            )
        if self.correlation is not None:
            unknown = [path for path in self.correlation.paths if path not in self.axes]
            if unknown:
                raise Problem(
                    f"names {quoted(unknown)}, which [cohort] does not draw",
                    loc=("correlation", "paths"),
                    fix="List only paths that [cohort] gives a distribution.",
                )
        return self


class Arm(_Table):
    """[[arm]]: one treatment of a virtual trial, as changes to the scenario's treatment."""

    label: _text("a non-empty string", nonempty=True)
    changes: dict[str, Any] = Field(default={}, alias="set")


class Scenario(_Table):
    """A whole scenario file; cross-table references are checked here."""

    scenario: ScenarioMeta
    tumor: Tumor
    mechanisms: tuple[Mechanism, ...] = Field(default=(), alias="mechanism")
    drugs: tuple[Drug, ...] = Field(default=(), alias="drug")
    lines: tuple[Line, ...] = Field(default=(), alias="line")
    monitoring: Monitoring = Monitoring()
    adherence: Adherence = Adherence()
    competition: Competition | None = None
    sanctuary: Sanctuary | None = None
    persister: Persister | None = None
    agent: Agent = Agent()
    cohort: Cohort | None = None
    sweep: Sweep | None = None
    arms: tuple[Arm, ...] = Field(default=(), alias="arm")

    @classmethod
    def from_dict(cls, data: Any, source: str = "<scenario>") -> "Scenario":
        """Validate parsed TOML (or `to_dict` output); errors name `source`."""
        return parse_scenario(data, source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with TOML keys, accepted back by `from_dict` (used in manifests)."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def effective_visible_cells(self) -> float:
        """Burden below which a scan shows no visible disease (default: 1% of the start)."""
        if self.monitoring.visible_cells is not None:
            return self.monitoring.visible_cells
        return 0.01 * self.tumor.treatment_start_cells

    def mechanism_index(self, name: str) -> int:
        """Position of the named mechanism (its bit in genotype masks)."""
        return _index(self.mechanisms, name, "mechanism")

    def drug_index(self, name: str) -> int:
        """Position of the named drug."""
        return _index(self.drugs, name, "drug")

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        """Names are unique and every name used refers to something defined."""
        _require_unique(self.mechanisms, "mechanism")
        _require_unique(self.drugs, "drug")
        if len(self.mechanisms) > MAX_MECHANISMS:
            raise Problem(
                f"must have at most {MAX_MECHANISMS} entries (genotypes are 64-bit masks)",
                given=len(self.mechanisms),
                loc=("mechanism",),
                fix="Remove or merge [[mechanism]] tables.",
            )
        total = math.fsum(mechanism.mutation_rate for mechanism in self.mechanisms)
        if total > 1:
            raise Problem(
                "mutation rates must sum to at most 1 (they share each division)",
                given=total,
                loc=("mechanism",),
                fix="Lower the mutation_rate values in the [[mechanism]] tables.",
            )
        drugs = [drug.name for drug in self.drugs]
        mechanisms = [mechanism.name for mechanism in self.mechanisms]
        for i, mechanism in enumerate(self.mechanisms):
            used = [drug for drug, _ in mechanism.resists]
            _require_defined(used, drugs, "drug", ("mechanism", i, "resists"), "resists")
        for i, line in enumerate(self.lines):
            _require_defined(line.drugs, drugs, "drug", ("line", i, "drugs"), "the line")
        for i, clone in enumerate(self.tumor.clones):
            loc = ("tumor", "clone", i, "mechanisms")
            _require_defined(clone.mechanisms, mechanisms, "mechanism", loc, "the clone")
        if self.sanctuary is not None:
            used = [drug for drug, _ in self.sanctuary.exposure]
            loc = ("sanctuary", "exposure")
            _require_defined(used, drugs, "drug", loc, "[sanctuary].exposure")
            _require_populated(self.sanctuary, self.tumor)
        if self.persister is not None:
            used = [drug for drug, _ in self.persister.protection]
            loc = ("persister", "protection")
            _require_defined(used, drugs, "drug", loc, "[persister].protection")
        if self.adherence.miss_probability > 0 and not any(d.dosed for d in self.drugs):
            raise Problem(
                "needs a drug given in doses (a [[drug]] with dose, interval_days, "
                "half_life_days and ec50); no drug has a dosing interval",
                given=self.adherence.miss_probability,
                loc=("adherence", "miss_probability"),
                fix="Give a [[drug]] a dosing interval, or remove miss_probability.",
            )
        _require_room_to_grow(self.competition, self.tumor)
        _require_barcode_size(self.agent.barcode_at, self.tumor)
        labels = [arm.label for arm in self.arms]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise Problem(
                f"labels must be distinct ({quoted(repeated)} repeated)",
                loc=("arm",),
                fix="Give each [[arm]] its own label.",
            )
        return self


def _require_populated(sanctuary: Sanctuary, tumor: Tumor) -> None:
    """The sanctuary must receive cells: a share of the initial clones or by migration."""
    if tumor.start == "single_cell" and sanctuary.share > 0:
        raise Problem(
            'applies to the initial clones of start = "cells"; a tumour grown from one cell '
            "fills the sanctuary by migration_in",
            given=sanctuary.share,
            loc=("sanctuary", "share"),
            fix='Remove share (and set migration_in), or use start = "cells".',
        )
    if sanctuary.share == 0 and sanctuary.migration_in == 0:
        raise Problem(
            "leaves the sanctuary empty: no share of the initial cells and no migration into it",
            given=0.0,
            loc=("sanctuary", "migration_in"),
            fix='Set migration_in > 0 (or share > 0 with start = "cells") in [sanctuary], '
            "or remove the [sanctuary] table.",
        )


def _require_barcode_size(barcode_at: str | float, tumor: Tumor) -> None:
    """A number of cells to label at must be reached while the tumour grows to detection."""
    if barcode_at in ("detection", "none"):
        return
    if tumor.start != "single_cell" or barcode_at > tumor.detection_cells:
        raise Problem(
            "may be a number of cells only when the tumour grows from a single cell "
            '(start = "single_cell") up to tumor.detection_cells '
            f"({number(tumor.detection_cells)})",
            given=barcode_at,
            loc=("agent", "barcode_at"),
            fix='Use barcode_at = "detection", or a size no larger than detection_cells.',
        )


def _require_room_to_grow(competition: "Competition | None", tumor: Tumor) -> None:
    """A tumour grown from one cell must be able to reach detection below the capacity."""
    if competition is None or tumor.start != "single_cell":
        return
    ceiling = competition.carrying_capacity * (1 - tumor.death_rate / tumor.birth_rate)
    if tumor.detection_cells >= ceiling:
        raise Problem(
            "is too small: growth stops at carrying_capacity x (1 - death_rate / birth_rate) = "
            f"{number(ceiling)} cells, not above tumor.detection_cells "
            f"({number(tumor.detection_cells)}), so the tumour is never detected",
            given=competition.carrying_capacity,
            loc=("competition", "carrying_capacity"),
            fix="Raise carrying_capacity in [competition] or lower detection_cells in [tumor].",
        )


def _require_unique(entries: Sequence[Mechanism | Drug], kind: str) -> None:
    first: dict[str, int] = {}
    for position, entry in enumerate(entries):
        if entry.name in first:
            raise Problem(
                f"repeats the name of {kind} #{first[entry.name] + 1}",
                given=entry.name,
                loc=(kind, position, "name"),
                fix=f"Give each [[{kind}]] its own name.",
            )
        first[entry.name] = position


def _require_defined(
    used: Sequence[str], defined: Sequence[str], kind: str, loc: tuple, where: str
) -> None:
    for name in used:
        if name not in defined:
            known = f"defined: {quoted(defined)}" if defined else "none are defined"
            raise Problem(
                f'names {kind} "{name}", which no [[{kind}]] defines ({known})',
                loc=loc,
                fix=f'Add a [[{kind}]] named "{name}" or remove it from {where}.',
            )


def _index(entries: Sequence[Mechanism | Drug], name: str, kind: str) -> int:
    for position, entry in enumerate(entries):
        if entry.name == name:
            return position
    raise KeyError(f'no {kind} named "{name}" (defined: {quoted([e.name for e in entries])})')


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario, with every point of its sweep under every arm (each a
    scenario of its own); any problem raises a one-paragraph ScenarioError."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, source, data, Scenario) from None
    if scenario.sweep is not None or scenario.arms or scenario.cohort is not None:
        from refractory.variation import variants  # validates each (point, arm) and the cohort

        variants(scenario, source)
    return scenario


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read and validate a scenario TOML file."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError(
            source, f"no such file (looked for {os.path.abspath(source)})", "Check the path."
        ) from None
    except OSError as error:
        raise ScenarioError(
            source, f"cannot be read ({error.strerror})", "Check that it is a readable file."
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "is not UTF-8 text", "Save it as UTF-8 TOML.") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(
            source, f"is not valid TOML: {error}", "Fix the syntax at that line."
        ) from None
    except RecursionError:
        raise ScenarioError(
            source,
            f"nests arrays or inline tables deeper than the TOML reader can follow (Python's "
            f"recursion limit, {sys.getrecursionlimit()} levels); no scenario key takes more "
            "than a list of names or a table of numbers",
            "Remove the deeply nested value.",
        ) from None
    return parse_scenario(data, source)


def with_overrides(
    scenario: Scenario,
    patients: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    source: str = "command-line override",
) -> Scenario:
    """A copy with [scenario] values replaced (None keeps the value), revalidated."""
    data = scenario.to_dict()
    changes = {"patients": patients, "seed": seed, "engine": engine}
    data["scenario"].update({key: value for key, value in changes.items() if value is not None})
    return parse_scenario(data, source)


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the canonical JSON of a scenario, ignoring `patients` (batches may grow)."""
    data = scenario.to_dict()
    del data["scenario"]["patients"]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
