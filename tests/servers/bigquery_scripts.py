"""A loopback BigQuery API server that answers like BigQuery does for a script (multi-statement
query) job, which the emulator the other BigQuery tests use does not run.

BigQuery runs a script as one parent job (`statistics.query.statementType` SCRIPT,
`statistics.numChildJobs`) and one child job per statement that runs a query, each with
`statistics.parentJobId` and `statistics.scriptStatistics.stackFrames` giving the statement's
line; `jobs.list?parentJobId=` lists the children, newest first; a statement that fails fails
its child job and the parent job, with the error, and no later statement runs.
https://cloud.google.com/bigquery/docs/multi-statement-queries#view_child_jobs
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.servers.loopback import answer_json


@dataclass
class ScriptStatement:
    """A statement the fake script job runs: its line, statement type and, for the last one, its
    result (column names and BigQuery types, rows of string values); `error` fails it."""

    line: int
    statement_type: str = "SELECT"
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Jobs:
    statements: list[ScriptStatement]
    resources: dict[str, dict] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    inserted: list[dict] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)


def _error(message: str) -> dict:
    return {"reason": "invalidQuery", "location": "query", "message": message}


def _insert(jobs: _Jobs, project: str, body: dict) -> dict:
    parent = body["jobReference"]["jobId"]
    reference = {"projectId": project, "jobId": parent, "location": "US"}
    children, failure = [], None
    for number, statement in enumerate(jobs.statements):
        child = f"script_job_{parent[-8:]}_{number}"
        child_reference = {"projectId": project, "jobId": child, "location": "US"}
        status = {"state": "DONE"}
        if statement.error:
            failure = _error(statement.error)
            status.update(errorResult=failure, errors=[failure])
        jobs.resources[child] = {
            "kind": "bigquery#job",
            "id": f"{project}:US.{child}",
            "jobReference": child_reference,
            "state": "DONE",
            "status": status,
            "configuration": {"jobType": "QUERY", "query": {"query": f"statement {number}"}},
            "statistics": {
                "creationTime": str(1_700_000_000_000 + number),
                "parentJobId": parent,
                "scriptStatistics": {
                    "evaluationKind": "STATEMENT",
                    "stackFrames": [
                        {
                            "startLine": statement.line,
                            "startColumn": 1,
                            "endLine": statement.line,
                            "endColumn": 2,
                            "text": f"statement {number}",
                        }
                    ],
                },
                "query": {"statementType": statement.statement_type, "totalBytesProcessed": "10"},
            },
            **({"errorResult": failure} if statement.error else {}),
        }
        jobs.results[child] = _results(child_reference, statement)
        children.append(child)
        if statement.error:
            break
    status = {"state": "DONE", **({"errorResult": failure, "errors": [failure]} if failure else {})}
    jobs.resources[parent] = {
        "kind": "bigquery#job",
        "id": f"{project}:US.{parent}",
        "jobReference": reference,
        "status": status,
        "configuration": {"jobType": "QUERY", "query": body["configuration"]["query"]},
        "statistics": {
            "creationTime": "1700000000000",
            "numChildJobs": str(len(children)),
            "totalBytesProcessed": str(10 * len(children)),
            "query": {"statementType": "SCRIPT", "totalBytesProcessed": str(10 * len(children))},
        },
    }
    # the parent job's results are its last statement's, as BigQuery gives them
    jobs.results[parent] = dict(jobs.results[children[-1]], jobReference=reference)
    jobs.children[parent] = children
    return jobs.resources[parent]


def _results(reference: dict, statement: ScriptStatement) -> dict:
    if statement.error:
        return {
            "error": {"code": 400, "message": statement.error, "errors": [_error(statement.error)]}
        }
    return {
        "kind": "bigquery#getQueryResultsResponse",
        "jobReference": reference,
        "jobComplete": True,
        "schema": {
            "fields": [
                {"name": name, "type": kind, "mode": "NULLABLE"} for name, kind in statement.columns
            ]
        },
        "totalRows": str(len(statement.rows)),
        "rows": [{"f": [{"v": value} for value in row]} for row in statement.rows],
    }


def _handler(jobs: _Jobs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            parts = urlsplit(self.path).path.strip("/").split("/")
            jobs.calls.append(("POST", urlsplit(self.path).path))
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            jobs.inserted.append(body)
            self._answer(200, _insert(jobs, parts[3], body))

        def do_GET(self):
            url = urlsplit(self.path)
            jobs.calls.append(("GET", url.path))
            parts = url.path.strip("/").split("/")  # bigquery v2 projects P (jobs|queries) [ID]
            if parts[4:] == ["jobs"]:
                parent = parse_qs(url.query).get("parentJobId", [""])[0]
                listed = [jobs.resources[c] for c in reversed(jobs.children.get(parent, []))]
                return self._answer(200, {"kind": "bigquery#jobList", "jobs": listed})
            kind, job_id = parts[4], parts[5]
            found = (jobs.resources if kind == "jobs" else jobs.results).get(job_id)
            if found is None:
                return self._answer(
                    404, {"error": {"code": 404, "message": f"Not found: {job_id}"}}
                )
            if "error" in found:
                return self._answer(found["error"]["code"], found)
            self._answer(200, found)

        def _answer(self, status: int, payload: dict):
            answer_json(self, status, payload)

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def bigquery_script_server(statements: list[ScriptStatement]):
    """(url, the jobs it keeps: `inserted` request bodies, `calls` (method, path))."""
    jobs = _Jobs(statements)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(jobs))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", jobs
    finally:
        server.shutdown()
        server.server_close()
