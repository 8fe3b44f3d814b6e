"""The compartment engine on a GPU against the CPU's threads, side by side in one run.

Skipped with a note when numba finds no CUDA GPU. Rows: the first call's time (compiling
the kernel), patients per second of the two-drug scenario at detection 1e9 on the GPU (one
launch) and on all CPU threads, their ratio, and how many patients' integer outcomes (clone
sizes at every snapshot, genotypes, cure, refractoriness, lines received) are the CPU's
from the same streams. Part of ``refractory bench``; also runs alone:
``python -m benchmarks.gpu [--quick]``.
"""

import argparse
import time

import numba
import numpy as np

from refractory.benchmarks.compartment import TWO_DRUGS
from refractory.benchmarks.measure import Row, median_seconds
from refractory.compile import compile_model
from refractory.engine import RawChunk, engine_runner, run_compartment
from refractory.kernels.model import P_CURED, P_LINES_RECEIVED, P_REFRACTORY
from refractory.scenario import load_scenario

SECTION = "gpu"


def same_outcomes(cpu: RawChunk, gpu: RawChunk) -> np.ndarray:
    """Per patient: are the integer outcomes of the two runs equal?"""
    columns = [P_CURED, P_REFRACTORY, P_LINES_RECEIVED]
    same = (cpu.outputs.patient[:, columns] == gpu.outputs.patient[:, columns]).all(axis=1)
    for name in ("snap_cells", "genotypes"):
        a, b = getattr(cpu.outputs, name), getattr(gpu.outputs, name)
        same &= (a == b).reshape(a.shape[0], -1).all(axis=1)
    return same


def rows(quick: bool) -> list[Row]:
    """GPU against all CPU threads on the two-drug scenario; a note when there is no GPU."""
    try:
        run_gpu = engine_runner("compartment", "gpu")
    except ValueError as reason:
        return [
            Row(
                SECTION,
                "compartment engine on a GPU",
                "not run",
                float("nan"),
                "",
                0,
                judged_by=str(reason),
            )
        ]
    gpu_patients, cpu_patients, repeats = (100_000, 4000, 3) if quick else (1_000_000, 40_000, 5)
    model = compile_model(load_scenario(TWO_DRUGS))
    started = time.perf_counter()
    run_gpu(model, 0, 0, 64)
    first_call = time.perf_counter() - started
    run_compartment(model, 0, 0, 8)
    gpu_seconds, _ = median_seconds(lambda: run_gpu(model, 1, 0, gpu_patients), repeats)
    cpu_seconds, _ = median_seconds(lambda: run_compartment(model, 1, 0, cpu_patients), repeats)
    gpu_rate, cpu_rate = gpu_patients / gpu_seconds, cpu_patients / cpu_seconds
    agree = same_outcomes(
        run_compartment(model, 2, 0, cpu_patients), run_gpu(model, 2, 0, cpu_patients)
    )
    workload = "two drugs, detection 1e9"
    threads = numba.config.NUMBA_NUM_THREADS
    return [
        Row(
            SECTION,
            "compartment kernel on the GPU, first call",
            "compile and run",
            first_call,
            "s",
            1,
        ),
        Row(
            SECTION,
            f"{workload}, {gpu_patients} patients in one launch, GPU",
            "patients per second",
            gpu_rate,
            "1/s",
            repeats,
        ),
        Row(
            SECTION,
            f"{workload}, {cpu_patients} patients, {threads} CPU threads",
            "patients per second",
            cpu_rate,
            "1/s",
            repeats,
        ),
        Row(
            SECTION,
            "GPU / all CPU threads",
            "ratio",
            gpu_rate / cpu_rate,
            "",
            repeats,
            judged_by="patients per second, same run",
            ratio=gpu_rate / cpu_rate,
        ),
        Row(
            SECTION,
            f"{workload}, {cpu_patients} patients, same streams",
            "share with the CPU's integer outcomes",
            float(agree.mean()),
            "",
            1,
            judged_by="clone sizes, genotypes, cure, refractory, lines equal",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    for row in rows(parser.parse_args().quick):
        print(f"{row.workload}: {row.figure} = {row.value:,.4g} {row.unit} {row.judged_by}")


if __name__ == "__main__":
    main()
