"""Read a results folder into DataFrames (columns documented in the README)."""

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
from refractory.scenario import Scenario, parse_scenario

TABLES = ("patients", "lines", "clones", "trace")
# Tables that only some engines or runs write: read when present, empty DataFrames otherwise.
OPTIONAL_TABLES = ("scans", "lineages")


class ResultsError(ValueError):
    """A results folder that is missing or incomplete, or a question it cannot answer."""


@dataclass(frozen=True)
class Results:
    """A batch's tables and manifest (the scenario as run, seed, engine, versions).

    ``scans`` and ``lineages`` are empty DataFrames when the folder has no such file.
    """

    folder: Path
    manifest: dict
    patients: pd.DataFrame
    lines: pd.DataFrame
    clones: pd.DataFrame
    trace: pd.DataFrame
    scans: pd.DataFrame = field(default_factory=pd.DataFrame)
    lineages: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def name(self) -> str:
        return self.manifest["scenario"]["scenario"]["name"]

    @property
    def horizon_days(self) -> float:
        return float(self.manifest["scenario"]["scenario"]["horizon_days"])

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario as run, validated again from the manifest."""
        return parse_scenario(self.manifest["scenario"], str(self.folder / "manifest.json"))


def load(folder: str | Path) -> Results:
    """Load the tables (``TABLES``, and ``OPTIONAL_TABLES`` where present) and the manifest."""
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
    missing = [name for name in TABLES if not (folder / f"{name}.parquet").exists()]
    if missing:
        raise ResultsError(
            f"{folder}: {', '.join(f'{name}.parquet' for name in missing)} missing, though the "
            "manifest says the batch finished. Run the same `refractory run` command again to "
            "rewrite the tables."
        )
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    for name in OPTIONAL_TABLES:
        path = folder / f"{name}.parquet"
        if path.exists():
            tables[name] = pd.read_parquet(path)
    return Results(folder=folder, manifest=manifest, **tables)
