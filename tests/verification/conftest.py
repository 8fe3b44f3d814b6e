"""Collects each verification test's statistic, n, p-value and power for a summary table."""

import pytest

_RECORDS: list[dict] = []


@pytest.fixture
def record(request):
    """Call with a dict (statistic, n, p, power, ...) to add a row to the summary table."""

    def add(row: dict) -> None:
        _RECORDS.append({"test": request.node.name, **row})

    return add


def pytest_terminal_summary(terminalreporter):
    if not _RECORDS:
        return
    terminalreporter.section("verification statistics")
    for row in _RECORDS:
        cells = []
        for key, value in row.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            cells.append(f"{key}={value}")
        terminalreporter.write_line("  ".join(cells))
