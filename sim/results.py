"""Results: the kernels' coded arrays turned into named tables, in one type.

A chunk's tables are built as columns (numpy arrays; text as Arrow arrays gathered from a
few words by code), stored as Arrow tables, and read back as pandas DataFrames.

Six tables per run (documented in the README): ``patients`` (one row per patient),
``lines`` (one row per patient and line received), ``clones`` (clones alive at treatment
start, at each progression and at the end), ``trace`` (every live clone at every scan, for
the first patients of a batch) and ``lineages`` (agent engine: each barcode's cells at the
moments of ``clones``; empty for the compartment engine) and ``scans`` (every measurement
of the burden). Days count from the start of treatment. ``Results`` holds them with the run's
manifest, whether made in memory (``refractory.simulate``) or read from a results folder
(``load``).
"""

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from refractory.compile import genotype_names
from refractory.engine import RawChunk
from refractory.kernels import model as k
from refractory.scenario import Scenario, parse_scenario

RESPONSES = {k.RESPONSE_CR: "CR", k.RESPONSE_PR: "PR", k.RESPONSE_SD: "SD", k.RESPONSE_PD: "PD"}
END_REASONS = {
    k.END_PROGRESSION: "progression",
    k.END_CURED: "cured",
    k.END_LETHAL: "lethal",
    k.END_HORIZON: "horizon",
    k.END_COMPLETED: "completed",
}
TABLES = ("patients", "lines", "clones", "trace", "lineages", "scans")
#: Tables that folders of earlier versions may lack: read as empty DataFrames.
OPTIONAL_TABLES = ("lineages", "scans")
MANIFEST = "manifest.json"


class ResultsError(ValueError):
    """A results folder that is missing or incomplete, or a question it cannot answer."""


@dataclass(frozen=True, repr=False)
class Results:
    """A run's tables and manifest (the scenario as run, seed, engine, settings, versions).

    ``folder`` is where they were written (None for a run in memory). A table not given is
    read from the folder when first used (so a large batch's tables are held only as they
    are needed); without a folder it is empty.
    """

    folder: Path | None
    manifest: dict
    patients: pd.DataFrame | None = None
    lines: pd.DataFrame | None = None
    clones: pd.DataFrame | None = None
    trace: pd.DataFrame | None = None
    scans: pd.DataFrame | None = None
    lineages: pd.DataFrame | None = None

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if value is None and name in TABLES:
            folder = object.__getattribute__(self, "folder")
            value = pd.DataFrame() if folder is None else read_table(folder, name)
            object.__setattr__(self, name, value)  # read once
        return value

    @property
    def name(self) -> str:
        return self.manifest["scenario"]["scenario"]["name"]

    @property
    def horizon_days(self) -> float:
        return float(self.manifest["scenario"]["scenario"]["horizon_days"])

    @property
    def label(self) -> str:
        """The folder's name, or the scenario's for a run in memory."""
        return self.folder.name if self.folder else self.name

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario as run, validated again from the manifest."""
        source = str(self.folder / MANIFEST) if self.folder else "<results manifest>"
        return parse_scenario(self.manifest["scenario"], source)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name (``TABLES``)."""
        return {name: getattr(self, name) for name in TABLES}

    def __repr__(self) -> str:
        where = f"in {self.folder}" if self.folder else "in memory"
        rows = ", ".join(f"{name} {len(frame)}" for name, frame in self.tables().items())
        return (
            f"<Results {self.name}: {len(self.patients)} patients, seed "
            f"{self.manifest['seed']}, {self.manifest['engine']} engine, {where}; rows: {rows}>"
        )


def load(folder: str | Path) -> Results:
    """Read a results folder written by ``refractory run`` or ``refractory.run_batch``."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise ResultsError(
            f"{folder}: no manifest.json, so this is not a results folder of refractory. "
            "Give the folder that `refractory run` wrote (results/<scenario name> by default)."
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("status") != "complete":
        raise ResultsError(
            f"{folder}: the batch in this folder did not finish (status "
            f"{manifest.get('status')!r}). Run the same `refractory run` command to resume it."
        )
    required = [name for name in TABLES if name not in OPTIONAL_TABLES]
    missing = [name for name in required if not (folder / f"{name}.parquet").exists()]
    if missing:
        raise ResultsError(
            f"{folder}: {', '.join(f'{name}.parquet' for name in missing)} missing, though the "
            "manifest says the batch finished. Run the same `refractory run` command again to "
            "rewrite the tables."
        )
    return Results(folder=folder, manifest=manifest)


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """A table of a results folder: a folder of chunk files read in name order (a single
    file in folders of earlier versions); empty where the folder lacks it."""
    path = folder / f"{name}.parquet"
    if path.is_dir():
        files = sorted(str(p) for p in path.glob("*.parquet") if not p.name.startswith("."))
        return ds.dataset(files, format="parquet").to_table().to_pandas()
    if path.exists():
        return pd.read_parquet(path)
    return pd.DataFrame()


#: A table as it is built: its columns by name, numpy arrays or (text) Arrow arrays.
Columns = dict[str, np.ndarray | pa.Array]


def _words(words: list, codes: np.ndarray) -> pa.Array:
    """Text column: ``words[code]`` for each code (a word None is a missing value), gathered
    by Arrow: no Python string per row."""
    return pa.array(words, pa.string()).take(pa.array(codes, pa.int64()))


def _patients(raw: RawChunk, index: np.ndarray) -> Columns:
    p = raw.outputs.patient
    return {
        "patient": index,
        "cured": p[:, k.P_CURED] == 1,
        "refractory": p[:, k.P_REFRACTORY] == 1,
        "days_to_refractory": p[:, k.P_DAYS_TO_REFRACTORY],
        "lethal": p[:, k.P_LETHAL] == 1,
        "days_to_lethal": p[:, k.P_DAYS_TO_LETHAL],
        "days_to_detection": p[:, k.P_DAYS_TO_DETECTION],
        "cells_at_start": p[:, k.P_CELLS_AT_START].astype(np.int64),
        "resistant_cells_at_start": p[:, k.P_RESISTANT_AT_START].astype(np.int64),
        "cells_at_end": p[:, k.P_CELLS_AT_END].astype(np.int64),
        "lines_received": p[:, k.P_LINES_RECEIVED].astype(np.int64),
        "end_day": p[:, k.P_END_DAY],
    }


def _moment_names(n_lines: int) -> list[str]:
    return ["start"] + [f"progression_{line + 1}" for line in range(n_lines)] + ["end"]


def _names(genotypes: np.ndarray, mechanism_names: tuple[str, ...]) -> pa.Array:
    """Mechanism names of each genotype; missing where there is no genotype (-1). Each
    distinct genotype is named once."""
    distinct, inverse = np.unique(genotypes, return_inverse=True)
    words = [genotype_names(int(g), mechanism_names) if g >= 0 else None for g in distinct]
    return _words(words, inverse.reshape(-1))


def _states(genotypes: np.ndarray) -> Columns:
    """Site ("primary" or "sanctuary") and phenotype ("cycling" or "persister") of clones."""
    return {
        "site": _words(["primary", "sanctuary"], (genotypes & k.SANCTUARY) != 0),
        "phenotype": _words(["cycling", "persister"], (genotypes & k.PERSISTER) != 0),
    }


def _clones(raw: RawChunk, index: np.ndarray, mechanism_names: tuple[str, ...], where) -> Columns:
    """Each live clone at each moment: ``where`` = (patient, moment, slot) of the clones."""
    out = raw.outputs
    p, m, s = where
    first_seen = out.snap_first[p, m, s]
    return {
        "patient": index[p],
        "moment": _words(_moment_names(out.lines.shape[1]), m),
        "day": out.snap_day[p, m],
        "mechanisms": _names(out.genotypes[p, s, 0], mechanism_names),
        "parent_mechanisms": _names(out.genotypes[p, s, 1], mechanism_names),
        **_states(out.genotypes[p, s, 0]),
        "cells": out.snap_cells[p, m, s],
        "first_seen_day": first_seen,
        "preexisting": first_seen <= 0.0,
    }


def _trace(raw: RawChunk, index: np.ndarray, mechanism_names: tuple[str, ...]) -> Columns:
    out = raw.outputs
    p, r, s = np.nonzero(out.trace_cells[: raw.traced] > 0)
    return {
        "patient": index[p],
        "day": out.trace_day[p, r],
        "line": out.trace_line[p, r],
        "mechanisms": _names(out.genotypes[p, s, 0], mechanism_names),
        "parent_mechanisms": _names(out.genotypes[p, s, 1], mechanism_names),
        **_states(out.genotypes[p, s, 0]),
        "cells": out.trace_cells[p, r, s],
    }


def _lineages(raw: RawChunk, index: np.ndarray, mechanism_names: tuple[str, ...]) -> Columns:
    """One row per patient, moment and barcode with cells then (agent engine)."""
    rows = raw.lineages
    genotypes, inverse = np.unique(rows.mechanisms, return_inverse=True)
    p = rows.patient
    return {
        "patient": index[p],
        "moment": _words(_moment_names(raw.outputs.lines.shape[1]), rows.moment),
        "day": raw.outputs.snap_day[p, rows.moment],
        "barcode": rows.barcode,
        "cells": rows.cells,
        "resistant_cells": rows.resistant,
        "mechanisms": _words(
            [genotype_names(int(g), mechanism_names) for g in genotypes], inverse.reshape(-1)
        ),
    }


def _lines(
    raw: RawChunk, index: np.ndarray, scenario: Scenario, clones: Columns, moments: np.ndarray
) -> Columns:
    """One row per line received; ``moments``: the clones' moment numbers."""
    n, n_lines, width = raw.outputs.lines.shape
    flat = raw.outputs.lines.reshape(n * n_lines, width)
    received = ~np.isnan(flat[:, k.L_START_DAY])
    flat = flat[received]
    patient = np.repeat(index, n_lines)[received]
    line = np.tile(np.arange(1, n_lines + 1), n)[received]
    labels = ["+".join(line.drugs) for line in scenario.lines]
    columns = {
        "patient": patient,
        "line": line,
        "drugs": _words(labels, line - 1),
        "start_day": flat[:, k.L_START_DAY],
        "end_day": flat[:, k.L_END_DAY],
        "best_response": _decode(flat[:, k.L_BEST_RESPONSE], RESPONSES),
        "progressed": flat[:, k.L_PROGRESSED] == 1,
        "days_to_progression": flat[:, k.L_DAYS_TO_PROGRESSION],
        "end_reason": _decode(flat[:, k.L_END_REASON], END_REASONS),
    }
    drivers = _drivers(clones, np.where(moments <= n_lines, moments, 0), patient, line)
    return columns | _line_status(columns, flat, scenario) | drivers


def _decode(codes: np.ndarray, words: dict[int, str]) -> pa.Array:
    """The word of each integer code (missing for a code without one)."""
    low = min(min(words), -1)
    table = [None] * (max(words) - low + 2)
    for code, word in words.items():
        table[code - low] = word
    index = codes.astype(np.int64) - low
    return _words(table, np.where((index >= 0) & (index < len(table) - 1), index, len(table) - 1))


#: Per-line columns of the clone that drove a progression.
DRIVER_COLUMNS = ("driver_mechanisms", "driver_site", "driver_phenotype", "driver_preexisting")
#: Per-line columns of response and status (definitions in the README).
LINE_STATUS = (
    "progressed_on_treatment",
    "relapse",
    "primary_refractory",
    "early_progression",
    "doses_scheduled",
    "doses_taken",
    "days_on_drug",
)


def _line_status(columns: Columns, flat: np.ndarray, scenario: Scenario) -> Columns:
    """How each line's disease behaved: progression on treatment or relapse, primary
    refractory (progression on treatment without ever a response), early progression (within
    [monitoring].early_progression_days of the line's start), and the doses and days given."""
    on_treatment = flat[:, k.L_ON_TREATMENT] == 1
    responded = np.isin(flat[:, k.L_BEST_RESPONSE], [k.RESPONSE_CR, k.RESPONSE_PR])
    window = scenario.monitoring.early_progression_days
    return {
        "progressed_on_treatment": on_treatment,
        "relapse": flat[:, k.L_RELAPSE] == 1,
        "primary_refractory": on_treatment & ~responded,
        "early_progression": columns["progressed"] & (flat[:, k.L_DAYS_TO_PROGRESSION] <= window),
        "doses_scheduled": flat[:, k.L_DOSES_SCHEDULED].astype(np.int64),
        "doses_taken": flat[:, k.L_DOSES_TAKEN].astype(np.int64),
        "days_on_drug": flat[:, k.L_DAYS_ON_DRUG],
    }


def _patient_status(patients: Columns, lines: Columns) -> Columns:
    """The clinic's words per patient: relapsed (some line ended in relapse), primary
    refractory (first line), and one status: cured, relapsed_and_refractory, refractory,
    relapsed, or controlled (alive at the horizon with disease not refractory)."""
    relapsed = np.isin(patients["patient"], lines["patient"][lines["relapse"]])
    first = lines["line"] == 1
    primary = np.isin(patients["patient"], lines["patient"][first & lines["primary_refractory"]])
    refractory = patients["refractory"]
    status = np.select(
        [patients["cured"], relapsed & refractory, refractory, relapsed], [0, 1, 2, 3], 4
    )
    words = ["cured", "relapsed_and_refractory", "refractory", "relapsed", "controlled"]
    return {"relapsed": relapsed, "primary_refractory": primary, "status": _words(words, status)}


def _scans(raw: RawChunk, index: np.ndarray) -> Columns:
    """Every measurement of the burden: day, line followed (0: none), measured and true."""
    scans = raw.outputs.scans
    taken = ~np.isnan(scans[:, :, k.S_DAY].ravel())
    rows = scans.reshape(-1, scans.shape[2])[taken]
    return {
        "patient": np.repeat(index, scans.shape[1])[taken],
        "day": rows[:, k.S_DAY],
        "line": rows[:, k.S_LINE].astype(np.int64),
        "measured_cells": rows[:, k.S_MEASURED],
        "true_cells": rows[:, k.S_TRUE].astype(np.int64),
        "on_drug": rows[:, k.S_ON_DRUG] == 1,
    }


def _drivers(
    clones: Columns, clone_line: np.ndarray, patient: np.ndarray, line: np.ndarray
) -> Columns:
    """For each (patient, line) row, the largest clone at that line's progression (the first
    listed among equals; ``clone_line``: the line whose progression each clone row is at, 0
    for none): what drove it (its mechanisms, site and phenotype) and whether it pre-existed;
    missing where the line did not progress."""
    stride = int(max(line.max(initial=0), clone_line.max(initial=0))) + 1
    at = np.flatnonzero(clone_line > 0)
    key = clones["patient"][at] * stride + clone_line[at]
    order = np.lexsort((at, -clones["cells"][at], key))  # key, most cells, first
    keys, first = np.unique(key[order], return_index=True)
    largest = at[order[first]]
    wanted = patient * stride + line
    slot = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = (keys[slot] == wanted) if len(keys) else np.zeros(len(wanted), bool)
    rows = pa.array(largest[slot] if len(keys) else np.zeros(len(wanted), np.int64), mask=~found)
    sources = ("mechanisms", "site", "phenotype", "preexisting")
    return {
        column: pa.array(clones[source]).take(rows)
        for column, source in zip(DRIVER_COLUMNS, sources, strict=True)
    }


def chunk_columns(raw: RawChunk, scenario: Scenario) -> dict[str, Columns]:
    """Named tables (``TABLES``) for one chunk of patients as their columns (``to_arrow``
    gives them the types they are stored with; ``tables_from_chunk`` DataFrames)."""
    index = np.arange(raw.first, raw.first + raw.count, dtype=np.int64)
    names = tuple(m.name for m in scenario.mechanisms)
    where = np.nonzero(raw.outputs.snap_cells > 0)
    clones = _clones(raw, index, names, where)
    lines = _lines(raw, index, scenario, clones, where[1])
    patients = _patients(raw, index)
    return {
        "patients": patients | _patient_status(patients, lines),
        "lines": lines,
        "clones": clones,
        "trace": _trace(raw, index, names),
        "lineages": _lineages(raw, index, names),
        "scans": _scans(raw, index),
    }


def tables_from_chunk(raw: RawChunk, scenario: Scenario) -> dict[str, pd.DataFrame]:
    """Named tables (``TABLES``) for one chunk of patients, with the column types a parquet
    file gives back."""
    return from_arrow(to_arrow(chunk_columns(raw, scenario)))


#: A chunk's tables as Arrow tables: what chunks are written from, sent and joined as.
ArrowTables = dict[str, pa.Table]


_TEXT, _REAL, _WHOLE, _FLAG = pa.string(), pa.float64(), pa.int64(), pa.bool_()
_CLONE_TYPES = {"mechanisms": _TEXT, "parent_mechanisms": _TEXT, "site": _TEXT, "phenotype": _TEXT}
#: The stored type of every column, so that every chunk of a table has the same schema (an
#: empty chunk's text columns would otherwise have none) and a table's chunk files read as
#: one dataset.
COLUMN_TYPES = {
    "patients": {
        "patient": _WHOLE,
        "cured": _FLAG,
        "refractory": _FLAG,
        "days_to_refractory": _REAL,
        "lethal": _FLAG,
        "days_to_lethal": _REAL,
        "days_to_detection": _REAL,
        "cells_at_start": _WHOLE,
        "resistant_cells_at_start": _WHOLE,
        "cells_at_end": _WHOLE,
        "lines_received": _WHOLE,
        "end_day": _REAL,
        "relapsed": _FLAG,
        "primary_refractory": _FLAG,
        "status": _TEXT,
    },
    "lines": {
        "patient": _WHOLE,
        "line": _WHOLE,
        "drugs": _TEXT,
        "start_day": _REAL,
        "end_day": _REAL,
        "best_response": _TEXT,
        "progressed": _FLAG,
        "days_to_progression": _REAL,
        "end_reason": _TEXT,
        "progressed_on_treatment": _FLAG,
        "relapse": _FLAG,
        "primary_refractory": _FLAG,
        "early_progression": _FLAG,
        "doses_scheduled": _WHOLE,
        "doses_taken": _WHOLE,
        "days_on_drug": _REAL,
        "driver_mechanisms": _TEXT,
        "driver_site": _TEXT,
        "driver_phenotype": _TEXT,
        "driver_preexisting": _FLAG,
    },
    "clones": {
        "patient": _WHOLE,
        "moment": _TEXT,
        "day": _REAL,
        **_CLONE_TYPES,
        "cells": _WHOLE,
        "first_seen_day": _REAL,
        "preexisting": _FLAG,
    },
    "trace": {
        "patient": _WHOLE,
        "day": _REAL,
        "line": _WHOLE,
        **_CLONE_TYPES,
        "cells": _WHOLE,
    },
    "lineages": {
        "patient": _WHOLE,
        "moment": _TEXT,
        "day": _REAL,
        "barcode": _WHOLE,
        "cells": _WHOLE,
        "resistant_cells": _WHOLE,
        "mechanisms": _TEXT,
    },
    "scans": {
        "patient": _WHOLE,
        "day": _REAL,
        "line": _WHOLE,
        "measured_cells": _REAL,
        "true_cells": _WHOLE,
        "on_drug": _FLAG,
    },
}
#: Columns a run with a sweep, arms or a cohort adds (besides a number per varied path).
GROUP_TYPES = {"point": _WHOLE, "arm": _TEXT}


def column_type(table: str, column: str) -> pa.DataType:
    """The stored type of a table's column (a varied path's values are numbers)."""
    return COLUMN_TYPES[table].get(column) or GROUP_TYPES.get(column) or _REAL


def to_arrow(tables: dict[str, Columns]) -> ArrowTables:
    """The tables as Arrow tables of their stored types, column by column."""
    return {
        name: pa.table(
            {
                column: _arrow(values, column_type(name, column))
                for column, values in columns.items()
            }
        )
        for name, columns in tables.items()
    }


def _arrow(values: np.ndarray | pa.Array, kind: pa.DataType) -> pa.Array:
    """A column as an Arrow array of its stored type (NaN and None as missing values)."""
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    return pa.array(values, type=kind, from_pandas=True)


def from_arrow(tables: ArrowTables) -> dict[str, pd.DataFrame]:
    """The tables as pandas DataFrames, typed as when read from a parquet file (strings,
    missing values), so that results in memory equal results read from a folder."""
    return {name: table.to_pandas() for name, table in tables.items()}


def join_arrow(parts: list[ArrowTables]) -> ArrowTables:
    """The tables of consecutive chunks as one (a table empty in every chunk keeps the first
    chunk's columns; an empty chunk's columns of unknown type take the others' types)."""
    joined = {}
    for name in TABLES:
        tables = [part[name] for part in parts if part[name].num_rows] or [parts[0][name]]
        joined[name] = pa.concat_tables(tables, promote_options="default")
    return joined
