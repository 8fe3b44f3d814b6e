"""Batches: reproducibility across threads, chunks and resumption; the output files."""

import json
import shutil

import numba
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import refractory
from refractory.batch import run_batch
from refractory.errors import ScenarioError
from refractory.scenario import load_scenario, with_overrides

PATIENT_COLUMNS = [
    "patient",
    "cured",
    "refractory",
    "days_to_refractory",
    "lethal",
    "days_to_lethal",
    "days_to_detection",
    "cells_at_start",
    "resistant_cells_at_start",
    "cells_at_end",
    "lines_received",
    "end_day",
    "relapsed",
    "primary_refractory",
    "status",
]
LINE_COLUMNS = [
    "patient",
    "line",
    "drugs",
    "start_day",
    "end_day",
    "best_response",
    "progressed",
    "days_to_progression",
    "end_reason",
    "progressed_on_treatment",
    "relapse",
    "primary_refractory",
    "early_progression",
    "doses_scheduled",
    "doses_taken",
    "days_on_drug",
    "driver_mechanisms",
    "driver_site",
    "driver_phenotype",
    "driver_preexisting",
]
CLONE_COLUMNS = [
    "patient",
    "moment",
    "day",
    "mechanisms",
    "parent_mechanisms",
    "site",
    "phenotype",
    "cells",
    "first_seen_day",
    "preexisting",
]
TRACE_COLUMNS = [
    "patient",
    "day",
    "line",
    "mechanisms",
    "parent_mechanisms",
    "site",
    "phenotype",
    "cells",
]
SCAN_COLUMNS = ["patient", "day", "line", "measured_cells", "true_cells", "on_drug"]


def _frames(folder):
    return {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in ("patients", "lines", "clones", "trace", "scans")
    }


def _assert_same(a, b):
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_output_files_and_columns(small_scenario_file, tmp_path):
    out = tmp_path / "out"
    run_batch(load_scenario(small_scenario_file), out, chunk_size=25, trace=30)
    frames = _frames(out)
    assert list(frames["patients"].columns) == PATIENT_COLUMNS
    assert list(frames["lines"].columns) == LINE_COLUMNS
    assert list(frames["clones"].columns) == CLONE_COLUMNS
    assert list(frames["trace"].columns) == TRACE_COLUMNS
    assert list(frames["scans"].columns) == SCAN_COLUMNS
    assert frames["patients"]["patient"].tolist() == list(range(60))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["seed"] == 11 and manifest["patients"] == 60
    assert manifest["scenario"]["scenario"]["name"] == "small"
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_same_results_whatever_threads_and_chunks(small_scenario_file, tmp_path):
    scenario = load_scenario(small_scenario_file)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        run_batch(scenario, tmp_path / "one", chunk_size=60)
    finally:
        numba.set_num_threads(threads)
    run_batch(scenario, tmp_path / "many", chunk_size=7)
    _assert_same(_frames(tmp_path / "one"), _frames(tmp_path / "many"))


def test_single_patient_rerun_alone(small_scenario_file, tmp_path):
    scenario = load_scenario(small_scenario_file)
    whole = run_batch(scenario, tmp_path / "whole")
    alone = run_batch(scenario, tmp_path / "alone", patient_range=(17, 18))
    expected = whole.patients[whole.patients["patient"] == 17].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.patients, expected)


def test_interrupted_batch_resumes_to_identical_files(small_scenario_file, tmp_path, monkeypatch):
    scenario = load_scenario(small_scenario_file)
    run_batch(scenario, tmp_path / "straight", chunk_size=10)

    import refractory.batch

    calls = {"n": 0}
    real = refractory.batch.write_chunk

    def crash_after_three(*args):
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        real(*args)

    monkeypatch.setattr(refractory.batch, "write_chunk", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_batch(scenario, tmp_path / "resumed", chunk_size=10)
    monkeypatch.setattr(refractory.batch, "write_chunk", real)
    done = sorted(p.name for p in (tmp_path / "resumed" / "patients.parquet").glob("*.parquet"))
    assert len(done) == 3
    run_batch(scenario, tmp_path / "resumed", chunk_size=10)
    _assert_same(_frames(tmp_path / "straight"), _frames(tmp_path / "resumed"))
    straight = sorted(
        p.relative_to(tmp_path / "straight") for p in (tmp_path / "straight").rglob("*")
    )
    resumed = sorted(p.relative_to(tmp_path / "resumed") for p in (tmp_path / "resumed").rglob("*"))
    assert straight == resumed


def test_changed_scenario_is_refused(small_scenario_file, tmp_path):
    scenario = load_scenario(small_scenario_file)
    run_batch(scenario, tmp_path / "out", patient_range=(0, 5))
    with pytest.raises(ScenarioError, match="different scenario"):
        run_batch(with_overrides(scenario, seed=12), tmp_path / "out", patient_range=(0, 5))


def test_more_patients_extend_a_batch(small_scenario_file, tmp_path):
    scenario = load_scenario(small_scenario_file)
    run_batch(with_overrides(scenario, patients=20), tmp_path / "out", chunk_size=10)
    extended = run_batch(scenario, tmp_path / "out", chunk_size=10)
    fresh = run_batch(scenario, tmp_path / "fresh", chunk_size=10)
    pd.testing.assert_frame_equal(extended.patients, fresh.patients)


def test_trace_follows_the_first_patients_scan_by_scan(small_scenario_file, tmp_path):
    scenario = load_scenario(small_scenario_file)
    tables = run_batch(scenario, tmp_path / "out", chunk_size=7, trace=10)
    trace = tables.trace
    assert sorted(trace["patient"].unique()) == list(range(10))
    for patient, rows in trace.groupby("patient"):
        days = sorted(rows["day"].unique())
        end = tables.patients.loc[patient, "end_day"]
        assert days[0] == 0.0
        assert (days[-1] == end) == (tables.patients.loc[patient, "cells_at_end"] > 0)
        scans = [d for d in days[1:] if d < end]
        np.testing.assert_allclose(scans, 28.0 * np.arange(1, len(scans) + 1), rtol=1e-12)
        for moment in ("start", "end"):
            clones = tables.clones[
                (tables.clones.patient == patient) & (tables.clones.moment == moment)
            ]
            day = 0.0 if moment == "start" else end
            at = rows[rows["day"] == day]
            traced = dict(zip(at.mechanisms, at.cells, strict=True))
            assert traced == dict(zip(clones.mechanisms, clones.cells, strict=True))
    first_line = trace[trace["day"] == 0.0]["line"]
    assert (first_line == 1).all()
    roots = tables.clones[tables.clones.mechanisms == ""]
    assert roots["parent_mechanisms"].isna().all()
    mutants = tables.clones[tables.clones.mechanisms != ""]
    for mechanisms, parent in zip(mutants.mechanisms, mutants.parent_mechanisms, strict=True):
        gained = set(mechanisms.split("+")) - set(parent.split("+") if parent else [])
        assert len(gained) == 1, (mechanisms, parent)


def test_each_table_is_a_dataset_of_chunk_files_any_parquet_reader_reads(
    small_scenario_file, tmp_path
):
    """A table is a folder with one file per chunk, in run order by name, all of one schema:
    pandas reads the folder as the table, equal to what refractory.load gives."""
    out = tmp_path / "out"
    run_batch(load_scenario(small_scenario_file), out, chunk_size=25, trace=30)
    files = sorted(p.name for p in (out / "patients.parquet").iterdir())
    assert files == [
        "000000000-000000024.parquet",
        "000000025-000000049.parquet",
        "000000050-000000059.parquet",
    ]
    loaded = refractory.load(out)
    for name in ("patients", "lines", "clones", "trace", "scans", "lineages"):
        schemas = {pq.read_schema(p) for p in (out / f"{name}.parquet").iterdir()}
        assert len(schemas) == 1, name  # the third chunk traces nobody: same schema anyway
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{name}.parquet"), getattr(loaded, name), check_exact=True
        )


def test_results_read_a_table_only_when_it_is_used(small_scenario_file, tmp_path, monkeypatch):
    import refractory.results

    read = []
    real = refractory.results.read_table
    monkeypatch.setattr(
        refractory.results,
        "read_table",
        lambda folder, name: read.append(name) or real(folder, name),
    )
    results = run_batch(load_scenario(small_scenario_file), tmp_path / "out")
    assert read == []
    assert len(results.patients) == 60 and len(results.patients) == 60
    assert read == ["patients"]


def test_a_folder_of_the_older_layout_is_rewritten_as_datasets(small_scenario_file, tmp_path):
    """Folders of earlier versions kept chunks in chunks/ and merged each table into one
    file: a run into such a folder replaces both and gives the same tables."""
    scenario = load_scenario(small_scenario_file)
    out = tmp_path / "out"
    expected = _frames(run_batch(scenario, out, chunk_size=25).folder)
    for name in ("patients", "lines", "clones", "trace", "scans", "lineages"):
        table = pd.read_parquet(out / f"{name}.parquet")
        shutil.rmtree(out / f"{name}.parquet")
        table.to_parquet(out / f"{name}.parquet")
    (out / "chunks").mkdir()
    (out / "chunks" / "000000000-000000024.patients.parquet").write_bytes(b"old")
    run_batch(scenario, out, chunk_size=25)
    assert not (out / "chunks").exists() and (out / "patients.parquet").is_dir()
    _assert_same(expected, _frames(out))
