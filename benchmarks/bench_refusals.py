"""Benchmark: how long the command line takes to refuse a mistake (wall seconds, a fresh process
each time, as a user types it).

Each case runs `idc-index-assets` from this virtual environment `--repeat` times against a
sample source snapshot (generated into a temporary directory unless `--source` names one) and
prints the median and the slowest wall time, the exit status (2 expected) and the first line of
the message. The wrong-directory case runs in an empty temporary directory with neither
IDC_SOURCE_DIR nor DAGSTER_HOME set, and reports whether it left a `.dagster_home` there.

    python benchmarks/bench_refusals.py [--repeat 5] [--source data/source] [--command PATH]

`--command` times another installation's `idc-index-assets` (e.g. a checkout of an older commit),
for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("idc-index-assets"))
CASES = [
    ("build --idc-version 7", ["build", "--idc-version", "7"], {}),
    ("release --version 4.0.0", ["release", "--version", "4.0.0"], {}),
    ("notes --idc-version 9", ["notes", "--idc-version", "9"], {}),
    ("IDC_ENGINE=bigqurey build", ["build"], {"IDC_ENGINE": "bigqurey"}),
    ("build --idc-verison 3", ["build", "--idc-verison", "3"], {}),
]


def _time(command: str, arguments: list[str], cwd: Path, env: dict) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([command, *arguments], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    return wall, done.returncode, (lines or [""])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source", type=Path, help="a source snapshot (default: a new sample)")
    parser.add_argument("--command", default=COMMAND, help="the idc-index-assets to time")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IDC_", "DAGSTER"))}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        source = args.source
        if source is None:
            source = scratch / "source"
            subprocess.run(
                [COMMAND, "sample", "--out", str(source)],
                check=True,
                env=base,
                stdout=subprocess.DEVNULL,
            )
        configured = {
            **base,
            "IDC_SOURCE_DIR": str(source.resolve()),
            "DAGSTER_HOME": str(scratch / "home"),
            "IDC_ARTIFACTS_DIR": str(scratch / "artifacts"),
        }
        wrong = scratch / "elsewhere"
        wrong.mkdir()
        runs = [
            (name, arguments, {**configured, **extra}, scratch) for name, arguments, extra in CASES
        ]
        runs.append(("build, from the wrong directory", ["build"], base, wrong))
        print("| case | median s | max s | exit | message |\n|---|---:|---:|---:|---|")
        for name, arguments, env, cwd in runs:
            results = [_time(args.command, arguments, cwd, env) for _ in range(args.repeat)]
            walls = [wall for wall, _, _ in results]
            _, code, message = results[-1]
            print(
                f"| {name} | {statistics.median(walls):.2f} | {max(walls):.2f} | {code} | "
                f"{message[:90]} |"
            )
        written = sorted(p.name for p in (*scratch.iterdir(), *wrong.iterdir()))
        print(f"\nleft behind in the scratch and wrong directories: {written}")


if __name__ == "__main__":
    main()
