"""The README's Python examples run as written, and print what the README says they print."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_python_examples_run_and_show_what_they_say(tmp_path, monkeypatch):
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    api, analysis = _blocks()
    names: dict = {}
    exec(api, names)
    shown = re.search(r"^res\n((?:# .*\n)+)", api, re.M).group(1)
    assert repr(names["res"]) == " ".join(line[2:].strip() for line in shown.splitlines())
    cured = re.search(r"cured\.mean\(\) +# ([\d.]+)", api).group(1)
    assert round(names["res"].patients.cured.mean(), 3) == float(cured)
    progressed = names["res"].lines.groupby("line").progressed.mean()
    assert re.search(rf"line 1: {progressed[1]:.3g}, line 2: {progressed[2]:.3g}", api)
    exec(analysis, names)
    assert (tmp_path / "p3.png").stat().st_size > 0
