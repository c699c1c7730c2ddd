"""Column lineage of an index: each output column → the columns of the source tables (or of the
upstream index) it is computed from, traced through the query's CTEs, subqueries and UNNESTs by
sqlglot's lineage (`sqlglot.lineage`), as Dagster's `dagster/column_lineage`.

A dependency names the source asset (`idc_source/idc_vNN/<table>`, whichever release the query
reads: prior_versions_index reads them all) or the upstream index, and the top-level column as
the source contract spells it (a RECORD field read inside a column counts as that column). It is
only what values flow from: columns read in WHERE, JOIN or GROUP BY alone are not listed. It is
computed per materialization (about a second for the largest query), not when the definitions
load.
"""

from __future__ import annotations

import re

import sqlglot
from dagster import AssetKey, TableColumnDep, TableColumnLineage
from sqlglot import exp
from sqlglot.lineage import lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope

from idc_index_assets.indices.contract import index_contract
from idc_index_assets.indices.queries import IndexQuery
from idc_index_assets.sources.assets import source_asset_key
from idc_index_assets.sources.contract import bigquery_type, contract_columns
from idc_index_assets.sources.drift import contract_name
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTable


def column_lineage(query: IndexQuery, idc_version: int) -> TableColumnLineage:
    """The lineage of every output column of the query rendered for this IDC version; a column
    computed from no column (a constant) has no dependency."""
    schema, columns = _schema(query, idc_version)
    tree = sqlglot.parse_one(query.render(idc_version), dialect="bigquery")
    # Qualified once (every column bound to its table) and shared by all the columns' traces.
    tree = qualify(tree, schema=schema, dialect="bigquery", validate_qualify_columns=False)
    scope = build_scope(tree)
    deps_by_column = {}
    for output in query.columns:
        node = lineage(
            output.name, tree, schema=schema, dialect="bigquery", scope=scope, trim_selects=False
        )
        found: dict[tuple[AssetKey, str], None] = {}
        for step in node.walk():
            if not isinstance(step.source, exp.Table):
                continue
            key = _asset_key(step.source)
            name = columns[key].get(step.name.rsplit(".", 1)[-1].strip('"`').lower())
            if name:
                found[(key, name)] = None
        deps_by_column[output.name] = [
            TableColumnDep(asset_key=key, column_name=name)
            for key, name in sorted(found, key=lambda dep: (dep[0].to_user_string(), dep[1]))
        ]
    return TableColumnLineage(deps_by_column)


def _table_label(key: AssetKey) -> str:
    """`idc_vNN.dicom_all` for a source table, the index name for an upstream index."""
    return ".".join(key.path[1:]) if len(key.path) > 1 else key.path[0]


def column_sources(deps: list[TableColumnDep]) -> str:
    """Where a column's values come from, e.g. `idc_vNN.dicom_all.SeriesInstanceUID`; `a constant`
    without a dependency."""
    return ", ".join(f"{_table_label(d.asset_key)}.{d.column_name}" for d in deps) or "a constant"


def lineage_markdown(column_lineage: TableColumnLineage) -> str:
    """The lineage as a Markdown table, one row per output column: `column ← table.column, ...`.
    Open-source Dagster does not draw `dagster/column_lineage`; this it shows as text."""
    lines = ["| column | ← source table.column |", "|---|---|"]
    for column, deps in column_lineage.deps_by_column.items():
        sources = ", ".join(f"`{source}`" for source in column_sources(deps).split(", "))
        lines.append(f"| `{column}` | {sources if deps else '(a constant)'} |")
    return "\n".join(lines) + "\n"


def _asset_key(table: exp.Table) -> AssetKey:
    if table.catalog == SOURCE_PROJECT:
        return source_asset_key(SourceTable(re.sub(r"^idc_v\d+", "idc_vNN", table.db), table.name))
    return AssetKey(table.name)


def _schema(query: IndexQuery, idc_version: int) -> tuple[dict, dict[AssetKey, dict[str, str]]]:
    """The tables the query reads as sqlglot wants them (catalog → db → table → column → type),
    and per asset its column names by lower case (BigQuery names are case-insensitive, and
    sqlglot lowers them)."""
    schema: dict = {}
    columns: dict[AssetKey, dict[str, str]] = {}
    for dataset, table in query.tables_read(idc_version):
        contract = contract_columns()[contract_name(f"{SOURCE_PROJECT}.{dataset}.{table}")]
        schema.setdefault(SOURCE_PROJECT, {}).setdefault(dataset, {})[table] = {
            c["name"]: bigquery_type(c) for c in contract
        }
        key = _asset_key(exp.table_(table, db=dataset, catalog=SOURCE_PROJECT))
        columns[key] = {c["name"].lower(): c["name"] for c in contract}
    for name in query.upstream_indices:
        index_columns = index_contract(name).column_names
        # an index is read by its bare name: a schema of one level
        schema[name] = {column: "STRING" for column in index_columns}
        columns[AssetKey(name)] = {column.lower(): column for column in index_columns}
    return schema, columns
