"""The GitHub release channel: a release's files as the assets of the GitHub release tagged with the
release version. This is where the `idc-index` client downloads each index its wheel does not
bundle: `https://github.com/<owner>/<repo>/releases/download/<idc_index_data version>/<index>.parquet`.

The same rules as the bucket's versioned path:
- the release is created as a draft and published only once every asset is uploaded and verified
  (size and state, and the `sha256:<hex>` digest GitHub reports; an asset without a digest is
  downloaded and hashed), so nobody sees a half-filled release;
- a re-run uploads nothing when every asset holds the same bytes; an asset with other bytes under
  a published release is refused, naming it (bump the version), never replaced;
- what an interrupted attempt left is completed: in a draft, an asset a broken upload left (GitHub
  leaves it in the state `starter`), one with other bytes and one that is not in the release are
  deleted, and what is missing is uploaded.

Requests go through githubkit, one at a time (as GitHub asks of clients, against its secondary rate
limits). Rate limits (403/429 with Retry-After, or with x-ratelimit-remaining 0 and
x-ratelimit-reset) wait as long as GitHub asks; 5xx answers and dropped connections are retried
with exponential backoff; all waits of one publish share a time budget. 401, 403 and 404 fail at
once, naming the repository and what is missing. Uploads stream from the file to the release's
`upload_url` (GitHub's uploads host, or GitHub Enterprise's `/api/uploads`).

`GitHubReleases` is the Dagster resource that configures the channel; `publish_github_release` is
the channel itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from dagster import ConfigurableResource
from githubkit import GitHub
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed
from githubkit.retry import RetryOption
from pydantic import Field

from idc_index_assets.releases.notes import NOTES_MARKDOWN
from idc_index_assets.releases.publish import (
    MANIFEST,
    Digests,
    ReleaseRefused,
    Step,
    _chunks,
    content_type,
    digests_of,
    lists_same_files,
    release_manifest,
)

CHANNEL = "github"
API_URL = "https://api.github.com"
RETRY_BUDGET_S = 900.0
MAX_BACKOFF_S = 60.0
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+")
_IDEMPOTENT = {"GET", "HEAD", "PATCH", "PUT", "DELETE"}
_PAGE = 100
_log = logging.getLogger(__name__)


class GitHubError(RuntimeError):
    """GitHub refused a request (401, 403, 404, ...), or it still failed (5xx, rate limits, lost
    connections: `transient`) when the retry budget was spent."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class RemoteAsset:
    """A release asset as the API reports it. Read from the JSON rather than githubkit's model:
    GitHub reports `starter` for an asset a broken upload left, a state its OpenAPI description
    (and so the model) lacks."""

    id: int
    name: str
    state: str  # uploaded; open or starter while an upload is under way or after it broke
    size: int
    digest: str | None  # sha256:<hex>, where GitHub reports one
    url: str  # the asset's API URL

    @classmethod
    def of(cls, document: dict[str, Any]) -> RemoteAsset:
        return cls(
            int(document["id"]),
            document["name"],
            document.get("state", ""),
            int(document.get("size") or 0),
            document.get("digest"),
            document["url"],
        )


@dataclass
class GitHubReport:
    repository: str
    tag: str
    url: str = ""  # the release's page
    created_draft: bool = False
    published: bool = False  # this run published the draft
    uploaded: dict[str, int] = field(default_factory=dict)  # asset name -> bytes
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # broken, other or stale assets of a draft

    @property
    def bytes_uploaded(self) -> int:
        return sum(self.uploaded.values())


class _Budget:
    """How long the retries of one publish may still wait, in all. Also githubkit's retry decision
    function: rate limits wait as long as GitHub asks, any request; 5xx answers and failed
    connections back off exponentially, for requests that are safe to repeat (a repeated POST
    could create a second release; uploads recover on their own, see `upload`)."""

    def __init__(self, seconds: float, backoff: float, stop: Callable[[], bool] = lambda: False):
        self.deadline = time.monotonic() + seconds
        self.backoff = backoff
        self.stop, self.stopped = stop, False

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`, looking every 0.2 s whether the run is being stopped (SIGTERM); whether
        to go on."""
        end = time.monotonic() + seconds
        while not self.stopped and (left := end - time.monotonic()) > 0:
            self.stopped = self.stop()
            if not self.stopped:
                time.sleep(min(left, 0.2))
        self.stopped = self.stopped or self.stop()
        return not self.stopped

    def delay(self, attempt: int, asked: float | None = None) -> float | None:
        """The wait before retry `attempt` (0 first), or None if the budget does not allow it."""
        wait = asked if asked is not None else min(self.backoff * 2**attempt, MAX_BACKOFF_S)
        return wait if time.monotonic() + wait <= self.deadline else None

    def __call__(self, error: GitHubException, attempt: int) -> RetryOption:
        if isinstance(error, RateLimitExceeded):
            wait = self.delay(attempt, error.retry_after.total_seconds())
        elif _transient(error) and getattr(_request(error), "method", None) in _IDEMPOTENT:
            wait = self.delay(attempt)
        else:
            wait = None
        if wait is None:
            return RetryOption(False)
        _log.warning(f"{_describe(error)}; retrying in {wait:.1f} s")
        if not self.pause(wait):
            return RetryOption(False)
        # waited above; 1 ms, not 0: githubkit waits a minute for a zero wait
        return RetryOption(True, timedelta(seconds=0.001))


def _request(error: GitHubException) -> httpx.Request | None:
    """The request an error is about: an answer's and a timeout's carry it, and so does the
    transport error of a connection that failed (refused, reset)."""
    try:
        return getattr(error, "request", None) or error.exc.request
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when it has none
        return None


def _transient(error: GitHubException) -> bool:
    if isinstance(error, RequestFailed):
        return error.response.status_code >= 500
    return isinstance(error, RequestError)


def _describe(error: GitHubException) -> str:
    if isinstance(error, RequestFailed):
        request, response = error.request, error.response
        try:
            message = response.json().get("message", "")
        except Exception:
            message = response.raw_response.text[:200]
        return f"{request.method} {request.url} answered {response.status_code} {message}".strip()
    if isinstance(error, RequestError):
        request = _request(error)
        where = f"{request.method} {request.url}" if request is not None else "a request"
        return f"{where} failed: {error.exc!r}"
    return repr(error)


class _FileBody:
    """A file's bytes, read in chunks each time a request sends them (never whole in memory); a
    repeated request reads them again from the start."""

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        return iter(_chunks(self.path))


class GitHubRepository:
    """The releases of one repository, through githubkit, with the retries the module describes.
    `retry_budget` (seconds) bounds the waits of all retries; `backoff` is the first 5xx wait."""

    def __init__(
        self,
        repository: str,
        token: str,
        api_url: str = API_URL,
        *,
        retry_budget: float = RETRY_BUDGET_S,
        backoff: float = 1.0,
        timeout: float = 60.0,
        stop: Callable[[], bool] = lambda: False,
    ):
        self.repository = repository
        self.owner, self.name = repository.split("/")
        self.api_url = api_url
        # `stop`: whether the run is being stopped (SIGTERM), asked while waiting to retry
        self.budget = _Budget(retry_budget, backoff, stop)
        # No HTTP cache: every answer must be GitHub's current state.
        self.github = GitHub(
            token,
            base_url=api_url,
            auto_retry=self.budget,
            http_cache=False,
            timeout=timeout,
            user_agent="idc-index-assets",
        )
        self._hashes: dict[int, str] = {}  # asset id -> sha256 hex of its downloaded bytes

    @contextlib.contextmanager
    def connected(self) -> Iterator[GitHubRepository]:
        """One HTTP client (its connections kept alive) for the requests made inside."""
        with self.github:
            yield self

    def refusal(self, error: GitHubException, doing: str) -> GitHubError:
        """The error to report for a failed request, with what to fix for 401/403/404."""
        what = f"{doing} on GitHub repository {self.repository} ({self.api_url})"
        if self.budget.stopped:
            return GitHubError(f"{what}: {_describe(error)}; not retried: the run is stopping")
        if isinstance(error, RequestFailed):
            hint = {
                401: "the token was refused: set GITHUB_TOKEN to a valid token",
                403: "the token may not do this: it needs the contents: write permission",
                404: (
                    "not found: check IDC_GITHUB_REPOSITORY and that the token can see the "
                    "repository"
                ),
            }.get(error.response.status_code)
            if isinstance(error, RateLimitExceeded):
                hint = "rate limited for longer than the retry budget allows; run again later"
            return GitHubError(
                f"{what}: {_describe(error)}" + (f"; {hint}" if hint else ""),
                transient=_transient(error) or isinstance(error, RateLimitExceeded),
            )
        return GitHubError(f"{what}: {_describe(error)}", transient=_transient(error))

    def _call(self, doing: str, request: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        """The JSON of `request()`'s answer (None for 404 if `missing_ok`); errors explained."""
        try:
            response = request()
        except RequestFailed as error:
            if missing_ok and error.response.status_code == 404:
                return None
            raise self.refusal(error, doing) from error
        except GitHubException as error:
            raise self.refusal(error, doing) from error
        return response.json() if response.raw_response.content else None

    def check_access(self) -> None:
        """Fail at once if the repository cannot be seen or written with the token."""
        document = self._call(
            "reading the repository", lambda: self.github.rest.repos.get(self.owner, self.name)
        )
        permissions = document.get("permissions") or {}
        if permissions and not permissions.get("push"):
            raise GitHubError(
                f"GitHub repository {self.repository}: the token's account may not push to it; "
                "publishing releases needs the contents: write permission"
            )

    def find_release(self, tag: str) -> dict[str, Any] | None:
        """The published release of `tag`, else a draft with that tag (drafts have no tag yet,
        so only the release list finds them), else None."""
        published = self._call(
            f"reading release {tag}",
            lambda: self.github.rest.repos.get_release_by_tag(self.owner, self.name, tag),
            missing_ok=True,
        )
        if published is not None:
            return published
        releases = self._pages(
            "listing releases",
            lambda page: self.github.rest.repos.list_releases(
                self.owner, self.name, per_page=_PAGE, page=page
            ),
        )
        return next((r for r in releases if r["tag_name"] == tag and r["draft"]), None)

    def _pages(self, doing: str, fetch: Callable[[int], Any]) -> Iterator[dict[str, Any]]:
        """The items of a paginated list, page after page, as long as they are asked for."""
        for page in itertools.count(1):
            documents = self._call(doing, lambda page=page: fetch(page))
            yield from documents
            if len(documents) < _PAGE:
                return

    def create_draft(self, tag: str, name: str, body: str) -> dict[str, Any]:
        """A new draft release for `tag`. Not repeated on a 5xx answer, which may hide a draft that
        was created: the draft is looked for again first."""
        for attempt in itertools.count():
            try:
                return self.github.rest.repos.create_release(
                    self.owner, self.name, tag_name=tag, name=name, body=body, draft=True
                ).json()
            except GitHubException as error:
                if not _transient(error):
                    raise self.refusal(error, f"creating draft release {tag}") from error
                wait = self.budget.delay(attempt)
                if wait is None:
                    raise self.refusal(error, f"creating draft release {tag}") from error
                _log.warning(f"{_describe(error)}; retrying in {wait:.1f} s")
                if not self.budget.pause(wait):
                    raise self.refusal(error, f"creating draft release {tag}") from error
                found = self.find_release(tag)
                if found is not None:
                    return found
        raise AssertionError("itertools.count() ended")

    def update_release(self, release: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return self._call(
            f"updating release {release['tag_name']}",
            lambda: self.github.rest.repos.update_release(
                self.owner, self.name, release["id"], **changes
            ),
        )

    def assets(self, release: dict[str, Any]) -> dict[str, RemoteAsset]:
        """The release's assets by name (asset names are unique within a release)."""
        documents = self._pages(
            f"listing the assets of release {release['tag_name']}",
            lambda page: self.github.rest.repos.list_release_assets(
                self.owner, self.name, release["id"], per_page=_PAGE, page=page
            ),
        )
        return {d["name"]: RemoteAsset.of(d) for d in documents}

    def delete(self, asset: RemoteAsset) -> None:
        self._call(
            f"deleting asset {asset.name}",
            lambda: self.github.rest.repos.delete_release_asset(self.owner, self.name, asset.id),
            missing_ok=True,  # gone already, e.g. a repeated delete whose first went through
        )

    def download(self, asset: RemoteAsset, sink: Callable[[bytes], Any]) -> None:
        """Stream the asset's bytes into `sink` (the API redirects to where they are kept)."""
        try:
            response = self.github.request(
                "GET", asset.url, headers={"Accept": "application/octet-stream"}, stream=True
            )
            try:
                for chunk in response.raw_response.iter_bytes():
                    sink(chunk)
            finally:
                response.raw_response.close()
        except GitHubException as error:
            raise self.refusal(error, f"downloading asset {asset.name}") from error

    def read(self, asset: RemoteAsset) -> bytes:
        parts: list[bytes] = []
        self.download(asset, parts.append)
        return b"".join(parts)

    def holds(self, asset: RemoteAsset, digests: Digests) -> bool:
        """Whether the asset is complete and has these bytes: by its digest where GitHub reports
        one, else by hashing its download."""
        if asset.state != "uploaded" or asset.size != digests.size:
            return False
        if asset.digest is not None:
            return asset.digest == f"sha256:{digests.sha256}"
        if asset.id not in self._hashes:
            sha256 = hashlib.sha256()
            self.download(asset, sha256.update)
            self._hashes[asset.id] = sha256.hexdigest()
        return self._hashes[asset.id] == digests.sha256

    def upload(
        self, release: dict[str, Any], name: str, source: Path | bytes, digests: Digests
    ) -> RemoteAsset:
        """Upload `source` as asset `name` to the release's `upload_url` and verify it.

        An upload is not simply repeated: a failed one (5xx, dropped connection) may have gone
        through, or left a `starter` asset that blocks the name (422). So after a failure the
        asset is looked up: one that holds the bytes is kept, any other deleted, and the upload
        tried again after a backoff, within the retry budget."""
        url = release["upload_url"].split("{", 1)[0]
        body = source if isinstance(source, bytes) else _FileBody(source)
        headers = {"Content-Type": content_type(name), "Content-Length": str(digests.size)}
        for attempt in itertools.count():
            try:
                response = self.github.request(
                    "POST", url, params={"name": name}, content=body, headers=headers
                )
            except GitHubException as error:
                conflict = isinstance(error, RequestFailed) and error.response.status_code == 422
                if not (_transient(error) or conflict):
                    raise self.refusal(error, f"uploading {name}") from error
                try:
                    asset = self.assets(release).get(name)
                    if asset is not None and self.holds(asset, digests):
                        return asset
                    if conflict and asset is None:  # refused for another reason than the name
                        raise self.refusal(error, f"uploading {name}") from error
                    wait = 0.0 if conflict and attempt == 0 else self.budget.delay(attempt)
                    if wait is None:
                        raise self.refusal(error, f"uploading {name}") from error
                    if asset is not None:
                        self.delete(asset)
                except GitHubError as failed:
                    if name in str(failed):
                        raise
                    raise GitHubError(
                        f"uploading {name}: {failed}", transient=failed.transient
                    ) from failed
                _log.warning(f"{_describe(error)}; uploading {name} again in {wait:.1f} s")
                if not self.budget.pause(wait):
                    raise self.refusal(error, f"uploading {name}") from error
                continue
            asset = RemoteAsset.of(response.json())
            if not self.holds(asset, digests):
                raise GitHubError(
                    f"GitHub repository {self.repository}: asset {name} holds {asset.size} bytes "
                    f"({asset.digest}) after its upload, not {digests.size} bytes "
                    f"(sha256:{digests.sha256}): was the file changed during the publish?"
                )
            return asset
        raise AssertionError("itertools.count() ended")


def release_body(
    directory: Path, files: dict[str, Digests], release_version: str, idc_version: int
) -> str:
    """The release's description: the release notes when the files include them, else a line
    saying what the release is."""
    if NOTES_MARKDOWN in files:
        return (directory / NOTES_MARKDOWN).read_text()
    return (
        f"idc-index-data {release_version}: the index files of NCI Imaging Data Commons "
        f"version {idc_version}. `{MANIFEST}` lists every file with its size and sha256."
    )


def publish_github_release(
    directory: Path,
    files: dict[str, Digests],
    repository: GitHubRepository,
    release_version: str,
    idc_version: int,
    *,
    created: str,
    body: str | None = None,
    progress: Callable[[Step], None] | None = None,
    log: Callable[[str], None] = _log.info,
) -> GitHubReport:
    """Publish `files` (what `validate_release` returned for `directory`) and their manifest as the
    assets of the GitHub release tagged `release_version`.

    `created` is the manifest's creation time, unless the release has a manifest of the same
    files already (its bytes are kept). `body` is the release's description (default: see
    `release_body`). Raises ReleaseRefused, before any change, when the published release holds
    other content; GitHubError when GitHub refuses or keeps failing."""
    with repository.connected():
        return _publish(
            directory, files, repository, release_version, idc_version, created, body, progress, log
        )


def _publish(
    directory, files, repository, release_version, idc_version, created, body, progress, log
) -> GitHubReport:
    tag = release_version
    report = GitHubReport(repository.repository, tag)
    body = release_body(directory, files, release_version, idc_version) if body is None else body
    repository.check_access()
    release = repository.find_release(tag)
    if release is None:
        release = repository.create_draft(tag, f"idc-index-data {tag}", body)
        report.created_draft = True
        log(f"{repository.repository}: draft release {tag} created")
    published = not release["draft"]
    assets = repository.assets(release)

    manifest = release_manifest(release_version, idc_version, created, files)
    earlier = assets.get(MANIFEST)
    if earlier is not None and earlier.state == "uploaded":
        # A complete earlier attempt with the same files: keep its manifest (its creation time).
        earlier_bytes = repository.read(earlier)
        if lists_same_files(earlier_bytes, files):
            manifest = earlier_bytes
    digests = {**files, MANIFEST: digests_of(manifest)}

    others = [asset for name, asset in sorted(assets.items()) if name not in digests]
    problems = [f"{tag}/{asset.name}: not in this release" for asset in others if published]
    uploads = []
    for name in [*sorted(files), MANIFEST]:  # the manifest last: the release is complete
        asset = assets.get(name)
        if asset is not None and repository.holds(asset, digests[name]):
            report.unchanged.append(name)
            if progress:
                progress(Step("unchanged", name, digests[name].size))
        elif asset is not None and published and asset.state == "uploaded":
            problems.append(f"{tag}/{name}: already published with other content")
        else:
            uploads.append(name)
    if problems:
        raise ReleaseRefused(
            f"GitHub release {tag} of {repository.repository} is published with other content; "
            "nothing was replaced: bump the release version",
            sorted(problems),
        )

    for asset in [*others, *(assets[n] for n in uploads if n in assets)]:
        repository.delete(asset)  # broken (`starter`), other bytes, or not in this release
        report.deleted.append(asset.name)
    for name in uploads:
        source = manifest if name == MANIFEST else directory / name
        repository.upload(release, name, source, digests[name])
        report.uploaded[name] = digests[name].size
        if progress:
            progress(Step("uploaded", name, digests[name].size))

    final = repository.assets(release)
    missing = sorted(set(digests) - set(final))
    wrong = [
        n for n in sorted(digests) if n in final and not repository.holds(final[n], digests[n])
    ]
    if missing or wrong or set(final) - set(digests):
        raise GitHubError(
            f"GitHub release {tag} of {repository.repository} is not complete after the upload: "
            + "; ".join(
                [f"{n}: missing" for n in missing]
                + [f"{n}: other bytes" for n in wrong]
                + [f"{n}: not in this release" for n in sorted(set(final) - set(digests))]
            )
        )
    changes: dict[str, Any] = {}
    if (release.get("body") or "") != body:
        changes["body"] = body
    if not published:
        changes["draft"] = False
    if changes:
        release = repository.update_release(release, **changes)
    report.published = not published
    report.url = release["html_url"]
    log(
        f"{repository.repository}: release {tag} {'published' if not published else 'verified'}, "
        f"{len(report.uploaded)} assets uploaded ({report.bytes_uploaded} bytes), "
        f"{len(report.unchanged)} unchanged: {report.url}"
    )
    return report


class GitHubReleases(ConfigurableResource):
    """The GitHub release channel's configuration: off while `repository` is empty. The token is
    read from GITHUB_TOKEN through an EnvVar, so Dagster shows the variable's name, never its
    value."""

    repository: str = Field(
        default="", description="owner/repo whose releases receive the files (empty: channel off)"
    )
    api_url: str = Field(
        default=API_URL, description="GitHub REST API (GitHub Enterprise: https://HOST/api/v3)"
    )
    token: str = Field(
        default="", repr=False, description="Token with the contents: write permission"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.repository.strip())

    def problems(self) -> list[str]:
        """What is wrong with the configuration of an enabled channel, before any work."""
        if not self.enabled:
            return []
        problems = []
        if not _REPOSITORY.fullmatch(self.repository.strip()):
            problems.append(
                f"IDC_GITHUB_REPOSITORY must be owner/repo, got {self.repository.strip()!r}"
            )
        if not self.api_url.startswith(("https://", "http://")):
            problems.append(f"IDC_GITHUB_API_URL must be an http(s) URL, got {self.api_url!r}")
        if not self.token:
            problems.append(
                f"GITHUB_TOKEN is not set: the GitHub release channel ({self.repository}) needs a "
                "token with the contents: write permission"
            )
        return problems

    def open(self, **options: Any) -> GitHubRepository:
        return GitHubRepository(self.repository.strip(), self.token, self.api_url, **options)
