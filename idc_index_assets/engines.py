"""Query engines: BigQuery in production, an embedded DuckDB over a local source snapshot by default.

Both take the same rendered BigQuery Standard SQL and hand back Arrow record batches, so an index is
written the same way whichever engine ran it. The DuckDB engine transpiles the SQL with sqlglot and
maps every `bigquery-public-data.idc_vN.<table>` to the snapshot's Parquet file (or directory of
Parquet files, the shape of IDC's public Parquet export); where sqlglot's DuckDB output would not
give BigQuery's result, the difference is fixed here, once, in `transpile_to_duckdb`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from .queries import SOURCE_PROJECT

BATCH_ROWS = 64 * 1024


class EngineError(RuntimeError):
    """A query that failed in the engine; the message names the query file. `transient` marks
    failures worth retrying (a remote engine's 429/5xx), as opposed to errors in the query or data."""

    transient = False


class MissingSourceTableError(EngineError):
    """A source table the query reads is not in the snapshot."""


@dataclass
class QueryRun:
    """A running query: its batches (consumed once) and what the engine reports about it."""

    batches: pa.RecordBatchReader
    metadata: dict[str, Any] = field(default_factory=dict)


# --- DuckDB ------------------------------------------------------------------------------------


def snapshot_table_path(source_dir: Path, dataset: str, table: str) -> Path:
    """Where the snapshot keeps a table: `<root>/bigquery-public-data/<dataset>/<table>.parquet`,
    or a directory `<table>/` of Parquet files."""
    base = Path(source_dir) / SOURCE_PROJECT / dataset
    single = base / f"{table}.parquet"
    return single if single.exists() or not (base / table).is_dir() else base / table


def _parquet_scan(path: Path) -> exp.Expression:
    pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    return exp.func("read_parquet", exp.Literal.string(pattern))


def transpile_to_duckdb(sql: str, resolve_table: Callable[[exp.Table], Path]) -> str:
    """BigQuery SQL → DuckDB SQL reading Parquet files; `resolve_table` gives each table's file."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            if not node.db and node.name in ctes:
                return node
            scan = exp.Table(this=_parquet_scan(resolve_table(node)))
            # BigQuery lets `FROM x.y.dicom_all` be referred to as `dicom_all`; keep that name.
            scan.set(
                "alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            )
            return scan
        return node

    return tree.transform(replace).sql(dialect="duckdb", comments=False)


@dataclass
class DuckDBEngine:
    source_dir: Path
    memory_limit: str = "4GB"
    threads: int | None = None
    temp_directory: Path | None = None

    def resolver(self, local_tables: dict[str, Path], query_file: str):
        def resolve(table: exp.Table) -> Path:
            if table.catalog == SOURCE_PROJECT:
                path = snapshot_table_path(self.source_dir, table.db, table.name)
                label = f"{table.catalog}.{table.db}.{table.name}"
            elif not table.db and table.name in local_tables:
                path, label = local_tables[table.name], table.name
            else:
                raise EngineError(f"{query_file}: unknown table {table.sql(dialect='bigquery')}")
            if not path.exists():
                raise MissingSourceTableError(
                    f"{query_file}: table {label} is not in the source snapshot "
                    f"(looked for {path} or a directory of Parquet files {path.with_suffix('')}/)"
                )
            return path

        return resolve

    @contextlib.contextmanager
    def run(
        self, sql: str, *, query_file: str, local_tables: dict[str, Path] | None = None
    ) -> Iterator[QueryRun]:
        duck_sql = transpile_to_duckdb(sql, self.resolver(local_tables or {}, query_file))
        # Beyond the memory limit DuckDB spills here; a private directory unless one is given.
        spill = Path(self.temp_directory or tempfile.mkdtemp(prefix="idc-duckdb-spill-"))
        spill.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(
            config={"memory_limit": self.memory_limit, "temp_directory": str(spill)}
        )
        try:
            if self.threads:
                connection.execute(f"SET threads = {int(self.threads)}")
            try:
                reader = connection.sql(duck_sql).to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as error:
                raise EngineError(f"{query_file}: DuckDB failed: {_first_line(error)}") from error
            yield QueryRun(_reraising(reader, query_file), {"engine": "duckdb"})
        finally:
            connection.close()
            if self.temp_directory is None:
                shutil.rmtree(spill, ignore_errors=True)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _reraising(reader: pa.RecordBatchReader, query_file: str) -> pa.RecordBatchReader:
    """Errors raised while batches stream (e.g. ERROR() on a row) still name the query file."""

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (duckdb.Error, pa.ArrowException) as error:
            message = re.sub(r"^Invalid Input Error: ", "", _first_line(error))
            raise EngineError(f"{query_file}: query failed: {message}") from error

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
