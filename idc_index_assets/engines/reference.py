"""BigQuery's reference implementation: Google's ZetaSQL analyzer and reference evaluator (the
`zetasql` package, ZetaSQL compiled to WebAssembly and run by wasmtime), set up as BigQuery.

`ReferenceEngine.run(sql, tables)` evaluates one BigQuery statement over Arrow tables and hands
back Arrow; `ReferenceEngine.analyze(sql, tables)` only resolves it (names, types) and gives the
output schema. Either raises `ReferenceError` with BigQuery's message (and its line and column)
for a statement BigQuery rejects or a value error BigQuery raises at run time.

Set up as BigQuery: external product mode (INT64, FLOAT64, NUMERIC, ...; no INT32, UINT64,
PROTO, ENUM), ZetaSQL's released features minus those BigQuery lacks (`_NOT_IN_BIGQUERY`),
BigQuery's type aliases (INT, INTEGER, BIGINT, SMALLINT, TINYINT, BYTEINT for INT64), UTC.

What it cannot do, so callers know where its answer is not BigQuery's:
- ANY_VALUE may return NULL where BigQuery returns a non-NULL value of the group (ZetaSQL's
  ANY_VALUE does not skip NULLs; BigQuery's does);
- scripts: it evaluates one query statement; a script runs statement by statement, its variables
  given as `constants`, its temporary tables as tables (`tables`);
- where BigQuery leaves order or choice undefined (ARRAY_AGG without ORDER BY, a query without
  ORDER BY, ANY_VALUE) it picks one answer: compare those order-insensitively;
- GEOGRAPHY, JSON, INTERVAL and RANGE values are not converted to or from Arrow;
- BigQuery functions missing from the open-source ZetaSQL are "Function not found" here
  (CONTAINS_SUBSTR, MAX_BY, MIN_BY among them).

Results are written as BigQuery writes them: a NULL array becomes an empty array, an array with
a NULL element fails (stage "result"), an anonymous column is named f0_, f1_, ...

Start-up compiles a 30 MB WebAssembly module (40-130 s); the compiled module is kept in
`cache_dir` (default `$XDG_CACHE_HOME/idc-index-assets`, else `~/.cache/idc-index-assets`),
so later starts take about a second. `zetasql` is the optional extra `reference` (in `test`).
"""

from __future__ import annotations

import atexit
import ctypes
import datetime as dt
import decimal
import functools
import gc
import hashlib
import os
import re
import threading
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

ZETASQL_VERSION = "0.1.5"

# Enabled by ZetaSQL's maximum feature set, absent from BigQuery (its data types page: ARRAY is
# neither orderable, groupable nor comparable; TIMESTAMP has microsecond precision; no
# INT32/UINT/UUID/PROTO types; no string literal coercion to BYTES; no property graphs).
_NOT_IN_BIGQUERY = {
    "FEATURE_ARRAY_ORDERING",
    "FEATURE_GROUP_BY_ARRAY",
    "FEATURE_ARRAY_EQUALITY",
    "FEATURE_JSON_TYPE_COMPARISON",
    "FEATURE_TIMESTAMP_NANOS",
    "FEATURE_TIMESTAMP_PICOS",
    "FEATURE_TIMESTAMP_PRECISION",
    "FEATURE_EXTENDED_TYPES",
    "FEATURE_UUID_TYPE",
    "FEATURE_IMPLICIT_COERCION_STRING_LITERAL_TO_BYTES",
    "FEATURE_BETWEEN_UINT64_INT64",
    "FEATURE_TIMESTAMP_FROM_UNIX_FUNCTIONS_WITH_UINT64",
}
_NOT_IN_BIGQUERY_PREFIXES = ("FEATURE_SQL_GRAPH", "FEATURE_PROTO_", "FEATURE_ENABLE_MEASURES")

# BigQuery's parameterized-free aliases of INT64 (data types page, "Integer types").
INT64_ALIASES = ("INT", "SMALLINT", "INTEGER", "BIGINT", "TINYINT", "BYTEINT")

_NUMERIC_SCALE = 9
_BIGNUMERIC_SCALE = 38
_EPOCH = dt.date(1970, 1, 1)


class ReferenceError(Exception):
    """BigQuery's reference rejected a statement (`stage` "analysis": name resolution, types,
    unsupported syntax), raised an error evaluating it (`stage` "evaluation": division by zero,
    overflow, a bad argument) or BigQuery could not write its result (`stage` "result": an array
    with a NULL element). `line` and `column` (1-based) locate it when ZetaSQL does."""

    def __init__(self, message: str, stage: str):
        self.message = message
        self.stage = stage
        located = re.search(r"\[at (\d+):(\d+)\]", message)
        self.line = int(located.group(1)) if located else None
        self.column = int(located.group(2)) if located else None
        super().__init__(message)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "idc-index-assets"


class _Wasm:
    """The ZetaSQL local service in a wasmtime instance: serialized protobuf requests in, responses
    out. (The package's own client copies request and response bytes one at a time.)"""

    def __init__(self, cache_dir: Path):
        import tzdata
        import wasmtime
        from zetasql.wasi import get_wasm_path

        config = wasmtime.Config()
        config.shared_memory = True
        engine = wasmtime.Engine(config)
        wasm = Path(get_wasm_path())
        key = hashlib.sha256(
            f"{wasm.stat().st_size}|{metadata.version('wasmtime')}".encode()
        ).hexdigest()[:16]
        compiled = cache_dir / f"zetasql-{ZETASQL_VERSION}-{key}.cwasm"
        module = None
        if compiled.exists():
            try:
                module = wasmtime.Module.deserialize_file(engine, str(compiled))
            except wasmtime.WasmtimeError:
                module = None  # written by another wasmtime build: compile again
        if module is None:
            module = wasmtime.Module.from_file(engine, str(wasm))
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = compiled.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(module.serialize())
            partial.replace(compiled)
        self._store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stderr()
        wasi.preopen_dir(str(Path(tzdata.__file__).parent / "zoneinfo"), "/usr/share/zoneinfo")
        self._store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        exports = linker.instantiate(self._store, module).exports(self._store)
        if "_initialize" in exports:
            exports["_initialize"](self._store)
        self._exports = exports
        self._memory = exports["memory"]
        self._lock = threading.Lock()

    def _address(self, pointer: int) -> int:
        return ctypes.addressof(self._memory.data_ptr().contents) + pointer

    def call(self, method: str, request, response_type):
        # One wasm store serves one thread at a time: two threads in it abort the process.
        with self._lock:
            return self._call(method, request, response_type)

    def _call(self, method: str, request, response_type):
        data = request.SerializeToString()
        store, exports = self._store, self._exports
        pointer = exports["wasm_malloc"](store, max(len(data), 1))
        size_pointer = exports["wasm_malloc"](store, 4)
        try:
            ctypes.memmove(self._address(pointer), data, len(data))
            response = exports[f"ZetaSqlLocalService_{method}"](
                store, pointer, len(data), size_pointer
            )
            if response == 0:
                size = exports["wasm_get_last_error_size"](store)
                error = ctypes.string_at(
                    self._address(exports["wasm_get_last_error"](store)), size
                ).decode("utf-8", "replace")
                raise _ServiceError(re.sub(r"^Code: \d+, Message: ", "", error, flags=re.S))
            size = int.from_bytes(ctypes.string_at(self._address(size_pointer), 4), "little")
            out = ctypes.string_at(self._address(response), size)
            exports["wasm_free"](store, response)
            return response_type.FromString(out)
        finally:
            exports["wasm_free"](store, pointer)
            exports["wasm_free"](store, size_pointer)


class _ServiceError(Exception):
    pass


class ReferenceEngine:
    """One ZetaSQL instance set up as BigQuery. Threads may share it (its calls take turns); start
    one and reuse it (start-up is the expensive part)."""

    def __init__(self, cache_dir: Path | None = None):
        from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2
        from zetasql.wasi._pb2.zetasql.proto import options_pb2 as options
        from zetasql.wasi._pb2.zetasql.public import options_pb2, type_pb2, value_pb2

        self._service = local_service_pb2
        self._type_pb2 = type_pb2
        self._value_pb2 = value_pb2
        self.cache_dir = cache_dir or default_cache_dir()
        self._wasm = _Wasm(self.cache_dir)
        maximum = self._wasm.call(
            "GetLanguageOptions",
            local_service_pb2.LanguageOptionsRequest(maximum_features=True),
            options.LanguageOptionsProto,
        )
        features = [
            feature
            for feature in maximum.enabled_language_features
            if not _excluded(options_pb2.LanguageFeature.Name(feature))
        ]
        self.language = options.LanguageOptionsProto(
            name_resolution_mode=maximum.name_resolution_mode,
            product_mode=options_pb2.PRODUCT_EXTERNAL,
            enabled_language_features=features,
            # reserved in BigQuery (lexical page), so a bare QUALIFY needs no WHERE before it
            reserved_keywords=["QUALIFY"],
            supported_statement_kinds=maximum.supported_statement_kinds,
        )
        self.analyzer_options = options.AnalyzerOptionsProto(
            language_options=self.language,
            default_timezone="UTC",
            error_message_mode=options_pb2.ERROR_MESSAGE_ONE_LINE,
            prune_unused_columns=True,
        )

    # -- catalog --------------------------------------------------------------------------

    def _catalog(self, schemas: Mapping[str, pa.Schema], constants: Mapping[str, Any]):
        from zetasql.wasi._pb2.zetasql.proto import options_pb2 as options
        from zetasql.wasi._pb2.zetasql.proto import simple_catalog_pb2
        from zetasql.wasi._pb2.zetasql.public import simple_constant_pb2, simple_table_pb2

        catalog = simple_catalog_pb2.SimpleCatalogProto(
            name="bigquery",
            builtin_function_options=options.ZetaSQLBuiltinFunctionOptionsProto(
                language_options=self.language
            ),
        )
        int64 = self._type_pb2.TypeProto(type_kind=self._type_pb2.TYPE_INT64)
        for alias in INT64_ALIASES:
            catalog.named_type.add(name=alias, type=int64)
        for serial, (name, schema) in enumerate(schemas.items(), 1):
            table = simple_table_pb2.SimpleTableProto(name=name, serialization_id=serial)
            for field in schema:
                table.column.add(name=field.name, type=self.type_of(field.type, name, field.name))
            catalog.table.append(table)
        for name, value in constants.items():
            arrow_type = value.type if isinstance(value, pa.Scalar) else pa.scalar(value).type
            python = value.as_py() if isinstance(value, pa.Scalar) else value
            zeta_type = self.type_of(arrow_type, "constant", name)
            catalog.constant.append(
                simple_constant_pb2.SimpleConstantProto(
                    name_path=[name], type=zeta_type, value=self._value(python, zeta_type)
                )
            )
        return catalog

    def type_of(self, arrow_type: pa.DataType, table: str = "", column: str = ""):
        """The ZetaSQL TypeProto of an Arrow type (as BigQuery reads the Parquet of its tables)."""
        t = self._type_pb2
        if pa.types.is_boolean(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_BOOL)
        if pa.types.is_integer(arrow_type) and arrow_type != pa.uint64():
            return t.TypeProto(type_kind=t.TYPE_INT64)
        if pa.types.is_floating(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_DOUBLE)
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_STRING)
        if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_BYTES)
        if pa.types.is_date(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_DATE)
        if pa.types.is_timestamp(arrow_type):
            kind = t.TYPE_TIMESTAMP if arrow_type.tz else t.TYPE_DATETIME
            return t.TypeProto(type_kind=kind)
        if pa.types.is_time(arrow_type):
            return t.TypeProto(type_kind=t.TYPE_TIME)
        if pa.types.is_decimal(arrow_type):
            big = arrow_type.scale > _NUMERIC_SCALE or arrow_type.precision - arrow_type.scale > 29
            return t.TypeProto(type_kind=t.TYPE_BIGNUMERIC if big else t.TYPE_NUMERIC)
        if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
            element = self.type_of(arrow_type.value_type, table, column)
            return t.TypeProto(
                type_kind=t.TYPE_ARRAY, array_type=t.ArrayTypeProto(element_type=element)
            )
        if pa.types.is_struct(arrow_type):
            struct = t.StructTypeProto()
            for field in arrow_type:
                struct.field.add(
                    field_name=field.name,
                    field_type=self.type_of(field.type, table, f"{column}.{field.name}"),
                )
            return t.TypeProto(type_kind=t.TYPE_STRUCT, struct_type=struct)
        raise TypeError(f"{table}.{column}: Arrow type {arrow_type} has no BigQuery type here")

    # -- values ---------------------------------------------------------------------------

    def _encoder(self, zeta_type):
        """A function from a Python value (as pyarrow's to_pylist gives it) to a ValueProto."""
        t, Value = self._type_pb2, self._value_pb2.ValueProto
        kind = zeta_type.type_kind
        simple = {
            t.TYPE_BOOL: "bool_value",
            t.TYPE_INT64: "int64_value",
            t.TYPE_DOUBLE: "double_value",
            t.TYPE_STRING: "string_value",
            t.TYPE_BYTES: "bytes_value",
        }
        if kind in simple:
            name = simple[kind]
            return lambda v: Value() if v is None else Value(**{name: v})
        if kind == t.TYPE_DATE:
            return lambda v: Value() if v is None else Value(date_value=(v - _EPOCH).days)
        if kind == t.TYPE_TIMESTAMP:

            def timestamp(v):
                if v is None:
                    return Value()
                micros = (v - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
                    microseconds=1
                )
                seconds, rest = divmod(micros, 1_000_000)
                value = Value()
                value.timestamp_value.seconds = seconds
                value.timestamp_value.nanos = rest * 1000
                return value

            return timestamp
        if kind == t.TYPE_DATETIME:

            def datetime(v):
                if v is None:
                    return Value()
                value = Value()
                value.datetime_value.bit_field_datetime_seconds = (
                    v.year << 26
                    | v.month << 22
                    | v.day << 17
                    | v.hour << 12
                    | v.minute << 6
                    | v.second
                )
                value.datetime_value.nanos = v.microsecond * 1000
                return value

            return datetime
        if kind == t.TYPE_TIME:
            return lambda v: (
                Value()
                if v is None
                else Value(
                    time_value=v.hour << 42 | v.minute << 36 | v.second << 30 | v.microsecond * 1000
                )
            )
        if kind in (t.TYPE_NUMERIC, t.TYPE_BIGNUMERIC):
            scale = _NUMERIC_SCALE if kind == t.TYPE_NUMERIC else _BIGNUMERIC_SCALE
            field = "numeric_value" if kind == t.TYPE_NUMERIC else "bignumeric_value"
            return lambda v: Value() if v is None else Value(**{field: _scaled_bytes(v, scale)})
        if kind == t.TYPE_ARRAY:
            element = self._encoder(zeta_type.array_type.element_type)

            def array(v):
                if v is None:
                    return Value()
                value = Value()
                value.array_value.SetInParent()
                value.array_value.element.extend([element(x) for x in v])
                return value

            return array
        if kind == t.TYPE_STRUCT:
            fields = [
                (f.field_name, self._encoder(f.field_type)) for f in zeta_type.struct_type.field
            ]

            def struct(v):
                if v is None:
                    return Value()
                value = Value()
                value.struct_value.SetInParent()
                items = list(v.values()) if isinstance(v, dict) else list(v)
                value.struct_value.field.extend(
                    [encode(x) for (_, encode), x in zip(fields, items, strict=True)]
                )
                return value

            return struct
        raise TypeError(f"no conversion for {t.TypeKind.Name(kind)}")

    def _value(self, python, zeta_type):
        return self._encoder(zeta_type)(python)

    def _fill_content(self, content, table: pa.Table, catalog_table) -> None:
        data = content.table_data
        data.SetInParent()
        columns = []
        for column in catalog_table.column:
            encode = self._encoder(column.type)
            columns.append([encode(v) for v in table.column(column.name).to_pylist()])
        Row = self._service.TableData.Row
        data.row.extend([Row(cell=cells) for cells in zip(*columns, strict=True)])

    # -- statements -----------------------------------------------------------------------

    def analyze(
        self,
        sql: str,
        tables: Mapping[str, pa.Schema | pa.Table] | None = None,
        constants: Mapping[str, Any] | None = None,
    ) -> pa.Schema:
        """The output schema of a query statement as BigQuery resolves it over tables of these
        schemas (no data read). Raises `ReferenceError` (stage "analysis") where BigQuery
        rejects the statement."""
        schemas = {name: _schema(table) for name, table in (tables or {}).items()}
        catalog = self._catalog(schemas, constants or {})
        try:
            response = self._wasm.call(
                "PrepareQuery",
                self._service.PrepareQueryRequest(
                    sql=sql, options=self.analyzer_options, simple_catalog=catalog
                ),
                self._service.PrepareQueryResponse,
            )
        except _ServiceError as error:
            raise ReferenceError(str(error), "analysis") from None
        prepared = response.prepared
        self._unprepare(prepared.prepared_query_id)
        return pa.schema(_fields(prepared.columns, self.arrow_type))

    def run(
        self,
        sql: str,
        tables: Mapping[str, pa.Table] | None = None,
        constants: Mapping[str, Any] | None = None,
    ) -> pa.Table:
        """The rows of one BigQuery query statement over these tables (named as the statement
        names them, e.g. "bigquery-public-data.idc_v3.dicom_all" for that backquoted path), with
        `constants` as named values (a script's variables). Raises `ReferenceError`."""
        tables = dict(tables or {})
        constants = constants or {}
        # Only the columns the statement reads are loaded: converting values is the slow part.
        read = self._columns_read(sql, {name: t.schema for name, t in tables.items()}, constants)
        tables = {
            name: table.select(read.get(name) or table.column_names[:1])
            for name, table in tables.items()
        }
        catalog = self._catalog({name: t.schema for name, t in tables.items()}, constants)
        request = self._service.PrepareQueryRequest(
            sql=sql, options=self.analyzer_options, simple_catalog=catalog
        )
        for table, columns in zip(tables.values(), catalog.table, strict=True):
            self._fill_content(request.table_content[columns.name], table, columns)
        try:
            prepared = self._wasm.call(
                "PrepareQuery", request, self._service.PrepareQueryResponse
            ).prepared
        except _ServiceError as error:
            raise ReferenceError(str(error), "analysis") from None
        try:
            response = self._wasm.call(
                "EvaluateQuery",
                self._service.EvaluateQueryRequest(prepared_query_id=prepared.prepared_query_id),
                self._service.EvaluateQueryResponse,
            )
        except _ServiceError as error:
            raise ReferenceError(str(error), "evaluation") from None
        finally:
            self._unprepare(prepared.prepared_query_id)
        fields = _fields(prepared.columns, self.arrow_type)
        decoders = [self._decoder(c.type) for c in prepared.columns]
        rows = response.content.table_data.row
        arrays = [
            pa.array([decode(row.cell[i]) for row in rows], type=field.type)
            for i, (field, decode) in enumerate(zip(fields, decoders, strict=True))
        ]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def run_script(self, sql: str, tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """The result of a BigQuery script of the subset `engines.scripting` accepts (DECLARE,
        SET, EXECUTE IMMEDIATE, CREATE TEMP TABLE, a final SELECT), run here statement by
        statement: each variable's value is computed by the reference and passed to later
        statements as a named constant, each temporary table as a table. Unlike BigQuery, a
        variable holding a NULL ARRAY holds an empty one (values pass through a result)."""
        from idc_index_assets.engines.scripting import parse_script

        return self._script(parse_script(sql), dict(tables or {}), {}, {})

    def _script(self, statements, tables: dict, constants: dict, declared: dict) -> pa.Table:
        from idc_index_assets.engines.scripting import Kind, parse_script

        result = None
        for statement in statements:
            tree = statement.tree
            if statement.kind is Kind.DECLARE:
                for item in tree.expressions:
                    kind, default = item.args.get("kind"), item.args.get("default")
                    for name in item.this:
                        declared[name.name.lower()] = kind
                        constants[name.name] = self._variable(default, kind, tables, constants)
            elif statement.kind is Kind.SET:
                target, value = tree.expressions[0].this.this, tree.expressions[0].this.expression
                if isinstance(target, exp.Tuple):  # SET (a, b) = (SELECT AS STRUCT x, y)
                    row = self.run(value.this.sql(dialect="bigquery"), tables, constants)
                    for position, column in enumerate(target.expressions):
                        field = row.column(0).combine_chunks().field(position)[0]
                        kind = declared.get(column.name.lower())
                        constants[column.name] = self._variable(
                            None, kind, tables, {**constants, "_field": field}, "_field"
                        )
                else:
                    kind = declared.get(target.name.lower())
                    constants[target.name] = self._variable(value, kind, tables, constants)
            elif statement.kind is Kind.EXECUTE_IMMEDIATE:
                text = self._variable(tree, None, tables, constants).as_py()
                result = self._script(parse_script(text), tables, constants, declared)
            elif statement.kind is Kind.CREATE_TEMP_TABLE:
                select = tree.expression.sql(dialect="bigquery")
                tables[tree.this.name] = self.run(select, tables, constants)
            else:
                result = self.run(statement.text, tables, constants)
        return result

    def _variable(self, value, kind, tables, constants, name: str | None = None) -> pa.Scalar:
        """A script variable's value: `value` (a sqlglot expression, None for NULL) as the
        declared `kind`, evaluated by the reference."""
        text = name or (value.sql(dialect="bigquery") if value else "NULL")
        if kind is not None:
            text = f"CAST({text} AS {kind.sql(dialect='bigquery')})"
        return self.run(f"SELECT {text} AS v", tables, constants).column(0)[0]

    def _columns_read(
        self, sql: str, schemas: Mapping[str, pa.Schema], constants: Mapping[str, Any]
    ) -> dict[str, list[str]]:
        """The columns of each table that the statement reads (its resolved table scans)."""
        catalog = self._catalog(schemas, constants)
        try:
            response = self._wasm.call(
                "Analyze",
                self._service.AnalyzeRequest(
                    options=self.analyzer_options, simple_catalog=catalog, sql_statement=sql
                ),
                self._service.AnalyzeResponse,
            )
        except _ServiceError as error:
            raise ReferenceError(str(error), "analysis") from None
        read: dict[str, set[int]] = {}
        for scan in _table_scans(response.resolved_statement):
            read.setdefault(scan.table.name, set()).update(scan.column_index_list)
        return {
            name: [schemas[name].names[i] for i in sorted(indices)]
            for name, indices in read.items()
            if name in schemas
        }

    def _unprepare(self, prepared_query_id: int) -> None:
        from google.protobuf import empty_pb2

        self._wasm.call(
            "UnprepareQuery",
            self._service.UnprepareQueryRequest(prepared_query_id=prepared_query_id),
            empty_pb2.Empty,
        )

    # -- results --------------------------------------------------------------------------

    def arrow_type(self, zeta_type) -> pa.DataType:
        """The Arrow type of a ZetaSQL TypeProto (BigQuery's Arrow mapping)."""
        t = self._type_pb2
        kind = zeta_type.type_kind
        simple = {
            t.TYPE_BOOL: pa.bool_(),
            t.TYPE_INT64: pa.int64(),
            t.TYPE_DOUBLE: pa.float64(),
            t.TYPE_STRING: pa.string(),
            t.TYPE_BYTES: pa.binary(),
            t.TYPE_DATE: pa.date32(),
            t.TYPE_TIMESTAMP: pa.timestamp("us", tz="UTC"),
            t.TYPE_DATETIME: pa.timestamp("us"),
            t.TYPE_TIME: pa.time64("us"),
            t.TYPE_NUMERIC: pa.decimal128(38, _NUMERIC_SCALE),
            t.TYPE_BIGNUMERIC: pa.decimal256(76, _BIGNUMERIC_SCALE),
            t.TYPE_JSON: pa.string(),
        }
        if kind in simple:
            return simple[kind]
        if kind == t.TYPE_ARRAY:
            return pa.list_(self.arrow_type(zeta_type.array_type.element_type))
        if kind == t.TYPE_STRUCT:
            return pa.struct(
                [
                    pa.field(f.field_name, self.arrow_type(f.field_type))
                    for f in zeta_type.struct_type.field
                ]
            )
        raise TypeError(f"no Arrow type for BigQuery {t.TypeKind.Name(kind)}")

    def _decoder(self, zeta_type):
        t = self._type_pb2
        kind = zeta_type.type_kind
        simple = {
            t.TYPE_BOOL: "bool_value",
            t.TYPE_INT64: "int64_value",
            t.TYPE_DOUBLE: "double_value",
            t.TYPE_STRING: "string_value",
            t.TYPE_BYTES: "bytes_value",
            t.TYPE_JSON: "json_value",
        }

        def null_or(convert):
            return lambda v: None if v.WhichOneof("value") is None else convert(v)

        if kind in simple:
            name = simple[kind]
            return null_or(lambda v: getattr(v, name))
        if kind == t.TYPE_DATE:
            return null_or(lambda v: _EPOCH + dt.timedelta(days=v.date_value))
        if kind == t.TYPE_TIMESTAMP:
            return null_or(
                lambda v: (
                    dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                    + dt.timedelta(
                        seconds=v.timestamp_value.seconds,
                        microseconds=v.timestamp_value.nanos // 1000,
                    )
                )
            )
        if kind == t.TYPE_DATETIME:

            def datetime(v):
                bits = v.datetime_value.bit_field_datetime_seconds
                return dt.datetime(
                    bits >> 26,
                    bits >> 22 & 0xF,
                    bits >> 17 & 0x1F,
                    bits >> 12 & 0x1F,
                    bits >> 6 & 0x3F,
                    bits & 0x3F,
                    v.datetime_value.nanos // 1000,
                )

            return null_or(datetime)
        if kind == t.TYPE_TIME:
            return null_or(
                lambda v: dt.time(
                    v.time_value >> 42 & 0x1F,
                    v.time_value >> 36 & 0x3F,
                    v.time_value >> 30 & 0x3F,
                    (v.time_value & 0x3FFFFFFF) // 1000,
                )
            )
        if kind in (t.TYPE_NUMERIC, t.TYPE_BIGNUMERIC):
            scale = _NUMERIC_SCALE if kind == t.TYPE_NUMERIC else _BIGNUMERIC_SCALE
            field = "numeric_value" if kind == t.TYPE_NUMERIC else "bignumeric_value"
            return null_or(
                lambda v: decimal.Decimal(
                    int.from_bytes(getattr(v, field), "little", signed=True)
                ).scaleb(-scale)
            )
        if kind == t.TYPE_ARRAY:
            element = self._decoder(zeta_type.array_type.element_type)
            return lambda v: _written_array([element(x) for x in v.array_value.element])
        if kind == t.TYPE_STRUCT:
            fields = [
                (f.field_name, self._decoder(f.field_type)) for f in zeta_type.struct_type.field
            ]
            # a tuple: a STRUCT's fields may be anonymous or share a name
            return null_or(
                lambda v: tuple(
                    decode(x) for (_, decode), x in zip(fields, v.struct_value.field, strict=True)
                )
            )
        raise TypeError(f"no conversion for BigQuery {t.TypeKind.Name(kind)}")


def _table_scans(message):
    """Every ResolvedTableScan in a resolved AST."""
    if type(message).__name__ == "ResolvedTableScanProto":
        yield message
        return
    for _, value in message.ListFields():
        if hasattr(value, "ListFields"):
            yield from _table_scans(value)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            for item in value:
                if hasattr(item, "ListFields"):
                    yield from _table_scans(item)


def _written_array(values: list) -> list:
    """An ARRAY as BigQuery writes it into a query result: NULL becomes an empty array, a NULL
    element is an error (arrays page, "NULL and empty arrays"; ARRAY_AGG)."""
    if any(value is None for value in values):
        raise ReferenceError("Array cannot have a null element; error in writing field", "result")
    return values


def _fields(columns, arrow_type) -> list[pa.Field]:
    """Output columns as BigQuery names them: an anonymous column is f0_, f1_, ..."""
    fields, anonymous = [], 0
    for column in columns:
        name = column.name
        if not name or name.startswith("$"):
            name, anonymous = f"f{anonymous}_", anonymous + 1
        fields.append(pa.field(name, arrow_type(column.type)))
    return fields


def _excluded(feature: str) -> bool:
    return feature in _NOT_IN_BIGQUERY or feature.startswith(_NOT_IN_BIGQUERY_PREFIXES)


def _schema(table: pa.Schema | pa.Table) -> pa.Schema:
    return table if isinstance(table, pa.Schema) else table.schema


def _scaled_bytes(value: decimal.Decimal | int | float, scale: int) -> bytes:
    """ZetaSQL's NUMERIC/BIGNUMERIC encoding: the value times 10^scale, two's complement,
    little-endian, as few bytes as hold it."""
    scaled = int(decimal.Decimal(value).scaleb(scale))
    return scaled.to_bytes((scaled.bit_length() + 8) // 8 or 1, "little", signed=True)


_SHARED_LOCK = threading.Lock()


def shared_engine() -> ReferenceEngine | None:
    """The process's one reference engine, or None where the `zetasql` package (the `reference`
    extra) is not installed."""
    try:
        import zetasql  # noqa: F401
    except ImportError:
        return None
    with _SHARED_LOCK:  # threads loading queries at once start one engine, not several
        return _shared()


@functools.cache
def _shared() -> ReferenceEngine:
    # Dropped before the interpreter tears its modules down: wasmtime's finalizers need them
    # (else every exit prints "TypeError: 'NoneType' object is not callable" tracebacks).
    atexit.register(_drop_shared)
    return ReferenceEngine()


def _drop_shared() -> None:
    _shared.cache_clear()
    gc.collect()
