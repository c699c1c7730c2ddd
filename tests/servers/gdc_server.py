"""A loopback stand-in for the GDC cases API (`POST /cases`) over a list of case hits.

It implements what the mapping relies on: "and"/"or" of "in"/"=" filters on dotted fields
(project.project_id, submitter_id, ...), `fields` selection and size/from pagination with the
API's pagination block. It records every request, and can be told to fail: a queue of canned
error responses served first (e.g. a 429 with Retry-After), or every request failing.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    body: dict[str, Any]
    at: float  # time.monotonic() when the request arrived


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


def field_value(hit: dict[str, Any], name: str) -> Any:
    value: Any = hit
    for part in name.removeprefix("cases.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def matches(filters: dict[str, Any] | None, hit: dict[str, Any]) -> bool:
    if not filters:
        return True
    op, content = filters["op"], filters["content"]
    if op == "and":
        return all(matches(part, hit) for part in content)
    if op == "or":
        return any(matches(part, hit) for part in content)
    value = field_value(hit, content["field"])
    if op == "in":
        return value in content["value"]
    if op == "=":
        return value == content["value"]
    raise ValueError(f"unsupported filter op {op!r}")


def select_fields(hit: dict[str, Any], fields: str) -> dict[str, Any]:
    """The hit with only the requested (dotted) fields, plus its id, as the API answers."""
    selected: dict[str, Any] = {"id": hit["id"]}
    for name in filter(None, (f.strip() for f in fields.split(","))):
        value = field_value(hit, name)
        target = selected
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return selected


class GDCServer:
    def __init__(self, hits: list[dict[str, Any]]):
        self.hits = hits
        self.requests: list[Recorded] = []
        self.failures: deque[Failure] = deque()
        self.always_fail: int | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, document = server.answer(self.path, body)
                payload = json.dumps(document).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict]:
        with self._lock:
            self.requests.append(Recorded(body, time.monotonic()))
            failure = self.failures.popleft() if self.failures else None
        if path.rstrip("/") != "/cases":
            return 404, {}, {"message": f"no endpoint {path}"}
        if failure is None and self.always_fail is not None:
            failure = Failure(self.always_fail)
        if failure is not None:
            return failure.status, failure.headers, {"message": f"failing with {failure.status}"}
        try:
            found = [hit for hit in self.hits if matches(body.get("filters"), hit)]
        except (ValueError, KeyError, TypeError) as error:
            return 400, {}, {"message": str(error)}
        size, start = int(body.get("size", 10)), int(body.get("from", 0))
        page = found[start : start + size]
        fields = body.get("fields", "")
        return (
            200,
            {},
            {
                "data": {
                    "hits": [select_fields(hit, fields) if fields else hit for hit in page],
                    "pagination": {
                        "count": len(page),
                        "total": len(found),
                        "from": start,
                        "size": size,
                        "page": start // size + 1 if size else 1,
                        "pages": math.ceil(len(found) / size) if size else 1,
                    },
                },
                "warnings": {},
            },
        )

    def __enter__(self) -> GDCServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
