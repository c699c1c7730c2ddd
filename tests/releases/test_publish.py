"""Publishing a release to a bucket: against a real fake-gcs-server and the local backend.

Artifacts are small but real: written by `write_index` (the build's own writer) for a few test
indices; one test's index is over 8 MiB, so that it goes up as a chunked resumable upload."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage._media.requests import ResumableUpload
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2.credentials import Credentials as OAuthCredentials

from idc_index_assets.failures import is_transient
from idc_index_assets.indices.contract import ContractColumn, IndexContract
from idc_index_assets.indices.queries import ColumnDoc
from idc_index_assets.indices.writer import write_index
from idc_index_assets.releases import publish as release
from idc_index_assets.releases.publish import (
    ARTIFACTS,
    MANIFEST,
    GcsReleaseBucket,
    LocalReleaseBucket,
    ReleaseRefused,
    configure_bucket,
    open_bucket,
    publish_release,
)
from tests.conftest import need_fake_gcs
from tests.servers import gcs_server
from tests.servers.gcs_proxy import gcs_proxy

IDC = 3
# Fails fast once a server is gone, instead of retrying for DEFAULT_RETRY's two minutes.
SHORT_RETRY = DEFAULT_RETRY.with_delay(initial=0.05, maximum=0.2).with_timeout(2)


# --- artifacts --------------------------------------------------------------------------------


def _contract(name: str, columns: dict[str, str]) -> IndexContract:
    return IndexContract(
        name, tuple(ContractColumn(c, t, "NULLABLE") for c, t in columns.items()), None
    )


def write_release(directory: Path, version: str, indices: dict[str, int]) -> list[str]:
    """Write each index, its content set by its seed; returns the names of the files."""
    for name, seed in indices.items():
        if name in BLOBS:  # incompressible bytes
            rng = random.Random(seed)
            values = [rng.randbytes(BLOBS[name]) for _ in range(3)]
            table = pa.table({"id": ["x", "y", "z"], "blob": pa.array(values, pa.binary())})
        else:
            table = pa.table({"id": [f"{name}-{i}" for i in range(seed)], "n": list(range(seed))})
        types = {"id": "STRING", "n": "INTEGER", "blob": "BYTES"}
        write_index(
            directory,
            contract=_contract(name, {c: types[c] for c in table.column_names}),
            batches=pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
            table_description=f"the {name} test index",
            column_docs=tuple(ColumnDoc(c, f"column {c}") for c in table.column_names),
            sql=f"SELECT * FROM {name} -- seed {seed}\n",
            release_version=version,
            idc_version=int(version.split(".")[0]),
        )
    return sorted(p.name for p in directory.iterdir() if p.is_file())


BLOBS = {"beta_index": 250_000, "huge_index": 3_100_000}  # bytes a row
OLD = {"alpha_index": 3, "beta_index": 1}
NEW = {"alpha_index": 5, "gamma_index": 2}  # alpha changes, beta goes, gamma comes


@pytest.fixture
def old_release(tmp_path) -> tuple[Path, list[str]]:
    directory = tmp_path / "old"
    return directory, write_release(directory, "3.0.0", OLD)


@pytest.fixture
def new_release(tmp_path) -> tuple[Path, list[str]]:
    directory = tmp_path / "new"
    return directory, write_release(directory, "3.0.1", NEW)


# --- buckets ----------------------------------------------------------------------------------


@pytest.fixture(params=["gcs", "local"])
def bucket(request, tmp_path):
    """A fresh, empty release bucket of either backend (GCS under a prefix, to exercise it)."""
    if request.param == "local":
        return open_bucket(str(tmp_path / "bucket"))
    client = request.getfixturevalue("gcs")
    name = f"release-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return open_bucket(f"gs://{name}/releases", client=client, retry=SHORT_RETRY)


def contents(bucket, prefix: str) -> dict[str, bytes]:
    """Every object under prefix, by file name."""
    return {path.removeprefix(prefix): bucket.read(path) for path in bucket.list(prefix)}


def assert_complete(bucket, version: str, prefix: str, files: list[str], tmp_path: Path) -> None:
    """`prefix` holds exactly the files and manifest of `version`, and `sha256sum -c` passes on
    the downloaded copies."""
    found = contents(bucket, prefix)
    assert sorted(found) == sorted([*files, MANIFEST])
    download = tmp_path / f"download-{uuid.uuid4().hex[:8]}"
    download.mkdir()
    for name, data in found.items():
        (download / name).write_bytes(data)
    sidecars = sorted(name for name in found if name.endswith(".sha256"))
    checked = subprocess.run(
        ["sha256sum", "--check", "--strict", *sidecars],
        cwd=download,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    manifest = json.loads(found[MANIFEST])
    assert manifest["version"] == version
    assert manifest["idc_version"] == int(version.split(".")[0])
    assert [entry["name"] for entry in manifest["files"]] == sorted(files)
    for entry in manifest["files"]:
        data = found[entry["name"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == release.digests_of(data).sha256
        assert entry["md5"] == release.digests_of(data).md5


# --- publishing -------------------------------------------------------------------------------


def test_open_bucket_picks_the_backend(tmp_path, gcs):
    local = open_bucket(str(tmp_path / "b"))
    assert isinstance(local, LocalReleaseBucket) and local.root == tmp_path / "b"
    remote = open_bucket("gs://some-bucket/a/b", client=gcs)
    assert isinstance(remote, GcsReleaseBucket)
    assert (remote.bucket.name, remote.prefix) == ("some-bucket", "a/b")
    assert open_bucket("gs://some-bucket", client=gcs).target == "gs://some-bucket"
    with pytest.raises(ValueError):
        open_bucket("gs://")


def test_publish_writes_both_layouts(bucket, old_release, tmp_path):
    directory, files = old_release
    steps = []
    report = publish_release(directory, bucket, "3.0.0", IDC, indices=OLD, progress=steps.append)

    versioned, current = f"3.0.0/{ARTIFACTS}/", f"current/{ARTIFACTS}/"
    assert bucket.list("") == sorted(
        [versioned + name for name in [*files, MANIFEST]]
        + [current + name for name in [*files, MANIFEST]]
    )
    assert_complete(bucket, "3.0.0", versioned, files, tmp_path)
    assert_complete(bucket, "3.0.0", current, files, tmp_path)
    assert bucket.read(versioned + MANIFEST) == bucket.read(current + MANIFEST)

    sizes = {name: (directory / name).stat().st_size for name in files}
    manifest_size = len(bucket.read(versioned + MANIFEST))
    assert report.bytes_uploaded == sum(sizes.values()) + manifest_size
    assert report.bytes_copied == report.bytes_uploaded  # server-side into current/
    assert sorted(report.objects) == bucket.list("")
    for path, published in report.objects.items():
        name = path.rsplit("/", 1)[-1]
        if name != MANIFEST:
            assert published.size == sizes[name]
            assert published.sha256 == release.digests_of(directory / name).sha256
        assert published.generation == bucket.stat(path).generation
    assert {(s.action, s.path) for s in steps} == {
        ("uploaded" if path.startswith(versioned) else "copied", path) for path in report.objects
    }
    # the manifest closes each layout
    assert steps[-1].path == current + MANIFEST
    assert [s.path for s in steps if s.path.startswith(versioned)][-1] == versioned + MANIFEST


def test_gcs_objects_carry_their_metadata_and_large_files_go_in_chunks(gcs, tmp_path, monkeypatch):
    monkeypatch.setattr(release, "CHUNK_SIZE", 1 << 20)
    chunks = []
    transmit = ResumableUpload.transmit_next_chunk

    def counting(self, *args, **kwargs):
        chunks.append(self.upload_url)
        return transmit(self, *args, **kwargs)

    monkeypatch.setattr(ResumableUpload, "transmit_next_chunk", counting)
    name = f"release-{uuid.uuid4().hex[:12]}"
    gcs.create_bucket(name)
    directory, indices = tmp_path / "huge", {"alpha_index": 3, "huge_index": 1}
    files = write_release(directory, "3.0.0", indices)
    bucket = open_bucket(f"gs://{name}", client=gcs)
    publish_release(directory, bucket, "3.0.0", IDC, indices=indices)
    assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)

    # huge_index.parquet (over 8 MiB) in 1 MiB chunks of one upload; the rest in one request each
    size = (directory / "huge_index.parquet").stat().st_size
    assert size > 8 << 20
    assert len(chunks) == -(-size // (1 << 20)) and len(set(chunks)) == 1
    expected_types = {
        "alpha_index.parquet": "application/vnd.apache.parquet",
        "alpha_index.parquet.sha256": "text/plain; charset=utf-8",
        "alpha_index_schema.json": "application/json",
        "alpha_index.sql": "text/plain; charset=utf-8",
        MANIFEST: "application/json",
    }
    for file, content_type in expected_types.items():
        versioned = gcs.bucket(name).get_blob(f"3.0.0/{ARTIFACTS}/{file}")
        current = gcs.bucket(name).get_blob(f"current/{ARTIFACTS}/{file}")
        assert versioned.content_type == current.content_type == content_type
        assert versioned.cache_control == "public, max-age=31536000, immutable"
        expected_cache = "no-cache" if file == MANIFEST else "public, max-age=300"
        assert current.cache_control == expected_cache
        assert current.md5_hash == versioned.md5_hash and current.crc32c == versioned.crc32c


def test_a_rerun_uploads_nothing_and_verifies(bucket, old_release):
    directory, _ = old_release
    first = publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)
    manifest = bucket.read(f"3.0.0/{ARTIFACTS}/{MANIFEST}")
    second = publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)

    assert second.bytes_uploaded == 0 and second.bytes_copied == 0
    assert {o.action for o in second.objects.values()} == {"verified", "unchanged"}
    assert second.created == first.created
    assert bucket.read(f"3.0.0/{ARTIFACTS}/{MANIFEST}") == manifest
    assert {p: o.generation for p, o in second.objects.items()} == {
        p: o.generation for p, o in first.objects.items()
    }


def test_other_content_under_a_published_version_is_refused(bucket, old_release, tmp_path):
    directory, _ = old_release
    publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)
    before = {path: bucket.read(path) for path in bucket.list("")}

    changed = tmp_path / "changed"
    write_release(changed, "3.0.0", {**OLD, "alpha_index": 4})
    with pytest.raises(ReleaseRefused, match="bump the release version") as refused:
        publish_release(changed, bucket, "3.0.0", IDC, indices=OLD)
    faulty = "\n".join(refused.value.problems)
    assert "alpha_index.parquet: already published with other content" in faulty
    assert "beta_index.parquet" not in faulty  # its bytes are the same: not at fault

    # and a release with fewer files than the published version is refused too
    fewer = tmp_path / "fewer"
    write_release(fewer, "3.0.0", {"alpha_index": 3})
    with pytest.raises(ReleaseRefused, match="bump the release version") as refused:
        publish_release(fewer, bucket, "3.0.0", IDC, indices=["alpha_index"])
    assert any("beta_index.parquet: not in this release" in p for p in refused.value.problems)
    assert {path: bucket.read(path) for path in bucket.list("")} == before


def test_current_never_lacks_a_file_during_an_update(bucket, old_release, new_release, tmp_path):
    (old_dir, old_files), (new_dir, new_files) = old_release, new_release
    publish_release(old_dir, bucket, "3.0.0", IDC, indices=OLD)
    current = f"current/{ARTIFACTS}/"
    old, new = set(old_files), set(new_files)
    listings = []

    def look(step):
        listed = {path.removeprefix(current) for path in bucket.list(current)}
        manifest = json.loads(bucket.read(current + MANIFEST))
        listings.append((step.action, manifest["version"]))
        assert old <= listed or new <= listed, f"after {step}: current/ lacks files"
        # whatever release the manifest names is all there
        assert {entry["name"] for entry in manifest["files"]} <= listed
        if manifest["version"] == "3.0.1":  # the new manifest follows every new file
            assert new <= listed

    report = publish_release(
        new_dir, bucket, "3.0.1", IDC, indices=NEW, progress=look, concurrency=2
    )
    actions = [action for action, _ in listings]
    assert actions.count("deleted") == len(old - new) == 4  # beta's four files
    # the deletions come last, once the new manifest (the last copy) is in place
    first_delete = actions.index("deleted")
    assert set(actions[first_delete:]) == {"deleted"}
    assert listings[first_delete - 1] == ("copied", "3.0.1")
    assert [v for _, v in listings[: first_delete - 1]] == ["3.0.0"] * (first_delete - 1)
    assert sorted(report.deleted) == sorted(current + name for name in old - new)
    assert_complete(bucket, "3.0.1", current, new_files, tmp_path)
    assert_complete(bucket, "3.0.1", f"3.0.1/{ARTIFACTS}/", new_files, tmp_path)
    assert_complete(bucket, "3.0.0", f"3.0.0/{ARTIFACTS}/", old_files, tmp_path)


@pytest.mark.parametrize(
    "change, publish_as, expected",
    [
        ("none", dict(blocking_failures=["alpha_index: primary_key: 2 duplicated keys"]),
         "alpha_index: primary_key: 2 duplicated keys"),
        ("none", dict(release_version="3.0.1"),
         "alpha_index.parquet: idc_index_data_version is 3.0.0, expected 3.0.1"),
        ("none", dict(release_version="4.0.0", idc_version=4),
         "beta_index.parquet: idc_version is 3, expected 4"),
        ("none", dict(idc_version=4), "release version 3.0.0 is not for IDC version 4"),
        ("none", dict(release_version="3.0"), "release version '3.0' is not X.Y.Z"),
        ("sidecar", {}, "alpha_index.parquet: sha256 does not match alpha_index.parquet.sha256"),
        ("missing", {}, "beta_index.sql: missing"),
        ("wheel", {}, "idc_index_data-2.0.0-py3-none-any.whl: a wheel of another version"),
        ("none", dict(indices=[*OLD, "delta_index"]), "delta_index.parquet: missing"),
        ("symlink", {}, "/passwd: a symbolic link (to /etc/passwd)"),
        ("symlinked index", {}, "/beta_index.sql: a symbolic link (to "),
        ("stray", {}, "/README.txt: not a file of release 3.0.0"),
        ("none", dict(indices=["alpha_index"]), "/beta_index.parquet: not a file of release"),
        ("directory", {}, "/extra: not a regular file"),
        ("manifest", {}, f"{MANIFEST}: reserved for the manifest"),
    ],
)  # fmt: skip
def test_refusals_name_the_fault_and_publish_nothing(
    bucket, old_release, change, publish_as, expected
):
    directory, _ = old_release
    if change == "sidecar":
        (directory / "alpha_index.parquet.sha256").write_text(f"{'0' * 64}  alpha_index.parquet\n")
    elif change == "missing":
        (directory / "beta_index.sql").unlink()
    elif change == "wheel":
        wheel = directory / "idc_index_data-2.0.0-py3-none-any.whl"
        wheel.write_bytes(b"PK")
    elif change == "symlink":
        (directory / "passwd").symlink_to("/etc/passwd")
    elif change == "symlinked index":  # a file of the release, but a link to elsewhere
        moved = directory.parent / "elsewhere.sql"
        (directory / "beta_index.sql").rename(moved)
        (directory / "beta_index.sql").symlink_to(moved)
    elif change == "stray":
        (directory / "README.txt").write_text("not an artifact\n")
    elif change == "directory":
        (directory / "extra").mkdir()
        (directory / "extra" / "alpha_index.parquet").write_bytes(b"PAR1")
    elif change == "manifest":
        (directory / MANIFEST).write_text("{}")
    arguments = dict(release_version="3.0.0", idc_version=IDC, indices=OLD) | publish_as
    with pytest.raises(ReleaseRefused) as refused:
        publish_release(directory, bucket, **arguments)
    assert expected in str(refused.value)
    assert bucket.list("") == []


def test_hidden_build_leftovers_are_neither_refused_nor_published(bucket, old_release, tmp_path):
    directory, files = old_release
    (directory / ".staging" / "alpha_index.abc").mkdir(parents=True)
    (directory / ".staging" / "alpha_index.abc" / "alpha_index.parquet").write_bytes(b"x")
    (directory / ".alpha_index.parquet.tmp").write_bytes(b"half a file")
    publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)
    assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)


def test_a_wheel_and_its_checksum_are_published_and_checked(bucket, old_release, tmp_path):
    directory, files = old_release
    wheel = directory / "idc_index_data-3.0.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + bytes(18))
    (directory / f"{wheel.name}.sha256").write_text(f"{'1' * 64}  {wheel.name}\n")
    with pytest.raises(ReleaseRefused, match=r"\.whl\.sha256: does not match"):
        publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)

    digest = release.digests_of(wheel).sha256
    (directory / f"{wheel.name}.sha256").write_text(f"{digest}  {wheel.name}\n")
    publish_release(directory, bucket, "3.0.0", IDC, indices=OLD)
    files = [*files, wheel.name, f"{wheel.name}.sha256"]
    assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)
    assert_complete(bucket, "3.0.0", f"3.0.0/{ARTIFACTS}/", files, tmp_path)


def test_the_backends_create_once_and_replace_whole(bucket):
    info = bucket.create("v/a.txt", b"first", content_type="text/plain", cache_control="x")
    assert info.holds(release.digests_of(b"first"))
    with pytest.raises(release.ObjectExists):
        bucket.create("v/a.txt", b"second", content_type="text/plain", cache_control="x")
    assert bucket.read("v/a.txt") == b"first"
    copied = bucket.copy(info, "c/a.txt", content_type="text/plain", cache_control="y")
    bucket.create("v/b.txt", b"other", content_type="text/plain", cache_control="x")
    replaced = bucket.copy(bucket.stat("v/b.txt"), "c/a.txt", content_type="t", cache_control="y")
    assert bucket.read("c/a.txt") == b"other" and replaced.generation != copied.generation
    assert bucket.list("") == ["c/a.txt", "v/a.txt", "v/b.txt"]  # no temporary names left
    bucket.delete("c/a.txt")
    bucket.delete("c/a.txt")  # deleting what is gone is not an error
    assert bucket.stat("c/a.txt") is None and bucket.list("c/") == []


def test_gcs_create_of_a_large_existing_object_is_refused(gcs_bucket, monkeypatch):
    monkeypatch.setattr(release, "CHUNK_SIZE", 4 << 20)
    data = random.Random(1).randbytes(9 << 20)  # over 8 MiB: a resumable upload
    first = gcs_bucket.create("v/big", data, content_type="x", cache_control="y")
    try:
        gcs_bucket.create("v/big", data, content_type="x", cache_control="y")
    except release.ObjectExists:
        assert gcs_bucket.stat("v/big").generation == first.generation
        return
    pytest.skip(
        "this fake-gcs-server ignores ifGenerationMatch on resumable uploads (its issue #1967, "
        "fixed upstream later); GCS enforces it, and publish_release checks existing objects "
        "before creating any"
    )


def test_concurrent_publishes_of_one_release_create_each_object_once(bucket, old_release, tmp_path):
    directory, files = old_release
    with ThreadPoolExecutor(2) as pool:
        reports = list(
            pool.map(
                lambda _: publish_release(directory, bucket, "3.0.0", IDC, indices=OLD), range(2)
            )
        )
    for path in reports[0].objects:
        if path.startswith("3.0.0/"):  # the precondition lets exactly one of them create it
            actions = sorted(report.objects[path].action for report in reports)
            assert actions == ["uploaded", "verified"], path
    assert_complete(bucket, "3.0.0", f"3.0.0/{ARTIFACTS}/", files, tmp_path)
    assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)


def test_a_short_gcs_outage_is_retried_through(old_release, tmp_path, monkeypatch):
    """The server dies after the first upload and is back 0.5 s later, within the retry deadline:
    the publish backs off, retries and completes."""
    need_fake_gcs()
    directory, files = old_release
    server = gcs_server.FakeGcsServer(tmp_path / "gcs-data")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    client.create_bucket("outage")
    bucket = open_bucket("gs://outage", client=client, retry=SHORT_RETRY.with_timeout(15))
    restarted = []

    def outage(step):
        if not restarted:
            restarted.append(threading.Timer(0.5, server.start))
            server.kill()
            restarted[0].start()

    try:
        report = publish_release(directory, bucket, "3.0.0", IDC, indices=OLD, progress=outage)
        restarted[0].join()
        assert report.bytes_uploaded > 0
        assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)
    finally:
        server.kill()


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("backend", ["gcs-killed", "local-crashed"])
def test_an_interrupted_publish_converges_on_rerun(
    backend, old_release, new_release, tmp_path, monkeypatch
):
    """GCS: the server is SIGKILLed after two uploads and restarted over its stored data. Local:
    the publish dies after two uploads. Either way the re-run completes the same release."""
    (old_dir, old_files), (new_dir, new_files) = old_release, new_release
    server = None
    if backend == "gcs-killed":
        need_fake_gcs()
        server = gcs_server.FakeGcsServer(tmp_path / "gcs-data")
        server.start()
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        client.create_bucket("interrupted")
        bucket = open_bucket("gs://interrupted", client=client, retry=SHORT_RETRY)
    else:
        bucket = open_bucket(str(tmp_path / "bucket"))
    try:
        publish_release(old_dir, bucket, "3.0.0", IDC, indices=OLD)
        uploaded = []

        def interrupt(step):
            if step.action == "uploaded":
                uploaded.append(step.path)
                if len(uploaded) == 2:
                    if server:
                        server.kill()
                    else:
                        raise Interrupted

        with pytest.raises(Exception) as failed:  # whatever the transport raises
            publish_release(
                new_dir, bucket, "3.0.1", IDC, indices=NEW, progress=interrupt, concurrency=2
            )
        assert not isinstance(failed.value, ReleaseRefused)
        if server:
            server.start()
        # the interrupted publish left current/ on the old release, complete
        current = f"current/{ARTIFACTS}/"
        assert_complete(bucket, "3.0.0", current, old_files, tmp_path)

        report = publish_release(new_dir, bucket, "3.0.1", IDC, indices=NEW)
        for path in uploaded[:2]:
            assert report.objects[path].action == "verified"
        assert_complete(bucket, "3.0.1", f"3.0.1/{ARTIFACTS}/", new_files, tmp_path)
        assert_complete(bucket, "3.0.1", current, new_files, tmp_path)
        assert publish_release(new_dir, bucket, "3.0.1", IDC, indices=NEW).bytes_uploaded == 0
    finally:
        if server:
            server.kill()


# --- bucket configuration -----------------------------------------------------------------------


@pytest.fixture
def gcs_bucket(gcs) -> GcsReleaseBucket:
    name = f"release-{uuid.uuid4().hex[:12]}"
    gcs.create_bucket(name)
    return open_bucket(f"gs://{name}", client=gcs, retry=SHORT_RETRY)


def test_configure_bucket_sets_cors(gcs_bucket, monkeypatch):
    sent = []
    patch = storage.Bucket.patch

    def recording(self, *args, **kwargs):
        sent.append((set(self._changes), list(self.cors)))
        return patch(self, *args, **kwargs)

    monkeypatch.setattr(storage.Bucket, "patch", recording)
    configure_bucket(gcs_bucket, origins=["https://viewer.example"])  # the server accepts it

    ((changed, (rule,)),) = sent
    assert changed == {"cors"}  # nothing else of the bucket is touched
    assert rule["method"] == ["GET", "HEAD"] and rule["origin"] == ["https://viewer.example"]
    assert {"Range", "Content-Range", "Accept-Ranges", "Content-Length"} <= set(
        rule["responseHeader"]
    )
    gcs_bucket.bucket.reload()
    if not gcs_bucket.bucket.cors:
        pytest.skip("fake-gcs-server accepts a bucket PATCH of 'cors' but does not store it")
    assert gcs_bucket.bucket.cors == [rule]


def test_configure_bucket_public_read(gcs_bucket):
    try:
        configure_bucket(gcs_bucket, public_read=True)
    except NotFound:
        pytest.skip("fake-gcs-server has no IAM endpoint (GET /b/<bucket>/iam is 404)")
    bindings = gcs_bucket.bucket.get_iam_policy(requested_policy_version=3).bindings
    assert {"role": "roles/storage.objectViewer", "members": {"allUsers"}} in bindings


def test_identical_publishes_at_once_give_one_release_never_a_conflict(
    bucket, old_release, tmp_path, monkeypatch
):
    """Two publishes of the same files at once, whose clocks give their manifests different
    creation times: one release comes out, and neither reports other content. On GCS both pass
    the check of what exists before either writes (a rendezvous), so they race for each object;
    in a local directory the second waits for the first and then finds everything there."""
    directory, files = old_release
    ticks = itertools.count()

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))

    monkeypatch.setattr(release, "datetime", Clock)
    rendezvous, met = threading.Barrier(2, timeout=1), threading.local()

    def meet(step):
        if not getattr(met, "done", False):
            met.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                rendezvous.wait()

    def publish(_):
        return publish_release(directory, bucket, "3.0.0", IDC, indices=OLD, progress=meet)

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(publish, range(2)))
    assert reports[0].created == reports[1].created
    versioned = [p for p in reports[0].objects if p.startswith("3.0.0/")]
    for path in versioned:
        actions = sorted(report.objects[path].action for report in reports)
        assert actions == ["uploaded", "verified"], path
    if isinstance(bucket, LocalReleaseBucket):  # the second one found everything done
        second = min(reports, key=lambda r: r.bytes_uploaded)
        assert second.bytes_uploaded == second.bytes_copied == 0
    assert_complete(bucket, "3.0.0", f"3.0.0/{ARTIFACTS}/", files, tmp_path)
    assert_complete(bucket, "3.0.0", f"current/{ARTIFACTS}/", files, tmp_path)
    manifest = json.loads(bucket.read(f"current/{ARTIFACTS}/{MANIFEST}"))
    assert manifest["created"] == reports[0].created


@pytest.mark.parametrize(
    "status, says",
    [
        (403, "permission denied (403 Forbidden: "),
        (401, "Google Cloud refused the credentials (401 Unauthorized: "),
    ],
)
def test_a_refused_write_names_the_object_and_writes_nothing(
    gcs, old_release, monkeypatch, status, says
):
    """Every write answered 401 or 403 (reads pass): the error names the object and what was
    refused, is not retried, and nothing is written."""
    directory, _ = old_release
    name = f"release-{uuid.uuid4().hex[:12]}"
    gcs.create_bucket(name)
    upstream = os.environ["STORAGE_EMULATOR_HOST"]
    with gcs_proxy(upstream, lambda method, path: True if method == "GET" else status) as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        # a token that refreshes (as a service account's does) and is refused anyway
        token = OAuthCredentials(
            "token", refresh_handler=lambda request, scopes: ("token", datetime(2100, 1, 1))
        )
        client = storage.Client(project="test", credentials=token)
        bucket = open_bucket(f"gs://{name}/releases", client=client, retry=SHORT_RETRY)
        with pytest.raises(release.BucketRefused) as refused:
            publish_release(directory, bucket, "3.0.0", IDC, indices=OLD, concurrency=1)
    message = str(refused.value)
    assert message.startswith(f"gs://{name}/releases/3.0.0/{ARTIFACTS}/alpha_index.parquet: {says}")
    assert "no Google Cloud credentials" not in message
    assert not is_transient(refused.value)
    assert list(gcs.list_blobs(name)) == []
