"""The compartment engine on an NVIDIA GPU: one patient per thread, from the CPU's own source.

numba compiles ``refractory.kernels.patient.simulate_patient`` and all it calls (samplers,
the exact transitions, the treatment policy) as CUDA device functions, so the GPU runs the
very code the CPU tests check. Results are not bit-identical to the CPU's: the GPU's
``log`` and ``exp`` can differ from the CPU's in the last bit, so times differ by an ulp
and, rarely, a sampler decides otherwise and the patient's history diverges; the
distributions are the same (the theory tests in tests/verification run on the GPU too).
Each patient's scratch arrays are rows of a preallocated batch Workspace (the CPU engine
allocates one per patient); ``simulate_row`` hands patient p its rows of the workspace and
of the outputs (kernels.records). The kernel is that one call; ``simulate_rows`` runs the
same rows in a CPU loop, which is how the layout is tested without a GPU (numba's CUDA
simulator cannot call compiled CPU functions). Needs ``numba-cuda`` and a CUDA GPU.
"""

import numpy as np
from numba import njit

try:
    from numba import cuda
except ImportError:  # a numba without its CUDA target: the CPU loop below still works
    cuda = None

from refractory.kernels.model import ENGINE_AGENT, PatientModel, patient_model
from refractory.kernels.patient import advance_clones, advance_tumour, simulate_patient
from refractory.kernels.records import (
    Outputs,
    Workspace,
    new_workspace,
    patient_outputs,
    patient_workspace,
)

if cuda is not None:
    from numba.extending import overload

    @overload(advance_tumour, target="cuda")
    def _advance_on_gpu(state, model, work, t, t_stop, threshold):
        """On the GPU the tumour advances on the clone table (the compartment engine, the only
        one the GPU runs): the kernel compiles without the agent engine's cell-by-cell code,
        which took a fifth of numba's compile and a third of ptxas's."""

        def advance_on_gpu(state, model, work, t, t_stop, threshold):
            return advance_clones(state, model, work, t, t_stop, threshold)

        return advance_on_gpu


#: Threads per block (32, 64 and 128 measured the same on an H100).
THREADS_PER_BLOCK = 64
#: Registers per thread: uncapped, the inlined patient loop takes 255, which leaves few warps
#: per multiprocessor; capped at 64 (the rest spilled to local memory) an H100 ran 15% more
#: patients per second.
MAX_REGISTERS = 64


@njit(cache=True)
def simulate_row(p, states, rows, work, outputs):
    """``simulate_patient`` for patient ``p`` on its rows of the batch records."""
    simulate_patient(
        states[p], patient_model(rows, p), patient_workspace(work, p), patient_outputs(outputs, p)
    )


def _one_thread_per_patient(states, rows, work, outputs):
    """The kernel: thread p runs patient p."""
    p = cuda.grid(1)
    if p < states.shape[0]:
        simulate_row(p, states, rows, work, outputs)


_kernel = (
    None
    if cuda is None
    else cuda.jit(cache=True, max_registers=MAX_REGISTERS)(_one_thread_per_patient)
)


@njit(cache=True)
def _rows_loop(states, rows, work, outputs):
    """The kernel's work as a plain loop over patients."""
    for p in range(states.shape[0]):
        simulate_row(p, states, rows, work, outputs)


def batch_workspace(model: PatientModel, count: int, empty=np.empty) -> Workspace:
    """Scratch rows for ``count`` patients from ``empty(shape, dtype)``, shaped as
    ``new_workspace`` shapes one patient's."""
    one = new_workspace(model)
    return Workspace(*(empty((count, *array.shape), array.dtype) for array in one))


def workspace_bytes(model: PatientModel) -> int:
    """Bytes of one patient's scratch rows."""
    return sum(array.nbytes for array in new_workspace(model))


def _on_device(rows: PatientModel) -> PatientModel:
    """The model's per-patient rows copied to the GPU."""
    return PatientModel(*(cuda.to_device(np.ascontiguousarray(value)) for value in rows))


def simulate_rows(states, rows, outputs, empty=np.empty):
    """The GPU kernel's work on the CPU, one patient after another (for tests): the
    arguments of ``simulate_batch_gpu``, the host arrays filled in place; the scratch rows
    come from ``empty(shape, dtype)``."""
    work = batch_workspace(patient_model(rows, 0), states.shape[0], empty)
    _rows_loop(states, rows, work, outputs)


def _numpy_compat():
    """numba-cuda 0.30 still calls ``numpy.row_stack``, which numpy 2.5 removed; give it the
    function it was an alias of."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


def ptx_without_gpu(arguments: tuple, cc: tuple[int, int] = (9, 0)) -> str:
    """The kernel compiled to PTX for compute capability ``cc`` for these (states, rows,
    workspace, outputs), no GPU needed: compiling device functions asks the driver for the
    device's compute capability, so the query is answered with ``cc`` meanwhile."""
    import numba
    import numba.cuda.dispatcher as dispatcher

    class Device:
        compute_capability = cc

    asked, dispatcher.get_current_device = dispatcher.get_current_device, Device
    _numpy_compat()
    try:
        signature = tuple(numba.typeof(argument) for argument in arguments)
        ptx, _ = cuda.compile_ptx(_one_thread_per_patient, signature, cc=cc)
    finally:
        dispatcher.get_current_device = asked
    return ptx


def simulate_batch_gpu(states, rows, outputs: Outputs):
    """``refractory.kernels.patient.simulate_batch`` on the GPU for the compartment engine:
    the same arguments; the host arrays of ``outputs`` are filled in place."""
    model = patient_model(rows, 0)
    if model.engine == ENGINE_AGENT:
        raise ValueError("the GPU runs the compartment engine only")
    _numpy_compat()
    on_device = Outputs(*(cuda.to_device(array) for array in outputs))
    work = batch_workspace(model, states.shape[0], cuda.device_array)
    blocks = (states.shape[0] + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    _kernel[blocks, THREADS_PER_BLOCK](cuda.to_device(states), _on_device(rows), work, on_device)
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
