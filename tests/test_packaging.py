"""The built wheel installs one top-level package, refractory, with its scenario files."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the copy of the checkout that the wheel is built from leaves out.
IGNORED = (".git", ".venv", "build", "results", "bench-results", "*.egg-info", "__pycache__")

CHECK = """
import importlib, pkgutil, sys
import refractory
assert refractory.__file__.startswith(sys.prefix), refractory.__file__
for name in ("sim", "kernels", "analysis", "benchmarks"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        continue
    raise SystemExit(f"top-level {name} is importable")
modules = [m.name for m in pkgutil.walk_packages(refractory.__path__, "refractory.")]
for name in modules:
    importlib.import_module(name)
from refractory.bundled import scenarios_folder
lessons = sorted(p.name for p in (scenarios_folder() / "lessons").glob("*.toml"))
print(len(modules), len(lessons))
"""


def _run(args: list, **options) -> str:
    """Run a command; its stdout, or a failure showing its stderr."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **options)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_wheel_installs_only_refractory(tmp_path):
    # Built from a copy, so that setuptools' build/ folder is not left in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*IGNORED))
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            dist,
            source,
        ]
    )
    wheel = next(dist.glob("refractory-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel])
    # The dependencies come from this environment; its .pth files (the editable install's
    # finder among them) are not processed from a folder added this way.
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    out = _run([python, "-I", "-c", CHECK], cwd=tmp_path)
    modules, lessons = map(int, out.split())
    assert modules >= 30
    assert lessons == len(list((ROOT / "scenarios" / "lessons").glob("*.toml")))
