"""Compartment engine benchmark: patients per second and nanoseconds per clone-step.

Runs the two-drug scenario (detection at 1e9 cells) on 1 thread and on all threads in the
same process, reports medians of repeats and their ratio, and the compile time apart: cold
(empty cache, in a fresh process) and cached (fresh process, warm cache). Also times the
whole command line (simulation, tables and parquet writing included).

    python benchmarks/bench_compartment.py [--patients N] [--repeats R] [--out DIR]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "two-drugs.toml"
sys.path.insert(0, str(ROOT))

from kernels.model import P_CLONE_STEPS, P_EVENTS  # noqa: E402
from sim.compile import compile_model  # noqa: E402
from sim.engine import run_compartment  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

FIRST_CALL = (
    "import time; t = time.perf_counter(); "
    "from sim.scenario import load_scenario; from sim.compile import compile_model; "
    "from sim.engine import run_compartment; "
    f"m = compile_model(load_scenario({str(SCENARIO)!r})); run_compartment(m, 1, 0, 1); "
    "print(time.perf_counter() - t)"
)


def first_call_seconds(cache_dir: str | None) -> float:
    """Import to first result of a one-patient run, in a fresh process.

    ``cache_dir``: an empty folder measures a cold compile; None uses the project's cache.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_CACHE_DIR", None)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def time_batch(model, patients: int, threads: int, repeats: int) -> dict:
    """Median wall time of ``repeats`` batches on ``threads`` threads, and the work done."""
    numba.set_num_threads(threads)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        raw = run_compartment(model, 100 + r, 0, patients)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    clone_steps = float(raw.patients[:, P_CLONE_STEPS].sum())
    return {
        "threads": threads,
        "seconds_median": seconds,
        "seconds_all": times,
        "patients_per_second": patients / seconds,
        "clone_steps_per_patient": clone_steps / patients,
        "events_per_patient": float(raw.patients[:, P_EVENTS].mean()),
        "ns_per_clone_step_per_thread": seconds * threads / clone_steps * 1e9,
    }


def time_command_line(patients: int) -> float:
    """Seconds for ``refractory run`` end to end (fresh process, warm cache, files written)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim.cli",
                "run",
                str(SCENARIO),
                "--patients",
                str(patients),
                "--out",
                out,
                "--quiet",
            ],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            check=True,
            cwd=ROOT,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as empty:
        cold = first_call_seconds(empty)
    cached = first_call_seconds(None)
    model = compile_model(load_scenario(SCENARIO))
    run_compartment(model, 0, 0, 16)  # compile in this process before timing
    all_threads = numba.config.NUMBA_NUM_THREADS
    runs = [time_batch(model, args.patients, 1, args.repeats)]
    if all_threads > 1:
        runs.append(time_batch(model, args.patients, all_threads, args.repeats))
    cli_seconds = time_command_line(args.patients)
    result = {
        "scenario": str(SCENARIO.relative_to(ROOT)),
        "patients": args.patients,
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "first_call_cold_seconds": cold,
        "first_call_cached_seconds": cached,
        "runs": runs,
        "parallel_efficiency": (
            runs[-1]["patients_per_second"] / runs[0]["patients_per_second"] / all_threads
        ),
        "command_line_seconds": cli_seconds,
        "command_line_patients_per_second": args.patients / cli_seconds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "bench.md").write_text(table + "\n")
    print(table)


def markdown(r: dict) -> str:
    rows = [
        "| workload | figure | value | judged by |",
        "|---|---|---|---|",
    ]
    for run in r["runs"]:
        rows.append(
            f"| two-drugs 1e9, {r['patients']} patients, {run['threads']} thread(s), median of "
            f"{r['repeats']} | patients/s | {run['patients_per_second']:,.0f} | target >= 1,000 "
            "on 2 cores |"
        )
        rows.append(
            f"| same | ns per clone-step (per thread) | {run['ns_per_clone_step_per_thread']:.0f}"
            f" | {run['clone_steps_per_patient']:.0f} clone-steps and "
            f"{run['events_per_patient']:.0f} exact events per patient |"
        )
    rows.append(
        f"| 1 -> {r['runs'][-1]['threads']} threads | parallel efficiency | "
        f"{r['parallel_efficiency']:.2f} | ratio in one run |"
    )
    rows.append(
        f"| `refractory run`, {r['patients']} patients, files written | patients/s | "
        f"{r['command_line_patients_per_second']:,.0f} | includes start-up and writing |"
    )
    rows.append(
        f"| first call, fresh process | seconds | cold {r['first_call_cold_seconds']:.1f}, "
        f"cached {r['first_call_cached_seconds']:.1f} | compile time kept apart |"
    )
    head = f"numba {r['numba']}, numpy {r['numpy']}, {r['cores']} cores, cpu {r['cpu']}"
    return head + "\n\n" + "\n".join(rows)


if __name__ == "__main__":
    main()
