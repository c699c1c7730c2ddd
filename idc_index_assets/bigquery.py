"""The BigQuery engine: dagster-gcp's BigQueryResource, results streamed as Arrow record batches.

Batches come from the BigQuery Storage Read API when it is available and from REST pages
otherwise; neither path builds a whole table or DataFrame in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from dagster_gcp import BigQueryResource
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import GoogleAPICallError
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from .engines import BATCH_ROWS, EngineError, QueryRun


class IDCBigQueryResource(BigQueryResource):
    """BigQueryResource that can also talk to a BigQuery API server at `api_endpoint`
    (an emulator in tests), with anonymous credentials only in that case."""

    api_endpoint: str | None = None

    @contextlib.contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        if not self.api_endpoint:
            with super().get_client() as client:
                yield client
            return
        yield bigquery.Client(
            project=self.project or "idc-index-assets",
            location=self.location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )


@dataclass
class BigQueryEngine:
    resource: IDCBigQueryResource
    maximum_bytes_billed: int | None = None

    @contextlib.contextmanager
    def run(self, sql: str, *, query_file: str, local_tables=None) -> Iterator[QueryRun]:
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.maximum_bytes_billed or None)
        with self.resource.get_client() as client:
            try:
                job = client.query(sql, job_config=config)
                rows = job.result(page_size=BATCH_ROWS)
            except GoogleAPICallError as error:
                job_id = getattr(locals().get("job"), "job_id", None)
                raise EngineError(
                    f"{query_file}: BigQuery job {job_id or '(not created)'} failed: {error.message}"
                ) from error
            metadata = {
                "engine": "bigquery",
                "bigquery/job_id": job.job_id,
                "bigquery/bytes_processed": job.total_bytes_processed,
                "bigquery/slot_millis": job.slot_millis,
            }
            yield QueryRun(
                _stream(rows, client), {k: v for k, v in metadata.items() if v is not None}
            )


def _stream(rows: bigquery.table.RowIterator, client: bigquery.Client) -> pa.RecordBatchReader:
    storage = None
    if not client._connection.API_BASE_URL.startswith("http://"):  # an emulator has no Storage API
        with contextlib.suppress(ImportError):
            from google.cloud import bigquery_storage

            storage = bigquery_storage.BigQueryReadClient(credentials=client._credentials)
    batches = iter(rows.to_arrow_iterable(bqstorage_client=storage))
    first = next(batches, None)
    if first is None:
        empty = rows.to_arrow(create_bqstorage_client=False)
        return pa.RecordBatchReader.from_batches(empty.schema, iter(()))

    def chained() -> Iterator[pa.RecordBatch]:
        yield first
        yield from batches

    return pa.RecordBatchReader.from_batches(first.schema, chained())
