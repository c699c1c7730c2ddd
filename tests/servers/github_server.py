"""A GitHub REST API server on loopback, for the GitHub release channel: releases and their assets
kept in memory, on three hosts as github.com has them:

- the API (api.github.com): the repository, releases by tag, the release list (drafts included,
  for a token that may push), creating and updating a release, listing, reading and deleting its
  assets; an asset read with `Accept: application/octet-stream` answers with a redirect to its bytes;
- the uploads host (uploads.github.com), named in each release's `upload_url`: asset uploads, which
  a name already in the release refuses with 422 `already_exists`;
- the web host (github.com): `/<owner>/<repo>/releases/download/<tag>/<name>` of a published
  release, a 302 redirect to the bytes (`/objects/<id>`) as GitHub's redirect to its object store.

Requests to the API and uploads hosts need the token (`Authorization: token|Bearer <token>`): 401
without it. It records every request, and fails on demand: canned answers (e.g. a 403 secondary rate
limit with Retry-After, a 502) for requests that match, and uploads broken half-way, which leave an
asset in the `starter` state and answer 502, as GitHub's uploads do.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API, UPLOADS, WEB = "api", "uploads", "web"
USER = {
    "login": "releaser",
    "id": 1,
    "node_id": "U_1",
    "avatar_url": "",
    "gravatar_id": None,
    "url": "",
    "html_url": "",
    "followers_url": "",
    "following_url": "",
    "gists_url": "",
    "starred_url": "",
    "subscriptions_url": "",
    "organizations_url": "",
    "repos_url": "",
    "events_url": "",
    "received_events_url": "",
    "type": "User",
    "site_admin": False,
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Asset:
    id: int
    name: str
    content_type: str
    data: bytes
    state: str = "uploaded"  # or "starter": what a broken upload leaves
    created_at: str = field(default_factory=_now)


@dataclass
class Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    target_commitish: str = "main"
    created_at: str = field(default_factory=_now)
    published_at: str | None = None
    assets: dict[int, Asset] = field(default_factory=dict)

    def asset(self, name: str) -> Asset | None:
        return next((a for a in self.assets.values() if a.name == name), None)


@dataclass
class Canned:
    """An answer given instead of the real one to the next `times` requests that match."""

    method: str
    path: str  # regular expression the request path (without query) must match in full
    status: int
    headers: dict[str, str]
    message: str
    times: int


@dataclass
class Recorded:
    host: str  # api, uploads or web
    method: str
    path: str
    at: float  # time.monotonic()
    status: int = 0
    wall: float = field(default_factory=time.time)
    received: int = 0  # request body bytes read


class GitHubServer:
    def __init__(
        self,
        repository: str = "owner/repo",
        token: str = "secret-token",
        *,
        push: bool = True,
        digests: bool = True,
    ):
        self.repository, self.token, self.push, self.digests = repository, token, push, digests
        self.releases: dict[int, Release] = {}
        self.requests: list[Recorded] = []
        self.canned: deque[Canned] = deque()
        # asset name -> (bytes read before the 502, uploads still to break)
        self.broken_uploads: dict[str, tuple[int, int]] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._servers = {host: self._listen(host) for host in (API, UPLOADS, WEB)}
        self._threads = [
            threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
            for s in self._servers.values()
        ]

    # --- what tests use ---------------------------------------------------------------------------

    def url(self, host: str) -> str:
        return f"http://127.0.0.1:{self._servers[host].server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url(API)

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "Server Error",
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests `method path` (path a regular expression) with
        `status`, `headers` and a JSON body `{"message": message}`."""
        self.canned.append(Canned(method, path, status, headers or {}, message, times))

    def break_upload(self, name: str, after_bytes: int, times: int = 1) -> None:
        """The next `times` uploads of asset `name` read `after_bytes` of the body, leave the
        asset in the `starter` state and answer 502."""
        self.broken_uploads[name] = (after_bytes, times)

    def release(self, tag: str) -> Release | None:
        """The release with this tag, published or draft."""
        return next((r for r in self.releases.values() if r.tag_name == tag), None)

    def uploaded_bytes(self) -> int:
        """Body bytes the uploads host received so far."""
        return sum(r.received for r in self.requests if r.host == UPLOADS)

    def __enter__(self) -> GitHubServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()

    # --- HTTP -------------------------------------------------------------------------------------

    def _listen(self, host: str) -> ThreadingHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def _handle(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                record = Recorded(host, self.command, parsed.path, time.monotonic())
                with server._lock:
                    server.requests.append(record)
                status, headers, body = server._answer(self, host, parsed.path, query, record)
                record.status = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def _read_body(self, handler, record: Recorded, limit: int | None = None) -> bytes:
        length = int(handler.headers.get("Content-Length") or 0)
        size = length if limit is None else min(limit, length)
        data = handler.rfile.read(size)
        record.received += len(data)
        if len(data) < length:
            handler.close_connection = True  # the rest of the body is never read
        return data

    def _answer(self, handler, host, path, query, record) -> tuple[int, dict[str, str], bytes]:
        def document(status: int, value: Any, headers: dict[str, str] | None = None):
            return (
                status,
                {"Content-Type": "application/json", **(headers or {})},
                (json.dumps(value).encode() if value is not None else b""),
            )

        if host in (API, UPLOADS):
            given = handler.headers.get("Authorization", "")
            if given.split(" ", 1)[-1] != self.token:
                self._read_body(handler, record)
                message = "Bad credentials" if given else "Requires authentication"
                return document(401, {"message": message, "status": "401"})
        with self._lock:
            canned = next(
                (
                    c
                    for c in self.canned
                    if c.method == handler.command and re.fullmatch(c.path, path)
                ),
                None,
            )
            if canned is not None:
                canned.times -= 1
                if canned.times <= 0:
                    self.canned.remove(canned)
        if canned is not None:
            self._read_body(handler, record)
            return document(canned.status, {"message": canned.message}, canned.headers)
        owner, repo = self.repository.split("/")
        prefix = f"/repos/{owner}/{repo}"
        if host == WEB:
            return self._web(path, owner, repo)
        if not path.startswith(prefix):
            self._read_body(handler, record)
            return document(404, {"message": "Not Found"})
        rest = path.removeprefix(prefix)
        writes = handler.command in ("POST", "PATCH", "DELETE")
        if writes and not self.push:
            self._read_body(handler, record)
            return document(403, {"message": "Resource not accessible by personal access token"})
        if host == UPLOADS:
            match = re.fullmatch(r"/releases/(\d+)/assets", rest)
            if handler.command != "POST" or match is None:
                return document(404, {"message": "Not Found"})
            return self._upload(handler, record, int(match[1]), query, document)
        with self._lock:
            return self._api(handler, record, rest, query, document)

    def _api(self, handler, record, rest, query, document):
        method = handler.command
        body = json.loads(self._read_body(handler, record) or b"{}") if method != "GET" else {}
        if rest == "" and method == "GET":
            name = self.repository.split("/")[1]
            return document(
                200,
                {
                    "id": 1,
                    "name": name,
                    "full_name": self.repository,
                    "private": False,
                    "permissions": {"admin": False, "push": self.push, "pull": True},
                },
            )
        if rest == "/releases" and method == "GET":
            visible = [r for r in self.releases.values() if self.push or not r.draft]
            newest_first = sorted(visible, key=lambda r: -r.id)
            return self._page(newest_first, query, self._release, document)
        if rest == "/releases" and method == "POST":
            tag = body.get("tag_name", "")
            if any(r.tag_name == tag and not r.draft for r in self.releases.values()):
                return document(
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {"resource": "Release", "code": "already_exists", "field": "tag_name"}
                        ],
                    },
                )
            release = Release(
                next(self._ids),
                tag,
                body.get("name"),
                body.get("body"),
                bool(body.get("draft", False)),
                body.get("target_commitish") or "main",
            )
            if not release.draft:
                release.published_at = _now()
            self.releases[release.id] = release
            return document(201, self._release(release))
        if match := re.fullmatch(r"/releases/tags/(.+)", rest):
            tag = urllib.parse.unquote(match[1])
            found = [r for r in self.releases.values() if r.tag_name == tag and not r.draft]
            if not found or method != "GET":
                return document(404, {"message": "Not Found"})
            return document(200, self._release(found[0]))
        if match := re.fullmatch(r"/releases/(\d+)(/assets)?", rest):
            release = self.releases.get(int(match[1]))
            if release is None:
                return document(404, {"message": "Not Found"})
            if match[2] and method == "GET":
                assets = list(release.assets.values())
                return self._page(assets, query, lambda a: self._asset(release, a), document)
            if not match[2] and method == "GET":
                return document(200, self._release(release))
            if not match[2] and method == "PATCH":
                for key in ("name", "body", "tag_name", "target_commitish"):
                    if key in body:
                        setattr(release, key, body[key])
                if body.get("draft") is False and release.draft:
                    release.draft, release.published_at = False, _now()
                return document(200, self._release(release))
        if match := re.fullmatch(r"/releases/assets/(\d+)", rest):
            for release in self.releases.values():
                asset = release.assets.get(int(match[1]))
                if asset is None:
                    continue
                if method == "DELETE":
                    del release.assets[asset.id]
                    return 204, {}, b""
                if method == "GET":
                    if handler.headers.get("Accept") == "application/octet-stream":
                        return 302, {"Location": f"{self.url(WEB)}/objects/{asset.id}"}, b""
                    return document(200, self._asset(release, asset))
            return document(404, {"message": "Not Found"})
        return document(404, {"message": "Not Found"})

    def _upload(self, handler, record, release_id: int, query, document):
        name = query.get("name", "")
        with self._lock:
            release = self.releases.get(release_id)
            if release is None:
                self._read_body(handler, record)
                return document(404, {"message": "Not Found"})
            if release.asset(name) is not None:
                self._read_body(handler, record)
                return document(
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}
                        ],
                    },
                )
            asset = Asset(next(self._ids), name, handler.headers.get("Content-Type", ""), b"")
            asset.state = "starter"  # until the whole body is in
            release.assets[asset.id] = asset
            broken_after, times = self.broken_uploads.pop(name, (None, 0))
            if times > 1:
                self.broken_uploads[name] = (broken_after, times - 1)
        asset.data = self._read_body(handler, record, broken_after)
        if broken_after is not None:
            return document(502, {"message": "Bad Gateway"})
        with self._lock:
            asset.state = "uploaded"
            return document(201, self._asset(release, asset))

    def _web(self, path, owner, repo):
        with self._lock:
            if match := re.fullmatch(rf"/{owner}/{repo}/releases/download/([^/]+)/([^/]+)", path):
                release = next(
                    (r for r in self.releases.values() if r.tag_name == match[1] and not r.draft),
                    None,
                )
                asset = release.asset(match[2]) if release else None
                if asset is None or asset.state != "uploaded":
                    return 404, {"Content-Type": "text/plain"}, b"Not Found"
                return 302, {"Location": f"{self.url(WEB)}/objects/{asset.id}"}, b""
            if match := re.fullmatch(r"/objects/(\d+)", path):
                for release in self.releases.values():
                    if (asset := release.assets.get(int(match[1]))) is not None:
                        return 200, {"Content-Type": "application/octet-stream"}, asset.data
            return 404, {"Content-Type": "text/plain"}, b"Not Found"

    def _page(self, items: list, query, render, document):
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chosen = items[(page - 1) * per_page : page * per_page]
        return document(200, [render(item) for item in chosen])

    def _release(self, release: Release) -> dict[str, Any]:
        owner, repo = self.repository.split("/")
        api = f"{self.api_url}/repos/{owner}/{repo}/releases/{release.id}"
        shown = f"untagged-{release.id:x}" if release.draft else release.tag_name
        return {
            "url": api,
            "assets_url": f"{api}/assets",
            "upload_url": (
                f"{self.url(UPLOADS)}/repos/{owner}/{repo}/releases/{release.id}/assets"
                "{?name,label}"
            ),
            "html_url": f"{self.url(WEB)}/{owner}/{repo}/releases/tag/{shown}",
            "tarball_url": None,
            "zipball_url": None,
            "id": release.id,
            "node_id": f"RE_{release.id}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": False,
            "immutable": False,
            "created_at": release.created_at,
            "published_at": release.published_at,
            "author": USER,
            "assets": [self._asset(release, a) for a in release.assets.values()],
        }

    def _asset(self, release: Release, asset: Asset) -> dict[str, Any]:
        owner, repo = self.repository.split("/")
        uploaded = asset.state == "uploaded"
        digest = f"sha256:{hashlib.sha256(asset.data).hexdigest()}"
        return {
            "url": f"{self.api_url}/repos/{owner}/{repo}/releases/assets/{asset.id}",
            "browser_download_url": (
                f"{self.url(WEB)}/{owner}/{repo}/releases/download/{release.tag_name}/{asset.name}"
            ),
            "id": asset.id,
            "node_id": f"RA_{asset.id}",
            "name": asset.name,
            "label": "",
            "state": asset.state,
            "content_type": asset.content_type,
            "size": len(asset.data) if uploaded else 0,
            "digest": digest if uploaded and self.digests else None,
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.created_at,
            "uploader": USER,
        }
