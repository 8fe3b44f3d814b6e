"""The arms and points tables checked as statistics, on runs built by hand with known truth:
virtual twins with exponential times of known hazards, sweeps with known cure
probabilities."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from refractory.analysis.trials import (
    arm_labels,
    arms_table,
    group_title,
    groups,
    hazard_ratio,
    log_scaled,
    paired_order,
    points_table,
    proportion_interval,
    refractory_times,
    subset,
    swept_paths,
    varied_paths,
)
from refractory.results import Results, ResultsError

HORIZON = 1000.0
EMPTY = pd.DataFrame()


def _patients(
    patient: np.ndarray, cured: np.ndarray, days: np.ndarray, horizon: float = HORIZON
) -> pd.DataFrame:
    """Patients rows with refractory disease on ``days`` when before the horizon (and not
    cured), followed to the horizon otherwise."""
    refractory = ~cured & (days < horizon)
    return pd.DataFrame(
        {
            "patient": patient.astype(np.int64),
            "cured": cured,
            "refractory": refractory,
            "days_to_refractory": np.where(refractory, days, np.nan),
            "lethal": False,
            "days_to_lethal": np.nan,
            "end_day": horizon,
        }
    )


def _results(patients: pd.DataFrame, **scenario) -> Results:
    manifest = {
        "scenario": {"scenario": {"name": "toy", "horizon_days": HORIZON}, **scenario},
        "seed": 0,
        "engine": "synthetic",
    }
    lines = pd.DataFrame(
        {
            "patient": patients["patient"],
            **{c: patients[c] for c in ("point", "arm") if c in patients},
            "line": 1,
        }
    )
    return Results(None, manifest, patients, lines, EMPTY, EMPTY)


def twin_trial(
    hazards: dict[str, float], patients: int = 200, rho: float = 0.6, seed: int = 0
) -> Results:
    """Virtual twins under each arm: exponential times of the arm's hazard (per day), the
    twins' times joined by a Gaussian copula of correlation ``rho`` (1: the same uniform in
    every arm), censored at the horizon. The marginal hazard ratio of arm b to arm a is
    exactly hazards[b] / hazards[a]."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((patients, 1))
    own = rng.standard_normal((patients, len(hazards)))
    uniform = stats.norm.sf(np.sqrt(rho) * common + np.sqrt(1 - rho) * own)
    frames = [
        _patients(
            np.arange(patients), np.zeros(patients, bool), -np.log(uniform[:, j]) / rate
        ).assign(arm=arm)
        for j, (arm, rate) in enumerate(hazards.items())
    ]
    arms = [{"label": arm, "set": {}} for arm in hazards]
    return _results(pd.concat(frames, ignore_index=True), arm=arms)


MU, CELLS = "mechanism.0.mutation_rate", "tumor.detection_cells"
GRID = {MU: [1e-9, 1e-8, 1e-7], CELLS: [1e8, 1e9]}
BIRTH = "tumor.birth_rate"


def sweep_run(
    grid: dict[str, list[float]] = GRID,
    patients: int = 100,
    arms: dict[str, float] | None = None,
    seed: int = 1,
) -> Results:
    """A grid sweep over ``grid`` with a cohort: a patient is cured with probability
    exp(-mutation rate x detection cells) (only ``MU`` and ``CELLS`` count), and otherwise
    refractory after an exponential time of hazard birth_rate / 100 per day times the arm's
    factor, its birth rate drawn log-normal (median 0.14, sigma 0.3). Under each arm the
    same patients: the same cure and the same uniform behind the time."""
    rng = np.random.default_rng(seed)
    frames = []
    for point, values in enumerate(itertools.product(*grid.values())):
        setting = dict(zip(grid, values, strict=True))
        birth = 0.14 * np.exp(0.3 * rng.standard_normal(patients))
        cure = np.exp(-setting.get(MU, 1e-9) * setting.get(CELLS, 1e8))
        cured = rng.uniform(size=patients) < cure
        exponential = rng.exponential(size=patients)
        for arm, factor in (arms or {None: 1.0}).items():
            days = exponential / (birth / 100 * factor)
            frame = _patients(np.arange(patients), cured, days).assign(
                point=point, **setting, **{BIRTH: birth}
            )
            frames.append(frame if arm is None else frame.assign(arm=arm))
    scenario = {
        "sweep": {"design": "grid", **{path: {"values": v} for path, v in grid.items()}},
        "cohort": {BIRTH: {"distribution": "lognormal", "median": 0.14, "sigma": 0.3}},
    }
    if arms:
        scenario["arm"] = [{"label": arm, "set": {}} for arm in arms]
    return _results(pd.concat(frames, ignore_index=True), **scenario)


# Cox hazard ratio --------------------------------------------------------------------------

REPLICATES = 100
TRUE_RATIO = 0.5


@pytest.fixture(scope="module")
def replicate_ratios():
    """The hazard ratio of arm B to arm A and its 95% interval in ``REPLICATES`` trials of 200
    twin pairs with true ratio 0.5."""
    rows = []
    for seed in range(REPLICATES):
        trial = twin_trial({"A": 1 / 300, "B": TRUE_RATIO / 300}, seed=seed)
        a, b = (refractory_times(subset(trial, arm=arm)) for arm in "AB")
        rows.append(hazard_ratio(a, b))
    return np.array(rows)


def test_cox_interval_covers_the_true_ratio_at_its_nominal_rate(replicate_ratios):
    # If the 95% interval is valid, the number of the 100 replicates it covers is
    # Binomial(100, 0.95); fewer than its 0.1% quantile (88) refutes the interval.
    _, low, high = replicate_ratios.T
    covered = int(((low <= TRUE_RATIO) & (TRUE_RATIO <= high)).sum())
    assert covered >= stats.binom.ppf(0.001, REPLICATES, 0.95)
    # The estimates centre on the truth: the mean log ratio within 3 standard errors.
    log_ratio = np.log(replicate_ratios[:, 0])
    assert abs(log_ratio.mean() - np.log(TRUE_RATIO)) < 3 * log_ratio.std() / np.sqrt(REPLICATES)


def test_cox_interval_rejects_a_ratio_off_by_a_planted_factor(replicate_ratios):
    # 1.5 x the truth is log(1.5) = 0.41 from it, about 4 standard errors of the log ratio here
    # (the spread of the estimates): the interval should leave it out nearly always.
    _, low, high = replicate_ratios.T
    assert np.log(replicate_ratios[:, 0]).std() < np.log(1.5) / 3.5
    for planted in (TRUE_RATIO * 1.5, TRUE_RATIO / 1.5):
        covered = ((low <= planted) & (planted <= high)).sum()
        assert covered <= 0.05 * REPLICATES


def test_clustering_by_patient_narrows_the_interval_of_correlated_twins():
    # Twins' times correlated 0.9: the comparison within patients is far more precise than
    # two independent groups, which the naive model's variance ignores.
    from lifelines import CoxPHFitter

    trial = twin_trial({"A": 1 / 300, "B": 0.5 / 300}, rho=0.9, seed=3)
    a, b = (refractory_times(subset(trial, arm=arm)) for arm in "AB")
    _, low, high = hazard_ratio(a, b)
    data = pd.concat([a.assign(arm=0.0), b.assign(arm=1.0)]).drop(columns="patient")
    naive = CoxPHFitter().fit(data, duration_col="days", event_col="event")
    naive_low, naive_high = np.exp(naive.confidence_intervals_.loc["arm"].to_numpy())
    assert np.log(high / low) < 0.6 * np.log(naive_high / naive_low)


def test_arms_table_columns_and_the_first_arm_as_reference():
    trial = twin_trial({"A": 1 / 300, "B": 0.5 / 300, "C": 1 / 300}, seed=0)
    table = arms_table(trial)
    assert list(table.columns) == [
        "arm",
        "patients",
        "cured",
        "cured_low",
        "cured_high",
        "refractory",
        "median_days_to_refractory",
        "median_days_to_refractory_low",
        "median_days_to_refractory_high",
        "hazard_ratio",
        "hazard_ratio_low",
        "hazard_ratio_high",
        "logrank_p",
        "paired",
        "longer_share",
        "shorter_share",
    ]
    assert table["arm"].tolist() == ["A", "B", "C"]
    assert table["patients"].tolist() == [200, 200, 200]
    assert table.iloc[0, 9:].isna().all()
    a, b = (refractory_times(subset(trial, arm=arm)) for arm in "AB")
    assert table.loc[1, ["hazard_ratio", "hazard_ratio_low", "hazard_ratio_high"]].tolist() == (
        pytest.approx(list(hazard_ratio(a, b)))
    )
    # Exponential median: log 2 / hazard, 208 days in A and C, 416 in B. Each 95% interval
    # covers its truth; all three do with probability at least 0.86 for a random seed (the
    # twins are correlated, so they tend to miss together); this seed's do.
    for row, rate in zip(table.itertuples(), (1 / 300, 0.5 / 300, 1 / 300), strict=True):
        truth = np.log(2) / rate
        assert row.median_days_to_refractory_low <= truth <= row.median_days_to_refractory_high
    assert table.loc[2, "hazard_ratio_low"] <= 1.0 <= table.loc[2, "hazard_ratio_high"]


# Log-rank ------------------------------------------------------------------------------------


def test_logrank_small_for_different_arms_and_not_for_identical_ones():
    different = arms_table(twin_trial({"A": 1 / 300, "B": 0.5 / 300}, seed=11))
    assert different.loc[1, "logrank_p"] < 1e-6
    # Identical twins (the same times in both arms): no difference at all.
    same = arms_table(twin_trial({"A": 1 / 300, "B": 1 / 300}, rho=1.0, seed=11))
    assert same.loc[1, "logrank_p"] == pytest.approx(1.0)
    assert same.loc[1, "hazard_ratio"] == pytest.approx(1.0)


def test_logrank_under_equal_hazards_rejects_no_more_than_its_level():
    # Equal hazards, twins correlated 0.6: the log-rank test treats the arms as independent
    # samples, which for positively correlated twins makes it conservative. Of 60 trials the
    # number with p < 0.05 must not exceed the 99.9% quantile of Binomial(60, 0.05).
    p = [
        arms_table(twin_trial({"A": 1 / 300, "B": 1 / 300}, patients=100, seed=s)).loc[
            1, "logrank_p"
        ]
        for s in range(60)
    ]
    assert (np.array(p) < 0.05).sum() <= stats.binom.ppf(0.999, 60, 0.05)


# Paired view ---------------------------------------------------------------------------------


def test_paired_order_by_hand():
    # patient: first arm (days, event) | other arm (days, event) -> order
    #   0: 10 event | 20 event   -> longer
    #   1: 30 event | 15 event   -> shorter
    #   2: 40 event | 40 censored (cured: followed to the horizon from day 40) -> longer
    #   3: 50 event | 50 event   -> tie
    #   4: 60 censored | 80 event -> unknown (the first twin's time is only known > 60)
    #   5: 1000 censored | 1000 censored (both cured) -> unknown
    #   6: 70 censored | 20 event -> shorter (the other's event comes first)
    def frame(days, events):
        return pd.DataFrame({"patient": range(7), "days": days, "event": events})

    first = frame([10, 30, 40, 50, 60, 1000, 70.0], [1, 1, 1, 1, 0, 0, 0])
    other = frame([20, 15, 40, 50, 80, 1000, 20.0], [1, 1, 0, 1, 1, 0, 1])
    order = paired_order(first.astype({"event": bool}), other.astype({"event": bool}))
    assert order == {"paired": 5, "longer_share": 2 / 5, "shorter_share": 2 / 5}


def test_paired_view_of_co_monotone_twins():
    # rho = 1: each patient's time under B (hazard halved) is exactly twice its time under A,
    # so every pair whose order is known is longer under B: those whose A twin had the event.
    trial = twin_trial({"A": 1 / 300, "B": 0.5 / 300}, rho=1.0, seed=5)
    row = arms_table(trial).iloc[1]
    assert row["longer_share"] == 1.0 and row["shorter_share"] == 0.0
    assert row["paired"] == subset(trial, arm="A").patients["refractory"].sum()


# Points table --------------------------------------------------------------------------------


def test_points_table_per_grid_point():
    run = sweep_run()
    assert varied_paths(run) == [MU, CELLS, BIRTH]
    assert swept_paths(run) == [MU, CELLS]
    table = points_table(run)
    assert list(table.columns) == [
        "point",
        MU,
        CELLS,
        "patients",
        "cured",
        "cured_low",
        "cured_high",
        "refractory",
        "median_days_to_refractory",
        "median_days_to_refractory_low",
        "median_days_to_refractory_high",
    ]
    assert table["point"].tolist() == list(range(6))
    assert list(zip(table[MU], table[CELLS], strict=True)) == list(
        itertools.product(*GRID.values())
    )
    for row in table.itertuples():
        group = run.patients[run.patients["point"] == row.point]
        assert row.patients == 100
        assert row.cured == group["cured"].mean()
        assert row.refractory == group["refractory"].mean()
        assert (row.cured_low, row.cured_high) == proportion_interval(
            int(group["cured"].sum()), 100
        )
    # Every interval covers its point's true cure probability (6 intervals: all do with
    # probability at least 0.95 ** 6 = 0.74 for a random seed; this seed's do).
    truth = np.exp(-table[MU] * table[CELLS])
    assert ((table["cured_low"] <= truth) & (truth <= table["cured_high"])).all()


def test_clopper_pearson_against_scipy_and_the_beta_quantiles():
    for successes, trials in ((0, 10), (3, 10), (10, 10), (37, 200)):
        low, high = proportion_interval(successes, trials)
        ci = stats.binomtest(successes, trials).proportion_ci(0.95, method="exact")
        assert (low, high) == (ci.low, ci.high)
        # The exact interval's closed form in beta quantiles (0 and 1 at the ends).
        beta_low = stats.beta.ppf(0.025, successes, trials - successes + 1) if successes else 0
        beta_high = (
            stats.beta.ppf(0.975, successes + 1, trials - successes) if successes < trials else 1
        )
        assert (low, high) == pytest.approx((beta_low, beta_high), abs=1e-10)
    assert np.isnan(proportion_interval(0, 0)).all()


def test_points_and_arms_together():
    run = sweep_run(grid={MU: [1e-9, 1e-8]}, arms={"continuous": 1.0, "adaptive": 0.5})
    assert arm_labels(run) == ["continuous", "adaptive"]
    assert groups(run)[1] == {"point": 0, "arm": "adaptive"}
    assert group_title(groups(run)[1]) == "point 0, arm adaptive"
    points = points_table(run)
    assert points[["point", "arm"]].values.tolist() == [
        [0, "continuous"],
        [0, "adaptive"],
        [1, "continuous"],
        [1, "adaptive"],
    ]
    # The same patients: the same cures under both arms.
    assert (points["cured"].to_numpy()[::2] == points["cured"].to_numpy()[1::2]).all()
    arms = arms_table(run)
    assert arms[["point", "arm"]].values.tolist() == points[["point", "arm"]].values.tolist()
    # Each point's adaptive arm against its own continuous arm: times exactly doubled.
    assert arms["hazard_ratio"].isna().tolist() == [True, False, True, False]
    assert (arms.loc[[1, 3], "longer_share"] == 1.0).all()
    assert (arms.loc[[1, 3], "hazard_ratio_high"] < 1.0).all()


def test_plain_runs_have_no_points_or_arms():
    plain = _results(_patients(np.arange(5), np.zeros(5, bool), np.full(5, 100.0)))
    assert groups(plain) == [{}] and varied_paths(plain) == [] and swept_paths(plain) == []
    with pytest.raises(ResultsError, match="no sweep"):
        points_table(plain)
    with pytest.raises(ResultsError, match="no arms"):
        arms_table(plain)


def test_log_scaled_paths():
    run = sweep_run()
    assert log_scaled(run, MU) and log_scaled(run, CELLS)  # listed values, a decade or more
    assert log_scaled(run, BIRTH)  # drawn log-normal
    linear = sweep_run(grid={"tumor.death_rate": [0.1, 0.2, 0.3]})
    assert not log_scaled(linear, "tumor.death_rate")
