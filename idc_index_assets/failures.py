"""The one retry rule of every asset: only a transient failure is retried.

Transient: a remote service answering 429 or 5xx, a connection refused or reset, a timeout, or a
client that gave up retrying those. Everything else fails at once, whatever the asset's
`RETRY_POLICY` allows: a bad partition key, a bad setting, missing or refused credentials, a query
error, a contract violation; retrying them only repeats the failure (and its cost). An error
that knows better says so with a `transient` attribute (`EngineError`, `GDCError`).

Asset bodies run inside `only_transient_retried()`, which turns any error into a Dagster
`Failure` with `allow_retries` from `is_transient` and the error's cause, on one line, as the
failure's description (what the UI and the command line show first).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import google.api_core.exceptions as api_errors
import google.auth.exceptions as auth_errors
import requests
from dagster import Backoff, Failure, RetryPolicy

# Three more attempts, 10, 20 and 40 seconds apart; `is_transient` decides whether they happen.
RETRY_POLICY = RetryPolicy(max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL)

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

CREDENTIALS_HINT = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service account key file"
)


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed (see the module docstring)."""
    marked = getattr(error, "transient", None)
    if isinstance(marked, bool):
        return marked
    if isinstance(error, api_errors.GoogleAPICallError):
        return error.code in TRANSIENT_STATUS
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in TRANSIENT_STATUS
    return isinstance(
        error,
        (
            ConnectionError,  # refused, reset, aborted, broken pipe
            TimeoutError,
            requests.ConnectionError,
            requests.Timeout,
            api_errors.RetryError,  # the client's own retries of transient answers ran out
            auth_errors.TransportError,  # the token endpoint could not be reached
        ),
    )


# user:password@ (or token@) in a URL's authority
_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def redact(text: str) -> str:
    """`text` with the credentials embedded in its URLs (`https://user:secret@host/`) replaced by
    `***`, for anything printed, logged or stored."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def describe(error: BaseException) -> str:
    """The error's cause for a failure's description: what went wrong and, for credentials, how
    to provide them. The project's own errors keep their whole message (a first line, then the
    problems it lists); others give their first line, after their type."""
    return redact(_describe(error))


def _describe(error: BaseException) -> str:
    if isinstance(error, auth_errors.DefaultCredentialsError):
        return f"no Google Cloud credentials found (DefaultCredentialsError): {CREDENTIALS_HINT}"
    if isinstance(error, auth_errors.RefreshError):
        return f"Google Cloud refused the credentials ({_first_line(error)}): {CREDENTIALS_HINT}"
    if isinstance(error, api_errors.Unauthorized):  # sent, and not accepted: not "no credentials"
        return (
            f"Google Cloud refused the credentials (401 Unauthorized: {error.message}): they "
            f"are invalid, expired or revoked; {CREDENTIALS_HINT}"
        )
    if isinstance(error, api_errors.Forbidden):
        return (
            f"permission denied (403 Forbidden: {error.message}): the account of the credentials "
            "lacks a role this needs"
        )
    if type(error).__module__.startswith("idc_index_assets") or type(error) is ValueError:
        return str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def as_failure(error: BaseException) -> Failure:
    return Failure(description=describe(error), allow_retries=is_transient(error))


@contextlib.contextmanager
def only_transient_retried() -> Iterator[None]:
    """Run an asset's body under the retry rule: any error leaves as a `Failure` that the
    retry policy may retry only when the error is transient. A `Failure` raised on purpose
    passes unchanged."""
    try:
        yield
    except Failure:
        raise
    except Exception as error:
        raise as_failure(error) from error
