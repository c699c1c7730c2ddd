"""The one retry rule: only transient failures are retried; everything else fails at once, with
its cause as the failure's description. Errors come from the real libraries (and from real
connections on loopback), and bad partition keys from real runs of the build job."""

import socket

import google.api_core.exceptions as api_errors
import google.auth
import google.auth.exceptions as auth_errors
import pytest
import requests
from dagster import AssetKey, DagsterEventType, asset, instance_for_test, materialize

from idc_index_assets.definitions import defs
from idc_index_assets.engines.base import EngineError, MissingSourceTableError
from idc_index_assets.failures import (
    CREDENTIALS_HINT,
    RETRY_POLICY,
    as_failure,
    describe,
    is_transient,
    only_transient_retried,
)
from idc_index_assets.indices.checks import Outcome
from idc_index_assets.indices.writer import ArtifactValidationError
from idc_index_assets.settings import parse_idc_version
from tests.servers.loopback import free_port


def closed_port_error() -> requests.ConnectionError:
    try:
        requests.get(f"http://127.0.0.1:{free_port()}/", timeout=5)
    except requests.ConnectionError as error:
        return error
    raise AssertionError("nothing should listen on a free port")


def timeout_error() -> requests.Timeout:
    """A server that accepts the connection and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        try:
            requests.get(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=0.2)
        except requests.Timeout as error:
            return error
    raise AssertionError("the silent server answered")


def http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.url = "http://127.0.0.1/"
    try:
        response.raise_for_status()
    except requests.HTTPError as error:
        return error
    raise AssertionError(status)


def missing_credentials(monkeypatch, tmp_path) -> auth_errors.DefaultCredentialsError:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on Google Cloud: do not wait for its metadata
    try:
        google.auth.default()
    except auth_errors.DefaultCredentialsError as error:
        return error
    raise AssertionError("credentials found")


TRANSIENT = {
    "429 Too Many Requests": lambda: api_errors.TooManyRequests("rate limited"),
    "500 Internal Server Error": lambda: api_errors.InternalServerError("backend error"),
    "503 Service Unavailable": lambda: api_errors.ServiceUnavailable("try later"),
    "HTTP 502": lambda: http_error(502),
    "connection refused": closed_port_error,
    "connection reset": lambda: ConnectionResetError(104, "Connection reset by peer"),
    "read timeout": timeout_error,
    "client gave up retrying": lambda: api_errors.RetryError("deadline exceeded", None),
    "engine error marked transient": lambda: _transient_engine_error(),
}

PERMANENT = {
    "bad partition key": lambda: _value_error(parse_idc_version, "024"),
    "bad setting": lambda: ValueError("IDC_RELEASE_CONCURRENCY must be a whole number"),
    "403 Forbidden (refused credentials)": lambda: api_errors.Forbidden("access denied"),
    "refused token": lambda: auth_errors.RefreshError("invalid_grant: Bad Request"),
    "400 query error": lambda: api_errors.BadRequest("Syntax error at [3:1]"),
    "HTTP 404": lambda: http_error(404),
    "query error in the engine": lambda: MissingSourceTableError("x.sql: table missing"),
    "contract violation": lambda: ArtifactValidationError(
        "idc_index", [Outcome("schema_contract", ["column x"])]
    ),
}


def _value_error(function, value) -> ValueError:
    try:
        function(value)
    except ValueError as error:
        return error
    raise AssertionError(value)


def _transient_engine_error() -> EngineError:
    error = EngineError("q.sql: BigQuery answered 503")
    error.transient = True
    return error


@pytest.mark.parametrize("make", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_errors_are_retried(make):
    error = make()
    assert is_transient(error)
    assert as_failure(error).allow_retries


@pytest.mark.parametrize("make", PERMANENT.values(), ids=PERMANENT.keys())
def test_everything_else_fails_at_once(make):
    error = make()
    assert not is_transient(error)
    failure = as_failure(error)
    assert not failure.allow_retries
    assert failure.description.splitlines()[0]  # a cause to show, never empty


def test_missing_credentials_say_how_to_provide_them(monkeypatch, tmp_path):
    error = missing_credentials(monkeypatch, tmp_path)
    failure = as_failure(error)
    assert not failure.allow_retries
    assert failure.description.startswith("no Google Cloud credentials found")
    assert "gcloud auth application-default login" in failure.description
    assert "GOOGLE_APPLICATION_CREDENTIALS" in failure.description
    assert "GOOGLE_APPLICATION_CREDENTIALS" in CREDENTIALS_HINT


def test_descriptions_are_the_cause_on_one_line():
    assert describe(api_errors.ServiceUnavailable("try later")) == (
        "ServiceUnavailable: 503 try later"
    )
    # The project's own errors and plain ValueErrors keep their message as it is.
    assert describe(MissingSourceTableError("x.sql: table t missing")) == "x.sql: table t missing"
    key_error = _value_error(parse_idc_version, "abc")
    assert describe(key_error) == str(key_error)


def test_the_retry_policy_acts_only_on_transient_errors(tmp_path):
    """Under a real retry policy, a transient error is tried again and a permanent one is not."""
    attempts = {"transient": 0, "permanent": 0}

    def flaky(kind, error):
        @asset(name=kind, retry_policy=RETRY_POLICY.__class__(max_retries=2, delay=0))
        def _asset():
            attempts[kind] += 1
            with only_transient_retried():
                raise error

        return _asset

    with instance_for_test() as instance:
        for kind, error in (("transient", closed_port_error()), ("permanent", ValueError("bad"))):
            result = materialize([flaky(kind, error)], instance=instance, raise_on_error=False)
            assert not result.success
    assert attempts == {"transient": 3, "permanent": 1}


@pytest.mark.parametrize("key", ["abc", "024", "0"])
def test_a_bad_partition_key_fails_the_first_step_at_once_naming_it(
    key, monkeypatch, tmp_path, sample_source
):
    """A key added by hand in the UI ("Add a partition" takes any text) and launched."""
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [key])
        result = defs.resolve_job_def("build_indices").execute_in_process(
            instance=instance,
            partition_key=key,
            asset_selection=[AssetKey("version_metadata_index"), AssetKey("collections_index")],
            raise_on_error=False,
        )
    assert not result.success
    kinds = [event.event_type for event in result.all_events]
    assert DagsterEventType.STEP_UP_FOR_RETRY not in kinds
    (first, *_) = [event for event in result.all_events if event.is_step_failure]
    description = first.step_failure_data.user_failure_data.description
    assert description == (
        f"IDC version must be a positive integer without leading zeros (1, 2, ... 25), got {key!r}"
    )
    assert not (tmp_path / "artifacts").exists()


def test_a_memory_limit_duckdb_does_not_take_is_refused_naming_the_setting():
    """Where no earlier check ran (a run launched from the UI): the engine's setting is refused
    by DuckDB's own parser, naming it."""
    from idc_index_assets.settings import duckdb_memory_limit

    assert duckdb_memory_limit(" 512MiB ") == "512MiB"
    with pytest.raises(ValueError, match=r"IDC_DUCKDB_MEMORY_LIMIT '8XB' is not a memory size"):
        duckdb_memory_limit("8XB")
