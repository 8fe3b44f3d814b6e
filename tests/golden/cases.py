"""Golden outputs: the full tables of a few scenarios for fixed seeds, stored in this folder.

They pin every draw of the engines: a change to the code around the kernels must leave them
bit-identical. Record them again (``python -m tests.golden.cases``) only for a change that
is meant to change the draws, and say so in its commit.
"""

import tempfile
from pathlib import Path

import pandas as pd

import refractory

HERE = Path(__file__).parent
ROOT = HERE.parents[1]

#: name: (scenario file, patients, traced patients, engine or None for the file's).
CASES = {
    "two-drugs": (ROOT / "scenarios" / "two-drugs.toml", 300, 20, None),
    "three-lines-pk-adaptive": (
        ROOT / "scenarios" / "benchmarks" / "three-lines-pk-adaptive-1e10.toml",
        12,
        3,
        None,
    ),
    "sanctuary-persisters": (HERE / "sanctuary-persisters.toml", 60, 5, None),
    "sanctuary-persisters-agent": (HERE / "sanctuary-persisters.toml", 8, 3, "agent"),
    "agent-barcodes": (ROOT / "scenarios" / "lessons" / "barcodes.toml", 6, 3, None),
    "adaptive-competition": (ROOT / "scenarios" / "treatment" / "adaptive.toml", 20, 4, None),
    "adherence": (ROOT / "scenarios" / "treatment" / "adherence.toml", 40, 4, None),
    "fixed-course": (ROOT / "scenarios" / "treatment" / "fixed-course.toml", 60, 4, None),
    "intermittent": (ROOT / "scenarios" / "treatment" / "intermittent.toml", 60, 4, None),
}


def stored(name: str) -> dict[str, pd.DataFrame]:
    """The recorded tables of a case."""
    return {path.stem: pd.read_parquet(path) for path in sorted((HERE / name).glob("*.parquet"))}


def run_case(name: str, folder: Path) -> dict[str, pd.DataFrame]:
    """Run a case as a batch in two chunks into ``folder``; its tables by name."""
    path, patients, trace, engine = CASES[name]
    results = refractory.run_batch(
        path,
        folder,
        patients=patients,
        engine=engine,
        chunk_size=max(patients // 2, 1),
        trace=trace,
        progress=False,
    )
    return results.tables()


def simulate_case(name: str) -> dict[str, pd.DataFrame]:
    """Run a case in memory; its tables by name."""
    path, patients, trace, engine = CASES[name]
    return refractory.simulate(path, patients=patients, engine=engine, trace=trace).tables()


def record() -> None:
    """Run every case and store its tables."""
    for name in CASES:
        with tempfile.TemporaryDirectory() as folder:
            tables = run_case(name, Path(folder) / name)
        (HERE / name).mkdir(exist_ok=True)
        for table, frame in tables.items():
            frame.to_parquet(HERE / name / f"{table}.parquet", index=False)


if __name__ == "__main__":
    record()
