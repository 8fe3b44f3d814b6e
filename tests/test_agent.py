"""The agent engine: cell blocks against a plain-Python twin, exact stops, lineage tables,
reproducibility, the size limit."""

import math
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refractory
from refractory.batch import run_batch
from refractory.errors import ScenarioError
from refractory.kernels import agent
from refractory.kernels.clones import CELLS, META_SIZE, USED
from refractory.kernels.model import P_EVENTS
from refractory.results import TABLES
from refractory.scenario import parse_scenario, with_overrides
from refractory.settings import DEFAULT_SETTINGS

SMALL = {
    "scenario": {
        "name": "agent",
        "patients": 30,
        "seed": 5,
        "horizon_days": 400,
        "engine": "agent",
    },
    "tumor": {"birth_rate": 0.3, "death_rate": 0.1, "detection_cells": 3000, "lethal_cells": 20000},
    "mechanism": [
        {"name": "rA", "mutation_rate": 3e-4, "resists": {"A": 1.0}},
        {"name": "rB", "mutation_rate": 3e-4, "resists": {"B": 1.0}},
    ],
    "drug": [{"name": "A", "max_effect": 0.4}, {"name": "B", "max_effect": 0.4}],
    "line": [{"drugs": ["A"]}, {"drugs": ["B"]}],
    "monitoring": {"scan_every_days": 14},
}


def small(**changes) -> dict:
    """SMALL with some top-level tables updated."""
    data = {key: dict(value) if isinstance(value, dict) else value for key, value in SMALL.items()}
    for table, values in changes.items():
        data[table] = {**data.get(table, {}), **values}
    return data


def _frames(folder) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}


@settings(deadline=None, max_examples=60)
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=5),
    operations=st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=80),
)
def test_cell_blocks_match_a_twin(sizes, operations):
    """Adding and removing cells keeps each slot's block equal (as a multiset of barcodes)
    to a list per slot, and the clone table's counts equal to the block sizes."""
    slots = len(sizes)
    ints = np.zeros((slots, 3), np.int64)
    ints[:, CELLS] = sizes
    meta = np.zeros(META_SIZE, np.int64)
    meta[USED] = slots
    barcodes = np.empty(sum(sizes) + len(operations), np.int32)
    starts = np.zeros(slots + 1, np.int64)
    agent.place_cells(ints, meta, barcodes, starts)
    agent.label_cells(ints, meta, barcodes, starts, np.empty((0, 0), np.int64))
    twin = [
        list(range(s0, s0 + n)) for s0, n in zip(np.cumsum([0, *sizes])[:-1], sizes, strict=True)
    ]
    for add, pick in operations:
        c = pick % slots
        if add:
            parent = pick % max(1, starts[slots])
            barcode = int(barcodes[parent]) if starts[slots] > 0 else 7
            agent._add_cell(ints, meta, barcodes, starts, c, barcode)
            twin[c].append(barcode)
        elif twin[c]:
            i = starts[c] + pick % len(twin[c])
            twin[c].remove(int(barcodes[i]))
            agent._remove_cell(ints, meta, barcodes, starts, c, i)
        for s in range(slots):
            assert sorted(barcodes[starts[s] : starts[s + 1]]) == sorted(twin[s])
            assert ints[s, CELLS] == len(twin[s])
        assert starts[slots] == sum(map(len, twin))


@settings(deadline=None, max_examples=60)
@given(
    barcodes=st.integers(1, 40),
    operations=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 39), st.booleans()), max_size=120
    ),
)
def test_lineage_counts_match_a_twin(barcodes, operations):
    """Cells added to and removed from the per-slot barcode trees keep, for every slot, each
    barcode found by exactly as many k in 0 .. cells - 1 as the slot holds cells of it (so a
    uniform k picks a uniformly random cell), and the snapshot equal to a plain count."""
    from refractory.kernels import lineages

    slots = 3
    tree = np.zeros((slots, lineages.width(barcodes)), np.int64)
    step = lineages.top_step(tree)
    ints = np.zeros((slots, 3), np.int64)
    ints[:, agent.GENOTYPE] = [0, 1, 3]
    meta = np.zeros(META_SIZE, np.int64)
    meta[USED] = slots
    twin = np.zeros((slots, barcodes), np.int64)
    for c, b, adds in operations:
        b %= barcodes
        if adds or twin[c, b] == 0:
            lineages.add(tree, c, b, 1, step)
            twin[c, b] += 1
        else:
            lineages.add(tree, c, b, -1, step)
            twin[c, b] -= 1
    ints[:, CELLS] = twin.sum(axis=1)
    for c in range(slots):
        found = [lineages.find(tree, c, k, step) for k in range(ints[c, CELLS])]
        assert np.bincount(found, minlength=barcodes).tolist() == twin[c].tolist()
    cells = np.zeros((1, barcodes), np.int32)
    resistant = np.zeros((1, barcodes), np.int32)
    mechanisms = np.zeros((1, barcodes), np.int64)
    lineages.snapshot(ints, meta, tree, 0, cells, resistant, mechanisms)
    assert cells[0].tolist() == twin.sum(axis=0).tolist()
    assert resistant[0].tolist() == twin[1:].sum(axis=0).tolist()
    expected = np.where(twin[1] > 0, 1, 0) | np.where(twin[2] > 0, 3, 0)
    assert mechanisms[0].tolist() == expected.tolist()
    for c in range(slots):  # the snapshot leaves the trees as they were
        assert [lineages.find(tree, c, k, step) for k in range(ints[c, CELLS])] == sorted(
            np.repeat(np.arange(barcodes), twin[c]).tolist()
        )


def test_both_lineage_layouts_follow_the_same_clones():
    """Every cell kept, or each clone's cells counted per barcode: the same random numbers
    give the same clones, patients and scans bit for bit; only which barcode a random cell
    carries differs (uniform either way: test_lineage_counts_match_a_twin)."""
    sc = parse_scenario(small(scenario={"patients": 10}))
    runs = {
        layout: refractory.simulate(sc, settings=refractory.EngineSettings(agent_lineages=layout))
        for layout in ("cells", "counts")
    }
    cells, counts = runs["cells"], runs["counts"]
    for name in ("patients", "clones", "lines", "scans"):
        pd.testing.assert_frame_equal(getattr(cells, name), getattr(counts, name))
    assert not cells.lineages.equals(counts.lineages)


@pytest.mark.parametrize("layout", ["cells", "counts"])
def test_stops_exactly_and_lineages_add_up(layout, tmp_path):
    """Detection and lethal sizes are hit exactly; per patient and moment the lineages hold
    the clones' cells and resistant cells; at treatment start every barcode is one cell.
    Whichever way the engine keeps lineages (EngineSettings.agent_lineages)."""
    sc = parse_scenario(SMALL)
    settings = refractory.EngineSettings(agent_lineages=layout)
    tables = run_batch(sc, tmp_path / "out", settings=settings)
    patients, lineages, clones = tables.patients, tables.lineages, tables.clones
    assert (patients.cells_at_start == 3000).all()
    assert (patients[patients.lethal].cells_at_end == 20000).all()
    assert patients.lethal.any() and patients.lines_received.max() == 2
    start = lineages[lineages.moment == "start"]
    later = lineages[lineages.moment != "start"]
    assert (start.cells == 1).all()
    assert start.barcode.between(0, 2999).all()
    kept = start.groupby("patient").barcode.apply(set)
    alive_later = later.groupby("patient").barcode.apply(set)
    assert kept.index.equals(alive_later.index)
    assert (kept == alive_later).all()
    keys = ["patient", "moment"]
    by_lineage = later.groupby(keys)[["cells", "resistant_cells"]].sum()
    after = clones[clones.moment != "start"]
    after = after.assign(resistant=np.where(after.mechanisms != "", after.cells, 0))
    by_clone = after.groupby(keys)[["cells", "resistant"]].sum()
    assert by_lineage.index.sort_values().equals(by_clone.index.sort_values())
    np.testing.assert_array_equal(by_lineage.cells, by_clone.cells.loc[by_lineage.index])
    np.testing.assert_array_equal(
        by_lineage.resistant_cells, by_clone.resistant.loc[by_lineage.index]
    )
    assert (lineages.resistant_cells <= lineages.cells).all()
    assert ((lineages.mechanisms == "") == (lineages.resistant_cells == 0)).all()


def test_same_results_whatever_threads_and_chunks(tmp_path):
    sc = parse_scenario(small(scenario={"patients": 12}))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        run_batch(sc, tmp_path / "one", chunk_size=12)
    finally:
        numba.set_num_threads(threads)
    run_batch(sc, tmp_path / "many", chunk_size=5)
    one, many = _frames(tmp_path / "one"), _frames(tmp_path / "many")
    for name in TABLES:
        pd.testing.assert_frame_equal(one[name], many[name], check_exact=True)
    alone = run_batch(sc, tmp_path / "alone", patient_range=(7, 8))
    expected = one["lineages"][one["lineages"].patient == 7].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.lineages, expected)


def test_barcodes_given_at_a_size_during_growth(tmp_path):
    """barcode_at = 500 cells: the 3000 cells at detection carry at most 500 barcodes, so the
    lineages kept (those with cells after treatment starts) start with several cells each."""
    sc = parse_scenario(small(scenario={"patients": 8}, agent={"barcode_at": 500}))
    lineages = run_batch(sc, tmp_path / "out").lineages
    start = lineages[lineages.moment == "start"]
    assert start.barcode.between(0, 499).all()
    assert (start.groupby("patient").cells.sum() <= 3000).all()
    assert (start.groupby("patient").barcode.nunique() < 500).all()
    assert start.cells.mean() > 2


def test_compartment_engine_writes_an_empty_lineages_table(tmp_path):
    sc = parse_scenario(small(scenario={"patients": 3, "engine": "compartment"}))
    run_batch(sc, tmp_path / "out")
    lineages = pd.read_parquet(tmp_path / "out" / "lineages.parquet")
    agent_columns = [
        "patient",
        "moment",
        "day",
        "barcode",
        "cells",
        "resistant_cells",
        "mechanisms",
    ]
    assert lineages.empty and list(lineages.columns) == agent_columns


def test_more_cells_than_any_patient_can_hold_is_refused_before_running(tmp_path):
    sc = parse_scenario(small(tumor={"detection_cells": 2e7, "lethal_cells": 1e9}))
    with pytest.raises(ScenarioError, match=r"every patient .* reaches 2e\+07.*compartment"):
        run_batch(sc, tmp_path / "out", source="big.toml")
    assert not (tmp_path / "out").exists()
    assert math.isclose(DEFAULT_SETTINGS.agent_max_cells, 1e7)


def test_a_lethal_size_above_the_room_runs_until_a_patient_needs_more(tmp_path):
    """Room for 3000 cells and lethal at 1e9: a short run that stays small runs; one whose
    patients outgrow the room stops with their numbers and the compartment engine's name."""
    sc = parse_scenario(small(tumor={"lethal_cells": 1e9}))
    settings = refractory.EngineSettings(agent_max_cells=3000)
    short = with_overrides(sc, patients=4)
    data = short.to_dict()
    data["scenario"]["horizon_days"] = 1.0
    data["tumor"]["detection_cells"] = 1000
    refractory.simulate(parse_scenario(data), settings=settings)
    with pytest.raises(ScenarioError, match=r"patients? [\d, .]+ ran out of room.*compartment"):
        refractory.simulate(sc, patients=4, settings=settings)


def test_without_barcodes_the_agent_engine_is_the_exact_event_loop_of_the_clone_table():
    """barcode_at = "none": no cell is stored, and every patient is the compartment engine's
    event-by-event simulation carried to every size (verified against theory with
    exact_below forced up, tests/verification), bit for bit on the same streams; the
    lineages table is empty."""
    from refractory.compile import compile_model
    from refractory.engine import run_agent, run_compartment

    counting = parse_scenario(small(agent={"barcode_at": "none"}))
    model = compile_model(counting)
    assert model.agent_cells == 0 and model.barcodes == 0 and model.exact_below == math.inf
    events = compile_model(with_overrides(counting, engine="compartment"))
    events = events._replace(exact_below=math.inf)
    agent_run, compartment_run = run_agent(model, 5, 0, 30, 3), run_compartment(events, 5, 0, 30, 3)
    for name, array in zip(agent_run.outputs._fields, agent_run.outputs, strict=True):
        assert np.array_equal(array, getattr(compartment_run.outputs, name), equal_nan=True), name
    assert agent_run.lineages.patient.size == 0
    assert (agent_run.outputs.patient[:, P_EVENTS] > 0).all()  # every event simulated


def test_without_barcodes_the_size_is_bounded_by_the_events_it_costs():
    sc = parse_scenario(small(agent={"barcode_at": "none"}, tumor={"lethal_cells": 1e9}))
    with pytest.raises(ScenarioError, match=r"simulates every event .* may reach 1e\+09 cells"):
        refractory.simulate(sc, patients=2)


@pytest.mark.parametrize(
    ("agent_table", "says"),
    [
        ({"barcode_at": "treatment"}, 'must be "detection", "none" .* or a number of cells >= 1'),
        ({"barcode_at": 1e6}, "only when the tumour grows from a single cell"),
        ({"barcodes": 3}, "barcodes"),
    ],
)
def test_bad_agent_table(agent_table, says):
    with pytest.raises(ScenarioError, match=says):
        parse_scenario(small(agent=agent_table), "x.toml")


@pytest.mark.parametrize(
    ("lesson", "preexisting"),
    [("barcodes.toml", True), ("barcodes-acquired.toml", False)],
)
def test_lesson_reads_where_relapses_came_from(lesson, preexisting, tmp_path):
    """The barcodes lessons (20 patients): relapsing lineages are the barcodes with resistant
    cells at progression; whether their labelled cell was resistant at treatment start is
    read from lineages.parquet. "Most held a resistant cell" (or most did not) is a one-sided
    exact binomial test against 1/2 at ALPHA = 1e-3 (expected ~95% and ~7%, ~40 and ~20
    lineages)."""
    from scipy import stats

    from refractory.scenario import load_scenario, with_overrides

    path = Path(__file__).parent.parent / "scenarios" / "lessons" / lesson
    run_batch(with_overrides(load_scenario(path), patients=20), tmp_path / "out")
    lineages = pd.read_parquet(tmp_path / "out" / "lineages.parquet")
    relapsing = lineages[(lineages.moment == "progression_1") & (lineages.resistant_cells > 0)]
    start = lineages[lineages.moment == "start"].set_index(["patient", "barcode"])
    held = start.resistant_cells.loc[list(zip(relapsing.patient, relapsing.barcode, strict=True))]
    held = int((held > 0).sum())
    alternative = "greater" if preexisting else "less"
    p = stats.binomtest(held, len(relapsing), 0.5, alternative=alternative).pvalue
    assert p < 1e-3, (held, len(relapsing))


@pytest.mark.parametrize("layout", ["cells", "counts"])
def test_lineage_sizes_follow_kendall(layout):
    """2,000 labelled cells grown untreated-in-effect (a drug of no effect) for 8 days: each
    barcode's cells at the end follow one cell's exact birth-death law (Kendall 1948: 0 with
    probability alpha, else geometric with ratio beta), lineages independent. Chi-square on
    sizes 0 .. 11 and a tail, 30 patients (60,000 lineages), alpha = 1e-3; the same test
    rejects the law of a birth rate 5% off, so a biased pick of the random cell would show."""
    from scipy import stats

    from refractory.kernels.birth_death import extinction_and_growth

    birth, death, days, founders, patients = 0.5, 0.3, 8.0, 2000, 30
    sc = parse_scenario(
        {
            "scenario": {
                "name": "kendall",
                "patients": patients,
                "seed": 3,
                "engine": "agent",
                "horizon_days": days,
            },
            "tumor": {
                "birth_rate": birth,
                "death_rate": death,
                "start": "cells",
                "detection_cells": founders,
                "lethal_cells": 1e7,
                "clone": [{"cells": founders}],
            },
            "drug": [{"name": "A", "max_effect": 0.0}],
            "line": [{"drugs": ["A"]}],
            "monitoring": {"progression_increase": 1e6},
        }
    )
    results = refractory.simulate(sc, settings=refractory.EngineSettings(agent_lineages=layout))
    end = results.lineages[results.lineages.moment == "end"]
    assert (end.day == days).all()
    sizes = np.concatenate(
        [end.cells.to_numpy(), np.zeros(patients * founders - len(end), np.int64)]
    )
    top = 12
    observed = np.bincount(np.minimum(sizes, top), minlength=top + 1)

    def expected(b):
        alpha, beta, _, one_minus_beta = extinction_and_growth(b, death, days)
        law = [alpha] + [(1 - alpha) * one_minus_beta * beta ** (j - 1) for j in range(1, top)]
        return np.array([*law, 1 - sum(law)]) * len(sizes)

    assert stats.chisquare(observed, expected(birth)).pvalue > 1e-3
    assert stats.chisquare(observed, expected(birth * 1.05)).pvalue < 1e-3
