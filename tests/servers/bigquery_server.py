"""A BigQuery API server on loopback for the BigQuery engine tests, and how to seed it.

The server is crucible-emulator (BigQuery's REST API over DuckDB). It pins DuckDB and sqlglot
versions of its own, older than the ones the project's DuckDB engine runs on, so `make test`
installs it into a virtual environment of its own (`.venv/bigquery-server`), not the project's.

Seeding: the server refuses Parquet and JSON load jobs, has no streaming inserts, and its INSERT
jobs take seconds per few hundred literal rows. So a table is created through the real client
(a CREATE TABLE job with the BigQuery types of the Arrow schema), and its rows are then appended
from the Parquet file straight into the server's DuckDB database file while the server is
stopped, by the server's own DuckDB; the server then restarts on the same port and database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests.servers.loopback import free_port, wait_until_answering

REPOSITORY = Path(__file__).resolve().parents[2]
SERVER_VENV = REPOSITORY / ".venv" / "bigquery-server"

# Runs in the server's own Python: appends each Parquet file to its table in the catalog file
# that the server keeps per project (`<database>.catalogs/<n>.duckdb`, listed in the metadata
# database). Columns match by position: the table was created from the same schema.
_APPEND_ROWS = """
import json, sys
import duckdb
database, loads = sys.argv[1], json.loads(sys.argv[2])
quote = lambda text: "'" + text.replace("'", "''") + "'"
connection = duckdb.connect()
connection.execute(f"attach {quote(database)} as meta (read_only)")
files = dict(connection.execute("select name, file from meta.main.catalogs").fetchall())
for project, dataset, table, parquet in loads:
    connection.execute(f"attach {quote(files[project])} as target")
    connection.execute(
        f'insert into target."{dataset}"."{table}" select * from read_parquet(?)', [parquet]
    )
    connection.execute("detach target")
"""


def server_executable() -> Path | None:
    """The `crucible` command: $IDC_BIGQUERY_SERVER, the server venv's, or one on PATH."""
    configured = os.environ.get("IDC_BIGQUERY_SERVER")
    if configured:
        return Path(configured)
    bundled = SERVER_VENV / "bin" / "crucible"
    if bundled.exists():
        return bundled
    found = shutil.which("crucible")
    return Path(found) if found else None


class BigQueryServer:
    """crucible-emulator serving BigQuery's REST API at `url`, state in `database`."""

    def __init__(self, executable: Path, database: Path, port: int | None = None):
        self.executable, self.database = executable, database
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._process = subprocess.Popen(
            [
                *(str(self.executable), "serve", "--dialect", "bigquery"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
                *("--database", str(self.database)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_answering(
                self._process, f"{self.url}/_crucible/health", "the BigQuery server", timeout, 0.1
            )
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def client(self, project: str = "test-project") -> bigquery.Client:
        """A plain google-cloud-bigquery client of this server, for seeding and inspection."""
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.url),
        )

    def seed(self, tables: Mapping[str, Path]) -> None:
        """Create each `project.dataset.table` from its Parquet file, rows included. The server
        is restarted (same port and database) to append the rows."""
        client = self.client()
        loads = []
        for table_id, parquet in tables.items():
            project, dataset, table = table_id.split(".")
            schema = pq.read_schema(parquet)
            client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"), exists_ok=True)
            columns = ", ".join(f"`{f.name}` {bigquery_type(f.type)}" for f in schema)
            client.query(f"CREATE TABLE `{table_id}` ({columns})").result()
            loads.append((project, dataset, table, str(parquet)))
        client.close()
        self.stop()
        python = self.executable.parent / "python"
        subprocess.run(
            [str(python), "-c", _APPEND_ROWS, str(self.database), json.dumps(loads)], check=True
        )
        self.start()


@contextmanager
def bigquery_server(executable: Path, directory: Path) -> Iterator[BigQueryServer]:
    """A running server keeping its state under `directory`; stopped on exit."""
    server = BigQueryServer(executable, directory / "bigquery.duckdb")
    server.start()
    try:
        yield server
    finally:
        server.stop()


_SCALAR_TYPES = {
    pa.string(): "STRING",
    pa.large_string(): "STRING",
    pa.int64(): "INT64",
    pa.float64(): "FLOAT64",
    pa.bool_(): "BOOL",
    pa.date32(): "DATE",
    pa.time64("us"): "TIME",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP",
}


def bigquery_type(arrow_type: pa.DataType) -> str:
    """The BigQuery type of an Arrow type as BigQuery exports it (a list is REPEATED)."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"ARRAY<{bigquery_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f"`{f.name}` {bigquery_type(f.type)}" for f in arrow_type)
        return f"STRUCT<{fields}>"
    if arrow_type in _SCALAR_TYPES:
        return _SCALAR_TYPES[arrow_type]
    raise TypeError(f"no BigQuery type for Arrow {arrow_type}")
