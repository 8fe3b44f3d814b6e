"""Shared fixtures: small scenarios written to temporary files."""

from pathlib import Path

import pytest

SMALL = """
[scenario]
name = "small"
patients = 60
seed = 11
horizon_days = 2000

[tumor]
birth_rate = 0.3
death_rate = 0.1
detection_cells = 1e6
lethal_cells = 1e9

[[mechanism]]
name = "resist_A"
mutation_rate = 2e-6
resists = { A = 1.0 }

[[mechanism]]
name = "resist_B"
mutation_rate = 2e-6
resists = { B = 1.0 }

[[drug]]
name = "A"
max_effect = 0.4

[[drug]]
name = "B"
max_effect = 0.4

[[line]]
drugs = ["A"]

[[line]]
drugs = ["B"]

[monitoring]
scan_every_days = 28
"""


@pytest.fixture
def small_scenario_file(tmp_path: Path) -> Path:
    """A two-line scenario that runs 60 patients in well under a second."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path
