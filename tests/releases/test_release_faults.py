"""A release interrupted at every file operation it makes, locally and on GCS.

The operations are enumerated, not sampled: a run of the publish with a counting audit hook
(`sys.addaudithook`) lists them (locally every write-open, mkdir, chmod, link, rename and remove
under the bucket; on GCS every request that changes something, seen as `http.client.send` of its
request line), and then the publish is repeated once per operation in a forked child that
SIGKILLs itself just before it. Locally the same operations also fail with ENOSPC (a full
disk), in process. After each fault:

- the previous release's versioned files are byte-identical;
- the new version's prefix holds only whole files of the new release, and all of them once its
  manifest is there;
- `current/` lacks no file its manifest names, holds only whole files of the old or the new
  release, the manifest names one of the two releases (whose immutable prefix is complete; once
  it names the new one, every new file is in place), and
  at most one index (one copy at a time) has a parquet beside another release's checksum;
- a full-disk failure leaves no temporary file behind;

and a re-run completes the new release in both layouts, removes any temporary file a killed run
left, and a run after it uploads nothing.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sys
import uuid
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from idc_index_assets.releases.publish import (
    ARTIFACTS,
    CURRENT,
    MANIFEST,
    LocalReleaseBucket,
    digests_of,
    open_bucket,
    publish_release,
)
from tests.releases.test_publish import NEW, OLD, SHORT_RETRY, assert_complete, write_release

IDC = 3
OLD_VERSION, NEW_VERSION = "3.0.0", "3.0.1"
_HTTP_WRITES = (b"POST ", b"PUT ", b"PATCH ", b"DELETE ")


class _Faults:
    """What the audit hook does: nothing until armed; then counts the bucket's operations and,
    at operation `at`, kills the process or fails the operation."""

    def __init__(self):
        self.armed, self.at, self.kind, self.root, self.port = False, 0, "", "", 0
        self.seen: list[str] = []

    def arm(self, kind: str, at: int = 0, root: Path | None = None, port: int = 0) -> None:
        self.kind, self.at, self.root, self.port = kind, at, str(root or ""), port
        self.seen, self.armed = [], True

    def operation(self, event: str, args: tuple) -> str | None:
        if event == "http.client.send":
            connection, data = args
            ours = self.port and connection.port == self.port and isinstance(data, bytes)
            return (
                data.split(b"\r\n", 1)[0].decode()
                if ours and data.startswith(_HTTP_WRITES)
                else None
            )
        if not self.root:
            return None
        if event == "open":
            path, mode, flags = args
            writes = (mode is not None and any(c in mode for c in "wax+")) or (
                mode is None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            return f"open {path}" if writes and self._under(path) else None
        if event in ("os.rename", "os.link"):
            return f"{event} {args[0]} -> {args[1]}" if self._under(args[1]) else None
        if event in ("os.remove", "os.chmod", "os.mkdir"):
            return f"{event} {args[0]}" if self._under(args[0]) else None
        return None

    def _under(self, path) -> bool:
        return isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path).startswith(
            self.root
        )

    def __call__(self, event: str, args: tuple) -> None:
        if not self.armed:
            return
        operation = self.operation(event, args)
        if operation is None:
            return
        self.seen.append(operation)
        if len(self.seen) == self.at:
            if self.kind == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            self.armed = False  # one fault per run
            raise OSError(errno.ENOSPC, "No space left on device (injected)", operation)


FAULTS = _Faults()
sys.addaudithook(FAULTS)  # audit hooks cannot be removed: this one does nothing unless armed


# --- the bucket before and after --------------------------------------------------------------


def snapshot(bucket, prefix: str) -> dict[str, bytes]:
    return {p.removeprefix(prefix): bucket.read(p) for p in bucket.list(prefix)}


def assert_consistent(bucket, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """The invariants of the module docstring, after a fault."""
    versioned_old, versioned_new = f"{OLD_VERSION}/{ARTIFACTS}/", f"{NEW_VERSION}/{ARTIFACTS}/"
    current = f"{CURRENT}/{ARTIFACTS}/"
    assert snapshot(bucket, versioned_old) == old
    published = snapshot(bucket, versioned_new)
    for name, data in published.items():
        assert name == MANIFEST or data == new[name], f"{versioned_new}{name}: not whole"
    if MANIFEST in published:
        assert set(published) == {*new, MANIFEST}
        listed = {f["name"]: f["sha256"] for f in json.loads(published[MANIFEST])["files"]}
        assert listed == {name: digests_of(data).sha256 for name, data in new.items()}

    shown = snapshot(bucket, current)
    manifest = json.loads(shown[MANIFEST])
    assert manifest["version"] in (OLD_VERSION, NEW_VERSION)
    if manifest["version"] == NEW_VERSION:
        assert shown[MANIFEST] == published[MANIFEST]
        # every new file in place; the old release's others until their deletion
        assert {n: shown.get(n) for n in new} == new
    else:
        assert shown[MANIFEST] == old[MANIFEST]
    for entry in manifest["files"]:
        assert entry["name"] in shown, f"{current}{entry['name']}: missing"
    for name, data in shown.items():
        assert name == MANIFEST or data in (old.get(name), new.get(name)), (
            f"{current}{name}: not whole"
        )
    mixed = [
        name
        for name in {*OLD, *NEW}
        if f"{name}.parquet" in shown
        and f"{name}.parquet.sha256" in shown
        and digests_of(shown[f"{name}.parquet"]).sha256
        != shown[f"{name}.parquet.sha256"].decode().split()[0]
    ]
    assert len(mixed) <= 1, f"parquet beside another release's checksum: {mixed}"


def hidden_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob(".*")
        if p.is_file() and p.name != LocalReleaseBucket.LOCK
    )


def converge(bucket, new_dir: Path, new_files: list[str], old: dict, tmp_path: Path) -> None:
    publish_release(new_dir, bucket, NEW_VERSION, IDC, indices=NEW, concurrency=1)
    assert_complete(bucket, NEW_VERSION, f"{NEW_VERSION}/{ARTIFACTS}/", new_files, tmp_path)
    assert_complete(bucket, NEW_VERSION, f"{CURRENT}/{ARTIFACTS}/", new_files, tmp_path)
    assert snapshot(bucket, f"{OLD_VERSION}/{ARTIFACTS}/") == old
    again = publish_release(new_dir, bucket, NEW_VERSION, IDC, indices=NEW, concurrency=1)
    assert again.bytes_uploaded == again.bytes_copied == 0 and not again.deleted


def killed_at(at: int, publish) -> int:
    """Run `publish()` in a forked child armed to SIGKILL itself at operation `at`; returns the
    number of operations it saw when it finished (0 when it was killed)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            publish(at)
            os.write(write, str(len(FAULTS.seen)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        done = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return 0
    assert os.WEXITSTATUS(status) == 0, f"the publish failed at operation {at}"
    return int(done)


# --- the releases -----------------------------------------------------------------------------


@pytest.fixture
def releases(tmp_path):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    write_release(old_dir, OLD_VERSION, OLD)
    new_files = write_release(new_dir, NEW_VERSION, NEW)
    new = {name: (new_dir / name).read_bytes() for name in new_files}
    return old_dir, new_dir, new_files, new


@pytest.mark.slow
def test_a_local_release_killed_at_every_file_operation(releases, tmp_path):
    old_dir, new_dir, new_files, new = releases
    pristine = tmp_path / "pristine"
    publish_release(old_dir, open_bucket(str(pristine)), OLD_VERSION, IDC, indices=OLD)
    old = snapshot(open_bucket(str(pristine)), f"{OLD_VERSION}/{ARTIFACTS}/")
    root = tmp_path / "bucket"

    def publish(at: int) -> None:
        FAULTS.arm("kill", at, root=root)
        publish_release(
            new_dir, open_bucket(str(root)), NEW_VERSION, IDC, indices=NEW, concurrency=1
        )

    at, operations = 1, None
    while operations is None or at <= operations:
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(pristine, root)
        seen = killed_at(at, publish)
        if seen:  # it ran to the end: `at` is past its last operation
            operations = seen
            assert at == seen + 1
            break
        bucket = open_bucket(str(root))
        assert_consistent(bucket, old, new)
        converge(bucket, new_dir, new_files, old, tmp_path)
        assert hidden_files(root) == [], f"killed at operation {at}"
        at += 1
    assert operations is not None and operations > 60  # every create, copy and delete's steps


def test_a_local_release_on_a_full_disk_at_every_write(releases, tmp_path):
    old_dir, new_dir, new_files, new = releases
    pristine = tmp_path / "pristine"
    publish_release(old_dir, open_bucket(str(pristine)), OLD_VERSION, IDC, indices=OLD)
    old = snapshot(open_bucket(str(pristine)), f"{OLD_VERSION}/{ARTIFACTS}/")
    root = tmp_path / "bucket"
    # What a full disk makes fail: creating files and directories, writing, linking, renaming.
    shutil.copytree(pristine, root)
    FAULTS.arm("count", root=root)
    publish_release(new_dir, open_bucket(str(root)), NEW_VERSION, IDC, indices=NEW, concurrency=1)
    operations = list(FAULTS.seen)
    FAULTS.armed = False
    writes = [
        i + 1 for i, op in enumerate(operations) if not op.startswith(("os.remove", "os.chmod"))
    ]
    assert len(writes) > 30
    for at in writes:
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        FAULTS.arm("fail", at, root=root)
        try:
            publish_release(
                new_dir, open_bucket(str(root)), NEW_VERSION, IDC, indices=NEW, concurrency=1
            )
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
        else:  # a directory that exists already: mkdir's error is EEXIST, not ENOSPC
            assert operations[at - 1].startswith("os.mkdir"), operations[at - 1]
        finally:
            FAULTS.armed = False
        bucket = open_bucket(str(root))
        assert_consistent(bucket, old, new)
        assert hidden_files(root) == [], f"{operations[at - 1]} failed"
        converge(bucket, new_dir, new_files, old, tmp_path)


@pytest.mark.slow
def test_a_gcs_release_killed_at_every_request_that_writes(releases, gcs, tmp_path):
    old_dir, new_dir, new_files, new = releases
    port = int(os.environ["STORAGE_EMULATOR_HOST"].rsplit(":", 1)[1])
    total = None
    at = 1
    while total is None or at <= total:
        name = f"faults-{uuid.uuid4().hex[:12]}"
        gcs.create_bucket(name)
        bucket = open_bucket(f"gs://{name}", client=gcs, retry=SHORT_RETRY)
        publish_release(old_dir, bucket, OLD_VERSION, IDC, indices=OLD)
        old = snapshot(bucket, f"{OLD_VERSION}/{ARTIFACTS}/")

        def publish(at: int, name=name) -> None:
            # a client of the child's own: the parent's connections are not the child's to use
            client = storage.Client(project="test", credentials=AnonymousCredentials())
            FAULTS.arm("kill", at, port=port)
            target = open_bucket(f"gs://{name}", client=client, retry=SHORT_RETRY)
            publish_release(new_dir, target, NEW_VERSION, IDC, indices=NEW, concurrency=1)

        seen = killed_at(at, publish)
        if seen:
            total = seen
            assert at == seen + 1
            assert_complete(bucket, NEW_VERSION, f"{CURRENT}/{ARTIFACTS}/", new_files, tmp_path)
            break
        assert_consistent(bucket, old, new)
        converge(bucket, new_dir, new_files, old, tmp_path)
        at += 1
    # a create per file and the manifest, a copy per changed file and the manifest, beta's 4
    # deletions: each one a request (the files are small), each one interrupted above
    changed = sum(old.get(name) != data for name, data in new.items())
    assert total == (len(new_files) + 1) + (changed + 1) + 4
