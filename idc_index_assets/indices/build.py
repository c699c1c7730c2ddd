"""Building one index for one IDC version: check the source tables its query reads against the
source contract, render the query, run it, stream the result into its artifacts. Dagster assets
call this; so do the benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from idc_index_assets.engines.base import MissingSourceTableError
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.checks import build_outcomes, instance_problems
from idc_index_assets.indices.queries import IndexQuery
from idc_index_assets.indices.registry import IndexSpec
from idc_index_assets.indices.store import ArtifactDirectory, ArtifactStore, open_location
from idc_index_assets.indices.validation import index_file_names
from idc_index_assets.indices.writer import WrittenIndex, write_index
from idc_index_assets.sources.drift import SourceDriftError, TableReport, compare_table


@dataclass(frozen=True)
class BuildResult:
    written: WrittenIndex
    release_version: str
    engine_metadata: dict[str, Any]


def build_index(
    spec: IndexSpec,
    query: IndexQuery,
    idc_version: int,
    *,
    engine: IndexEngine,
    store: ArtifactStore,
) -> BuildResult:
    release_version = store.release_version_for(idc_version)
    require_sources(query, idc_version, engine=engine)
    sql = query.render(idc_version)
    source_problems = instance_problems(engine, idc_version) if spec.checks_instances else []
    directory = store.location(idc_version)
    local_tables = {name: _artifact_table(directory, name) for name in query.upstream_indices}
    with engine.run(sql, query_file=str(query.path), local_tables=local_tables) as run:
        written = write_index(
            directory,
            contract=spec.contract,
            batches=run.batches,
            table_description=query.table_description,
            column_docs=query.columns,
            sql=sql,
            release_version=release_version,
            idc_version=idc_version,
            bloom_filters=spec.bloom_filters,
            checks=staged_checks(spec, store, idc_version, release_version, source_problems),
        )
    return BuildResult(written, release_version, run.metadata)


def staged_checks(
    spec: IndexSpec,
    store: ArtifactStore,
    idc_version: int,
    release_version: str,
    source_problems: list[str] | None = None,
):
    """The checks `write_index` runs on an index's staged files (`checks.build_outcomes`)."""

    def checks(staged: ArtifactDirectory, rows: int):
        return build_outcomes(
            spec,
            staged,
            release_version=release_version,
            idc_version=idc_version,
            previous=previous_location(store, idc_version, spec.name),
            source_problems=source_problems or [],
        )

    return checks


def previous_location(
    store: ArtifactStore, idc_version: int, name: str
) -> ArtifactDirectory | None:
    """The directory of the newest earlier IDC version in the store that has this index."""
    parquet = index_file_names(name)["parquet"]
    root = open_location(store.root, store.gcp_project)
    earlier = sorted(
        (int(sub) for sub in root.subdirectories() if sub.isdigit() and int(sub) < idc_version),
        reverse=True,
    )
    for version in earlier:
        location = store.location(version)
        if location.exists(parquet):
            return location
    return None


def _artifact_table(directory: ArtifactDirectory, name: str) -> Path | ds.Dataset:
    """Another index's parquet as the engine reads it: its local path, or a dataset over the
    object (the engine then reports a missing one like a missing source table)."""
    parquet = index_file_names(name)["parquet"]
    local = directory.local_path
    if local is not None:
        return local / parquet
    if not directory.exists(parquet):
        raise MissingSourceTableError(f"table {name}: {directory.label(parquet)} does not exist")
    return directory.dataset(parquet)


def check_sources(
    queries: Iterable[IndexQuery], idc_version: int, *, engine: IndexEngine
) -> list[TableReport]:
    """Every IDC source table the queries read for this IDC version, compared with the source
    contract (`sources.drift`) from its schema alone: Parquet footers or BigQuery's `tables.get`,
    no query. A table of an earlier release (prior_versions_index reads them all) is compared on
    the columns its readers use only. Raises MissingSourceTableError for a table the source lacks,
    naming the query that reads it."""
    readers: dict[tuple[str, str], dict[IndexQuery, None]] = {}
    for query in queries:
        for table in query.tables_read(idc_version):
            readers.setdefault(table, {})[query] = None
    newest = {f"idc_v{idc_version}", f"idc_v{idc_version}_clinical"}
    reports = []
    for (dataset, table), queries_reading in readers.items():
        try:
            state = engine.table_state(dataset, table)
        except MissingSourceTableError as error:
            raise MissingSourceTableError(f"{next(iter(queries_reading)).path}: {error}") from error
        names = [query.name for query in queries_reading]
        reports.append(
            compare_table(
                state.table,
                state.schema,
                read_by=names,
                only_used_by=None if dataset in newest else names,
            )
        )
    return reports


def require_sources(query: IndexQuery, idc_version: int, *, engine: IndexEngine) -> None:
    """Raise SourceDriftError, before the query runs and before any file is touched, when a
    source table the query reads differs from the source contract."""
    reports = check_sources([query], idc_version, engine=engine)
    if not all(report.ok for report in reports):
        raise SourceDriftError(reports)
