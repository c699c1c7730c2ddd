"""Query engines: BigQuery in production, an embedded DuckDB over a local source snapshot by default.

Both take the same rendered BigQuery Standard SQL and hand back Arrow record batches, so an index is
written the same way whichever engine ran it. The DuckDB engine transpiles the SQL with sqlglot and
maps every `bigquery-public-data.idc_vN.<table>` to the snapshot's Parquet file (or directory of
Parquet files, the shape of IDC's public Parquet export); where sqlglot's DuckDB output would not
give BigQuery's result, the difference is fixed here, once, in `transpile_to_duckdb`, as rewrites of
the parsed tree (queries stay plain BigQuery SQL):

- literals with a fraction or exponent (`10.0`, `.5`, `1e3`) are FLOAT64, not DECIMAL;
- `ARRAY_AGG(x ... ORDER BY y LIMIT n)` keeps the first n (DuckDB has no LIMIT in aggregates);
- `STRING_AGG(DISTINCT x ORDER BY x)` carries no NULL ordering (NULLs are skipped anyway);
- `CAST`/`SAFE_CAST(... AS INT64)`: strings must be integers ('20.5' fails, ' 7 ' is 7), and
  FLOAT64/NUMERIC halfway cases round away from zero;
- `CAST(<FLOAT64> AS STRING)` writes 1.0 as '1' (15 significant digits, 17 where needed);
- `x / 0` fails with 'division by zero'; `IEEE_DIVIDE` works;
- `ROUND(x, <INT64 expression>)` works;
- `FORMAT` takes printf specifiers (DuckDB's printf, not its fmt-style format).

The engine also gives the result BigQuery's shape: a NULL ARRAY comes out empty, an ARRAY with a
NULL element fails, and a SUM of integers is INT64 (see `_as_bigquery_result`).

What sqlglot already gets right (IGNORE NULLS, NULLS FIRST for ascending order, SAFE_OFFSET,
ERROR, CONCAT with NULL, ...) is pinned by tests/engines/test_semantics.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlglot
from sqlglot import exp


def _parquet_scan(path: Path) -> exp.Expression:
    pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    return exp.func("read_parquet", exp.Literal.string(pattern))


def transpile_to_duckdb(sql: str, resolve_table: Callable[[exp.Table], Path]) -> str:
    """BigQuery SQL → DuckDB SQL reading Parquet files; `resolve_table` gives each table's file."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            if not node.db and node.name in ctes:
                return node
            scan = exp.Table(this=_parquet_scan(resolve_table(node)))
            # BigQuery lets `FROM x.y.dicom_all` be referred to as `dicom_all`; keep that name.
            scan.set(
                "alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            )
            return scan
        return node

    tree = tree.transform(replace)
    for fix in _BIGQUERY_SEMANTICS:
        tree = tree.transform(fix, copy=False)
    return tree.sql(dialect="duckdb", comments=False)


# --- BigQuery semantics in DuckDB ------------------------------------------------------------------
# Each fix rewrites one node of the parsed BigQuery tree into DuckDB SQL that gives BigQuery's result.


def _float64_literal(node: exp.Expression) -> exp.Expression:
    """`10.0`, `.5`, `1e3` are FLOAT64 in BigQuery but DECIMAL in DuckDB (wrong output types)."""
    if (
        isinstance(node, exp.Literal)
        and node.is_number
        and any(mark in node.this for mark in ".eE")
        and not node.find_ancestor(exp.TableSample, exp.Limit, exp.Offset)
    ):
        return exp.cast(node, exp.DataType.Type.DOUBLE)
    return node


def _array_agg_limit(node: exp.Expression) -> exp.Expression:
    """`ARRAY_AGG(x ... LIMIT n)`: DuckDB has no LIMIT in aggregates; keep the first n of the
    ordered (and NULL-filtered) array instead."""
    agg = node.this if isinstance(node, exp.IgnoreNulls | exp.RespectNulls) else node
    if not isinstance(agg, exp.ArrayAgg) or not isinstance(agg.this, exp.Limit):
        return node
    limit = agg.this
    agg.set("this", limit.this)
    return exp.Anonymous(
        this="list_slice", expressions=[node, exp.Literal.number(1), limit.expression]
    )


def _distinct_aggregate_order(node: exp.Expression) -> exp.Expression:
    """`STRING_AGG(DISTINCT x ORDER BY x)`: the parser makes BigQuery's NULLS FIRST explicit, which
    DuckDB may reject beside DISTINCT; STRING_AGG skips NULLs, so their place never matters."""
    order = node.this if isinstance(node, exp.GroupConcat) else None
    if isinstance(order, exp.Order) and isinstance(order.this, exp.Distinct):
        for ordered in order.expressions:
            ordered.set("nulls_first", False if not ordered.args.get("desc") else None)
    return node


# BigQuery reads a string as INT64 when it is a decimal or 0x-hex integer, optionally signed and
# surrounded by whitespace ('20.5', '1e3' and '1_000' are not integers there, as they are in DuckDB);
# from FLOAT64 or NUMERIC it rounds halfway cases away from zero (DuckDB rounds them to even).
_INT64_FROM_STRING = r"""
CASE
  WHEN regexp_full_match(__text__, '\s*[+-]?[0-9]+\s*')
    THEN TRY_CAST(regexp_replace(__text__, '\s', '', 'g') AS BIGINT)
  WHEN regexp_full_match(__text__, '\s*-0[xX][0-9a-fA-F]+\s*')
    THEN -TRY_CAST(regexp_replace(__text__, '[\s-]', '', 'g') AS BIGINT)
  WHEN regexp_full_match(__text__, '\s*\+?0[xX][0-9a-fA-F]+\s*')
    THEN TRY_CAST(regexp_replace(__text__, '[\s+]', '', 'g') AS BIGINT)
END
"""
_INT64_FROM_FLOAT = "TRY_CAST(round(TRY_CAST(__value__ AS DOUBLE)) AS BIGINT)"
_INT64_BY_TYPE = """
CASE
  WHEN typeof(__value__) = 'VARCHAR' THEN __from_string__
  WHEN typeof(__value__) IN ('DOUBLE', 'FLOAT') THEN __from_float__
  WHEN typeof(__value__) LIKE 'DECIMAL%'
    THEN TRY_CAST(round(TRY_CAST(__value__ AS DECIMAL(38, 9))) AS BIGINT)
  ELSE TRY_CAST(__value__ AS BIGINT)
END
"""


def _int64_cast(node: exp.Expression) -> exp.Expression:
    """`CAST(x AS INT64)` / `SAFE_CAST(x AS INT64)` with BigQuery's rules (see _INT64_FROM_STRING).
    Where the parse tree does not tell the type of x (a column), DuckDB's typeof(x) picks the rule
    at run time. A failed CAST raises BigQuery's 'Bad int64 value' error; SAFE_CAST gives NULL."""
    if not isinstance(node, exp.Cast) or not node.to.is_type(exp.DataType.Type.BIGINT):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    value = node.this
    as_text = exp.cast(value.copy(), exp.DataType.Type.VARCHAR)
    from_string = _fill(_INT64_FROM_STRING, __text__=as_text)
    from_float = _fill(_INT64_FROM_FLOAT, __value__=value)
    if value.is_string or (
        isinstance(value, exp.Cast) and value.to.is_type(*exp.DataType.TEXT_TYPES)
    ):
        converted = from_string
    elif isinstance(value, exp.Cast) and value.to.is_type(*exp.DataType.REAL_TYPES):
        converted = from_float
    elif isinstance(value, exp.Literal) and value.is_int:
        return node
    else:
        converted = _fill(
            _INT64_BY_TYPE, __value__=value, __from_string__=from_string, __from_float__=from_float
        )
    if isinstance(node, exp.TryCast) or node.args.get("safe"):
        return converted
    failed = exp.Anonymous(
        this="error",
        expressions=[exp.DPipe(this=exp.Literal.string("Bad int64 value: "), expression=as_text)],
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.null())],
        default=exp.Coalesce(this=converted, expressions=[failed]),
    )


def _fill(template: str, **values: exp.Expression) -> exp.Expression:
    """A DuckDB SQL template with its `__name__` columns replaced by the given expressions."""
    tree = sqlglot.parse_one(template, read="duckdb")
    # the template's own casts are DuckDB's already: the later fixes leave them alone
    for cast in tree.find_all(exp.Cast):
        cast.meta["duckdb_semantics"] = True
    for column in list(tree.find_all(exp.Column)):
        if column.name in values:
            column.replace(values[column.name].copy())
    return tree


# BigQuery writes a FLOAT64 as a string with 15 significant digits, or 17 where 15 would not read
# back as the same number (1.0 -> '1', 0.1 -> '0.1', 1e20 -> '1e+20'); DuckDB writes '1.0'.
_STRING_FROM_FLOAT = r"""
CASE
  WHEN isnan(__float__) THEN 'nan'
  WHEN __float__ = 0 THEN '0'
  WHEN TRY_CAST(printf('%.15g', __float__) AS DOUBLE) = __float__ THEN printf('%.15g', __float__)
  ELSE printf('%.17g', __float__)
END
"""
_STRING_BY_TYPE = """
CASE
  WHEN typeof(__value__) IN ('DOUBLE', 'FLOAT') THEN __from_float__
  ELSE CAST(__value__ AS VARCHAR)
END
"""


def _float64_to_string(node: exp.Expression) -> exp.Expression:
    """`CAST(x AS STRING)` of a FLOAT64 gives BigQuery's text (see _STRING_FROM_FLOAT); where the
    parse tree does not tell whether x is a FLOAT64, DuckDB's typeof(x) decides at run time."""
    if not isinstance(node, exp.Cast) or not node.to.is_type(*exp.DataType.TEXT_TYPES):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    value = node.this
    is_float = _float_literal(value) or (
        isinstance(value, exp.Cast) and value.to.is_type(*exp.DataType.REAL_TYPES)
    )
    if not is_float and (isinstance(value, exp.Literal | exp.Cast) or value.type):
        return node  # a literal or cast of another type
    as_float = exp.cast(value.copy(), exp.DataType.Type.DOUBLE)
    as_float.meta["duckdb_semantics"] = True
    from_float = _fill(_STRING_FROM_FLOAT, __float__=as_float)
    if is_float:
        return from_float
    return _fill(_STRING_BY_TYPE, __value__=value, __from_float__=from_float)


def _float_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_number and not node.is_int


def _division(node: exp.Expression) -> exp.Expression:
    """`x / 0` is an error in BigQuery ('division by zero'), infinity or NULL in DuckDB; and
    IEEE_DIVIDE, BigQuery's division that does give inf and NaN, is unknown to DuckDB."""
    if isinstance(node, exp.Anonymous) and node.name.upper() == "IEEE_DIVIDE":
        dividend, divisor = (exp.cast(arg, exp.DataType.Type.DOUBLE) for arg in node.expressions)
        ieee = exp.Div(this=dividend, expression=divisor)
        ieee.meta["duckdb_semantics"] = True
        return ieee
    if not isinstance(node, exp.Div) or node.meta.get("duckdb_semantics"):
        return node
    divisor = node.expression
    literal = divisor.this if isinstance(divisor, exp.Cast) else divisor
    if isinstance(literal, exp.Literal) and literal.is_number and float(literal.this) != 0:
        return node
    checked = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                true=exp.Anonymous(
                    this="error",
                    expressions=[exp.Literal.string(f"division by zero: {node.sql('bigquery')}")],
                ),
            )
        ],
        default=divisor.copy(),
    )
    node.set("expression", checked)
    return node


def _round_precision(node: exp.Expression) -> exp.Expression:
    """`ROUND(x, <INT64 expression>)`: DuckDB's round takes an INTEGER precision, not a BIGINT."""
    decimals = node.args.get("decimals") if isinstance(node, exp.Round) else None
    if decimals is not None and not (isinstance(decimals, exp.Literal) and decimals.is_int):
        node.set("decimals", exp.cast(decimals, exp.DataType.Type.INT))
    return node


def _format(node: exp.Expression) -> exp.Expression:
    """BigQuery's FORMAT takes printf-style specifiers; DuckDB's format is fmt-style ({}), its
    printf is the match."""
    if isinstance(node, exp.Format):
        return exp.Anonymous(this="printf", expressions=[node.this, *node.expressions])
    return node


_BIGQUERY_SEMANTICS: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    _float64_literal,
    _array_agg_limit,
    _distinct_aggregate_order,
    _int64_cast,
    _float64_to_string,
    _division,
    _round_precision,
    _format,
)
