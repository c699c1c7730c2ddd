"""Operators, mathematical functions and NULL handling (operators, mathematical_functions,
data-types pages)."""

from tests.engines.conformance.case import Case, Fails, column, one

OPS = "operators"
MATH = "mathematical_functions"

CASES = [
    Case("SELECT 7 / 2, 10.0 / 4", one(3.5, 2.5), f"{OPS}#arithmetic_operators"),
    Case("SELECT 1 / 0", Fails("division by zero"), f"{OPS}#arithmetic_operators"),
    Case(
        "SELECT a / b FROM (SELECT 1 AS a, 0 AS b)",
        Fails("division by zero"),
        f"{OPS}#arithmetic_operators",
    ),
    Case("SELECT SAFE_DIVIDE(1, 0), SAFE_DIVIDE(6, 3)", one(None, 2.0), f"{MATH}#safe_divide"),
    Case(
        "SELECT IEEE_DIVIDE(1, 0), IEEE_DIVIDE(-1, 0)",
        one(float("inf"), float("-inf")),
        f"{MATH}#ieee_divide",
    ),
    Case("SELECT DIV(7, 2), DIV(-7, 2)", one(3, -3), f"{MATH}#div"),
    Case("SELECT MOD(7, 2), MOD(-7, 2)", one(1, -1), f"{MATH}#mod"),
    Case("SELECT 2 + 3 * 4, (2 + 3) * 4, -(-3)", one(14, 20, 3), f"{OPS}#operator_precedence"),
    Case("SELECT 9223372036854775807 + 1", Fails("(?i)overflow"), f"{OPS}#arithmetic_operators"),
    Case(
        "SELECT SAFE_ADD(9223372036854775807, 1)",
        one(None),
        f"{MATH}#safe_add",
        xfail="refused: DuckDB has no SAFE_ADD",
    ),
    # (BigQuery rejects a literal NULL operand: "Operands of = cannot be literal NULL")
    Case(
        "SELECT 1 = CAST(NULL AS INT64), CAST(NULL AS INT64) = CAST(NULL AS INT64),"
        " 1 != CAST(NULL AS INT64)",
        one(None, None, None),
        f"{OPS}#comparison_operators",
    ),
    Case("SELECT NULL IS NULL, 1 IS NOT NULL", one(True, True), f"{OPS}#is_operators"),
    Case(
        "SELECT 1 IS DISTINCT FROM NULL, NULL IS NOT DISTINCT FROM NULL",
        one(True, True),
        f"{OPS}#is_distinct",
    ),
    Case(
        "SELECT TRUE AND NULL, FALSE AND NULL, TRUE OR NULL, FALSE OR NULL",
        one(None, False, True, None),
        f"{OPS}#logical_operators",
    ),
    Case("SELECT NOT CAST(NULL AS BOOL)", one(None), f"{OPS}#logical_operators"),
    Case(
        "SELECT 1 IN (1, NULL), 2 IN (1, NULL), 2 NOT IN (1, NULL)",
        one(True, None, None),
        f"{OPS}#in_operators",
    ),
    Case("SELECT NULL IN (1, 2)", one(None), f"{OPS}#in_operators"),
    Case(
        "SELECT 2 BETWEEN 1 AND 3, 5 BETWEEN 1 AND 3", one(True, False), f"{OPS}#between_operators"
    ),
    Case(
        "SELECT 5 & 3, 5 | 3, 5 ^ 3, 1 << 3, 16 >> 2, ~0",
        one(1, 7, 6, 8, 4, -1),
        f"{OPS}#bitwise_operators",
    ),
    Case("SELECT ABS(-3), SIGN(-3), SIGN(0)", one(3, -1, 0), f"{MATH}#abs"),
    Case("SELECT ROUND(2.5), ROUND(-2.5), ROUND(2.567, 2)", one(3.0, -3.0, 2.57), f"{MATH}#round"),
    Case(
        "SELECT ROUND(2.567, n) FROM UNNEST([1, 2]) AS n ORDER BY n",
        column(2.6, 2.57),
        f"{MATH}#round",
    ),
    Case("SELECT ROUND(2.567, CAST(2 AS INT64))", one(2.57), f"{MATH}#round"),
    Case("SELECT FLOOR(-1.5), CEIL(-1.5), TRUNC(-1.7)", one(-2.0, -1.0, -1.0), f"{MATH}#floor"),
    Case("SELECT SQRT(16), POW(2, 10), POWER(2.0, -1)", one(4.0, 1024.0, 0.5), f"{MATH}#sqrt"),
    Case("SELECT SQRT(-1)", Fails("SQRT cannot be negative"), f"{MATH}#sqrt"),
    Case("SELECT LN(-1)", Fails("LN cannot be negative"), f"{MATH}#ln"),
    Case("SELECT LOG10(-1)", Fails("LOG cannot be negative"), f"{MATH}#log10"),
    Case("SELECT ACOS(x) FROM UNNEST([1.5]) AS x", Fails("ACOS is undefined"), f"{MATH}#acos"),
    Case("SELECT LOG10(1000), LN(1), LOG(8, 2)", one(3.0, 0.0, 3.0), f"{MATH}#log10"),
    Case("SELECT ACOS(1), ROUND(ACOS(-1), 5)", one(0.0, 3.14159), f"{MATH}#acos"),
    Case("SELECT ROUND(ACOS(0.5) * 180 / ACOS(-1), 2)", one(60.0), f"{MATH}#acos"),
    Case("SELECT EXP(0), GREATEST(1.5, 2)", one(1.0, 2.0), f"{MATH}#exp"),
    Case("SELECT 1.5 * 2, 0.5 + 0.25", one(3.0, 0.75), "lexical#floating_point_literals"),
    Case("SELECT 1e3, .5", one(1000.0, 0.5), "lexical#floating_point_literals"),
    Case(
        "SELECT RANGE_BUCKET(20, [0, 10, 20, 30])",
        one(3),
        f"{MATH}#range_bucket",
        xfail="refused: DuckDB has no RANGE_BUCKET",
    ),
    Case(
        "SELECT x FROM UNNEST([2, NULL, 1]) AS x ORDER BY x",
        column(None, 1, 2),
        "query-syntax#order_by_clause",
    ),
    Case(
        "SELECT x FROM UNNEST([2, NULL, 1]) AS x ORDER BY x DESC",
        column(2, 1, None),
        "query-syntax#order_by_clause",
    ),
    Case(
        "SELECT x FROM UNNEST([2, NULL, 1]) AS x ORDER BY x NULLS LAST",
        column(1, 2, None),
        "query-syntax#order_by_clause",
    ),
    Case(
        "SELECT DISTINCT x FROM UNNEST([1, NULL, 1, NULL]) AS x ORDER BY x",
        column(None, 1),
        "query-syntax#select_distinct",
    ),
    Case(
        "SELECT x FROM UNNEST([1, 2]) AS x UNION DISTINCT SELECT 2 ORDER BY x",
        column(1, 2),
        "query-syntax#union",
    ),
    Case(
        "SELECT x FROM UNNEST([1, 2]) AS x UNION ALL SELECT 1 ORDER BY x",
        column(1, 1, 2),
        "query-syntax#union",
    ),
    Case(
        "SELECT 3 NOT IN (SELECT x FROM UNNEST([1, NULL]) AS x),"
        " 1 NOT IN (SELECT x FROM UNNEST([1, NULL]) AS x)",
        one(None, False),
        "operators#in_operators",
    ),
    Case(
        "SELECT 3 NOT IN (SELECT x FROM UNNEST([1, 2]) AS x)",
        one(True),
        "operators#in_operators",
    ),
    Case(
        "SELECT x FROM UNNEST([1, 2, 3]) AS x EXCEPT DISTINCT SELECT 2 ORDER BY x",
        column(1, 3),
        "query-syntax#except",
    ),
    Case(
        "SELECT x FROM UNNEST([1, 2, 3]) AS x INTERSECT DISTINCT SELECT 2",
        column(2),
        "query-syntax#intersect",
    ),
    Case(
        "WITH t AS (SELECT 1 AS a, 2 AS b) SELECT * EXCEPT (a) FROM t",
        one(2),
        "query-syntax#select_except",
    ),
    Case(
        "WITH t AS (SELECT 1 AS a, 2 AS b) SELECT * REPLACE (a + 10 AS a) FROM t",
        one(11, 2),
        "query-syntax#select_replace",
    ),
    Case(
        "SELECT x FROM UNNEST([5, 6, 7]) AS x ORDER BY x LIMIT 1 OFFSET 1",
        column(6),
        "query-syntax#limit_and_offset_clause",
    ),
    Case(
        "WITH a AS (SELECT 1 AS k, 'x' AS v), b AS (SELECT 2 AS k)"
        " SELECT b.k, a.v FROM b LEFT JOIN a USING (k)",
        one(2, None),
        "query-syntax#join_types",
    ),
    Case(
        "SELECT (SELECT MAX(x) FROM UNNEST([1, 5]) AS x), (SELECT 1 FROM UNNEST([1]) WHERE FALSE)",
        one(5, None),
        "subqueries#scalar_subquery_concepts",
    ),
    Case(
        "SELECT EXISTS(SELECT 1 FROM UNNEST([1]) AS x WHERE x > 0)",
        one(True),
        "subqueries#exists_subquery_concepts",
    ),
    Case(
        "SELECT (SELECT x FROM UNNEST([1, 2]) AS x)",
        Fails("(?i)more than one"),
        "subqueries#scalar_subquery_concepts",
    ),
    Case(
        "SELECT CAST(NULL AS INT64) + 1, CONCAT(NULL, 'a')",
        one(None, None),
        f"{OPS}#arithmetic_operators",
    ),
    Case("SELECT -9223372036854775808", one(-9223372036854775808), "lexical#integer_literals"),
    Case("SELECT 0x1F", one(31), "lexical#integer_literals"),
    # FLOAT64 overflow fails; an infinite operand gives infinity
    Case("SELECT 1e300 / 1e-300", Fails("double overflow"), f"{OPS}#arithmetic_operators"),
    Case(
        "SELECT x * 10 FROM UNNEST([1e308]) AS x",
        Fails("double overflow"),
        f"{OPS}#arithmetic_operators",
    ),
    Case("SELECT POW(10.0, 400)", Fails("overflow"), f"{MATH}#pow"),
    Case(
        "SELECT CAST('inf' AS FLOAT64) * 2, IEEE_DIVIDE(1, 0) + 1, SAFE.POW(10.0, 400)",
        one(float("inf"), float("inf"), None),
        f"{OPS}#arithmetic_operators",
    ),
    # NaN equals nothing and is neither less nor greater than anything; it sorts first
    Case(
        "SELECT n = n, n < 1, 1 < n, n != n, n <= n, n >= 1, n = CAST(NULL AS FLOAT64)"
        " FROM UNNEST([CAST('nan' AS FLOAT64)]) AS n",
        one(False, False, False, True, False, False, None),
        "data-types#floating_point_semantics",
    ),
    Case(
        "SELECT CAST(x AS STRING) FROM UNNEST([1.0, NULL, CAST('nan' AS FLOAT64), -1.0]) AS x"
        " ORDER BY x",
        column(None, "nan", "-1", "1"),
        "data-types#floating_point_semantics",
    ),
    Case(
        "SELECT CAST(x AS STRING) FROM UNNEST([1.0, NULL, CAST('nan' AS FLOAT64), -1.0]) AS x"
        " ORDER BY x DESC",
        column("1", "-1", "nan", None),
        "data-types#floating_point_semantics",
    ),
    Case(
        "SELECT IS_NAN(LEAST(1.0, CAST('nan' AS FLOAT64))),"
        " IS_NAN(GREATEST(1.0, CAST('nan' AS FLOAT64)))",
        one(True, True),
        f"{MATH}#least",
    ),
    Case(
        "SELECT IS_NAN(NULLIF(n, n)), n IN (n, 1.0), n NOT IN (n) FROM UNNEST([CAST('nan' AS FLOAT64)]) AS n",
        one(True, False, True),
        f"{OPS}#in_operators",
    ),
    Case(
        "SELECT IS_NAN(ACOS(x)), IS_NAN(ASIN(-x)), IS_NAN(LN(-x)) FROM UNNEST([CAST('inf' AS FLOAT64)]) AS x",
        one(True, True, True),
        f"{MATH}#acos",
    ),
]
