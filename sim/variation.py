"""Parameter sweeps and trial arms: the variants of a scenario that a run goes through.

``[sweep]`` runs the scenario at points of a parameter space (a grid of listed values, or a
design sampled by scipy.stats.qmc); ``[[arm]]`` runs the same virtual patients under other
treatments. Fields are named by the dotted paths of a lesson's ``set`` ("line.0.drugs":
TOML keys, list entries by 0-based index). Each (point, arm) is a plain scenario of its own,
validated like a file; patient p has the same random stream in every variant, so a patient's
history up to treatment start is the same under every arm (a virtual twin).
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np

from refractory.errors import ScenarioError, number, quoted
from refractory.lessons import set_path
from refractory.results import Columns
from refractory.scenario import Scenario, Sweep, parse_scenario

#: The tables an arm may change: treatment and monitoring, never the tumour before treatment.
ARM_TABLES = ("line", "drug", "monitoring", "adherence")
#: [scenario] keys that are the run itself, not the model: they cannot be swept.
FIXED = ("scenario.patients", "scenario.seed", "scenario.engine", "scenario.name")


@dataclass(frozen=True)
class Variant:
    """One (point, arm) of a run: its index in the sweep (None without one), its arm's
    label (None without arms), the swept fields' values, the plain scenario and the file."""

    point: int | None
    arm: str | None
    arm_index: int
    values: dict[str, float]
    scenario: Scenario
    source: str  # the name errors give the scenario

    @property
    def key(self) -> str:
        """A name for the variant's chunk files ("" for a plain scenario)."""
        parts = [f"p{self.point:05d}" if self.point is not None else ""]
        parts.append(f"a{self.arm_index:02d}" if self.arm is not None else "")
        return ".".join(part for part in parts if part)


def sweep_points(sweep: Sweep, seed: int) -> list[dict[str, float]]:
    """The sweep's points in order: every combination of the grid's values (the first path
    varying slowest), or ``points`` points of the sampled design, scaled to each range."""
    paths = list(sweep.axes)
    if sweep.design == "grid":
        grid = itertools.product(*(sweep.axes[path].values for path in paths))
        return [dict(zip(paths, values, strict=True)) for values in grid]
    from scipy.stats import qmc

    samplers = {
        "latin_hypercube": lambda d: qmc.LatinHypercube(d, seed=seed),
        "sobol": lambda d: qmc.Sobol(d, scramble=True, seed=seed),
        "halton": lambda d: qmc.Halton(d, scramble=True, seed=seed),
    }
    unit = samplers[sweep.design](len(paths)).random(sweep.points)
    points = []
    for row in unit:
        point = {}
        for path, u in zip(paths, row, strict=True):
            axis = sweep.axes[path]
            if axis.scale == "log":
                low, high = math.log(axis.low), math.log(axis.high)
                point[path] = float(math.exp(low + u * (high - low)))
            else:
                point[path] = float(axis.low + u * (axis.high - axis.low))
        points.append(point)
    return points


def file_value(scenario: Scenario, path: str, source: str, table: str) -> float:
    """The number at ``path`` in the scenario; a ScenarioError naming ``table`` (the table
    that gave the path) when it names no number."""
    node = scenario.to_dict()
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            node = None
            break
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ScenarioError(
            source,
            f"{table}: {path!r} names no number of the scenario"
            + ("" if node is None else f" (it holds {node!r})"),
            "Name a numeric field by its dotted path as in a lesson's set: the table, a 0-based "
            "index for [[mechanism]], [[drug]], [[line]] and [[tumor.clone]] entries, the key "
            '(e.g. "mechanism.0.mutation_rate"); give an optional field a value in the file '
            "first.",
            field=f"{table}.{path}",
        )
    return float(node)


def _check_drawn(scenario: Scenario, source: str) -> None:
    """A cohort draws numbers of the model, none of which a sweep or an arm also sets."""
    if scenario.cohort is None:
        return
    swept = set(scenario.sweep.axes) if scenario.sweep else set()
    armed = {path for arm in scenario.arms for path in arm.changes}
    for path in scenario.cohort.axes:
        where = (
            "is a setting of the run, not of the model"
            if path in FIXED or path.split(".")[0] in ("scenario", "cohort", "sweep", "arm")
            else "is swept by [sweep] too"
            if path in swept
            else "is changed by an arm too"
            if path in armed
            else ""
        )
        if where:
            raise ScenarioError(
                source,
                f"cohort: {path!r} {where}, so it cannot be drawn per patient",
                "Draw a field of the model, and vary each field in one place: [cohort], "
                "[sweep] or [[arm]].",
                field=f"cohort.{path}",
            )
        file_value(scenario, path, source, "cohort")


def _check_paths(scenario: Scenario, source: str) -> None:
    """Swept fields are model fields; arms change treatment and monitoring only, and no field
    is both swept and changed by an arm (nor drawn by the cohort)."""
    _check_drawn(scenario, source)
    swept = list(scenario.sweep.axes) if scenario.sweep else []
    for path in swept:
        if path in FIXED:
            raise ScenarioError(
                source,
                f"sweep: {path!r} is a setting of the run, not of the model, so it cannot be swept",
                "Run the scenario once per value instead, or sweep a field of the model.",
                field=f"sweep.{path}",
            )
    for arm in scenario.arms:
        for path in arm.changes:
            if path.split(".")[0] not in ARM_TABLES:
                raise ScenarioError(
                    source,
                    f'arm "{arm.label}": set changes {path!r}, but arms may change only the '
                    f"treatment and monitoring ({quoted(ARM_TABLES)}), so that each patient's "
                    "history up to treatment start is the same under every arm",
                    "Sweep that field in [sweep] instead, or make a scenario of its own.",
                    field=f"arm.{path}",
                )
            if path in swept:
                raise ScenarioError(
                    source,
                    f'arm "{arm.label}": set changes {path!r}, which [sweep] also varies',
                    "Vary the field in one place: the sweep or the arms.",
                    field=f"arm.{path}",
                )


def _plain(scenario: Scenario, changes: dict, source: str, where: str) -> Scenario:
    """The scenario without its sweep and arms, with ``changes`` (path: value) applied and
    validated, keeping its cohort (already checked); errors say which sweep point or arm
    asked for the value."""
    data = scenario.to_dict()
    for table in ("sweep", "arm", "cohort"):
        data.pop(table, None)
    for path, value in changes.items():
        set_path(data, path, value, source, where)
    try:
        return parse_scenario(data, source).model_copy(update={"cohort": scenario.cohort})
    except ScenarioError as error:
        detail = str(error).removeprefix(f"{source}: ").rstrip(".")
        raise ScenarioError(
            source,
            f"{where} gives a scenario that is not valid: {detail}",
            "Change that value in [cohort], [sweep] or [[arm]].",
            field=error.field,
        ) from None


def variants(scenario: Scenario, source: str = "<scenario>") -> list[Variant]:
    """Every (point, arm) of the scenario in run order (points outer, arms inner), each a
    validated plain scenario (keeping its cohort, with the values of degenerate cohort
    distributions set); just the scenario itself when there is nothing to set."""
    _check_paths(scenario, source)
    points = sweep_points(scenario.sweep, scenario.scenario.seed) if scenario.sweep else [None]
    arms = list(scenario.arms) or [None]
    drawn = scenario.cohort.axes if scenario.cohort else {}
    constants = {path: d.constant for path, d in drawn.items() if d.constant is not None}
    found = []
    for index, values in enumerate(points):
        for arm_index, arm in enumerate(arms):
            changes = constants | dict(values or {}) | (dict(arm.changes) if arm else {})
            where = " and ".join(
                part
                for part in (
                    "the cohort's single values" if constants else "",
                    _point_text(index, values) if values else "",
                    f'arm "{arm.label}"' if arm else "",
                )
                if part
            )
            plain = _plain(scenario, changes, source, where) if where else scenario
            found.append(
                Variant(
                    point=index if values is not None else None,
                    arm=arm.label if arm else None,
                    arm_index=arm_index,
                    values=dict(values or {}),
                    scenario=plain,
                    source=source,
                )
            )
    return found


def _point_text(index: int, values: dict[str, float]) -> str:
    shown = ", ".join(f"{path} = {number(float(value))}" for path, value in values.items())
    return f"sweep point {index} ({shown})"


def tag_tables(
    tables: dict[str, Columns], variant: Variant, drawn: dict[str, np.ndarray] | None = None
) -> dict[str, Columns]:
    """The tables (as columns) of a variant's patients with the columns that name it:
    ``point`` and ``arm`` first in every table, and in patients each swept field's value and
    each field the cohort drew (``drawn``: the patients' values), by its path."""
    tagged = {}
    for name, columns in tables.items():
        rows = len(next(iter(columns.values())))
        front = {}
        if variant.point is not None:
            front["point"] = np.full(rows, variant.point, np.int64)
        if variant.arm is not None:
            front["arm"] = np.full(rows, variant.arm, object)
        tagged[name] = front | columns
        if name == "patients":
            values = {path: np.full(rows, value) for path, value in variant.values.items()}
            tagged[name] |= values | (drawn or {})
    return tagged
