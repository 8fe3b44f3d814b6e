"""Lessons: numbered scenario files in scenarios/lessons/ that each compare a few runs.

A lesson file ``NN-slug.toml`` is a scenario (the base) plus a ``[lesson]`` table listing its
runs; each run has a ``label`` and ``set``, a table of dotted paths into the base scenario and
the values that replace them there (``"line.0.schedule" = "adaptive"``: list items by index;
missing or unset tables are created). The header comment (the file's leading ``#`` lines) states the
question (``Question:``), what to change (``Explore:``) and what to see (``Expect:``).
"""

import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refractory.bundled import scenarios_folder
from refractory.errors import ScenarioError
from refractory.scenario import Scenario, parse_scenario, scenario_hash, with_overrides

LESSONS_DIR = scenarios_folder() / "lessons"
FILE_NAME = re.compile(r"^(\d\d)-([a-z0-9-]+)\.toml$")
HEADER_FIELDS = ("Question", "Explore", "Expect")


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson: its label and its validated scenario."""

    label: str
    scenario: Scenario


@dataclass(frozen=True)
class Lesson:
    """A lesson file: number, slug, title, header fields and its runs in order."""

    number: int
    slug: str
    path: Path
    title: str
    header: dict[str, str]
    runs: tuple[LessonRun, ...]

    @property
    def question(self) -> str:
        return self.header["Question"]


def lesson_files(folder: Path = LESSONS_DIR) -> dict[int, Path]:
    """The lesson files of ``folder`` by number (files named NN-slug.toml)."""
    return {
        int(match.group(1)): path
        for path in sorted(folder.glob("*.toml"))
        if (match := FILE_NAME.match(path.name))
    }


def parse_header(text: str) -> tuple[str, dict[str, str]]:
    """The title (first comment line) and the ``Field:`` paragraphs of the leading comment."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    title = lines[0] if lines else ""
    fields: dict[str, str] = {}
    current = None
    for line in lines[1:]:
        key, _, rest = line.partition(":")
        if key in HEADER_FIELDS:
            current = key
            fields[key] = rest.strip()
        elif current is not None and line:
            fields[current] += " " + line
        else:
            current = None
    return title, fields


def set_path(data: dict, path: str, value: Any, source: str, where: str = "lesson.run.set") -> None:
    """Replace the value at a dotted ``path`` of ``data`` (integers index lists); errors
    name the table that gave the path (``where``)."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) > len(node):
                raise ScenarioError(
                    source,
                    f"{where}: {path!r} indexes a list of {len(node)} entries with {part!r}",
                    "Use a 0-based index up to the list's length (the length adds an entry).",
                    field=path,
                )
            key: Any = int(part)
            if key == len(node):
                node.append(None if last else {})
        elif isinstance(node, dict):
            key = part
            if not last and node.get(key) is None:
                node[key] = {}
        else:
            raise ScenarioError(
                source,
                f"{where}: {path!r} goes inside {'.'.join(parts[:i])!r}, which is a "
                "value, not a table or list",
                "Set the whole value at the shorter path instead.",
                field=path,
            )
        if last:
            node[key] = value
        else:
            node = node[key]


def load_lesson(path: Path, number: int | None = None) -> Lesson:
    """Read a lesson file: validate its base scenario with each run's changes applied."""
    source = str(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, f"is not valid TOML: {error}", "Fix the syntax.") from None
    match = FILE_NAME.match(path.name)
    title, header = parse_header(text)
    missing = [key for key in HEADER_FIELDS if key not in header]
    if not match or missing:
        raise ScenarioError(
            source,
            "a lesson is a file named NN-slug.toml whose leading comment has a title line and "
            f"'Question:', 'Explore:' and 'Expect:' paragraphs; missing {missing or 'NN-slug'}",
            "Rename the file or complete its header comment.",
        )
    lesson = data.pop("lesson", {})
    runs = lesson.get("run", [])
    if not runs or not all(isinstance(run, dict) and "label" in run for run in runs):
        raise ScenarioError(
            source,
            "[lesson] needs at least one [[lesson.run]] table, each with a label",
            'Add [[lesson.run]] label = "..." (and set = { "dotted.path" = value }).',
            field="lesson.run",
        )
    built = []
    for run in runs:
        variant = parse_scenario(data, source).to_dict()
        for key, value in run.get("set", {}).items():
            set_path(variant, key, value, source)
        variant["scenario"]["name"] = run["label"]
        built.append(LessonRun(run["label"], parse_scenario(variant, source)))
    return Lesson(
        number=number if number is not None else int(match.group(1)),
        slug=match.group(2),
        path=path,
        title=title,
        header=header,
        runs=tuple(built),
    )


def find_lesson(number: int, folder: Path = LESSONS_DIR) -> Lesson:
    """The lesson numbered ``number``; a clear error naming the lessons there are."""
    files = lesson_files(folder)
    if number not in files:
        raise ScenarioError(
            str(folder),
            f"there is no lesson {number}; the lessons are {', '.join(map(str, files))}",
            "Run `refractory lessons` to list them.",
        )
    return load_lesson(files[number], number)


def run_lesson(lesson: Lesson, out: Path, patients: int | None = None) -> list[Path]:
    """Run each of the lesson's runs into ``out/<label>`` and return those folders."""
    from refractory.batch import run_batch  # the engines load only when a lesson runs

    folders = []
    for run in lesson.runs:
        folder = out / slug(run.label)
        scenario = with_overrides(run.scenario, patients=patients, source=str(lesson.path))
        _remove_if_stale(folder, scenario)
        run_batch(scenario, folder, source=str(lesson.path), progress=False)
        folders.append(folder)
    return folders


def _remove_if_stale(folder: Path, scenario: Scenario) -> None:
    """Delete a run's earlier results if the lesson file changed since (lessons are meant to
    be edited and run again); results of the same scenario are reused or extended."""
    from refractory.results import MANIFEST

    manifest = folder / MANIFEST
    if not manifest.exists():
        return
    previous = json.loads(manifest.read_text())["scenario"]
    if scenario_hash(parse_scenario(previous, str(manifest))) != scenario_hash(scenario):
        shutil.rmtree(folder)


def slug(label: str) -> str:
    """A file or folder name for a run's label (lower case, words joined by "-")."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "run"
