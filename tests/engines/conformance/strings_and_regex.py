"""String and regular expression functions (string_functions page)."""

from tests.engines.conformance.case import Case, Fails, one

P = "string_functions"

CASES = [
    Case("SELECT CONCAT('a', 'b', 'c')", one("abc"), f"{P}#concat"),
    Case("SELECT CONCAT('a', NULL)", one(None), f"{P}#concat"),
    Case("SELECT 'a' || 'b'", one("ab"), "operators#concatenation_operator"),
    Case("SELECT 'a' || CAST(NULL AS STRING)", one(None), "operators#concatenation_operator"),
    Case(
        "SELECT LENGTH('résumé'), BYTE_LENGTH('résumé')",
        one(6, 8),
        f"{P}#length",
        xfail="refused: DuckDB cannot choose an octet_length for a STRING literal",
    ),
    Case("SELECT CHAR_LENGTH('abc')", one(3), f"{P}#char_length"),
    Case("SELECT UPPER('aBc'), LOWER('aBc')", one("ABC", "abc"), f"{P}#upper"),
    Case("SELECT SUBSTR('apple', 2, 2)", one("pp"), f"{P}#substr"),
    Case("SELECT SUBSTR('apple', 2)", one("pple"), f"{P}#substr"),
    Case("SELECT SUBSTR('apple', -2)", one("le"), f"{P}#substr"),
    Case("SELECT SUBSTR('apple', 1, 123)", one("apple"), f"{P}#substr"),
    Case("SELECT SUBSTR('apple', 123)", one(""), f"{P}#substr"),
    Case("SELECT SUBSTR('apple', 0, 2)", one("ap"), f"{P}#substr"),
    Case("SELECT SUBSTRING('apple', 2, 3)", one("ppl"), f"{P}#substring"),
    Case("SELECT STRPOS('banana', 'an'), STRPOS('banana', 'x')", one(2, 0), f"{P}#strpos"),
    Case(
        "SELECT INSTR('banana', 'an', 1, 2)",
        one(4),
        f"{P}#instr",
        xfail="refused: sqlglot cannot express INSTR's occurrence argument in DuckDB",
    ),
    Case(
        "SELECT STARTS_WITH('bar', 'b'), ENDS_WITH('bar', 'r')", one(True, True), f"{P}#starts_with"
    ),
    Case("SELECT REPLACE('a.b.c', '.', '/')", one("a/b/c"), f"{P}#replace"),
    Case("SELECT TRIM('  x  '), LTRIM('  x'), RTRIM('x  ')", one("x", "x", "x"), f"{P}#trim"),
    Case("SELECT TRIM('xxaxx', 'x')", one("a"), f"{P}#trim"),
    Case("SELECT LPAD('7', 3, '0'), RPAD('ab', 4, '-')", one("007", "ab--"), f"{P}#lpad"),
    Case("SELECT LPAD('abc', 2)", one("ab"), f"{P}#lpad"),
    Case("SELECT REPEAT('ab', 3)", one("ababab"), f"{P}#repeat"),
    Case("SELECT REVERSE('abc')", one("cba"), f"{P}#reverse"),
    Case("SELECT LEFT('banana', 3), RIGHT('banana', 2)", one("ban", "na"), f"{P}#left"),
    Case("SELECT INITCAP('hello wORLD')", one("Hello World"), f"{P}#initcap"),
    Case("SELECT ASCII('A')", one(65), f"{P}#ascii"),
    Case("SELECT SPLIT('a b c', ' ')", one(["a", "b", "c"]), f"{P}#split"),
    Case("SELECT SPLIT('abc', '')", one(["a", "b", "c"]), f"{P}#split"),
    Case("SELECT SPLIT('a,b')", one(["a", "b"]), f"{P}#split"),
    Case(
        "SELECT REGEXP_CONTAINS('foo@example.com', r'@[a-z]+\\.com$')",
        one(True),
        f"{P}#regexp_contains",
    ),
    Case(
        "SELECT REGEXP_CONTAINS('abc', r'^b'), REGEXP_CONTAINS('abc', r'b')",
        one(False, True),
        f"{P}#regexp_contains",
    ),
    Case("SELECT REGEXP_EXTRACT('foo@example.com', r'^[a-z]+')", one("foo"), f"{P}#regexp_extract"),
    Case(
        "SELECT REGEXP_EXTRACT('foo@example.com', r'@([a-z]+)')",
        one("example"),
        f"{P}#regexp_extract",
    ),
    Case("SELECT REGEXP_EXTRACT('abc', r'x')", one(None), f"{P}#regexp_extract"),
    Case(
        "SELECT REGEXP_EXTRACT('gs://idc-open-cr/x/y.dcm', r'^gs://([^/]+)/')",
        one("idc-open-cr"),
        f"{P}#regexp_extract",
    ),
    Case(
        "SELECT REGEXP_EXTRACT_ALL('a1b22c333', r'[0-9]+')",
        one(["1", "22", "333"]),
        f"{P}#regexp_extract_all",
    ),
    Case("SELECT REGEXP_REPLACE('a1b2', r'[0-9]', 'X')", one("aXbX"), f"{P}#regexp_replace"),
    Case("SELECT REGEXP_REPLACE('ab', r'(a)(b)', r'\\2\\1')", one("ba"), f"{P}#regexp_replace"),
    Case("SELECT REGEXP_SUBSTR('a1b22', r'[0-9]+')", one("1"), f"{P}#regexp_substr"),
    Case("SELECT FORMAT('%s-%d', 'v', 25)", one("v-25"), f"{P}#format_string"),
    Case("SELECT FORMAT('%05d|%x|%.2f', 42, 255, 1.5)", one("00042|ff|1.50"), f"{P}#format_string"),
    Case("SELECT FORMAT('%d', CAST(NULL AS INT64))", one(None), f"{P}#format_string"),
    Case("SELECT FORMAT('%t', 'x'), FORMAT('%t', 3)", one("x", "3"), f"{P}#format_string"),
    Case("SELECT FORMAT('%t', CAST(NULL AS STRING))", one("NULL"), f"{P}#format_string"),
    Case(
        "SELECT FORMAT('%t|%t', 1.0, DATE '2024-01-05')", one("1|2024-01-05"), f"{P}#format_string"
    ),
    Case("SELECT FORMAT('v%d: %t, 100%%', 25, 'x')", one("v25: x, 100%"), f"{P}#format_string"),
    Case("SELECT FORMAT('%10s|', 'ab')", one("        ab|"), f"{P}#format_string"),
    Case(
        "SELECT SAFE.SUBSTR('apple', 2, -1)",
        one(None),
        "functions-reference#safe_prefix",
    ),
    Case("SELECT SUBSTR('apple', 2, -1)", Fails("(?i)negative"), f"{P}#substr"),
    Case("SELECT CONTAINS_SUBSTR('the blue house', 'Blue')", one(True), f"{P}#contains_substr"),
    Case(
        "SELECT 'abc' LIKE 'a%', 'abc' LIKE '_b_', 'abc' NOT LIKE 'b%'",
        one(True, True, True),
        "operators#like_operator",
    ),
    Case(
        "SELECT 'a%c' LIKE 'a\\\\%c', 'abc' LIKE 'a\\\\%c'",
        one(True, False),
        "operators#like_operator",
    ),
    Case(
        "SELECT CODE_POINTS_TO_STRING([65, 98])",
        one("Ab"),
        f"{P}#code_points_to_string",
        xfail="refused: DuckDB has no CODE_POINTS_TO_STRING",
    ),
    Case(
        "SELECT TO_CODE_POINTS('Ab')",
        one([65, 98]),
        f"{P}#to_code_points",
        xfail="refused: DuckDB has no TO_CODE_POINTS",
    ),
    Case(
        "SELECT NORMALIZE_AND_CASEFOLD('ABC')",
        one("abc"),
        f"{P}#normalize_and_casefold",
        xfail="NORMALIZE_AND_CASEFOLD has no DuckDB counterpart through the transpiler",
    ),
]
