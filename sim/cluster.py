"""Batches on a Dask cluster: each chunk of patients is one task, its tables sent back here.

The workers compute and this process writes. A task is ``Work.run(Task)``, a pure function of
the scenario, seed and patient range; its worker returns the chunk's tables (kilobytes to a
few megabytes) and this process writes them atomically into the output folder as they
arrive, exactly as a run in one process does (``refractory.batch``). So the folder is the
same as a local run's and resumable by either kind of run, a client killed mid-run leaves
only whole chunks, and the workers need no shared filesystem. A task lost with its worker is
run again by the scheduler elsewhere and gives the same tables.

Dask is an optional dependency (``pip install 'refractory[dask]'``), imported only here and
only when a cluster is asked for.
"""

import functools
import hashlib
import importlib.metadata
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from refractory.batch import Chunks, Tables, Task, Work
from refractory.errors import ClusterError

INSTALL = "pip install 'refractory[dask]'"


def parse_local(text: str) -> int:
    """The number of workers of ``--cluster local:N``; a ValueError when not of that form."""
    kind, _, count = text.partition(":")
    if kind != "local" or not count.isdigit() or int(count) < 1:
        raise ValueError(
            f"expected local:N with N >= 1 worker processes, e.g. local:4; got {text!r}"
        )
    return int(count)


@functools.cache
def code_identity() -> str:
    """The installed version of refractory and a digest of the simulator's Python files: two
    processes of the same identity compute the same tables."""
    import refractory
    import refractory.kernels

    digest = hashlib.sha256()
    for package in (refractory, refractory.kernels):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            digest.update(f"{package.__name__}/{path.name}\n".encode())
            digest.update(path.read_bytes())
    return f"{importlib.metadata.version('refractory')}+{digest.hexdigest()[:12]}"


class CodeMismatch(Exception):
    """Raised by a task on a worker whose code differs from the client's (its identity)."""


def run_task(work: Work, task: Task, identity: str, threads: int | None) -> Tables:
    """One task on a worker: the chunk's tables on ``threads`` of numba's threads (None: all
    of them), refused when the worker's code is not the client's (a worker that joined after
    the start was not checked up front)."""
    if code_identity() != identity:
        raise CodeMismatch(code_identity())
    if threads:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return work.run(task)


@contextmanager
def connect(local: int | None = None, scheduler: str | None = None, quiet: bool = False):
    """A ``distributed.Client`` of a new LocalCluster of ``local`` worker processes on this
    machine (one task at a time each; ``local_threads`` gives each its share of the cores),
    or of the running scheduler at ``scheduler``; its workers checked, and closed (a local
    cluster stopped) on leaving. The dashboard's address goes to stderr unless ``quiet``;
    log records below CRITICAL are off meanwhile (a failure is one ClusterError)."""
    where = scheduler or f"--cluster local:{local}"
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            where,
            "running on a Dask cluster needs dask.distributed, which is not installed here",
            f"Install it with {INSTALL}, or run without --cluster and --scheduler.",
        ) from None
    with ExitStack() as stack:
        # Failures reach the user as one ClusterError paragraph, not as dask's log records.
        stack.callback(logging.disable, logging.root.manager.disable)
        logging.disable(logging.ERROR)
        if local:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=local,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    silence_logs=logging.CRITICAL,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            client = stack.enter_context(_reach(distributed, scheduler))
        if not quiet:
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        if not client.scheduler_info()["workers"]:
            if not quiet:
                print(f"waiting for a worker to join {scheduler}", file=sys.stderr)
            client.wait_for_workers(1)
        check_workers(client, where)
        yield client


def _reach(distributed, address: str):
    """A Client of the scheduler at ``address``; a ClusterError when it cannot be reached
    within dask's connect timeout (distributed.comm.timeouts.connect)."""
    import dask

    timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as reason:
        raise ClusterError(
            address,
            f"cannot reach a Dask scheduler at this address within {timeout} ({reason})",
            "Start one with `dask scheduler` (it prints its address, tcp://HOST:8786) and "
            "pass that address to --scheduler; check the host, the port and that no firewall "
            "stands between; or run on this machine alone with --cluster local:N.",
        ) from None


def local_threads(workers: int) -> int:
    """Numba threads per worker of a local cluster: the cores shared among its workers."""
    import numba

    return max(1, numba.config.NUMBA_NUM_THREADS // workers)


def check_workers(client, where: str) -> None:
    """Refuse the cluster when a worker cannot import refractory or runs other code than
    this process (chunks from other code would differ from a run in one process)."""
    mine = code_identity()
    found = client.run(code_identity, on_error="return")
    broken = {worker: value for worker, value in found.items() if isinstance(value, Exception)}
    if broken:
        worker, reason = next(iter(broken.items()))
        raise ClusterError(
            where,
            f"{_count(broken)} cannot import refractory (worker {worker}: {reason})",
            f"Install refractory {mine.split('+')[0]} with {INSTALL} (or the same checkout "
            "with pip install -e) in the environment each worker runs in, then restart the "
            "workers; chunks already written are kept.",
        )
    other = {worker: value for worker, value in found.items() if value != mine}
    if other:
        worker, theirs = next(iter(other.items()))
        raise _mismatch(where, f"{_count(other)} (worker {worker})", theirs, mine)


def _mismatch(where: str, workers: str, theirs: str, mine: str) -> ClusterError:
    return ClusterError(
        where,
        f"refractory {theirs} runs on {workers}, but {mine} in this process (version + "
        "digest of the simulator's code), and chunks of other code would not match a run in "
        "one process",
        "Install the same version of refractory on every worker and on this machine, then "
        "restart the workers; chunks already written are kept.",
    )


def _count(workers: dict) -> str:
    return f"{len(workers)} worker{'s' if len(workers) > 1 else ''}"


def on_cluster(client, out: Path | None = None, threads: int | None = None) -> Chunks:
    """Chunks run as tasks on the client's cluster, yielded as they finish (any order), each
    on ``threads`` numba threads of its worker (None: all). A task that fails stops the batch
    with a ClusterError; the chunks already yielded have been written by then, and the tasks
    still pending are cancelled."""
    from distributed import as_completed

    where = client.scheduler.address

    def chunks(work: Work, tasks: list[Task]) -> Iterator[tuple[Task, Tables]]:
        identity = code_identity()
        run = uuid.uuid4().hex[:8]
        pending = {
            client.submit(
                run_task,
                work,
                task,
                identity,
                threads,
                key=f"refractory-chunk-{task.variant}-{task.start}-{task.stop}-{run}",
                pure=False,
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(list(pending)):
                task = pending.pop(future)
                if future.status == "error":
                    raise _task_failed(where, task, future.exception(), identity, out)
                yield task, future.result()
        finally:
            client.cancel(list(pending))

    return chunks


def _task_failed(
    where: str, task: Task, error: BaseException, identity: str, out: Path | None
) -> ClusterError:
    if isinstance(error, CodeMismatch):
        return _mismatch(where, "a worker that joined during the run", str(error), identity)
    kept = f" in {out}/" if out else ""
    return ClusterError(
        where,
        f"the task of patients {task.start} to {task.stop - 1} failed on its worker "
        f"({type(error).__name__}: {error})",
        f"Chunks already written are kept{kept}. To see the error in one process, run "
        f"--patient-range {task.start}:{task.stop} without --cluster or --scheduler into "
        "another --out folder; once fixed, the same command as before finishes the batch.",
    )
