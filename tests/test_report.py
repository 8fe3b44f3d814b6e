"""The HTML report: every figure embedded, the key numbers, nothing loaded from a network; the
`report` and `plot` commands."""

import re

import pytest
from test_figures import small_batch

from refractory import load
from refractory.analysis.report import PER_FOLDER, build_report
from refractory.analysis.summary import summarize
from refractory.analysis.survival import logrank, refractory_endpoint
from refractory.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    return [small_batch(root / "a"), small_batch(root / "b", patients=150, seed=9)]


def _no_network(text: str) -> None:
    assert not re.search(r"https?://|<script|<link|@import|url\(", text)


def test_report_holds_every_figure_and_the_key_numbers(folders):
    results = load(folders[0])
    text = build_report([results])
    _no_network(text)
    for name in ("km", "km-lethal", *(f"{n}-1" for n in PER_FOLDER)):
        assert re.search(rf'id="figure-{name}"><img alt="{name}" src="data:image/png;base64,', text)
    assert text.count("data:image/png;base64,") == 2 + len(PER_FOLDER)
    s = summarize(results)
    assert f"<b>{100 * s['cured']:.1f}%</b> of {s['patients']} patients cured" in text
    median = s["median_days_to_refractory"]
    low, high = s["median_days_to_refractory_ci"]
    assert f"{median:.0f} days (95% CI {low:.0f} to {high:.0f})" in text
    assert f"<b>{100 * s['preexisting_resistance_share']:.1f}%</b>" in text
    for line in s["lines"]:
        assert f"<td>{line['line']} ({line['drugs']})</td><td>{line['patients']}</td>" in text
    assert "Comparison" not in text


def test_report_of_two_folders_compares_them(folders, tmp_path, capsys):
    out = tmp_path / "both.html"
    assert main(["report", *map(str, folders), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text()
    _no_network(text)
    assert "Comparison" in text and text.count("log-rank χ² vs first") == 2
    a, b = (refractory_endpoint(load(folder)) for folder in folders)
    chi2, p = logrank(a, b)
    assert f"<td>{chi2:.2f}</td><td>{p:.2g}</td>" in text
    assert text.count("data:image/png;base64,") == 2 + 2 * len(PER_FOLDER)
    assert "figure-muller-2" in text


def test_plot_and_report_commands(folders, tmp_path, capsys):
    svg = tmp_path / "s.svg"
    assert main(["plot", str(folders[0]), "--figure", "swimmer", "--out", str(svg)]) == 0
    assert svg.read_text().count("<svg") == 1
    assert main(["report", str(folders[0])]) == 0
    assert (folders[0] / "report.html").exists()
    capsys.readouterr()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "manifest.json" in capsys.readouterr().err
    assert main(["plot", str(folders[0]), "--figure", "pie", "--out", "x.png"]) == 2
    assert "no figure called 'pie'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["plot", str(folders[0]), "--figure", "km", "--out", str(tmp_path / "x.gif")])
    assert exit_.value.code == 2
