"""Run the benchmark suite: a table, bench.json and plots in one output folder."""

import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from refractory.benchmarks import (  # noqa: E402
    agent,
    cluster,
    cohort,
    compartment,
    gpu,
    growing,
    pipeline,
    reference,
    startup,
)
from refractory.benchmarks.measure import machine  # noqa: E402


def markdown(rows, info: dict) -> str:
    """The table printed and written to bench.md."""
    head = (
        f"{info['cpu']}, {info['cores']} cores ({info['numba_threads']} numba threads), "
        f"numba {info['numba']}, numpy {info['numpy']}, Python {info['python']}\n\n"
        "| section | workload | figure | value | repeats | judged by | target | met |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        value = f"{r.value:,.3g}" if abs(r.value) < 1000 else f"{r.value:,.0f}"
        met = "" if r.met is None else ("yes" if r.met else "NO")
        lines.append(
            f"| {r.section} | {r.workload} | {r.figure} | {value} {r.unit} | {r.repeats} | "
            f"{r.judged_by} | {r.target} | {met} |"
        )
    return "\n".join(lines)


def plot_scaling(curves: dict, out: Path) -> Path:
    """Three panels: cost against tumour size, live clones and patients (log-log)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = [
        ("size", "tumour size (cells)", "seconds per patient"),
        ("clones", "live clones", "ns per clone-step"),
        ("patients", "patients per batch", "seconds per patient"),
    ]
    for ax, (key, xlabel, ylabel) in zip(axes, panels, strict=True):
        x, y = zip(*curves[key], strict=True)
        ax.plot(x, y, "o-")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("compartment engine: cost vs size")
    axes[1].set_title("cost per clone-step vs clones")
    axes[2].set_title("cost per patient vs batch size")
    path = out / "scaling.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_suite(quick: bool, out: Path) -> str:
    """Run every benchmark, write bench.json, bench.md and plots to ``out``; return the table."""
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    rows = compartment.two_drug_throughput(quick)
    kernel_ns = next(r.value for r in rows if r.figure == "ns per clone-step")
    rows += compartment.draw_bound(quick, kernel_ns)
    scaling_rows, curves = compartment.scaling(quick)
    rows += scaling_rows
    rows += agent.rows(quick)
    rows += growing.rows(quick)
    rows += reference.rows(quick)
    rows += startup.compile_times(compartment.TWO_DRUGS)
    rows += startup.batch_throughput(quick)
    rows += pipeline.rows(quick)
    rows += cohort.rows(quick)
    rows += gpu.rows(quick)
    rows += cluster.rows(quick)
    plot_scaling(curves, out)
    table = markdown(rows, info)
    (out / "bench.md").write_text(table + "\n")
    (out / "bench.json").write_text(
        json.dumps(
            {
                "machine": info,
                "quick": quick,
                "rows": [r.as_dict() for r in rows],
                "curves": curves,
            },
            indent=2,
            default=_plain,
        )
        + "\n"
    )
    return table


def _plain(value: object) -> object:
    """JSON form of the numpy scalars that figures and judgements come out as."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to bench.json")
