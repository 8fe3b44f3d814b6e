"""Scenario errors: one readable paragraph naming the file, the field, the rule and the fix.

Validators raise `Problem` (a ValueError, so pydantic collects it with its location);
`from_validation_error` turns pydantic's error list into a single `ScenarioError`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

#: Array-of-tables keys whose entries carry a `name`, shown in field paths as `drug "A" (#1)`.
NAMED_TABLES = ("mechanism", "drug")

_NOTHING = object()
_MAX_SHOWN = 60


class ScenarioError(ValueError):
    """A scenario that cannot be used; str() is one paragraph: file, field, rule, given, fix."""

    def __init__(self, path: str, problem: str, fix: str, field: str | None = None):
        self.path = path
        self.field = field
        self.problem = " ".join(problem.split())  # what is wrong, without the file and fix
        super().__init__(" ".join(f"{path}: {problem}. {fix}".split()))


class Problem(ValueError):
    """One thing wrong with a scenario, raised inside validators.

    `text` follows the field path ("must be a number in [0, 1]"), `given` is the offending
    value (shown as "; got ..."), `loc` extends pydantic's location (for checks run on a
    whole table) and `fix` replaces the default "Fix the value in [table]." advice.
    """

    def __init__(self, text: str, *, given: Any = _NOTHING, loc: tuple = (), fix: str = ""):
        super().__init__(text)
        self.text = text
        self.given = given
        self.loc = loc
        self.fix = fix


def show(value: Any) -> str:
    """Render a TOML value the way the user would write it, shortened if long."""
    if isinstance(value, str):
        return f'the string "{_clip(value)}"'
    if isinstance(value, Mapping):
        return f"the table {_clip(_toml(value))}"
    if isinstance(value, Sequence):
        return f"the list {_clip(_toml(value))}"
    return _clip(_toml(value))


def number(value: float) -> str:
    """Format a number compactly to 12 significant digits (1e+09, 0.13, 5e-08, 3650)."""
    if not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    plain = f"{value:.12g}"
    exact = next(text for p in range(1, 13) if float(text := f"{value:.{p}g}") == float(plain))
    return exact if len(exact) < len(plain) else plain


def quoted(names: Sequence[str]) -> str:
    """Join names as "A", "B" for messages."""
    return ", ".join(f'"{name}"' for name in names)


def from_validation_error(
    error: ValidationError, source: str, data: Any, root: type[BaseModel]
) -> ScenarioError:
    """Translate the first of pydantic's errors into a ScenarioError (and count the rest)."""
    details = error.errors()
    first = details[0]
    loc = tuple(first["loc"])
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, Problem):
        loc += cause.loc
        problem, fix = _clause(loc, data, cause.text, cause.given), cause.fix
    else:
        problem, fix = _builtin(first["type"], loc, first.get("input"), data, root)
    fix = fix or f"Fix the value in {_table(loc[:-1], data)}."
    if len(details) > 1:
        more = len(details) - 1
        fix += f" (The file has at least {more} more problem{'s' if more > 1 else ''}.)"
    return ScenarioError(source, problem, fix, field_path(loc, data))


def field_path(loc: tuple, data: Any) -> str:
    """Dotted TOML path for a pydantic location, counting entries from 1.

    ("mechanism", 0, "mutation_rate") -> 'mechanism "resist_A" (#1).mutation_rate';
    ("line", 1, "drugs") -> "line[2].drugs".
    """
    path = ""
    for depth, part in enumerate(loc):
        if loc[:depth] in (("sweep",), ("cohort",)) and part == "axes":  # keys are paths
            continue
        if isinstance(part, str):
            path += f".{part}" if path else part
        else:
            name = _entry_name(loc[: depth + 1], data)
            path += f' "{name}" (#{part + 1})' if name else f"[{part + 1}]"
    return path or "the scenario"


def _builtin(kind: str, loc: tuple, given: Any, data: Any, root: type[BaseModel]):
    """(problem, fix) for pydantic's own error kinds: unknown keys, missing keys, bad shapes."""
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = _keys(_model_at(root, loc[:-1]))
        close = difflib.get_close_matches(str(key), allowed, n=1)
        fix = f'Did you mean "{close[0]}"?' if close else "Remove it or correct its spelling."
        where = _table(loc[:-1], data)
        return f'unknown key "{key}" in {where}; allowed keys: {", ".join(allowed)}', fix
    if kind == "missing":
        section = _model_at(root, loc)
        if section is not None:
            needed = [name for name, info in _fields(section) if info.is_required()]
            header = f"[{'.'.join(map(str, loc))}]"
            keys = f" with {' and '.join(needed)}" if needed else ""
            return f"required section {header} is missing", f"Add a {header} table{keys}."
        info = dict(_fields(_model_at(root, loc[:-1]))).get(str(key))
        rule = f" and must be {info.description}" if info and info.description else ""
        return f"{field_path(loc, data)} is missing; it is required{rule}", (
            f"Add {key} = ... to {_table(loc[:-1], data)}."
        )
    if kind in ("model_type", "model_attributes_type"):
        return _clause(loc, data, "must be a table", given), ""
    if kind in ("tuple_type", "list_type"):
        header = ".".join(part for part in loc if isinstance(part, str))
        rule = f"must be an array of tables, written as [[{header}]] blocks"
        return _clause(loc, data, rule, given), f"Write each entry under its own [[{header}]]."
    return _clause(loc, data, f"is invalid ({kind.replace('_', ' ')})", given), ""


def _clause(loc: tuple, data: Any, text: str, given: Any) -> str:
    """The sentence every field problem shares: '<path> <text>; got <value>'."""
    clause = f"{field_path(loc, data)} {text}"
    return clause if given is _NOTHING else f"{clause}; got {show(given)}"


def _table(loc: tuple, data: Any) -> str:
    """How the user wrote the table at `loc`: [tumor], [[line]] #2, [[drug]] "A" (#1).

    An inline table inside an array entry reads 'resists in [[mechanism]] "x" (#1)'.
    """
    entries = [depth for depth, part in enumerate(loc) if isinstance(part, int)]
    if entries and entries[-1] < len(loc) - 1:
        inner = ".".join(map(str, loc[entries[-1] + 1 :]))
        return f"{inner} in {_table(loc[: entries[-1] + 1], data)}"
    keys = [part for part in loc if isinstance(part, str)]
    if not keys:
        return "the top level of the file"
    header = ".".join(keys)
    if not isinstance(loc[-1], int):
        return f"[{header}]"
    name = _entry_name(loc, data)
    ordinal = f"#{loc[-1] + 1}"
    return f'[[{header}]] "{name}" ({ordinal})' if name else f"[[{header}]] {ordinal}"


def _entry_name(loc: tuple, data: Any) -> str | None:
    """The `name` the user gave the array entry at `loc`, if it is a named table and has one."""
    if len(loc) < 2 or loc[-2] not in NAMED_TABLES:
        return None
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    name = node.get("name") if isinstance(node, Mapping) else None
    return name if isinstance(name, str) and name else None


def _fields(model: type[BaseModel] | None) -> list[tuple[str, FieldInfo]]:
    """(TOML key, field) pairs of a model, keyed by alias where one is set."""
    if model is None:
        return []
    return [(info.alias or name, info) for name, info in model.model_fields.items()]


def _keys(model: type[BaseModel] | None) -> list[str]:
    return [key for key, _ in _fields(model)]


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that validates the table at `loc`, or None if `loc` is not a table."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, str):
            info = dict(_fields(model)).get(part)
            model = _model_in(info.annotation) if info else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation such as `Tumor` or `tuple[Mechanism, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def _toml(value: Any) -> str:
    """TOML spelling of a parsed value (inline tables and arrays included)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{key} = {_toml(item)}" for key, item in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, Sequence):
        return f"[{', '.join(map(_toml, value))}]"
    return str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class ClusterError(RuntimeError):
    """A batch that cannot run on its Dask cluster; str() is one paragraph: where, what, fix."""

    def __init__(self, where: str, problem: str, fix: str):
        self.where = where
        super().__init__(" ".join(f"{where}: {problem}. {fix}".split()))
