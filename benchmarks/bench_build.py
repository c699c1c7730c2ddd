"""Benchmark: build idc_index from generated snapshots of increasing size, streaming vs naive, and
into a local artifact store vs a GCS one.

Streaming is the project's path (DuckDB → Arrow record batches → ParquetWriter hashing as it
writes). Naive is the common script: the whole result into pandas, `to_parquet`, read back and
rewritten to add the provenance metadata, and the whole file read into memory to hash it. With
`--gcs`, the streaming path also writes into a `gs://` artifact store on a fake-gcs-server on
loopback (resumable upload, staging, validation by ranged reads, server-side copies into place).
Each measurement runs in a fresh child process, so peak RSS is that path's own.

    python benchmarks/bench_build.py [--rows 250000,1000000,2000000,4000000] [--memory-limit 1GB] [--gcs]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _streaming(source: Path, out: Path, memory_limit: str, store: str = "") -> dict:
    """What `build_index` does inside the asset, without the Dagster resource around the engine,
    into `out` or into the artifact store `store` (a gs:// URL)."""
    from idc_index_assets.engines.duckdb import DuckDBEngine
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import INDEX_BY_NAME
    from idc_index_assets.indices.store import open_location
    from idc_index_assets.indices.writer import write_index

    query = load_query("idc_index")
    sql = query.render(1)
    engine = DuckDBEngine(source, memory_limit=memory_limit, temp_directory=out / "spill")
    with engine.run(sql, query_file=str(query.path)) as run:
        written = write_index(
            open_location(store or out),
            contract=INDEX_BY_NAME["idc_index"].contract,
            batches=run.batches,
            table_description=query.table_description,
            column_docs=query.columns,
            sql=sql,
            release_version="1.0.0",
            idc_version=1,
        )
    return {"rows": written.rows, "bytes": written.bytes}


def _naive(source: Path, out: Path, memory_limit: str) -> dict:
    import duckdb
    import pyarrow.parquet as pq

    from idc_index_assets.engines.duckdb import DuckDBEngine
    from idc_index_assets.engines.semantics import transpile_to_duckdb
    from idc_index_assets.indices.queries import load_query

    sql = load_query("idc_index").render(1)
    engine = DuckDBEngine(source)
    duck_sql = transpile_to_duckdb(sql, engine.resolver({}, "idc_index.sql"))
    spill = out / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill)})
    frame = connection.sql(duck_sql).df()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "idc_index.parquet"
    frame.to_parquet(path, compression="zstd", index=False)
    table = pq.read_table(path)
    table = table.replace_schema_metadata({"idc_index_data_version": "1.0.0", "idc_version": "1"})
    pq.write_table(table, path, compression="zstd")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "idc_index.parquet.sha256").write_text(f"{digest}  idc_index.parquet\n")
    return {"rows": len(frame), "bytes": path.stat().st_size}


def _child(mode: str, source: str, out: str, memory_limit: str) -> None:
    # Every path's libraries are imported before the clock starts: only the build is timed.
    import duckdb  # noqa: F401
    import pandas  # noqa: F401

    import idc_index_assets.engines.duckdb
    import idc_index_assets.indices.writer  # noqa: F401

    start = time.perf_counter()
    if mode.startswith("gs://"):  # streaming into a GCS store
        result = _streaming(Path(source), Path(out), memory_limit, store=mode)
    else:
        result = {"streaming": _streaming, "naive": _naive}[mode](
            Path(source), Path(out), memory_limit
        )
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Unlike getrusage's ru_maxrss, it starts afresh at
    exec, so it does not include the parent's memory at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(mode: str, source: Path, out: Path, memory_limit: str) -> dict:
    command = [sys.executable, __file__, "--child", mode, str(source), str(out), memory_limit]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _gcs_store(root: Path):
    """A fake-gcs-server on loopback (STORAGE_EMULATOR_HOST, inherited by the children) with a
    bucket; yields the store's gs:// URL."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from tests.servers.gcs_server import fake_gcs_server

    root.mkdir()
    with fake_gcs_server(root) as server:
        os.environ["STORAGE_EMULATOR_HOST"] = server.url
        client = storage.Client(project="bench", credentials=AnonymousCredentials())
        client.create_bucket("bench-artifacts")
        yield "gs://bench-artifacts/idc"


def _instances(source: Path) -> int:
    import pyarrow.parquet as pq

    path = source / "bigquery-public-data" / "idc_v1" / "dicom_all.parquet"
    return pq.ParquetFile(path).metadata.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="250000,1000000,2000000,4000000")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit (spills beyond)")
    parser.add_argument(
        "--gcs", action="store_true", help="also build into a gs:// store on a fake-gcs-server"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    from idc_index_assets.sample.generate import generate_sample

    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        modes = ["streaming", "naive"]
        if args.gcs:
            modes.insert(1, stack.enter_context(_gcs_store(Path(scratch) / "gcs")))
        probe = Path(scratch) / "probe"
        generate_sample(probe, scale=1.0, versions=1)
        rows_per_scale = _instances(probe)
        lines = [
            "| instance rows | path | wall s | instance rows/s | series | output MB | peak RSS MB |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for target in (int(r) for r in args.rows.split(",")):
            source = Path(scratch) / f"source-{target}"
            started = time.perf_counter()
            generate_sample(source, scale=target / rows_per_scale, versions=1)
            generated = time.perf_counter() - started
            instances = _instances(source)
            print(f"snapshot: {instances} instance rows generated in {generated:.1f} s", flush=True)
            for number, mode in enumerate(modes):
                label = "streaming into gs://" if mode.startswith("gs://") else mode
                result = _measure(
                    mode, source, Path(scratch) / f"out-{number}-{target}", args.memory_limit
                )
                if "error" in result:
                    lines.append(f"| {instances} | {label} | failed: {result['error']} | | | | |")
                else:
                    lines.append(
                        f"| {instances} | {label} | {result['seconds']:.2f} | "
                        f"{instances / result['seconds']:,.0f} | {result['rows']} | "
                        f"{result['bytes'] / 1e6:.1f} | "
                        f"{result['peak_rss_mb']:.0f} |"
                    )
                print(lines[-1], flush=True)
            shutil.rmtree(source)
    report = "\n".join(lines)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_build.md").write_text(report + "\n")
    print("\n" + report)


if __name__ == "__main__":
    main()
