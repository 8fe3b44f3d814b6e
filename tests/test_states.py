"""Sanctuary sites and persister cells: their effects in the expected direction, what scans
see, and what the outputs tell apart."""

import numpy as np
import pytest
from scipy import stats

from refractory.batch import run_batch
from refractory.scenario import parse_scenario
from tests.test_agent import small
from tests.test_treatment import ALPHA, _changed, _run

#: Patients per arm of the effect tests.
ARM = 100


def _fisher_greater(hits: tuple[int, int], n: int) -> float:
    """One-sided Fisher exact p-value that the first arm's rate of hits exceeds the second's."""
    table = [[hits[0], n - hits[0]], [hits[1], n - hits[1]]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


@pytest.mark.parametrize(("reach", "lowers"), [(0.2, True), (1.0, False)], ids=["poor", "full"])
def test_a_sanctuary_with_poor_exposure_lowers_cure(reach, lowers):
    """Fisher exact test (one-sided, alpha 1e-3, 100 patients per arm) that cure is likelier
    without the sanctuary (its cells placed in the primary site, share 0 and no migration is
    refused, so: the same drug at full exposure there) than with it at ``reach``. At full
    exposure the sanctuary shelters nothing and the test must not find an effect."""
    full = _run(_changed("sanctuary", sanctuary={"exposure": {"A": 1.0}}), ARM)
    tested = _run(_changed("sanctuary", sanctuary={"exposure": {"A": reach}}), ARM, seed=2)
    cured = (int(full.patients.cured.sum()), int(tested.patients.cured.sum()))
    assert (_fisher_greater(cured, ARM) < ALPHA) == lowers
    if lowers:
        lines = tested.lines
        assert (lines["driver_site"] == "sanctuary").mean() > 0.5
        assert (tested.patients["resistant_cells_at_start"] == 0).all()


@pytest.mark.parametrize(("protection", "regrows"), [(1.0, True), (0.0, False)])
def test_persisters_regrow_on_the_drug_with_no_resistant_genotype(protection, regrows):
    """No mechanism exists, yet with protected persisters the first line progresses on
    treatment: Fisher exact test (one-sided, alpha 1e-3, 100 per arm) against unprotected
    persisters, which the drug kills like any cell (then the test must find nothing)."""
    unprotected = _run(_changed("persisters", persister={"protection": {"A": 0.0}}), ARM)
    tested = _run(_changed("persisters", persister={"protection": {"A": protection}}), ARM, 2)
    first = [t.lines[t.lines["line"] == 1] for t in (tested, unprotected)]
    hits = tuple(int(f["progressed_on_treatment"].sum()) for f in first)
    assert (_fisher_greater(hits, ARM) < ALPHA) == regrows
    if regrows:
        progressed = first[0][first[0]["progressed"]]
        assert (progressed["driver_mechanisms"] == "").all()
        assert (progressed["driver_phenotype"] == "persister").mean() > 0.5
        assert (tested.patients["resistant_cells_at_start"] == 0).all()


@pytest.mark.parametrize(("switch_off", "resensitises"), [(0.01, True), (0.0, False)])
def test_a_holiday_resensitises_persisters(switch_off, resensitises):
    """Re-challenge with the same drug after a 120-day holiday responds (PR or CR) more often
    than re-challenge at once: Fisher exact test (one-sided, alpha 1e-3, 100 per arm). With
    no way out of the persister state (switch_off = 0) the holiday cannot help, and the test
    must find nothing."""
    responses = []
    for seed, holiday in ((1, 120), (2, 0)):
        sc = _changed("persisters", persister={"switch_off": switch_off})
        data = sc.to_dict()
        data["line"][1]["treatment_free_days"] = holiday
        second = _run(parse_scenario(data, "persisters"), ARM, seed).lines
        second = second[second["line"] == 2]
        responses.append(int(second["best_response"].isin(["PR", "CR"]).sum()))
    assert (_fisher_greater(tuple(responses), ARM) < ALPHA) == resensitises


def test_scans_miss_an_invisible_sanctuary():
    """With visible = false and exact scans, each measured burden is the primary site's
    cells (0 below the visible size) while the true burden counts both sites."""
    sc = _changed("sanctuary", sanctuary={"visible": False})
    tables = _run(sc, 20)
    trace = tables.trace
    primary = trace[trace["site"] == "primary"].groupby(["patient", "day"])["cells"].sum()
    total = trace.groupby(["patient", "day"])["cells"].sum()
    scans = tables.scans.set_index(["patient", "day"])
    both = scans.join(primary.rename("primary"), how="inner").join(total.rename("total"))
    both["primary"] = both["primary"].fillna(0)
    assert len(both) > 100 and (both["total"] > both["primary"]).any()
    visible = sc.effective_visible_cells
    seen = np.where(both["primary"] >= visible, both["primary"], 0.0)
    np.testing.assert_array_equal(both["measured_cells"], seen)
    np.testing.assert_array_equal(both["true_cells"], both["total"])


STATES = {
    "tumor": {"start": "cells", "clone": [{"cells": 3000}]},
    "sanctuary": {"share": 0.2, "exposure": {"A": 0.1}, "migration_in": 0.01},
    "persister": {"switch_on": 0.02, "switch_off": 0.05, "protection": {"A": 1.0, "B": 0.5}},
}


def test_agent_lineages_follow_cells_that_move(tmp_path):
    """Agent engine with both states: cells keep their barcode when they migrate or switch, so
    per patient and moment after the start (when lineages that are alive later are kept) the
    lineages hold exactly the clones' cells, and only cells with a mechanism count as
    resistant (a persister is not)."""
    sc = parse_scenario(small(**STATES))
    tables = run_batch(sc, tmp_path / "out")
    clones, lineages = tables.clones, tables.lineages
    assert {"sanctuary", "primary"} <= set(clones["site"])
    assert {"persister", "cycling"} <= set(clones["phenotype"])
    keys = ["patient", "moment"]
    later = lineages[lineages["moment"] != "start"]
    by_lineage = later.groupby(keys)[["cells", "resistant_cells"]].sum()
    resistant = np.where(clones["mechanisms"] != "", clones["cells"], 0)
    by_clone = clones.assign(resistant=resistant).groupby(keys)[["cells", "resistant"]].sum()
    by_clone = by_clone.loc[by_lineage.index]
    np.testing.assert_array_equal(by_lineage["cells"], by_clone["cells"])
    np.testing.assert_array_equal(by_lineage["resistant_cells"], by_clone["resistant"])
    start = clones[clones["moment"] == "start"]
    sheltered = start.loc[start["site"] == "sanctuary", "cells"].groupby(start["patient"]).sum()
    # 3000 cells split Binomial(3000, 0.2) per patient: mean 600, sd 21.9; z test on 30
    assert abs(sheltered.mean() - 600) < stats.norm.isf(ALPHA / 2) * np.sqrt(480 / len(sheltered))
