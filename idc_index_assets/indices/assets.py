"""The asset factory: one partitioned asset per index of the registry, and the observable source
assets of the IDC BigQuery tables the queries read (found by parsing the SQL, never listed by
hand; `sources.assets` makes them)."""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnLineage,
    TableSchema,
    asset,
)

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.failures import RETRY_POLICY, only_transient_retried
from idc_index_assets.indices.build import BuildResult, build_index
from idc_index_assets.indices.checks import blocking_check_specs
from idc_index_assets.indices.lineage import column_lineage, column_sources, lineage_markdown
from idc_index_assets.indices.queries import (
    ColumnDoc,
    IndexQuery,
    load_query,
    parse_idc_version,
)
from idc_index_assets.indices.registry import IndexSpec
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.writer import ArtifactValidationError
from idc_index_assets.sources.assets import (
    IDC_VERSION_PARTITIONS,
    build_source_assets,
    source_asset_key,
)
from idc_index_assets.sources.tables import SourceTable


def source_assets(queries: list[IndexQuery]) -> AssetsDefinition:
    """The observable source assets (`sources.assets`) of every IDC table the queries read, found
    by parsing their SQL, each knowing which queries read it."""
    readers: dict[SourceTable, list[str]] = {}
    for query in queries:
        for table in query.source_tables:
            readers.setdefault(table, []).append(query.name)
    return build_source_assets(readers)


def column_schema(
    spec: IndexSpec, docs: tuple[ColumnDoc, ...], lineage: TableColumnLineage | None = None
) -> TableSchema:
    """The contract's columns with the query's descriptions; with `lineage`, each description
    ends with where the values come from (`From idc_vNN.dicom_all.SeriesInstanceUID.`)."""
    descriptions = {doc.name: doc.description for doc in docs}
    if lineage is not None:
        for name, deps in lineage.deps_by_column.items():
            origin = f"From {column_sources(deps)}."
            descriptions[name] = (
                f"{descriptions[name]} {origin}" if descriptions.get(name) else origin
            )
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=f"{column.type} {column.mode}" if column.mode == "REPEATED" else column.type,
                description=descriptions.get(column.name),
            )
            for column in spec.contract.columns
        ]
    )


def index_asset_args(
    spec: IndexSpec,
    query: IndexQuery,
    *,
    docs: tuple[ColumnDoc, ...] | None = None,
    code_version: str | None = None,
    kinds: set[str] | None = None,
) -> dict:
    """What every index asset declares: partitions, lineage, documentation and blocking checks."""
    deps = [source_asset_key(table) for table in query.source_tables]
    deps += [AssetKey(name) for name in query.upstream_indices]
    return {
        "name": spec.name,
        "partitions_def": IDC_VERSION_PARTITIONS,
        "description": query.table_description,
        "code_version": code_version or query.code_version,
        "deps": deps,
        "group_name": "supplementary" if spec.supplementary else "indices",
        "kinds": kinds or {"sql", "parquet"},
        "check_specs": blocking_check_specs(spec, IDC_VERSION_PARTITIONS),
        "retry_policy": RETRY_POLICY,
        "metadata": {
            "dagster/column_schema": column_schema(spec, docs or query.columns),
            "query_file": MetadataValue.path(str(query.path)),
            "primary_key": ", ".join(spec.primary_key),
            "in_wheel": spec.in_wheel,
        },
    }


def materialize(
    context: AssetExecutionContext,
    spec: IndexSpec,
    build: Callable[[int], BuildResult],
    query: IndexQuery | None = None,
    engine: IndexEngine | None = None,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Build one IDC version of an index and report it: materialization (with the column lineage
    of `query`, the SQL its rows come from) and blocking checks. Errors follow the retry rule
    (`failures`): a bad partition key, a version the source lacks (asked of `engine`), a source
    that changed shape or a contract violation fails at once; only a remote service's transient
    failure is retried."""
    key = context.asset_key
    with only_transient_retried():
        idc_version = parse_idc_version(context.partition_key)
        if engine is not None:
            engine.require_version(idc_version)
        try:
            result = build(idc_version)
        except ArtifactValidationError as error:
            # Report why as failed checks; no materialization is recorded, old files stay.
            for outcome in error.outcomes:
                yield outcome.result(key)
            raise
    written = result.written
    context.log.info(f"{spec.name}: {written.rows} rows, {written.bytes} bytes → {written.parquet}")
    lineage = {}
    if query is not None:
        traced = column_lineage(query, idc_version)
        lineage = {
            "dagster/column_lineage": traced,
            "column_lineage": MetadataValue.md(lineage_markdown(traced)),
            # the Columns table of the UI shows the latest materialization's schema: with sources
            "dagster/column_schema": column_schema(spec, query.columns, traced),
        }
    yield MaterializeResult(
        metadata={
            "dagster/row_count": written.rows,
            "path": MetadataValue.path(str(written.parquet)),
            "bytes": written.bytes,
            "sha256": written.sha256,
            "idc_version": idc_version,
            "release_version": result.release_version,
            **result.engine_metadata,
            **lineage,
        }
    )
    # The build ran every check on these very bytes, staged, before they replaced the old ones.
    for outcome in written.outcomes:
        yield outcome.result(key)


def build_index_asset(spec: IndexSpec) -> AssetsDefinition:
    query = load_query(spec.name)

    @asset(**index_asset_args(spec, query))
    def index_asset(
        context: AssetExecutionContext, index_engine: IndexEngine, artifacts: ArtifactStore
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        yield from materialize(
            context,
            spec,
            lambda idc_version: build_index(
                spec, query, idc_version, engine=index_engine, store=artifacts
            ),
            query=query,
            engine=index_engine,
        )

    return index_asset
