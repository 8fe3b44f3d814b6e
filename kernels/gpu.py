"""The compartment engine on an NVIDIA GPU: one patient per thread, from the CPU's own source.

numba compiles ``refractory.kernels.patient.simulate_patient`` and all it calls (samplers,
the exact transitions, the treatment policy) as CUDA device functions, so the GPU runs the
very code the CPU tests check. Results are not bit-identical to the CPU's: the GPU's
``log`` and ``exp`` can differ from the CPU's in the last bit, so times differ by an ulp
and, rarely, a sampler decides otherwise and the patient's history diverges; the
distributions are the same (the theory tests in tests/verification run on the GPU too).
Each patient's scratch arrays are rows of preallocated arrays (the CPU engine allocates
them per patient); ``patient_rows`` hands patient p its rows. The kernel is that one call;
``simulate_rows`` runs the same rows in a CPU loop, which is how the layout is tested
without a GPU (numba's CUDA simulator cannot call compiled CPU functions). Needs
``numba-cuda`` and a CUDA GPU.
"""

import numpy as np
from numba import njit

try:
    from numba import cuda
except ImportError:  # a numba without its CUDA target: the CPU loop below still works
    cuda = None

from refractory.kernels.clones import META_SIZE, REAL_COLUMNS
from refractory.kernels.compartment import STACK_SIZE
from refractory.kernels.model import ENGINE_AGENT, PatientModel
from refractory.kernels.patient import simulate_patient

#: Threads per block (32, 64 and 128 measured the same on an H100).
THREADS_PER_BLOCK = 64
#: Registers per thread: uncapped, the inlined patient loop takes 255, which leaves few warps
#: per multiprocessor; capped at 64 (the rest spilled to local memory) an H100 ran 15% more
#: patients per second.
MAX_REGISTERS = 64


@njit(cache=True)
def patient_rows(
    p,
    states,
    model,
    ints,
    reals,
    meta,
    stack_ints,
    stack_start,
    starts,
    exposure,
    level,
    dosed_at,
    next_dose,
    patients,
    lines,
    snap_day,
    snap_cells,
    snap_first,
    genotypes,
    trace_day,
    trace_line,
    trace_cells,
    untraced_day,
    untraced_line,
    untraced_cells,
    no_cells,
    no_counts,
    no_unions,
    scans,
):
    """``simulate_patient`` for patient ``p`` on row p of every array.

    Patients past the traced ones get the empty rows ``untraced_*[0]``; the compartment
    engine keeps no cells or lineages (``no_cells[0]``, ``no_counts[0]``, ``no_unions[0]``,
    zero-length, of the CPU engine's types so that both share one compiled patient loop).
    """
    traced = p < trace_day.shape[0]
    work = (
        ints[p],
        reals[p],
        meta[p],
        stack_ints[p],
        stack_start[p],
        no_cells[0],
        starts[p],
        exposure[p],
        level[p],
        dosed_at[p],
        next_dose[p],
    )
    simulate_patient(
        states[p],
        model,
        work,
        patients[p],
        lines[p],
        snap_day[p],
        snap_cells[p],
        snap_first[p],
        genotypes[p],
        trace_day[p] if traced else untraced_day[0],
        trace_line[p] if traced else untraced_line[0],
        trace_cells[p] if traced else untraced_cells[0],
        no_counts[0],
        no_counts[0],
        no_unions[0],
        scans[p],
    )


def _one_thread_per_patient(args):
    """The kernel: thread p runs patient p (``args`` as ``patient_rows`` takes them after p)."""
    p = cuda.grid(1)
    if p < args[0].shape[0]:
        patient_rows(p, *args)


_kernel = (
    None
    if cuda is None
    else cuda.jit(cache=True, max_registers=MAX_REGISTERS)(_one_thread_per_patient)
)


@njit(cache=True)
def _rows_loop(args):
    """The kernel's work as a plain loop over patients."""
    for p in range(args[0].shape[0]):
        patient_rows(p, *args)


def _scratch(model: PatientModel, count: int) -> tuple:
    """(shape, dtype) of each scratch array of ``count`` patients, in ``patient_rows`` order:
    the clone table, the pending-cells stack, block starts, exposure and dosing state."""
    slots = model.max_clones
    nd = model.drug_max_effect.shape[0]
    return (
        ((count, slots, 3), np.int64),
        ((count, slots, REAL_COLUMNS), np.float64),
        ((count, META_SIZE), np.int64),
        ((count, STACK_SIZE, 4), np.int64),
        ((count, STACK_SIZE), np.float64),
        ((count, slots + 1), np.int64),
        ((count, nd + 2), np.float64),
        ((count, nd), np.float64),
        ((count, nd), np.float64),
        ((count, nd), np.float64),
    )


def workspace_bytes(model: PatientModel) -> int:
    """Bytes of one patient's scratch rows."""
    return sum(
        int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in _scratch(model, 1)
    )


def _arguments(states, model, outputs, empty, to_device):
    """The argument tuple of ``patient_rows`` after p: inputs and outputs through
    ``to_device``, scratch rows from ``empty(shape, dtype)``."""
    moments = outputs[2].shape[1]
    scratch = tuple(empty(shape, dtype) for shape, dtype in _scratch(model, states.shape[0]))
    model = model._replace(
        **{
            name: to_device(np.ascontiguousarray(value))
            for name, value in model._asdict().items()
            if isinstance(value, np.ndarray)
        }
    )
    untraced = (
        empty((1, 0), np.float64),
        empty((1, 0), np.int64),
        empty((1, 0, outputs[8].shape[2]), np.int64),
        empty((1, 0), np.int32),
        empty((1, moments, 0), np.int32),
        empty((1, moments, 0), np.int64),
    )
    return (to_device(states), model, *scratch, *outputs[:9], *untraced, outputs[9])


def simulate_rows(states, model, *outputs, empty=np.empty):
    """The GPU kernel's work on the CPU, one patient after another (for tests): the
    arguments of ``simulate_batch_gpu``, the host arrays filled in place; the scratch rows
    come from ``empty(shape, dtype)``."""
    _rows_loop(_arguments(states, model, outputs, empty, lambda array: array))


def _numpy_compat():
    """numba-cuda 0.30 still calls ``numpy.row_stack``, which numpy 2.5 removed; give it the
    function it was an alias of."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


def simulate_batch_gpu(states, model, *outputs):
    """``refractory.kernels.patient.simulate_batch`` on the GPU for the compartment engine: the same
    arguments less the (empty) lineage arrays (patients, lines, snap_day, snap_cells,
    snap_first, genotypes, trace_day, trace_line, trace_cells, scans); the host arrays are
    filled in place."""
    if model.engine == ENGINE_AGENT:
        raise ValueError("the GPU runs the compartment engine only")
    _numpy_compat()
    on_device = [cuda.to_device(array) for array in outputs]
    args = _arguments(states, model, on_device, cuda.device_array, cuda.to_device)
    blocks = (states.shape[0] + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    _kernel[blocks, THREADS_PER_BLOCK](args)
    for host, device in zip(outputs, on_device, strict=True):
        device.copy_to_host(host)


def gpu_problem() -> str | None:
    """Why the GPU engine cannot run here, or None when it can."""
    if cuda is None:
        return "this numba has no CUDA target (pip install 'refractory[gpu]' adds numba-cuda)"
    if not cuda.is_available():
        return "numba finds no CUDA GPU on this machine (numba.cuda.is_available() is False)"
    return None


def patients_per_launch(model: PatientModel, output_bytes: int, count: int) -> int:
    """Patients per kernel launch: all ``count`` if half the GPU's free memory holds their
    scratch rows and ``output_bytes`` of outputs each, else as many as it holds."""
    free, _ = cuda.current_context().get_memory_info()
    fits = (free // 2) // (workspace_bytes(model) + output_bytes)
    return int(max(1, min(count, fits)))
