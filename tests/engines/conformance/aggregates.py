"""Aggregate functions: DISTINCT, ORDER BY, LIMIT, IGNORE NULLS (aggregate_functions page)."""

from tests.engines.conformance.case import Case, Fails, one

P = "aggregate_functions"
VALUES = "UNNEST([2, NULL, 1, 2]) AS x"

CASES = [
    Case(f"SELECT COUNT(*), COUNT(x), COUNT(DISTINCT x) FROM {VALUES}", one(4, 3, 2), f"{P}#count"),
    Case(f"SELECT COUNTIF(x > 1), COUNTIF(x IS NULL) FROM {VALUES}", one(2, 1), f"{P}#countif"),
    Case(f"SELECT SUM(x), MIN(x), MAX(x) FROM {VALUES}", one(5, 1, 2), f"{P}#sum"),
    Case("SELECT SUM(x) FROM UNNEST(CAST([] AS ARRAY<INT64>)) AS x", one(None), f"{P}#sum"),
    Case(f"SELECT AVG(x) FROM {VALUES}", one(5 / 3), f"{P}#avg"),
    Case("SELECT AVG(DISTINCT x) FROM UNNEST([1, 1, 3]) AS x", one(2.0), f"{P}#avg"),
    Case(
        "SELECT ANY_VALUE(x) IS NOT NULL FROM UNNEST([CAST(NULL AS INT64), 4]) AS x",
        one(True),
        f"{P}#any_value",
        reference_differs="ZetaSQL's ANY_VALUE may pick a NULL; BigQuery's ignores NULLs",
    ),
    Case(
        "SELECT ANY_VALUE(x) FROM UNNEST([CAST(NULL AS INT64)]) AS x", one(None), f"{P}#any_value"
    ),
    Case(
        "SELECT LOGICAL_AND(x), LOGICAL_OR(x) FROM UNNEST([TRUE, FALSE, NULL]) AS x",
        one(False, True),
        f"{P}#logical_and",
    ),
    Case(
        "SELECT ARRAY_AGG(x ORDER BY x) FROM UNNEST([2, 1, 3]) AS x",
        one([1, 2, 3]),
        f"{P}#array_agg",
    ),
    Case(
        f"SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY x) FROM {VALUES}",
        one([1, 2, 2]),
        f"{P}#array_agg",
    ),
    Case(
        f"SELECT ARRAY_AGG(DISTINCT x IGNORE NULLS ORDER BY x) FROM {VALUES}",
        one([1, 2]),
        f"{P}#array_agg",
    ),
    Case(
        f"SELECT ARRAY_AGG(DISTINCT x IGNORE NULLS ORDER BY x DESC) FROM {VALUES}",
        one([2, 1]),
        f"{P}#array_agg",
    ),
    Case(f"SELECT ARRAY_AGG(x ORDER BY x) FROM {VALUES}", Fails("null element"), f"{P}#array_agg"),
    Case(f"SELECT ARRAY_LENGTH(ARRAY_AGG(x)) FROM {VALUES}", one(4), f"{P}#array_agg"),
    Case(
        "SELECT ARRAY_AGG(x ORDER BY x DESC LIMIT 2) FROM UNNEST([1, 3, 2]) AS x",
        one([3, 2]),
        f"{P}#array_agg",
    ),
    Case(
        "SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY x LIMIT 2) FROM UNNEST([3, NULL, 1, 2]) AS x",
        one([1, 2]),
        f"{P}#array_agg",
    ),
    Case(
        "SELECT ARRAY_AGG(DISTINCT x ORDER BY x LIMIT 2) FROM UNNEST([3, 1, 3, 1, 2]) AS x",
        one([1, 2]),
        f"{P}#array_agg",
    ),
    Case(
        "SELECT ARRAY_AGG(x IGNORE NULLS) FROM UNNEST([CAST(NULL AS INT64)]) AS x",
        one([]),
        f"{P}#array_agg",
    ),
    Case(
        "SELECT ARRAY_AGG(x IGNORE NULLS) IS NULL FROM UNNEST([CAST(NULL AS INT64)]) AS x",
        one(True),
        f"{P}#array_agg",
    ),
    Case(
        "SELECT g, ARRAY_AGG(v ORDER BY v LIMIT 2) FROM (SELECT 'a' AS g, 3 AS v UNION ALL"
        " SELECT 'a', 1 UNION ALL SELECT 'a', 2 UNION ALL SELECT 'b', 5) GROUP BY g ORDER BY g",
        [("a", [1, 2]), ("b", [5])],
        f"{P}#array_agg",
    ),
    Case(
        "SELECT ARRAY_AGG(name ORDER BY k) FROM (SELECT 'a' AS name, 2 AS k UNION ALL"
        " SELECT 'b', NULL UNION ALL SELECT 'c', 1)",
        one(["b", "c", "a"]),
        "query-syntax#order_by_clause",
    ),
    Case(
        "SELECT ARRAY_AGG(name ORDER BY k DESC) FROM (SELECT 'a' AS name, 2 AS k UNION ALL"
        " SELECT 'b', NULL UNION ALL SELECT 'c', 1)",
        one(["a", "c", "b"]),
        "query-syntax#order_by_clause",
    ),
    Case("SELECT STRING_AGG(x) FROM UNNEST(['a', NULL, 'b']) AS x", one("a,b"), f"{P}#string_agg"),
    Case(
        "SELECT STRING_AGG(x, ' & ' ORDER BY x DESC) FROM UNNEST(['a', 'c', 'b']) AS x",
        one("c & b & a"),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(x, ',' ORDER BY x LIMIT 2) FROM UNNEST(['c','a','b']) AS x",
        one("a,b"),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(DISTINCT x, ',' ORDER BY x) FROM UNNEST(['b', 'a', NULL, 'b']) AS x",
        one("a,b"),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(DISTINCT x, '|' ORDER BY x DESC LIMIT 1) FROM UNNEST(['b', 'a', 'b']) AS x",
        one("b"),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(x) FROM UNNEST([CAST(NULL AS STRING)]) AS x",
        one(None),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(x, ',' LIMIT 1) FROM UNNEST(CAST([] AS ARRAY<STRING>)) AS x",
        one(None),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(DISTINCT CAST(x AS STRING), ',' ORDER BY CAST(x AS STRING))"
        " FROM UNNEST([2, NULL, 10, 2]) AS x",
        one("10,2"),
        f"{P}#string_agg",
    ),
    Case(
        "SELECT STRING_AGG(DISTINCT CASE x WHEN 1 THEN 'one' WHEN 0 THEN 'zero' ELSE"
        " ERROR(CONCAT('bad ', CAST(x AS STRING))) END, ',' ORDER BY CASE x WHEN 1 THEN 'one'"
        " WHEN 0 THEN 'zero' ELSE ERROR(CONCAT('bad ', CAST(x AS STRING))) END)"
        " FROM UNNEST([1,0,1]) AS x",
        one("one,zero"),
        f"{P}#string_agg",
    ),
    Case("SELECT MAX(x), MIN(x) FROM UNNEST(['b', 'a', 'c']) AS x", one("c", "a"), f"{P}#max"),
    Case("SELECT COUNT(DISTINCT x) FROM UNNEST(['a', 'A', 'a']) AS x", one(2), f"{P}#count"),
    Case(
        "SELECT g, COUNT(*) FROM UNNEST(['a', 'b', 'a']) AS g GROUP BY g HAVING COUNT(*) > 1",
        one("a", 2),
        "query-syntax#having_clause",
    ),
    Case(
        "SELECT BIT_OR(x), BIT_AND(x) FROM UNNEST([1, 3]) AS x",
        one(3, 1),
        "bit_functions#bit_or",
    ),
    Case(
        "SELECT MAX_BY(n, v) FROM UNNEST([STRUCT('a' AS n, 1 AS v), STRUCT('b', 5)])",
        one("b"),
        f"{P}#max_by",
        reference_differs="the open-source ZetaSQL has no MAX_BY",
    ),
    Case("SELECT COUNT(*) FROM UNNEST(CAST([] AS ARRAY<INT64>)) AS x", one(0), f"{P}#count"),
    Case(
        "SELECT x, COUNT(*) FROM UNNEST([1, 1, NULL, NULL]) AS x GROUP BY x ORDER BY x",
        [(None, 2), (1, 2)],
        "query-syntax#group_by_clause",
    ),
    Case("SELECT SUM(DISTINCT x) FROM UNNEST([1, 1, 2]) AS x", one(3), f"{P}#sum"),
    Case("SELECT ARRAY_AGG(x LIMIT 0) FROM UNNEST([1]) AS x", one([]), f"{P}#array_agg"),
    Case(
        "SELECT IS_NAN(MIN(x)), IS_NAN(MAX(x)) FROM UNNEST([1.0, CAST('nan' AS FLOAT64), -1.0]) AS x",
        one(True, True),
        f"{P}#min",
    ),
    Case("SELECT COUNTIF(x > 0) FROM UNNEST(ARRAY<INT64>[]) AS x", one(0), f"{P}#countif"),
]
