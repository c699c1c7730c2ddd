"""Conditional expressions (conditional_expressions page) and ERROR (debugging_functions)."""

from tests.engines.conformance.case import Case, Fails, column, one

P = "conditional_expressions"

CASES = [
    Case("SELECT CASE 2 WHEN 1 THEN 'a' WHEN 2 THEN 'b' ELSE 'c' END", one("b"), f"{P}#case_expr"),
    Case("SELECT CASE 5 WHEN 1 THEN 'a' END", one(None), f"{P}#case_expr"),
    Case(
        "SELECT CASE CAST(NULL AS INT64) WHEN NULL THEN 'null' ELSE 'other' END",
        one("other"),
        f"{P}#case_expr",
    ),
    Case("SELECT CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END", one("b"), f"{P}#case"),
    Case("SELECT IF(1 < 2, 'yes', 'no'), IF(NULL, 'yes', 'no')", one("yes", "no"), f"{P}#if"),
    Case("SELECT IFNULL(NULL, 0), IFNULL(5, 0)", one(0, 5), f"{P}#ifnull"),
    Case("SELECT COALESCE(NULL, NULL, 'c', 'd')", one("c"), f"{P}#coalesce"),
    Case("SELECT COALESCE(CAST(NULL AS STRING))", one(None), f"{P}#coalesce"),
    Case("SELECT NULLIF(0, 0), NULLIF(10, 0)", one(None, 10), f"{P}#nullif"),
    Case("SELECT NULLIF('', '')", one(None), f"{P}#nullif"),
    Case(
        "SELECT ZEROIFNULL(NULL), NULLIFZERO(0)",
        one(0, None),
        f"{P}#zeroifnull",
        xfail="ZEROIFNULL/NULLIFZERO are recent BigQuery functions the transpiler does not know",
    ),
    Case("SELECT ERROR('boom')", Fails("boom"), "debugging_functions#error"),
    Case(
        "SELECT CASE x WHEN 1 THEN 'one' ELSE ERROR(CONCAT('bad ', CAST(x AS STRING))) END"
        " FROM UNNEST([1, 2]) AS x",
        Fails("bad 2"),
        "debugging_functions#error",
    ),
    Case(
        "SELECT CASE x WHEN 1 THEN 'one' ELSE ERROR('never') END FROM UNNEST([1, 1]) AS x",
        column("one", "one"),
        "debugging_functions#error",
    ),
    Case(
        "SELECT IF(x > 0, x, ERROR('negative')) FROM UNNEST([1, 2]) AS x",
        column(1, 2),
        "debugging_functions#error",
    ),
    Case("SELECT GREATEST(1, 3, 2), LEAST(1, 3, 2)", one(3, 1), "mathematical_functions#greatest"),
    Case(
        "SELECT GREATEST(1, NULL, 2), LEAST(1, NULL)",
        one(None, None),
        "mathematical_functions#greatest",
    ),
    Case("SELECT IF(TRUE, 1, 2.5)", one(1.0), f"{P}#if"),
    Case("SELECT COALESCE(NULL, 1, ERROR('not evaluated'))", one(1), f"{P}#coalesce"),
    Case("SELECT CASE WHEN NULL THEN 'a' ELSE 'b' END", one("b"), f"{P}#case"),
]
