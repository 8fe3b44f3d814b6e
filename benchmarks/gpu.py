"""The compartment engine on a GPU against the CPU's threads, side by side in one run.

Skipped with a note when numba finds no CUDA GPU. Rows: the first call's time (compiling
the kernel), patients per second of the two-drug scenario at detection 1e9 on the GPU (one
launch) and on all CPU threads, their ratio, and how many patients' integer outcomes (clone
sizes at every snapshot, genotypes, cure, refractoriness, lines received) are the CPU's
from the same streams. Wherever numba-cuda is installed, GPU or not, and without
``--quick``: the first compile's two parts on this CPU, numba to PTX for an H100 (compute
capability 9.0) and ptxas (from the CUDA toolkit or the nvidia-cuda-nvcc wheel) to machine
code, as the driver does at the first launch. Part of ``refractory bench``; also runs alone:
``python -m refractory.benchmarks.gpu [--quick]``.
"""

import argparse
import importlib.util
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from refractory.benchmarks.compartment import TWO_DRUGS
from refractory.benchmarks.measure import Row, median_seconds
from refractory.compile import compile_model
from refractory.engine import RawChunk, engine_runner, run_compartment
from refractory.kernels.model import P_CURED, P_LINES_RECEIVED, P_REFRACTORY
from refractory.scenario import load_scenario

SECTION = "gpu"
#: The first compile (numba to PTX, then ptxas) the GPU engine aims at, in seconds.
COMPILE_TARGET = 60.0


def same_outcomes(cpu: RawChunk, gpu: RawChunk) -> np.ndarray:
    """Per patient: are the integer outcomes of the two runs equal?"""
    columns = [P_CURED, P_REFRACTORY, P_LINES_RECEIVED]
    same = (cpu.outputs.patient[:, columns] == gpu.outputs.patient[:, columns]).all(axis=1)
    for name in ("snap_cells", "genotypes"):
        a, b = getattr(cpu.outputs, name), getattr(gpu.outputs, name)
        same &= (a == b).reshape(a.shape[0], -1).all(axis=1)
    return same


def _ptxas() -> str | None:
    """The ptxas assembler: on the PATH, or in the nvidia-cuda-nvcc wheel."""
    found = shutil.which("ptxas")
    if found:
        return found
    try:
        from nvidia import cuda_nvcc
    except ImportError:
        return None
    wheel = Path(next(iter(cuda_nvcc.__path__))) / "bin" / "ptxas"
    return str(wheel) if wheel.exists() else None


def compile_rows() -> list[Row]:
    """The two-drug kernel's first compile measured on this CPU, no GPU needed: numba to PTX
    for compute capability 9.0 (the device query answered as an H100 would), then ptxas.
    No rows without numba-cuda (numba's own deprecated CUDA target does not count)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return []
    from refractory.engine import allocate_outputs
    from refractory.kernels import gpu
    from refractory.kernels.model import shared_rows
    from refractory.kernels.streams import patient_states

    model = compile_model(load_scenario(TWO_DRUGS))
    arguments = (
        patient_states(1, 0, 8),
        shared_rows(model),
        gpu.batch_workspace(model, 8),
        allocate_outputs(model, 8, 2),
    )
    workload = "two-drug kernel for compute capability 9.0, on this CPU"
    started = time.perf_counter()
    try:
        ptx = gpu.ptx_without_gpu(arguments)
    except Exception as error:  # no NVVM (numba-cuda without a toolkit): say so, go on
        return [Row(SECTION, workload, "not run", float("nan"), "", 0, judged_by=str(error))]
    to_ptx = time.perf_counter() - started
    found = [Row(SECTION, workload, "numba to PTX", to_ptx, "s", 1, extra={"ptx_bytes": len(ptx)})]
    ptxas = _ptxas()
    if ptxas is None:
        return found
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "kernel.ptx"
        source.write_text(ptx)
        started = time.perf_counter()
        subprocess.run(
            [ptxas, "-arch=sm_90", str(source), "-o", str(source.with_suffix(".cubin"))],
            check=True,
            capture_output=True,
        )
        assembled = time.perf_counter() - started
    total = to_ptx + assembled
    return found + [
        Row(SECTION, workload, "ptxas to machine code", assembled, "s", 1),
        Row(
            SECTION,
            workload,
            "first compile, numba and ptxas",
            total,
            "s",
            1,
            judged_by="the driver's own assembly at the first launch is ptxas's work",
            target=f"<= {COMPILE_TARGET:.0f} s",
            met=bool(total <= COMPILE_TARGET),
        ),
    ]


def rows(quick: bool) -> list[Row]:
    """GPU against all CPU threads on the two-drug scenario; a note when there is no GPU;
    without ``quick``, the first compile measured on this CPU."""
    compiling = [] if quick else compile_rows()
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
            ),
            *compiling,
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
        *compiling,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    for row in rows(parser.parse_args().quick):
        print(f"{row.workload}: {row.figure} = {row.value:,.4g} {row.unit} {row.judged_by}")


if __name__ == "__main__":
    main()
