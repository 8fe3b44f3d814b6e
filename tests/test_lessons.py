"""The lessons: each lesson's claim as a statistical test, its generated text, the commands.

Every claim is tested in its stated direction at alpha = 1e-3 (one-sided Fisher exact tests
on shares of patients, one-sided Mann-Whitney tests on times to progression), on CI-sized
runs of the lesson files themselves (``PATIENTS`` per run, fixed seeds). Power: the effects
the lessons show are large (cure 100% vs 14-30%, resistance at start 22% vs 92%, progression
0% vs 84%, times to progression separated in every patient); at 40 patients per run a
one-sided Fisher test rejects a difference of 0.5 between shares at alpha = 1e-3 with power
above 0.99, and 10 patients per run in two fully separated groups give p = 1/C(20,10) = 5e-6.
A lesson whose effect vanished (the same scenario in both runs) fails: see
``test_a_planted_null_lesson_is_not_significant``.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import refractory
from refractory.analysis.lessons import NARRATORS, lesson_text
from refractory.cli import main
from refractory.errors import ScenarioError
from refractory.lessons import LESSONS_DIR, find_lesson, lesson_files, load_lesson, run_lesson

ALPHA = 1e-3
PATIENTS = 40


@pytest.fixture(scope="module")
def lesson_runs(tmp_path_factory):
    """Run a lesson once per module and size: list of (label, Results) in run order."""
    cache: dict[tuple[int, int], list] = {}
    root = tmp_path_factory.mktemp("lessons")

    def get(number: int, patients: int = PATIENTS):
        if (number, patients) not in cache:
            lesson = find_lesson(number)
            folders = run_lesson(lesson, root / lesson.path.stem, patients)
            cache[number, patients] = [
                (run.label, refractory.load(f)) for run, f in zip(lesson.runs, folders, strict=True)
            ]
        return cache[number, patients]

    return get


def share_greater(hits_a: np.ndarray, hits_b: np.ndarray) -> float:
    """One-sided Fisher exact p-value for: the share of ``hits_a`` exceeds that of ``hits_b``."""
    table = [[hits_a.sum(), (~hits_a).sum()], [hits_b.sum(), (~hits_b).sum()]]
    return stats.fisher_exact(table, alternative="greater").pvalue


def progression_days(results) -> np.ndarray:
    """Days from the first line's start to progression on it; every patient must progress."""
    rows = results.lines[results.lines["line"] == 1]
    assert rows["progressed"].all()
    return rows["days_to_progression"].to_numpy(float)


def test_lesson_1_response_is_not_cure(lesson_runs):
    (_, plain), (_, mixed) = lesson_runs(1)
    assert (
        share_greater(plain.patients["cured"].to_numpy(), mixed.patients["cured"].to_numpy())
        < ALPHA
    )
    responded = mixed.lines[mixed.lines["line"] == 1]["best_response"].isin(["CR", "PR"])
    # the tumour with the subclone responds: more than half of patients (binomial, one-sided)
    assert stats.binomtest(int(responded.sum()), len(responded), 0.5, "greater").pvalue < ALPHA


def test_lesson_2_resistance_grows_with_size_and_mutation_rate(lesson_runs):
    (_, base), (_, larger), (_, faster) = lesson_runs(2, 60)
    has = {
        k: r.patients["resistant_cells_at_start"].to_numpy() > 0
        for k, r in (("base", base), ("larger", larger), ("faster", faster))
    }
    assert share_greater(has["larger"], has["base"]) < ALPHA
    assert share_greater(has["faster"], has["base"]) < ALPHA


def test_lesson_3_combination_beats_sequence_unless_a_pump(lesson_runs):
    (_, together), (_, sequence), (_, pump) = lesson_runs(3)
    cured = {
        k: r.patients["cured"].to_numpy()
        for k, r in (("together", together), ("sequence", sequence), ("pump", pump))
    }
    assert share_greater(cured["together"], cured["sequence"]) < ALPHA
    assert share_greater(cured["together"], cured["pump"]) < ALPHA


def test_lesson_4_adaptive_therapy_needs_cost_or_competition(lesson_runs):
    (_, continuous), (_, adaptive), (_, continuous_free), (_, adaptive_free) = lesson_runs(4, 10)
    longer = stats.mannwhitneyu(
        progression_days(adaptive), progression_days(continuous), alternative="greater"
    )
    assert longer.pvalue < ALPHA
    shorter = stats.mannwhitneyu(
        progression_days(adaptive_free), progression_days(continuous_free), alternative="less"
    )
    assert shorter.pvalue < ALPHA


def test_lesson_5_persisters_regrow_on_the_drug_and_resensitise_off_it(lesson_runs):
    (_, holiday), (_, at_once) = lesson_runs(5)
    first = holiday.lines[holiday.lines["line"] == 1]
    # most tumours grow back on the drug (binomial, one-sided), with no mechanism anywhere
    regrew = int(first["progressed_on_treatment"].sum())
    assert stats.binomtest(regrew, len(first), 0.5, "greater").pvalue < ALPHA
    assert (holiday.clones["mechanisms"] == "").all()
    responded = {
        k: r.lines[r.lines["line"] == 2]["best_response"].isin(["CR", "PR"]).to_numpy()
        for k, r in (("holiday", holiday), ("at once", at_once))
    }
    assert share_greater(responded["holiday"], responded["at once"]) < ALPHA


def test_lesson_6_a_sanctuary_seeds_relapse(lesson_runs):
    (_, seen), (_, unseen), (_, everywhere) = lesson_runs(6)
    cured = {k: r.patients["cured"].to_numpy() for k, r in (("seen", seen), ("all", everywhere))}
    assert share_greater(cured["all"], cured["seen"]) < ALPHA
    assert (seen.patients["resistant_cells_at_start"] == 0).all()
    # scans that miss the sanctuary find progression later (Mann-Whitney, one-sided)
    later = stats.mannwhitneyu(
        progression_days(unseen), progression_days(seen), alternative="greater"
    )
    assert later.pvalue < ALPHA


def test_lesson_7_missed_doses_shorten_response_without_resistance(lesson_runs):
    (_, full), (_, missed) = lesson_runs(7)
    progressed = {
        k: r.lines[r.lines["line"] == 1]["progressed"].to_numpy(bool)
        for k, r in (("full", full), ("missed", missed))
    }
    assert share_greater(progressed["missed"], progressed["full"]) < ALPHA
    assert (missed.lines.loc[missed.lines["progressed"], "driver_mechanisms"] == "").all()


def test_lesson_8_fixed_course_relapses_continuous_is_refractory(lesson_runs):
    (_, course), (_, continuous) = lesson_runs(8)
    refractory = {
        k: r.patients["refractory"].to_numpy(bool)
        for k, r in (("course", course), ("continuous", continuous))
    }
    relapsed_only = {
        k: (r.patients["status"] == "relapsed").to_numpy()
        for k, r in (("course", course), ("continuous", continuous))
    }
    assert share_greater(refractory["continuous"], refractory["course"]) < ALPHA
    assert share_greater(relapsed_only["course"], relapsed_only["continuous"]) < ALPHA


def test_a_planted_null_lesson_is_not_significant(tmp_path):
    """The tests above can fail: lesson 1 with its subclone removed (both runs homogeneous)
    gives no difference in cure."""
    lesson = find_lesson(1)
    plain = lesson.runs[0]
    null = dataclasses.replace(lesson, runs=(plain, dataclasses.replace(plain, label="again")))
    first, second = (refractory.load(f) for f in run_lesson(null, tmp_path, PATIENTS))
    cured = [r.patients["cured"].to_numpy() for r in (first, second)]
    assert share_greater(*cured) > ALPHA


def test_every_lesson_has_a_narrator_for_its_runs():
    for number, path in lesson_files().items():
        lesson = load_lesson(path)
        assert lesson.number == number
        assert NARRATORS[lesson.slug].runs == len(lesson.runs), lesson.slug
        assert lesson.question.endswith("?")


@pytest.mark.parametrize("number", sorted(lesson_files()))
def test_text_changes_when_the_numbers_do(lesson_runs, number):
    runs = lesson_runs(number, 10 if number == 4 else PATIENTS)
    slug = find_lesson(number).slug
    text = lesson_text(slug, runs)
    assert 2 <= len(text) <= 3
    swapped = [(runs[0][0], runs[-1][1]), *runs[1:-1], (runs[-1][0], runs[0][1])]
    assert lesson_text(slug, swapped) != text


def test_text_states_the_numbers(lesson_runs):
    runs = lesson_runs(1)
    label, plain = runs[0]
    patients = plain.patients.copy()
    patients.loc[patients.index[: len(patients) // 2], "cured"] = False
    halved = dataclasses.replace(plain, patients=patients)
    assert "100% were cured" in lesson_text("response-is-not-cure", runs)[0]
    assert "50% were cured" in lesson_text("response-is-not-cure", [(label, halved), runs[1]])[0]


def test_set_paths_errors(tmp_path):
    text = (LESSONS_DIR / "01-response-is-not-cure.toml").read_text()
    bad = tmp_path / "01-bad.toml"
    bad.write_text(text.replace('"tumor.clone" =', '"tumor.birth_rate.x" ='))
    with pytest.raises(ScenarioError, match="goes inside 'tumor.birth_rate', which is a value"):
        load_lesson(bad)
    bad.write_text(text.replace('"tumor.clone" =', '"line.5" ='))
    with pytest.raises(ScenarioError, match="indexes a list of 1 entries with '5'"):
        load_lesson(bad)
    bad.write_text(text.replace("# Question:", "# Q:"))
    with pytest.raises(ScenarioError, match=r"missing \['Question'\]"):
        load_lesson(bad)


def test_commands(tmp_path, capsys):
    assert main(["lessons"]) == 0
    listing = capsys.readouterr().out
    assert "If a tumour responds to a drug, is it cured?" in listing
    assert main(["lesson", "1", "--out", str(tmp_path), "--patients", "10"]) == 0
    report = Path(capsys.readouterr().out.strip())
    assert report == tmp_path / "report.html"
    page = report.read_text()
    assert "Lesson 1: One drug, two tumours." in page and "were cured" in page
    assert main(["lesson", "99"]) == 2
    assert "there is no lesson 99" in capsys.readouterr().err


def test_an_edited_lesson_runs_afresh(tmp_path):
    lesson = find_lesson(1)
    first = run_lesson(lesson, tmp_path, 5)
    changed = dataclasses.replace(
        lesson,
        runs=tuple(
            dataclasses.replace(
                r,
                scenario=r.scenario.model_copy(
                    update={"tumor": r.scenario.tumor.model_copy(update={"death_rate": 0.12})}
                ),
            )
            for r in lesson.runs
        ),
    )
    second = run_lesson(changed, tmp_path, 5)
    assert first == second
    assert refractory.load(second[0]).scenario.tumor.death_rate == 0.12
