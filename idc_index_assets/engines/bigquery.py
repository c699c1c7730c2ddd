"""The BigQuery engine: dagster-gcp's BigQueryResource, results streamed as Arrow record batches.

Batches come from the BigQuery Storage Read API against Google's endpoint and from REST pages
(`tabledata.list`, `page_rows` rows each) against any other endpoint, such as an emulator, which
offers no Storage API; neither path builds a whole table or DataFrame in memory. What the job
reports (its id, bytes processed and billed, slot time) becomes materialization metadata.
A BigQuery script (`engines.scripting`) runs as one script job; its result is the one of its last
statement, read from that statement's child job, and a failed statement is named by its line.
Errors name the query file and the job; 429 and 5xx answers, and the client's own retries
running out on them, are marked transient so that the run's retry policy takes over.
A job insert answered 409 Already Exists (a retry of an insert whose answer was lost) goes on
with the job that insert created. The Storage Read client's gRPC channel is closed after the run.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from dagster_gcp import BigQueryResource
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import (
    Conflict,
    GoogleAPIError,
    NotFound,
    RetryError,
    ServerError,
    TooManyRequests,
)
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery._pandas_helpers import bq_to_arrow_schema
from pydantic import Field

from idc_index_assets.engines.base import (
    BATCH_ROWS,
    EngineError,
    MissingSourceTableError,
    QueryRun,
)
from idc_index_assets.engines.scripting import ScriptError, is_script, parse_script
from idc_index_assets.sources.contract import BIGQUERY_TO_ARROW
from idc_index_assets.sources.drift import BIGQUERY_TYPE_KEY
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTableState

# How long the client itself retries a retryable error (its default is 10 minutes) before the
# error reaches the engine, as a transient EngineError.
API_RETRY_SECONDS = 600.0


class IDCBigQueryResource(BigQueryResource):
    """dagster-gcp's BigQueryResource plus `api_endpoint`: a BigQuery API server other than
    Google's (an emulator in tests), used with anonymous credentials. Without an endpoint the
    stock resource makes the client (credentials from `gcp_credentials` or ADC)."""

    api_endpoint: str | None = Field(
        default=None,
        description="BigQuery API endpoint, e.g. http://127.0.0.1:9050 (empty: Google's)",
    )

    @contextlib.contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        if not self.api_endpoint:
            with super().get_client() as client:
                try:
                    yield client
                finally:
                    client.close()
            return
        client = bigquery.Client(
            # a server of our own has no ADC project to fall back on
            project=self.project or "idc-index-assets",
            location=self.location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )
        try:
            yield client
        finally:
            client.close()


class BigQueryEngineError(EngineError):
    """A BigQuery API or job failure; `transient` for 429/5xx (worth retrying the run)."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass
class BigQueryEngine:
    resource: IDCBigQueryResource
    maximum_bytes_billed: int | None = None
    page_rows: int = BATCH_ROWS
    api_retry_seconds: float = API_RETRY_SECONDS

    @property
    def _retry(self) -> bigquery.retry.Retry:
        return bigquery.DEFAULT_RETRY.with_timeout(self.api_retry_seconds)

    @contextlib.contextmanager
    def run(self, sql: str, *, query_file: str, local_tables=None) -> Iterator[QueryRun]:
        config = bigquery.QueryJobConfig()
        if self.maximum_bytes_billed:
            # BigQuery fails the job, before it bills anything, if it would bill more.
            config.maximum_bytes_billed = self.maximum_bytes_billed
        try:
            script = is_script(parse_script(sql))
        except ScriptError as error:
            raise BigQueryEngineError(
                f"{query_file}:{error.line}: {error.message}", transient=False
            ) from error
        with self.resource.get_client() as client:
            # Our own job id, so that even a job whose creation failed can be looked up.
            job_id = _new_job_id(query_file)
            try:
                # Requests are retried by the client (`_retry`); a failed job is not re-run
                # here (job_retry=None) but by the run's retry policy, as a transient error.
                job = self._insert_query_job(client, sql, config, job_id)
                rows = job.result(page_size=self.page_rows, retry=self._retry, job_retry=None)
            except GoogleAPIError as error:
                if script:
                    raise self._script_error(client, error, query_file, job_id) from error
                raise _engine_error(error, query_file, job_id) from error
            metadata = {
                "engine": "bigquery",
                "bigquery/job_id": job.job_id,
                "bigquery/bytes_processed": job.total_bytes_processed,
                "bigquery/bytes_billed": job.total_bytes_billed,
                "bigquery/slot_millis": job.slot_millis,
            }
            if script:
                # A script job's result is its last statement's: that child job's rows.
                final = self._last_child_job(client, job, query_file)
                try:
                    rows = final.result(page_size=self.page_rows, retry=self._retry, job_retry=None)
                except GoogleAPIError as error:
                    raise _engine_error(error, query_file, final.job_id) from error
                metadata["bigquery/final_statement_job_id"] = final.job_id
            storage = None if self.resource.api_endpoint else _storage_client(client)
            try:
                yield QueryRun(
                    _stream(rows, storage, query_file, job.job_id),
                    {key: value for key, value in metadata.items() if value is not None},
                )
            finally:
                if storage is not None:
                    # the Storage client's gRPC channel is not closed with the BigQuery client
                    storage.transport.close()

    def _child_jobs(self, client: bigquery.Client, job_id: str) -> list[bigquery.QueryJob]:
        """The jobs of a script job's statements, in the order they ran."""
        children = client.list_jobs(parent_job=job_id, retry=self._retry)
        return sorted(children, key=lambda child: (child.created or 0, child.job_id))

    def _last_child_job(
        self, client: bigquery.Client, job: bigquery.QueryJob, query_file: str
    ) -> bigquery.QueryJob:
        try:
            children = self._child_jobs(client, job.job_id)
        except GoogleAPIError as error:
            raise _engine_error(
                error, query_file, job.job_id, stage=" listing its statements"
            ) from error
        if not children:
            raise BigQueryEngineError(
                f"{query_file}: BigQuery script job {job.job_id} ran no statement", transient=False
            )
        return children[-1]

    def _script_error(
        self, client: bigquery.Client, error: GoogleAPIError, query_file: str, job_id: str
    ) -> BigQueryEngineError:
        """A failed script job's error, naming the line of the statement that failed (from its
        child job's script statistics) where BigQuery tells it."""
        engine_error = _engine_error(error, query_file, job_id, action="script job")
        try:
            failed = [child for child in self._child_jobs(client, job_id) if child.error_result]
        except GoogleAPIError:
            return engine_error
        frames = failed[-1].script_statistics.stack_frames if failed else []
        if not frames:
            return engine_error
        line = frames[0].start_line
        return BigQueryEngineError(
            str(engine_error).replace(
                f"{query_file}: ", f"{query_file}:{line}: statement job {failed[-1].job_id} of ", 1
            ),
            transient=engine_error.transient,
        )

    def _insert_query_job(
        self, client: bigquery.Client, sql: str, config: bigquery.QueryJobConfig, job_id: str
    ) -> bigquery.QueryJob:
        """Starts the query job `job_id`. A retried insert whose first attempt reached BigQuery
        is answered 409 Already Exists; the client only recovers from that for job ids of its
        own making, so here the job, ours since its id is new, is looked up and continued."""
        try:
            return client.query(
                sql, job_config=config, job_id=job_id, retry=self._retry, job_retry=None
            )
        except Conflict:
            # Just after the 409 the job may not be visible yet: 404 is retried too.
            lookup_retry = self._retry.with_predicate(
                lambda error: isinstance(error, NotFound) or self._retry._predicate(error)
            )
            return client.get_job(
                job_id, project=client.project, location=client.location, retry=lookup_retry
            )

    def table_state(self, dataset: str, table: str) -> SourceTableState:
        """`bigquery-public-data.<dataset>.<table>`: its schema and its row count and last-modified time, from `tables.get` (no
        query, nothing billed). Each Arrow field records BigQuery's own type name
        (`BIGQUERY_TYPE_KEY`), since Arrow blurs some (JSON and GEOGRAPHY arrive as strings)."""
        table_id = f"{SOURCE_PROJECT}.{dataset}.{table}"
        with self.resource.get_client() as client:
            try:
                found = client.get_table(table_id, retry=self._retry)
            except NotFound as error:
                raise MissingSourceTableError(f"table {table_id} is not in BigQuery") from error
            except GoogleAPIError as error:
                raise _engine_error(error, table_id, None, "tables.get") from error
        schema = pa.schema([_arrow_field(f.to_api_repr()) for f in found.schema])
        observation = {
            "rows": found.num_rows,
            "bytes": found.num_bytes,
            "modified": found.modified.timestamp() if found.modified else None,
        }
        return SourceTableState(table_id, schema, observation)

    def dry_run(self, sql: str, *, query_file: str) -> int:
        """The bytes the query would process, from a dry-run job (nothing runs, nothing bills)."""
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        with self.resource.get_client() as client:
            try:
                job = client.query(sql, job_config=config, retry=self._retry, job_retry=None)
            except GoogleAPIError as error:
                raise _engine_error(error, query_file, None, "dry run") from error
            return int(job.total_bytes_processed or 0)


def _arrow_field(column: dict) -> pa.Field:
    """A column of a BigQuery table schema (its API form: name, type, mode, fields) as Arrow."""
    kind = column["type"]
    if kind in ("RECORD", "STRUCT"):
        value: pa.DataType = pa.struct([_arrow_field(f) for f in column.get("fields", [])])
    else:
        value = BIGQUERY_TO_ARROW.get(kind, pa.string())
    if column.get("mode") == "REPEATED":
        value = pa.list_(value)
    return pa.field(column["name"], value, metadata={BIGQUERY_TYPE_KEY: kind})


def _is_transient(error: BaseException) -> bool:
    # RetryError: the client kept getting retryable answers (or no answer) until its deadline.
    return isinstance(error, TooManyRequests | ServerError | RetryError)


def _new_job_id(query_file: str) -> str:
    """`<query name>_<random hex>`: BigQuery job ids allow letters, digits, `_` and `-`."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(query_file).stem)[:100]
    return f"{name}_{uuid.uuid4().hex}"


def _engine_error(
    error: GoogleAPIError, query_file: str, job_id: str | None, action: str = "job", stage: str = ""
) -> BigQueryEngineError:
    detail = getattr(error, "message", None) or str(error)
    if isinstance(error, RetryError) and error.cause is not None:
        detail = f"gave up retrying: {error.cause}"
    label = f"BigQuery {action} {job_id}" if job_id else f"BigQuery {action} (no job id)"
    return BigQueryEngineError(
        f"{query_file}: {label} failed{stage}: {detail}".strip(), transient=_is_transient(error)
    )


def _storage_client(client: bigquery.Client):
    """A Storage Read API client with the BigQuery client's credentials, if the library is there."""
    try:
        from google.cloud import bigquery_storage
    except ImportError:
        return None
    return bigquery_storage.BigQueryReadClient(credentials=client._credentials)


def _stream(
    rows: bigquery.table.RowIterator, storage, query_file: str, job_id: str
) -> pa.RecordBatchReader:
    """The result as record batches, one page (or Storage stream block) in memory at a time."""
    batches = iter(rows.to_arrow_iterable(bqstorage_client=storage))
    try:
        first = next(batches, None)
    except GoogleAPIError as error:
        raise _engine_error(error, query_file, job_id, stage=" reading its results") from error
    if first is None:
        # No batch at all (a Storage read session without streams): the schema comes from the
        # job's result schema, converted as the client converts REST pages. `rows` has started
        # and cannot be read again.
        return pa.RecordBatchReader.from_batches(bq_to_arrow_schema(rows.schema), iter(()))

    def chained() -> Iterator[pa.RecordBatch]:
        yield first
        try:
            yield from batches
        except GoogleAPIError as error:
            raise _engine_error(error, query_file, job_id, stage=" reading its results") from error

    return pa.RecordBatchReader.from_batches(first.schema, chained())
