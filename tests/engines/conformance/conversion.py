"""Conversion functions: CAST, SAFE_CAST, PARSE_* (conversion_functions and conversion_rules)."""

import datetime
from decimal import Decimal

from tests.engines.conformance.case import Case, Fails, column, one

CAST = "conversion_functions#cast"
SAFE_CAST = "conversion_functions#safe_casting"
AS_STRING = "conversion_functions#cast_as_string"
AS_INT64 = "conversion_functions#cast_as_int64"

CASES = [
    Case(
        "SELECT CAST('21' AS INT64), CAST(' 7 ' AS INT64), CAST('+5' AS INT64)",
        one(21, 7, 5),
        AS_INT64,
    ),
    Case("SELECT CAST('0x1A' AS INT64), CAST('-0x1A' AS INT64)", one(26, -26), AS_INT64),
    Case("SELECT CAST('20.5' AS INT64)", Fails("Bad int64 value"), AS_INT64),
    Case(
        "SELECT SAFE_CAST('20.5' AS INT64), SAFE_CAST('1e3' AS INT64), SAFE_CAST('abc' AS INT64)",
        one(None, None, None),
        SAFE_CAST,
    ),
    Case("SELECT SAFE_CAST('99999999999999999999' AS INT64)", one(None), SAFE_CAST),
    Case(
        "SELECT CAST(2.5 AS INT64), CAST(-2.5 AS INT64), CAST(1.4 AS INT64)",
        one(3, -3, 1),
        AS_INT64,
    ),
    Case("SELECT CAST(CAST('2.5' AS NUMERIC) AS INT64)", one(3), AS_INT64),
    Case("SELECT CAST(TRUE AS INT64), CAST(FALSE AS INT64)", one(1, 0), AS_INT64),
    Case(
        "SELECT SAFE_CAST(s AS INT64) FROM UNNEST(['1', '1.0', NULL]) AS s",
        column(1, None, None),
        SAFE_CAST,
    ),
    Case(
        "SELECT CAST('1.5' AS FLOAT64), CAST(' 2 ' AS FLOAT64)",
        one(1.5, 2.0),
        "conversion_functions#cast_as_floating_point",
    ),
    Case(
        "SELECT SAFE_CAST('x' AS FLOAT64), SAFE_CAST('inf' AS FLOAT64)",
        one(None, float("inf")),
        "conversion_functions#cast_as_floating_point",
    ),
    Case(
        "SELECT IS_NAN(CAST('NaN' AS FLOAT64)), IS_INF(CAST('-inf' AS FLOAT64))",
        one(True, True),
        "mathematical_functions#is_nan",
    ),
    Case(
        "SELECT SAFE_CAST(s AS FLOAT64) FROM UNNEST(['0.5', '1e2', '', 'x']) AS s",
        column(0.5, 100.0, None, None),
        SAFE_CAST,
    ),
    Case(
        "SELECT CAST(1.0 AS STRING), CAST(0.1 AS STRING), CAST(1e20 AS STRING)",
        one("1", "0.1", "1e+20"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(-0.5 AS STRING), CAST(0.1 + 0.2 AS STRING)",
        one("-0.5", "0.30000000000000004"),
        AS_STRING,
    ),
    Case("SELECT CAST(123 AS STRING), CAST(-7 AS STRING)", one("123", "-7"), AS_STRING),
    Case("SELECT CAST(TRUE AS STRING), CAST(FALSE AS STRING)", one("true", "false"), AS_STRING),
    Case("SELECT CAST(DATE '2024-01-05' AS STRING)", one("2024-01-05"), AS_STRING),
    Case("SELECT CAST(CAST('1.50' AS NUMERIC) AS STRING)", one("1.5"), AS_STRING),
    Case("SELECT CAST(x AS STRING) FROM UNNEST([1.0, 2.5]) AS x", column("1", "2.5"), AS_STRING),
    # TIME, DATETIME and TIMESTAMP: 0, 3 or 6 fractional digits; a TIMESTAMP in UTC, '+00'
    Case(
        "SELECT CAST(TIMESTAMP '2020-06-02 17:00:53.110' AS STRING)",
        one("2020-06-02 17:00:53.110+00"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(TIMESTAMP '2020-06-02 17:00:53' AS STRING)",
        one("2020-06-02 17:00:53+00"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(TIMESTAMP '2020-06-02 17:00:53.1234' AS STRING)",
        one("2020-06-02 17:00:53.123400+00"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(TIMESTAMP '2020-06-02 17:00:53+02' AS STRING)",
        one("2020-06-02 15:00:53+00"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(TIME '09:05:01' AS STRING), CAST(TIME '09:05:01.5' AS STRING)",
        one("09:05:01", "09:05:01.500"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(DATETIME '2020-06-02 17:00:53.000001' AS STRING)",
        one("2020-06-02 17:00:53.000001"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST(t AS STRING) FROM UNNEST([TIMESTAMP '2021-01-01 00:00:00.5']) AS t",
        one("2021-01-01 00:00:00.500+00"),
        AS_STRING,
    ),
    Case(
        "SELECT CAST('true' AS BOOL), CAST('FALSE' AS BOOL), SAFE_CAST('yes' AS BOOL)",
        one(True, False, None),
        "conversion_functions#cast_as_bool",
    ),
    Case(
        "SELECT CAST(0 AS BOOL), CAST(5 AS BOOL)",
        one(False, True),
        "conversion_functions#cast_as_bool",
    ),
    Case(
        "SELECT CAST('2024-02-29' AS DATE)",
        one(datetime.date(2024, 2, 29)),
        "conversion_functions#cast_as_date",
    ),
    Case(
        "SELECT SAFE_CAST('2023-02-29' AS DATE), SAFE_CAST('20230101' AS DATE)",
        one(None, None),
        "conversion_functions#cast_as_date",
    ),
    Case(
        "SELECT CAST('1.25' AS NUMERIC)", one(Decimal("1.25")), "conversion_functions#cast_numeric"
    ),
    Case("SELECT SAFE_CAST('1.2.3' AS NUMERIC)", one(None), "conversion_functions#cast_numeric"),
    Case(
        "SELECT PARSE_DATE('%Y%m%d', '20200229')",
        one(datetime.date(2020, 2, 29)),
        "date_functions#parse_date",
    ),
    Case(
        "SELECT SAFE.PARSE_DATE('%Y%m%d', '20200230')", one(None), "functions-reference#safe_prefix"
    ),
    Case(
        "SELECT PARSE_DATE('%Y%m%d', '20200230')",
        Fails("(?i)(parse|convert|range|invalid|could not)"),
        "date_functions#parse_date",
    ),
    Case(
        "SELECT SAFE.PARSE_DATE('%Y-%m-%d', s) FROM UNNEST(['2020-01-02', 'x']) AS s",
        column(datetime.date(2020, 1, 2), None),
        "functions-reference#safe_prefix",
    ),
    # SAFE. only stops the function's own errors, not its arguments'
    Case(
        "SELECT SAFE.SUBSTR(CAST(CAST(s AS INT64) AS STRING), 1) FROM UNNEST(['1', 'x']) AS s",
        Fails("Bad int64 value: x"),
        "functions-reference#safe_prefix",
    ),
    Case(
        "SELECT SAFE.PARSE_DATE('%Y%m%d', CONCAT(s, '01')) FROM UNNEST(['202002', '202013']) AS s",
        column(datetime.date(2020, 2, 1), None),
        "functions-reference#safe_prefix",
    ),
    Case(
        "SELECT SAFE.LN(-1)",
        one(None),
        "functions-reference#safe_prefix",
    ),
    Case(
        "SELECT SAFE.SQRT(x), SAFE.ACOS(x) FROM UNNEST([-4.0, 0.25]) AS x ORDER BY x",
        [(None, None), (0.5, 1.318116071652818)],
        "functions-reference#safe_prefix",
    ),
    Case(
        "SELECT CAST(PARSE_TIMESTAMP('%Y-%m-%d %H', '2020-01-01 10') AS STRING)",
        one("2020-01-01 10:00:00+00"),
        "timestamp_functions#parse_timestamp",
    ),
    Case(
        "SELECT CAST(PARSE_TIMESTAMP('%Y-%m-%d %H', '2020-01-01 10', 'America/New_York') AS STRING)",
        one("2020-01-01 15:00:00+00"),
        "timestamp_functions#parse_timestamp",
    ),
    Case(
        "SELECT CAST(PARSE_DATETIME('%Y-%m-%d %H:%M', '2020-01-01 10:30') AS STRING)",
        one("2020-01-01 10:30:00"),
        "datetime_functions#parse_datetime",
    ),
    Case("SELECT CAST(1 AS FLOAT64) / 4", one(0.25), "conversion_functions#cast_as_floating_point"),
    Case("SELECT STRING(DATE '2024-01-05')", one("2024-01-05"), "string_functions#string"),
    Case(
        "SELECT CAST(CAST(3 AS INT64) AS NUMERIC)",
        one(Decimal("3")),
        "conversion_functions#cast_numeric",
    ),
    Case("SELECT SAFE_CAST(CAST(1e30 AS FLOAT64) AS INT64)", one(None), SAFE_CAST),
    Case("SELECT CAST('abc' AS BYTES)", one(b"abc"), "conversion_functions#cast_bytes"),
    # NUMERIC is DECIMAL(38, 9); INT, INTEGER, SMALLINT, TINYINT, BYTEINT, BIGINT are INT64
    Case(
        "SELECT CAST(3.14159 AS NUMERIC), CAST('1.123456789' AS NUMERIC), NUMERIC '12345678901'",
        one(Decimal("3.14159"), Decimal("1.123456789"), Decimal("12345678901")),
        "data-types#decimal_types",
    ),
    Case(
        "SELECT CAST('1e40' AS NUMERIC)",
        Fails("NUMERIC|Conversion|out of range"),
        "conversion_functions#cast_as_numeric",
    ),
    Case(
        "SELECT CAST(1 AS BIGNUMERIC)",
        one(Decimal(1)),
        "data-types#decimal_types",
        xfail="BIGNUMERIC (76 digits) has no DuckDB type: refused with an error naming it",
    ),
    Case(
        "SELECT SAFE_CAST('2.5' AS INT), CAST(2147483648 AS INTEGER), CAST(300 AS TINYINT),"
        " CAST(40000 AS SMALLINT), CAST(3000000000 AS BYTEINT), CAST(-1 AS BIGINT)",
        one(None, 2147483648, 300, 40000, 3000000000, -1),
        "data-types#integer_types",
    ),
    # BYTES and STRING convert as UTF-8
    Case("SELECT CAST(b'\\xE2\\x82\\xAC' AS STRING)", one("€"), AS_STRING),
    Case("SELECT CAST(b'\\xFF' AS STRING)", Fails("UTF8|UTF-8"), AS_STRING),
    Case(
        "SELECT SAFE_CAST(b'\\xFF' AS STRING), CAST('€' AS BYTES), CAST(s AS STRING)"
        " FROM UNNEST([b'ab']) AS s",
        one(None, "€".encode(), "ab"),
        "conversion_functions#cast_bytes",
    ),
    Case(
        "SELECT CAST(NUMERIC '99999999999999999999999999999.999999999' AS STRING),"
        " CAST(NUMERIC '2.50' AS STRING), CAST(NUMERIC '-3' AS STRING)",
        one("99999999999999999999999999999.999999999", "2.5", "-3"),
        AS_STRING,
    ),
]
