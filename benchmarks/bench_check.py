"""Throughput of `kmigrate check` against the cost of parsing alone.

    python benchmarks/bench_check.py [DIR] [--jobs N] [--repeat K]

DIR defaults to the installed ``tf_keras`` package source (large, full of Keras 2 idioms).
Prints files, lines, and lines/s for
  (a) libcst.parse_module alone, one core, in this process;
  (b) `kmigrate check` cold (empty cache), a fresh process, all cores;
  (c) `kmigrate check` warm (cache filled by b), a fresh process too;
and the ratios b/a and c/a. Times are wall-clock medians over --repeat runs. A warm run must
print exactly what the cold run printed, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmigrate.discovery import Discovery  # noqa: E402
from kmigrate.sources import read_source  # noqa: E402


def default_dir() -> Path:
    spec = importlib.util.find_spec("tf_keras")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("tf_keras is not installed; pass a directory (pip install '.[verify]')")
    return Path(list(spec.submodule_search_locations)[0])


def parse_only(files: list[Path]) -> tuple[float, int, int]:
    lines = parsed = 0
    start = time.perf_counter()
    for path in files:
        src = read_source(path)
        if hasattr(src, "text") and path.suffix == ".py":
            lines += src.text.count("\n") + 1
            try:
                cst.parse_module(src.text)
                parsed += 1
            except Exception:  # noqa: BLE001 - the benchmark counts what parses
                pass
    return time.perf_counter() - start, lines, parsed


def run_check(directory: Path, cwd: Path, jobs: int | None) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "kmigrate", "check", str(directory), "--format", "json", "--exit-zero"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        sys.exit(f"kmigrate check failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", nargs="?", type=Path)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    directory = (args.directory or default_dir()).resolve()
    files = [p for p in Discovery(respect_gitignore=False).walk([directory]) if p.suffix == ".py"]

    parse_times = []
    for _ in range(args.repeat):
        t, lines, parsed = parse_only(files)
        parse_times.append(t)
    cold_times, warm_times = [], []
    for _ in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="kmigrate-bench-"))
        try:
            cold, cold_out = run_check(directory, work, args.jobs)
            warm, warm_out = run_check(directory, work, args.jobs)
            if warm_out != cold_out:
                sys.exit("the warm run printed something else than the cold run")
            cold_times.append(cold)
            warm_times.append(warm)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    a, b, c = (statistics.median(x) for x in (parse_times, cold_times, warm_times))
    rate = lambda t: lines / t  # noqa: E731
    print(f"directory: {directory}")
    print(f"machine:   {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"files:     {len(files)} ({parsed} parse), lines: {lines}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note:      PYTHONDONTWRITEBYTECODE is set: each run compiles kmigrate's modules anew")
    print(f"(a) parse only, 1 core : {a:7.2f} s  {rate(a):10.0f} lines/s")
    print(f"(b) check, cold        : {b:7.2f} s  {rate(b):10.0f} lines/s   b/a = {rate(b) / rate(a):.2f}x")
    print(f"(c) check, warm cache  : {c:7.2f} s  {rate(c):10.0f} lines/s   c/a = {rate(c) / rate(a):.2f}x")


if __name__ == "__main__":
    main()
