"""The explorer: its controls and state (in Python), its command, and its page in a real
headless Chromium (skipped only where no Chromium and chromedriver are installed)."""

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from refractory.bundled import scenarios_folder
from refractory.cli import main
from refractory.errors import ScenarioError
from refractory.explore import Explorer, scenario_toml, start
from refractory.lessons import lesson_files, load_lesson
from refractory.scenario import load_scenario, parse_scenario

LESSON_1 = lesson_files()[1]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1300",
)


@pytest.fixture(scope="module")
def lesson_1() -> Explorer:
    return Explorer(LESSON_1)


def paths(view: dict) -> list[str]:
    return [c["path"] for c in view["controls"]]


def test_a_lesson_offers_its_runs_and_the_numbers_its_explore_line_names(lesson_1):
    view = lesson_1.view(1)
    assert view["runs"] == ["homogeneous", "resistant subclone"]
    assert view["header"]["Question"].startswith("If a tumour responds")
    # named in Explore: fitness_cost, max_effect; set by the run: the clones' cells
    assert set(paths(view)) == {
        "scenario.patients",
        "tumor.clone.0.cells",
        "tumor.clone.1.cells",
        "mechanism.0.fitness_cost",
        "drug.0.max_effect",
    }
    labels = {c["path"]: c["label"] for c in view["controls"]}
    assert labels["mechanism.0.fitness_cost"] == "mechanism resist_A: fitness_cost"
    assert labels["tumor.clone.1.cells"] == "tumor clone 2: cells"
    assert len(view["sentences"]) == 3 and "resistant cells" in view["sentences"][1]


def test_a_scenario_offers_its_main_numbers():
    view = Explorer(scenarios_folder() / "two-drugs.toml").view(0)
    offered = set(paths(view))
    assert {"mechanism.0.mutation_rate", "drug.1.max_effect", "line.0.schedule"} <= offered
    assert "monitoring.scan_every_days" not in offered
    assert view["runs"] == ["two-drugs"] and view["header"] == {}


def test_a_change_reruns_and_compares_with_the_setting_before(lesson_1):
    before = lesson_1.view(1)
    view = lesson_1.change(1, "mechanism.0.fitness_cost", 0.05)
    numbers = {row["key"]: row for row in view["numbers"]}
    assert numbers["cured"]["before"] == next(
        row["now"] for row in before["numbers"] if row["key"] == "cured"
    )
    assert numbers["cured"]["now"] != numbers["cured"]["before"]
    assert view["change"] == "mechanism resist_A: fitness_cost 0 → 0.05"
    assert view["figures"]["km"] != before["figures"]["km"]
    lesson_1.change(1, "mechanism.0.fitness_cost", 0.0)


def test_a_bad_value_is_refused_with_the_scenario_message_and_changes_nothing(lesson_1):
    settings = json.dumps(lesson_1.runs[1].settings)
    with pytest.raises(ScenarioError, match=r"fitness_cost must be a number in \[0, 1\)"):
        lesson_1.change(1, "mechanism.0.fitness_cost", 2)
    with pytest.raises(ScenarioError, match="is not a setting"):
        lesson_1.change(1, "tumor.no_such_thing", 2)
    assert json.dumps(lesson_1.runs[1].settings) == settings


def test_switching_the_schedule_brings_its_own_settings():
    price = Explorer(lesson_files()[4])  # continuous or adaptive: its Explore names pause_below
    view = price.change(0, "line.0.schedule", "intermittent")
    assert {"line.0.days_on", "line.0.days_off"} <= set(paths(view))
    view = price.change(0, "line.0.schedule", "adaptive")
    assert {"line.0.pause_below", "line.0.resume_at"} <= set(paths(view))
    assert "line.0.days_on" not in paths(view)
    assert price.runs[0].settings["line"][0]["days_on"] is None


def test_every_bundled_scenario_and_lesson_run_survives_the_toml_writer():
    scenarios = []
    for path in sorted(scenarios_folder().rglob("*.toml")):
        if "lesson" in tomllib.loads(path.read_text()):
            scenarios += [run.scenario for run in load_lesson(path).runs]
        else:
            scenarios.append(load_scenario(path))
    assert len(scenarios) > 20
    for scenario in scenarios:
        text = scenario_toml(scenario.to_dict())
        assert parse_scenario(tomllib.loads(text)) == scenario, scenario.scenario.name


def test_explore_of_a_bad_file_is_one_paragraph_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\n[tumor]\nbirth_rate = -1\ndeath_rate = 0\n')
    assert main(["explore", str(bad), "--no-browser"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and "birth_rate" in error and "\n" not in error.strip()
    assert main(["explore", str(tmp_path / "missing.toml"), "--no-browser"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_explore_command_serves_the_page_and_ctrl_c_stops_it_with_exit_0():
    command = [sys.executable, "-m", "refractory.cli", "explore", str(LESSON_1), "--no-browser"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if "http://127.0.0.1:" in line:
                url = line.split()[2]
                break
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "Save as scenario" in page
        assert 'src="http' not in page and 'href="http' not in page  # nothing from elsewhere
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()


# In a browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    saved = tmp_path_factory.mktemp("saved")
    httpd = start(LESSON_1, 0, saved)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip(
            "no Chromium with chromedriver on this machine (apt-get install chromium "
            "chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    yield driver
    driver.quit()


def wait_idle(driver, timeout: float = 60) -> float:
    """Wait until the page is not running a batch; return the seconds waited."""
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.perf_counter()
    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-busy") == "0"
    )
    return time.perf_counter() - started


def number(driver, key: str, column: int) -> str:
    return driver.find_element("css selector", f'tr[data-key="{key}"] td:nth-child({column})').text


def type_into(driver, path: str, text: str) -> None:
    field = driver.find_element("css selector", f'input[type=text][data-path="{path}"]')
    field.clear()
    field.send_keys(text + "\n")


def test_the_page_in_a_browser(server, browser, tmp_path):
    browser.get(server)
    wait_idle(browser)
    assert "If a tumour responds" in browser.find_element("id", "question").text
    browser.find_element("xpath", "//button[text()='resistant subclone']").click()
    wait_idle(browser)
    km = browser.find_element("id", "km").get_attribute("src")
    muller = browser.find_element("id", "muller").get_attribute("src")
    cured = number(browser, "cured", 2)
    assert km.startswith("data:image/svg+xml") and muller.startswith("data:image/svg+xml")

    type_into(browser, "mechanism.0.fitness_cost", "0.05")
    waited = wait_idle(browser)
    assert "fitness_cost 0 → 0.05" in browser.find_element("id", "change").text
    assert number(browser, "cured", 3) == cured  # "before the change"
    assert number(browser, "cured", 2) != cured
    assert browser.find_element("id", "km").get_attribute("src") != km
    assert browser.find_element("id", "muller").get_attribute("src") != muller
    print(f"\nexplorer: one change of lesson 1, page to page, in {waited:.2f} s")
    assert waited < 10, f"an update took {waited:.1f} s"
    browser.save_screenshot(str(tmp_path / "explorer.png"))

    type_into(browser, "mechanism.0.fitness_cost", "2")
    wait_idle(browser)
    error = browser.find_element("id", "error")
    assert error.is_displayed()
    assert "fitness_cost must be a number in [0, 1)" in error.text and "got 2" in error.text

    browser.find_element("id", "save").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: d.find_element("id", "saved").text)
    saved = Path(browser.find_element("id", "saved").text.split()[1])
    assert load_scenario(saved).mechanisms[0].fitness_cost == 0.05
    out = tmp_path / "run"
    assert main(["run", str(saved), "--patients", "5", "--out", str(out), "--quiet"]) == 0
    assert (out / "patients.parquet").exists()
