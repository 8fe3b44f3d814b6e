"""The explorer: a local web page where a student changes a scenario's numbers and sees the
batch re-run (``refractory explore``).

A small stdlib HTTP server (127.0.0.1 only) serves one page (``explore.html``, plain
JavaScript) and JSON endpoints. Each change is validated as a scenario file would be, re-runs
that run's patients in memory (same seed, so the difference shows the change, not chance) and
returns its numbers, the lesson's sentences and figures drawn by ``analysis.figures`` as SVG.
"""

import base64
import fnmatch
import io
import json
import math
import re
import threading
import time
import tomllib
import warnings
import webbrowser
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tomli_w

from refractory import scenario as model
from refractory.analysis.figures import km_figure, muller_figure
from refractory.analysis.lessons import lesson_text
from refractory.analysis.summary import summarize
from refractory.errors import ScenarioError
from refractory.lessons import load_lesson, set_path, slug
from refractory.results import Results
from refractory.scenario import load_scenario, parse_scenario

#: Patients per run when the file asks for more: a change should show within a second or two.
MAX_START_PATIENTS = 200
TRACED = 20
PAGE = Path(__file__).with_name("explore.html")

#: The main numbers of any scenario (``*`` matches a list index).
MAIN_CONTROLS = (
    "scenario.patients",
    "tumor.detection_cells",
    "tumor.clone.*.cells",
    "mechanism.*.mutation_rate",
    "mechanism.*.fitness_cost",
    "drug.*.max_effect",
    "drug.*.dose",
    "line.*.schedule",
    "line.*.days_on",
    "line.*.days_off",
    "line.*.pause_below",
    "line.*.resume_at",
    "adherence.miss_probability",
)
#: Numbers that span decades: their sliders move in powers of ten.
LOG_FIELDS = {
    "mutation_rate",
    "detection_cells",
    "cells",
    "lethal_cells",
    "carrying_capacity",
    "visible_cells",
    "switch_on",
    "switch_off",
    "migration_in",
    "migration_out",
    "induction",
}
#: Where a decades slider for a value of 0 (no mutation, no migration) is centred: 1e-7.
LOG_CENTRE_OF_ZERO = -7
#: Tables of drug name = fraction: the field is the table's key, the drug its last part.
PER_DRUG = {"resists": "", "exposure": "to ", "protection": "from "}
CHOICES = {"schedule": model.SCHEDULES}
#: Keys each schedule needs, with the values a line gets when switched to it.
SCHEDULE_KEYS = {
    "intermittent": {"days_on": 28.0, "days_off": 28.0},
    "adaptive": {"pause_below": 0.5, "resume_at": 1.0},
}
TABLES = {
    "scenario": model.ScenarioMeta,
    "tumor": model.Tumor,
    "clone": model.Clone,
    "mechanism": model.Mechanism,
    "drug": model.Drug,
    "line": model.Line,
    "monitoring": model.Monitoring,
    "adherence": model.Adherence,
    "competition": model.Competition,
    "sanctuary": model.Sanctuary,
    "persister": model.Persister,
}


def simulate(scenario: model.Scenario) -> Results:
    """Run the scenario's patients in memory (the first ``TRACED`` traced)."""
    from refractory.simulation import simulate as run

    return run(scenario, trace=TRACED)


# Controls ---------------------------------------------------------------------------------


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every number, true/false and choice in a scenario dict by dotted path (lists of
    tables by index; unset values and lists of names are left out)."""
    found: dict[str, Any] = {}
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, dict) or (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            found.update(leaves(value, path + "."))
        elif isinstance(value, bool | int | float) or (
            isinstance(value, str) and field_of(path) in CHOICES
        ):
            found[path] = value
    return found


def field_of(path: str) -> str:
    """The scenario field a path sets: its last key, or the table's for a per-drug value."""
    parts = path.split(".")
    return parts[-2] if len(parts) > 1 and parts[-2] in PER_DRUG else parts[-1]


def names(field: str, text: str) -> bool:
    """Whether a lesson's Explore text names ``field``: as written, in words, in the plural
    or without a unit ("mutation rates" for mutation_rate, "half-life" for half_life_days)."""
    words = re.sub(r"_days$", "", field).replace("_", "[_ -]")
    return re.search(rf"\b({field}|{words})s?\b", text.lower()) is not None


def chosen_paths(settings: dict, explore: str | None, set_paths: set[str]) -> list[str]:
    """The paths to offer: for a lesson, those its Explore text names or its runs set; for a
    scenario, its main numbers; the number of patients always."""
    found = leaves(settings)
    if explore is None:
        return [p for p in found if any(fnmatch.fnmatch(p, g) for g in MAIN_CONTROLS)]
    chosen = [
        path
        for path in found
        if path == "scenario.patients" or path in set_paths or names(field_of(path), explore)
    ]
    # a line whose schedule is offered offers that schedule's own settings too
    scheduled = {path.rpartition(".")[0] for path in chosen if field_of(path) == "schedule"}
    own = {key for keys in SCHEDULE_KEYS.values() for key in keys}
    return [
        path
        for path in found
        if path in chosen or (field_of(path) in own and path.rpartition(".")[0] in scheduled)
    ]


def describe(path: str, settings: dict) -> tuple[str, str]:
    """A control's label ("mechanism resist_A: fitness_cost") and its rule from the model."""
    parts = path.split(".")
    field = field_of(path)
    table = next((p for p in reversed(parts) if p in TABLES and p != field), parts[0])
    info = TABLES[table].model_fields.get(field) if table in TABLES else None
    words, node = [], settings
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
        if part.isdigit():
            names = isinstance(node, dict) and words[-1] in ("mechanism", "drug")
            words[-1] += f" {node['name']}" if names else f" {int(part) + 1}"
        elif part not in PER_DRUG:
            words.append(part)
    rule = (info.description or "") if info else ""
    if field in PER_DRUG:  # the rule of one drug's value, not of the whole table
        rule = re.sub(r"^a table of drug name = (.*), such as .*$", r"\1", rule)
        field = f"{field} {PER_DRUG[field]}{parts[-1]}"
    return " ".join(words) + f": {field}", rule


def control(path: str, value: Any, settings: dict) -> dict:
    """What the page needs to draw one control: kind, label, rule and the slider's range."""
    label, rule = describe(path, settings)
    field = field_of(path)
    entry = {"path": path, "label": label, "rule": rule, "value": value}
    if isinstance(value, bool):
        return entry | {"kind": "flag"}
    if field in CHOICES:
        return entry | {"kind": "choice", "options": list(CHOICES[field])}
    entry |= {"kind": "number", "whole": isinstance(value, int)}
    if field in LOG_FIELDS:
        centre = round(math.log10(value)) if value > 0 else LOG_CENTRE_OF_ZERO
        return entry | {"scale": "log", "min": centre - 3, "max": centre + 3, "step": 0.1}
    if field == "patients":
        return entry | {"scale": "linear", "min": 10, "max": 1000, "step": 10}
    if "in [0, 1" in rule or "in (0, 1" in rule:
        return entry | {"scale": "linear", "min": 0, "max": 1, "step": 0.01}
    top = 4 * value if value > 0 else 1.0
    return entry | {"scale": "linear", "min": 0, "max": top, "step": top / 100}


# State ------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run: its current settings and results, and those of the setting before."""

    label: str
    settings: dict
    results: Results
    previous: Results | None = None
    #: The last change: the setting's label, its value before and its value now.
    change: tuple[str, str, str] | None = None


class Explorer:
    """The runs of a lesson (or the one run of a scenario) as the student changes them."""

    def __init__(self, path: Path):
        self.source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}  # load_scenario below says what is wrong with the file
        if "lesson" in data:
            lesson = load_lesson(path)
            self.title, self.header, self.slug = lesson.title, lesson.header, lesson.slug
            scenarios = [run.scenario for run in lesson.runs]
            changed = [run.get("set", {}) for run in data["lesson"]["run"]]
            self.set_paths = {p for change in changed for p in leaves(_nested(change))}
        else:
            scenarios = [load_scenario(path)]
            self.title = scenarios[0].scenario.description or scenarios[0].scenario.name
            self.header, self.slug, self.set_paths = {}, "", set()
        self.runs = []
        for scenario in scenarios:
            settings = scenario.to_dict()
            patients = settings["scenario"]["patients"]
            settings["scenario"]["patients"] = min(patients, MAX_START_PATIENTS)
            checked = parse_scenario(settings, self.source)
            self.runs.append(Run(checked.scenario.name, settings, simulate(checked)))

    def view(self, index: int, seconds: float | None = None) -> dict:
        """Everything the page shows for run ``index``."""
        run = self.runs[index]
        paths = chosen_paths(run.settings, self.header.get("Explore"), self.set_paths)
        values = leaves(run.settings)
        with warnings.catch_warnings():
            # a run whose patients all progress on one scan gives a 0/0 log-rank ("–")
            warnings.simplefilter("ignore", RuntimeWarning)
            sentences = lesson_text(self.slug, [(r.label, r.results) for r in self.runs])
            now, before = summarize(run.results), run.previous and summarize(run.previous)
            figures = {
                "km": svg(km_figure(*self._compared(run))),
                "muller": svg(muller_figure(run.results)),
            }
        return {
            "title": self.title,
            "header": self.header,
            "runs": [r.label for r in self.runs],
            "selected": index,
            "controls": [control(path, values[path], run.settings) for path in paths],
            "numbers": numbers(now, before),
            "change": f"{run.change[0]} {run.change[1]} → {run.change[2]}" if run.change else "",
            "sentences": sentences,
            "figures": figures,
            "seconds": seconds,
        }

    def _compared(self, run: Run) -> tuple[list[Results], list[str], list[str]]:
        """The run's results after those of its previous setting when there is one, the
        endpoint drawn and their labels (km_figure's arguments)."""
        if run.previous is None:
            return [run.results], "refractory", [run.results.name]
        label, old, new = run.change
        names = [f"before ({label} = {old})", f"now ({label} = {new})"]
        return [run.previous, run.results], "refractory", names

    def change(self, index: int, path: str, value: Any) -> dict:
        """Set ``path`` of run ``index`` to ``value``, validate, re-run, and return its view;
        a value the scenario rules refuse raises ScenarioError and changes nothing."""
        run = self.runs[index]
        settings = json.loads(json.dumps(run.settings))
        old = leaves(settings).get(path)
        if old is None:
            raise ScenarioError(
                self.source,
                f"{path} is not a setting of the run {run.label!r}",
                "Choose one of the controls shown.",
                field=path,
            )
        set_path(settings, path, value, self.source)
        if field_of(path) == "schedule":
            _switch_schedule(settings, path)
        scenario = parse_scenario(settings, self.source)
        started = time.perf_counter()
        results = simulate(scenario)
        run.previous, run.results, run.settings = run.results, results, settings
        run.change = (describe(path, settings)[0], _shown(old), _shown(value))
        return self.view(index, round(time.perf_counter() - started, 3))

    def save(self, index: int, folder: Path) -> Path:
        """Write run ``index``'s settings as a scenario file in ``folder``; return its path."""
        run = self.runs[index]
        path = folder / f"{slug(run.label)}.toml"
        comment = f"# {run.label}: saved from refractory explore {Path(self.source).name}\n"
        path.write_text(comment + scenario_toml(run.settings), encoding="utf-8")
        return path


def _nested(change: dict) -> dict:
    """A run's ``set`` table ({"a.0.b": value}) as the nested dict it changes."""
    nested: dict = {}
    for path, value in change.items():
        set_path(nested, path, value, "[lesson]")
    return nested


def _switch_schedule(settings: dict, path: str) -> None:
    """Give a line switched to another schedule that schedule's keys and drop the others'."""
    line = settings
    for part in path.split(".")[:-1]:
        line = line[int(part)] if part.isdigit() else line[part]
    for schedule, keys in SCHEDULE_KEYS.items():
        for key, default in keys.items():
            if schedule != line["schedule"]:
                line[key] = None
            elif line.get(key) is None:
                line[key] = default


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def numbers(now: dict, before: dict | None) -> list[dict]:
    """The key numbers of the run now and before the last change, as the page shows them."""
    rows = (
        ("cured", "cured", "share"),
        ("refractory", "refractory disease", "share"),
        (
            "preexisting_resistance_share",
            "progressions driven by a resistant clone already there at treatment start",
            "share",
        ),
        ("median_days_to_refractory", "median days to refractory disease", "days"),
    )
    return [
        {
            "key": key,
            "label": label,
            "now": _number(now[key], kind),
            "before": _number(before[key], kind) if before else "",
        }
        for key, label, kind in rows
    ]


def _number(value: float, kind: str) -> str:
    if value != value:  # NaN: no progression, or a median not reached
        return "–" if kind == "share" else "not reached"
    return f"{100 * value:.0f}%" if kind == "share" else f"{value:.0f}"


def svg(figure) -> str:
    """A figure as a data URL of its SVG (one <img> per figure on the page)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def scenario_toml(settings: dict) -> str:
    """A scenario dict as TOML that ``refractory run`` reads back (unset values left out)."""

    def drop_unset(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: drop_unset(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [drop_unset(v) for v in value]
        return value

    return tomli_w.dumps(drop_unset(settings))


# Server -----------------------------------------------------------------------------------


def handler(explorer: Explorer, save_folder: Path) -> type[BaseHTTPRequestHandler]:
    """The request handler: the page at /, JSON at /api/view, /api/change and /api/save
    (one request at a time changes or reads the explorer)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no line per request on the terminal
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:
            if self.path == "/":
                self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            else:
                self._json(404, {"error": f"no page {self.path}"})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            run = int(request.get("run", 0))
            try:
                with lock:
                    self._answer(self.path, run, request)
            except ScenarioError as error:
                self._json(400, {"error": str(error)})

        def _answer(self, path: str, run: int, request: dict) -> None:
            if path == "/api/view":
                self._json(200, explorer.view(run))
            elif path == "/api/change":
                self._json(200, explorer.change(run, request["path"], request["value"]))
            elif path == "/api/save":
                self._json(200, {"saved": str(explorer.save(run, save_folder).resolve())})
            else:
                self._json(404, {"error": f"no endpoint {path}"})

    return Handler


def start(path: Path, port: int = 0, save_folder: Path = Path(".")) -> ThreadingHTTPServer:
    """Prepare the explorer of ``path`` (a lesson or scenario file) and a server for it on
    127.0.0.1:``port`` (0: a free port); ``serve_forever`` runs it."""
    explorer = Explorer(path)
    return ThreadingHTTPServer(("127.0.0.1", port), handler(explorer, save_folder))


def serve(path: Path, port: int = 0, open_browser: bool = True) -> None:
    """Serve the explorer until Ctrl-C, printing its address (and opening it in a browser)."""
    print(f"Preparing {path} (the first use compiles the kernels: up to a minute)...")
    server = start(path, port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"Explorer at {url} (Ctrl-C stops it)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nStopped.")
    finally:
        server.server_close()
