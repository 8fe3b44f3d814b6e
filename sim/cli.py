"""The ``refractory`` command line: run, check, summarize, report, plot, lessons, explore.

Bad input ends with one paragraph on stderr and exit status 2, never a traceback. This is
the one module that joins the simulator (sim) and the readers of its results (analysis).
"""

import argparse
import contextlib
import os
import sys
from pathlib import Path

from refractory.errors import ClusterError, ScenarioError
from refractory.results import ResultsError

EXIT_BAD_INPUT = 2


def _patient_range(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:STOP (patient indices, stop excluded), e.g. 17:18; got {text!r}"
        ) from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"need 0 <= START < STOP; got {text!r}")
    return start, stop


def _local_cluster(text: str) -> int:
    from refractory.cluster import parse_local

    try:
        return parse_local(text)
    except ValueError as reason:
        raise argparse.ArgumentTypeError(str(reason)) from None


def _figure_file(text: str) -> Path:
    if Path(text).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise argparse.ArgumentTypeError(f"the file must end in .png, .svg or .pdf; got {text!r}")
    return Path(text)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refractory",
        description="Simulate how heterogeneous tumours become refractory to treatment.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a scenario's batch of virtual patients")
    run.add_argument("scenario", type=Path, help="scenario file (TOML)")
    run.add_argument("--patients", type=_positive, help="number of patients (overrides file)")
    run.add_argument("--seed", type=int, help="random seed (overrides file)")
    run.add_argument("--engine", help="simulation engine (overrides file)")
    run.add_argument("--out", type=Path, help="output folder (default results/<name>)")
    run.add_argument(
        "--patient-range",
        type=_patient_range,
        metavar="START:STOP",
        help="run only these patient indices, e.g. 17:18 re-runs patient 17 alone",
    )
    run.add_argument(
        "--chunk-size",
        type=_positive,
        default=None,
        help="patients per chunk written (default 5000; 100000 on the GPU)",
    )
    run.add_argument(
        "--trace",
        type=int,
        default=None,
        metavar="K",
        help="record every clone at every scan for the first K patients (default 20)",
    )
    run.add_argument(
        "--threads",
        type=_positive,
        help="threads (default: all cores; on a cluster, per worker: its share of the cores "
        "with --cluster local:N, all of the worker's with --scheduler)",
    )
    run.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="where the compartment engine runs: cpu (default) or gpu (CUDA, numba-cuda)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--cluster",
        type=_local_cluster,
        metavar="local:N",
        help="run the chunks on a Dask cluster of N worker processes on this machine",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the chunks on the Dask cluster of this scheduler, e.g. tcp://host:8786",
    )

    check = commands.add_parser("check", help="validate a scenario file and summarise it")
    check.add_argument("scenario", type=Path)

    bench = commands.add_parser("bench", help="run the benchmark suite")
    bench.add_argument("--quick", action="store_true", help="smaller workloads (a few minutes)")
    bench.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="folder for bench.json, bench.md and plots (default bench-results)",
    )

    summary = commands.add_parser("summary", help="key numbers of a results folder")
    summary.add_argument("results", type=Path)

    report = commands.add_parser(
        "report", help="write one self-contained HTML report of one or more results folders"
    )
    report.add_argument("results", type=Path, nargs="+", help="results folders (compared)")
    report.add_argument("--out", type=Path, help="HTML file (default: report.html in the first)")

    commands.add_parser("lessons", help="list the lessons (scenarios/lessons/)")
    lesson = commands.add_parser(
        "lesson", help="run a lesson's scenarios and write its report (the path is printed)"
    )
    lesson.add_argument("number", type=int, help="the lesson's number (see refractory lessons)")
    lesson.add_argument("--out", type=Path, help="folder (default results/lessons/NN-name)")
    lesson.add_argument("--patients", type=_positive, help="patients per run (overrides file)")

    explore = commands.add_parser(
        "explore", help="a local web page: change a lesson's or scenario's numbers, see the result"
    )
    explore.add_argument(
        "file",
        type=Path,
        nargs="?",
        help="lesson or scenario file (default: lesson 1)",
    )
    explore.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    explore.add_argument("--no-browser", action="store_true", help="only print the address")

    plot = commands.add_parser("plot", help="draw one figure of a results folder")
    plot.add_argument("results", type=Path)
    plot.add_argument(
        "--figure",
        required=True,
        metavar="NAME",
        help="km, km-lethal, km-progression, waterfall, swimmer, spider, muller or drivers",
    )
    plot.add_argument("--out", type=_figure_file, required=True, help="FILE.png, .svg or .pdf")
    plot.add_argument("--patient", type=int, help="the traced patient of a Muller plot")
    return parser


def _run(args) -> None:
    from refractory.batch import run_batch
    from refractory.limits import warnings
    from refractory.scenario import load_scenario, with_overrides
    from refractory.simulation import DEFAULT_TRACE

    source = str(args.scenario)
    scenario = with_overrides(
        load_scenario(args.scenario), patients=args.patients, seed=args.seed, engine=args.engine
    )
    if not args.quiet:
        for warning in warnings(scenario):
            print(f"warning: {source}: {warning}", file=sys.stderr)
    if args.threads:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    out = args.out or Path("results") / scenario.scenario.name
    with _chunks(args, out) as chunks:
        run_batch(
            scenario,
            out,
            source=source,
            patient_range=args.patient_range,
            chunk_size=args.chunk_size,
            trace=DEFAULT_TRACE if args.trace is None else args.trace,
            progress=None if not args.quiet else False,
            device=args.device,
            chunks=chunks,
        )
    _write_trial_tables(out)
    if not args.quiet:
        _print_summary(out)


def _write_trial_tables(folder: Path) -> None:
    """A run with arms or a sweep also gets arms.parquet and points.parquet (one row per arm
    and per point: cure with its interval, medians, hazard ratios against the first arm)."""
    from refractory.analysis.trials import arms_table, has_arms, has_points, points_table
    from refractory.batch import write_parquet
    from refractory.results import load

    results = load(folder)
    if has_arms(results):
        write_parquet(arms_table(results), folder / "arms.parquet")
    if has_points(results):
        write_parquet(points_table(results), folder / "points.parquet")


@contextlib.contextmanager
def _chunks(args, out: Path):
    """Where the run's chunks are computed: in this process, or on the Dask cluster that
    --cluster starts or --scheduler names (its workers checked first)."""
    from refractory.batch import in_process

    if args.cluster is None and args.scheduler is None:
        yield in_process
        return
    from refractory.cluster import connect, local_threads, on_cluster

    threads = args.threads or (args.cluster and local_threads(args.cluster))
    with connect(args.cluster, args.scheduler, quiet=args.quiet) as client:
        yield on_cluster(client, out, threads)


def _print_summary(folder: Path) -> None:
    from refractory.analysis import format_summary
    from refractory.results import load

    print(format_summary(load(folder)))
    print(f"\nResults written to {folder}/ (each table a parquet dataset, manifest.json)")


def _check(args) -> None:
    from refractory.compile import compile_model
    from refractory.limits import check_memory
    from refractory.scenario import load_scenario
    from refractory.simulation import DEFAULT_CHUNK, DEFAULT_TRACE
    from refractory.summary import describe

    source = str(args.scenario)
    scenario = load_scenario(args.scenario)
    model = compile_model(scenario, source)
    check_memory(model, scenario.scenario.patients, DEFAULT_CHUNK, DEFAULT_TRACE, source)
    print(describe(scenario))
    print(f"\n{args.scenario}: valid.")


def _bench(args) -> None:
    from refractory.benchmarks.suite import run_suite

    print(run_suite(args.quick, args.out))
    print(f"\nWritten to {args.out}/ (bench.json, bench.md, scaling.png)")


def _report(args) -> None:
    from refractory.analysis.report import write_report

    print(write_report(args.results, args.out))


def _lessons(args) -> None:
    from refractory.lessons import lesson_files, parse_header

    for number, path in lesson_files().items():
        title, header = parse_header(path.read_text(encoding="utf-8"))
        print(f"{number:2d}  {title}\n    {header.get('Question', '')}")
    print("\nRun one: refractory lesson N (writes its report and prints the path).")


def _lesson(args) -> None:
    from refractory.analysis.lessons import lesson_report
    from refractory.lessons import find_lesson, run_lesson

    lesson = find_lesson(args.number)
    out = args.out or Path("results") / "lessons" / lesson.path.stem
    folders = run_lesson(lesson, out, args.patients)
    title = f"Lesson {lesson.number}: {lesson.title}"
    print(lesson_report(lesson.slug, title, lesson.header, folders, out / "report.html"))


def _explore(args) -> None:
    from refractory.explore import serve
    from refractory.lessons import lesson_files

    serve(args.file or lesson_files()[1], args.port, open_browser=not args.no_browser)


def _plot(args) -> None:
    from refractory.analysis.figures import draw, save
    from refractory.results import load

    print(save(draw(load(args.results), args.figure, patient=args.patient), args.out))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``refractory`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    handlers = {
        "run": _run,
        "check": _check,
        "bench": _bench,
        "summary": lambda a: _print_summary(a.results),
        "report": _report,
        "plot": _plot,
        "lessons": _lessons,
        "lesson": _lesson,
        "explore": _explore,
    }
    try:
        handlers[args.command](args)
    except (ScenarioError, ResultsError, ClusterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "interrupted: finished chunks are kept; run the same command to resume.",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # the reader of the output stopped early (refractory ... | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
