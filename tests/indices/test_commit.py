"""One commit point per index, proven by killing a build at every file operation it makes.

A build of collections_index (release 3.0.1) over an existing one (3.0.0) is run once to list its
file operations, then once per operation, killed (SIGKILL) just before that operation: locally by
strace's fault injection on the syscalls that change the directory tree (mkdir, rename, unlink,
rmdir, and their *at forms), on GCS by a forwarding proxy in front of fake-gcs-server dropping the
request and killing the build at each request that changes an object (POST, PUT, DELETE). After
each kill, `verify` passes and the index's four files are byte for byte the old set or the new
set; before the commit point, the old set is what the directory holds without any reader having
settled it; from the commit point on, the new set is what every reader sees."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from idc_index_assets.cli import main
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import index_file_names
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.gcs_proxy import gcs_proxy

N = SAMPLE_VERSIONS
NAME = "collections_index"
FILES = sorted(index_file_names(NAME).values())
# the syscalls that change a directory tree (x86_64 and aarch64 names)
MUTATING = "mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir"

_BUILD = f"""
import sys
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore

source, root, release = sys.argv[1:]
build_index(
    INDEX_BY_NAME["{NAME}"], load_query("{NAME}"), {N},
    engine=IndexEngine(source_dir=source, threads="1"),
    store=ArtifactStore(root=root, release_version=release),
)
"""


def _build(source, root: str, release: str) -> None:
    build_index(
        INDEX_BY_NAME[NAME],
        load_query(NAME),
        N,
        engine=IndexEngine(source_dir=str(source)),
        store=ArtifactStore(root=root, release_version=release),
    )


def _command(source, root: str) -> list[str]:
    return [sys.executable, "-c", _BUILD, str(source), root, f"{N}.0.1"]


_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _judge(states: list[tuple[dict, dict]], old: dict, new: dict) -> None:
    """Each state (raw, after verify) is exactly old or new; old ones were never touched; the
    kills before the commit point leave old, those after it new."""
    seen = []
    for raw, settled in states:
        assert settled in (old, new)
        if settled == old:
            assert raw == old  # nothing visible changed before the commit point
        seen.append("new" if settled == new else "old")
    assert "old" in seen and "new" in seen
    first_new = seen.index("new")
    assert seen == ["old"] * first_new + ["new"] * (len(seen) - first_new), seen


@pytest.mark.slow
def test_a_local_build_killed_at_each_file_operation_leaves_old_or_new(sample_source, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (.ci/run installs it)")
    root = tmp_path / "store"
    directory = root / str(N)

    def snapshot() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in directory.iterdir() if not p.name.startswith(".")}

    _build(sample_source, str(root), f"{N}.0.1")
    new = snapshot()
    shutil.rmtree(root)
    _build(sample_source, str(root), f"{N}.0.0")
    old = snapshot()
    assert sorted(old) == FILES and old != new
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine)

    # The operations of one build: (syscall, its ordinal among that syscall's calls in the
    # build's main thread), those on the artifacts directory only.
    log = tmp_path / "strace.log"
    subprocess.run(
        ["strace", "-f", "-e", f"trace={MUTATING}", "-o", str(log), *_command(sample_source, root)],
        check=True,
        env=_ENV,
    )
    main_pid, counts, operations = None, {}, []
    for line in log.read_text().splitlines():
        found = re.match(r"(\d+)\s+(\w+)\((.*)", line)
        if not found or found[2] not in MUTATING.split(","):
            continue
        pid, call, arguments = found.groups()
        main_pid = main_pid or pid
        if pid != main_pid:
            continue
        counts[call] = counts.get(call, 0) + 1
        # the calls that changed the artifacts directory (not the probes that failed: EEXIST...)
        if str(root) in arguments and arguments.rstrip().endswith("= 0"):
            operations.append((call, counts[call], arguments.split(",")[0]))
    assert any(call.startswith("rename") and ".commit" in what for call, _, what in operations)
    assert len(operations) >= 8, operations

    states = []
    for call, ordinal, _ in operations:
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        killed = subprocess.run(
            [
                "strace",
                "-f",
                "-o",
                "/dev/null",
                "-e",
                f"trace={call}",
                "-e",
                f"inject={call}:signal=KILL:when={ordinal}",
                *_command(sample_source, root),
            ],
            env=_ENV,
            stderr=subprocess.DEVNULL,
        )
        assert killed.returncode != 0, (call, ordinal)  # the build did not finish
        raw = snapshot()
        assert main(["verify", str(directory)]) == 0, (call, ordinal)
        states.append((raw, snapshot()))
        assert not list(directory.glob(".commit/*.json")), (call, ordinal)
    _judge(states, old, new)


@pytest.mark.slow
def test_a_gcs_build_killed_at_each_request_leaves_old_or_new(sample_source, gcs):
    bucket = gcs.create_bucket(f"commit-{uuid.uuid4().hex[:12]}")
    prefix = f"idc/{N}/"
    root = f"gs://{bucket.name}/idc"

    def snapshot() -> dict[str, bytes]:
        return {
            blob.name.removeprefix(prefix): blob.download_as_bytes()
            for blob in bucket.list_blobs(prefix=prefix, delimiter="/")
        }

    def clear() -> None:
        for blob in bucket.list_blobs(prefix="idc/"):
            blob.delete()

    _build(sample_source, root, f"{N}.0.1")
    new = snapshot()
    clear()
    _build(sample_source, root, f"{N}.0.0")
    old = snapshot()
    assert sorted(old) == FILES and old != new
    for blob in bucket.list_blobs(prefix=prefix):
        bucket.copy_blob(blob, bucket, "pristine/" + blob.name)

    def restore() -> None:
        clear()
        for blob in bucket.list_blobs(prefix="pristine/"):
            bucket.copy_blob(blob, bucket, blob.name.removeprefix("pristine/"))

    def run(kill_at: int | None) -> list[str]:
        """Build through the proxy, killed before the kill_at-th (0-based) request that changes
        an object; returns those requests."""
        process: list[subprocess.Popen] = []
        changes: list[str] = []

        def hook(method: str, path: str) -> bool:
            if method not in ("POST", "PUT", "DELETE", "PATCH"):
                return True
            changes.append(f"{method} {path}")
            if len(changes) - 1 == kill_at:
                process[0].send_signal(signal.SIGKILL)
                process[0].wait()
                return False
            return True

        with gcs_proxy(os.environ["STORAGE_EMULATOR_HOST"], hook) as url:
            process.append(
                subprocess.Popen(
                    _command(sample_source, root), env={**_ENV, "STORAGE_EMULATOR_HOST": url}
                )
            )
            process[0].wait(timeout=300)
        if kill_at is not None:
            assert process[0].returncode == -signal.SIGKILL, changes
        else:
            assert process[0].returncode == 0
        return changes

    requests = run(None)
    assert any(".commit" in request for request in requests)
    states = []
    for position in range(len(requests)):
        restore()
        run(position)
        raw = snapshot()
        assert main(["verify", f"{root}/{N}"]) == 0, requests[position]
        states.append((raw, snapshot()))
        assert not list(bucket.list_blobs(prefix=f"{prefix}.commit/"))
    _judge(states, old, new)
