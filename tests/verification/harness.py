"""Running the engines for the verification tests, with optional planted errors.

Only the public API is used: parse_scenario -> compile_model -> ENGINES[engine] (or
engine_runner for the GPU) -> chunk_columns. A planted error multiplies one rate of the
compiled model (the simulation is then wrong on purpose while the tests still compare with
the true theory).
"""

from typing import Any

import numpy as np
import pytest

from refractory.compile import compile_model
from refractory.engine import ENGINES, engine_runner
from refractory.results import Results, chunk_columns, from_arrow, join_arrow, to_arrow
from refractory.scenario import Scenario, parse_scenario
from refractory.settings import DEFAULT_SETTINGS
from refractory.simulation import manifest

from .stats import ALPHA, MIN_POWER, binomial_p, binomial_power, z_p, z_power

#: Relative size of the planted rate error.
PLANTED = 0.05
#: The two cases of every verification test: the true model and a planted 5% rate error.
CASES = [None, PLANTED]
CASE_IDS = ["true-model", "planted-5pct"]


#: The engines every theory test runs on; the agent engine's runs are under ``verify`` unless
#: a test lists it as fast. "gpu" (the compartment engine on a GPU) joins where numba finds one.
def _gpu_found() -> bool:
    try:
        engine_runner("compartment", "gpu")
    except ValueError:
        return False
    return True


ENGINE_NAMES = tuple(ENGINES) + (("gpu",) if _gpu_found() else ())


def engine_params(fast: tuple[str, ...] = ("compartment",)) -> list:
    """pytest params over the engines; those not in ``fast`` are marked ``verify``."""
    return [
        pytest.param(name, id=name, marks=() if name in fast else pytest.mark.verify)
        for name in ENGINE_NAMES
    ]


def scenario(tumor: dict[str, Any], horizon_days: float = 3650.0, **tables: Any) -> Scenario:
    """A validated scenario from a [tumor] table and optional mechanism/drug/line tables."""
    data = {"scenario": {"name": "verification", "horizon_days": horizon_days}, "tumor": tumor}
    data.update(tables)
    return parse_scenario(data, "verification")


def plant(model, field: str, error: float | None):
    """The compiled model with ``field`` multiplied by 1 + error (unchanged for None)."""
    if error is None:
        return model
    value = getattr(model, field)
    factor = 1.0 + error
    if isinstance(value, np.ndarray):
        return model._replace(**{field: value * factor})
    return model._replace(**{field: float(value) * factor})


def simulate(
    sc: Scenario,
    patients: int,
    seed: int,
    *,
    planted: tuple[str, float | None] | None = None,
    exact_below: float | None = None,
    chunk: int = 50_000,
    engine: str = "compartment",
) -> Results:
    """Results of ``patients`` patients of ``sc`` on ``engine``.

    ``planted`` = (model field, relative error); ``exact_below`` forces the compartment
    engine's path (0: exact transitions only, 1e18: event by event only). On the agent engine
    a lethal size above its limit is lowered to the limit, which these tests never reach
    (asserted when lowered).
    """
    limit = DEFAULT_SETTINGS.agent_max_cells
    capped = engine == "agent" and sc.tumor.lethal_cells > limit
    data = sc.to_dict()
    data["scenario"]["engine"] = "compartment" if engine == "gpu" else engine
    if capped:
        data["tumor"]["lethal_cells"] = limit
        if sc.tumor.start == "cells":  # detection_cells plays no part; keep it below lethal
            data["tumor"]["detection_cells"] = sc.tumor.treatment_start_cells
    sc = parse_scenario(data, "verification")
    model = compile_model(sc)
    if planted is not None:
        model = plant(model, *planted)
    if exact_below is not None:
        model = model._replace(exact_below=float(exact_below))
    run = engine_runner("compartment", "gpu") if engine == "gpu" else ENGINES[engine]
    parts = []
    for first in range(0, patients, chunk):
        raw = run(model, seed, first, min(chunk, patients - first))
        parts.append(to_arrow(chunk_columns(raw, sc)))
    device = "gpu" if engine == "gpu" else "cpu"
    tables = Results(
        None,
        manifest(sc, (0, patients), 0, device, DEFAULT_SETTINGS),
        **from_arrow(join_arrow(parts)),
    )
    assert not (capped and tables.patients.lethal.any()), "the agent engine's size cap was hit"
    return tables


def check(result: dict[str, Any], planted: float | None, record) -> None:
    """Record a test's outcome and assert: the true model passes, a planted error is rejected.

    ``result`` holds at least ``p`` (the p-value the decision uses, compared with ALPHA) and
    ``power`` (designed power against the planted error); other keys are reported.
    """

    record(dict(result, case="planted" if planted else "true"))
    assert result["power"] >= MIN_POWER, f"design power {result['power']:.4f} < {MIN_POWER}"
    if planted is None:
        assert result["p"] >= ALPHA, f"true model rejected: {result}"
    else:
        assert result["p"] < ALPHA, f"planted {planted:.0%} error not detected: {result}"


def check_binomial(
    successes: int, n: int, p0: float, p1: float, planted: float | None, record, note: str = ""
) -> None:
    """Exact binomial test of ``successes`` in ``n`` against the theory's ``p0``, with its
    power against ``p1`` (the probability under the planted error), through ``check``."""
    check(
        {
            "stat": f"binomial {successes}/{n} vs {p0:.4f}{note}",
            "n": n,
            "p": binomial_p(successes, n, p0),
            "power": binomial_power(p0, p1, n),
        },
        planted,
        record,
    )


def check_mean(
    values: np.ndarray, expected: float, alternative: float, planted: float | None, record
) -> None:
    """z test of the sample mean against the theory's ``expected``, with its power against
    ``alternative`` (the mean under the planted error; power from the sample sd), through
    ``check``."""
    n, sd = len(values), values.std(ddof=1)
    check(
        {
            "stat": f"z on mean {values.mean():.1f} vs {expected:.1f}",
            "n": n,
            "p": z_p(values.mean(), expected, sd / np.sqrt(n)),
            "power": z_power(alternative - expected, sd, sd, n),
        },
        planted,
        record,
    )
