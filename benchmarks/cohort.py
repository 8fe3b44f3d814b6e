"""What per-patient values cost: a virtual cohort against the fixed scenario it varies.

The cohort draws four fields of the two-drug scenario per patient (growth, death, both
mutation rates) from distributions so narrow that every patient does the same work as in
the fixed scenario on average; the difference in time per patient is then the cost of
drawing the values, building the per-patient model rows and reading them in the kernel.
Both run the same chunk path (refractory.simulation.simulate_chunk and chunk_tables:
values, rows, kernel, tables) on all threads, alternating, in one process.

Run alone with ``python -m refractory.benchmarks.cohort [--quick]``.
"""

import statistics

from refractory.benchmarks.compartment import TWO_DRUGS
from refractory.benchmarks.measure import Row, median_seconds, run_alone
from refractory.engine import run_compartment
from refractory.scenario import load_scenario, parse_scenario
from refractory.settings import DEFAULT_SETTINGS
from refractory.simulation import chunk_tables, plan, simulate_chunk

SECTION = "cohort"
#: Relative spread of the drawn values (lognormal sigma): small enough that the patients'
#: work equals the fixed scenario's, large enough that every patient has its own values.
SPREAD = 1e-6
#: The largest extra cost per patient that the cohort may have.
TARGET = 0.10
FIELDS = {
    "tumor.birth_rate": 0.14,
    "tumor.death_rate": 0.13,
    "mechanism.0.mutation_rate": 5e-8,
    "mechanism.1.mutation_rate": 1e-9,
}


def _planned(cohort: bool):
    data = load_scenario(TWO_DRUGS).to_dict()
    if cohort:
        data["cohort"] = {
            path: {"distribution": "lognormal", "median": value, "sigma": SPREAD}
            for path, value in FIELDS.items()
        }
    (planned,) = plan(parse_scenario(data, str(TWO_DRUGS)), str(TWO_DRUGS), DEFAULT_SETTINGS)
    return planned


def rows(quick: bool) -> list[Row]:
    """Time per patient of the cohort over the fixed scenario: the median ratio of pairs of
    chunks run one after the other."""
    patients, repeats = (1000, 5) if quick else (2000, 9)
    fixed, cohort = _planned(False), _planned(True)

    def chunk(planned):
        return lambda: chunk_tables(
            planned, simulate_chunk(run_compartment, planned, 0, patients, 0, DEFAULT_SETTINGS)
        )

    chunk(fixed)()
    chunk(cohort)()  # compiled and warm before timing
    fixed_times, ratios = [], []
    for repeat in range(repeats):  # a pair at a time, so that a change of load hits both
        order = (fixed, cohort) if repeat % 2 == 0 else (cohort, fixed)  # neither always first
        seconds = {id(p): median_seconds(chunk(p), 1)[0] for p in order}
        fixed_times.append(seconds[id(fixed)])
        ratios.append(seconds[id(cohort)] / seconds[id(fixed)])
    fixed_s = statistics.median(fixed_times)
    ratio = statistics.median(ratios)
    workload = f"two drugs at 1e9, {patients} patients, 4 fields drawn per patient"
    return [
        Row(
            SECTION, workload + ", fixed", "patients per second", patients / fixed_s, "1/s", repeats
        ),
        Row(
            SECTION,
            workload,
            "time per patient, cohort / fixed",
            ratio,
            "",
            repeats,
            judged_by="median ratio of paired chunks (values, rows, kernel, tables), all threads",
            ratio=ratio,
            target=f"<= {1 + TARGET:.2f}",
            met=bool(ratio <= 1 + TARGET),
        ),
    ]


if __name__ == "__main__":
    run_alone(rows, __doc__.splitlines()[0])
