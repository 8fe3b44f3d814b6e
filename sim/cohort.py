"""Virtual cohorts: each patient draws its own values of the fields ``[cohort]`` names.

A patient's values depend only on (seed, patient index): uniforms come from the patient's
own stream (a SeedSequence spawn of the seed, apart from the one its simulation uses),
become normal scores, are correlated through the Cholesky factor of
``[cohort.correlation]`` (a Gaussian copula) and are mapped through each distribution's
quantile function. So the same patient has the same values in every chunk, under every arm
and at every sweep point.

The kernels read the values as per-patient rows of the compiled model
(kernels.model.patient_model), so nothing is compiled per patient. Which model entries a
field sets, and how, is found once per variant by compiling the scenario at two of the
field's values and checking a third: a field may vary per patient when the compiled model
holds it as given, or scaled and shifted (a rate, a size, a probability, a fitness cost,
a drug's maximal effect). A field the compiler transforms otherwise (a half-life, an ec50)
or that sizes the engine's arrays is refused, with the advice to sweep it instead.
"""

import hashlib
import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from refractory.compile import compile_model
from refractory.engine import trace_rows
from refractory.errors import ScenarioError, number
from refractory.kernels.model import PatientModel, shared_rows
from refractory.kernels.streams import patient_states
from refractory.lessons import set_path
from refractory.scenario import Cohort, Distribution, Scenario, parse_scenario
from refractory.settings import EngineSettings
from refractory.variation import file_value

#: Added to the seed (above its 64 bits) for the cohort's streams, apart from the patients'.
COHORT_STREAM = 0xC0 << 64
#: Patients validated at once before a run (bounds the memory of the check).
CHECK_BLOCK = 1_000_000
#: At most this many varied fields have the corners of their box checked; more are checked
#: patient by patient.
MAX_CORNER_FIELDS = 10
#: Relative tolerance of the check that a model entry is affine in a field.
AFFINE_TOLERANCE = 1e-9


def varying(cohort: Cohort) -> list[str]:
    """The paths whose values differ between patients (not a degenerate distribution)."""
    return [path for path, spec in cohort.axes.items() if spec.constant is None]


def _uniforms(seed: int, first: int, count: int, paths: list[str]) -> np.ndarray:
    """(count, paths) uniforms in (0, 1): row i from patient first + i's cohort stream,
    column j hashed from the path's name (so adding a field changes no other's values)."""
    words = patient_states(seed + COHORT_STREAM, first, count)[:, 0]
    columns = []
    for path in paths:
        key = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "little")
        x = words + np.uint64(key)  # splitmix64 of the patient's word and the path's key
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
        columns.append(((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53)
    return np.column_stack(columns) if columns else np.empty((count, 0))


def _quantiles(distribution: Distribution, z: np.ndarray) -> np.ndarray:
    """The distribution's values at normal scores ``z`` (its quantile function at Phi(z))."""
    fixed = distribution.constant
    if fixed is not None:
        return np.full(z.shape, fixed)
    kind, given = distribution.distribution, distribution.parameters
    if kind == "lognormal":
        return given["median"] * np.exp(given["sigma"] * z)
    if kind == "normal" and "low" not in given and "high" not in given:
        return given["mean"] + given["sd"] * z
    u = special.ndtr(z)
    if kind == "normal":
        mean, sd = given["mean"], given["sd"]
        low, high = given.get("low", -math.inf), given.get("high", math.inf)
        return stats.truncnorm.ppf(u, (low - mean) / sd, (high - mean) / sd, mean, sd)
    if kind == "uniform":
        return given["low"] + u * (given["high"] - given["low"])
    if kind == "loguniform":
        low, high = math.log(given["low"]), math.log(given["high"])
        return np.exp(low + u * (high - low))
    if kind == "beta":
        return stats.beta.ppf(u, given["a"], given["b"])
    values = np.asarray(given["values"], np.float64)
    weights = np.asarray(given.get("weights") or np.ones(len(values)), np.float64)
    cumulative = np.cumsum(weights) / weights.sum()
    return values[np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)]


def draw(cohort: Cohort, seed: int, first: int, count: int) -> dict[str, np.ndarray]:
    """Each path's values for patients first .. first + count - 1 (float64 arrays)."""
    paths = list(cohort.axes)
    z = special.ndtri(_uniforms(seed, first, count, paths))
    if cohort.correlation is not None:
        where = [paths.index(path) for path in cohort.correlation.paths]
        factor = np.linalg.cholesky(np.array(cohort.correlation.matrix))
        z[:, where] = z[:, where] @ factor.T
    return {
        path: _quantiles(cohort.axes[path], z[:, j]).astype(np.float64)
        for j, path in enumerate(paths)
    }


def _with(scenario: Scenario, values: dict[str, float], source: str) -> Scenario:
    """The scenario without its cohort, with ``values`` set (validated like a file)."""
    data = scenario.to_dict()
    data.pop("cohort", None)
    for path, value in values.items():
        set_path(data, path, float(value), source, "cohort")
    return parse_scenario(data, source)


def _patient_error(
    scenario: Scenario, source: str, patient: int, values: dict, error: ScenarioError
) -> ScenarioError:
    drawn = "; ".join(
        f"{path} = {number(float(value))} from {scenario.cohort.axes[path].describe()}"
        for path, value in values.items()
    )
    return ScenarioError(
        source,
        f"cohort: patient {patient} draws {drawn}, which is not a valid scenario: {error.problem}",
        "Bound the distribution (low and high of a normal, or a distribution whose every value "
        "is allowed), or change its parameters in [cohort].",
        field=error.field,
    )


def check_draws(scenario: Scenario, source: str, first: int, stop: int) -> None:
    """Before a run: every patient first .. stop - 1 draws values that give a valid scenario,
    else a ScenarioError naming the patient, the values and their distributions.

    Every rule a scenario's numbers obey is a range or one number above another (or a sum
    below a bound), so the set of valid values is convex: when the corners of the box of
    drawn values are valid, every patient's values are. When a corner is not (or too many
    fields vary to try them all), each patient is checked in turn.
    """
    cohort = scenario.cohort
    paths = varying(cohort)
    if not paths:
        return
    low = dict.fromkeys(paths, math.inf)
    high = dict.fromkeys(paths, -math.inf)
    for start in range(first, stop, CHECK_BLOCK):
        drawn = draw(cohort, scenario.scenario.seed, start, min(CHECK_BLOCK, stop - start))
        for path in paths:
            low[path] = min(low[path], float(drawn[path].min()))
            high[path] = max(high[path], float(drawn[path].max()))
    if len(paths) <= MAX_CORNER_FIELDS:
        try:
            for corner in itertools.product(*({low[p], high[p]} for p in paths)):
                _with(scenario, dict(zip(paths, corner, strict=True)), source)
            return
        except ScenarioError:
            pass
    for start in range(first, stop, CHECK_BLOCK):
        drawn = draw(cohort, scenario.scenario.seed, start, min(CHECK_BLOCK, stop - start))
        for i in range(len(drawn[paths[0]])):
            values = {path: drawn[path][i] for path in paths}
            try:
                _with(scenario, values, source)
            except ScenarioError as error:
                raise _patient_error(scenario, source, start + i, values, error) from None


class Term(NamedTuple):
    """One model entry a drawn field sets: entry ``index`` (flat) of ``field`` is
    ``intercept + slope * value`` (intercept 0 and slope 1: the value as given)."""

    path: str
    field: str
    index: int
    slope: float
    intercept: float


def _entries(model: PatientModel) -> dict[str, np.ndarray]:
    return {name: np.asarray(value).ravel() for name, value in model._asdict().items()}


def _sizes(model: PatientModel) -> tuple:
    """What sizes the engine's arrays and picks its code: shapes, whole-number entries (sizes,
    counts, codes) and the rows of a traced patient."""
    arrays = [np.asarray(value) for value in model]
    return (
        tuple(array.shape for array in arrays),
        tuple(array.tobytes() for array in arrays if array.dtype.kind == "i"),
        trace_rows(model),
    )


def _refuse(source: str, path: str, why: str) -> ScenarioError:
    return ScenarioError(
        source,
        f"cohort: {path!r} cannot vary between the patients of one run: {why}",
        "Sweep it in [sweep] instead (each point compiles its own model), or remove it from "
        "[cohort].",
        field=f"cohort.{path}",
    )


def cohort_terms(
    scenario: Scenario, model: PatientModel, source: str, settings: EngineSettings
) -> tuple[Term, ...]:
    """The model entries the cohort's varying fields set and how (see the module's text);
    ``model`` is the compiled scenario. A ScenarioError for a field that cannot vary."""
    cohort = scenario.cohort
    base = _entries(model)
    terms: list[Term] = []
    owner: dict[tuple[str, int], str] = {}
    probes = {}
    for path in varying(cohort):
        spec = cohort.axes[path]
        x1, x2 = _probes(spec)
        if x1 == x2:
            raise _refuse(
                source,
                path,
                f"{spec.describe()} is too narrow to tell how the model uses the field (its "
                "quartiles are equal); give every patient one value with a distribution of no "
                "spread (sd = 0)",
            )
        probes[path] = x2
        x0 = file_value(scenario, path, source, "cohort")
        try:
            models = [
                compile_model(_with(scenario, {path: x}, source), source, settings)
                for x in (x1, x2, 0.5 * (x1 + x2))
            ]
        except ScenarioError as error:
            raise _refuse(
                source, path, f"at its quartiles, the other fields as in the file: {error.problem}"
            ) from None
        if any(_sizes(m) != _sizes(model) for m in models):
            raise _refuse(
                source, path, "it sets a size, a count or a code of the model (a whole number)"
            )
        e1, e2, e3 = (_entries(m) for m in models)
        for name, values in base.items():
            for index in np.flatnonzero(~_same(e1[name], e2[name]) | ~_same(e1[name], values)):
                a, b, mid = float(e1[name][index]), float(e2[name][index]), float(e3[name][index])
                slope = (b - a) / (x2 - x1)
                intercept = a - slope * x1
                affine = math.isfinite(slope) and all(
                    _close(intercept + slope * x, float(e))
                    for x, e in ((0.5 * (x1 + x2), mid), (x0, values[index]))
                )
                if not affine:
                    raise _refuse(
                        source, path, f"the model computes {name} from it other than linearly"
                    )
                if (name, index) in owner:
                    raise _refuse(
                        source, path, f"{owner[name, index]!r} sets the same model entry ({name})"
                    )
                owner[name, index] = path
                terms.append(Term(path, name, int(index), slope, intercept))
    _check_jointly(scenario, model, terms, probes, source, settings)
    return tuple(terms)


def _probes(spec) -> tuple[float, float]:
    """Two values of the distribution to compile at: its quartiles, or for a choice whose
    quartiles agree, its smallest and largest values."""
    x1, x2 = (float(v) for v in _quantiles(spec, special.ndtri(np.array([0.25, 0.75]))))
    if x1 == x2 and spec.values is not None:
        return float(min(spec.values)), float(max(spec.values))
    return x1, x2


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= AFFINE_TOLERANCE * max(abs(x), abs(y), 1e-300)


def _check_jointly(scenario, model, terms, probes, source, settings) -> None:
    """With every field at its upper quartile together, the terms give the compiled model:
    no field changes how another reaches the model."""
    if len(probes) < 2:
        return
    try:
        joint = compile_model(_with(scenario, probes, source), source, settings)
    except ScenarioError:
        return  # not a valid scenario together; check_draws judges the patients' values
    rows = cohort_rows(model, terms, {path: np.array([x]) for path, x in probes.items()})
    for name, values in _entries(joint).items():
        predicted = np.asarray(getattr(rows, name))[0].ravel()
        close = [
            _close(float(x), float(y)) or x == y for x, y in zip(predicted, values, strict=True)
        ]
        if not all(close):
            paths = sorted({t.path for t in terms if t.field == name} or probes)
            raise _refuse(
                source, paths[0], f"together with {paths[1:] or 'another field'} it sets {name}"
            )


def cohort_rows(
    model: PatientModel, terms: tuple[Term, ...], drawn: dict[str, np.ndarray]
) -> PatientModel:
    """Per-patient model rows: ``model``'s values, with each term's entry set from the
    patients' drawn values (fields no term touches stay one shared row)."""
    rows = shared_rows(model)._asdict()
    count = len(next(iter(drawn.values()))) if drawn else 1
    for name in dict.fromkeys(term.field for term in terms):
        shared = rows[name]
        stacked = np.repeat(shared, count, axis=0)
        flat = stacked.reshape(count, -1)
        for term in (t for t in terms if t.field == name):  # 0 + 1 x is x, to the bit
            flat[:, term.index] = term.intercept + term.slope * drawn[term.path]
        rows[name] = stacked
    return PatientModel(**rows)
