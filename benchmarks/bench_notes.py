"""Benchmark: the release notes of an `idc_index` of about a million series, against the previous
IDC version's.

The sample generator makes IDC versions 2 and 3 (`--scale`); `idc_index` of both is built, then
each is tiled to the target size (copy i suffixes SeriesInstanceUID and crdc_series_uuid with i,
the same on both sides, so the share of series added, revised and removed stays the sample's).
The notes (`compute_notes`, idc_index only) then run in a fresh child process per DuckDB memory
limit, so peak RSS is their own.

    python benchmarks/bench_notes.py [--series 1000000] [--scale 20] [--memory-limit 1GB,256MB]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a sibling script: benchmarks/ is on sys.path when a benchmark runs
from bench_build import peak_rss_mb


def _child(before: str, after: str, memory_limit: str) -> None:
    from idc_index_assets.indices.registry import INDEX_BY_NAME
    from idc_index_assets.releases.notes import compute_notes

    start = time.perf_counter()
    notes = compute_notes(
        Path(after), Path(before), memory_limit=memory_limit, specs=[INDEX_BY_NAME["idc_index"]]
    )
    entry, series = notes["indices"]["idc_index"], notes["idc_index"]
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - start,
                "peak_rss_mb": peak_rss_mb(),
                "rows_before": entry["rows_before"],
                "rows_after": entry["rows_after"],
                "changed": entry["rows_changed"],
                "added": series["series_added"],
                "revised": series["series_revised"],
                "removed": series["series_removed"],
            }
        )
    )


def _tile(source: Path, target: Path, copies: int) -> int:
    """Write `copies` copies of an idc_index with suffixed series identifiers; returns rows."""
    import duckdb
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = pq.read_schema(source).metadata
    with duckdb.connect(config={"memory_limit": "1GB"}) as connection:
        connection.execute(
            f"COPY (SELECT * REPLACE ("
            f"SeriesInstanceUID || '.' || copy AS SeriesInstanceUID, "
            f"crdc_series_uuid || '-' || copy AS crdc_series_uuid) "
            f"FROM read_parquet('{source}'), range({copies}) AS copies(copy)) "
            f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        )
    # The embedded IDC and release versions, as the notes read them.
    table = pq.read_table(target)
    pq.write_table(table.replace_schema_metadata(metadata), target, compression="zstd")
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000_000, help="idc_index rows to reach")
    parser.add_argument("--scale", type=float, default=20, help="sample scale before tiling")
    parser.add_argument("--memory-limit", default="1GB,256MB", help="DuckDB memory limits")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    import pyarrow.parquet as pq

    from idc_index_assets.engines.resource import IndexEngine
    from idc_index_assets.indices.build import build_index
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import INDEX_BY_NAME
    from idc_index_assets.indices.store import ArtifactStore
    from idc_index_assets.sample.generate import generate_sample

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        generate_sample(root / "source", scale=args.scale, versions=3)
        store = ArtifactStore(root=str(root / "artifacts"))
        engine = IndexEngine(source_dir=str(root / "source"), duckdb_memory_limit="1GB")
        spec = INDEX_BY_NAME["idc_index"]
        built = {}
        for version in (2, 3):
            build_index(spec, load_query(spec.name), version, engine=engine, store=store)
            built[version] = store.directory(version) / "idc_index.parquet"
        copies = max(round(args.series / pq.read_metadata(built[3]).num_rows), 1)
        started = time.perf_counter()
        tiled = {v: root / "tiled" / str(v) / "idc_index.parquet" for v in built}
        rows = {v: _tile(built[v], tiled[v], copies) for v in built}
        print(
            f"idc_index v2: {rows[2]} rows, v3: {rows[3]} rows, tiled in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        sizes = {v: tiled[v].stat().st_size / 1e6 for v in tiled}
        lines = [
            "| rows before | rows after | file MB | memory limit | wall s | peak RSS MB "
            "| added | revised | removed | changed |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for limit in args.memory_limit.split(","):
            command = [
                sys.executable,
                __file__,
                "--child",
                str(tiled[2].parent),
                str(tiled[3].parent),
                limit,
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                lines.append(
                    f"| {rows[2]} | {rows[3]} | | {limit} | failed: "
                    f"{done.stderr.strip().splitlines()[-1:]} | | | | | |"
                )
            else:
                r = json.loads(done.stdout.strip().splitlines()[-1])
                lines.append(
                    f"| {r['rows_before']} | {r['rows_after']} | {sizes[3]:.1f} | {limit} | "
                    f"{r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | {r['added']} | "
                    f"{r['revised']} | {r['removed']} | {r['changed']} |"
                )
            print(lines[-1], flush=True)
    report = "\n".join(lines)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_notes.md").write_text(report + "\n")
    print("\n" + report)


if __name__ == "__main__":
    main()
