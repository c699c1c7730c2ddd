"""The IDC source tables as Dagster assets: observed per IDC version, documented, checked.

One asset per table the index queries read, keyed `idc_source/<dataset>/<table>` with the dataset
written for every release at once (`idc_source/idc_vNN/dicom_all`,
`idc_source/idc_vNN_clinical/column_metadata`): IDC publishes the same tables in a new dataset per
release, so the release is the partition (`IDC_VERSION_PARTITIONS`, shared with the indices) and
not part of the key; index partition N depends on source partition N.

Observing partition N (the `observe_idc_sources` job) reads each table's schema and state without
running a query (BigQuery's `tables.get`: rows, bytes, last-modified time; a snapshot's Parquet
footers: rows, bytes, file mtime) and records a data version made of them, so an index partition
built from an older observation shows as stale in the UI. The same observation runs the blocking
`source_schema` check: the table against the source contract (`sources.drift`).

The engine is the `index_engine` resource, used through `SourceReader` (its `table_state`), so
that this module, like the rest of `sources`, imports nothing of the layers above.
"""

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Protocol

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BetaWarning,
    DataVersion,
    DynamicPartitionsDefinition,
    Failure,
    MetadataValue,
    ObserveResult,
    TableColumn,
    TableSchema,
    multi_observable_source_asset,
)

from idc_index_assets.sources.contract import contract_columns
from idc_index_assets.sources.drift import CONTRACT_HINT, compare_table
from idc_index_assets.sources.tables import SourceTable, SourceTableState, snapshot_versions

# One partition per IDC release; the indices are partitioned the same way.
IDC_VERSION_PARTITIONS = DynamicPartitionsDefinition(name="idc_version")
SOURCE_GROUP = "idc_source"
SOURCE_SCHEMA_CHECK = "source_schema"
# the job that observes them (an op of that name would clash with it)
OBSERVE_SOURCES = "observe_idc_sources"
COLUMN_DESCRIPTIONS_FILE = "idc_source_columns.json"


class SourceReader(Protocol):
    """What observing needs of an engine (the `index_engine` resource has it)."""

    def table_state(self, dataset: str, table: str) -> SourceTableState: ...


def register_snapshot_versions(source_dir: str) -> None:
    """Add the IDC versions of the local snapshot in `source_dir` that the `idc_version`
    partitions of the instance in DAGSTER_HOME lack. Called as the code location loads, so that
    `dg launch --partition N`, the UI's launchpad and backfills know them on a fresh instance
    (with BigQuery, the new-version sensor and the command line add them). An instance that
    cannot be opened is logged, not raised: the definitions load all the same."""
    from dagster import DagsterInstance

    try:
        versions = snapshot_versions(source_dir)
        with DagsterInstance.get() as instance:
            known = set(instance.get_dynamic_partitions(IDC_VERSION_PARTITIONS.name))
            missing = [str(v) for v in versions if str(v) not in known]
            if missing:
                instance.add_dynamic_partitions(IDC_VERSION_PARTITIONS.name, missing)
    except Exception as error:
        logging.getLogger(__name__).warning(
            "could not register the IDC versions of %s as partitions: %s", source_dir, error
        )


def source_asset_key(table: SourceTable) -> AssetKey:
    """`idc_source/idc_vNN/dicom_all`: one asset for the table of every release."""
    return AssetKey([SOURCE_GROUP, table.dataset, table.table])


@cache
def column_descriptions() -> dict[str, str]:
    """Column or RECORD field name → what it means (`data/idc_source_columns.json`)."""
    text = resources.files("idc_index_assets").joinpath("data", COLUMN_DESCRIPTIONS_FILE)
    return json.loads(text.read_text())["columns"]


def source_column_schema(table: SourceTable) -> TableSchema:
    """The contract's columns of the table with their types and descriptions; a RECORD's fields
    are listed in its description."""
    descriptions = column_descriptions()

    def described(column: dict) -> str:
        text = descriptions[column["name"]]
        fields = column.get("fields")
        if not fields:
            return text
        return f"{text}. Fields: " + "; ".join(
            f"{f['name']} ({_type_label(f)}): {descriptions[f['name']]}" for f in fields
        )

    return TableSchema(
        columns=[
            TableColumn(column["name"], _type_label(column), description=described(column))
            for column in contract_columns()[table.contract_name]
        ]
    )


def _type_label(column: dict) -> str:
    return f"{column['type']} REPEATED" if column.get("mode") == "REPEATED" else column["type"]


def data_version(state: SourceTableState) -> str:
    """What changes when the table changes: its schema and observation, hashed."""
    text = json.dumps([str(state.schema), state.observation], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_source_assets(readers: Mapping[SourceTable, Sequence[str]]) -> AssetsDefinition:
    """The observable source assets of the tables in `readers` (table → the index queries that
    read it), with their blocking `source_schema` checks, observed per IDC version."""
    tables = {source_asset_key(table): table for table in readers}
    specs = [
        AssetSpec(
            key=key,
            description=(
                f"IDC BigQuery table `{table.contract_name}`; partition N is release N's "
                f"`{table.dataset.replace('NN', 'N')}.{table.table}` (the duckdb engine reads it from the "
                f"local source snapshot). Read by {', '.join(sorted(readers[table]))}."
            ),
            group_name=SOURCE_GROUP,
            kinds={"bigquery"},
            metadata={
                "bigquery/table": table.contract_name,
                "dagster/column_schema": source_column_schema(table),
            },
        )
        for key, table in tables.items()
    ]
    checks = [
        AssetCheckSpec(
            SOURCE_SCHEMA_CHECK,
            asset=key,
            blocking=True,
            description=(
                "The table has the source contract's columns, types and modes (RECORD fields "
                "included); columns the contract does not list are reported, not failed."
            ),
        )
        for key in tables
    ]

    # Observable assets with partitions and checks: Dagster's beta API for exactly this.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        observable = multi_observable_source_asset(
            name="idc_source_tables",
            specs=specs,
            check_specs=checks,
            partitions_def=IDC_VERSION_PARTITIONS,
            can_subset=True,
            required_resource_keys={"index_engine"},
            description="Observe the IDC source tables of one IDC version and check their schemas.",
        )

    @observable
    def observe_idc_sources(
        context: AssetExecutionContext,
    ) -> Iterator[ObserveResult | AssetCheckResult]:
        key = context.partition_key
        if not re.fullmatch(r"[1-9][0-9]*", key):
            raise Failure(
                description=f"IDC version must be a positive integer, got {key!r}",
                allow_retries=False,
            )
        engine: SourceReader = context.resources.index_engine
        checked = context.selected_asset_check_keys
        for asset_key in sorted(context.selected_asset_keys):
            table = tables[asset_key]
            results = list(_observe(engine, asset_key, table, int(key), readers[table]))
            if AssetCheckKey(asset_key, SOURCE_SCHEMA_CHECK) in checked:
                yield from results
                continue
            # A build observes without the checks: each index checks its own sources before its
            # query, so a table that cannot be read fails only the indices that read it. Its
            # observation says why (without one, Dagster would skip those indices silently).
            observed = [r for r in results if isinstance(r, ObserveResult)]
            if not observed:  # only the failed check of a table that cannot be read
                (failed,) = results
                observed = [
                    ObserveResult(asset_key=asset_key, metadata={"error": failed.description})
                ]
            yield from observed

    return observe_idc_sources


def _observe(
    engine: SourceReader,
    key: AssetKey,
    table: SourceTable,
    idc_version: int,
    readers: Sequence[str],
) -> Iterator[ObserveResult | AssetCheckResult]:
    try:
        state = engine.table_state(table.dataset_of(idc_version), table.table)
    except Exception as error:
        if getattr(error, "transient", False):
            raise  # a remote engine's 429/5xx: the run may be tried again
        # a missing table, refused credentials: the table cannot be read, its check fails
        yield AssetCheckResult(
            asset_key=key,
            check_name=SOURCE_SCHEMA_CHECK,
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            description=f"cannot read the table: {error}",
        )
        return
    report = compare_table(state.table, state.schema, read_by=readers)
    observed = state.observation
    metadata = {
        "table": state.table,
        "dagster/row_count": observed.get("rows"),
        "bytes": observed.get("bytes"),
        "last_modified": MetadataValue.timestamp(observed["modified"])
        if observed.get("modified")
        else None,
        "path": MetadataValue.path(observed["path"]) if observed.get("path") else None,
    }
    yield ObserveResult(
        asset_key=key,
        data_version=DataVersion(data_version(state)),
        metadata={name: value for name, value in metadata.items() if value is not None},
    )
    yield AssetCheckResult(
        asset_key=key,
        check_name=SOURCE_SCHEMA_CHECK,
        passed=report.ok,
        severity=AssetCheckSeverity.ERROR,
        description=report.line() + ("" if report.ok else f". {CONTRACT_HINT}"),
        metadata={
            "table": state.table,
            "columns_compared": report.compared,
            "differences": "\n".join(str(d) for d in report.failed) or "none",
            "not_in_contract": ", ".join(d.column for d in report.added) or "none",
        },
    )
