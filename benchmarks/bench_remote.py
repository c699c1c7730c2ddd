"""Benchmark: reading the published indices in place over HTTP, the way researchers do.

Each file is served on loopback by a small HTTP server that honours `Range` (as GCS does) and
counts the requests and bytes it sends; each query runs in a fresh DuckDB connection (httpfs) or
through pandas (pyarrow over fsspec's HTTP filesystem, `pandas.read_parquet(url, filters=...)`),
so nothing is cached between queries. Per query: requests, MB sent, wall seconds.

    python benchmarks/bench_remote.py --ours DIR [--published WHEEL_OR_DIR] [--relayout]
                                      [--indices idc_index,prior_versions_index] [--repeat 1]

- `--ours`: a directory of index parquet files (an artifact version directory).
- `--published`: the idc-index-data wheel (or a directory of its parquet files) to compare with;
  default: `pip download idc-index-data==25.0.5` into `benchmarks/results/`.
- `--relayout`: also the published files' real rows laid out by the project's writer (sorted by
  the index's ORDER BY key, written with `idc_index_assets.indices.writer`'s Parquet settings).

Queries (those whose columns an index has): the whole file (DuckDB `SELECT *`,
`pandas.read_parquet`); one collection (the one nearest 1% of the rows); one patient; one study;
one series by SeriesInstanceUID; the series of one modality (3 columns); a count per collection;
and the `idc-index` client's start-up read (`IDCClient()`: the whole of idc_index and of
prior_versions_index with pandas). Keys are picked from each file itself (not counted).

It needs a Python with the readers: `duckdb` with its `httpfs` extension (offline:
`pip install duckdb==1.5.5 duckdb-extension-httpfs==1.5.5`), `pyarrow`, `pandas`, `fsspec`,
`aiohttp`. pandas runs twice: with fsspec's defaults (a 5 MB read-ahead past every read) and with
`storage_options={"cache_type": "none"}` ("no read-ahead"). Tables go to stdout and `benchmarks/results/bench_remote.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the writer's settings (pyarrow only)
PUBLISHED = "idc-index-data==25.0.5"
MB = 1e6
# The published indices' row order as the project's queries declare it (queries/*.sql).
SORT_KEYS = {
    "idc_index": ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID"),
    "prior_versions_index": (
        "collection_id",
        "min_idc_version",
        "Modality",
        "SeriesInstanceUID",
        "crdc_series_uuid",
        "gcs_bucket",
    ),
}


# --- the server ----------------------------------------------------------------------------------


@dataclass
class Counter:
    requests: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += sent

    def reset(self) -> None:
        with self.lock:
            self.requests = self.bytes = 0


def serve(root: Path, counter: Counter) -> ThreadingHTTPServer:
    """Files under root over HTTP/1.1 with single-range `Range` support, on a free loopback port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def handle(self) -> None:
            with contextlib.suppress(ConnectionError):
                super().handle()

        def _target(self) -> Path | None:
            path = (root / self.path.split("?")[0].lstrip("/")).resolve()
            return path if path.is_file() and root in path.parents else None

        def do_HEAD(self) -> None:
            self._respond(body=False)

        def do_GET(self) -> None:
            self._respond(body=True)

        def _respond(self, body: bool) -> None:
            path = self._target()
            if path is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                counter.add(0)
                return
            size = path.stat().st_size
            start, end, status = 0, size - 1, 200
            spec = self.headers.get("Range")
            if spec and spec.startswith("bytes="):
                first, _, last = spec[6:].split(",")[0].partition("-")
                if first:
                    start, end = int(first), min(int(last) if last else size - 1, size - 1)
                else:  # a suffix: the last N bytes
                    start = max(size - int(last), 0)
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/vnd.apache.parquet")
            self.send_header("Content-Length", str(length))
            self.send_header("ETag", f'"{int(path.stat().st_mtime_ns)}-{size}"')
            self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            sent = 0
            if body:  # a reader may stop reading and close: count what was sent
                with path.open("rb") as file, contextlib.suppress(ConnectionError):
                    file.seek(start)
                    while sent < length:
                        chunk = file.read(min(length - sent, 256 << 10))
                        self.wfile.write(chunk)
                        sent += len(chunk)
            counter.add(sent)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the clients ---------------------------------------------------------------------------------


def _duckdb_httpfs():
    import duckdb

    probe = duckdb.connect()
    try:
        probe.execute("LOAD httpfs")
        return lambda connection: connection.execute("LOAD httpfs")
    except duckdb.Error:
        import duckdb_extension_httpfs  # the extension as a Python package (offline install)

        path = next(Path(duckdb_extension_httpfs.__file__).parent.rglob("*.duckdb_extension"))
        return lambda connection: connection.execute(f"LOAD '{path}'")
    finally:
        probe.close()


def run_duckdb(load_httpfs, sql: str) -> int:
    import duckdb

    connection = duckdb.connect()
    try:
        load_httpfs(connection)
        result = connection.sql(sql).arrow()  # a table, or a reader (duckdb >= 1.4)
        return (result.read_all() if hasattr(result, "read_all") else result).num_rows
    finally:
        connection.close()


def run_pandas(url: str, read_ahead: bool = True, **kwargs) -> int:
    import fsspec
    import pandas as pd

    # a fresh filesystem: no cached sizes or blocks from the previous query; fsspec's default
    # cache reads ahead a 5 MB block past every read, cache_type="none" fetches what is asked
    options = {} if read_ahead else {"cache_type": "none"}
    filesystem = fsspec.filesystem("http", skip_instance_cache=True, **options)
    return len(pd.read_parquet(url, filesystem=filesystem, **kwargs))


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    name: str
    duckdb: str | None  # SQL with {url}
    pandas: dict | None  # read_parquet keyword arguments


def _quote(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def queries_for(path: Path) -> list[Query]:
    """The researcher queries this file's columns allow, with keys picked from its own rows."""
    names = set(pq.read_schema(path).names)
    found: list[Query] = [Query("whole file", "SELECT * FROM read_parquet({url})", {})]
    keys = [c for c in ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID")]
    keys = [c for c in keys if c in names]
    table = pq.read_table(path, columns=[*keys, *(["Modality"] if "Modality" in names else [])])
    if "collection_id" in names:
        counts = pc.value_counts(table["collection_id"]).to_pylist()
        target = table.num_rows / 100
        collection = min(counts, key=lambda c: (abs(c["counts"] - target), str(c["values"])))
        share = collection["counts"] / table.num_rows
        value = collection["values"]
        found.append(
            Query(
                f"one collection ({share:.1%} of rows)",
                f"SELECT * FROM read_parquet({{url}}) WHERE collection_id = {_quote(value)}",
                {"filters": [("collection_id", "==", value)]},
            )
        )
    # a patient, study and series from the same row, a third into the file
    row = {c: table[c][table.num_rows // 3].as_py() for c in keys} if table.num_rows else {}
    for column, label in (
        ("PatientID", "one patient"),
        ("StudyInstanceUID", "one study"),
        ("SeriesInstanceUID", "one series by SeriesInstanceUID"),
    ):
        if column in row:
            found.append(
                Query(
                    label,
                    f"SELECT * FROM read_parquet({{url}}) WHERE {column} = {_quote(row[column])}",
                    {"filters": [(column, "==", row[column])]},
                )
            )
    if {"Modality", "SeriesInstanceUID", "collection_id"} <= names:
        columns = ["collection_id", "SeriesInstanceUID", "Modality"]
        found.append(
            Query(
                "series of one modality (MR), 3 columns",
                f"SELECT {', '.join(columns)} FROM read_parquet({{url}}) WHERE Modality = 'MR'",
                {"columns": columns, "filters": [("Modality", "==", "MR")]},
            )
        )
    if "collection_id" in names:
        found.append(
            Query(
                "count per collection",
                "SELECT collection_id, count(*) FROM read_parquet({url}) GROUP BY 1",
                {"columns": ["collection_id"]},
            )
        )
    return found


# --- files ---------------------------------------------------------------------------------------


def published_files(source: Path | None, into: Path) -> Path:
    """A directory with the published wheel's parquet files."""
    if source is None:
        wheels = into / "wheel"
        found = sorted(wheels.glob("idc_index_data-*.whl"))
        if not found:
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
            subprocess.run([*pip, PUBLISHED, "-d", str(wheels)], check=True)
            found = sorted(wheels.glob("idc_index_data-*.whl"))
        source = found[0]
    if source.is_dir():
        return source
    target = into / source.stem
    if not target.exists():
        with zipfile.ZipFile(source) as wheel:
            for member in wheel.namelist():
                if member.endswith(".parquet"):
                    (target / Path(member).name).parent.mkdir(parents=True, exist_ok=True)
                    (target / Path(member).name).write_bytes(wheel.read(member))
    return target


def relayout(source: Path, target: Path, name: str) -> None:
    """The source file's rows sorted by the index's key and written with the project's layout."""
    from idc_index_assets.indices.layout import write_parquet_file
    from idc_index_assets.indices.registry import INDEX_BY_NAME

    table = pq.read_table(source)
    keys = [k for k in SORT_KEYS.get(name, ()) if k in table.column_names]
    if keys:
        table = table.sort_by([(k, "ascending") for k in keys])
    blooms = INDEX_BY_NAME[name].bloom_filters if name in INDEX_BY_NAME else ()
    with target.open("wb") as sink:
        write_parquet_file(sink, table.schema, table.to_batches(64 * 1024), bloom_filters=blooms)


# --- the run -------------------------------------------------------------------------------------

READERS = ("duckdb", "pandas", "pandas, no read-ahead")
TITLES = {
    "published": "published 25.0.5",
    "relaid": "published rows, project layout",
    "ours": "project",
}


@dataclass
class Bench:
    base: str
    counter: Counter
    load_httpfs: object
    repeat: int

    def measure(self, run) -> str:
        """The best (fastest) of `repeat` runs: requests / MB / seconds."""
        best = None
        for _ in range(self.repeat):
            self.counter.reset()
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            if best is None or seconds < best[2]:
                best = (self.counter.requests, self.counter.bytes, seconds)
        return f"{best[0]} / {best[1] / MB:.2f} / {best[2]:.2f}"

    def query(self, url: str, query: Query, reader: str) -> str:
        if reader == "duckdb":
            sql = query.duckdb.format(url=_quote(url))
            return self.measure(lambda: run_duckdb(self.load_httpfs, sql))
        read_ahead = reader == "pandas"
        return self.measure(lambda: run_pandas(url, read_ahead, **query.pandas))


def _kind(query: Query) -> str:
    return query.name.split(" (")[0]


def index_table(bench: Bench, name: str, variants: dict[str, Path]) -> list[str]:
    present = [label for label, root in variants.items() if (root / f"{name}.parquet").exists()]
    if not present:
        return []
    sizes = []
    for label in present:
        path = variants[label] / f"{name}.parquet"
        meta = pq.read_metadata(path)
        sizes.append(
            f"{TITLES[label]}: {path.stat().st_size / MB:.1f} MB, {meta.num_rows:,} rows, "
            f"{meta.num_row_groups} row groups, footer {meta.serialized_size / MB:.2f} MB"
        )
    lines = [f"### {name}", "", "; ".join(sizes) + ".", ""]
    lines += [
        "| query | reader | "
        + " | ".join(f"{TITLES[label]}: requests / MB / s" for label in present)
        + " |",
        "|---|---|" + "---:|" * len(present),
    ]
    found = {label: queries_for(variants[label] / f"{name}.parquet") for label in present}
    for query in found[present[0]]:
        for reader in READERS:
            cells, title = [], query.name
            for label in present:
                mine = [q for q in found[label] if _kind(q) == _kind(query)]
                if not mine:
                    cells.append("")
                    continue
                url = f"{bench.base}/{label}/{name}.parquet"
                cells.append(bench.query(url, mine[0], reader))
                title = mine[0].name  # the last variant's key share
            lines.append(f"| {title} | {reader} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def client_table(bench: Bench, variants: dict[str, Path]) -> list[str]:
    """What `IDCClient()` reads at start, if it read the files over HTTP: both, whole, pandas."""
    names = ("idc_index", "prior_versions_index")
    lines = [
        "### `IDCClient()` start-up: idc_index and prior_versions_index, whole, with pandas",
        "",
        "| files | requests / MB / s |",
        "|---|---:|",
    ]
    for label, root in variants.items():
        if all((root / f"{n}.parquet").exists() for n in names):
            urls = [f"{bench.base}/{label}/{n}.parquet" for n in names]
            cell = bench.measure(lambda urls=urls: [run_pandas(url) for url in urls])
            lines.append(f"| {TITLES[label]} | {cell} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", type=Path, required=True, help="directory of index parquets")
    parser.add_argument("--published", type=Path, help="published wheel or directory")
    parser.add_argument("--relayout", action="store_true", help="also published rows re-laid out")
    parser.add_argument("--indices", default="idc_index,prior_versions_index")
    parser.add_argument("--repeat", type=int, default=1, help="best wall of N runs")
    args = parser.parse_args()
    names = args.indices.split(",")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    published = published_files(args.published, results)
    work = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    try:
        variants: dict[str, Path] = {}
        for label in TITLES:
            (work / label).mkdir()
            variants[label] = work / label
        for name in names:
            file = f"{name}.parquet"
            if (published / file).exists():
                shutil.copyfile(published / file, work / "published" / file)
                if args.relayout:
                    relayout(published / file, work / "relaid" / file, name)
            if (args.ours / file).exists():
                shutil.copyfile(args.ours / file, work / "ours" / file)
        counter = Counter()
        server = serve(work, counter)
        bench = Bench(
            f"http://127.0.0.1:{server.server_address[1]}", counter, _duckdb_httpfs(), args.repeat
        )
        lines = [
            f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python "
            f"{platform.python_version()}; readers: duckdb {_version('duckdb')} (httpfs), "
            f"pyarrow {pa.__version__}, pandas {_version('pandas')}, fsspec {_version('fsspec')}",
            "",
        ]
        for name in names:
            lines += index_table(bench, name, variants)
        lines += client_table(bench, variants)
        server.shutdown()
        text = "\n".join(lines)
        print(text)
        (results / "bench_remote.md").write_text(text + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
