"""The in-memory API: simulate writes nothing and repeats itself exactly; run_batch and load
give the same Results; the manifest records every engine setting and the environment."""

import os

import pandas as pd
import pytest

import refractory
from refractory import EngineSettings
from refractory.errors import ScenarioError
from refractory.results import TABLES


def _equal_tables(a: refractory.Results, b: refractory.Results) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def test_simulate_twice_gives_equal_tables_and_writes_no_file(
    small_scenario_file, tmp_path, monkeypatch
):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    first = refractory.simulate(small_scenario_file, patients=30)
    second = refractory.simulate(refractory.load_scenario(small_scenario_file), patients=30)
    _equal_tables(first, second)
    assert first.folder is None and len(first.patients) == 30
    assert os.listdir(work) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "small.toml"]


def test_run_batch_then_load_gives_the_results_of_simulate(small_scenario_file, tmp_path):
    in_memory = refractory.simulate(small_scenario_file, patients=40, seed=5, trace=6)
    written = refractory.run_batch(
        small_scenario_file, tmp_path / "out", patients=40, seed=5, trace=6, chunk_size=15
    )
    loaded = refractory.load(tmp_path / "out")
    _equal_tables(in_memory, written)
    _equal_tables(in_memory, loaded)
    assert loaded.folder == tmp_path / "out"
    shared = ("scenario", "seed", "patients", "patient_range", "engine", "engine_settings")
    for key in shared:
        assert loaded.manifest[key] == in_memory.manifest[key], key
    assert loaded.scenario == in_memory.scenario


def test_a_patient_range_equals_those_patients_of_the_whole_run(small_scenario_file):
    whole = refractory.simulate(small_scenario_file, patients=20)
    part = refractory.simulate(small_scenario_file, patient_range=(12, 15))
    expected = whole.patients[whole.patients["patient"].between(12, 14)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.patients, expected)


def test_the_manifest_holds_every_engine_setting_and_the_environment(small_scenario_file):
    settings = EngineSettings(max_log_growth_per_step=0.2)
    results = refractory.simulate(small_scenario_file, patients=5, settings=settings)
    assert results.manifest["engine_settings"] == settings.as_dict()
    environment = results.manifest["environment"]
    for key in ("python", "numpy", "numba", "platform", "cpu", "threads"):
        assert environment[key], key
    assert environment["gpu"] is None


def test_changed_engine_settings_are_not_mixed_into_a_folder(small_scenario_file, tmp_path):
    refractory.run_batch(small_scenario_file, tmp_path / "out", patients=10)
    with pytest.raises(ScenarioError, match="engine settings"):
        refractory.run_batch(
            small_scenario_file,
            tmp_path / "out",
            patients=10,
            settings=EngineSettings(mutant_bins=8),
        )


def test_a_missing_gpu_is_a_scenario_error(small_scenario_file):
    from refractory.kernels.gpu import gpu_problem

    if gpu_problem() is None:
        pytest.skip("a GPU is present")
    with pytest.raises(ScenarioError, match="cannot run on the GPU"):
        refractory.simulate(small_scenario_file, patients=5, device="gpu")


def test_a_patient_whose_engine_runs_out_of_room_stops_the_run(small_scenario_file, tmp_path):
    """Cells dropped for want of room (here: 2 pending groups of new cells per step) would
    make wrong results: the run stops with the patients and the settings to raise."""
    settings = EngineSettings(pending_groups=2)
    with pytest.raises(ScenarioError, match=r"patients? [\d, .]+ ran out of room.*pending_groups"):
        refractory.run_batch(small_scenario_file, tmp_path / "out", settings=settings)
    assert not (tmp_path / "out" / "patients.parquet").exists()
    refractory.simulate(small_scenario_file, patients=5)  # the default room suffices
