"""The BigQuery engine through the real google-cloud-bigquery client against a BigQuery API server
(crucible-emulator on loopback, seeded with the sample release): every index query gives the same
rows as the DuckDB engine, and the client's behaviour (job metadata, errors, paging, the cost
guard, dry runs, credentials) is what production relies on.

What the server cannot do is listed here as an expected gap with its reason (strict xfail: the
test fails once the gap closes, so the list stays true)."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlglot
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dagster import AssetKey, DagsterInstance
from dagster_gcp import BigQueryResource
from google.auth.credentials import AnonymousCredentials
from sqlglot import exp

from idc_index_assets.cli import main
from idc_index_assets.engines.base import EngineError, MissingSourceTableError
from idc_index_assets.engines.bigquery import BigQueryEngine, IDCBigQueryResource
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index, check_sources
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME, INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import index_files
from idc_index_assets.sources.drift import compare_table
from idc_index_assets.sources.tables import SOURCE_PROJECT, snapshot_table_path
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.bigquery_server import bigquery_server, server_executable
from tests.servers.loopback import answer_json

# Index → why the server cannot run its query (the query is right on BigQuery).
EXPECTED_GAPS: dict[str, str] = {
    "collections_index": "crucible-emulator lowercases STRUCT field names read from a stored table "
    "(sources[].Access comes back as 'access'), so the result misses the contract's fields",
    "ann_group_index": "crucible-emulator names a selected STRUCT field in lower case "
    "(`annotation_group.AnnotationGroupNumber` comes back as column 'annotationgroupnumber')",
    "sm_index": "crucible-emulator's DuckDB has no ROUND(FLOAT64, INT64): the query rounds to a "
    "number of digits computed per row",
}

# Queries over other indices' local files always run in DuckDB, whichever engine is configured.
SERVER_INDICES = [spec.name for spec in INDICES if not load_query(spec.name).upstream_indices]


def _source_tables(version: int) -> set[tuple[str, str]]:
    """(dataset, table) of every source table the server-side queries read for `version`."""
    found = set()
    for name in SERVER_INDICES:
        tree = sqlglot.parse_one(load_query(name).render(version), read="bigquery")
        found |= {(t.db, t.name) for t in tree.find_all(exp.Table) if t.catalog == SOURCE_PROJECT}
    return found


@pytest.fixture(scope="session")
def bigquery_api(sample_source, tmp_path_factory):
    """The server, seeded with the tables the queries read (plus `idc_current.version_metadata`,
    which lists the IDC versions), as BigQuery holds them."""
    executable = server_executable()
    if executable is None:
        message = (
            "no BigQuery API server: `make test` (or `make setup-test`) installs crucible-emulator"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tables = {
        f"{SOURCE_PROJECT}.{dataset}.{table}": snapshot_table_path(sample_source, dataset, table)
        for dataset, table in _source_tables(SAMPLE_VERSIONS)
    }
    tables[f"{SOURCE_PROJECT}.idc_current.version_metadata"] = snapshot_table_path(
        sample_source, f"idc_v{SAMPLE_VERSIONS}", "version_metadata"
    )
    with bigquery_server(executable, tmp_path_factory.mktemp("bigquery")) as server:
        server.seed(tables)
        yield server


@pytest.fixture
def bigquery_engine(bigquery_api, sample_source) -> IndexEngine:
    return IndexEngine(
        engine="bigquery",
        source_dir=str(sample_source),
        bigquery_api_endpoint=bigquery_api.url,
        gcp_project="test-project",
    )


@pytest.fixture
def bigquery_client(bigquery_api):
    client = bigquery_api.client()
    yield client
    client.close()


def _sorted_rows(table, key: tuple[str, ...]) -> list[dict]:
    return table.sort_by([(column, "ascending") for column in key]).to_pylist()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=EXPECTED_GAPS[name]))
        if name in EXPECTED_GAPS
        else name
        for name in SERVER_INDICES
    ],
)
def test_bigquery_index_equals_the_duckdb_index(
    name, bigquery_engine, built_artifacts, tmp_path, bigquery_client
):
    spec = INDEX_BY_NAME[name]
    store = ArtifactStore(root=str(tmp_path))
    result = build_index(
        spec, load_query(name), SAMPLE_VERSIONS, engine=bigquery_engine, store=store
    )
    # It ran on the server: the job is there, with the rendered query.
    job = bigquery_client.get_job(result.engine_metadata["bigquery/job_id"])
    assert job.query == load_query(name).render(SAMPLE_VERSIONS)

    from_bigquery = pq.read_table(index_files(store.directory(SAMPLE_VERSIONS), name)["parquet"])
    from_duckdb = pq.read_table(built_artifacts / f"{name}.parquet")
    assert from_bigquery.schema.remove_metadata() == from_duckdb.schema.remove_metadata()
    assert from_bigquery.num_rows == from_duckdb.num_rows > 0
    # ORDER BY may leave ties, so rows are compared in primary key order.
    assert _sorted_rows(from_bigquery, spec.primary_key) == _sorted_rows(
        from_duckdb, spec.primary_key
    )


def test_bigquery_job_metadata_and_cost_cap_reach_the_server(
    bigquery_engine, bigquery_client, tmp_path
):
    engine = bigquery_engine.model_copy(update={"maximum_bytes_billed": "123456789"})
    result = build_index(
        INDEX_BY_NAME["version_metadata_index"],
        load_query("version_metadata_index"),
        SAMPLE_VERSIONS,
        engine=engine,
        store=ArtifactStore(root=str(tmp_path)),
    )
    metadata = result.engine_metadata
    assert metadata["engine"] == "bigquery"
    job = bigquery_client.get_job(metadata["bigquery/job_id"])
    assert job.state == "DONE" and job.error_result is None
    # The server reports bytes (always 0) but no slot time; what it reports is passed on as is.
    assert metadata["bigquery/bytes_processed"] == job.total_bytes_processed
    assert "bigquery/slot_millis" not in metadata
    assert job.maximum_bytes_billed == 123456789


def test_bigquery_without_a_cost_cap_sends_none(bigquery_engine, bigquery_client):
    with bigquery_engine.run("SELECT 1 AS x", query_file="probe.sql") as run:
        run.batches.read_all()
    assert bigquery_client.get_job(run.metadata["bigquery/job_id"]).maximum_bytes_billed is None


def test_bigquery_query_error_names_the_job_and_the_query_file(bigquery_engine, bigquery_client):
    sql = f"SELECT * FROM `{SOURCE_PROJECT}.idc_v{SAMPLE_VERSIONS}.no_such_table`"
    with (
        pytest.raises(EngineError) as raised,
        bigquery_engine.run(sql, query_file="queries/broken.sql"),
    ):
        pass
    message = str(raised.value)
    # The job id (named after the query file) finds the failed job on the server.
    job_id = re.match(r"queries/broken\.sql: BigQuery job (broken_[0-9a-f]{32}) failed: ", message)
    assert job_id, message
    assert "no_such_table" in message
    assert raised.value.transient is False
    job = bigquery_client.get_job(job_id[1])
    assert job.error_result is not None and job.query == sql


def test_bigquery_results_stream_in_pages_without_the_storage_api(
    bigquery_api, sample_source, monkeypatch
):
    from google.cloud import bigquery_storage

    def refuse(*args, **kwargs):
        raise AssertionError("the Storage Read API was tried against a server that has none")

    monkeypatch.setattr(bigquery_storage, "BigQueryReadClient", refuse)
    dicom_all = snapshot_table_path(sample_source, f"idc_v{SAMPLE_VERSIONS}", "dicom_all")
    expected = sorted(pq.read_table(dicom_all, columns=["SOPInstanceUID"])[0].to_pylist())
    resource = IDCBigQueryResource(project="test-project", api_endpoint=bigquery_api.url)
    engine = BigQueryEngine(resource, page_rows=1000)
    sql = f"SELECT SOPInstanceUID FROM `{SOURCE_PROJECT}.idc_v{SAMPLE_VERSIONS}.dicom_all`"
    with engine.run(sql, query_file="pages.sql") as run:
        sizes, values = [], []
        for batch in run.batches:
            sizes.append(batch.num_rows)
            values.extend(batch.column(0).to_pylist())
    assert max(sizes) <= 1000 and len(sizes) == -(-len(expected) // 1000)
    assert sorted(values) == expected


def test_bigquery_empty_result_keeps_its_schema(bigquery_engine):
    sql = f"SELECT idc_version FROM `{SOURCE_PROJECT}.idc_current.version_metadata` WHERE FALSE"
    with bigquery_engine.run(sql, query_file="empty.sql") as run:
        table = run.batches.read_all()
    assert table.num_rows == 0 and table.schema.names == ["idc_version"]


def test_bigquery_available_versions_come_from_idc_current(bigquery_engine, sample_source):
    newest = snapshot_table_path(sample_source, f"idc_v{SAMPLE_VERSIONS}", "version_metadata")
    expected = pc.max(pq.read_table(newest)["idc_version"]).as_py()
    assert bigquery_engine.available_versions() == list(range(1, expected + 1))


def test_bigquery_source_tables_are_checked_from_their_schema(
    bigquery_engine, bigquery_client, sample_source
):
    """tables.get gives the schema (compared with the source contract) and the observation; a
    table whose column changed type is reported with table and column."""
    queries = [load_query(name) for name in SERVER_INDICES]
    reports = check_sources(queries, SAMPLE_VERSIONS, engine=bigquery_engine)
    assert reports and all(r.ok for r in reports), [r.line() for r in reports]
    state = bigquery_engine.table_state(f"idc_v{SAMPLE_VERSIONS}", "version_metadata")
    parquet = snapshot_table_path(sample_source, f"idc_v{SAMPLE_VERSIONS}", "version_metadata")
    assert state.observation["rows"] == pq.read_metadata(parquet).num_rows
    # lastModifiedTime, which crucible-emulator leaves out (BigQuery always sends it)
    assert "modified" in state.observation
    bigquery_client.create_dataset(f"{SOURCE_PROJECT}.idc_v999", exists_ok=True)
    bigquery_client.query(
        f"CREATE TABLE `{SOURCE_PROJECT}.idc_v999.version_metadata` "
        "(idc_version STRING, version_timestamp STRING)"
    ).result()
    drifted = bigquery_engine.table_state("idc_v999", "version_metadata")
    report = compare_table(drifted.table, drifted.schema, read_by=["version_metadata_index"])
    assert report.line() == (
        f"FAIL {SOURCE_PROJECT}.idc_v999.version_metadata: idc_version: expected INT64, found "
        "STRING (read by version_metadata_index)"
    )
    with pytest.raises(MissingSourceTableError, match=r"idc_v999\.dicom_all is not in BigQuery"):
        bigquery_engine.table_state("idc_v999", "dicom_all")


# --- the resource ------------------------------------------------------------------------------


def test_bigquery_resource_uses_the_endpoint_with_anonymous_credentials(bigquery_api):
    resource = IDCBigQueryResource(project="test-project", api_endpoint=bigquery_api.url)
    assert isinstance(resource, BigQueryResource)
    with resource.get_client() as client:
        assert isinstance(client._credentials, AnonymousCredentials)
        assert bigquery_api.url == client._connection.API_BASE_URL
        assert client.project == "test-project"
        assert next(iter(client.query("SELECT 6 * 7 AS answer").result())).answer == 42


def test_bigquery_resource_without_an_endpoint_uses_adc_and_googles_api(tmp_path, monkeypatch):
    # Application Default Credentials from a file; nothing is sent until a request is made.
    adc = tmp_path / "adc.json"
    secret = "refresh-token-that-must-stay-private"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "client-secret",
                "refresh_token": secret,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    engine = IndexEngine(engine="bigquery", gcp_project="billing-project")
    with engine._bigquery().resource.get_client() as client:
        assert not isinstance(client._credentials, AnonymousCredentials)
        assert client._credentials.refresh_token == secret
        assert client.project == "billing-project"
        assert client._connection.API_BASE_URL == "https://bigquery.googleapis.com"


# --- a loopback HTTP server answering every POST the same way, for what the emulator cannot be
# made to do: be overloaded, answer a dry run, lose the answer to a job insert ---------------------


class _FixedAnswer(BaseHTTPRequestHandler):
    status: int
    payload: dict
    answer_get: Callable[[str], dict | None]
    requests: list[dict]
    calls: list[tuple[str, str]]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).calls.append(("POST", urlsplit(self.path).path))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            type(self).requests.append(json.loads(body or b"{}"))
        self._answer(self.status, self.payload)

    def do_GET(self):
        path = urlsplit(self.path).path
        type(self).calls.append(("GET", path))
        payload = self.answer_get(path)
        if payload is None:
            self._answer(404, {"error": {"code": 404, "message": f"Not found: {path}"}})
        else:
            self._answer(200, payload)

    def _answer(self, status: int, payload: dict):
        answer_json(self, status, payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fixed_answer_server():
    """start(status, payload, answer_get=None) → (url, handler class recording the JSON request
    bodies in `requests` and every (method, path) in `calls`); a GET is answered with
    answer_get(path), 404 when that is None."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, payload: dict, answer_get: Callable[[str], dict | None] | None = None):
        handler = type(
            "Handler",
            (_FixedAnswer,),
            {
                "status": status,
                "payload": payload,
                "answer_get": staticmethod(answer_get or (lambda path: None)),
            },
        )
        handler.requests, handler.calls = [], []
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "reason", "transient"),
    [
        (503, "backendError", True),
        (500, "internalError", True),
        (429, "rateLimitExceeded", True),
        (400, "invalidQuery", False),
        (403, "accessDenied", False),
    ],
)
def test_bigquery_api_errors_are_transient_only_for_429_and_5xx(
    fixed_answer_server, status, reason, transient
):
    error = {"code": status, "message": "no", "errors": [{"reason": reason, "message": "no"}]}
    url, _ = fixed_answer_server(status, {"error": error})
    engine = BigQueryEngine(IDCBigQueryResource(api_endpoint=url), api_retry_seconds=0.5)
    with pytest.raises(EngineError) as raised, engine.run("SELECT 1", query_file="q.sql"):
        pass
    assert raised.value.transient is transient
    assert re.match(r"q\.sql: BigQuery job q_[0-9a-f]{32} failed: ", str(raised.value))


def test_bigquery_unreachable_server_is_transient():
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound_not_listening.getsockname()[1]}"
        engine = BigQueryEngine(IDCBigQueryResource(api_endpoint=url), api_retry_seconds=0.5)
        with pytest.raises(EngineError) as raised, engine.run("SELECT 1", query_file="q.sql"):
            pass
    assert raised.value.transient is True
    assert "gave up retrying" in str(raised.value)


def _done_query_job(path: str) -> dict | None:
    """jobs.get and jobs.getQueryResults answers of a finished `SELECT 1 AS x` job."""
    found = re.fullmatch(r"/bigquery/v2/projects/([^/]+)/(jobs|queries)/([^/]+)", path)
    if not found:
        return None
    project, kind, job_id = found.groups()
    reference = {"projectId": project, "jobId": job_id, "location": "US"}
    if kind == "jobs":
        return {
            "kind": "bigquery#job",
            "jobReference": reference,
            "configuration": {"query": {"query": "SELECT 1 AS x"}},
            "status": {"state": "DONE"},
            "statistics": {"query": {"totalBytesProcessed": "0"}},
        }
    return {
        "kind": "bigquery#getQueryResultsResponse",
        "jobReference": reference,
        "jobComplete": True,
        "schema": {"fields": [{"name": "x", "type": "INTEGER", "mode": "NULLABLE"}]},
        "totalRows": "1",
        "rows": [{"f": [{"v": "1"}]}],
    }


def test_bigquery_job_insert_answered_already_exists_continues_with_that_job(
    fixed_answer_server,
):
    # What a retried jobs.insert gets when the first attempt created the job but its answer was
    # lost: 409 for the job id the engine chose.
    already_exists = {
        "code": 409,
        "message": "Already Exists: Job p:US.q_0",
        "errors": [{"reason": "duplicate", "message": "Already Exists: Job p:US.q_0"}],
    }
    url, handler = fixed_answer_server(409, {"error": already_exists}, _done_query_job)
    engine = BigQueryEngine(IDCBigQueryResource(project="p", api_endpoint=url))
    with engine.run("SELECT 1 AS x", query_file="q.sql") as run:
        table = run.batches.read_all()
    assert table.to_pylist() == [{"x": 1}]
    job_id = run.metadata["bigquery/job_id"]
    assert re.fullmatch(r"q_[0-9a-f]{32}", job_id)
    # the insert was sent once, with that id; then the job was fetched, not inserted again
    assert [r["jobReference"]["jobId"] for r in handler.requests] == [job_id]
    assert handler.calls[:2] == [
        ("POST", "/bigquery/v2/projects/p/jobs"),
        ("GET", f"/bigquery/v2/projects/p/jobs/{job_id}"),
    ]


# --- the Storage Read API: a loopback gRPC server in its place, whose read sessions have no
# streams (what BigQuery gives for an empty result) ------------------------------------------------


@pytest.fixture
def storage_read_server():
    """(address, the CreateReadSession requests it got)."""
    from google.cloud.bigquery_storage_v1 import types

    requests: list = []

    def create_read_session(request, context):
        requests.append(request)
        return types.ReadSession(name=f"{request.parent}/locations/us/sessions/empty")

    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "google.cloud.bigquery.storage.v1.BigQueryRead",
                {
                    "CreateReadSession": grpc.unary_unary_rpc_method_handler(
                        create_read_session,
                        request_deserializer=types.CreateReadSessionRequest.deserialize,
                        response_serializer=types.ReadSession.serialize,
                    )
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", requests
    server.stop(grace=None)


def test_bigquery_storage_read_of_an_empty_result_keeps_its_schema_and_closes_its_channel(
    bigquery_api, storage_read_server, fixed_answer_server, tmp_path, monkeypatch
):
    """The engine as configured for Google (no api_endpoint, Application Default Credentials):
    its REST requests reach the emulator through BIGQUERY_EMULATOR_HOST and the Storage Read
    API client it makes talks to the loopback gRPC server."""
    from google.cloud import bigquery_storage
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
        BigQueryReadGrpcTransport,
    )

    token_url, _ = fixed_answer_server(200, {"access_token": "token", "expires_in": 3600})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "test-project",
                "private_key_id": "key",
                "private_key": pem.decode(),
                "client_email": "builder@test-project.iam.gserviceaccount.com",
                "token_uri": token_url,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_api.url)
    address, session_requests = storage_read_server
    made, read_client = [], bigquery_storage.BigQueryReadClient

    def read_client_of_the_loopback_server(*args, **kwargs):
        channel = grpc.insecure_channel(address)
        made.append(read_client(transport=BigQueryReadGrpcTransport(channel=channel)))
        return made[-1]

    monkeypatch.setattr(bigquery_storage, "BigQueryReadClient", read_client_of_the_loopback_server)
    engine = BigQueryEngine(IDCBigQueryResource(project="test-project"))
    sql = f"SELECT idc_version FROM `{SOURCE_PROJECT}.idc_current.version_metadata` WHERE FALSE"
    with engine.run(sql, query_file="empty.sql") as run:
        table = run.batches.read_all()
    assert len(made) == 1 and len(session_requests) == 1
    assert session_requests[0].read_session.table.startswith("projects/test-project/datasets/")
    assert table.num_rows == 0
    assert table.schema.names == ["idc_version"] and table.schema.types == [pa.int64()]
    # After the run its channel is closed: nothing more can be sent on it.
    with pytest.raises(ValueError, match="closed channel"):
        made[0].create_read_session(parent="projects/test-project")


# --- dry runs ----------------------------------------------------------------------------------

DRY_RUN_REFUSED = (
    "crucible-emulator refuses dry-run jobs ('Not supported by Crucible: dry-run jobs')"
)


@pytest.mark.xfail(strict=True, raises=EngineError, reason=DRY_RUN_REFUSED)
def test_bigquery_dry_run_reports_bytes_without_running(bigquery_engine):
    query = load_query("idc_index")
    scanned = bigquery_engine.dry_run(query.render(SAMPLE_VERSIONS), query_file=str(query.path))
    assert scanned > 0


def test_bigquery_dry_run_sends_a_dry_run_job_and_reads_its_bytes(fixed_answer_server):
    url, handler = fixed_answer_server(
        200,
        {
            "jobReference": {"projectId": "p", "jobId": "dry"},
            "configuration": {"dryRun": True, "query": {"query": "SELECT 1"}},
            "status": {"state": "DONE"},
            "statistics": {"query": {"totalBytesProcessed": "12345"}},
        },
    )
    engine = BigQueryEngine(IDCBigQueryResource(project="p", api_endpoint=url))
    assert engine.dry_run("SELECT 1", query_file="q.sql") == 12345
    assert [r["configuration"]["dryRun"] for r in handler.requests] == [True]


# --- the command line against the server ---------------------------------------------------------


@pytest.fixture
def bigquery_environment(monkeypatch, tmp_path, bigquery_api, sample_source):
    home = tmp_path / "dagster_home"
    home.mkdir()
    for name, value in {
        "DAGSTER_HOME": str(home),
        "IDC_ENGINE": "bigquery",
        "IDC_BIGQUERY_API_ENDPOINT": bigquery_api.url,
        "GCP_PROJECT": "test-project",
        "IDC_SOURCE_DIR": str(sample_source),
        "IDC_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "IDC_RELEASE_VERSION": "",
        "IDC_MAX_BYTES_BILLED": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_bigquery_build_command_records_the_job_in_the_materialization(
    bigquery_environment, bigquery_client
):
    assert main(["build", "--select", "version_metadata_index"]) == 0
    event = DagsterInstance.get().get_latest_materialization_event(
        AssetKey("version_metadata_index")
    )
    metadata = event.asset_materialization.metadata
    assert metadata["engine"].value == "bigquery"
    job = bigquery_client.get_job(metadata["bigquery/job_id"].value)
    assert job.query == load_query("version_metadata_index").render(SAMPLE_VERSIONS)


@pytest.mark.xfail(strict=True, reason=DRY_RUN_REFUSED)
def test_bigquery_dry_run_command_reports_bytes_per_index(bigquery_environment, capsys):
    assert main(["build", "--dry-run", "--select", "idc_index,tcia_idc_subset"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^idc_index: [1-9][0-9,]* bytes$", out, re.MULTILINE)
    assert "tcia_idc_subset: 0 bytes (runs locally over idc_index)" in out


def test_bigquery_dry_run_command_fails_with_the_servers_reason(bigquery_environment, capsys):
    assert main(["build", "--dry-run", "--select", "collections_index"]) == 1
    err = capsys.readouterr().err
    assert "FAILED collections_index:" in err and "collections_index.sql" in err
    assert "dry-run jobs" in err
    # nothing was built
    assert not (bigquery_environment / "artifacts").exists()


def test_bigquery_dry_run_of_the_gdc_mapping_asks_about_its_studies_query(
    bigquery_environment, capsys
):
    assert main(["build", "--dry-run", "--select", "gdc_idc_mapping"]) == 1
    err = capsys.readouterr().err
    assert "FAILED gdc_idc_mapping:" in err and "gdc_idc_studies.sql" in err


def test_bigquery_dry_run_command_needs_the_bigquery_engine(
    bigquery_environment, monkeypatch, capsys
):
    monkeypatch.setenv("IDC_ENGINE", "duckdb")
    assert main(["build", "--dry-run"]) == 2
    assert (
        "--dry-run reports BigQuery bytes and needs the bigquery engine" in capsys.readouterr().err
    )
