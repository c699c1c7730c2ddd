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
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlglot import exp
from sqlglot.errors import SqlglotError

from idc_index_assets.engines.base import (
    BATCH_ROWS,
    EngineError,
    MissingSourceTableError,
    QueryRun,
)
from idc_index_assets.engines.scripting import Kind, ScriptError, Statement, is_script, parse_script
from idc_index_assets.engines.semantics import parquet_scan, transpile_to_duckdb
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTableState, snapshot_table_path


@dataclass
class DuckDBEngine:
    source_dir: Path
    memory_limit: str = "4GB"
    threads: int | None = None
    temp_directory: Path | None = None
    # source tables whose Parquet footers were read once already
    _readable: set[Path] = field(default_factory=set, init=False, repr=False)

    def resolver(
        self, local_tables: dict[str, Path | exp.Expression], query_file: str
    ) -> Callable[[exp.Table], Path | exp.Expression]:
        def resolve(table: exp.Table) -> Path | exp.Expression:
            if table.catalog == SOURCE_PROJECT:
                path = snapshot_table_path(self.source_dir, table.db, table.name)
                label = f"{table.catalog}.{table.db}.{table.name}"
            elif not table.db and table.name in local_tables:
                path, label = local_tables[table.name], table.name
                if isinstance(path, exp.Expression):  # a registered pyarrow dataset
                    return path
            else:
                raise EngineError(f"{query_file}: unknown table {table.sql(dialect='bigquery')}")
            if not path.exists():
                raise MissingSourceTableError(
                    f"{query_file}: table {label} is not in the source snapshot "
                    f"(looked for {path} or a directory of Parquet files {path.with_suffix('')}/)"
                )
            if table.catalog == SOURCE_PROJECT and path not in self._readable:
                _parquet_footers(_table_files(path), label, f"{query_file}: ")
                self._readable.add(path)
            return path

        return resolve

    def table_state(self, dataset: str, table: str) -> SourceTableState:
        """The snapshot table's schema and size from its Parquet footers (no row is read); a
        directory of Parquet files is one table with the first file's schema, as DuckDB reads
        it. Raises MissingSourceTableError, naming the path, when the snapshot lacks it."""
        path = snapshot_table_path(self.source_dir, dataset, table)
        name = f"{SOURCE_PROJECT}.{dataset}.{table}"
        files = _table_files(path)
        if not path.exists() or not files:
            raise MissingSourceTableError(
                f"table {name} is not in the source snapshot (looked for {path} or a directory "
                f"of Parquet files {path.with_suffix('')}/)"
            )
        footers = _parquet_footers(files, name)
        stats = [file.stat() for file in files]
        observation = {
            "path": str(path),
            "rows": sum(footer.num_rows for footer in footers),
            "bytes": sum(stat.st_size for stat in stats),
            "modified": max(stat.st_mtime for stat in stats),
        }
        return SourceTableState(name, pq.read_schema(files[0]), observation)

    @contextlib.contextmanager
    def run(
        self,
        sql: str,
        *,
        query_file: str,
        local_tables: dict[str, Path | ds.Dataset] | None = None,
    ) -> Iterator[QueryRun]:
        """Run `sql`; `local_tables` are the unqualified tables it may read besides the source
        (other indices): a Parquet file, or a pyarrow dataset (an artifact in object storage,
        scanned through Python)."""
        # Beyond the memory limit DuckDB spills here; a private directory unless one is given.
        spill = Path(self.temp_directory or tempfile.mkdtemp(prefix="idc-duckdb-spill-"))
        spill.mkdir(parents=True, exist_ok=True)
        connection = connect(memory_limit=self.memory_limit, temp_directory=spill)
        try:
            tables: dict[str, Path | exp.Expression] = {}
            for name, table in (local_tables or {}).items():
                if isinstance(table, ds.Dataset):
                    connection.register(f"__local_{name}", table)
                    table = exp.to_identifier(f"__local_{name}")
                tables[name] = table
            resolve = self.resolver(tables, query_file)
            if self.threads:
                connection.execute(f"SET threads = {int(self.threads)}")
            try:
                statements = parse_script(sql)
            except ScriptError as error:
                raise EngineError(f"{query_file}:{error.line}: {error.message}") from error
            try:
                if is_script(statements):
                    result = _Script(connection, resolve, query_file).run(statements)
                else:
                    result = run_statement(connection, sql, resolve)
                reader = result.to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as error:
                raise EngineError(f"{query_file}: DuckDB failed: {_first_line(error)}") from error
            except SqlglotError as error:
                raise EngineError(f"{query_file}: {error}") from error
            limits = {"duckdb_memory_limit": self.memory_limit, "duckdb_threads": self.threads}
            yield QueryRun(_reraising(reader, query_file), {"engine": "duckdb"} | limits)
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
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    resolve_table: Callable[[exp.Table], Path | exp.Expression],
) -> duckdb.DuckDBPyRelation:
    """One BigQuery statement, transpiled, on the connection: its result with BigQuery's shape."""
    return _as_bigquery_result(connection.sql(transpile_to_duckdb(sql, resolve_table)))


class _Script:
    """A BigQuery script (`engines.scripting`) run statement by statement in one connection:
    variables are DuckDB variables (SET VARIABLE, read with getvariable()), temporary tables
    DuckDB temporary tables; the result is the final SELECT's."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, resolve, query_file: str):
        self.connection, self.resolve, self.query_file = connection, resolve, query_file
        self.variables: dict[str, exp.DataType | None] = {}
        self.temp_tables: set[str] = set()

    def run(self, statements: list[Statement], at: str = "") -> duckdb.DuckDBPyRelation:
        *steps, final = statements
        for statement in steps:
            self._execute(statement, at)
        if final.kind is Kind.EXECUTE_IMMEDIATE:
            return self.run(self._immediate(final, at), self._where(final, at))
        if final.kind is not Kind.QUERY:
            raise EngineError(
                f"{self.query_file}:{self._where(final, at)}: a script must end with the SELECT "
                "whose rows are the result"
            )
        return _as_bigquery_result(self._sql(self._duck(final.tree), final, at))

    def _execute(self, statement: Statement, at: str) -> None:
        tree = statement.tree
        if statement.kind is Kind.DECLARE:
            for item in tree.expressions:
                value = item.args.get("default") or exp.null()
                for name in item.this:
                    if name.name.lower() in self.variables:
                        raise EngineError(
                            f"{self.query_file}:{self._where(statement, at)}: variable "
                            f"{name.name} is already declared"
                        )
                    self.variables[name.name.lower()] = item.args.get("kind")
                    self._assign(name.name, value, statement, at)
        elif statement.kind is Kind.SET:
            assignment = tree.expressions[0].this
            target, value = assignment.this, assignment.expression
            if isinstance(target, exp.Tuple):
                self._assign_fields([c.name for c in target.expressions], value, statement, at)
            else:
                self._assign(target.name, value, statement, at)
        elif statement.kind is Kind.EXECUTE_IMMEDIATE:
            for inner in self._immediate(statement, at):
                self._execute(inner, self._where(statement, at))
        elif statement.kind is Kind.CREATE_TEMP_TABLE:
            self._sql(self._duck(tree), statement, at)
            self.temp_tables.add(tree.this.name)
        else:
            self._sql(self._duck(tree), statement, at).fetchall()

    def _assign(self, name: str, value: exp.Expression, statement: Statement, at: str) -> None:
        if name.lower() not in self.variables:
            raise EngineError(
                f"{self.query_file}:{self._where(statement, at)}: variable {name} is not declared"
            )
        declared = self.variables[name.lower()]
        typed = exp.cast(value, declared) if declared is not None else value
        select = self._duck(exp.select(typed))
        self._sql(f"SET VARIABLE {name.lower()} = ({select})", statement, at)

    def _assign_fields(
        self, names: list[str], value: exp.Expression, statement: Statement, at: str
    ) -> None:
        """`SET (a, b) = (SELECT AS STRUCT x, y)`: each variable from its field, by position."""
        query = value.this if isinstance(value, exp.Subquery) else value
        if not isinstance(query, exp.Select) or len(query.expressions) != len(names):
            raise EngineError(
                f"{self.query_file}:{self._where(statement, at)}: SET ({', '.join(names)}) "
                f"needs a (SELECT AS STRUCT ...) of {len(names)} fields"
            )
        plain = query.copy()
        plain.set("kind", None)
        for position, name in enumerate(names):
            declared = self.variables.get(name.lower())
            field = exp.column(f"f{position}", quoted=True)
            typed = exp.cast(field, declared) if declared is not None else field
            self._assign(
                name,
                exp.select(typed)
                .from_(
                    exp.Subquery(
                        this=plain.copy(),
                        alias=exp.TableAlias(
                            this=exp.to_identifier("_fields"),
                            columns=[exp.to_identifier(f"f{i}") for i in range(len(names))],
                        ),
                    )
                )
                .subquery(),
                statement,
                at,
            )

    def _immediate(self, statement: Statement, at: str) -> list[Statement]:
        """The statements of the string an EXECUTE IMMEDIATE evaluates to."""
        ((text,),) = self._sql(self._duck(exp.select(statement.tree)), statement, at).fetchall()
        if text is None:
            raise EngineError(
                f"{self.query_file}:{self._where(statement, at)}: EXECUTE IMMEDIATE of NULL"
            )
        try:
            return parse_script(text)
        except ScriptError as error:
            raise EngineError(
                f"{self.query_file}:{self._where(statement, at)}: in EXECUTE IMMEDIATE: {error}"
            ) from error

    def _duck(self, tree: exp.Expression) -> str:
        return transpile_to_duckdb(
            tree,
            self.resolve,
            variables=self.variables,
            temp_tables=self.temp_tables,
            table_columns=self._columns,
        )

    def _columns(self, table: exp.Table) -> list[str]:
        if not table.db and table.name in self.temp_tables:
            return self.connection.sql(f'SELECT * FROM "{table.name}" LIMIT 0').columns
        scan = parquet_scan(self.resolve(table)).sql(dialect="duckdb")
        return self.connection.sql(f"SELECT * FROM {scan} LIMIT 0").columns

    def _sql(self, sql: str, statement: Statement, at: str) -> duckdb.DuckDBPyRelation:
        try:
            return self.connection.sql(sql)
        except duckdb.Error as error:
            raise EngineError(
                f"{self.query_file}:{self._where(statement, at)}: DuckDB failed: "
                f"{_first_line(error)}"
            ) from error

    @staticmethod
    def _where(statement: Statement, at: str) -> str:
        """The statement's line; inside an EXECUTE IMMEDIATE, its line there too."""
        return f"{at} (EXECUTE IMMEDIATE line {statement.line})" if at else str(statement.line)


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


def _table_files(path: Path) -> list[Path]:
    """A snapshot table's Parquet files: the file, or those of its directory."""
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def _parquet_footers(files: list[Path], table: str, where: str = "") -> list[pq.FileMetaData]:
    """Each file's Parquet footer; a file that has none (empty, truncated, not Parquet) raises
    EngineError naming the table and the file, before any query reads it."""
    footers = []
    for file in files:
        try:
            footers.append(pq.read_metadata(file))
        except (pa.ArrowException, OSError) as error:
            raise EngineError(
                f"{where}source table {table}: {file} is not a readable Parquet file "
                f"({_first_line(error)})"
            ) from None
    return footers


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
