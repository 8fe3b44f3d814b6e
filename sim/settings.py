"""Every numerical setting of the engines, in one record written whole to each manifest.

The defaults are the values the verification suite checks against theory; a run with other
settings records them, and a results folder is resumed only with the settings it began with.
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EngineSettings:
    """Numerical settings of the engines (not of the model: the scenario holds that)."""

    #: Total size below which the compartment engine simulates event by event (exact).
    exact_below_cells: int = 100
    #: Largest expected log-growth of any clone in one exact-transition step.
    max_log_growth_per_step: float = 0.25
    #: Detection and lethal sizes are reached within this relative tolerance.
    threshold_tolerance: float = 0.01
    #: More mutants of one kind in one step than this are grouped by arrival time.
    mutant_bins: int = 4
    #: Clone slots per patient when mechanisms allow more genotypes than this.
    max_clone_slots: int = 1024
    #: Room for groups of new cells pending inside one compartment step.
    pending_groups: int = 4096
    #: Under competition, the largest relative change of the total burden in one step.
    max_total_change_per_step: float = 0.01
    #: While a dosed drug acts, steps last at most this fraction of its half-life and interval.
    pk_step_fraction: float = 0.05
    #: A dosed drug below this fraction of its ec50 is washed out (its effect is 0).
    washed_out_fraction: float = 1e-6
    #: Largest probability that a cell migrates or switches within one compartment step (a
    #: moved group does not move back within its step; the error is second order in this).
    max_switch_step: float = 0.02
    #: Most cells the agent engine holds per patient (4 bytes each, one patient per thread).
    agent_max_cells: int = 10_000_000
    #: How the agent engine keeps lineages: "counts" (each clone's cells per barcode, 8 bytes
    #: per clone slot and barcode, an O(log barcodes) descent per event at any size), "cells"
    #: (every cell's barcode, 4 bytes per cell: fastest while they fit the caches) or "auto"
    #: (counts past 16 MiB of cells for up to 4,096 barcodes when they take less memory;
    #: refractory.compile.lineage_columns).
    agent_lineages: str = "auto"
    #: Patients handed to a thread at a time: small, so threads that draw quick patients
    #: (cured early) take more of them and the threads finish together.
    patients_per_handout: int = 4
    #: Bytes of per-barcode outputs the agent engine holds at once (patients run in groups).
    agent_group_bytes: int = 128 * 2**20

    def __post_init__(self) -> None:
        if self.agent_lineages not in ("auto", "counts", "cells"):
            raise ValueError(
                f"EngineSettings.agent_lineages is {self.agent_lineages!r}: use "
                '"auto", "counts" or "cells".'
            )

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_SETTINGS = EngineSettings()
