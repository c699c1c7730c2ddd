"""Window and navigation functions (window-function-calls, numbering_functions,
navigation_functions pages)."""

from tests.engines.conformance.case import Case, Fails, column

N = "numbering_functions"
NAV = "navigation_functions"
V = "UNNEST([3, 1, 2, 2]) AS x"

CASES = [
    Case(
        "SELECT ROW_NUMBER() OVER (ORDER BY x) FROM UNNEST([3, 1, 2]) AS x ORDER BY x",
        column(1, 2, 3),
        f"{N}#row_number",
    ),
    Case(f"SELECT RANK() OVER (ORDER BY x) FROM {V} ORDER BY x", column(1, 2, 2, 4), f"{N}#rank"),
    Case(
        f"SELECT DENSE_RANK() OVER (ORDER BY x) FROM {V} ORDER BY x",
        column(1, 2, 2, 3),
        f"{N}#dense_rank",
    ),
    Case(
        f"SELECT PERCENT_RANK() OVER (ORDER BY x) FROM {V} ORDER BY x",
        column(0.0, 1 / 3, 1 / 3, 1.0),
        f"{N}#percent_rank",
    ),
    Case(
        f"SELECT CUME_DIST() OVER (ORDER BY x) FROM {V} ORDER BY x",
        column(0.25, 0.75, 0.75, 1.0),
        f"{N}#cume_dist",
    ),
    Case(
        "SELECT NTILE(2) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(1, 1, 2),
        f"{N}#ntile",
    ),
    Case(
        "SELECT x, ROW_NUMBER() OVER (ORDER BY x) FROM UNNEST([2, NULL, 1]) AS x ORDER BY 2",
        [(None, 1), (1, 2), (2, 3)],
        "window-function-calls",
    ),
    Case(
        "SELECT LAG(x) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(None, 1, 2),
        f"{NAV}#lag",
    ),
    Case(
        "SELECT LAG(x, 2, 0) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(0, 0, 1),
        f"{NAV}#lag",
    ),
    Case(
        "SELECT LEAD(x) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(2, 3, None),
        f"{NAV}#lead",
    ),
    Case(
        "SELECT LEAD(x, 1, -1) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(2, 3, -1),
        f"{NAV}#lead",
    ),
    Case(
        "SELECT FIRST_VALUE(x) OVER (ORDER BY x) FROM UNNEST([2, 1, 3]) AS x ORDER BY x",
        column(1, 1, 1),
        f"{NAV}#first_value",
    ),
    Case(
        "SELECT LAST_VALUE(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
        " FROM UNNEST([2, 1, 3]) AS x ORDER BY x",
        column(3, 3, 3),
        f"{NAV}#last_value",
    ),
    Case(
        "SELECT LAST_VALUE(x) OVER (ORDER BY x) FROM UNNEST([2, 1, 3]) AS x ORDER BY x",
        column(1, 2, 3),
        f"{NAV}#last_value",
    ),
    Case(
        "SELECT NTH_VALUE(x, 2) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
        " FROM UNNEST([2, 1, 3]) AS x ORDER BY x",
        column(2, 2, 2),
        f"{NAV}#nth_value",
    ),
    Case(
        "SELECT FIRST_VALUE(x IGNORE NULLS) OVER (ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND"
        " UNBOUNDED FOLLOWING) FROM UNNEST([NULL, 5, 6]) AS x WITH OFFSET AS o ORDER BY o",
        column(5, 5, 5),
        f"{NAV}#first_value",
    ),
    Case(
        "SELECT SUM(x) OVER (ORDER BY x) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(1, 3, 6),
        "window-function-calls#def_window_frame",
    ),
    Case(
        "SELECT SUM(x) OVER (ORDER BY x) FROM UNNEST([1, 2, 2]) AS x ORDER BY x",
        column(1, 5, 5),
        "window-function-calls#def_window_frame",
    ),
    Case(
        "SELECT SUM(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
        column(1, 3, 5),
        "window-function-calls#def_window_frame",
    ),
    Case(
        "SELECT COUNT(*) OVER (PARTITION BY g) FROM UNNEST(['a', 'a', 'b']) AS g ORDER BY g",
        column(2, 2, 1),
        "window-function-calls#def_window_frame",
    ),
    Case(
        "SELECT ROW_NUMBER() OVER (PARTITION BY MOD(x, 2) ORDER BY x) FROM UNNEST([1, 2, 3, 4]) AS x ORDER BY x",
        column(1, 1, 2, 2),
        f"{N}#row_number",
    ),
    Case(
        "SELECT x FROM UNNEST([3, 1, 2]) AS x QUALIFY ROW_NUMBER() OVER (ORDER BY x DESC) = 1",
        column(3),
        "query-syntax#qualify_clause",
    ),
    Case(
        "SELECT x - ROW_NUMBER() OVER (ORDER BY x) FROM UNNEST([1, 2, 4, 5]) AS x ORDER BY x",
        column(0, 0, 1, 1),
        f"{N}#row_number",
    ),
    Case(
        "SELECT AVG(x) OVER (ORDER BY x ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) FROM UNNEST([1, 3, 5]) AS x ORDER BY x",
        column(2.0, 4.0, 5.0),
        "window-function-calls#def_window_frame",
    ),
    Case(
        "SELECT MAX(x) OVER () FROM UNNEST([1, 3, 2]) AS x ORDER BY x",
        column(3, 3, 3),
        "window-function-calls",
    ),
    Case(
        "SELECT LAG(x, -1) OVER (ORDER BY x) FROM UNNEST([1, 2]) AS x",
        Fails("must not be negative"),
        f"{NAV}#lag",
    ),
    Case("SELECT NTILE(0) OVER () FROM UNNEST([1]) AS x", Fails("at least 1"), f"{N}#ntile"),
    Case(
        "SELECT COUNTIF(x > 0) OVER () FROM UNNEST([1, -1]) AS x",
        column(1, 1),
        "aggregate_functions#countif",
    ),
]
