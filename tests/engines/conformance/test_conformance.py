"""BigQuery statements run on the embedded engine give BigQuery's documented results.

Each case (in the modules beside this one, grouped like BigQuery's function reference) is a
small BigQuery statement, the result BigQuery's documentation gives for it and the section that
says so. All cases share one DuckDB connection, configured as the engine configures its own.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import UnsupportedError

from idc_index_assets.engines.duckdb import connect, run_statement
from idc_index_assets.engines.reference import ReferenceEngine, ReferenceError
from idc_index_assets.indices.queries import QUERIES_DIR, load_query
from tests.engines.conformance import (
    aggregates,
    array_functions,
    arrays_and_unnest,
    conditional,
    conversion,
    dates_and_times,
    operators_and_null,
    strings_and_regex,
    structs,
    window_functions,
)
from tests.engines.conformance.case import Case, Fails

GROUPS = (
    arrays_and_unnest,
    array_functions,
    structs,
    strings_and_regex,
    conversion,
    dates_and_times,
    aggregates,
    window_functions,
    conditional,
    operators_and_null,
)


def _params():
    for group in GROUPS:
        name = group.__name__.rsplit(".", 1)[-1]
        for number, case in enumerate(group.CASES, 1):
            marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
            yield pytest.param(case, id=f"{name}-{number}", marks=marks)


@pytest.fixture(scope="module")
def connection():
    with connect() as con:
        yield con


def _no_tables(table):
    raise AssertionError(f"a conformance case reads no table, got {table}")


@pytest.mark.parametrize("case", list(_params()))
def test_documented_result(case: Case, connection: duckdb.DuckDBPyConnection):
    if isinstance(case.rows, Fails):
        # a BigQuery error found when transpiling (a constant argument) is a sqlglot error
        with pytest.raises((duckdb.Error, UnsupportedError), match=case.rows.pattern):
            run_statement(connection, case.sql, _no_tables).fetchall()
        return
    assert run_statement(connection, case.sql, _no_tables).fetchall() == case.rows, case.url


def _reference_params():
    for group in GROUPS:
        name = group.__name__.rsplit(".", 1)[-1]
        for number, case in enumerate(group.CASES, 1):
            reason = case.reference_differs
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(case, id=f"{name}-{number}", marks=marks)


def _nan_free(value):
    """NaN as a marker, so that NaN == NaN when comparing results."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list | tuple):
        return type(value)(_nan_free(item) for item in value)
    if isinstance(value, dict):
        return {key: _nan_free(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", list(_reference_params()))
def test_bigquerys_reference_gives_the_documented_result(case: Case, reference: ReferenceEngine):
    """Every case's expectation, checked by BigQuery's reference implementation (ZetaSQL)."""
    try:
        result = reference.run(case.sql)
    except ReferenceError as error:
        assert isinstance(case.rows, Fails), f"BigQuery's reference rejects it: {error}"
        return
    rows = [tuple(column[i].as_py() for column in result.columns) for i in range(result.num_rows)]
    assert not isinstance(case.rows, Fails), f"BigQuery's reference answers {rows}"
    assert _nan_free(rows) == _nan_free(case.rows), case.url


def test_the_suite_is_large_every_case_cites_its_documentation_and_the_docs_count_it():
    cases = [case for group in GROUPS for case in group.CASES]
    assert len(cases) >= 200
    for case in cases:
        assert re.fullmatch(r"[a-z_-]+(#[a-z0-9_-]+)?", case.doc), case.doc
    passing = sum(1 for case in cases if not case.xfail)
    engines_page = (Path(__file__).parents[3] / "docs" / "engines.md").read_text()
    assert f"{passing} BigQuery statements" in engines_page, "update the count in docs/engines.md"


# What a query uses: its functions (by sqlglot's name for them) and these constructs.
_CONSTRUCTS = (
    exp.Func,
    exp.Unnest,
    exp.Window,
    exp.Bracket,
    exp.Union,
    exp.Join,
    exp.Case,
    exp.Like,
    exp.In,
    exp.Is,
    exp.Distinct,
    exp.IgnoreNulls,
    exp.Div,
    exp.Qualify,
    exp.Subquery,
)


def _constructs(sql: str) -> set[str]:
    found = set()
    for node in sqlglot.parse_one(sql, read="bigquery").walk():
        if isinstance(node, exp.Anonymous):
            found.add(node.name.upper())
        elif isinstance(node, _CONSTRUCTS):
            found.add(type(node).__name__)
    return found


def test_every_construct_of_the_index_queries_has_a_passing_case():
    tested = set()
    for case in (case for group in GROUPS for case in group.CASES if not case.xfail):
        tested |= _constructs(case.sql)
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        untested = _constructs(load_query(path.stem).render(1)) - tested
        assert not untested, f"{path.name} uses {sorted(untested)}, which no passing case covers"
