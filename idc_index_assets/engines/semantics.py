"""Query engines: BigQuery in production, an embedded DuckDB over a local source snapshot by default.

Both take the same rendered BigQuery Standard SQL and hand back Arrow record batches, so an index is
written the same way whichever engine ran it. The DuckDB engine transpiles the SQL with sqlglot and
maps every `bigquery-public-data.idc_vN.<table>` to the snapshot's Parquet file (or directory of
Parquet files, the shape of IDC's public Parquet export); where sqlglot's DuckDB output would not
give BigQuery's result, the difference is fixed here, once, in `transpile_to_duckdb`, as rewrites of
the parsed tree (queries stay plain BigQuery SQL):

- literals with a fraction or exponent (`10.0`, `.5`, `1e3`) are FLOAT64, not DECIMAL;
- positions: `WITH OFFSET` counts from 0; `a[OFFSET(i)]`, `a[i]`, `a[ORDINAL(i)]` and the SAFE_
  forms take any index expression, at any depth; out of range, OFFSET/ORDINAL fail;
- `LIMIT n` in ARRAY_AGG, STRING_AGG and ARRAY_CONCAT_AGG keeps the first n; DISTINCT aggregates
  ordered by their argument work whatever the argument calls (ERROR() included);
- ORDER BY an expression over a select-list alias whose expression has a subquery;
- `SAFE.f(...)` for any function f gives NULL where f fails (an error of an argument still fails);
- `CAST`/`SAFE_CAST(... AS INT64)`: strings must be integers ('20.5' fails, ' 7 ' is 7), and
  FLOAT64/NUMERIC halfway cases round away from zero;
- `CAST(<FLOAT64> AS STRING)` writes 1.0 as '1' (15 significant digits, 17 where needed);
- `x / 0` fails with 'division by zero'; `IEEE_DIVIDE` works;
- `ROUND(x, <INT64 expression>)` works;
- `FORMAT` takes printf specifiers (DuckDB's printf, not its fmt-style format);
- `CAST(<TIME/DATETIME/TIMESTAMP> AS STRING)` writes 0, 3 or 6 fractional digits; TIMESTAMP_MICROS,
  _MILLIS, _SECONDS and PARSE_TIMESTAMP (with its time zone argument) give instants;
- INT, INTEGER, SMALLINT, TINYINT, BYTEINT and BIGINT are INT64; NUMERIC (DECIMAL) is
  DECIMAL(38, 9) and written without trailing zeros; BIGNUMERIC is refused;
- FLOAT64 NaN equals nothing and is neither less nor greater than anything, sorts first (after
  NULL), and makes MIN, LEAST and GREATEST NaN; FLOAT64 arithmetic that overflows fails;
- argument errors: LAG/LEAD's negative offset, NTH_VALUE's and NTILE's below 1, GENERATE_ARRAY's
  step 0, LEFT/RIGHT/REPEAT/LPAD/RPAD's negative lengths and empty pattern; SAFE. makes them NULL;
- STRUCT = STRUCT compares fields by position; COUNTIF over no row is 0; BYTES and STRING cast
  as UTF-8 (invalid UTF-8 fails); EXTRACT(MILLISECOND/MICROSECOND) is the fraction of the second;
- NULLIF and IN compare with NaN's `=`; ARRAY_TO_STRING of only NULLs is ''; ACOS, ASIN, LN and LOG
  of ±inf are NaN; date and time arithmetic fails past 0001-01-01..9999-12-31; a TIMESTAMP literal
  in a named time zone at a local time a DST change repeats or skips takes the earlier offset.

Where a rewrite depends on a FLOAT64 and the tree does not tell an expression's type (a column),
DuckDB's typeof() decides; DuckDB folds it when binding, so other types run as before. NaN in
ORDER BY and MIN is rewritten only for values known to be FLOAT64 (not a table's column: the
extra sort key and aggregates would cost the index queries).

One rewrite is for speed, not results: an UNNEST joined to the source before it (`FROM t, UNNEST(t.a)
AS x`, a chain of them, LEFT JOIN UNNEST) becomes a SELECT-list UNNEST, which DuckDB runs as a plain
UNNEST instead of a dependent join over every distinct array.

The DuckDB session's time zone is UTC (`duckdb.connect`), so nothing depends on the host's TZ.

`bigquery_refusals` finds what BigQuery rejects and DuckDB would run (ORDER BY an ARRAY, ...).

The engine also gives the result BigQuery's shape: a NULL ARRAY comes out empty, an ARRAY with a
NULL element fails, and a SUM of integers is INT64 (see `_as_bigquery_result`).

What sqlglot already gets right (IGNORE NULLS, NULLS FIRST for ascending order, ERROR, CONCAT with
NULL, ...) is pinned, with the rest, by the conformance suite in tests/engines/conformance/: BigQuery
statements with BigQuery's documented results.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable, Collection
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope


def literal_glob(path: str) -> str:
    """`path` as a DuckDB file pattern that matches exactly that path: DuckDB globs every path it
    reads, so `[`, `*` and `?` in a directory name would match other directories (`src[b]` reads
    `srcb`); each becomes a one-character class (`[[]`, `[*]`, `[?]`)."""
    return re.sub(r"([\[*?])", r"[\1]", path)


def parquet_scan(path: Path | exp.Expression) -> exp.Expression:
    """DuckDB's scan of a Parquet file, or of every Parquet file under a directory (an
    expression, such as a registered relation's name, is its own scan). The path is literal:
    glob characters in it match only themselves."""
    if isinstance(path, exp.Expression):
        return path
    pattern = literal_glob(str(path))
    if path.is_dir():
        pattern += "/**/*.parquet"
    return exp.func("read_parquet", exp.Literal.string(pattern))


def transpile_to_duckdb(
    sql: str | exp.Expression,
    resolve_table: Callable[[exp.Table], Path | exp.Expression],
    *,
    variables: Collection[str] = (),
    temp_tables: Collection[str] = (),
    table_columns: Callable[[exp.Table], Collection[str] | None] | None = None,
) -> str:
    """BigQuery SQL → DuckDB SQL reading Parquet files; `resolve_table` gives each table's file.

    In a script (`engines.scripting`), `variables` are the script's variables, read with DuckDB's
    getvariable(), and `temp_tables` its temporary tables, read as they are. A name that is both
    a column in scope and a variable is the column; `table_columns` tells a table's columns for
    that (None where unknown: a variable name that might be a column then fails)."""
    if isinstance(sql, exp.Expression):
        tree = sql.copy()
    else:
        tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    if variables:
        tree = _read_variables(tree, {name.lower() for name in variables}, table_columns)

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            # the table a CREATE TEMP TABLE makes, a CTE and a temporary table are no source
            if isinstance(node.parent, exp.Create) or (
                not node.db and (node.name in ctes or node.name in temp_tables)
            ):
                return node
            scan = exp.Table(this=parquet_scan(resolve_table(node)))
            # BigQuery lets `FROM x.y.dicom_all` be referred to as `dicom_all`; keep that name.
            scan.set(
                "alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            )
            return scan
        return node

    tree = tree.transform(replace)
    for fix in _BIGQUERY_SEMANTICS:
        tree = _bottom_up(tree, fix)
    return _generate_duckdb(tree)


# sqlglot's warnings that do not apply here: the engine pins DuckDB's session time zone to UTC.
_TOLERATED = ("due to timezone handling differences",)


def _generate_duckdb(tree: exp.Expression) -> str:
    """DuckDB SQL for the tree; what the DuckDB dialect cannot express (an argument sqlglot would
    drop, such as INSTR's occurrence) is refused instead of silently left out."""
    generator = Dialect.get_or_raise("duckdb").generator(
        comments=False, unsupported_level=ErrorLevel.IGNORE
    )
    sql = generator.generate(tree, copy=False)
    refused = [
        message
        for message in generator.unsupported_messages
        if not any(tolerated in message for tolerated in _TOLERATED)
    ]
    if refused:
        raise UnsupportedError("; ".join(refused))
    return sql


def _read_variables(
    tree: exp.Expression,
    variables: set[str],
    table_columns: Callable[[exp.Table], Collection[str] | None] | None,
) -> exp.Expression:
    """Unqualified names of script variables → getvariable('name'), unless a source in scope
    (or an enclosing scope) has a column of that name: then the column is meant."""
    for scope in traverse_scope(tree):
        for column in scope.columns:
            if column.table or column.name.lower() not in variables:
                continue
            found = _column_in_scope(scope, column, table_columns)
            if found is None:
                raise UnsupportedError(
                    f"'{column.name}' is a script variable and may be a column of a table whose "
                    "columns are not known here; rename the variable"
                )
            if not found:
                value = exp.Anonymous(
                    this="getvariable", expressions=[exp.Literal.string(column.name.lower())]
                )
                # an output column named by a variable keeps the variable's name
                is_output = (
                    isinstance(column.parent, exp.Select) and column.arg_key == "expressions"
                )
                column.replace(exp.alias_(value, column.name) if is_output else value)
    return tree


def _column_in_scope(scope, column: exp.Column, table_columns) -> bool | None:
    """Whether a source of the column's scope, or of an enclosing scope it may correlate with,
    has a column of its name (None: perhaps, a source's columns are unknown). An ORDER BY may
    also name an output of its SELECT."""
    name, unknown = column.name.lower(), False
    select = scope.expression
    in_order_by = isinstance(column.find_ancestor(exp.Order, exp.Select), exp.Order)
    if (
        isinstance(select, exp.Select)
        and in_order_by
        and name in {n.lower() for n in select.named_selects}
    ):
        return True
    while scope is not None:
        for source in scope.sources.values():
            columns = _source_columns(source, table_columns)
            if columns is None:
                unknown = True
            elif name in columns:
                return True
        # only an expression subquery or an UNNEST sees the sources of the query around it
        scope = scope.parent if (scope.is_subquery or scope.is_udtf) else None
    return None if unknown else False


def _source_columns(source, table_columns) -> set[str] | None:
    """The lower-case column names a FROM source gives (None: unknown)."""
    node = source.expression if isinstance(source, Scope) else source
    if isinstance(node, exp.Table):
        columns = table_columns(node) if table_columns else None
        return None if columns is None else {c.lower() for c in columns}
    if isinstance(node, exp.Unnest):
        alias = node.args.get("alias")
        return {c.name.lower() for c in alias.columns} if alias and alias.columns else None
    if isinstance(node, exp.Select) and isinstance(source, Scope):
        names = {n.lower() for n in node.named_selects if n != "*"}
        if any(isinstance(p, exp.Star) for p in node.expressions):
            for inner in source.sources.values():
                columns = _source_columns(inner, table_columns)
                if columns is None:
                    return None
                names |= columns
        return names
    if isinstance(node, exp.Query):
        selects = node.named_selects
        return None if "*" in selects else {n.lower() for n in selects}
    return None


def _bottom_up(tree: exp.Expression, fix: Callable[[exp.Expression], exp.Expression]):
    """Applies `fix` to every node, children before their parent, so that a rewrite that copies
    its operands (a[OFFSET(i)] into a CASE) copies them already rewritten (nested subscripts)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = fix(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


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


_ORDERED_AGGREGATES = (exp.ArrayAgg, exp.GroupConcat, exp.ArrayConcatAgg)


def _aggregate_order_limit(node: exp.Expression) -> exp.Expression:
    """ARRAY_AGG, STRING_AGG and ARRAY_CONCAT_AGG with `LIMIT n` (DuckDB has no LIMIT in
    aggregates), or with DISTINCT and an ORDER BY (DuckDB compares the ORDER BY with the argument
    after binding, so it refuses one that calls ERROR() or another volatile function): the
    values are gathered into a list, DISTINCT ones sorted by value (BigQuery allows only the
    argument itself as the sort key then), NULLs dropped where BigQuery drops them, the first n
    kept, and the list turned into the aggregate's result."""
    wrapper = node if isinstance(node, exp.IgnoreNulls | exp.RespectNulls) else None
    agg = node.this if wrapper else node
    if not isinstance(agg, _ORDERED_AGGREGATES) or isinstance(node.parent, exp.IgnoreNulls):
        return node
    body, limit = agg.this, None
    if isinstance(body, exp.Limit):
        body, limit = body.this, body.expression
    order = body if isinstance(body, exp.Order) else None
    value = order.this if order else body
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value = value.expressions[0]
    if limit is None and not (distinct and order):
        return node
    # STRING_AGG and ARRAY_CONCAT_AGG skip NULL inputs; ARRAY_AGG only with IGNORE NULLS
    skip_nulls = isinstance(wrapper, exp.IgnoreNulls) or not isinstance(agg, exp.ArrayAgg)
    gathered: exp.Expression = (
        exp.Distinct(expressions=[value.copy()]) if distinct else value.copy()
    )
    if order and not distinct:
        gathered = exp.Order(this=gathered, expressions=[o.copy() for o in order.expressions])
    items: exp.Expression = exp.ArrayAgg(this=gathered)
    if skip_nulls:
        items = exp.Filter(
            this=items,
            expression=exp.Where(
                this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
            ),
        )
    if order and distinct:
        (key,) = order.expressions
        descending = bool(key.args.get("desc"))
        nulls_first = key.args.get("nulls_first")
        if nulls_first is None:
            nulls_first = descending is False
        items = exp.func(
            "list_sort",
            items,
            exp.Literal.string("DESC" if descending else "ASC"),
            exp.Literal.string("NULLS FIRST" if nulls_first else "NULLS LAST"),
        )
    if limit is not None:
        items = exp.func("list_slice", items, exp.Literal.number(1), limit.copy())
    if isinstance(agg, exp.GroupConcat):
        # no value (no row, or only NULLs) gives NULL, not ''
        separator = agg.args.get("separator") or exp.Literal.string(",")
        return exp.func(
            "array_to_string", exp.Nullif(this=items, expression=exp.Array()), separator.copy()
        )
    if isinstance(agg, exp.ArrayConcatAgg):
        return exp.func("flatten", items)
    return items


# --- Positions: BigQuery counts from 0 (OFFSET, WITH OFFSET) or 1 (ORDINAL); DuckDB lists from 1 ---

_SUBSCRIPTS = {"OFFSET": (0, False), "SAFE_OFFSET": (0, True), "ORDINAL": (1, False)}
_SUBSCRIPTS["SAFE_ORDINAL"] = (1, True)


def _array_subscript(node: exp.Expression) -> exp.Expression:
    """`a[OFFSET(i)]`, `a[ORDINAL(i)]`, `a[i]` (an OFFSET) and their SAFE_ forms, for any index
    expression. Out of range (negative included: DuckDB would count from the end), OFFSET and
    ORDINAL fail with BigQuery's 'Array index i is out of bounds' and the SAFE_ forms give NULL;
    a NULL array or index gives NULL."""
    if not isinstance(node, exp.Bracket) or node.meta.get("duckdb_semantics"):
        return node
    if len(node.expressions) != 1 or node.args.get("json_access"):
        return node
    (index,) = node.expressions
    if isinstance(index, exp.Anonymous) and index.name.upper() in _SUBSCRIPTS:
        # the parser leaves an inner subscript of nested brackets as a plain function call
        base, safe = _SUBSCRIPTS[index.name.upper()]
        (index,) = index.expressions
    elif not index.is_string:
        base, safe = node.args.get("offset") or 0, bool(node.args.get("safe"))
    else:
        return node  # a field name: a JSON or STRUCT subscript
    array = node.this
    position = (
        index.copy() if base == 0 else exp.Sub(this=index.copy(), expression=exp.Literal.number(1))
    )
    element = exp.Bracket(
        this=array.copy(),
        expressions=[
            exp.Add(this=exp.paren(position.copy(), copy=False), expression=exp.Literal.number(1))
        ],
        offset=1,
    )
    element.meta["duckdb_semantics"] = True
    if isinstance(index, exp.Literal) and index.is_int and int(index.this) >= base and safe:
        return element  # DuckDB gives NULL past the end too
    if safe:
        return exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=position, expression=exp.Literal.number(0)), true=element)
            ]
        )
    return _fill(
        """
        CASE
          WHEN __position__ >= 0 AND __position__ < len(__array__) THEN __element__
          WHEN __array__ IS NULL OR __position__ IS NULL THEN NULL
          ELSE error('Array index ' || CAST(__index__ AS VARCHAR) || ' is out of bounds')
        END
        """,
        __position__=exp.paren(position, copy=False),
        __array__=array,
        __element__=element,
        __index__=index,
    )


def _unnest_with_offset(node: exp.Expression) -> exp.Expression:
    """`UNNEST(a) AS x WITH OFFSET AS o` numbers the elements from 0; DuckDB's WITH ORDINALITY,
    which the parser maps it to, from 1. The UNNEST becomes a (lateral) subquery giving each
    element and its 0-based offset, under the same names."""
    if not isinstance(node, exp.Unnest) or not node.args.get("offset"):
        return node
    if len(node.expressions) != 1:
        return node
    offset = node.args["offset"]
    offset_name = offset.name if isinstance(offset, exp.Identifier) else "offset"
    alias = node.args.get("alias")
    columns = alias.columns if alias else []
    table_name = alias.name if alias and alias.name else "unnest"
    (array,) = node.expressions
    if columns:
        value = exp.alias_(exp.Unnest(expressions=[array.copy()]), columns[0].name, quoted=True)
    else:
        # without an alias, the fields of STRUCT elements are the columns
        depth = exp.Kwarg(this=exp.var("max_depth"), expression=exp.Literal.number(2))
        value = exp.Anonymous(this="unnest", expressions=[array.copy(), depth])
    numbered = exp.select(
        value,
        exp.alias_(
            exp.Sub(
                this=exp.func("generate_subscripts", array.copy(), exp.Literal.number(1)),
                expression=exp.Literal.number(1),
            ),
            offset_name,
            quoted=True,
        ),
    )
    return exp.Subquery(
        this=numbered, alias=exp.TableAlias(this=exp.to_identifier(f"_{table_name}_numbered"))
    )


def _unnest_joins(node: exp.Expression) -> exp.Expression:
    """`FROM t AS a, UNNEST(a.x) AS u, UNNEST(u.y) AS v` (also CROSS JOIN, and LEFT JOIN UNNEST
    without ON) gives the same rows as a SELECT-list UNNEST of each array, which DuckDB runs as a
    plain UNNEST of the rows. Joined, DuckDB plans the UNNEST as a dependent (lateral) join over
    the distinct arrays unless its optimizer turns it back into a plain UNNEST, which it does not
    when the next UNNEST depends on this one or a filter reads the element: 20 to 80 times slower
    on IDC's tables. So `FROM t AS a, UNNEST(a.x) AS u` becomes `FROM (SELECT *, UNNEST(a.x) AS
    "_0_u" FROM t AS a) AS a`, the query's references to u renamed to the private "_0_u"; LEFT
    JOIN's one row for an empty or NULL array is the UNNEST of [NULL]. Only UNNESTs right after
    the first source, with an alias and without WITH OFFSET, and only where the SELECT list has
    no `*` and no inner query has a source of one of their names."""
    if not isinstance(node, exp.Select):
        return node
    source = node.args.get("from_")
    joins = node.args.get("joins") or []
    if not isinstance(source, exp.From) or not isinstance(source.this, exp.Table | exp.Subquery):
        return node
    if not source.this.alias_or_name or any(_is_star(p) for p in node.expressions):
        return node
    unnests = []
    # an output named like an element but not the element itself: GROUP BY or ORDER BY that
    # name may mean the output
    outputs = {
        p.alias_or_name.lower()
        for p in node.expressions
        if not (isinstance(p, exp.Column) and not p.table and p.name == p.alias_or_name)
    }
    outputs &= {
        column.parts[0].name.lower()
        for key in ("group", "order", "having", "qualify")
        if node.args.get(key)
        for column in node.args[key].find_all(exp.Column)
    }
    for join in joins:
        unnest = join.this
        alias = unnest.args.get("alias") if isinstance(unnest, exp.Unnest) else None
        plain = join.args.get("kind") in (None, "CROSS", "INNER") and not join.side
        left = join.side == "LEFT" and not join.args.get("kind")
        if (
            not (plain or left)
            or alias is None
            or alias.name
            or len(alias.columns) != 1
            or alias.columns[0].name.lower() in outputs
            or len(unnest.expressions) != 1
            or unnest.args.get("offset")
            or join.args.get("on")
            or join.args.get("using")
        ):
            break
        unnests.append((unnest, alias.columns[0].name, left))
    if not unnests:
        return node
    private = {name.lower(): f"_{n}_{name}" for n, (_, name, _) in enumerate(unnests)}
    # the renamed references: this query's own, not those of its WITH or its first source
    outside = {id(n) for part in (source.this, node.args.get("with_")) if part for n in part.walk()}
    for inner in node.find_all(exp.Table, exp.Subquery, exp.Unnest):
        # an inner query's source of one of those names: its references to it are its own
        if (
            isinstance(inner.parent, exp.From | exp.Join)
            and id(inner) not in outside
            and inner.parent_select is not node
            and _source_name(inner).lower() in private
        ):
            return node

    def rename(tree: exp.Expression) -> None:
        for column in list(tree.find_all(exp.Column)):
            first = column.parts[0] if column.parts else None
            if first is None or first.name.lower() not in private or id(column) in outside:
                continue
            for key in ("catalog", "db", "table", "this"):
                if column.args.get(key) is first:
                    column.set(key, exp.to_identifier(private[first.name.lower()], quoted=True))
                    break

    derived: exp.Expression = source.this.copy()
    name_of_source = source.this.alias_or_name
    for unnest, name, left in unnests:
        array = unnest.expressions[0]
        rename(array)
        if left:
            array = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.GT(
                            this=exp.ArraySize(this=array.copy()), expression=exp.Literal.number(0)
                        ),
                        true=array.copy(),
                    )
                ],
                default=exp.Array(expressions=[exp.null()]),
            )
        element = exp.alias_(
            exp.Unnest(expressions=[array.copy()]), private[name.lower()], quoted=True
        )
        derived = exp.select(exp.Star(), element).from_(derived).subquery(name_of_source)
    rest = joins[len(unnests) :]
    for projection in list(node.expressions):
        name = projection.alias_or_name
        rename(projection)
        if not isinstance(projection, exp.Alias) and projection.alias_or_name != name:
            projection.replace(exp.alias_(projection.copy(), name, quoted=True))
    for key, value in node.args.items():
        if key in ("from_", "joins", "with_", "expressions"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, exp.Expression):
                rename(item)
    for join in rest:
        rename(join)
    node.set("from_", exp.From(this=derived))
    node.set("joins", rest or None)
    return node


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


def _source_name(node: exp.Expression) -> str:
    """The name a FROM source is referred to by (an UNNEST's: its element's alias)."""
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns and isinstance(node, exp.Unnest):
        return alias.columns[0].name
    return node.alias_or_name


def _timestamp_results(node: exp.Expression) -> exp.Expression:
    """TIMESTAMP_MICROS/MILLIS/SECONDS and PARSE_TIMESTAMP return a TIMESTAMP (an instant, DuckDB's
    TIMESTAMPTZ); the parser maps them to DuckDB functions returning a TIMESTAMP without time zone
    (BigQuery's DATETIME). PARSE_TIMESTAMP reads a string without an offset in its time zone
    argument, UTC by default; the parser drops that argument."""
    if isinstance(node, exp.UnixToTime):
        return exp.cast(node, exp.DataType.Type.TIMESTAMPTZ)
    if type(node) is not exp.StrToTime:
        return node
    zone = node.args.get("zone") or exp.Literal.string("UTC")
    node.set("zone", None)
    fmt = node.args.get("format")
    if not isinstance(fmt, exp.Literal) or "%z" in fmt.this or "%Ez" in fmt.this:
        return exp.cast(node, exp.DataType.Type.TIMESTAMPTZ)
    return exp.Anonymous(this="timezone", expressions=[zone.copy(), node.copy()])


def _array_concat(node: exp.Expression) -> exp.Expression:
    """ARRAY_CONCAT is NULL when any argument is NULL; DuckDB's list_concat skips NULL lists."""
    if not isinstance(node, exp.ArrayConcat):
        return node
    arguments = [node.this, *node.expressions]
    any_null = exp.or_(*(exp.Is(this=a.copy(), expression=exp.Null()) for a in arguments))
    return exp.Case(ifs=[exp.If(this=any_null, true=exp.null())], default=node.copy())


def _substring(node: exp.Expression) -> exp.Expression:
    """SUBSTR(value, position[, length]): a position off the left end (0, or before -LENGTH)
    starts at 1, and a negative length is an error; DuckDB counts such positions and lengths
    differently."""
    if not isinstance(node, exp.Substring) or node.meta.get("duckdb_semantics"):
        return node
    start, length = node.args.get("start"), node.args.get("length")
    if start is not None and not (isinstance(start, exp.Literal) and int(start.this) > 0):
        node.set(
            "start",
            _fill(
                "CASE WHEN __start__ = 0 OR __start__ < -length(__value__) THEN 1 ELSE __start__ END",
                __start__=start,
                __value__=node.this,
            ),
        )
    if length is not None and not (isinstance(length, exp.Literal) and int(length.this) >= 0):
        node.set(
            "length",
            _fill(
                "CASE WHEN __length__ < 0 THEN "
                + _failure(node, "Third argument in SUBSTR() cannot be negative")
                + " ELSE __length__ END",
                __length__=length,
            ),
        )
    node.meta["duckdb_semantics"] = True
    return node


def _like_escape(node: exp.Expression) -> exp.Expression:
    r"""LIKE patterns escape `%`, `_` and `\` with a backslash; DuckDB's LIKE has no escape
    character unless one is given."""
    if isinstance(node, exp.Like | exp.ILike) and not isinstance(node.parent, exp.Escape):
        return exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))
    return node


# BigQuery reads a STRING as BOOL only when it is 'true' or 'false', in any case; DuckDB also
# takes 'yes', 't', '1', ...
_BOOL_FROM_STRING = """
CASE lower(__text__) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END
"""
_BOOL_BY_TYPE = """
CASE WHEN typeof(__value__) = 'VARCHAR' THEN __from_string__ ELSE TRY_CAST(__value__ AS BOOLEAN) END
"""


def _bool_cast(node: exp.Expression) -> exp.Expression:
    """`CAST`/`SAFE_CAST(x AS BOOL)` of a STRING: only 'true' and 'false' (any case) convert."""
    if not isinstance(node, exp.Cast) or not node.to.is_type(exp.DataType.Type.BOOLEAN):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    value = node.this
    if isinstance(value, exp.Literal) and not value.is_string:
        return node
    as_text = exp.cast(value.copy(), exp.DataType.Type.VARCHAR)
    as_text.meta["duckdb_semantics"] = True
    from_string = _fill(_BOOL_FROM_STRING, __text__=as_text)
    converted = (
        from_string
        if value.is_string
        else _fill(_BOOL_BY_TYPE, __value__=value, __from_string__=from_string)
    )
    return _cast_result(node, value, converted, as_text, "bool")


_DATE_RESULTS = (exp.DateAdd, exp.DateSub, exp.DateFromUnixDate)


def _dates(node: exp.Expression) -> exp.Expression:
    """DATE_ADD, DATE_SUB, DATE_FROM_UNIX_DATE and DATE_TRUNC of a DATE give a DATE (DuckDB's date
    arithmetic a TIMESTAMP); TIMESTAMP_DIFF counts whole units elapsed (DuckDB's date_diff counts
    boundaries crossed: date_sub is the match); EXTRACT(DAYOFWEEK) runs from Sunday = 1, WEEK
    counts weeks that begin on Sunday (0-53) and ISOWEEK is the ISO 8601 week."""
    if node.meta.get("duckdb_semantics"):
        return node
    if isinstance(node, _DATE_RESULTS) or (
        isinstance(node, exp.DateTrunc)
        and not (isinstance(node.this, exp.Cast) and node.this.to.is_type(*_TIME_TYPES))
    ):
        node.meta["duckdb_semantics"] = True
        return exp.cast(node, exp.DataType.Type.DATE)
    if isinstance(node, exp.TimestampDiff):
        unit = node.args.get("unit")
        return exp.Anonymous(
            this="date_sub",
            expressions=[
                exp.Literal.string(unit.name if unit else "DAY"),
                node.expression.copy(),
                node.this.copy(),
            ],
        )
    if isinstance(node, exp.Extract) and isinstance(node.this, exp.Var):
        part, value = node.this.name.upper(), node.expression
        if part == "DAYOFWEEK":
            return exp.paren(
                exp.Add(
                    this=exp.Anonymous(this="dayofweek", expressions=[value.copy()]),
                    expression=exp.Literal.number(1),
                )
            )
        if part == "WEEK":
            return exp.cast(
                exp.Anonymous(
                    this="strftime", expressions=[value.copy(), exp.Literal.string("%U")]
                ),
                exp.DataType.Type.BIGINT,
            )
        if part == "ISOWEEK":
            return exp.Anonymous(this="week", expressions=[value.copy()])
    return node


# BigQuery's mathematical functions fail outside their domain; DuckDB's give NaN.
# (Of ±inf, ACOS, ASIN and LN give NaN, as in BigQuery; SQRT(-inf) fails.)
_DOMAIN = {
    exp.Sqrt: ("__x__ < 0", "Argument to SQRT cannot be negative"),
    exp.Ln: ("__x__ < 0 AND isfinite(__x__)", "Argument to LN cannot be negative"),
    exp.Acos: ("abs(__x__) > 1 AND isfinite(__x__)", "ACOS is undefined outside [-1, 1]"),
    exp.Asin: ("abs(__x__) > 1 AND isfinite(__x__)", "ASIN is undefined outside [-1, 1]"),
}


def _math_domain(node: exp.Expression) -> exp.Expression:
    """SQRT, LN, LOG, LOG10, ACOS and ASIN fail outside their domain, as in BigQuery."""
    if node.meta.get("duckdb_semantics"):
        return node
    if isinstance(node, exp.Log):
        value, (condition, message) = (
            node.expression,
            ("__x__ < 0 AND isfinite(__x__)", "Argument to LOG cannot be negative"),
        )
    elif type(node) in _DOMAIN:
        value, (condition, message) = node.this, _DOMAIN[type(node)]
    else:
        return node
    if value is None:
        return node
    node.meta["duckdb_semantics"] = True
    return _fill(
        f"CASE WHEN {condition} THEN {_failure(node, message)} ELSE __result__ END",
        __x__=value,
        __result__=node,
    )


def _failure(function: exp.Expression, message: str) -> str:
    """DuckDB SQL for a failure of `function`: error(message), or NULL where the function is
    called with BigQuery's SAFE. prefix (DuckDB's try() refuses error() inside it)."""
    parent = function.parent
    if isinstance(parent, exp.Anonymous) and parent.meta.get("safe"):
        return "NULL"
    return f"error('{message}')"


def _safe_function(node: exp.Expression) -> exp.Expression:
    """`SAFE.f(args)`: NULL where f fails, while an error of an argument still fails. DuckDB's
    try() would also hide the arguments' errors, so the arguments are evaluated first, into a
    STRUCT, and only f runs inside try(), on that STRUCT's fields:
    `list_transform([{'a0': arg0, ...}], lambda _safe: try(f(_safe.a0, ...)))[1]`.
    (DuckDB refuses try() around ERROR() or another volatile function.)"""
    if not isinstance(node, exp.SafeFunc):
        return node
    function = node.this.copy()
    fields = []
    for value in list(function.args.values()):
        for argument in value if isinstance(value, list) else [value]:
            if not isinstance(argument, exp.Expression) or isinstance(
                argument, exp.Literal | exp.DataType | exp.Var | exp.Null | exp.Boolean
            ):
                continue
            name = f"a{len(fields)}"
            fields.append(exp.PropertyEQ(this=exp.to_identifier(name), expression=argument.copy()))
            argument.replace(exp.column(name, table="_safe"))
    attempt = exp.Anonymous(this="try", expressions=[function])
    attempt.meta["safe"] = True  # f's own failure checks give NULL here (see `_failure`)
    if not fields:
        return attempt
    applied = exp.Anonymous(
        this="list_transform",
        expressions=[
            exp.Array(expressions=[exp.Struct(expressions=fields)]),
            exp.Lambda(this=attempt, expressions=[exp.to_identifier("_safe")]),
        ],
    )
    element = exp.Bracket(this=applied, expressions=[exp.Literal.number(1)], offset=1)
    element.meta["duckdb_semantics"] = True
    return element


def _order_by_subquery_alias(node: exp.Expression) -> exp.Expression:
    """`SELECT ARRAY(SELECT ...) AS b ... ORDER BY b[OFFSET(0)]`: DuckDB cannot bind an ORDER BY
    expression over an alias whose expression has a subquery. The SELECT without its ORDER BY
    (and LIMIT) becomes a subquery that the ORDER BY then reads by name; ORDER BY terms over
    other columns ride along as hidden columns."""
    if not isinstance(node, exp.Select) or not node.args.get("order"):
        return node
    with_subquery = {
        projection.alias
        for projection in node.expressions
        if isinstance(projection, exp.Alias) and projection.this.find(exp.Query)
    }
    order = node.args["order"]
    if not with_subquery or not any(
        not isinstance(key.this, exp.Column)
        and any(c.name in with_subquery and not c.table for c in key.this.find_all(exp.Column))
        for key in order.expressions
    ):
        return node
    outputs = {projection.alias_or_name for projection in node.expressions}
    inner = node.copy()
    for arg in ("order", "limit", "offset"):
        inner.set(arg, None)
    hidden = []
    keys = []
    for position, key in enumerate(order.expressions):
        key = key.copy()
        columns = list(key.this.find_all(exp.Column))
        by_output = isinstance(key.this, exp.Literal) or all(
            c.name in outputs and not c.table for c in columns
        )
        if not by_output:
            name = f"__order_{position}"
            inner.select(exp.alias_(key.this.copy(), name, quoted=True), copy=False)
            hidden.append(exp.to_identifier(name, quoted=True))
            key.set("this", exp.column(name, quoted=True))
        keys.append(key)
    star = exp.Star(**({"except_": hidden} if hidden else {}))
    outer = exp.select(star).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_ordered")))
    )
    outer.set("order", exp.Order(expressions=keys))
    for arg in ("limit", "offset"):
        if node.args.get(arg):
            outer.set(arg, node.args[arg].copy())
    return outer


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
    elif isinstance(value, exp.Cast) and value.to.is_type(*_FLOAT64):
        converted = from_float
    elif isinstance(value, exp.Literal) and value.is_int:
        return node
    else:
        converted = _fill(
            _INT64_BY_TYPE, __value__=value, __from_string__=from_string, __from_float__=from_float
        )
    return _cast_result(node, value, converted, as_text, "int64")


def _cast_result(
    cast: exp.Cast, value: exp.Expression, converted: exp.Expression, as_text, type_name: str
) -> exp.Expression:
    """SAFE_CAST gives the conversion (NULL where it fails); CAST fails with BigQuery's
    'Bad <type> value: <text>' where a non-NULL value does not convert."""
    if isinstance(cast, exp.TryCast) or cast.args.get("safe"):
        return converted
    failed = exp.Anonymous(
        this="error",
        expressions=[
            exp.DPipe(this=exp.Literal.string(f"Bad {type_name} value: "), expression=as_text)
        ],
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.null())],
        default=exp.Coalesce(this=converted, expressions=[failed]),
    )


def _fill(template: str, **values: exp.Expression) -> exp.Expression:
    """A DuckDB SQL template with its `__name__` columns replaced by the given expressions."""
    tree = sqlglot.parse_one(template, read="duckdb")
    # the template's own nodes are DuckDB's already: the later fixes leave them alone
    for node in tree.walk():
        node.meta["duckdb_semantics"] = True
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
# BigQuery writes TIME, DATETIME and TIMESTAMP with 0, 3 or 6 fractional digits ('10:00:00',
# '10:00:00.120', '10:00:00.123456'); DuckDB drops every trailing zero ('10:00:00.12'). Both write
# a TIMESTAMP in UTC (the engine pins DuckDB's session time zone) as '... +00'.
_STRING_FROM_TIME = r"""
CASE
  WHEN NOT contains(__text__, '.') THEN __text__
  ELSE regexp_replace(
    __text__,
    '\.[0-9]+',
    '.' || rpad(
      regexp_extract(__text__, '\.([0-9]+)', 1),
      CASE WHEN length(regexp_extract(__text__, '\.([0-9]+)', 1)) <= 3 THEN 3 ELSE 6 END,
      '0'
    )
  )
END
"""
_TIME_TYPES = (
    exp.DataType.Type.TIME,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.DATETIME,
)
# BigQuery writes a NUMERIC without trailing fractional zeros ('1.5', '2'); DuckDB writes its
# decimal's every digit of scale ('1.500000000').
_STRING_FROM_NUMERIC = r"""
CASE WHEN contains(__text__, '.') THEN rtrim(rtrim(__text__, '0'), '.') ELSE __text__ END
"""
_STRING_BY_TYPE = """
CASE
  WHEN typeof(__value__) IN ('DOUBLE', 'FLOAT') THEN __from_float__
  WHEN typeof(__value__) IN ('TIME', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') THEN __from_time__
  WHEN typeof(__value__) LIKE 'DECIMAL%' THEN __from_numeric__
  ELSE CAST(__value__ AS VARCHAR)
END
"""
_FLOAT64 = (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)


def _to_string(node: exp.Expression) -> exp.Expression:
    """`CAST(x AS STRING)` of a FLOAT64, TIME, DATETIME or TIMESTAMP gives BigQuery's text (see
    _STRING_FROM_FLOAT, _STRING_FROM_TIME); where the parse tree does not tell x's type (a
    column), DuckDB's typeof(x) picks the rule at run time.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_as_string
    """
    if not isinstance(node, exp.Cast) or not node.to.is_type(*exp.DataType.TEXT_TYPES):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    value = node.this
    is_float = _float_literal(value) or (
        isinstance(value, exp.Cast) and value.to.is_type(*_FLOAT64)
    )
    is_time = isinstance(value, exp.Cast) and value.to.is_type(*_TIME_TYPES)
    is_numeric = isinstance(value, exp.Cast) and value.to.is_type(exp.DataType.Type.DECIMAL)
    known = isinstance(value, exp.Literal | exp.Cast) or (
        value.type and not value.type.is_type(exp.DataType.Type.UNKNOWN)
    )
    if known and not (is_float or is_time or is_numeric):
        return node  # a literal or cast of another type
    as_text = exp.cast(value.copy(), exp.DataType.Type.VARCHAR)
    as_text.meta["duckdb_semantics"] = True
    from_time = _fill(_STRING_FROM_TIME, __text__=as_text)
    if is_time:
        return from_time
    from_numeric = _fill(_STRING_FROM_NUMERIC, __text__=as_text)
    if is_numeric:
        return from_numeric
    as_float = exp.cast(value.copy(), exp.DataType.Type.DOUBLE)
    as_float.meta["duckdb_semantics"] = True
    from_float = _fill(_STRING_FROM_FLOAT, __float__=as_float)
    if is_float:
        return from_float
    return _fill(
        _STRING_BY_TYPE,
        __value__=value,
        __from_float__=from_float,
        __from_time__=from_time,
        __from_numeric__=from_numeric,
    )


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


_FORMAT_SPECIFIER = re.compile(r"%[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?([a-zA-Z%])")


def _format(node: exp.Expression) -> exp.Expression:
    """BigQuery's FORMAT takes printf-style specifiers; DuckDB's format is fmt-style ({}), its
    printf is the match. `%t` (the value as text, NULL as 'NULL') becomes `%s` of the value cast
    to STRING, so it writes what CAST writes, except that a whole FLOAT64 keeps its ".0"
    (string_functions#t_and_t_behavior: 1.0 is '1.0', where CAST gives '1')."""
    if not isinstance(node, exp.Format):
        return node
    arguments = [argument.copy() for argument in node.expressions]
    pattern = node.this
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        position, text = 0, []
        for piece in _FORMAT_SPECIFIER.finditer(pattern.this):
            if piece[1] == "%":
                continue
            if piece[1] == "t" and position < len(arguments):
                arguments[position] = _fill(
                    "COALESCE(CASE WHEN typeof(__value__) IN ('DOUBLE', 'FLOAT')"
                    " AND regexp_full_match(__text__, '-?[0-9]+')"
                    " THEN __text__ || '.0' ELSE __text__ END, 'NULL')",
                    __value__=arguments[position],
                    __text__=exp.cast(arguments[position], exp.DataType.Type.VARCHAR),
                )
                text.append((piece.end(1) - 1, "s"))
            position += 1
        value = pattern.this
        for at, replacement in reversed(text):
            value = value[:at] + replacement + value[at + 1 :]
        pattern = exp.Literal.string(value)
    return exp.Anonymous(this="printf", expressions=[pattern.copy(), *arguments])


# --- Values: integer and NUMERIC types, FLOAT64 NaN and overflow, BYTES, STRUCT -------------------

_INT64_ALIASES = (
    exp.DataType.Type.INT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.TINYINT,
)


def _value_types(node: exp.Expression) -> exp.Expression:
    """BigQuery's INT, INTEGER, SMALLINT, TINYINT, BYTEINT and BIGINT are all INT64 (DuckDB's are
    8 to 32 bits); NUMERIC and DECIMAL without parameters are DECIMAL(38, 9) (DuckDB's default is
    DECIMAL(18, 3)). BIGNUMERIC (76 digits, scale 38) has no DuckDB type and is refused.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#numeric_types
    """
    if not isinstance(node, exp.DataType) or node.meta.get("duckdb_semantics"):
        return node
    if node.this in _INT64_ALIASES:
        return exp.DataType.build("BIGINT")
    if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build("DECIMAL(38, 9)")
    if node.this == exp.DataType.Type.BIGDECIMAL:
        raise UnsupportedError(
            "BIGNUMERIC is not supported by the embedded engine (DuckDB's decimals stop at 38 "
            "digits); use NUMERIC or FLOAT64, or run the query on BigQuery"
        )
    return node


_FLOAT_RESULTS = (exp.Div, exp.Sqrt, exp.Ln, exp.Log, exp.Exp, exp.Pow)


def _float_kind(node: exp.Expression) -> bool | None:
    """Whether the expression is a FLOAT64 (True), surely not one (False), or unknown here (None:
    a column, a function result the rewrites do not follow)."""
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    if isinstance(node, exp.Cast):
        return node.to.is_type(*_FLOAT64)
    if isinstance(node, exp.Literal | exp.Null | exp.Boolean | exp.Struct | exp.Array):
        return False
    if isinstance(node, exp.ByteString | exp.DPipe | exp.Concat | exp.Predicate | exp.Not):
        return False
    if isinstance(node, _FLOAT_RESULTS):
        return True
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        kinds = {_float_kind(node.this), _float_kind(node.expression)}
        return True if True in kinds else (None if None in kinds else False)
    if isinstance(node, exp.Column):
        return _unnested_kind(node)
    return None


def _unnested_kind(column: exp.Column) -> bool | None:
    """The kind of a column that names the elements of an UNNEST of an ARRAY literal (or of a
    cast to a typed ARRAY) in a FROM clause around it; None for any other column."""
    select = column.find_ancestor(exp.Select)
    while select is not None:
        for source in [select.args.get("from_"), *(select.args.get("joins") or [])]:
            unnest = source.this if source is not None else None
            alias = unnest.args.get("alias") if isinstance(unnest, exp.Unnest) else None
            if not (alias and alias.columns and len(unnest.expressions) == 1):
                continue
            if alias.columns[0].name.lower() != column.name.lower():
                continue
            array = unnest.expressions[0]
            if isinstance(array, exp.Cast) and array.to.is_type(exp.DataType.Type.ARRAY):
                element = array.to.expressions[0] if array.to.expressions else None
                return bool(element is not None and element.is_type(*_FLOAT64))
            if isinstance(array, exp.Array):
                kinds = {_float_kind(item) for item in array.expressions}
                return True if True in kinds else (None if None in kinds else False)
            return None
        select = select.parent.find_ancestor(exp.Select) if select.parent else None
    return None


def _is_nan(value: exp.Expression) -> exp.Expression:
    """DuckDB SQL that is TRUE where `value` is a FLOAT64 NaN (NULL where it is NULL). Where its
    type is unknown here, DuckDB's typeof() decides; it is a constant DuckDB folds when binding,
    so other types cost nothing."""
    if _float_kind(value):
        return exp.func("isnan", value.copy())
    return _fill(
        "CASE WHEN typeof(__v__) IN ('DOUBLE', 'FLOAT') "
        "THEN isnan(TRY_CAST(__v__ AS DOUBLE)) ELSE FALSE END",
        __v__=value,
    )


def _may_be_float(*values: exp.Expression) -> bool:
    return any(_float_kind(value) is not False for value in values)


def _nan_comparison(node: exp.Expression) -> exp.Expression:
    """FLOAT64 comparisons with NaN: BigQuery's NaN is equal to nothing, itself included, and
    neither less nor greater than anything (DuckDB's NaN equals NaN and is the greatest value).
    The comparison stays the first conjunct, so DuckDB still plans a join on it as a hash join.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#comparison_operators
    """
    if not isinstance(node, exp.EQ | exp.NEQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    left, right = node.this, node.expression
    if not _may_be_float(left, right) or _struct_side(left, right):
        return node
    # the side whose NaN DuckDB would compare as TRUE against the other, non-NULL side
    wrong, other = (right, left) if isinstance(node, exp.LT | exp.LTE) else (left, right)
    if not _may_be_float(wrong) or (
        isinstance(node, exp.EQ | exp.NEQ) and not _may_be_float(other)
    ):
        return node
    node.meta["duckdb_semantics"] = True
    if isinstance(node, exp.NEQ):
        both = exp.and_(_is_nan(left), _is_nan(right))
        return exp.paren(exp.or_(node, exp.paren(both)))
    guard = exp.and_(_is_nan(wrong), exp.Not(this=exp.Is(this=other.copy(), expression=exp.Null())))
    return exp.paren(exp.and_(node, exp.Not(this=exp.paren(guard))))


def _nan_order(node: exp.Expression) -> exp.Expression:
    """ORDER BY a FLOAT64 (of a query, a window or an aggregate): NaN is the smallest non-NULL
    value (DuckDB's is the greatest). A key that is NULL for NULL, 0 for NaN and 1 otherwise goes
    first, with the same direction and NULL placement.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#floating_point_semantics
    """
    if not isinstance(node, exp.Ordered) or node.meta.get("duckdb_semantics"):
        return node
    key = node.this
    if not _may_be_float(key) or (isinstance(key, exp.Literal) and key.is_int):
        return node
    order = node.parent
    if not isinstance(order, exp.Order) or node.arg_key != "expressions":
        return node
    select = order.parent
    if isinstance(select, exp.SetOperation) or (
        isinstance(select, exp.Select) and select.args.get("distinct")
    ):
        return node  # DuckDB takes only output columns there
    if isinstance(select, exp.Select) and isinstance(key, exp.Column) and not key.table:
        # a name in a query's ORDER BY is its output's: inside an expression DuckDB would read
        # it as a source column, so the output's expression stands in for it
        for projection in select.expressions:
            if projection.alias_or_name == key.name:
                key = projection.this if isinstance(projection, exp.Alias) else projection
                break
    if not _float_kind(key):
        # a column's type is not known here, and a key DuckDB cannot drop costs the index
        # queries' sorts and windows dearly: only what is known to be a FLOAT64
        return node
    nan_first = _fill(
        "CASE WHEN __nan__ THEN 0 WHEN __k__ IS NOT NULL THEN 1 END",
        __nan__=_is_nan(key),
        __k__=key,
    )
    if _float_kind(key) is None:
        # a constant, dropped by DuckDB, unless the key is a FLOAT64
        nan_first = _fill(
            "CASE WHEN typeof(__k__) IN ('DOUBLE', 'FLOAT') THEN __first__ END",
            __k__=key,
            __first__=nan_first,
        )
    first = node.copy()
    first.set("this", nan_first)
    first.meta["duckdb_semantics"] = True
    node.meta["duckdb_semantics"] = True
    keys = list(order.expressions)
    at = keys.index(node)
    order.set("expressions", [*keys[:at], first, *keys[at:]])
    return node


def _nan_min(node: exp.Expression) -> exp.Expression:
    """MIN of FLOAT64 values with a NaN is NaN, as are LEAST and GREATEST with a NaN argument
    (DuckDB's MIN and LEAST skip NaN as the greatest value; its MAX already gives NaN)."""
    window = node if isinstance(node, exp.Window) else None
    aggregate = node.this if window else node
    if isinstance(node, exp.Least | exp.Greatest) and not node.meta.get("duckdb_semantics"):
        arguments = [node.this, *node.expressions]
        if not _may_be_float(*arguments):
            return node
        node.meta["duckdb_semantics"] = True
        any_nan = exp.or_(*(_is_nan(a) for a in arguments))
        nan = exp.cast(exp.Literal.string("nan"), exp.DataType.Type.DOUBLE)
        return exp.Case(ifs=[exp.If(this=any_nan, true=nan)], default=node.copy())
    if not isinstance(aggregate, exp.Min) or aggregate.meta.get("duckdb_semantics"):
        return node
    if isinstance(node, exp.Min) and isinstance(node.parent, exp.Window):
        return node  # handled with its window
    value = aggregate.this
    if isinstance(value, exp.Distinct):
        value = value.expressions[0]
    if not _float_kind(value):
        return node  # as in ORDER BY: only what is known to be a FLOAT64 (see _nan_order)
    aggregate.meta["duckdb_semantics"] = True

    def over(function: exp.Expression) -> exp.Expression:
        if window is None:
            return function
        copy = window.copy()
        copy.set("this", function)
        return copy

    as_double = exp.cast(value.copy(), exp.DataType.Type.DOUBLE)
    as_double.meta["duckdb_semantics"] = True
    has_nan = over(
        exp.func(
            "bool_or",
            exp.func("isnan", exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))),
        )
    )
    maximum = over(exp.Max(this=aggregate.this.copy()))
    minimum = node.copy()
    minimum.meta["duckdb_semantics"] = True
    return _fill(
        "CASE WHEN typeof(__min__) IN ('DOUBLE', 'FLOAT') AND __has_nan__ THEN __max__ "
        "ELSE __min__ END",
        __min__=minimum,
        __has_nan__=has_nan,
        __max__=maximum,
    )


_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Pow, exp.Exp)


def _float_overflow(node: exp.Expression) -> exp.Expression:
    """FLOAT64 arithmetic (+, -, *, /, POW, EXP) that overflows fails in BigQuery ('double
    overflow'); DuckDB gives ±inf (or NaN). Checked once per arithmetic expression, on its
    result: not finite while every operand is finite. Integers are left to DuckDB, whose INT64
    arithmetic fails on overflow as BigQuery's does."""
    if not isinstance(node, _ARITHMETIC) or node.meta.get("duckdb_semantics"):
        return node
    if isinstance(node.parent, _ARITHMETIC) and not node.parent.meta.get("duckdb_semantics"):
        return node  # checked with the expression around it
    operands = list(_operands(node))
    kinds = {_float_kind(operand) for operand in operands} | {_float_kind(node)}
    if kinds == {False}:
        return node
    result = node.copy()
    for arithmetic in [result, *result.find_all(*_ARITHMETIC)]:
        arithmetic.meta["duckdb_semantics"] = True
    finite = [
        exp.func("isfinite", exp.TryCast(this=o.copy(), to=exp.DataType.build("DOUBLE")))
        for o in operands
        if _float_kind(o) is not False
    ]
    overflow = exp.and_(
        exp.Not(
            this=exp.func(
                "isfinite", exp.TryCast(this=result.copy(), to=exp.DataType.build("DOUBLE"))
            )
        ),
        *finite,
    )
    if True not in kinds:
        overflow = exp.and_(
            exp.In(
                this=exp.func("typeof", result.copy()),
                expressions=[exp.Literal.string("DOUBLE"), exp.Literal.string("FLOAT")],
            ),
            overflow,
        )
    message = f"double overflow: {node.sql('bigquery')}"
    return exp.Case(
        ifs=[exp.If(this=overflow, true=_error(message))],
        default=result,
    )


def _operands(node: exp.Expression):
    """The operands of an arithmetic expression: what is not itself + - * / POW EXP."""
    for child in node.iter_expressions():
        if isinstance(child, exp.Paren):
            child = child.unnest()
        if isinstance(child, _ARITHMETIC) and not child.meta.get("duckdb_semantics"):
            yield from _operands(child)
        else:
            yield child


def _error(message: str) -> exp.Expression:
    return exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])


def _constant_int(node: exp.Expression | None) -> int | None:
    """The value of an integer literal (or its negation), else None."""
    sign = 1
    while isinstance(node, exp.Neg | exp.Paren):
        sign = -sign if isinstance(node, exp.Neg) else sign
        node = node.this
    if isinstance(node, exp.Literal) and node.is_int:
        return sign * int(node.this)
    return None


def _window_arguments(node: exp.Expression) -> exp.Expression:
    """LAG and LEAD's offset and NTH_VALUE's position are constants BigQuery checks: a negative
    offset or a position below 1 fails (DuckDB would count the other way); NTILE's bucket count
    must be at least 1.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/navigation_functions#lag
    """
    if isinstance(node, exp.Lag | exp.Lead):
        offset = node.args.get("offset")
        value = _constant_int(offset)
        if offset is not None and (value is None or value < 0):
            name = "LAG" if isinstance(node, exp.Lag) else "LEAD"
            raise UnsupportedError(
                f"The offset to the function {name} must not be negative"
                if value is not None
                else f"The offset to the function {name} must be a non-negative integer literal"
            )
    elif isinstance(node, exp.NthValue):
        value = _constant_int(node.args.get("offset"))
        if value is None or value < 1:
            raise UnsupportedError("The N value (2nd argument) for NTH_VALUE must be at least 1")
    elif isinstance(node, exp.Ntile) and not node.meta.get("duckdb_semantics"):
        buckets = node.this
        value = _constant_int(buckets)
        if value is not None and value < 1:
            raise UnsupportedError("The argument to NTILE must be at least 1")
        if value is None and buckets is not None:
            node.meta["duckdb_semantics"] = True
            node.set(
                "this",
                _fill(
                    "CASE WHEN __n__ < 1 THEN error('The argument to NTILE must be at least 1') "
                    "ELSE __n__ END",
                    __n__=buckets,
                ),
            )
    return node


def _generate_array_step(node: exp.Expression) -> exp.Expression:
    """GENERATE_ARRAY and GENERATE_DATE_ARRAY fail on a step of 0 (DuckDB gives [])."""
    if not isinstance(node, exp.GenerateSeries | exp.GenerateDateArray):
        return node
    step = node.args.get("step")
    if node.meta.get("duckdb_semantics") or step is None:
        return node
    value = _constant_int(step)
    if value is not None and value != 0:
        return node
    node.meta["duckdb_semantics"] = True
    if isinstance(step, exp.Interval):
        zero = exp.EQ(this=step.this.copy(), expression=exp.Literal.number(0))
    else:
        zero = exp.EQ(this=step.copy(), expression=exp.Literal.number(0))
    return exp.Case(
        ifs=[exp.If(this=zero, true=_error("Sequence step cannot be 0."))], default=node.copy()
    )


def _string_arguments(node: exp.Expression) -> exp.Expression:
    """LEFT and RIGHT fail on a negative length, REPEAT on a negative count, LPAD and RPAD on a
    negative size or an empty pattern (DuckDB counts from the other end, or gives '')."""
    if node.meta.get("duckdb_semantics"):
        return node
    if isinstance(node, exp.Left | exp.Right):
        name = "LEFT" if isinstance(node, exp.Left) else "RIGHT"
        checks = [(node.expression, "negative", f"Second argument in {name}() cannot be negative")]
    elif isinstance(node, exp.Repeat):
        checks = [
            (
                node.args.get("times"),
                "negative",
                "Second argument (repeat count) for REPEAT cannot be negative",
            )
        ]
    elif isinstance(node, exp.Pad):
        checks = [
            (
                node.expression,
                "negative",
                "Second argument (output size) for LPAD/RPAD cannot be negative",
            ),
            (
                node.args.get("fill_pattern"),
                "empty",
                "Third argument (pad pattern) for LPAD/RPAD cannot be empty",
            ),
        ]
    else:
        return node
    node.meta["duckdb_semantics"] = True
    length = _constant_int(node.expression) if isinstance(node, exp.Left | exp.Right) else 0
    if length is None or length >= 2**31:
        # DuckDB's LEFT and RIGHT fail on a length beyond 2^32; no string is that long
        node.set(
            "expression",
            exp.cast(
                exp.func("least", node.expression.copy(), exp.Literal.number(2**31 - 1)),
                exp.DataType.Type.BIGINT,
            ),
        )
    arguments = [a for a in node.iter_expressions()]
    failures = []
    for argument, kind, message in checks:
        if argument is None:
            continue
        if kind == "negative":
            value = _constant_int(argument)
            if value is not None and value >= 0:
                continue
            failed = exp.LT(this=argument.copy(), expression=exp.Literal.number(0))
        else:
            if isinstance(argument, exp.Literal) and argument.this:
                continue
            failed = exp.EQ(this=argument.copy(), expression=exp.Literal.string(""))
        # a NULL argument makes the result NULL before any argument is checked
        present = [
            exp.Not(this=exp.Is(this=a.copy(), expression=exp.Null()))
            for a in arguments
            if not (isinstance(a, exp.Literal) or a is argument)
        ]
        failures.append(exp.If(this=exp.and_(failed, *present), true=_error(message)))
    if not failures:
        return node
    return exp.Case(ifs=failures, default=node.copy())


def _array_to_string(node: exp.Expression) -> exp.Expression:
    """ARRAY_TO_STRING of a non-NULL array of only NULLs is '' (the NULLs are left out); DuckDB's
    array_to_string gives NULL."""
    if not isinstance(node, exp.ArrayToString) or node.meta.get("duckdb_semantics"):
        return node
    if node.args.get("null") is not None:
        return node
    node.meta["duckdb_semantics"] = True
    present = (
        exp.and_(
            *(
                exp.Not(this=exp.Is(this=a.copy(), expression=exp.Null()))
                for a in (node.this, node.expression)
                if a is not None and not isinstance(a, exp.Literal)
            )
        )
        if not all(isinstance(a, exp.Literal) for a in (node.this, node.expression))
        else exp.true()
    )
    empty = exp.Case(ifs=[exp.If(this=present, true=exp.Literal.string(""))])
    return exp.Coalesce(this=node.copy(), expressions=[empty])


def _nan_equality_forms(node: exp.Expression) -> exp.Expression:
    """NULLIF(a, b) and `x IN (a, b, ...)` compare with `=`, so with NaN equal to nothing: they
    become the CASE and the ORs of `=` that the NaN rewrite of comparisons then handles."""
    if node.meta.get("duckdb_semantics"):
        return node
    if isinstance(node, exp.Nullif):
        value, other = node.this, node.expression
        if not (_may_be_float(value) and _may_be_float(other)):
            return node
        return exp.Case(
            ifs=[exp.If(this=exp.EQ(this=value.copy(), expression=other.copy()), true=exp.null())],
            default=value.copy(),
        )
    if isinstance(node, exp.In) and node.expressions and not node.args.get("query"):
        value = node.this
        if not (_may_be_float(value) and _may_be_float(*node.expressions)):
            return node
        return exp.paren(
            exp.or_(
                *(exp.EQ(this=value.copy(), expression=item.copy()) for item in node.expressions)
            )
        )
    return node


_DATE_ARITHMETIC = (
    exp.DateAdd,
    exp.DateSub,
    exp.TimestampAdd,
    exp.TimestampSub,
    exp.DatetimeAdd,
    exp.DatetimeSub,
)


def _date_range(node: exp.Expression) -> exp.Expression:
    """DATE_ADD, DATE_SUB, DATETIME_ADD/SUB and TIMESTAMP_ADD/SUB fail past BigQuery's range of
    dates, 0001-01-01 to 9999-12-31 (DuckDB's dates go on)."""
    if not isinstance(node, _DATE_ARITHMETIC) or node.meta.get("range_checked"):
        return node
    node.meta["range_checked"] = True
    message = f"{node.sql('bigquery')} causes overflow (outside 0001-01-01 to 9999-12-31)"
    message = message.replace("'", "''")
    return _fill(
        f"CASE WHEN year(CAST(__r__ AS DATE)) NOT BETWEEN 1 AND 9999 THEN {_failure(node, message)} "
        "ELSE __r__ END",
        __r__=node,
    )


_ZONED_TIMESTAMP = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d{1,6})?)?"
    r"\s*([A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*)\s*"
)


def _zoned_timestamp(node: exp.Expression) -> exp.Expression:
    """A TIMESTAMP literal (or a cast of a string literal) in a named time zone, at a local time
    that a DST change repeats or skips: BigQuery takes the offset in force before the change
    (the first of a repeated hour), DuckDB the one after. The instant is resolved here, with
    the IANA time zone database, and written in UTC."""
    if not isinstance(node, exp.Cast) or not node.to.is_type(exp.DataType.Type.TIMESTAMPTZ):
        return node
    value = node.this
    if not (isinstance(value, exp.Literal) and value.is_string):
        return node
    match = _ZONED_TIMESTAMP.fullmatch(value.this)
    if match is None or match[8].upper() in ("UTC", "Z"):
        return node
    try:
        zone = zoneinfo.ZoneInfo(match[8])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return node
    year, month, day, hour, minute, second = (int(match[i] or 0) for i in range(1, 7))
    micro = int((match[7] or ".0")[1:].ljust(6, "0"))
    try:
        local = datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return node  # not a date: DuckDB's cast fails on it as BigQuery does
    utc = local.astimezone(datetime.UTC)
    return exp.cast(exp.Literal.string(utc.strftime("%Y-%m-%d %H:%M:%S.%f+00")), node.to.copy())


def _struct_side(*values: exp.Expression) -> int | None:
    """The number of fields of a STRUCT literal among the values (None: none is one)."""
    for value in values:
        if isinstance(value, exp.Struct):
            return len(value.expressions)
    return None


def _struct_field(value: exp.Expression, position: int) -> exp.Expression:
    if isinstance(value, exp.Struct):
        field = value.expressions[position]
        return (field.expression if isinstance(field, exp.PropertyEQ | exp.Alias) else field).copy()
    return exp.func("struct_extract_at", value.copy(), exp.Literal.number(position + 1))


def _struct_equality(node: exp.Expression) -> exp.Expression:
    """STRUCT = STRUCT compares the fields by position, names ignored, and is NULL where a field
    comparison is (DuckDB compares by name and treats NULL fields as equal): the field
    comparisons ANDed, each with BigQuery's semantics (nested STRUCTs, FLOAT64 NaN).

    https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#comparison_operators
    """
    if not isinstance(node, exp.EQ | exp.NEQ) or node.meta.get("duckdb_semantics"):
        return node
    left, right = node.this, node.expression
    fields = _struct_side(left, right)
    if fields is None:
        return node
    for side in (left, right):
        if isinstance(side, exp.Struct) and len(side.expressions) != fields:
            raise UnsupportedError(
                f"{node.sql('bigquery')}: STRUCTs of {len(left.expressions)} and "
                f"{len(right.expressions)} fields cannot be compared"
            )
    comparisons = []
    for position in range(fields):
        comparison = exp.EQ(
            this=_struct_field(left, position), expression=_struct_field(right, position)
        )
        comparison = _struct_equality(comparison)
        comparisons.append(_nan_comparison(comparison))
    equal = exp.paren(exp.and_(*comparisons)) if comparisons else exp.true()
    return exp.Not(this=equal) if isinstance(node, exp.NEQ) else equal


def _countif(node: exp.Expression) -> exp.Expression:
    """COUNTIF over no row is 0 (DuckDB's count_if gives NULL): a COUNT of the rows where the
    condition is TRUE, which is 0 over none, as an aggregate and as a window function."""
    if not isinstance(node, exp.CountIf):
        return node
    condition = node.this
    if isinstance(condition, exp.Distinct):
        return node  # COUNTIF(DISTINCT ...) is refused by BigQuery
    return exp.Count(this=exp.Case(ifs=[exp.If(this=condition.copy(), true=exp.Literal.number(1))]))


def _bytes_strings(node: exp.Expression) -> exp.Expression:
    """CAST(BYTES AS STRING) decodes UTF-8 and fails on invalid UTF-8 (SAFE_CAST: NULL), and
    CAST(STRING AS BYTES) encodes it; DuckDB's casts write and read '\\xNN' escapes instead.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_as_string
    """
    if not isinstance(node, exp.Cast) or node.meta.get("duckdb_semantics"):
        return node
    value = node.this
    safe = isinstance(node, exp.TryCast) or bool(node.args.get("safe"))
    if node.to.is_type(*exp.DataType.TEXT_TYPES):
        is_bytes = isinstance(value, exp.ByteString) or (
            isinstance(value, exp.Cast)
            and value.to.is_type(exp.DataType.Type.BINARY, exp.DataType.Type.VARBINARY)
        )
        if not is_bytes and _known_other(value, exp.DataType.Type.BINARY):
            return node
        decoded = exp.Anonymous(
            this="decode",
            expressions=[exp.TryCast(this=value.copy(), to=exp.DataType.build("BLOB"))],
        )
        if safe:
            decoded = exp.Anonymous(this="try", expressions=[decoded])
        if is_bytes:
            return decoded
        return _fill(
            "CASE WHEN typeof(__v__) = 'BLOB' THEN __decoded__ ELSE __cast__ END",
            __v__=value,
            __decoded__=decoded,
            __cast__=node,
        )
    if node.to.is_type(exp.DataType.Type.BINARY, exp.DataType.Type.VARBINARY):
        is_text = value.is_string or (
            isinstance(value, exp.Cast) and value.to.is_type(*exp.DataType.TEXT_TYPES)
        )
        if not is_text and _known_other(value, exp.DataType.Type.VARCHAR):
            return node
        encoded = exp.Anonymous(
            this="encode",
            expressions=[exp.TryCast(this=value.copy(), to=exp.DataType.build("VARCHAR"))],
        )
        if is_text:
            return encoded
        return _fill(
            "CASE WHEN typeof(__v__) = 'VARCHAR' THEN __encoded__ ELSE __cast__ END",
            __v__=value,
            __encoded__=encoded,
            __cast__=node,
        )
    return node


def _known_other(value: exp.Expression, kind: exp.DataType.Type) -> bool:
    """Whether the value's type is known here and is not `kind`."""
    if isinstance(value, exp.Cast):
        return not value.to.is_type(kind)
    return isinstance(value, exp.Literal | exp.Null | exp.Boolean | exp.ByteString)


def _extract_fraction(node: exp.Expression) -> exp.Expression:
    """EXTRACT(MILLISECOND / MICROSECOND ...) is the fraction of the second only (0-999,
    0-999999); DuckDB's counts the seconds in too."""
    if not isinstance(node, exp.Extract) or not isinstance(node.this, exp.Var):
        return node
    if node.meta.get("duckdb_semantics"):
        return node
    modulus = {"MILLISECOND": 1000, "MICROSECOND": 1000000}.get(node.this.name.upper())
    if modulus is None:
        return node
    node.meta["duckdb_semantics"] = True
    return exp.paren(exp.Mod(this=node.copy(), expression=exp.Literal.number(modulus)))


def _safe_errors(node: exp.Expression) -> exp.Expression:
    """Inside SAFE.f(...) (DuckDB's try() over f), the failures the rewrites raise with error()
    give NULL: DuckDB refuses error() inside try(), and SAFE. means NULL for f's errors."""
    if not (isinstance(node, exp.Anonymous) and node.meta.get("safe")):
        return node
    for call in list(node.find_all(exp.Anonymous)):
        if call.name.lower() == "error":
            call.replace(exp.null())
    return node


_BIGQUERY_SEMANTICS: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    _value_types,
    _float64_literal,
    _order_by_subquery_alias,
    _aggregate_order_limit,
    _array_subscript,
    _unnest_with_offset,
    _unnest_joins,
    _safe_function,
    _timestamp_results,
    _array_concat,
    _substring,
    _like_escape,
    _bool_cast,
    _dates,
    _math_domain,
    _format,
    _bytes_strings,
    _int64_cast,
    _to_string,
    _division,
    _round_precision,
    _window_arguments,
    _generate_array_step,
    _string_arguments,
    _countif,
    _extract_fraction,
    _array_to_string,
    _date_range,
    _zoned_timestamp,
    _nan_equality_forms,
    _struct_equality,
    _nan_comparison,
    _nan_order,
    _nan_min,
    _float_overflow,
    _safe_errors,
)


# --- What BigQuery refuses and DuckDB would run ---------------------------------------------------


def bigquery_refusals(sql: str, schema: dict | None = None) -> list[tuple[int | None, str]]:
    """Constructs in `sql` that BigQuery rejects but DuckDB would run, as (line, message): ORDER BY,
    GROUP BY or SELECT DISTINCT over an ARRAY (or a STRUCT holding one), an ordinal in an
    aggregate's ORDER BY, and an aggregate's ORDER BY over an ARRAY. Types come from sqlglot's
    type annotation, with `schema` (project → dataset → table → column → BigQuery type) for the
    tables' columns; an expression whose type it cannot tell is let through.

    https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#orderable_data_types
    https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#groupable_data_types
    """
    tree = sqlglot.parse_one(sql, read="bigquery")
    try:
        tree = qualify(tree, schema=schema, dialect="bigquery", validate_qualify_columns=False)
        tree = annotate_types(tree, schema=schema, dialect="bigquery")
    except sqlglot.errors.SqlglotError:
        pass  # the checks below then see fewer types, never wrong ones
    found: list[tuple[int | None, str]] = []
    for select in tree.find_all(exp.Select):
        projections = select.expressions
        order = select.args.get("order")
        for key in order.expressions if order else []:
            if _holds_array(_resolved_type(key.this, projections)):
                found.append((_line(key) or _line(select), "ORDER BY over an ARRAY"))
        group = select.args.get("group")
        for key in group.expressions if group else []:
            if _holds_array(_resolved_type(key, projections)):
                found.append((_line(key) or _line(select), "GROUP BY over an ARRAY"))
        if select.args.get("distinct"):
            for projection in projections:
                if _holds_array(projection.type):
                    found.append(
                        (
                            _line(projection),
                            "SELECT DISTINCT over an ARRAY",
                        )
                    )
    for order in tree.find_all(exp.Order):
        if not isinstance(order.parent, exp.AggFunc | exp.Limit):
            continue
        for key in order.expressions:
            if isinstance(key.this, exp.Literal) and key.this.is_int:
                found.append(
                    (
                        _line(order.parent),
                        "an ordinal in an aggregate's ORDER BY",
                    )
                )
            elif _holds_array(key.this.type):
                found.append((_line(order.parent), "an aggregate's ORDER BY over an ARRAY"))
    return found


def _resolved_type(key: exp.Expression, projections: list[exp.Expression]) -> exp.DataType | None:
    """The type of an ORDER BY / GROUP BY key, following an ordinal or an output alias."""
    if isinstance(key, exp.Literal) and key.is_int and 0 < int(key.this) <= len(projections):
        return projections[int(key.this) - 1].type
    if isinstance(key, exp.Column) and not key.table:
        for projection in projections:
            if isinstance(projection, exp.Alias) and projection.alias == key.name:
                return projection.type
    return key.type


def _holds_array(data_type: exp.DataType | None) -> bool:
    if data_type is None:
        return False
    if data_type.is_type(exp.DataType.Type.ARRAY):
        return True
    if data_type.is_type(exp.DataType.Type.STRUCT):
        return any(
            _holds_array(field.args.get("kind") if isinstance(field, exp.ColumnDef) else field)
            for field in data_type.expressions
        )
    return False


def _line(node: exp.Expression) -> int | None:
    lines = [ident.meta["line"] for ident in node.find_all(exp.Identifier) if "line" in ident.meta]
    return min(lines) if lines else None
