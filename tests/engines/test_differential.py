"""Differential testing: generated BigQuery statements run on the embedded engine (its public
transpile-and-run path) and on BigQuery's reference implementation (ZetaSQL's reference
evaluator, `engines.reference`). Each statement's outcome is one of:

- same rows (order-insensitive unless the statement orders them);
- both fail (the same statement is an error in BigQuery and in the engine);
- the engine refuses it with its own clear error (a sqlglot UnsupportedError): counted;
- the engine fails with a raw DuckDB error where the reference answers: a failure;
- different rows: a failure, shown as the minimal statement hypothesis shrinks to.

Values are the ones that break engines: NULL, NaN, ±inf, -0.0, INT64's bounds, empty and NULL
arrays, empty strings, non-ASCII text, invalid UTF-8 bytes, NUMERIC's edges, dates at 0001 and
9999. CI runs a fixed seed and `DIFFTEST_EXAMPLES` statements (default 60); `make difftest` runs
many more and prints the figures (docs/engines.md).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
from collections import Counter

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot.errors import SqlglotError

from idc_index_assets.engines.duckdb import connect, run_statement
from idc_index_assets.engines.reference import ReferenceError

EXAMPLES = int(os.environ.get("DIFFTEST_EXAMPLES", "60"))
# DIFFTEST_SURVEY=1: check every statement and list the differences instead of stopping at the
# first (shrunk) one
SURVEY = os.environ.get("DIFFTEST_SURVEY") == "1"

NAN, INF = "CAST('nan' AS FLOAT64)", "CAST('inf' AS FLOAT64)"
VALUES = {
    "INT64": st.sampled_from(
        ["0", "1", "-1", "7", "9223372036854775807", "-9223372036854775807", "CAST(NULL AS INT64)"]
    ),
    "FLOAT64": st.sampled_from(
        [
            "0.0",
            "-0.0",
            "1.5",
            "-2.5",
            "1e308",
            "1e-300",
            NAN,
            INF,
            f"-{INF}",
            "CAST(NULL AS FLOAT64)",
        ]
    ),
    "NUMERIC": st.sampled_from(
        [
            "NUMERIC '0'",
            "NUMERIC '3.14159'",
            "NUMERIC '-1.000000001'",
            "NUMERIC '99999999999999999999999999999.999999999'",
            "CAST(NULL AS NUMERIC)",
        ]
    ),
    "STRING": st.sampled_from(
        ["''", "'abc'", "'Ünïcödé €'", "' x '", "'a%_b'", "CAST(NULL AS STRING)"]
    ),
    "BYTES": st.sampled_from(
        ["b''", "b'abc'", "b'\\xE2\\x82\\xAC'", "b'\\xFF'", "CAST(NULL AS BYTES)"]
    ),
    "DATE": st.sampled_from(
        ["DATE '0001-01-01'", "DATE '9999-12-31'", "DATE '2024-02-29'", "CAST(NULL AS DATE)"]
    ),
    "TIME": st.sampled_from(["TIME '12:34:56.789'", "TIME '00:00:00'", "TIME '23:59:59.999999'"]),
    "TIMESTAMP": st.sampled_from(
        [
            "TIMESTAMP '0001-01-01 00:00:00+00'",
            "TIMESTAMP '9999-12-31 23:59:59.999999+00'",
            "TIMESTAMP '2024-03-10 07:00:00.5 America/New_York'",
            "TIMESTAMP '2024-11-03 01:30:00 America/New_York'",
        ]
    ),
    "BOOL": st.sampled_from(["TRUE", "FALSE", "CAST(NULL AS BOOL)"]),
}

# Function families of the conformance groups: (template, argument types); {0}, {1}, ... are
# the arguments.
SCALAR = [
    # operators and NULL
    ("{0} + {1}", ("INT64", "INT64")),
    ("{0} * {1}", ("FLOAT64", "FLOAT64")),
    ("{0} / {1}", ("FLOAT64", "FLOAT64")),
    ("{0} - {1}", ("FLOAT64", "INT64")),
    ("{0} = {1}", ("FLOAT64", "FLOAT64")),
    ("{0} < {1}", ("FLOAT64", "FLOAT64")),
    ("{0} != {1}", ("FLOAT64", "FLOAT64")),
    ("{0} >= {1}", ("FLOAT64", "INT64")),
    ("{0} = {1}", ("STRING", "STRING")),
    ("{0} IS NULL", ("FLOAT64",)),
    ("IFNULL({0}, {1})", ("INT64", "INT64")),
    # mathematical functions
    ("POW({0}, {1})", ("FLOAT64", "INT64")),
    ("LEAST({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("GREATEST({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("IS_NAN({0})", ("FLOAT64",)),
    ("IEEE_DIVIDE({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("{0} + {1}", ("NUMERIC", "NUMERIC")),
    ("{0} = {1}", ("NUMERIC", "NUMERIC")),
    # conversion
    ("CAST({0} AS NUMERIC)", ("INT64",)),
    ("SAFE_CAST({0} AS INT)", ("STRING",)),
    ("CAST({0} AS STRING)", ("INT64",)),
    ("SAFE_CAST({0} AS STRING)", ("BYTES",)),
    ("CAST({0} AS BYTES)", ("STRING",)),
    ("CAST({0} AS STRING)", ("NUMERIC",)),
    ("CAST({0} AS STRING)", ("DATE",)),
    # strings
    ("LEFT({0}, {1})", ("STRING", "INT64")),
    ("RIGHT({0}, {1})", ("STRING", "INT64")),
    ("SAFE.LEFT({0}, {1})", ("STRING", "INT64")),
    ("SAFE.REPEAT({0}, {1})", ("STRING", "INT64")),
    ("LENGTH({0})", ("STRING",)),
    ("UPPER({0})", ("STRING",)),
    ("CONCAT({0}, {1})", ("STRING", "STRING")),
    ("STARTS_WITH({0}, {1})", ("STRING", "STRING")),
    # dates and times
    ("EXTRACT(YEAR FROM {0})", ("DATE",)),
    ("EXTRACT(MILLISECOND FROM {0})", ("TIME",)),
    ("EXTRACT(MICROSECOND FROM {0})", ("TIME",)),
    # structs
    ("STRUCT({0} AS a, {1} AS b) = STRUCT({0} AS c, {1} AS d)", ("INT64", "FLOAT64")),
    ("TIMESTAMP_ADD({0}, INTERVAL {1} MICROSECOND)", ("TIMESTAMP", "INT64")),
    ("DATE_ADD({0}, INTERVAL {1} DAY)", ("DATE", "INT64")),
    ("DATE_DIFF({0}, {1}, DAY)", ("DATE", "DATE")),
    ("CAST({0} AS STRING)", ("TIMESTAMP",)),
    ("EXTRACT(HOUR FROM {0})", ("TIMESTAMP",)),
    # conditional
    ("IF({0}, {1}, {2})", ("BOOL", "INT64", "INT64")),
    ("COALESCE({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("NULLIF({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("CASE WHEN {0} THEN {1} ELSE {2} END", ("BOOL", "FLOAT64", "FLOAT64")),
    ("{0} IN ({1}, 1.5)", ("FLOAT64", "FLOAT64")),
    # the functions of queries/
    ("ABS({0})", ("FLOAT64",)),
    ("ABS({0})", ("INT64",)),
    ("ACOS({0})", ("FLOAT64",)),
    ("SQRT({0})", ("FLOAT64",)),
    ("LOG({0}, 10)", ("FLOAT64",)),
    ("FLOOR({0})", ("FLOAT64",)),
    ("ROUND({0}, 2)", ("FLOAT64",)),
    ("ROUND({0})", ("NUMERIC",)),
    ("SAFE_DIVIDE({0}, {1})", ("FLOAT64", "FLOAT64")),
    ("SAFE_DIVIDE({0}, {1})", ("INT64", "INT64")),
    ("CAST({0} AS INT64)", ("FLOAT64",)),
    ("SAFE_CAST({0} AS INT64)", ("FLOAT64",)),
    ("CAST({0} AS FLOAT64)", ("NUMERIC",)),
    ("SAFE_CAST({0} AS FLOAT64)", ("STRING",)),
    ("REGEXP_CONTAINS({0}, r'[a-c]')", ("STRING",)),
    ("REGEXP_EXTRACT({0}, r'([a-z]+)')", ("STRING",)),
    ("{0} LIKE {1}", ("STRING", "STRING")),
    ("ARRAY_LENGTH([{0}, {1}])", ("INT64", "INT64")),
    ("ARRAY_TO_STRING([{0}, {1}], '/')", ("STRING", "STRING")),
    ("[{0}, {1}][SAFE_OFFSET(1)]", ("FLOAT64", "FLOAT64")),
    ("GENERATE_ARRAY(1, 3, {0})", ("INT64",)),
]
AGGREGATE = [
    "MIN(x)",
    "MAX(x)",
    "COUNT(x)",
    "COUNTIF(x > 0)",
    "COUNT(DISTINCT x)",
    "SUM(x)",
    "AVG(x)",
    "LOGICAL_OR(x > 1)",
    "ARRAY_AGG(x IGNORE NULLS ORDER BY x)",
    "ARRAY_LENGTH(ARRAY_AGG(x IGNORE NULLS))",
    "STRING_AGG(CAST(x AS STRING), ',' ORDER BY x)",
]
ARRAY_TYPES = ("INT64", "FLOAT64", "STRING")


@st.composite
def statements(draw) -> str:
    shape = draw(st.sampled_from(["scalar", "aggregate", "order", "window", "empty"]))
    if shape == "scalar":
        template, types = draw(st.sampled_from(SCALAR))
        return "SELECT " + template.format(*(draw(VALUES[t]) for t in types))
    element = draw(st.sampled_from(ARRAY_TYPES))
    if shape == "empty":
        aggregate = draw(st.sampled_from(AGGREGATE))
        return f"SELECT {aggregate} FROM UNNEST(ARRAY<{element}>[]) AS x"
    items = draw(st.lists(VALUES[element], min_size=1, max_size=4))
    source = f"UNNEST(ARRAY<{element}>[{', '.join(items)}]) AS x"
    if shape == "aggregate":
        if element == "STRING":
            return f"SELECT MIN(x), MAX(x), COUNT(x) FROM {source}"
        return f"SELECT {draw(st.sampled_from(AGGREGATE))} FROM {source}"
    if shape == "order":
        direction = draw(st.sampled_from(["", " DESC", " NULLS LAST"]))
        return f"SELECT x FROM {source} ORDER BY x{direction}"
    window = draw(
        st.sampled_from(
            [
                "LAG(x) OVER (ORDER BY x)",
                "LEAD(x, 1) OVER (ORDER BY x)",
                "COUNT(x) OVER ()",
                "MIN(x) OVER ()",
                "ROW_NUMBER() OVER (ORDER BY x)",
                "RANK() OVER (ORDER BY x)",
                "FIRST_VALUE(x) OVER (ORDER BY x)",
            ]
        )
    )
    # no ORDER BY: rows of tied x may come in any order, their multiset is the result
    return f"SELECT x, {window} FROM {source}"


def _normal(value):
    """One value as a comparable Python value (NaN equal to NaN, -0.0 to 0.0, NUMERIC exact)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value + 0.0
    if isinstance(value, decimal.Decimal):
        return value.normalize() if value == value else "nan"
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(_normal(v) for v in value.values())
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _rows(rows, ordered: bool) -> list:
    normal = [tuple(_normal(v) for v in row) for row in rows]
    return normal if ordered else sorted(normal, key=repr)


class Outcomes:
    """Counts of the outcome classes over the statements checked (for the docs' figures)."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.found: dict[str, str] = {}

    def figures(self) -> str:
        total = sum(self.counts.values()) or 1
        parts = ", ".join(
            f"{name} {count} ({100 * count / total:.1f}%)"
            for name, count in sorted(self.counts.items())
        )
        return f"{total} statements: {parts}"


def outcome(sql: str, connection: duckdb.DuckDBPyConnection, reference) -> tuple[str, str]:
    """The outcome class of one statement and, for a failure, what differs."""
    try:
        table = reference.run(sql)
        bigquery_error = None
    except ReferenceError as error:
        expected, bigquery_error = None, str(error)
    except pa.ArrowException as error:  # a value the reference's Arrow conversion cannot hold
        return "reference cannot convert", str(error)
    else:
        expected = [tuple(row.values()) for row in table.to_pylist()]
    try:
        actual = run_statement(connection, sql, _no_tables).fetchall()
        engine_error = None
    except SqlglotError as error:
        return ("both fail" if bigquery_error else "refused"), str(error)
    except duckdb.Error as error:
        actual, engine_error = None, str(error).splitlines()[0]
    if bigquery_error and engine_error:
        return "both fail", ""
    if engine_error:
        if "Invalid Input Error" in engine_error and not bigquery_error:
            return "different", f"engine fails ({engine_error}), BigQuery gives {expected}"
        return "raw DuckDB error", f"{engine_error}; BigQuery gives {expected}"
    if bigquery_error:
        return "different", f"BigQuery fails ({bigquery_error}), engine gives {actual}"
    ordered = " ORDER BY " in sql
    if _rows(actual, ordered) == _rows(expected, ordered):
        return "same rows", ""
    return "different", f"BigQuery gives {expected}, engine gives {actual}"


def _no_tables(table):
    raise AssertionError(f"a generated statement reads no table, got {table}")


@pytest.fixture(scope="module")
def connection():
    with connect() as con:
        yield con


FAILURES = ("different", "raw DuckDB error")


def test_generated_statements_give_the_reference_rows(connection, reference):
    outcomes = Outcomes()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(statements())
    def check(sql):
        kind, detail = outcome(sql, connection, reference)
        outcomes.counts[kind] += 1
        if SURVEY:
            if kind in FAILURES or kind == "refused":
                outcomes.found.setdefault(f"{kind}: {sql}", detail)
            return
        assert kind not in FAILURES, f"{kind}: {sql}\n{detail}"

    try:
        check()
    finally:
        print(f"\ndifferential test: {outcomes.figures()}")
        for statement, detail in outcomes.found.items():
            print(f"{statement}\n    {detail}")
