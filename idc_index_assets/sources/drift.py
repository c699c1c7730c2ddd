"""Source drift: a source table's schema compared with the source contract, before any index query
reads it.

Both sides are compared in BigQuery's terms (type, and whether the column is REPEATED), so that a
table read from BigQuery (`tables.get`) and the same table exported to Parquet compare alike:
STRING and large_string, INTEGER and INT64, NULLABLE and REQUIRED are the same here. Only the
contract's columns are compared, recursively through RECORD fields; a column the contract does not
list is reported, never fatal (IDC adds columns; the indices do not read them).

To accept a change IDC made on purpose, edit the column in `data/idc_source_contract.json` (one
JSON edit, reviewed like code); `CONTRACT_HINT` says so in every failure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from idc_index_assets.sources.contract import SOURCE_CONTRACT_FILE, contract_columns

# Set by an engine on the fields of a schema read from BigQuery: the exact type BigQuery reports,
# for types that Arrow would blur (JSON and GEOGRAPHY arrive as strings).
BIGQUERY_TYPE_KEY = b"bigquery:type"

CONTRACT_HINT = (
    f"if IDC changed this on purpose, update the column in idc_index_assets/data/"
    f"{SOURCE_CONTRACT_FILE} (one JSON edit, reviewed like code) and the queries that read it"
)

_CANONICAL = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}


@dataclass(frozen=True)
class Drift:
    """One difference in one column; `column` is dotted for RECORD fields (`Seq.CodeValue`).
    `expected` is None for a column the contract does not list, `found` None for a missing one."""

    column: str
    expected: str | None
    found: str | None

    @property
    def fatal(self) -> bool:
        return self.expected is not None

    def __str__(self) -> str:
        if self.found is None:
            return f"{self.column}: missing (contract: {self.expected})"
        if self.expected is None:
            return f"{self.column}: not in the contract ({self.found})"
        return f"{self.column}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True)
class TableReport:
    """The comparison of one source table (`bigquery-public-data.idc_v25.dicom_all`) with its
    contract; `read_by` names the index queries that read it."""

    table: str
    read_by: tuple[str, ...]
    compared: int
    drifts: tuple[Drift, ...] = field(default=())

    @property
    def failed(self) -> tuple[Drift, ...]:
        return tuple(d for d in self.drifts if d.fatal)

    @property
    def added(self) -> tuple[Drift, ...]:
        return tuple(d for d in self.drifts if not d.fatal)

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        """One line: `ok`/`FAIL`, the table, what differs, who reads it."""
        added = f"; not in the contract (reported only): {', '.join(d.column for d in self.added)}"
        if self.ok:
            text = f"ok   {self.table}: {self.compared} contract columns as expected"
            return text + (added if self.added else "")
        return (
            f"FAIL {self.table}: "
            + "; ".join(str(d) for d in self.failed)
            + f" (read by {', '.join(self.read_by)})"
            + (added if self.added else "")
        )


class SourceDriftError(RuntimeError):
    """A source table no longer has the contract's schema; nothing was built."""

    def __init__(self, reports: Iterable[TableReport]):
        self.reports = tuple(r for r in reports if not r.ok)
        lines = "\n".join(report.line() for report in self.reports)
        super().__init__(
            f"source tables differ from the source contract:\n{lines}\n{CONTRACT_HINT}"
        )


def contract_name(table: str) -> str:
    """`bigquery-public-data.idc_v25_clinical.column_metadata` → its contract entry's name
    (`...idc_vNN_clinical.column_metadata`)."""
    return re.sub(r"\.idc_v\d+(_clinical)?\.", r".idc_vNN\1.", table)


def compare_table(
    table: str,
    found: pa.Schema,
    *,
    read_by: Collection[str] = (),
    only_used_by: Collection[str] | None = None,
) -> TableReport:
    """Compare the schema `found` of the source table `table` (its full BigQuery name, any IDC
    version) with the source contract. `only_used_by` limits the comparison to the contract
    columns that those queries use (an older release read only by prior_versions_index need not
    have the columns only the newest release's indices read). Raises KeyError for a table the
    contract does not know."""
    every = contract_columns()[contract_name(table)]
    columns = every if only_used_by is None else _used_by(every, set(only_used_by))
    drifts: list[Drift] = []
    _compare(columns, list(found), "", drifts)
    # a contract column left out of the comparison is not new to the table
    known = _paths(every)
    drifts = [d for d in drifts if d.fatal or d.column.lower() not in known]
    return TableReport(table, tuple(sorted(read_by)), _count(columns), tuple(drifts))


def _used_by(columns: list[dict], queries: set[str]) -> list[dict]:
    kept = []
    for column in columns:
        if queries & set(column.get("used_by", ())):
            fields = column.get("fields")
            kept.append({**column, "fields": _used_by(fields, queries)} if fields else column)
    return kept


def _paths(columns: list[dict], prefix: str = "") -> set[str]:
    found = set()
    for column in columns:
        path = prefix + column["name"].lower()
        found |= {path} | _paths(column.get("fields", []), path + ".")
    return found


def _count(columns: list[dict]) -> int:
    return sum(1 + _count(c.get("fields", [])) for c in columns)


def _compare(expected: list[dict], found: list[pa.Field], prefix: str, drifts: list[Drift]):
    # BigQuery resolves column and field names case-insensitively, and so does DuckDB.
    by_name = {f.name.lower(): f for f in found}
    listed = {c["name"].lower() for c in expected}
    for column in expected:
        name = prefix + column["name"]
        wanted = _label(column["type"], column.get("mode", "NULLABLE"))
        actual = by_name.get(column["name"].lower())
        if actual is None:
            drifts.append(Drift(name, wanted, None))
            continue
        type_name, repeated, fields = bigquery_shape(actual)
        got = _label(type_name, "REPEATED" if repeated else "NULLABLE")
        if got != wanted:
            drifts.append(Drift(name, wanted, got))
        elif column["type"] == "RECORD":
            _compare(column["fields"], fields, name + ".", drifts)
    drifts.extend(
        Drift(prefix + f.name, None, _label(*_type_and_mode(f)))
        for f in found
        if f.name.lower() not in listed
    )


def _type_and_mode(arrow_field: pa.Field) -> tuple[str, str]:
    type_name, repeated, _ = bigquery_shape(arrow_field)
    return type_name, "REPEATED" if repeated else "NULLABLE"


def _label(type_name: str, mode: str) -> str:
    type_name = _CANONICAL.get(type_name, type_name)
    return f"{type_name} REPEATED" if mode == "REPEATED" else type_name


def bigquery_shape(arrow_field: pa.Field) -> tuple[str, bool, list[pa.Field]]:
    """(BigQuery type, REPEATED?, RECORD fields) of an Arrow field, as BigQuery exports columns to
    Parquet; a BigQuery type recorded in the field's metadata (`BIGQUERY_TYPE_KEY`) wins."""
    arrow_type, repeated = arrow_field.type, False
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        arrow_type, repeated = arrow_type.value_type, True
    recorded = (arrow_field.metadata or {}).get(BIGQUERY_TYPE_KEY)
    if pa.types.is_struct(arrow_type):
        return "RECORD", repeated, list(arrow_type)
    if recorded:
        return _CANONICAL.get(recorded.decode(), recorded.decode()), repeated, []
    return _scalar_name(arrow_type), repeated, []


def _scalar_name(arrow_type: pa.DataType) -> str:
    checks = [
        (pa.types.is_string, "STRING"),
        (pa.types.is_large_string, "STRING"),
        (pa.types.is_integer, "INT64"),
        (pa.types.is_floating, "FLOAT64"),
        (pa.types.is_boolean, "BOOL"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_time, "TIME"),
        (pa.types.is_binary, "BYTES"),
        (pa.types.is_large_binary, "BYTES"),
        (pa.types.is_decimal256, "BIGNUMERIC"),
        (pa.types.is_decimal, "NUMERIC"),
    ]
    if pa.types.is_timestamp(arrow_type):
        # BigQuery exports DATETIME as a timestamp without time zone
        return "TIMESTAMP" if arrow_type.tz else "DATETIME"
    for predicate, name in checks:
        if predicate(arrow_type):
            return name
    return str(arrow_type)
