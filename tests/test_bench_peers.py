"""The agent benchmark's peers: the shared network, the GillesPy2 model made from it, and the
rows for a missing or a measured peer (structure only: no timing is run or asserted)."""

import math
import sys

import pytest

from refractory.benchmarks import agent, peers


def test_every_genotype_fires_at_b_plus_d_per_cell():
    """The expected event count (b + d) N0 T holds only if each cell's total rate is b + d."""
    totals, gains = {}, set()
    for rate, reactant, products in peers.reactions():
        totals[reactant] = totals.get(reactant, 0.0) + rate
        gains |= {(reactant, p) for p in products if p != reactant}
    assert totals == pytest.approx({f"g{g}": 2 * peers.RATE for g in range(4)})
    assert gains == {("g0", "g1"), ("g0", "g2"), ("g1", "g3"), ("g2", "g3")}
    assert peers.expected_events(3.0) == 2 * peers.RATE * peers.CELLS * 3.0


def test_gillespy2_model_is_the_network():
    gillespy2 = pytest.importorskip("gillespy2")
    model = peers.gillespy2_model(gillespy2, 4.0)
    built = [
        (
            float(r.marate.expression),
            *((s.name, n) for s, n in r.reactants.items()),
            sorted((s.name, n) for s, n in r.products.items()),
        )
        for r in model.listOfReactions.values()
    ]
    expected = [
        (rate, (reactant, 1), sorted({p: products.count(p) for p in products}.items()))
        for rate, reactant, products in peers.reactions()
    ]
    assert built == expected
    assert model.listOfSpecies["g0"].initial_value == peers.CELLS
    assert list(model.tspan) == [0.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("peer", "module"), [(peers.rebop, "rebop"), (peers.gillespy2, "gillespy2")]
)
def test_a_peer_not_installed_is_a_note(monkeypatch, peer, module):
    monkeypatch.setitem(sys.modules, module, None)
    result = peer(1.0, 1)
    assert result.rate is None and "not installed" in result.missing


def test_gillespy2_without_compiler_is_a_note(monkeypatch):
    pytest.importorskip("gillespy2")
    monkeypatch.setattr(peers.shutil, "which", lambda name: None)
    result = peers.gillespy2(1.0, 1)
    assert result.rate is None and "no C++ compiler" in result.missing


def test_peer_rows_report_missing_and_measured_peers():
    (missing,) = agent.peer_rows(2e7, peers.PeerResult("GillesPy2", missing="no compiler"), 3)
    assert missing.figure == "not run" and math.isnan(missing.value)
    assert missing.judged_by == "no compiler"
    measured = agent.peer_rows(2e7, peers.PeerResult("GillesPy2", 5e6, build_seconds=3.0), 3)
    assert [r.figure for r in measured] == ["seconds", "events per second", "ratio"]
    assert measured[0].value == 3.0 and measured[1].value == 5e6
    assert measured[2].ratio == 4.0 and measured[2].met
    assert [r.figure for r in agent.peer_rows(2e7, peers.PeerResult("rebop", 4e7), 3)] == [
        "events per second",
        "ratio",
    ]
