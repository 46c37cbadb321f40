"""Benchmark: how long building the wheel takes, isolated (the PEP 517 default) vs --no-isolation.

Both build the same generated project (the MIT two-moons library) with `python -m build --wheel`
in a subprocess, exactly as the lab does (`labs.wheel_packaging.building.run_build`):

* **isolated**: `build` makes a fresh virtual environment and pip-installs setuptools into it
  from PyPI (or pip's cache) before calling the backend. Needs the network.
* **--no-isolation**: the backend already installed in this interpreter is called directly.

Each mode runs `--repeat` times on a fresh copy of the project; the median is reported, with the
ratio isolated / no-isolation. Two more figures from the same run put them in context: the
sourceless (bytecode) and native (C library) builds, and a fresh venv made with pip inside
(`ensurepip`) vs the lab's `--without-pip` + `pip --python`.

Run:  .venv/bin/python benchmarks/wheel_packaging.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from labs.wheel_packaging import building, naming, project, sourceless, tinymodels  # noqa: E402


def time_builds(proj: project.Project, work: Path, *, isolated: bool, repeat: int) -> list[float]:
    """Seconds of `repeat` wheel builds, each on a fresh copy of the project."""
    times = []
    for i in range(repeat):
        root = project.write_project(proj, work / f"{'iso' if isolated else 'noiso'}-{i}" / "project")
        result = building.run_build(root, root.parent / "dist", isolated=isolated, sdist=False)
        times.append(result.seconds)
    return times


def time_venvs(work: Path, repeat: int) -> tuple[float, float]:
    """Median seconds to make a venv with pip (ensurepip) and without it."""
    with_pip, without = [], []
    for i in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(work / f"with-{i}")], check=True)
        with_pip.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / f"without-{i}")], check=True)
        without.append(time.perf_counter() - t)
    return statistics.median(with_pip), statistics.median(without)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="builds per mode (default 3)")
    args = parser.parse_args()

    spec = naming.validate_spec("tiny-moons", "0.1.0", "MIT", "Benchmark", "moons")
    proj = project.render_project(spec, tinymodels.train("moons"))
    with tempfile.TemporaryDirectory(prefix="wheel_bench_") as tmp:
        work = Path(tmp)
        no_iso = time_builds(proj, work, isolated=False, repeat=args.repeat)
        print(f"--no-isolation wheel build: median {statistics.median(no_iso):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in no_iso)})")
        try:
            iso = time_builds(proj, work, isolated=True, repeat=args.repeat)
        except (building.BuildError, OSError) as exc:
            print(f"isolated wheel build: skipped, it failed (no network to PyPI?): {str(exc)[:300]}")
            iso = []
        if iso:
            print(f"isolated wheel build:       median {statistics.median(iso):.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in iso)})")
            print(f"ratio isolated / --no-isolation: {statistics.median(iso) / statistics.median(no_iso):.1f}x")

        for flavour in ("bytecode", "native"):
            if flavour == "native" and sourceless.compiler() is None:
                print("native wheel build: skipped, no C compiler")
                continue
            t = [sourceless.build_flavour(proj, flavour, work / f"{flavour}-{i}", isolated=False).build.seconds
                 for i in range(args.repeat)]
            print(f"{flavour} wheel build (--no-isolation): median {statistics.median(t):.2f} s, "
                  f"{statistics.median(t) / statistics.median(no_iso):.2f}x the pure build")

        with_pip, without = time_venvs(work, args.repeat)
        print(f"fresh venv with pip (ensurepip): median {with_pip:.2f} s; --without-pip: {without:.2f} s "
              f"({with_pip / without:.0f}x faster without)")


if __name__ == "__main__":
    main()
