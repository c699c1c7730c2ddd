"""The asset factory: one partitioned asset per index of the registry, and one external asset per
IDC BigQuery table the queries read (found by parsing the SQL, never listed by hand)."""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableSchema,
    asset,
)

from idc_index_assets.engines.base import EngineError
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import BuildResult, build_index
from idc_index_assets.indices.checks import Outcome, blocking_check_specs, key_outcome
from idc_index_assets.indices.contract import bigquery_type
from idc_index_assets.indices.queries import (
    ColumnDoc,
    IndexQuery,
    SourceTable,
    load_query,
    parse_idc_version,
)
from idc_index_assets.indices.registry import IndexSpec
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import CONTRACT_CHECK, INTEGRITY_CHECK
from idc_index_assets.indices.writer import ArtifactValidationError
from idc_index_assets.sources.contract import source_tables as source_contract_tables
from idc_index_assets.sources.drift import SourceDriftError

IDC_VERSION_PARTITIONS = DynamicPartitionsDefinition(name="idc_version")
# Transient engine failures (BigQuery 429/5xx) are retried; errors in a query or its data are not.
RETRY_POLICY = RetryPolicy(max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL)
SOURCE_GROUP = "idc_source"


def source_asset_key(table: SourceTable) -> AssetKey:
    return AssetKey([SOURCE_GROUP, table.dataset.replace("NN", ""), table.table])


def source_asset_specs(queries: list[IndexQuery]) -> list[AssetSpec]:
    tables = {table: None for query in queries for table in query.source_tables}
    contract = source_contract_tables()
    specs = []
    for table in tables:
        schema = contract.get(table.contract_name)
        metadata = {"bigquery/table": f"{table.contract_name} (NN = IDC version)"}
        if schema is not None:
            metadata["dagster/column_schema"] = TableSchema(
                columns=[TableColumn(f.name, _type_label(f.type)) for f in schema]
            )
        specs.append(
            AssetSpec(
                key=source_asset_key(table),
                description=(
                    f"IDC BigQuery table `{table.contract_name}`, one dataset per IDC release "
                    "(NN); the duckdb engine reads it from the local source snapshot."
                ),
                group_name=SOURCE_GROUP,
                kinds={"bigquery"},
                metadata=metadata,
            )
        )
    return specs


def _type_label(arrow_type) -> str:
    name, mode = bigquery_type(arrow_type)
    return f"{name} {mode}" if mode == "REPEATED" else name


def column_schema(spec: IndexSpec, docs: tuple[ColumnDoc, ...]) -> TableSchema:
    descriptions = {doc.name: doc.description for doc in docs}
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
    service_errors: tuple[type[Exception], ...] = (EngineError,),
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Build one IDC version of an index and report it: materialization and blocking checks.
    `service_errors` are the errors of the services the build calls; each has a `transient`
    attribute saying whether the run's retry policy may try again."""
    idc_version = parse_idc_version(context.partition_key)
    key = context.asset_key
    try:
        result = build(idc_version)
    except ArtifactValidationError as error:
        # Report why as failed checks; no materialization is recorded, old files stay.
        for check, problems in error.problems.items():
            yield Outcome(check, problems).result(key)
        raise Failure(description=str(error), allow_retries=False) from error
    except SourceDriftError as error:
        # A source that changed shape stays changed: no retry; the message names table and column.
        raise Failure(description=str(error), allow_retries=False) from error
    except service_errors as error:
        # Only a remote service's transient failure is worth the run's retry policy.
        raise Failure(description=str(error), allow_retries=error.transient) from error
    written = result.written
    context.log.info(f"{spec.name}: {written.rows} rows, {written.bytes} bytes → {written.parquet}")
    yield MaterializeResult(
        metadata={
            "dagster/row_count": written.rows,
            "path": MetadataValue.path(str(written.parquet)),
            "bytes": written.bytes,
            "sha256": written.sha256,
            "idc_version": idc_version,
            "release_version": result.release_version,
            **result.engine_metadata,
        }
    )
    # The build validated contract and integrity on these very bytes before publishing them.
    yield Outcome(CONTRACT_CHECK, metadata={"columns": len(written.schema)}).result(key)
    yield Outcome(
        INTEGRITY_CHECK,
        metadata={"sha256": written.sha256, "release_version": result.release_version},
    ).result(key)
    yield key_outcome(spec, written.directory).result(key)


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
        )

    return index_asset
