"""Benchmark: every index of a release of IDC v25's size (the sample generator's `idc-v25` preset:
1.04M series, 58.8M instances in the newest version at scale 1), built the way the assets build
them, one index at a time, each in a fresh child process so that its peak RSS is its own.

    python benchmarks/bench_full.py [--root DIR] [--scale 1] [--sweep 0.125,0.25,0.5,1] [--copy]
                                    [--release] [--indices a,b] [--memory-limit 4GB] [--threads 2]

- release (always): generates `<root>/scale-<S>/source` with `idc-index-assets sample --preset
  idc-v25 --scale S` unless it is there, then builds every index (or `--indices`) of its newest
  version: wall seconds, peak RSS, peak spill (DuckDB's temporary files), output bytes, rows, and
  instance rows per second.
- `--sweep`: idc_index and prior_versions_index at each scale (sources generated as above), to
  see how time and memory grow with instances.
- `--copy`: idc_index through the project's streaming writer vs DuckDB's own
  `COPY (same SQL) TO 'x.parquet'`, same memory limit and threads; their ratio.
- `--release`: after the indices, what follows them at that size, each step in a child: the
  blocking checks of every released index (contract, integrity, primary key: what `verify`
  runs), the wheel (built, then installed into a scratch venv and compared with the artifacts, as
  the wheel's blocking check does), the release notes of the build against itself (every row of
  every index compared) and the release published to a local bucket directory.

Memory limit and threads default to the engine's defaults (settings.duckdb_memory_limit,
settings.duckdb_threads). Tables go to stdout and `benchmarks/results/bench_full.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = 3
GIB = 1 << 30


def _machine() -> str:
    from idc_index_assets.settings import machine_cores, machine_memory

    return f"{machine_cores()} cores, {machine_memory() / GIB:.1f} GiB, {platform.platform()}"


def _tree_bytes(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(directory, name)).st_size
    return total


def _measure(command: list[str], *, tmp: Path, env: dict[str, str] | None = None) -> dict:
    """Run `command` (a child printing its results as a JSON line last); wall seconds, peak RSS
    (of its largest process) and the peak size of its temporary directory (where DuckDB spills)."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    peak_spill = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak_spill
        while not done.wait(0.25):
            peak_spill = max(peak_spill, _tree_bytes(tmp))

    watcher = threading.Thread(target=watch, daemon=True)
    start = time.perf_counter()
    # stderr in the parent's temporary directory, not the child's (whose size is the spill)
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, **(env or {}), "TMPDIR": str(tmp)},
            text=True,
        )
        watcher.start()
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        errors.seek(0)
        err = errors.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    shutil.rmtree(tmp, ignore_errors=True)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    result = json.loads(last) if last.startswith("{") else {}
    if child.returncode:  # reported in the table, so one failing index does not stop the others
        lines = err.strip().splitlines()
        result["failed"] = lines[-1] if lines else f"exit status {child.returncode}"
    return {
        **result,
        "seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "spill_mb": peak_spill / 1e6,
    }


# --- what the child processes run ----------------------------------------------------------------

RELEASE_STEPS = ("checks", "wheel", "notes", "release")


def _child_release_step(step: str, artifacts: str, version: str, memory_limit: str) -> dict:
    """One step after the build, over the artifacts of `version` under `artifacts`."""
    from idc_index_assets.indices.registry import RELEASED_INDICES
    from idc_index_assets.indices.store import ArtifactStore
    from idc_index_assets.releases.assets import PACKAGED_INDICES, blocking_failures, package_wheel

    store = ArtifactStore(root=artifacts)
    idc_version = int(version)
    directory = store.directory(idc_version)
    release_version = store.release_version_for(idc_version)
    start = time.perf_counter()
    result: dict = {}
    if step == "checks":
        failures = blocking_failures(directory, idc_version, release_version, RELEASED_INDICES)
        result = {"rows": len(RELEASED_INDICES), "problems": len(failures)}
    elif step == "wheel":
        from idc_index_assets.releases.checks import wheel_problems

        wheel = package_wheel(store, idc_version)
        problems = wheel_problems(wheel, directory, release_version, PACKAGED_INDICES)
        result = {"bytes": wheel.stat().st_size, "problems": len(problems)}
    elif step == "notes":
        from idc_index_assets.releases.notes import compute_notes
        from idc_index_assets.settings import duckdb_memory_limit

        notes = compute_notes(directory, directory, memory_limit=duckdb_memory_limit(memory_limit))
        entries = notes["indices"].values()
        result = {
            "rows": sum(entry.get("rows_after", 0) for entry in entries),
            "problems": sum(entry.get("status") != "unchanged" for entry in entries),
        }
    elif step == "release":
        from idc_index_assets.releases.publish import open_bucket, publish_release

        bucket = Path(artifacts).parent / "release"
        shutil.rmtree(bucket, ignore_errors=True)
        names = [spec.name for spec in RELEASED_INDICES]
        report = publish_release(
            directory, open_bucket(str(bucket)), release_version, idc_version, indices=names
        )
        result = {"bytes": report.bytes_uploaded + report.bytes_copied}
    return {"work_seconds": time.perf_counter() - start, **result}


def _child_build(source: str, artifacts: str, name: str, memory_limit: str, threads: str) -> dict:
    from idc_index_assets.engines.resource import IndexEngine
    from idc_index_assets.indices.build import build_index
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import INDEX_BY_NAME
    from idc_index_assets.indices.store import ArtifactStore

    engine = IndexEngine(
        source_dir=source, duckdb_memory_limit=memory_limit, duckdb_threads=threads
    )
    store = ArtifactStore(root=artifacts)
    version = max(engine.available_versions())
    start = time.perf_counter()
    if name == "gdc_idc_mapping":
        from idc_index_assets.gdc.cases import SnapshotCases
        from idc_index_assets.gdc.mapping import build_gdc_mapping

        cases = SnapshotCases(Path(source) / "gdc" / "cases.json")
        result = build_gdc_mapping(
            load_query("gdc_idc_studies"), version, engine=engine, cases=cases, store=store
        )
    else:
        result = build_index(
            INDEX_BY_NAME[name], load_query(name), version, engine=engine, store=store
        )
    return {
        "work_seconds": time.perf_counter() - start,
        "rows": result.written.rows,
        "bytes": result.written.bytes,
        "memory_limit": result.engine_metadata.get("duckdb_memory_limit"),
        "threads": result.engine_metadata.get("duckdb_threads"),
    }


def _child_copy(source: str, out: str, memory_limit: str, threads: str) -> dict:
    """DuckDB's own COPY of idc_index's SQL (transpiled as the engine does) to zstd Parquet."""
    import duckdb

    from idc_index_assets.engines.duckdb import DuckDBEngine
    from idc_index_assets.engines.semantics import transpile_to_duckdb
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.settings import duckdb_memory_limit, duckdb_threads

    engine = DuckDBEngine(Path(source))
    version = max(
        int(p.name[len("idc_v") :])
        for p in (Path(source) / "bigquery-public-data").glob("idc_v*")
        if p.name[len("idc_v") :].isdigit()
    )
    query = load_query("idc_index")
    duck_sql = transpile_to_duckdb(query.render(version), engine.resolver({}, "idc_index.sql"))
    spill = Path(os.environ["TMPDIR"]) / "duckdb"
    connection = duckdb.connect(
        config={
            "memory_limit": duckdb_memory_limit(memory_limit),
            "threads": duckdb_threads(threads),
            "temp_directory": str(spill),
        }
    )
    target = Path(out) / "idc_index.copy.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    connection.execute(f"COPY ({duck_sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    rows = connection.sql(f"SELECT count(*) FROM '{target}'").fetchall()[0][0]
    return {
        "work_seconds": time.perf_counter() - start,
        "rows": rows,
        "bytes": target.stat().st_size,
    }


# --- the parent ----------------------------------------------------------------------------------


def _source(root: Path, scale: float) -> tuple[Path, dict | None]:
    """The idc-v25 sample at `scale` under root, generated (and measured) if missing."""
    source = root / f"scale-{scale:g}" / "source"
    if (source / "gdc" / "cases.json").exists():
        return source, None
    shutil.rmtree(source, ignore_errors=True)
    command = [
        str(Path(sys.executable).with_name("idc-index-assets")),
        "sample",
        "--preset",
        "idc-v25",
        "--scale",
        f"{scale:g}",
        "--versions",
        str(VERSIONS),
        "--out",
        str(source),
    ]
    print(f"generating {source} ...", flush=True)
    measured = _measure(command, tmp=root / "tmp")
    measured["bytes"] = _tree_bytes(source)
    return source, measured


def _instances(source: Path) -> int:
    import pyarrow.parquet as pq

    newest = max(
        (p for p in (source / "bigquery-public-data").glob("idc_v*") if p.name[5:].isdigit()),
        key=lambda p: int(p.name[5:]),
    )
    return pq.ParquetFile(newest / "dicom_all.parquet").metadata.num_rows


def _build(root: Path, source: Path, name: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "_build",
        str(source),
        str(source.parent / "artifacts"),
        name,
        args.memory_limit,
        args.threads,
    ]
    return _measure(command, tmp=root / "tmp")


def _row(label: str, instances: int, m: dict) -> str:
    if "failed" in m:
        return (
            f"| {label} | failed after {m['seconds']:.0f} s (peak RSS {m['peak_rss_mb']:.0f} MB): "
            f"{m['failed'][:200]} |"
        )
    work = m.get("work_seconds", m["seconds"])
    rate = instances / work if work else 0
    return (
        f"| {label} | {m.get('rows', '')} | {m['seconds']:.1f} | {work:.1f} | "
        f"{m['cpu_seconds']:.0f} | "
        f"{m['peak_rss_mb']:.0f} | {m['spill_mb']:.0f} | {m.get('bytes', 0) / 1e6:.1f} | "
        f"{rate / 1e6:.2f} |"
    )


# wall s: the child process, Python imports included; work s: the query and the writing only;
# CPU s: user and system time of the child (what the work costs on a machine shared with others).
HEADER = (
    "| what | rows | wall s | work s | CPU s | peak RSS MB | peak spill MB | output MB | "
    "M instance rows/s |\n|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("data/bench-full"))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--indices", default="", help="comma-separated (default: every index)")
    parser.add_argument("--sweep", default="", help="scales for idc_index, prior_versions_index")
    parser.add_argument("--copy", action="store_true", help="streaming writer vs DuckDB COPY")
    parser.add_argument(
        "--release", action="store_true", help="then checks, wheel, notes and release at size"
    )
    parser.add_argument(
        "--memory-limit", default="", help="DuckDB memory limit (default: engine's)"
    )
    parser.add_argument("--threads", default="", help="DuckDB threads (default: engine's)")
    args = parser.parse_args()
    from idc_index_assets.indices.registry import INDICES
    from idc_index_assets.settings import duckdb_memory_limit, duckdb_threads

    names = [n for n in args.indices.split(",") if n] or [s.name for s in INDICES] + [
        "gdc_idc_mapping"
    ]
    lines = [
        f"# bench_full ({time.strftime('%Y-%m-%d')}; {_machine()}; DuckDB memory limit "
        f"{duckdb_memory_limit(args.memory_limit)}, {duckdb_threads(args.threads)} threads)",
        "",
    ]

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    source, generated = _source(args.root, args.scale)
    instances = _instances(source)
    emit(f"## every index, idc-v25 at scale {args.scale:g} ({instances:,} instances)\n")
    emit(HEADER)
    if generated:
        emit(_row(f"generate {VERSIONS} versions", instances, generated))
    wall = work = 0.0
    for name in names:
        measured = _build(args.root, source, name, args)
        wall += measured["seconds"]
        work += measured.get("work_seconds", measured["seconds"])
        emit(_row(name, instances, measured))
    emit(f"\nevery index, one after another: {wall:.0f} s wall, {work:.0f} s work\n")

    if args.release:
        artifacts = source.parent / "artifacts"
        version = max(int(p.name) for p in artifacts.iterdir() if p.name.isdigit())
        emit(f"## after the build: checks, wheel, notes, release ({instances:,} instances)\n")
        emit(HEADER)
        for step in RELEASE_STEPS:
            command = [sys.executable, __file__, "_step", step, str(artifacts), str(version)]
            measured = _measure([*command, args.memory_limit], tmp=args.root / "tmp")
            emit(_row(f"{step} ({measured.get('problems', 0)} problems)", instances, measured))

    if args.copy:
        streamed = _build(args.root, source, "idc_index", args)
        copied = _measure(
            [
                sys.executable,
                __file__,
                "_copy",
                str(source),
                str(source.parent / "copy"),
                args.memory_limit,
                args.threads,
            ],
            tmp=args.root / "tmp",
        )
        emit(f"## idc_index: streaming writer vs DuckDB COPY ({instances:,} instances)\n")
        emit(HEADER)
        emit(_row("streaming writer (build_index)", instances, streamed))
        emit(_row("DuckDB COPY ... TO parquet", instances, copied))
        ratio = streamed.get("work_seconds", 0) / copied.get("work_seconds", 1)
        emit(f"\nwork time ratio streaming / COPY: {ratio:.2f}\n")

    if args.sweep:
        emit("## size sweep: idc_index and prior_versions_index\n")
        emit(HEADER.replace("| what |", "| scale, index |"))
        for scale in (float(s) for s in args.sweep.split(",")):
            swept, generated = _source(args.root, scale)
            count = _instances(swept)
            if generated:
                emit(_row(f"{scale:g} generate ({count:,} instances)", count, generated))
            for name in ("idc_index", "prior_versions_index"):
                emit(_row(f"{scale:g} {name}", count, _build(args.root, swept, name, args)))

    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_full.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        print(json.dumps(_child_build(*sys.argv[2:7])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_step":
        print(json.dumps(_child_release_step(*sys.argv[2:6])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_copy":
        print(json.dumps(_child_copy(*sys.argv[2:6])))
    else:
        main()
