"""The command line: exit statuses, one-paragraph errors, the run summary."""

import subprocess
import sys
from pathlib import Path

TWO_DRUGS = Path(__file__).resolve().parent.parent / "scenarios" / "two-drugs.toml"


def _refractory(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "refractory.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_check_accepts_the_example():
    result = _refractory("check", TWO_DRUGS)
    assert result.returncode == 0, result.stderr
    assert "two-drugs" in result.stdout and "valid" in result.stdout


def test_bad_scenario_exits_2_with_one_paragraph(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TWO_DRUGS.read_text().replace("death_rate = 0.13", "death_rate = -0.13"))
    for args in (("check", bad), ("run", bad, "--out", tmp_path / "out")):
        result = _refractory(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        message = result.stderr.strip()
        assert "\n" not in message
        assert "bad.toml" in message and "tumor.death_rate" in message and "-0.13" in message
    assert not (tmp_path / "out").exists()


def test_missing_file_exits_2(tmp_path):
    result = _refractory("check", tmp_path / "nope.toml")
    assert result.returncode == 2 and "nope.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_writes_tables_and_prints_summary(small_scenario_file, tmp_path):
    out = tmp_path / "out"
    result = _refractory("run", small_scenario_file, "--out", out, "--patients", 30)
    assert result.returncode == 0, result.stderr
    for name in ("patients", "lines", "clones"):
        assert (out / f"{name}.parquet").exists()
    assert "cured" in result.stdout and "refractory disease" in result.stdout
    assert "largest clone at progression" in result.stdout


def test_summary_of_a_missing_folder_exits_2(tmp_path):
    result = _refractory("summary", tmp_path / "none")
    assert result.returncode == 2 and "manifest.json" in result.stderr
