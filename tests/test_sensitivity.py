"""Partial rank correlation: against the precision-matrix identity, its power for a monotone
dependence and its p-value's calibration for an independent parameter."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_trials import BIRTH, CELLS, MU, sweep_run

from refractory.analysis.sensitivity import prcc, sensitivity_table

ALPHA = 0.05


def _inputs(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"a": rng.uniform(size=n), "b": rng.lognormal(size=n), "c": rng.normal(size=n)}
    )


def test_prcc_equals_the_partial_correlation_of_the_ranks():
    # The partial correlation of x_j and y given the rest is -P_jy / sqrt(P_jj P_yy), P the
    # inverse of the correlation matrix of the ranks: an independent way to the same number.
    rng = np.random.default_rng(0)
    x = _inputs(rng, 300)
    y = x["a"] ** 3 - np.log(x["b"]) + rng.normal(size=300)
    ranks = np.column_stack([stats.rankdata(v) for v in (*x.T.to_numpy(), y)])
    precision = np.linalg.inv(np.corrcoef(ranks, rowvar=False))
    expected = -precision[:3, 3] / np.sqrt(np.diag(precision)[:3] * precision[3, 3])
    table = prcc(x, y.to_numpy())
    assert table["parameter"].tolist() == ["a", "b", "c"]
    assert table["prcc"].to_numpy() == pytest.approx(expected, abs=1e-10)
    # t with n - 2 - 2 = 296 degrees of freedom.
    r = table["prcc"].to_numpy()
    t = r * np.sqrt(296 / (1 - r**2))
    assert table["p_value"].to_numpy() == pytest.approx(2 * stats.t.sf(abs(t), 296), rel=1e-9)


def test_prcc_detects_a_monotone_dependence_and_not_an_independent_parameter():
    # y = exp(5 a) - b + noise: monotone in a (rising) and b (falling), independent of c.
    # Over 200 replicates the p-value of c is uniform (Kolmogorov-Smirnov p > 0.001) and the
    # share below ALPHA at most the 99.9% quantile of Binomial(200, ALPHA); a and b are found
    # in every replicate.
    rng = np.random.default_rng(1)
    p_independent = []
    for _ in range(200):
        x = _inputs(rng, 100)
        y = np.exp(5 * x["a"]) - x["b"] + rng.normal(size=100)
        table = prcc(x, y.to_numpy()).set_index("parameter")
        assert table.loc["a", "prcc"] > 0.5 and table.loc["a", "p_value"] < 1e-6
        assert table.loc["b", "prcc"] < 0 and table.loc["b", "p_value"] < ALPHA
        p_independent.append(table.loc["c", "p_value"])
    assert stats.kstest(p_independent, "uniform").pvalue > 0.001
    assert (np.array(p_independent) < ALPHA).sum() <= stats.binom.ppf(0.999, 200, ALPHA)


def test_prcc_of_a_constant_output_is_undefined():
    x = _inputs(np.random.default_rng(2), 50)
    assert prcc(x, np.ones(50))["prcc"].isna().all()


def test_sensitivity_of_cure_and_time_in_a_sweep_with_a_cohort():
    # Cure falls with the mutation rate and the detection size (exp(-mu N)) and does not
    # depend on the birth rate; the time to refractory disease falls with the birth rate.
    # The birth rate's p-value for cure exceeds ALPHA with probability 1 - ALPHA for a random
    # seed (the calibration is checked above); this seed's does.
    run = sweep_run(patients=200, arms={"continuous": 1.0, "adaptive": 0.5})
    table = sensitivity_table(run)
    assert list(table.columns) == ["arm", "outcome", "parameter", "prcc", "p_value"]
    assert len(table) == 2 * 2 * 3
    for arm in ("continuous", "adaptive"):
        rows = table[table["arm"] == arm].set_index(["outcome", "parameter"])
        for path in (MU, CELLS):
            assert rows.loc[("cured", path), "prcc"] < -0.3
            assert rows.loc[("cured", path), "p_value"] < 1e-10
        assert rows.loc[("cured", BIRTH), "p_value"] > ALPHA
        assert rows.loc[("days_to_refractory", BIRTH), "prcc"] < 0
        assert rows.loc[("days_to_refractory", BIRTH), "p_value"] < 1e-6


def test_no_varied_parameter_no_rows():
    run = sweep_run(grid={MU: [1e-9]})
    run.patients.drop(columns=[BIRTH], inplace=True)
    assert sensitivity_table(run).empty
