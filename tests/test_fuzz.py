"""Fuzz: generated scenario files are either refused with exit 2 and one paragraph naming the
file, or run two patients to a sane result within a time limit.

The files are mutations of every shipped scenario and of the README's format (tests.fuzz):
extreme numbers, wrong types, missing and extra keys, deep nesting. ``refractory check`` runs
in this process; accepted files run in a worker process (tests.fuzz) that is killed, failing
the test, when one takes longer than ``TIME_LIMIT``. Sane: no negative cell counts, cured and
refractory never both, every day within [0, horizon] (up to rounding).
"""

import io
import json
import math
import select
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings

from refractory.cli import main
from tests.fuzz import ROOT, base_documents, mutated, to_toml

#: Seconds an accepted file may take to run two patients (the limits allow about a minute
#: of one core per patient in the worst case; the files here are far from it).
TIME_LIMIT = 120.0
DOCUMENTS = base_documents()


class Worker:
    """The ``python -m tests.fuzz`` process, asked one scenario at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def run(self, path: Path, out: Path) -> dict:
        self.process.stdin.write(json.dumps({"path": str(path), "out": str(out)}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], TIME_LIMIT)
        if not ready:
            self.process.kill()
            pytest.fail(f"{path} ran longer than {TIME_LIMIT} s:\n{path.read_text()[:2000]}")
        answer = self.process.stdout.readline()
        assert answer, f"the worker died on {path}:\n{path.read_text()[:2000]}"
        return json.loads(answer)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def worker():
    running = Worker()
    yield running
    running.close()


def _check(path: Path) -> tuple[int, str]:
    """``refractory check`` in this process: exit status and stderr."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        status = main(["check", str(path)])
    return status, err.getvalue()


def _assert_sane(path: Path, result: dict) -> None:
    if "refused" in result:  # a run refused for the machine (none is expected here)
        assert result["refused"].startswith(f"{path}: "), result
        return
    horizon = result["horizon"]
    assert all(cells >= 0 for cells in result["cells"] + result["counts"]), result
    assert not any(c and r for c, r in zip(result["cured"], result["refractory"], strict=True))
    days = result["end_day"] + [d for d in sum(result["lines"], []) if not math.isnan(d)]
    # Days count from treatment start, computed as (detection day + t) - detection day: a
    # few ulps of the absolute day beyond the horizon are rounding, not a later day.
    rounding = 4 * math.ulp(max(result["detection_day"], default=0.0) + horizon)
    assert all(0 <= day <= horizon + rounding for day in days), result


def _one(tmp_path_factory, worker, data) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "generated.toml"
    path.write_text(to_toml(data))
    status, err = _check(path)
    assert status in (0, 2), err
    event("refused" if status == 2 else "ran")
    if status == 2:
        assert err.startswith(f"error: {path}: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
        return
    _assert_sane(path, worker.run(path, folder / "out"))


_FAST = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FAST
@given(data=mutated(DOCUMENTS))
def test_generated_scenarios_are_refused_or_run_sanely(tmp_path_factory, worker, data):
    _one(tmp_path_factory, worker, data)


@pytest.mark.verify
@settings(_FAST, max_examples=3000, derandomize=False)
@given(data=mutated(DOCUMENTS))
def test_thousands_of_generated_scenarios(tmp_path_factory, worker, data):
    _one(tmp_path_factory, worker, data)


def test_the_writer_round_trips_every_source():
    """The generated files are what the mutations say: each source, written and read back,
    is the parsed source."""
    import tomllib

    for data in DOCUMENTS:
        assert tomllib.loads(to_toml(data)) == data
