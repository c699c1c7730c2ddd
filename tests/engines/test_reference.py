"""The reference engine (ZetaSQL set up as BigQuery): Arrow in, Arrow out, BigQuery's errors."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pyarrow as pa
import pytest

from idc_index_assets.engines.reference import ReferenceEngine, ReferenceError

UTC = dt.UTC


def test_scalars_of_every_bigquery_type_come_back_as_arrow(reference: ReferenceEngine):
    result = reference.run(
        "SELECT 1 AS i, 1.5 AS f, 'é' AS s, b'\\xff' AS b, TRUE AS t,"
        " CAST(3.14159 AS NUMERIC) AS n, CAST('-1.5' AS BIGNUMERIC) AS bn, DATE '0001-01-01' AS d,"
        " TIMESTAMP '2020-01-02 03:04:05.678901+00' AS ts, DATETIME '9999-12-31 23:59:59.999999'"
        " AS dtm, TIME '12:34:56.789' AS tm"
    )
    assert result.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("s", pa.string()),
            ("b", pa.binary()),
            ("t", pa.bool_()),
            ("n", pa.decimal128(38, 9)),
            ("bn", pa.decimal256(76, 38)),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("dtm", pa.timestamp("us")),
            ("tm", pa.time64("us")),
        ]
    )
    assert result.to_pylist() == [
        {
            "i": 1,
            "f": 1.5,
            "s": "é",
            "b": b"\xff",
            "t": True,
            "n": Decimal("3.14159"),
            "bn": Decimal("-1.5"),
            "d": dt.date(1, 1, 1),
            "ts": dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            "dtm": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
            "tm": dt.time(12, 34, 56, 789000),
        }
    ]


def test_nested_arrow_tables_round_trip_through_the_evaluator(reference: ReferenceEngine):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3]),
            "s": pa.array(
                [{"x": [1, 2], "y": "q"}, None, {"x": None, "y": None}],
                pa.struct([("x", pa.list_(pa.int64())), ("y", pa.string())]),
            ),
            "n": pa.array([Decimal("1.5"), Decimal("-2.000000001"), None], pa.decimal128(38, 9)),
            "ts": pa.array(
                [dt.datetime(2020, 1, 1, tzinfo=UTC), None, None], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    name = "bigquery-public-data.idc_v3.t"
    result = reference.run(f"SELECT * FROM `{name}` ORDER BY id", {name: table})
    assert result.schema == table.schema
    # BigQuery writes a NULL array as an empty one
    assert result.column("s").to_pylist() == [{"x": [1, 2], "y": "q"}, None, {"x": [], "y": None}]
    assert result.drop_columns("s").equals(table.drop_columns("s"))
    doubled = reference.run(f"SELECT n * 2 AS n FROM `{name}` ORDER BY id", {name: table})
    assert doubled.column("n").to_pylist() == [Decimal("3"), Decimal("-4.000000002"), None]


def test_results_are_written_as_bigquery_writes_them(reference: ReferenceEngine):
    assert reference.run("SELECT CAST(NULL AS ARRAY<INT64>) AS a").to_pylist() == [{"a": []}]
    with pytest.raises(ReferenceError, match="null element") as raised:
        reference.run("SELECT [1, NULL] AS a")
    assert raised.value.stage == "result"
    # inside the query a NULL element is a value like any other
    assert reference.run("SELECT ARRAY_LENGTH([1, NULL]) AS n").to_pylist() == [{"n": 2}]


def test_anonymous_columns_and_fields_are_named_as_bigquery_names_them(reference):
    result = reference.run("SELECT 1 AS a, 2, STRUCT(3, 4)")
    assert result.column_names == ["a", "f0_", "f1_"]
    assert result.column("f1_").type == pa.struct([("", pa.int64()), ("", pa.int64())])


def test_bigquery_settings_aliases_utc_and_constants(reference: ReferenceEngine):
    assert reference.run("SELECT SAFE_CAST('2.5' AS INT) AS i").column("i").to_pylist() == [None]
    assert reference.run("SELECT CAST(7 AS BYTEINT) AS i").schema.field("i").type == pa.int64()
    hour = reference.run("SELECT EXTRACT(HOUR FROM TIMESTAMP '2020-01-01 05:00:00') AS h")
    assert hour.column("h").to_pylist() == [5]
    assert reference.run("SELECT v + 1 AS w", constants={"v": 41}).to_pylist() == [{"w": 42}]


@pytest.mark.parametrize(
    ("sql", "stage", "message"),
    [
        # BigQuery: ARRAY is neither orderable nor comparable (ZetaSQL's maximum set allows both)
        ("SELECT a FROM UNNEST([STRUCT([1] AS a)]) ORDER BY a", "analysis", "ORDER BY"),
        ("SELECT [1] = [1]", "analysis", "Equality is not defined"),
        ("SELECT CAST(1 AS INT32)", "analysis", "Type not found"),
        ("SELECT 1e300 / 1e-300", "evaluation", "overflow"),
        ("SELECT LAG(x, -1) OVER (ORDER BY x) FROM UNNEST([1, 2]) AS x", "evaluation", "LAG"),
    ],
)
def test_what_bigquery_rejects_is_a_reference_error(reference, sql, stage, message):
    with pytest.raises(ReferenceError, match=message) as raised:
        reference.run(sql)
    assert raised.value.stage == stage


def test_an_analysis_error_gives_line_and_column(reference: ReferenceEngine):
    with pytest.raises(ReferenceError) as raised:
        reference.analyze("SELECT\n  1,\n  no_such_function(2)")
    assert (raised.value.line, raised.value.column) == (3, 3)


def test_analyze_gives_the_output_schema_without_data(reference: ReferenceEngine):
    schema = pa.schema([("a", pa.int64()), ("l", pa.list_(pa.string()))])
    out = reference.analyze("SELECT a / 2 AS half, ARRAY_LENGTH(l) AS n FROM t", {"t": schema})
    assert out == pa.schema([("half", pa.float64()), ("n", pa.int64())])


def test_threads_may_share_one_engine(reference: ReferenceEngine):
    # Queries load in threads (two IDC versions built at once): the wasm store must take turns.
    schema = pa.schema([("a", pa.int64())])
    with ThreadPoolExecutor(4) as pool:
        found = list(
            pool.map(
                lambda n: reference.analyze(f"SELECT a + {n} AS b FROM t", {"t": schema}),
                range(40),
            )
        )
    assert found == [pa.schema([("b", pa.int64())])] * 40


def test_a_second_engine_starts_from_the_compiled_module_cache(reference: ReferenceEngine):
    assert list(reference.cache_dir.glob("zetasql-*.cwasm"))
    again = ReferenceEngine(cache_dir=reference.cache_dir)
    assert again.run("SELECT 1 AS one").to_pylist() == [{"one": 1}]
