"""Generated scenario files for the fuzz tests: mutations of the shipped scenarios and of the
README's format, a TOML writer for them, and a worker process that runs accepted ones.

Run as ``python -m tests.fuzz`` it is the worker: it reads one JSON request per line
(scenario path, output folder), runs two patients and answers one JSON line with what the
tests check (or the error a refusal gave), so the tests can enforce a time limit by waiting
on its answer and killing it.
"""

import json
import math
import re
import sys
import tomllib
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
#: Mutation sources: every shipped scenario (lessons without their [lesson] table) and the
#: format block of the README.
SOURCES = sorted((ROOT / "scenarios").rglob("*.toml"))
#: Values put in place of a key's value: extremes of float64 and int64, wrong types.
EXTREMES = [
    0,
    -1,
    1,
    0.5,
    1e-9,
    5e-324,
    1e-320,
    1e16,
    1e30,
    1e300,
    1e308,
    2**63 - 1,
    -(2**63),
    math.inf,
    -math.inf,
    math.nan,
    "text",
    "",
    True,
    [],
    [1, 2],
    {},
    {"x": 1},
]
#: Depth of the deeply nested array a mutation may write.
DEEP = 5000


class Deep:
    """A value written as an array nested ``DEEP`` levels deep."""


def base_documents() -> list[dict]:
    """Parsed sources; the README's block is its first ```toml block."""
    documents = []
    for path in SOURCES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        data.pop("lesson", None)
        documents.append(data)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    documents.append(tomllib.loads(block))
    return documents


def _paths(node, prefix=()):
    """Every (path) to a value inside a parsed document, tables and lists included."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _paths(value, (*prefix, key))


def _replace(data, path, value):
    """A copy of ``data`` with ``path`` set to ``value`` (a ``None`` value deletes it)."""
    copy = dict(data) if isinstance(data, dict) else list(data)
    head, rest = path[0], path[1:]
    if rest:
        copy[head] = _replace(data[head], rest, value)
    elif value is None:
        del copy[head]
    else:
        copy[head] = value
    return copy


def _at(data, path):
    for key in path:
        data = data[key]
    return data


@st.composite
def mutated(draw, documents: list[dict]):
    """A document with one to three mutations: a value replaced by an extreme, a scaled
    number, a deleted key, an extra key or a deep array."""
    data = draw(st.sampled_from(documents))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        old = _at(data, path)
        kind = draw(st.sampled_from(["extreme", "scale", "delete", "extra", "deep"]))
        if kind == "extreme":
            data = _replace(data, path, draw(st.sampled_from(EXTREMES)))
        elif kind == "scale" and isinstance(old, int | float) and not isinstance(old, bool):
            factor = 10.0 ** draw(st.integers(-12, 12))
            data = _replace(data, path, old * factor)
        elif kind == "delete" and isinstance(path[-1], str):
            data = _replace(data, path, None)
        elif kind == "extra" and isinstance(old, dict):
            data = _replace(data, (*path, draw(st.sampled_from(["extra", "name", "cells"]))), 1)
        elif kind == "deep":
            data = _replace(data, path, Deep())
    return data


def to_toml(data: dict) -> str:
    """TOML text of a parsed document: scalars, then tables, then arrays of tables."""
    lines: list[str] = []
    _table(data, (), lines)
    return "\n".join(lines) + "\n"


def _table(data: dict, prefix: tuple, lines: list[str]) -> None:
    nested = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            nested.append((key, value, False))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((key, value, True))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value, array in nested:
        header = ".".join(map(_key, (*prefix, key)))
        for entry in value if array else [value]:
            lines.append(f"\n[[{header}]]" if array else f"\n[{header}]")
            _table(entry, (*prefix, key), lines)


def _key(key) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", str(key)) else json.dumps(str(key))


def _value(value) -> str:
    if isinstance(value, Deep):
        return "[" * DEEP + "]" * DEEP
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def run_two_patients(path: str, out: str) -> dict:
    """Run two patients of an accepted scenario (two traced) and report what the tests check."""
    from refractory.batch import run_batch
    from refractory.errors import ScenarioError
    from refractory.scenario import load_scenario, with_overrides

    scenario = load_scenario(path)
    scenario = with_overrides(scenario, patients=min(scenario.scenario.patients, 2))
    try:
        tables = run_batch(scenario, Path(out), source=path, trace=2, progress=False)
    except ScenarioError as error:
        return {"refused": str(error)}
    patients = tables.patients
    return {
        "horizon": scenario.scenario.horizon_days,
        "cells": patients["cells_at_end"].tolist(),
        "cured": patients["cured"].astype(bool).tolist(),
        "refractory": patients["refractory"].astype(bool).tolist(),
        "end_day": patients["end_day"].tolist(),
        "detection_day": patients["days_to_detection"].fillna(0.0).tolist(),
        "lines": [tables.lines["start_day"].tolist(), tables.lines["end_day"].tolist()],
        "counts": tables.trace["cells"].tolist() + tables.clones["cells"].tolist(),
    }


def _serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run_two_patients(request["path"], request["out"])), flush=True)


if __name__ == "__main__":
    _serve()
