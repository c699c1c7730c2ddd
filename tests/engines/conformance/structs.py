"""STRUCTs: constructors, field access, comparison, JSON (data types and operators pages)."""

from tests.engines.conformance.case import Case, one

STRUCT = "data-types#struct_type"
FIELD = "operators#field_access_operator"

CASES = [
    Case("SELECT STRUCT(1 AS a, 'x' AS b).b", one("x"), FIELD),
    Case("SELECT s.a FROM (SELECT STRUCT(1 AS a, 'x' AS b) AS s)", one(1), FIELD),
    Case("SELECT STRUCT(1 AS a, 'x' AS b)", one({"a": 1, "b": "x"}), STRUCT),
    Case("SELECT STRUCT<a INT64, b STRING>(1, 'x').a", one(1), STRUCT),
    Case("SELECT STRUCT(STRUCT(2 AS y) AS x).x.y", one(2), FIELD),
    Case(
        "SELECT s.x.y FROM (SELECT STRUCT(STRUCT(2 AS y) AS x) AS s)",
        one(2),
        FIELD,
    ),
    Case(
        "SELECT ARRAY(SELECT AS STRUCT x AS v, x * 2 AS w FROM UNNEST([1, 2]) AS x ORDER BY x)"
        "[OFFSET(1)].w",
        one(4),
        "query-syntax#select_as_struct",
    ),
    Case(
        "SELECT (SELECT AS STRUCT 1 AS a, 2 AS b).b",
        one(2),
        "query-syntax#select_as_struct",
    ),
    Case(
        "SELECT STRUCT(1 AS a, 2 AS b) = STRUCT(1 AS a, 2 AS b),"
        " STRUCT(1 AS a, 2 AS b) = STRUCT(1 AS a, 3 AS b)",
        one(True, False),
        "data-types#comparable_data_types",
    ),
    Case(
        "SELECT TO_JSON_STRING(STRUCT(1 AS a, 'x' AS b))",
        one('{"a":1,"b":"x"}'),
        "json_functions#to_json_string",
    ),
    Case("SELECT TO_JSON_STRING([1, 2])", one("[1,2]"), "json_functions#to_json_string"),
    Case(
        "SELECT TO_JSON_STRING(STRUCT(CAST(NULL AS STRING) AS a))",
        one('{"a":null}'),
        "json_functions#to_json_string",
    ),
    Case(
        "SELECT TO_JSON_STRING(STRUCT(1.5 AS f, TRUE AS t))",
        one('{"f":1.5,"t":true}'),
        "json_functions#to_json_string",
    ),
    Case(
        "SELECT [STRUCT(1 AS a), STRUCT(2 AS a)][OFFSET(1)].a",
        one(2),
        FIELD,
    ),
    Case(
        "SELECT s.a FROM UNNEST([STRUCT(1 AS a), STRUCT(2 AS a)]) AS s WHERE s.a > 1",
        one(2),
        "query-syntax#unnest_operator",
    ),
    Case(
        "SELECT a FROM UNNEST([STRUCT(1 AS a), STRUCT(2 AS a)]) WHERE a > 1",
        one(2),
        "query-syntax#unnest_operator",
    ),
    Case(
        "SELECT STRUCT(CAST(NULL AS INT64) AS a).a IS NULL",
        one(True),
        STRUCT,
    ),
    Case(
        'SELECT JSON_EXTRACT_SCALAR(\'{"a": {"b": "x"}}\', \'$.a.b\')',
        one("x"),
        "json_functions#json_extract_scalar",
    ),
    Case(
        "SELECT JSON_VALUE('{\"a\": 1}', '$.a'), JSON_VALUE('{\"a\": 1}', '$.z')",
        one("1", None),
        "json_functions#json_value",
    ),
    Case(
        "SELECT COUNT(*) FROM UNNEST([STRUCT(1 AS a, [1, 2] AS xs)]) AS s, UNNEST(s.xs) AS x",
        one(2),
        "query-syntax#unnest_operator",
    ),
    # STRUCT equality: field by field, by position, names ignored
    Case(
        "SELECT STRUCT(3 AS a, 5.5 AS b) = STRUCT(3 AS c, 5.5 AS d),"
        " STRUCT(1, NULL) = STRUCT(1, NULL), STRUCT(1, 2) != STRUCT(1, 3)",
        one(True, None, True),
        "operators#comparison_operators",
    ),
]
