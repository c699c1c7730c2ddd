"""The embedded engine: the rendered BigQuery SQL, transpiled by `semantics.transpile_to_duckdb`,
run by DuckDB over the local source snapshot's Parquet files, with BigQuery's result shape
(`_as_bigquery_result`). Memory is capped (`memory_limit`); beyond it DuckDB spills to a private
temporary directory."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from idc_index_assets.engines.base import (
    BATCH_ROWS,
    EngineError,
    MissingSourceTableError,
    QueryRun,
)
from idc_index_assets.engines.semantics import transpile_to_duckdb
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTableState, snapshot_table_path


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

    def table_state(self, dataset: str, table: str) -> SourceTableState:
        """The snapshot table's schema and size from its Parquet footers (no row is read); a
        directory of Parquet files is one table with the first file's schema, as DuckDB reads
        it. Raises MissingSourceTableError, naming the path, when the snapshot lacks it."""
        path = snapshot_table_path(self.source_dir, dataset, table)
        name = f"{SOURCE_PROJECT}.{dataset}.{table}"
        files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        if not path.exists() or not files:
            raise MissingSourceTableError(
                f"table {name} is not in the source snapshot (looked for {path} or a directory "
                f"of Parquet files {path.with_suffix('')}/)"
            )
        stats = [file.stat() for file in files]
        observation = {
            "path": str(path),
            "rows": sum(pq.read_metadata(file).num_rows for file in files),
            "bytes": sum(stat.st_size for stat in stats),
            "modified": max(stat.st_mtime for stat in stats),
        }
        return SourceTableState(name, pq.read_schema(files[0]), observation)

    @contextlib.contextmanager
    def run(
        self, sql: str, *, query_file: str, local_tables: dict[str, Path] | None = None
    ) -> Iterator[QueryRun]:
        resolve = self.resolver(local_tables or {}, query_file)
        # Beyond the memory limit DuckDB spills here; a private directory unless one is given.
        spill = Path(self.temp_directory or tempfile.mkdtemp(prefix="idc-duckdb-spill-"))
        spill.mkdir(parents=True, exist_ok=True)
        connection = connect(memory_limit=self.memory_limit, temp_directory=spill)
        try:
            if self.threads:
                connection.execute(f"SET threads = {int(self.threads)}")
            try:
                result = run_statement(connection, sql, resolve)
                reader = result.to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as error:
                raise EngineError(f"{query_file}: DuckDB failed: {_first_line(error)}") from error
            yield QueryRun(_reraising(reader, query_file), {"engine": "duckdb"})
        finally:
            connection.close()
            if self.temp_directory is None:
                shutil.rmtree(spill, ignore_errors=True)


def connect(**config: object) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose session behaves like BigQuery's: its time zone is UTC (BigQuery's
    default time zone), whatever the host's TZ, so TIMESTAMP/DATETIME conversions, EXTRACT and
    DATE(timestamp) never depend on where the engine runs."""
    connection = duckdb.connect(config={key: str(value) for key, value in config.items()})
    # a setting of the (built-in) ICU extension: not accepted in the connect() config
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def run_statement(
    connection: duckdb.DuckDBPyConnection, sql: str, resolve_table: Callable[[exp.Table], Path]
) -> duckdb.DuckDBPyRelation:
    """One BigQuery statement, transpiled, on the connection: its result with BigQuery's shape."""
    return _as_bigquery_result(connection.sql(transpile_to_duckdb(sql, resolve_table)))


def _as_bigquery_result(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """What BigQuery does to a query's result columns and DuckDB does not: an ARRAY that is NULL
    comes out empty, an ARRAY with a NULL element is an error, and integers are INT64 (DuckDB's
    SUM of integers is a 128-bit HUGEINT, which would reach the Parquet file as a decimal)."""
    projection, changed = [], False
    for name, column_type in zip(relation.columns, relation.types, strict=True):
        column = exp.column(name, quoted=True)
        if column_type.id == "hugeint":
            value = exp.cast(column, exp.DataType.Type.BIGINT)
        elif column_type.id == "list":
            null_element = exp.Anonymous(
                this="error",
                expressions=[
                    exp.Literal.string(
                        f"Array cannot have a null element; error in writing field {name}"
                    )
                ],
            )
            has_null_element = exp.LT(
                this=exp.func("list_count", column.copy()),
                expression=exp.Length(this=column.copy()),
            )
            value = exp.Case(
                ifs=[exp.If(this=has_null_element, true=null_element)],
                default=exp.Coalesce(this=column.copy(), expressions=[exp.Array()]),
            )
        else:
            projection.append(column.sql(dialect="duckdb"))
            continue
        projection.append(exp.alias_(value, name, quoted=True).sql(dialect="duckdb"))
        changed = True
    return relation.project(", ".join(projection)) if changed else relation


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
