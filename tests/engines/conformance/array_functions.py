"""Array functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions)."""

import datetime

from tests.engines.conformance.case import Case, Fails, one

P = "array_functions"

CASES = [
    Case(
        "SELECT ARRAY_LENGTH([1, 2, 3]), ARRAY_LENGTH(CAST([] AS ARRAY<INT64>))",
        one(3, 0),
        f"{P}#array_length",
    ),
    Case("SELECT ARRAY_LENGTH(CAST(NULL AS ARRAY<INT64>))", one(None), f"{P}#array_length"),
    Case("SELECT ARRAY_CONCAT([1, 2], [3], [4, 5])", one([1, 2, 3, 4, 5]), f"{P}#array_concat"),
    Case("SELECT ARRAY_CONCAT([1], CAST(NULL AS ARRAY<INT64>))", one([]), f"{P}#array_concat"),
    Case("SELECT ARRAY_TO_STRING(['a', 'b', 'c'], '--')", one("a--b--c"), f"{P}#array_to_string"),
    Case("SELECT ARRAY_TO_STRING(['a', NULL, 'c'], ',')", one("a,c"), f"{P}#array_to_string"),
    Case(
        "SELECT ARRAY_TO_STRING(['a', NULL, 'c'], ',', 'N')", one("a,N,c"), f"{P}#array_to_string"
    ),
    Case("SELECT ARRAY_TO_STRING(CAST([] AS ARRAY<STRING>), ',')", one(""), f"{P}#array_to_string"),
    Case("SELECT ARRAY_TO_STRING(['1.5', '2'], '\\\\')", one("1.5\\2"), f"{P}#array_to_string"),
    Case("SELECT GENERATE_ARRAY(1, 5)", one([1, 2, 3, 4, 5]), f"{P}#generate_array"),
    Case("SELECT GENERATE_ARRAY(0, 10, 3)", one([0, 3, 6, 9]), f"{P}#generate_array"),
    Case("SELECT GENERATE_ARRAY(10, 0, -3)", one([10, 7, 4, 1]), f"{P}#generate_array"),
    Case("SELECT GENERATE_ARRAY(4, 4, 10)", one([4]), f"{P}#generate_array"),
    Case("SELECT GENERATE_ARRAY(10, 0, 3)", one([]), f"{P}#generate_array"),
    Case("SELECT ARRAY_REVERSE([1, 2, 3])", one([3, 2, 1]), f"{P}#array_reverse"),
    Case(
        "SELECT ARRAY(SELECT DISTINCT x FROM UNNEST([1, 1, 2]) AS x ORDER BY x)",
        one([1, 2]),
        f"{P}#array",
    ),
    Case(
        "SELECT ARRAY_CONCAT_AGG(x) FROM UNNEST([STRUCT([1, 2] AS x), STRUCT([3] AS x)])",
        one([1, 2, 3]),
        "aggregate_functions#array_concat_agg",
    ),
    Case(
        "SELECT ARRAY_CONCAT_AGG(xs ORDER BY n LIMIT 2)"
        " FROM (SELECT [1, 2] AS xs, 2 AS n UNION ALL SELECT [3], 1 UNION ALL SELECT [4], 3)",
        one([3, 1, 2]),
        "aggregate_functions#array_concat_agg",
    ),
    Case(
        "SELECT ARRAY_CONCAT_AGG(xs) FROM (SELECT [1] AS xs UNION ALL SELECT NULL)",
        one([1]),
        "aggregate_functions#array_concat_agg",
    ),
    Case(
        "SELECT GENERATE_DATE_ARRAY(DATE '2016-10-05', DATE '2016-10-08')",
        one(
            [
                datetime.date(2016, 10, 5),
                datetime.date(2016, 10, 6),
                datetime.date(2016, 10, 7),
                datetime.date(2016, 10, 8),
            ]
        ),
        f"{P}#generate_date_array",
    ),
    Case("SELECT ARRAY_LENGTH(SPLIT('a,b,,c', ','))", one(4), "string_functions#split"),
    Case("SELECT SPLIT('a,b', ',')[OFFSET(1)]", one("b"), "string_functions#split"),
    Case("SELECT ARRAY_LENGTH(SPLIT('', ','))", one(1), "string_functions#split"),
    Case("SELECT [1, 2][ORDINAL(3)]", Fails("out of bounds"), "operators#array_subscript_operator"),
    Case("SELECT GENERATE_ARRAY(1, 5, 0)", Fails("step cannot be 0"), f"{P}#generate_array"),
    Case(
        "SELECT ARRAY_TO_STRING([CAST(NULL AS STRING), NULL], '/')",
        one(""),
        f"{P}#array_to_string",
    ),
]
