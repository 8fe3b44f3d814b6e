"""Read a results folder into DataFrames (columns documented in the README)."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TABLES = ("patients", "lines", "clones", "trace")


class ResultsError(ValueError):
    """A results folder that is missing or incomplete."""


@dataclass(frozen=True)
class Results:
    """A batch's tables and manifest (the scenario as run, seed, engine, versions)."""

    folder: Path
    manifest: dict
    patients: pd.DataFrame
    lines: pd.DataFrame
    clones: pd.DataFrame
    trace: pd.DataFrame

    @property
    def name(self) -> str:
        return self.manifest["scenario"]["scenario"]["name"]

    @property
    def horizon_days(self) -> float:
        return float(self.manifest["scenario"]["scenario"]["horizon_days"])


def load(folder: str | Path) -> Results:
    """Load ``patients``, ``lines``, ``clones`` and the manifest of a finished batch."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
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
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    return Results(folder=folder, manifest=manifest, **tables)
