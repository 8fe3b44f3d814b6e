"""Sensitivity of cure and of time to refractory disease to each cohort and sweep parameter.

The measure is the partial rank correlation coefficient (PRCC; Marino et al. 2008): the
correlation between the ranks of a parameter and the ranks of an outcome once the ranks of
every other varied parameter have been regressed out of both. It measures monotone (not only
linear) dependence, does not care whether a parameter is drawn on a log scale (ranks are the
same), and is valid for any design: the patients of a cohort, the points of a grid or of a
Latin hypercube, or both. Sobol indices would need a Saltelli design, which neither a cohort
nor a sweep is.
"""

import numpy as np
import pandas as pd
from scipy import stats

from refractory.analysis.survival import refractory_endpoint
from refractory.analysis.trials import arm_labels, has_arms, subset, varied_paths
from refractory.results import Results

OUTCOMES = {
    "cured": "cure",
    "days_to_refractory": "time to refractory disease",
}


def prcc(inputs: pd.DataFrame, output: np.ndarray) -> pd.DataFrame:
    """PRCC of ``output`` with each column of ``inputs`` and its two-sided p-value.

    Ranks (ties averaged) of every column and of the output; for each parameter, the residuals
    of its ranks and of the output's ranks after least squares on the other parameters' ranks
    (with an intercept); their Pearson correlation is the PRCC. Under no association
    ``r * sqrt((n - 2 - k) / (1 - r**2))`` follows Student's t with ``n - 2 - k`` degrees of
    freedom, ``k`` the number of parameters controlled for. A parameter or an output that
    does not vary gets NaN.

    Returns one row per column of ``inputs``: ``parameter``, ``prcc``, ``p_value``.
    """
    ranks = np.column_stack([stats.rankdata(inputs[c]) for c in inputs.columns])
    y = stats.rankdata(output)
    n, parameters = ranks.shape
    rows = []
    for j, name in enumerate(inputs.columns):
        others = np.column_stack([np.ones(n), np.delete(ranks, j, axis=1)])
        x_residual = ranks[:, j] - others @ np.linalg.lstsq(others, ranks[:, j], rcond=None)[0]
        y_residual = y - others @ np.linalg.lstsq(others, y, rcond=None)[0]
        scale = np.linalg.norm(x_residual) * np.linalg.norm(y_residual)
        r = float(x_residual @ y_residual / scale) if scale > 1e-9 * n**2 else float("nan")
        df = n - 2 - (parameters - 1)
        if np.isnan(r) or df < 1:
            p = float("nan")
        else:
            t = r * np.sqrt(df / max(1.0 - r * r, np.finfo(float).tiny))
            p = float(2 * stats.t.sf(abs(t), df))
        rows.append({"parameter": name, "prcc": r, "p_value": p})
    return pd.DataFrame(rows, columns=["parameter", "prcc", "p_value"])


def sensitivity_table(results: Results) -> pd.DataFrame:
    """PRCC of cure and of time to refractory disease with each varied parameter (the cohort's
    and the sweep's paths that take more than one value), over all patients of all points;
    per arm with arms (the same patients in each arm, so one arm's rows at a time).

    Time to refractory disease is each patient's followed time of ``refractory_endpoint``:
    the day of the event, the horizon for a cured patient (never refractory, so ranked
    longest), else the day the patient was last followed. Ranking a censored time as if it
    were the event's is exact for cures and conservative for the rest (their true time is
    later still).

    Columns: ``arm`` (with arms), ``outcome`` (a key of ``OUTCOMES``), ``parameter``,
    ``prcc``, ``p_value``. Empty when no parameter varies.
    """
    paths = [p for p in varied_paths(results) if results.patients[p].nunique() > 1]
    columns = [*(["arm"] if has_arms(results) else []), "outcome", "parameter", "prcc", "p_value"]
    if not paths:
        return pd.DataFrame(columns=columns)
    arms = [{"arm": a} for a in arm_labels(results)] if has_arms(results) else [{}]
    frames = []
    for where in arms:
        group = subset(results, **where)
        inputs = group.patients[paths]
        for outcome, values in (
            ("cured", group.patients["cured"].to_numpy(float)),
            ("days_to_refractory", refractory_endpoint(group).times),
        ):
            frames.append(prcc(inputs, values).assign(**where, outcome=outcome))
    return pd.concat(frames, ignore_index=True)[columns]
