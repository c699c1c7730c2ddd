"""Arrays, the array subscript operator and UNNEST (operators, arrays, query syntax pages)."""

from tests.engines.conformance.case import Case, Fails, column, one

SUBSCRIPT = "operators#array_subscript_operator"
UNNEST = "query-syntax#unnest_operator"
CORRELATED = "query-syntax#correlated_join"
ARRAYS = "arrays"

CASES = [
    # the table: positions count from 0 with OFFSET, from 1 with ORDINAL
    Case(
        "SELECT ARRAY(SELECT p FROM UNNEST(['a','b','c']) AS p WITH OFFSET AS o"
        " WHERE o < 2 ORDER BY o)",
        one(["a", "b"]),
        UNNEST,
    ),
    Case(
        "SELECT o FROM UNNEST(['a','b','c']) AS p WITH OFFSET AS o ORDER BY o",
        column(0, 1, 2),
        UNNEST,
    ),
    Case("SELECT arr[SAFE_OFFSET(i)] FROM (SELECT [10,20,30] AS arr, 1 AS i)", one(20), SUBSCRIPT),
    Case("SELECT arr[OFFSET(i)] FROM (SELECT [10,20,30] AS arr, 2 AS i)", one(30), SUBSCRIPT),
    Case("SELECT [1,2][OFFSET(5)]", Fails("out of bounds"), SUBSCRIPT),
    # literal indices
    Case("SELECT ['a','b','c'][OFFSET(0)], ['a','b','c'][ORDINAL(1)]", one("a", "a"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][1]", one("b"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][SAFE_OFFSET(3)]", one(None), SUBSCRIPT),
    Case("SELECT ['a','b','c'][SAFE_OFFSET(-1)]", one(None), SUBSCRIPT),
    Case("SELECT ['a','b','c'][SAFE_ORDINAL(0)]", one(None), SUBSCRIPT),
    Case("SELECT ['a','b','c'][SAFE_ORDINAL(3)]", one("c"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][OFFSET(-1)]", Fails("out of bounds"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][ORDINAL(0)]", Fails("out of bounds"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][ORDINAL(4)]", Fails("out of bounds"), SUBSCRIPT),
    Case("SELECT ['a','b','c'][3]", Fails("out of bounds"), SUBSCRIPT),
    # column and expression indices
    Case(
        "SELECT arr[ORDINAL(i)], arr[SAFE_ORDINAL(i + 5)] FROM (SELECT [10,20,30] AS arr, 3 AS i)",
        one(30, None),
        SUBSCRIPT,
    ),
    Case(
        "SELECT arr[OFFSET(ARRAY_LENGTH(arr) - 1)] FROM (SELECT [10,20,30] AS arr)",
        one(30),
        SUBSCRIPT,
    ),
    Case("SELECT arr[i] FROM (SELECT [10,20,30] AS arr, 0 AS i)", one(10), SUBSCRIPT),
    Case(
        "SELECT arr[SAFE_OFFSET(i)] FROM (SELECT [10,20,30] AS arr, -1 AS i)", one(None), SUBSCRIPT
    ),
    Case(
        "SELECT arr[OFFSET(i)] FROM (SELECT [10,20,30] AS arr, 3 AS i)",
        Fails("out of bounds"),
        SUBSCRIPT,
    ),
    Case(
        "SELECT arr[OFFSET(i)] FROM (SELECT [10,20,30] AS arr, CAST(NULL AS INT64) AS i)",
        one(None),
        SUBSCRIPT,
    ),
    Case(
        "SELECT arr[OFFSET(0)] FROM (SELECT CAST(NULL AS ARRAY<INT64>) AS arr)",
        one(None),
        SUBSCRIPT,
    ),
    # nested arrays (through a STRUCT, as BigQuery has no ARRAY of ARRAY) and struct paths
    Case(
        "SELECT a[OFFSET(1)].xs[ORDINAL(2)], a[SAFE_OFFSET(0)].xs[SAFE_OFFSET(5)]"
        " FROM (SELECT [STRUCT([1, 2] AS xs), STRUCT([3, 4] AS xs)] AS a)",
        one(4, None),
        SUBSCRIPT,
    ),
    Case(
        "SELECT s.seq[SAFE_OFFSET(0)].code, s.seq[SAFE_OFFSET(1)].code"
        " FROM (SELECT STRUCT([STRUCT('x' AS code)] AS seq) AS s)",
        one("x", None),
        SUBSCRIPT,
    ),
    Case(
        "SELECT SPLIT('1.2.3', '.')[SAFE_OFFSET(2)], SPLIT('1.2.3', '.')[OFFSET(0)]",
        one("3", "1"),
        SUBSCRIPT,
    ),
    # UNNEST
    Case("SELECT x FROM UNNEST([3, 1, 2]) AS x ORDER BY x", column(1, 2, 3), UNNEST),
    Case("SELECT COUNT(*) FROM UNNEST(CAST([] AS ARRAY<INT64>)) AS x", one(0), UNNEST),
    Case("SELECT COUNT(*) FROM UNNEST(CAST(NULL AS ARRAY<INT64>)) AS x", one(0), UNNEST),
    Case(
        "SELECT x, off FROM UNNEST(['a','b']) AS x WITH OFFSET AS off ORDER BY off DESC",
        [("b", 1), ("a", 0)],
        UNNEST,
    ),
    Case(
        "SELECT id, x, o FROM (SELECT 1 AS id, ['a','b'] AS xs UNION ALL SELECT 2, ['c']) AS t,"
        " UNNEST(t.xs) AS x WITH OFFSET AS o ORDER BY id, o",
        [(1, "a", 0), (1, "b", 1), (2, "c", 0)],
        UNNEST,
    ),
    Case(
        "SELECT id, x FROM (SELECT 1 AS id, ['a'] AS xs UNION ALL SELECT 2, []) AS t"
        " LEFT JOIN UNNEST(t.xs) AS x ORDER BY id",
        [(1, "a"), (2, None)],
        UNNEST,
    ),
    Case(
        "SELECT id, o FROM (SELECT 1 AS id, ['a'] AS xs UNION ALL SELECT 2, []) AS t"
        " LEFT JOIN UNNEST(t.xs) AS x WITH OFFSET AS o ON TRUE ORDER BY id",
        [(1, 0), (2, None)],
        UNNEST,
    ),
    Case(
        "SELECT id FROM (SELECT 1 AS id, ['a'] AS xs UNION ALL SELECT 2, []) AS t"
        " CROSS JOIN UNNEST(t.xs) AS x",
        column(1),
        UNNEST,
    ),
    # correlated UNNESTs (run by DuckDB as SELECT-list UNNESTs): a chain, a filter on the
    # element, LEFT JOIN, a later join, an inner query reusing the name, outputs named like it
    Case(
        "SELECT t.id, s.name, i.v FROM (SELECT 1 AS id, [STRUCT('a' AS name, [STRUCT(1 AS v),"
        " STRUCT(2 AS v)] AS items), STRUCT('b', CAST([] AS ARRAY<STRUCT<v INT64>>))] AS specimens"
        " UNION ALL SELECT 2, NULL) AS t, UNNEST(t.specimens) AS s, UNNEST(s.items) AS i"
        " WHERE i.v > 1",
        one(1, "a", 2),
        CORRELATED,
    ),
    Case(
        "SELECT id, x FROM (SELECT 1 AS id, ['LOCALIZER', 'AXIAL'] AS types UNION ALL"
        " SELECT 2, ['MIP'] UNION ALL SELECT 3, NULL) AS t, UNNEST(t.types) AS x"
        " WHERE x = 'LOCALIZER' OR x LIKE '%MIP%' ORDER BY id",
        [(1, "LOCALIZER"), (2, "MIP")],
        CORRELATED,
    ),
    Case(
        "SELECT id, seg.n FROM (SELECT 1 AS id, [STRUCT(7 AS n), STRUCT(8 AS n)] AS segs"
        " UNION ALL SELECT 2, CAST([] AS ARRAY<STRUCT<n INT64>>) UNION ALL SELECT 3, NULL) AS t"
        " LEFT JOIN UNNEST(t.segs) AS seg ORDER BY id, seg.n",
        [(1, 7), (1, 8), (2, None), (3, None)],
        CORRELATED,
    ),
    Case(
        "SELECT t.id, x, r.label FROM (SELECT 1 AS id, [1, 2] AS xs) AS t, UNNEST(t.xs) AS x"
        " JOIN (SELECT 2 AS k, 'two' AS label) AS r ON r.k = x",
        one(1, 2, "two"),
        CORRELATED,
    ),
    Case(
        "SELECT x, (SELECT MAX(x) FROM UNNEST([7, 8]) AS x) AS m FROM (SELECT [1, 2] AS a) AS t,"
        " UNNEST(t.a) AS x ORDER BY x",
        [(1, 8), (2, 8)],
        CORRELATED,
    ),
    Case(
        "SELECT u, COUNT(*) AS n FROM (SELECT [1, 1, 2] AS a) AS t CROSS JOIN UNNEST(t.a) AS u"
        " GROUP BY u ORDER BY u",
        [(1, 2), (2, 1)],
        CORRELATED,
    ),
    Case(
        "SELECT x * 10 AS x FROM (SELECT [1, 2] AS a) AS t, UNNEST(t.a) AS x ORDER BY x DESC",
        column(20, 10),
        CORRELATED,
    ),
    Case(
        "SELECT u.n, v, o FROM (SELECT [STRUCT(1 AS n, ['a', 'b'] AS ys)] AS a) AS t,"
        " UNNEST(t.a) AS u, UNNEST(u.ys) AS v WITH OFFSET AS o ORDER BY o",
        [(1, "a", 0), (1, "b", 1)],
        CORRELATED,
    ),
    Case(
        "SELECT id, (SELECT COUNT(*) FROM (SELECT 1 AS k) AS k, UNNEST(t.a) AS x WHERE x > 1)"
        " FROM (SELECT 1 AS id, [3, 1, 2] AS a UNION ALL SELECT 2, []) AS t ORDER BY id",
        [(1, 2), (2, 0)],
        CORRELATED,
    ),
    Case(
        "SELECT s.name FROM UNNEST([STRUCT('b' AS name), STRUCT('a' AS name)]) AS s ORDER BY s.name",
        column("a", "b"),
        UNNEST,
    ),
    Case(
        "SELECT 2 IN UNNEST([1, 2, 3]), 5 IN UNNEST([1, 2, 3])",
        one(True, False),
        "operators#in_operators",
    ),
    Case("SELECT 5 IN UNNEST(CAST([] AS ARRAY<INT64>))", one(False), "operators#in_operators"),
    # WITH OFFSET without an alias names the column offset; STRUCT fields are columns
    Case("SELECT COUNT(*), MAX(offset) FROM UNNEST(['a', 'b']) WITH OFFSET", one(2, 1), UNNEST),
    Case(
        "SELECT x, pos FROM UNNEST([STRUCT(1 AS x), STRUCT(2 AS x)]) WITH OFFSET AS pos ORDER BY pos",
        [(1, 0), (2, 1)],
        UNNEST,
    ),
    Case(
        "SELECT id, x, pos FROM (SELECT 1 AS id, [STRUCT(5 AS x)] AS a) AS r,"
        " UNNEST(r.a) WITH OFFSET AS pos",
        one(1, 5, 0),
        UNNEST,
    ),
    # ARRAY(subquery) keeps the subquery's order; an empty one is an empty ARRAY
    Case(
        "SELECT ARRAY(SELECT x * 2 FROM UNNEST([3, 1, 2]) AS x ORDER BY x DESC)",
        one([6, 4, 2]),
        "array_functions#array",
    ),
    Case("SELECT ARRAY(SELECT 1 FROM UNNEST([1]) WHERE FALSE)", one([]), "array_functions#array"),
    Case(
        "SELECT ARRAY(SELECT x FROM UNNEST(['b','a','c']) AS x WITH OFFSET AS o ORDER BY o DESC)",
        one(["c", "a", "b"]),
        UNNEST,
    ),
    # the ORDER BY over an alias whose expression has a subquery
    Case(
        "SELECT ARRAY(SELECT UPPER(c) FROM UNNEST(a) AS c) AS b FROM (SELECT ['x','y'] AS a"
        " UNION ALL SELECT ['a']) ORDER BY b[SAFE_OFFSET(0)]",
        column(["A"], ["X", "Y"]),
        "query-syntax#order_by_clause",
    ),
    Case(
        "SELECT id, ARRAY(SELECT v FROM UNNEST(xs) AS v ORDER BY v) AS s FROM (SELECT 1 AS id,"
        " [2, 1] AS xs UNION ALL SELECT 2, [0]) ORDER BY ARRAY_LENGTH(s), id LIMIT 1",
        one(2, [0]),
        "query-syntax#order_by_clause",
    ),
    # an ARRAY that is NULL comes out of a query as an empty ARRAY
    Case("SELECT CAST(NULL AS ARRAY<INT64>)", one([]), "data-types#array_nulls"),
    Case("SELECT CAST(NULL AS ARRAY<INT64>) IS NULL", one(True), "data-types#array_nulls"),
    Case("SELECT [1, NULL]", Fails("null element"), "data-types#array_nulls"),
    Case("SELECT ARRAY_LENGTH([1, NULL])", one(2), "data-types#array_nulls"),
]
