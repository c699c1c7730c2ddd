"""A conformance case: a BigQuery statement, BigQuery's documented result, and where the
documentation says so. `rows` is the result as DuckDB's Python client gives it (tuples of
int, float, str, bool, None, list, dict, datetime.date, decimal.Decimal); `Fails(pattern)` is
an error whose message matches the pattern (the embedded engine's message; BigQuery's
reference only has to fail too). `xfail` gives why the embedded engine does not match BigQuery
yet (the test is then a strict expected failure). `reference_differs` gives why BigQuery's
reference evaluator (ZetaSQL, `engines.reference`) cannot judge the case: a function or
behaviour of BigQuery that the open-source ZetaSQL lacks (strict expected failure too)."""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://cloud.google.com/bigquery/docs/reference/standard-sql/"


@dataclass(frozen=True)
class Fails:
    pattern: str


@dataclass(frozen=True)
class Case:
    sql: str
    rows: list[tuple] | Fails
    doc: str  # page#section under DOCS
    xfail: str | None = None
    reference_differs: str | None = None

    @property
    def url(self) -> str:
        return DOCS + self.doc


def one(*values) -> list[tuple]:
    """A result of one row."""
    return [values]


def column(*values) -> list[tuple]:
    """A result of one column, one row per value."""
    return [(value,) for value in values]
