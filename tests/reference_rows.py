"""Comparing a query's rows on the DuckDB engine with BigQuery's reference evaluator's.

Rows are compared as a multiset (BigQuery leaves the order of rows undefined without ORDER BY,
and the tests compare whole results); FLOAT64 and NUMERIC values to 12 significant digits (a SUM
or AVG may add in another order), NaN equal to NaN."""

from __future__ import annotations

import decimal
import math
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from idc_index_assets.engines.reference import ReferenceEngine
from idc_index_assets.sources.tables import SOURCE_PROJECT, snapshot_table_path


def _comparable(value):
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else float(f"{value:.12g}")
    if isinstance(value, decimal.Decimal):
        return float(f"{float(value):.12g}")
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, dict):  # the writer puts a STRUCT's fields in the contract's order
        return tuple(sorted((key, _comparable(item)) for key, item in value.items()))
    return value


def rows(table: pa.Table) -> Counter:
    columns = [column.to_pylist() for column in table.columns]
    return Counter(
        repr(tuple(_comparable(column[i]) for column in columns)) for i in range(table.num_rows)
    )


def difference(duckdb: pa.Table, reference: pa.Table) -> str | None:
    """None where both engines give the same rows, else what differs (a few rows of each)."""
    if duckdb.column_names != reference.column_names:
        return f"columns differ: DuckDB {duckdb.column_names}, reference {reference.column_names}"
    ours, theirs = rows(duckdb), rows(reference)
    if ours == theirs:
        return None
    only_ours = list((ours - theirs).elements())[:3]
    only_theirs = list((theirs - ours).elements())[:3]
    return (
        f"{sum((ours - theirs).values())} rows only on DuckDB, e.g. {only_ours}; "
        f"{sum((theirs - ours).values())} only on the reference, e.g. {only_theirs}"
    )


class SourceTables:
    """The source snapshot's tables as Arrow, each read once, named as queries name them."""

    def __init__(self, source_dir: Path):
        self.source_dir = source_dir
        self._read: dict[tuple[str, str], pa.Table] = {}

    def named(self, tables_read) -> dict[str, pa.Table]:
        found = {}
        for dataset, table in tables_read:
            if (dataset, table) not in self._read:
                path = snapshot_table_path(self.source_dir, dataset, table)
                self._read[dataset, table] = pq.read_table(path)
            found[f"{SOURCE_PROJECT}.{dataset}.{table}"] = self._read[dataset, table]
        return found


def on_reference(
    reference: ReferenceEngine, sql: str, tables: dict[str, pa.Table], script: bool
) -> pa.Table:
    return reference.run_script(sql, tables) if script else reference.run(sql, tables)
