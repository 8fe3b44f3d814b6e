"""Start-up and end-to-end figures: compile time (cold, cached), the command line with files
written for the scenarios in scenarios/benchmarks/, and peak memory."""

import json
import tempfile
import time
from pathlib import Path

from refractory.benchmarks.measure import Row, python_in_fresh_process
from refractory.bundled import scenarios_folder
from refractory.errors import ScenarioError
from refractory.scenario import load_scenario

SECTION = "end to end"
#: Patients per second a benchmark scenario must reach on the command line, files written.
THROUGHPUT_TARGETS = {"two-drugs-1e9.toml": 2000.0}
FIRST_RESULT = """
import time
t = time.perf_counter()
from refractory.scenario import load_scenario
from refractory.compile import compile_model
from refractory.engine import ENGINES
s = load_scenario({path!r})
ENGINES[s.scenario.engine](compile_model(s), 1, 0, 1)
print(time.perf_counter() - t)
"""
COMMAND_LINE = """
import json, resource, time
from refractory.cli import main
t = time.perf_counter()
status = main(["run", {path!r}, "--patients", "{patients}", "--out", {out!r}, "--quiet"])
print(json.dumps({{"status": status, "seconds": time.perf_counter() - t,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def first_result_seconds(scenario: Path, cache_dir: str | None) -> float:
    """Import to first result of a one-patient run in a fresh process (cold: empty cache)."""
    env = {"NUMBA_CACHE_DIR": cache_dir} if cache_dir else {}
    return float(python_in_fresh_process(FIRST_RESULT.format(path=str(scenario)), env).split()[-1])


def compile_times(scenario: Path) -> list[Row]:
    """Cold compile (empty cache) and cached start-up, each in a fresh process."""
    with tempfile.TemporaryDirectory() as empty:
        cold = first_result_seconds(scenario, empty)
    first_result_seconds(scenario, None)  # make sure the project cache is warm
    cached = first_result_seconds(scenario, None)
    return [
        Row(
            SECTION,
            "import to first result, 1 patient, empty cache",
            "seconds (cold compile)",
            cold,
            "s",
            1,
        ),
        Row(
            SECTION,
            "import to first result, 1 patient, cached",
            "seconds",
            cached,
            "s",
            1,
            target="< 3",
            met=cached < 3.0,
        ),
    ]


def command_line(scenario: Path, patients: int) -> dict:
    """``refractory run`` in a fresh process, results written: its time after the imports
    (whose time varies by tenths of a second between processes), the process's wall time and
    peak memory."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = json.loads(
            python_in_fresh_process(
                COMMAND_LINE.format(path=str(scenario), patients=patients, out=out)
            ).splitlines()[-1]
        )
        report["wall_seconds"] = time.perf_counter() - start
    return report


def _median_run(path: Path, patients: int, repeats: int) -> dict:
    """The ``command_line`` report of median wall time among ``repeats`` runs."""
    reports = sorted(
        (command_line(path, patients) for _ in range(repeats)), key=lambda r: r["seconds"]
    )
    return reports[len(reports) // 2]


def batch_throughput(quick: bool) -> list[Row]:
    """Patients per second through the command line for every benchmark scenario."""
    repeats = 3
    rows = []
    for path in sorted((scenarios_folder() / "benchmarks").glob("*.toml")):
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            rows.append(
                Row(SECTION, path.name, "not run", float("nan"), "", 0, judged_by=str(error))
            )
            continue
        patients = scenario.scenario.patients * (1 if quick else 5)
        few = max(patients // 5, 10)
        command_line(path, few)  # compiles whatever the cache lacks: not in either size
        small = _median_run(path, few, repeats)
        large = _median_run(path, patients, repeats)
        per_patient = (large["seconds"] - small["seconds"]) / (patients - few)
        goal = THROUGHPUT_TARGETS.get(path.name)
        rows.append(
            Row(
                SECTION,
                f"refractory run {path.name}, {patients} patients, files written",
                "patients per second (start-up excluded)",
                1.0 / per_patient,
                "1/s",
                repeats,
                judged_by="difference of the median times of two batch sizes after a warm-up "
                "run, so start-up cancels",
                target="" if goal is None else f">= {goal:,.0f}",
                met=None if goal is None else bool(1.0 / per_patient >= goal),
                extra={
                    "wall_seconds": large["wall_seconds"],
                    "seconds_in_process": large["seconds"],
                },
            )
        )
        rows.append(
            Row(
                SECTION,
                f"refractory run {path.name}, {patients} patients",
                "peak resident memory",
                large["max_rss_kib"] / 1024,
                "MiB",
                1,
                extra={
                    "patients": patients,
                    "small_batch_mib": small["max_rss_kib"] / 1024,
                    "small_batch_patients": few,
                },
            )
        )
        rows.append(
            Row(
                SECTION,
                f"refractory run {path.name}, {few} and {patients} patients",
                "peak resident memory per patient",
                (large["max_rss_kib"] - small["max_rss_kib"]) / (patients - few),
                "KiB",
                1,
                judged_by="difference of the two batch sizes' peaks / difference of patients",
            )
        )
    return rows
