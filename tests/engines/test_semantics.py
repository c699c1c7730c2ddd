"""BigQuery SQL run through the DuckDB engine's transpile step gives BigQuery's results.

Each expectation is BigQuery's documented result (the rule is cited beside it), not what the
transpiled SQL happens to return; the SQL runs in a real DuckDB connection.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.base import EngineError
from idc_index_assets.engines.duckdb import DuckDBEngine, connect
from idc_index_assets.engines.semantics import transpile_to_duckdb


def no_tables(table):
    raise AssertionError(f"no table expected, got {table}")


def run(sql: str) -> duckdb.DuckDBPyRelation:
    return connect().sql(transpile_to_duckdb(sql, no_tables))


def rows(sql: str) -> list[tuple]:
    return run(sql).fetchall()


def row(sql: str) -> tuple:
    (only,) = rows(sql)
    return only


def engine_rows(tmp_path: Path, sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """Run `sql` with the real DuckDBEngine over the given tables (written as Parquet)."""
    local = {}
    for name, table in tables.items():
        local[name] = tmp_path / f"{name}.parquet"
        pq.write_table(table, local[name])
    with DuckDBEngine(tmp_path).run(sql, query_file="queries/q.sql", local_tables=local) as run_:
        return run_.batches.read_all()


# 1. ARRAY_AGG(x IGNORE NULLS)


def test_array_agg_ignore_nulls_drops_null_elements():
    # BigQuery ARRAY_AGG: "IGNORE NULLS: NULL values are excluded from the result".
    assert row("SELECT ARRAY_AGG(x IGNORE NULLS) FROM UNNEST([1, NULL, 2]) AS x") == ([1, 2],)
    assert row(
        "SELECT ARRAY_AGG(DISTINCT x IGNORE NULLS ORDER BY x) FROM UNNEST(['b', NULL, 'a', 'b']) x"
    ) == (["a", "b"],)


# 2. ARRAY_AGG(x ORDER BY y LIMIT n)


def test_array_agg_order_by_limit_keeps_the_first_n():
    # BigQuery ARRAY_AGG: ORDER BY orders the elements; "LIMIT: Specifies the maximum number of
    # expression inputs in the result", applied after ORDER BY (and after IGNORE NULLS).
    assert row("SELECT ARRAY_AGG(x ORDER BY x DESC LIMIT 2) FROM UNNEST([1, 3, 2]) AS x") == (
        [3, 2],
    )
    assert row(
        "SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY x LIMIT 2) FROM UNNEST([3, NULL, 1, 2]) AS x"
    ) == ([1, 2],)
    assert row(
        "SELECT ARRAY_AGG(DISTINCT x ORDER BY x LIMIT 2) FROM UNNEST([3, 1, 3, 1, 2]) AS x"
    ) == ([1, 2],)


def test_array_agg_limit_per_group():
    sql = """
        WITH t AS (
          SELECT 'a' AS g, 3 AS v UNION ALL SELECT 'a', 1 UNION ALL SELECT 'a', 2
          UNION ALL SELECT 'b', 5
        )
        SELECT g, ARRAY_AGG(v ORDER BY v LIMIT 2) AS first_two FROM t GROUP BY g ORDER BY g
    """
    assert rows(sql) == [("a", [1, 2]), ("b", [5])]


# 3. STRING_AGG(DISTINCT x ORDER BY x)


def test_string_agg_distinct_ordered_ignores_nulls():
    # BigQuery STRING_AGG: concatenates the non-NULL values, default delimiter ","; with DISTINCT
    # each value once, in ORDER BY order.
    values = "UNNEST(['b', 'a', NULL, 'b', 'c']) AS x"
    assert row(f"SELECT STRING_AGG(DISTINCT x ORDER BY x) FROM {values}") == ("a,b,c",)
    assert row(f"SELECT STRING_AGG(DISTINCT x, ' | ' ORDER BY x DESC) FROM {values}") == (
        "c | b | a",
    )
    # the form idc_index uses: the distinct values of a cast, ordered by the same cast
    assert row(
        "SELECT STRING_AGG(DISTINCT CAST(x AS STRING), ',' ORDER BY CAST(x AS STRING)) "
        "FROM UNNEST([2, NULL, 10, 2]) AS x"
    ) == ("10,2",)


def test_distinct_aggregate_ordered_by_an_argument_that_can_fail():
    # BigQuery aggregate ORDER BY with DISTINCT: "the sort key must be the same as the
    # expression"; ERROR() in it fails only for the rows that reach it.
    case = "CASE x WHEN 1 THEN 'one' WHEN 0 THEN 'zero' ELSE ERROR(CONCAT('bad ', CAST(x AS STRING))) END"
    sql = f"SELECT STRING_AGG(DISTINCT {case}, ',' ORDER BY {case}) FROM UNNEST(__values__) AS x"
    assert row(sql.replace("__values__", "[1, 0, 1]")) == ("one,zero",)
    with pytest.raises(duckdb.Error, match="bad 7"):
        rows(sql.replace("__values__", "[1, 7]"))


# 4. SAFE_CAST / CAST to INT64


def test_safe_cast_string_to_int64_follows_bigquery():
    # BigQuery conversion rules, STRING to INT64: the string must be an integer literal (decimal,
    # or hex with 0x, optionally signed); leading and trailing whitespace is allowed. A fraction
    # or an exponent is not an integer: SAFE_CAST gives NULL there, as for 'abc' or an overflow.
    assert row(
        "SELECT SAFE_CAST('20.5' AS INT64), SAFE_CAST('21' AS INT64), SAFE_CAST(' 7 ' AS INT64),"
        " SAFE_CAST('abc' AS INT64), SAFE_CAST('+5' AS INT64), SAFE_CAST('-12' AS INT64),"
        " SAFE_CAST('0x1A' AS INT64), SAFE_CAST('-0x1A' AS INT64), SAFE_CAST('1e3' AS INT64),"
        " SAFE_CAST('99999999999999999999' AS INT64), SAFE_CAST('' AS INT64),"
        " SAFE_CAST(NULL AS INT64)"
    ) == (None, 21, 7, None, 5, -12, 26, -26, None, None, None, None)


def test_safe_cast_string_column_to_int64():
    sql = "SELECT SAFE_CAST(s AS INT64) FROM UNNEST(['20.5', '21', ' 7 ', 'abc', NULL]) AS s"
    assert [value for (value,) in rows(sql)] == [None, 21, 7, None, None]


def test_cast_float_to_int64_rounds_halfway_away_from_zero():
    # BigQuery conversion rules, FLOAT64/NUMERIC to INT64: "Returns the closest integer value.
    # Halfway cases such as 1.5 or -0.5 round away from zero." (DuckDB rounds them to even.)
    assert row(
        "SELECT CAST(2.5 AS INT64), CAST(-2.5 AS INT64), CAST(0.5 AS INT64),"
        " SAFE_CAST(-0.5 AS INT64), CAST(CAST('2.5' AS NUMERIC) AS INT64), CAST(7 AS INT64)"
    ) == (3, -3, 1, -1, 3, 7)
    sql = "SELECT CAST(CAST(s AS FLOAT64) AS INT64) FROM UNNEST(['2.5', '-1.5', '0.4']) AS s"
    assert [value for (value,) in rows(sql)] == [3, -2, 0]


def test_cast_of_a_non_integer_string_to_int64_fails():
    # BigQuery CAST: "Casts between supported types that do not successfully map from the
    # original value to the target domain produce runtime errors" (here: Bad int64 value).
    with pytest.raises(duckdb.Error, match=r"Bad int64 value: 20\.5"):
        rows("SELECT CAST('20.5' AS INT64)")
    with pytest.raises(duckdb.Error, match="Bad int64 value: x1"):
        rows("SELECT CAST(s AS INT64) FROM UNNEST(['1', 'x1']) AS s")
    assert rows("SELECT CAST(s AS INT64) FROM UNNEST(['1', NULL]) AS s") == [(1,), (None,)]


# 5. ROUND(x, <INT64 expression>)


def test_round_with_an_int64_precision_expression():
    # BigQuery ROUND(X, N): rounds X to N decimal places; FLOAT64 in, FLOAT64 out.
    result = run("SELECT ROUND(2.567, CAST(2 AS INT64)) AS r")
    assert result.types == ["DOUBLE"]
    assert result.fetchall() == [(2.57,)]
    sql = """
        WITH t AS (SELECT 2.567 AS x, 1 AS n UNION ALL SELECT 2.567, 2)
        SELECT ROUND(x, n) FROM t ORDER BY n
    """
    assert rows(sql) == [(2.6,), (2.57,)]


# 6. ORDER BY beside an ARRAY(SELECT ...) alias


def test_order_by_an_alias_beside_an_array_subquery():
    # BigQuery orders by an output alias; ARRAY(subquery) keeps the subquery's ORDER BY.
    # (ORDER BY an ARRAY itself is not allowed in BigQuery, so it is not tested.)
    sql = """
        WITH t AS (SELECT 1 AS id, [3, 1, 2] AS xs UNION ALL SELECT 2, [9, 0])
        SELECT
          id AS k,
          ARRAY(SELECT v FROM UNNEST(xs) AS v ORDER BY v) AS sorted,
          ARRAY_LENGTH(xs) AS n
        FROM t
        ORDER BY n DESC, k
    """
    assert rows(sql) == [(1, [1, 2, 3], 3), (2, [0, 9], 2)]


def test_array_subquery_over_an_engine_table(tmp_path):
    table = pa.table({"id": [1, 2], "xs": [["b", "a"], ["c"]]})
    sql = """
        SELECT id AS series, ARRAY(SELECT x FROM UNNEST(t.xs) AS x ORDER BY x DESC) AS desc_xs
        FROM t
        ORDER BY series DESC
    """
    result = engine_rows(tmp_path, sql, {"t": table})
    assert result.to_pylist() == [
        {"series": 2, "desc_xs": ["c"]},
        {"series": 1, "desc_xs": ["b", "a"]},
    ]


# 7. NULL ordering


def test_nulls_come_first_ascending_and_last_descending():
    # BigQuery ORDER BY: "NULLS FIRST is the default for ascending order, NULLS LAST for
    # descending order" (and inside aggregate ORDER BY and window ORDER BY alike).
    values = "UNNEST([2, NULL, 1]) AS x"
    assert [v for (v,) in rows(f"SELECT x FROM {values} ORDER BY x")] == [None, 1, 2]
    assert [v for (v,) in rows(f"SELECT x FROM {values} ORDER BY x DESC")] == [2, 1, None]
    assert rows(f"SELECT x, ROW_NUMBER() OVER (ORDER BY x) FROM {values} ORDER BY 2") == [
        (None, 1),
        (1, 2),
        (2, 3),
    ]
    keyed = """
        WITH t AS (SELECT 'a' AS name, 2 AS k UNION ALL SELECT 'b', NULL UNION ALL SELECT 'c', 1)
    """
    assert row(f"{keyed} SELECT ARRAY_AGG(name ORDER BY k) FROM t") == (["b", "c", "a"],)
    assert row(f"{keyed} SELECT ARRAY_AGG(name ORDER BY k DESC) FROM t") == (["a", "c", "b"],)
    assert row(f"{keyed} SELECT STRING_AGG(name, '' ORDER BY k) FROM t") == ("bca",)


# 8. Literals with a fraction are FLOAT64


def test_literals_with_a_fraction_are_float64():
    # BigQuery lexical structure: a numeric literal with a decimal point or an exponent is a
    # floating point (FLOAT64) literal; `/` on INT64 and FLOAT64 returns FLOAT64.
    result = run("SELECT 10.0 / 4 AS x, 1.5 * n AS y, 0.5 AS z, 1e3 AS w FROM UNNEST([3]) AS n")
    assert result.types == ["DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"]
    assert result.fetchall() == [(2.5, 4.5, 0.5, 1000.0)]


def test_float64_literal_output_type_through_the_engine(tmp_path):
    table = pa.table({"n": pa.array([2], pa.int64())})
    result = engine_rows(tmp_path, "SELECT 1.5 * n AS y, n / 1000000. AS mb FROM t", {"t": table})
    assert result.schema.field("y").type == pa.float64()
    assert result.to_pylist() == [{"y": 3.0, "mb": 2e-06}]


# 9. ERROR()


def test_error_raises_with_its_message_naming_the_query_file(tmp_path):
    # BigQuery ERROR(msg): "Returns an error" with the message, for the rows that reach it.
    table = pa.table({"uid": ["1.2.3", "9.9"]})
    sql = """
        SELECT CASE uid WHEN '1.2.3' THEN 'known' ELSE ERROR(CONCAT('no name for ', uid)) END AS n
        FROM t
    """
    with pytest.raises(EngineError, match=r"queries/q\.sql: .*no name for 9\.9"):
        engine_rows(tmp_path, sql, {"t": table})
    assert engine_rows(tmp_path, sql, {"t": table.slice(0, 1)}).to_pylist() == [{"n": "known"}]


# 10. Functions the index queries use


def test_concat_with_a_null_argument_is_null():
    # BigQuery CONCAT: "If any input argument is NULL, the function returns NULL."
    assert row(
        "SELECT CONCAT('a', NULL), CONCAT('a', 'b', 'c'), CONCAT(s, '*') FROM "
        "UNNEST([CAST(NULL AS STRING)]) AS s"
    ) == (None, "abc", None)


def test_format_uses_printf_specifiers():
    # BigQuery FORMAT: printf-style specifiers (%d, %s, %x, %05d, %.2f...); NULL argument -> NULL.
    assert row(
        "SELECT FORMAT('%s-%d', 'v', 25), FORMAT('%05d', 42), FORMAT('%x', 255),"
        " FORMAT('%.2f', 1.5), FORMAT('%d', CAST(NULL AS INT64))"
    ) == ("v-25", "00042", "ff", "1.50", None)


def test_array_subscripts():
    # BigQuery: array[OFFSET(i)] is zero-based, ORDINAL one-based, SAFE_OFFSET out of range NULL.
    assert row(
        "SELECT [10, 20, 30][OFFSET(0)], [10, 20, 30][ORDINAL(3)], [10, 20, 30][SAFE_OFFSET(5)],"
        " SPLIT('a.b.c', '.')[SAFE_OFFSET(2)]"
    ) == (10, 30, None, "c")


def test_string_date_regexp_and_json_functions():
    # BigQuery: CAST/STRING(DATE) gives YYYY-MM-DD; DATE_DIFF counts part boundaries (Jan 31 to
    # Mar 1 is 2 months); REGEXP_CONTAINS is a partial match; REGEXP_EXTRACT returns the capturing
    # group; TO_JSON_STRING of a STRUCT is a compact JSON object.
    assert row(
        "SELECT CAST(DATE '2024-01-05' AS STRING), STRING(DATE '2024-01-05'),"
        " DATE_DIFF(DATE '2024-03-01', DATE '2024-01-31', MONTH),"
        " DATE_DIFF(DATE '2024-03-01', DATE '2024-01-01', DAY),"
        " REGEXP_CONTAINS('idc-open-data', r'open'), REGEXP_CONTAINS('abc', r'^b'),"
        " REGEXP_EXTRACT('gs://idc-open-cr/x/y.dcm', r'^gs://([^/]+)/'),"
        " TO_JSON_STRING(STRUCT(1 AS a, 'x' AS b))"
    ) == ("2024-01-05", "2024-01-05", 2, 60, True, False, "idc-open-cr", '{"a":1,"b":"x"}')


def test_any_value_skips_nulls():
    # BigQuery ANY_VALUE: rows whose expression is NULL are not considered; NULL only when all are.
    sql = """
        WITH t AS (SELECT 1 AS g, NULL AS v UNION ALL SELECT 1, 'x' UNION ALL SELECT 2, NULL)
        SELECT g, ANY_VALUE(v) FROM t GROUP BY g ORDER BY g
    """
    assert rows(sql) == [(1, "x"), (2, None)]


def test_date_output_is_a_date(tmp_path):
    table = pa.table({"d": pa.array([datetime.date(2024, 1, 5)], pa.date32())})
    result = engine_rows(tmp_path, "SELECT d, CAST(d AS STRING) AS s FROM t", {"t": table})
    assert result.to_pylist() == [{"d": datetime.date(2024, 1, 5), "s": "2024-01-05"}]


# What BigQuery does to a query's result


def test_sum_of_int64_is_int64(tmp_path):
    # BigQuery SUM: INT64 input gives an INT64 result (DuckDB's is a 128-bit HUGEINT).
    table = pa.table({"g": ["a", "a", "b"], "size": pa.array([1, 2, 5], pa.int64())})
    sql = "SELECT g, SUM(size) AS total, COUNT(*) AS n FROM t GROUP BY g ORDER BY g"
    result = engine_rows(tmp_path, sql, {"t": table})
    assert result.schema.field("total").type == pa.int64()
    assert result.to_pylist() == [{"g": "a", "total": 3, "n": 2}, {"g": "b", "total": 5, "n": 1}]


def test_null_array_in_the_result_is_empty(tmp_path):
    # BigQuery ARRAY type: "BigQuery translates a NULL ARRAY into an empty ARRAY in the query
    # result, although inside the query, NULL and empty ARRAYs are two distinct values."
    table = pa.table({"g": ["a", "b"], "v": ["x", None]})
    sql = """
        SELECT g, ARRAY_AGG(v IGNORE NULLS) AS vs, ARRAY_AGG(v IGNORE NULLS) IS NULL AS was_null
        FROM t GROUP BY g ORDER BY g
    """
    assert engine_rows(tmp_path, sql, {"t": table}).to_pylist() == [
        {"g": "a", "vs": ["x"], "was_null": False},
        {"g": "b", "vs": [], "was_null": True},
    ]


def test_array_with_a_null_element_in_the_result_fails(tmp_path):
    # BigQuery ARRAY type: an ARRAY with a NULL element may be used inside a query, but "if a query
    # result has an ARRAY which contains NULL elements", the query fails.
    table = pa.table({"v": ["x", None]})
    with pytest.raises(EngineError, match=r"queries/q\.sql: .*null element.*field vs"):
        engine_rows(tmp_path, "SELECT ARRAY_AGG(v) AS vs FROM t", {"t": table})
    inside = "SELECT ARRAY_LENGTH(ARRAY_AGG(v)) AS n FROM t"
    assert engine_rows(tmp_path, inside, {"t": table}).to_pylist() == [{"n": 2}]


def test_float64_to_string_like_bigquery():
    # BigQuery CAST(FLOAT64 AS STRING): 15 significant digits, 17 when 15 do not read back as the
    # same number, 'inf'/'nan' for those values (GoogleSQL's round-trip double formatting).
    assert row(
        "SELECT CAST(1.0 AS STRING), CAST(0.1 AS STRING), CAST(1e20 AS STRING),"
        " SAFE_CAST(123456789.25 AS STRING), CAST(-0.5 AS STRING), CAST(0.1 + 0.2 AS STRING),"
        " CAST(IEEE_DIVIDE(1, 0) AS STRING), CAST(IEEE_DIVIDE(0, 0) AS STRING)"
    ) == ("1", "0.1", "1e+20", "123456789.25", "-0.5", "0.30000000000000004", "inf", "nan")
    sql = """
        WITH t AS (SELECT CAST(2 AS FLOAT64) AS f, 'x' AS s, 3 AS n, DATE '2024-01-05' AS d)
        SELECT CAST(f AS STRING), CAST(s AS STRING), CAST(n AS STRING), CAST(d AS STRING) FROM t
    """
    assert row(sql) == ("2", "x", "3", "2024-01-05")


def test_division_by_zero_fails():
    # BigQuery `/`: "Generates an error if Y is 0" ('division by zero'); SAFE_DIVIDE gives NULL
    # and IEEE_DIVIDE gives +inf / NaN instead.
    with pytest.raises(duckdb.Error, match="division by zero"):
        rows("SELECT a / b FROM (SELECT 1 AS a, 0 AS b)")
    assert row(
        "SELECT a / b, a / 4, SAFE_DIVIDE(a, 0), IEEE_DIVIDE(a, 0) FROM (SELECT 1 AS a, 2 AS b)"
    ) == (0.5, 0.25, None, float("inf"))


_IN_NEW_YORK = """
import pathlib, sys
import pyarrow as pa
from idc_index_assets.engines.duckdb import DuckDBEngine
sql = '''
    SELECT DATE(ts) AS d, EXTRACT(HOUR FROM ts) AS h, CAST(ts AS STRING) AS s,
      CAST(TIMESTAMP '2024-03-10 02:30:00' AS STRING) AS literal
    FROM (SELECT TIMESTAMP_MICROS(micros) AS ts FROM t)
'''
path = pathlib.Path(sys.argv[1]) / "t.parquet"
import pyarrow.parquet as pq
pq.write_table(pa.table({"micros": [1710037800000000]}), path)
with DuckDBEngine(path.parent).run(sql, query_file="q.sql", local_tables={"t": path}) as run:
    print(run.batches.read_all().to_pylist())
"""


def test_session_time_zone_is_utc_whatever_the_host_tz(tmp_path):
    # BigQuery's default time zone is UTC: a TIMESTAMP's DATE, its EXTRACT(HOUR) and its string
    # form are UTC's, and a TIMESTAMP literal without an offset is in UTC. A host in New York
    # (where 2024-03-10 02:30 does not exist) must not shift them.
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#timezone_definitions
    done = subprocess.run(
        [sys.executable, "-c", _IN_NEW_YORK, str(tmp_path)],
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == (
        "[{'d': datetime.date(2024, 3, 10), 'h': 2, 's': '2024-03-10 02:30:00+00',"
        " 'literal': '2024-03-10 02:30:00+00'}]"
    )
