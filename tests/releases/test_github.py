"""The GitHub release channel through the real githubkit client against a GitHub REST API server on
loopback (tests/servers/github_server.py): the first publish, idempotent re-runs, refusals, what an
interrupted run left, broken uploads, rate limits and refused tokens."""

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from idc_index_assets.releases.github import (
    GitHubError,
    GitHubReleases,
    GitHubRepository,
    publish_github_release,
)
from idc_index_assets.releases.notes import NOTES_MARKDOWN
from idc_index_assets.releases.publish import MANIFEST, ReleaseRefused, validate_release
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.gcs_proxy import gcs_proxy
from tests.servers.github_server import API, UPLOADS, Asset, GitHubServer

ROOT = Path(__file__).resolve().parents[2]

N = SAMPLE_VERSIONS
RELEASE = f"{N}.0.0"
REPOSITORY = "owner/repo"
TOKEN = "secret-token"
CREATED = "2026-01-02T03:04:05+00:00"


@pytest.fixture
def server():
    with GitHubServer(REPOSITORY, TOKEN) as server:
        yield server


def repository(server, *, token=TOKEN, name=REPOSITORY, budget=20.0) -> GitHubRepository:
    return GitHubRepository(name, token, server.api_url, retry_budget=budget, backoff=0.05)


def publish(directory: Path, client: GitHubRepository, created: str = CREATED, **options):
    files = validate_release(directory, RELEASE, N)
    return publish_github_release(directory, files, client, RELEASE, N, created=created, **options)


def download(server, name: str) -> bytes:
    """An asset as a browser gets it: the release download URL, through GitHub's redirect."""
    url = f"{server.url('web')}/{REPOSITORY}/releases/download/{RELEASE}/{name}"
    with urllib.request.urlopen(url) as response:
        return response.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_first_publish_creates_a_draft_fills_it_and_then_publishes_it(server, artifacts_copy):
    report = publish(artifacts_copy, repository(server))

    names = sorted(p.name for p in artifacts_copy.iterdir())
    release = server.release(RELEASE)
    assert not release.draft
    assert sorted(a.name for a in release.assets.values()) == sorted([*names, MANIFEST])
    assert report.created_draft and report.published
    assert report.url == f"{server.url('web')}/{REPOSITORY}/releases/tag/{RELEASE}"
    assert sorted(report.uploaded) == sorted([*names, MANIFEST]) and not report.unchanged
    for name in names:
        assert sha256(download(server, name)) == sha256((artifacts_copy / name).read_bytes())
    manifest = json.loads(download(server, MANIFEST))
    assert (manifest["version"], manifest["idc_version"], manifest["created"]) == (
        RELEASE,
        N,
        CREATED,
    )
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: sha256((artifacts_copy / name).read_bytes()) for name in names
    }
    # Uploads go to the uploads host named in upload_url, and the draft is published after all.
    uploads = [r for r in server.requests if r.method == "POST" and "/assets" in r.path]
    assert uploads and {r.host for r in uploads} == {UPLOADS}
    publishing = [r for r in server.requests if r.method == "PATCH"]
    assert len(publishing) == 1 and publishing[0].at > max(r.at for r in uploads)
    assert release.body.startswith(f"idc-index-data {RELEASE}")


def test_nothing_is_downloadable_before_the_release_is_published(server, artifacts_copy):
    server.fail("POST", r".*/assets", 403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError, match="contents: write"):
        publish(artifacts_copy, repository(server))
    assert server.release(RELEASE).draft
    with pytest.raises(urllib.error.HTTPError) as missing:
        download(server, "idc_index.parquet")
    assert missing.value.code == 404


def test_a_rerun_uploads_nothing_and_keeps_the_manifest(server, artifacts_copy):
    publish(artifacts_copy, repository(server))
    before, manifest = server.uploaded_bytes(), download(server, MANIFEST)

    report = publish(artifacts_copy, repository(server), created="2030-01-01T00:00:00+00:00")

    assert server.uploaded_bytes() == before and report.bytes_uploaded == 0
    assert not report.uploaded and not report.deleted and not report.published
    assert len(report.unchanged) == len(list(artifacts_copy.iterdir())) + 1
    assert download(server, MANIFEST) == manifest
    assert report.url.endswith(f"/releases/tag/{RELEASE}")


def test_without_digests_a_rerun_verifies_the_bytes_by_downloading_them(artifacts_copy):
    with GitHubServer(REPOSITORY, TOKEN, digests=False) as server:
        publish(artifacts_copy, repository(server))
        before = server.uploaded_bytes()
        report = publish(artifacts_copy, repository(server))
        assert server.uploaded_bytes() == before and not report.uploaded
        redirected = [r for r in server.requests if r.path.startswith("/objects/")]
        assert len(redirected) >= len(report.unchanged)


def test_other_content_under_a_published_release_is_refused_naming_it(server, artifacts_copy):
    # The notes: an index file changed after its build is refused earlier, by its integrity.
    notes = artifacts_copy / "release_notes.md"
    notes.write_text("# Release notes\n")
    publish(artifacts_copy, repository(server))
    original = notes.read_bytes()
    notes.write_text("# Release notes\n\nchanged\n")
    requests = len(server.requests)

    with pytest.raises(ReleaseRefused, match="bump the release version") as refused:
        publish(artifacts_copy, repository(server))

    assert refused.value.problems == [
        f"{RELEASE}/{MANIFEST}: already published with other content",
        f"{RELEASE}/release_notes.md: already published with other content",
    ]
    changes = [r for r in server.requests[requests:] if r.method in ("POST", "PATCH", "DELETE")]
    assert changes == []
    assert download(server, "release_notes.md") == original


def test_a_published_file_missing_from_the_directory_is_refused(server, artifacts_copy):
    extra = artifacts_copy / "release_notes.json"  # a file a release may have
    extra.write_text("{}\n")
    publish(artifacts_copy, repository(server))
    extra.unlink()
    with pytest.raises(ReleaseRefused) as refused:
        publish(artifacts_copy, repository(server))
    # The manifest, listing one file less, differs too.
    assert refused.value.problems == [
        f"{RELEASE}/{MANIFEST}: already published with other content",
        f"{RELEASE}/release_notes.json: not in this release",
    ]


def test_a_draft_left_by_a_failed_run_is_completed(server, artifacts_copy):
    names = sorted(p.name for p in artifacts_copy.iterdir())
    broken = names[3]
    # The first run: every upload of one file breaks half-way, until its retry budget is spent.
    server.break_upload(broken, after_bytes=10, times=1000)
    with pytest.raises(GitHubError, match=f"uploading {broken}"):
        publish(artifacts_copy, repository(server, budget=0.5))
    draft = server.release(RELEASE)
    assert draft.draft
    states = {a.name: a.state for a in draft.assets.values()}
    assert states == {**{name: "uploaded" for name in names[:3]}, broken: "starter"}
    # and an asset of some other attempt that is not part of this release
    draft.assets[99] = Asset(99, "stray.bin", "application/octet-stream", b"stray")
    server.broken_uploads.clear()

    report = publish(artifacts_copy, repository(server))

    release = server.release(RELEASE)
    assert not release.draft and release.id == draft.id and not report.created_draft
    assert sorted(report.unchanged) == names[:3]
    assert sorted(report.uploaded) == sorted([*names[3:], MANIFEST])
    assert sorted(report.deleted) == sorted([broken, "stray.bin"])
    assert {a.state for a in release.assets.values()} == {"uploaded"}
    assert sha256(download(server, broken)) == sha256((artifacts_copy / broken).read_bytes())


def test_a_502_in_the_middle_of_an_upload_is_recovered(server, artifacts_copy):
    name = "idc_index.parquet"
    size = (artifacts_copy / name).stat().st_size
    server.break_upload(name, after_bytes=size // 2)

    report = publish(artifacts_copy, repository(server))

    uploads = [r for r in server.requests if r.host == UPLOADS]
    assert len(uploads) == len(list(artifacts_copy.iterdir())) + 2  # one upload twice
    deletes = [r for r in server.requests if r.method == "DELETE"]
    assert len(deletes) == 1  # the `starter` asset the broken upload left
    assert report.uploaded[name] == size
    assert sha256(download(server, name)) == sha256((artifacts_copy / name).read_bytes())


def test_5xx_answers_are_retried(server, artifacts_copy):
    server.fail("GET", rf"/repos/{REPOSITORY}/releases/tags/.*", 503, times=2)
    server.fail("POST", rf"/repos/{REPOSITORY}/releases", 500)  # may have created a draft
    server.fail("PATCH", rf"/repos/{REPOSITORY}/releases/\d+", 502)
    publish(artifacts_copy, repository(server))
    assert not server.release(RELEASE).draft
    assert len(server.releases) == 1


def test_a_secondary_rate_limit_waits_as_long_as_github_asks(server, artifacts_copy):
    secondary = "You have exceeded a secondary rate limit. Please wait a few minutes."
    server.fail(
        "POST",
        rf"/repos/{REPOSITORY}/releases",
        403,
        headers={"Retry-After": "1"},
        message=secondary,
    )
    reset = str(int(time.time()) + 3)
    server.fail(
        "POST",
        r".*/assets",
        429,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        message=secondary,
    )

    publish(artifacts_copy, repository(server))

    creates = [r for r in server.requests if r.method == "POST" and r.host == API]
    assert [r.status for r in creates] == [403, 201]
    assert creates[1].at - creates[0].at >= 1.0
    uploads = [r for r in server.requests if r.host == UPLOADS]
    assert uploads[0].status == 429 and uploads[1].status == 201
    assert uploads[1].wall >= int(reset)  # the upload waited for the reset
    assert not server.release(RELEASE).draft


def test_a_rate_limit_longer_than_the_budget_fails_naming_it(server, artifacts_copy):
    server.fail(
        "GET",
        rf"/repos/{REPOSITORY}",
        403,
        headers={"Retry-After": "3600"},
        message="You have exceeded a secondary rate limit.",
    )
    started = time.monotonic()
    with pytest.raises(GitHubError, match="rate limited for longer than the retry budget"):
        publish(artifacts_copy, repository(server))
    assert time.monotonic() - started < 5


def test_a_wrong_token_fails_at_once_naming_the_repository(server, artifacts_copy):
    with pytest.raises(GitHubError) as error:
        publish(artifacts_copy, repository(server, token="wrong"))
    message = str(error.value)
    assert REPOSITORY in message and "401" in message and "GITHUB_TOKEN" in message
    assert "wrong" not in message
    assert len(server.requests) == 1


def test_an_unknown_repository_fails_at_once(server, artifacts_copy):
    with pytest.raises(GitHubError, match="not found: check IDC_GITHUB_REPOSITORY") as error:
        publish(artifacts_copy, repository(server, name="owner/other"))
    assert "owner/other" in str(error.value) and len(server.requests) == 1


def test_a_token_that_may_not_push_fails_before_any_change(artifacts_copy):
    with GitHubServer(REPOSITORY, TOKEN, push=False) as server:
        with pytest.raises(GitHubError, match="contents: write"):
            publish(artifacts_copy, repository(server))
        assert server.releases == {} and len(server.requests) == 1


def test_release_notes_become_the_release_body(server, artifacts_copy):
    (artifacts_copy / NOTES_MARKDOWN).write_text("# idc-index-data 3.0.0\n\nWhat changed.\n")
    publish(artifacts_copy, repository(server))
    assert server.release(RELEASE).body == "# idc-index-data 3.0.0\n\nWhat changed.\n"
    publish(artifacts_copy, repository(server), body="Edited notes.")
    assert server.release(RELEASE).body == "Edited notes."


def test_the_resource_checks_its_settings_and_hides_the_token():
    assert GitHubReleases().problems() == [] and not GitHubReleases().enabled
    resource = GitHubReleases(repository="not-a-repository", api_url="ftp://x", token="")
    problems = resource.problems()
    assert len(problems) == 3
    assert "IDC_GITHUB_REPOSITORY" in problems[0] and "IDC_GITHUB_API_URL" in problems[1]
    assert "GITHUB_TOKEN" in problems[2]
    assert "very-secret" not in repr(GitHubReleases(repository="o/r", token="very-secret"))


def test_a_refused_connection_is_retried_within_the_budget_and_named(artifacts_copy):
    """Nothing listens on the API's port: every attempt is refused, retried with backoff until the
    budget is spent, and the failure names the request (not an AttributeError)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GitHubRepository(
        REPOSITORY, TOKEN, f"http://127.0.0.1:{port}", retry_budget=0.6, backoff=0.1
    )
    started = time.monotonic()
    with pytest.raises(GitHubError) as failed:
        publish(artifacts_copy, client)
    assert time.monotonic() - started >= 0.3  # 0.1 + 0.2 s of backoff at least: retried
    message = str(failed.value)
    assert f"GET http://127.0.0.1:{port}/repos/{REPOSITORY} failed: ConnectError" in message
    assert failed.value.transient


def test_dropped_connections_are_retried_through(server, artifacts_copy):
    drops = []

    def drop_twice(method: str, path: str) -> bool:
        drops.append(path)
        return len(drops) > 2

    with gcs_proxy(server.api_url, drop_twice) as api:
        client = GitHubRepository(REPOSITORY, TOKEN, api, retry_budget=5, backoff=0.05)
        report = publish(artifacts_copy, client)
    assert report.published and len(drops) > 2


def test_sigterm_stops_the_retries_within_seconds(server, tmp_path):
    """A process publishing while GitHub answers 503, under Dagster's interrupt capture (as a run
    is): SIGTERM ends it within seconds, not after the 15-minute retry budget."""
    server.fail("GET", rf"/repos/{REPOSITORY}", 503, times=10_000)
    script = tmp_path / "publish.py"
    script.write_text(
        "import sys\n"
        "from dagster._utils.interrupts import capture_interrupts\n"
        "from idc_index_assets.releases.assets import run_is_stopping\n"
        "from idc_index_assets.releases.github import GitHubError, GitHubRepository\n"
        f"client = GitHubRepository({REPOSITORY!r}, {TOKEN!r}, {server.api_url!r}, "
        "backoff=0.5, stop=run_is_stopping)\n"
        "with capture_interrupts():\n"
        "    print('started', flush=True)\n"
        "    try:\n"
        "        client.check_access()\n"
        "    except GitHubError as error:\n"
        "        print(error, flush=True)\n"
        "        sys.exit(3)\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while len(server.requests) < 2 and time.monotonic() < deadline:  # retrying by now
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    output = process.stdout.readline()  # the failure, once the publish has given up
    assert time.monotonic() - stopped < 3
    assert process.wait(timeout=30) == 3
    assert "answered 503" in output and "not retried: the run is stopping" in output
