"""Batches on a Dask cluster: the same tables as one process whatever happens to the workers
or the client, and one-paragraph errors for a cluster that cannot run them.

Every cluster here listens on 127.0.0.1 and is stopped by the test that starts it; processes
of the command line run in their own session and are killed with it.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from refractory.batch import run_batch  # noqa: E402
from refractory.cli import main  # noqa: E402
from refractory.cluster import connect, on_cluster  # noqa: E402
from refractory.errors import ClusterError  # noqa: E402
from refractory.results import TABLES  # noqa: E402
from refractory.scenario import load_scenario, with_overrides  # noqa: E402

#: Enough patients that a run outlasts a kill (about 0.1 s per chunk on one thread).
PATIENTS, CHUNK = 20_000, 1_000
#: Preloaded by a worker that cannot import refractory, as if it were not installed.
WITHOUT_REFRACTORY = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "refractory":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _NotInstalled())
for name in [name for name in sys.modules if name.split(".")[0] == "refractory"]:
    del sys.modules[name]
"""
#: Preloaded by a worker that runs other code than the client.
OTHER_VERSION = """
import refractory.cluster

refractory.cluster.code_identity = lambda: "0.0.1+0123456789ab"
"""
#: Preloaded by a worker whose tasks of patients from 20 on fail (dask may run a preload
#: twice in one namespace, hence the guard).
FAILING_TASKS = """
import refractory.cluster

def _failing(work, task, identity, threads):
    if task.start >= 20:
        raise OSError("No space left on device")
    return _run_task(work, task, identity, threads)

if refractory.cluster.run_task.__module__ == "refractory.cluster":
    _run_task = refractory.cluster.run_task
    refractory.cluster.run_task = _failing
"""


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}


def _assert_same(a: Path, b: Path) -> None:
    expected, found = _tables(a), _tables(b)
    for name in TABLES:
        pd.testing.assert_frame_equal(expected[name], found[name], check_exact=True)


def _chunks_written(out: Path) -> int:
    return len(list((out / "patients.parquet").glob("*.parquet")))


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "refractory.cli", "run", *args, "--quiet"]


@pytest.fixture
def local_cluster():
    """A LocalCluster of two worker processes (and its client), stopped afterwards."""
    with connect(2, quiet=True) as client:
        yield client


@pytest.fixture
def one_worker(tmp_path):
    """Start a one-worker LocalCluster whose worker first runs the given code; its scheduler's
    address. Stopped when the test ends."""
    with ExitStack() as stack:

        def start(preload: str) -> str:
            path = tmp_path / "preload.py"
            path.write_text(preload)
            cluster = distributed.LocalCluster(
                n_workers=1,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                preload=[str(path)],
                silence_logs=logging.CRITICAL,
            )
            return stack.enter_context(cluster).scheduler_address

        yield start


def test_local_cluster_gives_the_tables_of_one_process(small_scenario_file, tmp_path):
    one = tmp_path / "one"
    run_batch(load_scenario(small_scenario_file), one, patients=600, chunk_size=50)
    done = subprocess.run(
        _command(str(small_scenario_file), "--patients", "600", "--chunk-size", "50")[:-1]
        + ["--out", str(tmp_path / "cluster"), "--cluster", "local:2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Dask dashboard: http://127.0.0.1:" in done.stderr
    _assert_same(one, tmp_path / "cluster")
    cluster = tmp_path / "cluster"
    assert sorted(p.relative_to(one) for p in one.rglob("*.parquet")) == sorted(
        p.relative_to(cluster) for p in cluster.rglob("*.parquet")
    )


def test_a_sweep_of_trials_over_a_cohort_on_a_cluster_gives_the_tables_of_one_process(
    small_scenario_file, tmp_path, local_cluster
):
    """Tasks are (point, arm, patients): every variant's chunks come back whole, each patient
    with the values the cohort drew for it in this process."""
    text = small_scenario_file.read_text() + (
        '[cohort]\n"tumor.death_rate" = { distribution = "uniform", low = 0.05, high = 0.15 }\n'
        '[sweep]\n"tumor.birth_rate" = { values = [0.3, 0.35] }\n'
        '[[arm]]\nlabel = "A then B"\n[[arm]]\nlabel = "B"\nset = { "line.0.drugs" = ["B"] }\n'
    )
    path = tmp_path / "trial.toml"
    path.write_text(text)
    run_batch(path, tmp_path / "one", patients=40, chunk_size=15)
    run_batch(
        path,
        tmp_path / "cluster",
        patients=40,
        chunk_size=15,
        chunks=on_cluster(local_cluster, tmp_path / "cluster", 1),
    )
    _assert_same(tmp_path / "one", tmp_path / "cluster")
    assert _chunks_written(tmp_path / "cluster") == 2 * 2 * 3


def test_a_worker_killed_mid_run_changes_nothing(small_scenario_file, tmp_path, local_cluster):
    scenario = with_overrides(load_scenario(small_scenario_file), patients=PATIENTS)
    run_batch(scenario, tmp_path / "one", chunk_size=CHUNK)
    pids = local_cluster.run(os.getpid)
    killed = []

    def kill_a_busy_worker(work, tasks):
        results = iter(on_cluster(local_cluster, threads=1)(work, tasks))
        first = next(results)
        busy = [worker for worker, keys in local_cluster.processing().items() if keys]
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(busy[0])
        yield first
        yield from results

    run_batch(scenario, tmp_path / "cluster", chunk_size=CHUNK, chunks=kill_a_busy_worker)
    assert killed and killed[0] not in local_cluster.scheduler_info()["workers"]
    _assert_same(tmp_path / "one", tmp_path / "cluster")


def test_a_client_killed_mid_run_resumes_to_the_same_tables(small_scenario_file, tmp_path):
    scenario = with_overrides(load_scenario(small_scenario_file), patients=PATIENTS)
    run_batch(scenario, tmp_path / "one", chunk_size=CHUNK)
    out = tmp_path / "cluster"
    args = [str(small_scenario_file), "--patients", str(PATIENTS), "--chunk-size", str(CHUNK)]
    client = subprocess.Popen(
        _command(*args, "--out", str(out), "--cluster", "local:2"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while _chunks_written(out) < 2 and client.poll() is None:
            assert time.monotonic() < deadline, "the cluster run wrote no chunks in 90 s"
            time.sleep(0.05)
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
    finally:  # the workers too
        os.killpg(client.pid, signal.SIGKILL)
    written = _chunks_written(out)
    assert 2 <= written < PATIENTS // CHUNK
    assert main(["run", *args, "--out", str(out), "--quiet"]) == 0
    _assert_same(tmp_path / "one", out)
    assert not [path for path in out.rglob("*") if ".tmp" in path.name]


def test_an_unreachable_scheduler_is_one_paragraph(small_scenario_file, tmp_path, capsys):
    import dask

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = main(
            ["run", str(small_scenario_file), "--out", str(tmp_path), "--scheduler", address]
        )
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2
    assert error.startswith(f"error: {address}: cannot reach a Dask scheduler")
    assert "dask scheduler" in error and "--cluster local:N" in error


def test_a_worker_without_refractory_is_refused(small_scenario_file, tmp_path, capsys, one_worker):
    address = one_worker(WITHOUT_REFRACTORY)
    out = tmp_path / "out"
    status = main(["run", str(small_scenario_file), "--out", str(out), "--scheduler", address])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2
    assert "1 worker cannot import refractory" in error and "No module named" in error
    assert "pip install 'refractory[dask]'" in error
    assert not out.exists()


def test_a_worker_of_another_version_is_refused(small_scenario_file, tmp_path, capsys, one_worker):
    address = one_worker(OTHER_VERSION)
    args = ["run", str(small_scenario_file), "--out", str(tmp_path / "out")]
    assert main([*args, "--scheduler", address]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "refractory 0.0.1+0123456789ab runs on 1 worker (worker tcp://127.0.0.1:" in error
    assert "but 0.1.0+" in error and "in this process" in error
    # A worker that joins after the check is refused by its first task.
    with distributed.Client(address) as client, pytest.raises(ClusterError) as joined:
        run_batch(load_scenario(small_scenario_file), tmp_path / "late", chunks=on_cluster(client))
    assert "0.0.1+0123456789ab runs on a worker that joined during the run" in str(joined.value)


def test_a_failing_task_keeps_the_finished_chunks(small_scenario_file, tmp_path, one_worker):
    address = one_worker(FAILING_TASKS)
    out = tmp_path / "out"
    args = [str(small_scenario_file), "--chunk-size", "10", "--out", str(out)]
    done = subprocess.run(
        _command(*args, "--scheduler", address), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    [error] = done.stderr.strip().splitlines()
    assert "the task of patients 20 to 29 failed on its worker" in error
    assert "(OSError: No space left on device)" in error
    assert f"Chunks already written are kept in {out}/" in error
    assert "--patient-range 20:30" in error
    assert _chunks_written(out) == 2
    assert main(["run", *args, "--quiet"]) == 0
    run_batch(load_scenario(small_scenario_file), tmp_path / "one", chunk_size=10)
    _assert_same(tmp_path / "one", out)
