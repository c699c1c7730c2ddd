"""Building one index for one IDC version: render its query, run it, stream the result into its
artifacts. Dagster assets call this; so do the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .artifacts import WrittenIndex, write_index
from .queries import IndexQuery
from .registry import IndexSpec
from .resources import ArtifactStore, IndexEngine
from .validation import index_files


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
