"""The `IndexEngine` resource: where index queries run. Assets talk to it only and never branch
on the engine behind it (BigQuery, or DuckDB over a local snapshot)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
from dagster import ConfigurableResource
from pydantic import Field

from idc_index_assets.engines.base import QueryRun
from idc_index_assets.engines.bigquery import BigQueryEngine, IDCBigQueryResource
from idc_index_assets.engines.duckdb import DuckDBEngine
from idc_index_assets.settings import duckdb_memory_limit, duckdb_threads, parse_engine
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTableState, snapshot_versions


class IndexEngine(ConfigurableResource):
    """Runs index queries: on BigQuery, or embedded in DuckDB over a local source snapshot."""

    engine: str = Field(default="duckdb", description="duckdb (default) or bigquery, any case")
    source_dir: str = Field(
        default="data/source", description="Root of the local source snapshot (duckdb engine)"
    )
    duckdb_memory_limit: str = Field(
        default="",
        description="DuckDB memory limit per query, spilling beyond (empty: a share of the "
        "machine's memory)",
    )
    duckdb_threads: str = Field(
        default="", description="DuckDB threads per query (empty: the machine's cores)"
    )
    gcp_project: str = Field(default="", description="BigQuery billing project (empty: ADC's)")
    bigquery_api_endpoint: str = Field(
        default="", description="BigQuery API endpoint (empty: Google's; set for an emulator)"
    )
    maximum_bytes_billed: str = Field(
        default="0", description="Refuse BigQuery queries billing more bytes than this (0: no cap)"
    )

    def _duckdb(self) -> DuckDBEngine:
        return DuckDBEngine(
            Path(self.source_dir),
            memory_limit=duckdb_memory_limit(self.duckdb_memory_limit),
            threads=duckdb_threads(self.duckdb_threads),
        )

    def _bigquery(self) -> BigQueryEngine:
        resource = IDCBigQueryResource(
            project=self.gcp_project or None, api_endpoint=self.bigquery_api_endpoint or None
        )
        return BigQueryEngine(resource, maximum_bytes_billed=int(self.maximum_bytes_billed or 0))

    @property
    def kind(self) -> str:
        """`duckdb` or `bigquery` (IDC_ENGINE in any case); ValueError naming IDC_ENGINE."""
        try:
            return parse_engine(self.engine)
        except ValueError as error:
            raise ValueError(f"IDC_ENGINE {error}") from None

    def _primary(self) -> DuckDBEngine | BigQueryEngine:
        return self._duckdb() if self.kind == "duckdb" else self._bigquery()

    @contextlib.contextmanager
    def run(
        self,
        sql: str,
        *,
        query_file: str,
        local_tables: dict[str, Path | ds.Dataset] | None = None,
    ) -> Iterator[QueryRun]:
        # A query over other indices reads their local artifact files, whichever engine made them.
        runner = self._duckdb() if local_tables else self._primary()
        with runner.run(sql, query_file=query_file, local_tables=local_tables) as run:
            yield run

    def table_state(self, dataset: str, table: str) -> SourceTableState:
        """A source table's schema and observation (no query runs): `bigquery-public-data.
        <dataset>.<table>` on BigQuery, or its Parquet footers in the snapshot."""
        return self._primary().table_state(dataset, table)

    def dry_run(self, sql: str, *, query_file: str, reads_local_tables: bool = False) -> int:
        """The bytes BigQuery would scan for the query, without running it. A query over other
        indices runs in DuckDB over their local files and scans nothing in BigQuery: 0."""
        if self.kind != "bigquery":
            raise ValueError(
                f"a dry run needs the bigquery engine (IDC_ENGINE=bigquery); it is {self.engine!r}"
            )
        if reads_local_tables:
            return 0
        return self._bigquery().dry_run(sql, query_file=query_file)

    def require_version(self, idc_version: int) -> None:
        """Raises ValueError, naming the snapshot and the versions it has, when a local snapshot
        lacks `idc_version` (a partition added by hand in the UI, say), before any query runs.
        With BigQuery nothing is asked here: the first query names the missing `idc_vN`."""
        if self.kind != "duckdb":
            return
        available = snapshot_versions(self.source_dir)
        if idc_version not in available:
            has = ", ".join(map(str, available)) or "none"
            raise ValueError(
                f"IDC version {idc_version} is not in the source snapshot {self.source_dir} "
                f"(IDC_SOURCE_DIR; its versions: {has}); delete the partition or add the "
                "version to the snapshot"
            )

    def available_versions(self) -> list[int]:
        """The IDC versions the source offers, oldest first."""
        if self.kind == "duckdb":
            return snapshot_versions(self.source_dir)
        with self._bigquery().resource.get_client() as client:
            rows = client.query(
                f"SELECT MAX(idc_version) AS v FROM `{SOURCE_PROJECT}.idc_current.version_metadata`"
            ).result()
            newest = next(iter(rows)).v
        return list(range(1, int(newest) + 1))
