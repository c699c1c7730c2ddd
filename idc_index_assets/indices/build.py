"""Building one index for one IDC version: render its query, run it, stream the result into its
artifacts. Dagster assets call this; so do the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.queries import IndexQuery
from idc_index_assets.indices.registry import IndexSpec
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import index_files
from idc_index_assets.indices.writer import WrittenIndex, write_index


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
    sql = query.render(idc_version)
    directory = store.directory(idc_version)
    local_tables = {
        name: index_files(directory, name)["parquet"] for name in query.upstream_indices
    }
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
        )
    return BuildResult(written, release_version, run.metadata)
