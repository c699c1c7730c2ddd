"""Publishing a release: one IDC version's checked artifacts, copied to a bucket as

    <release_version>/release_artifacts/<file>   immutable: written once, never replaced
    current/release_artifacts/<file>              the newest release, replaced file by file

each with a `release_manifest.json` (version, IDC version, creation time, every file's size,
sha256 and md5) written once all its files are there, so a manifest says they are complete.

The bucket is a GCS bucket (`gs://name[/prefix]`) or a local directory with the same layout. A
publish can be re-run at any point: what is already there with the same content is verified and
skipped, so an interrupted publish converges, and a finished one re-runs uploading nothing.
`current/` never lacks a file: each new file replaces the old one in place, the new manifest
follows them, and only then are the old release's other files deleted. A release is exactly the
files `release_file_names` gives; anything else in the directory is refused, never published.
docs/releases.md states the guarantees and how they are tested.

No Dagster here: the publishing asset wraps `publish_release`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import google_crc32c

from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.validation import (
    check_integrity,
    index_file_names,
    index_files,
    read_sidecar,
)
from idc_index_assets.releases.notes import NOTES_JSON, NOTES_MARKDOWN
from idc_index_assets.releases.wheel import wheel_filename

CURRENT = "current"
ARTIFACTS = "release_artifacts"
MANIFEST = "release_manifest.json"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
CURRENT_CACHE = "public, max-age=300"
# The current manifest is what tells a client which release is current: always revalidated.
MANIFEST_CACHE = "no-cache"
# Files over 8 MiB (the storage library's multipart limit) go up as resumable uploads in chunks
# (GCS wants multiples of 256 KiB), so a transient error costs one chunk's retry, not the file's.
CHUNK_SIZE = 8 << 20
CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".sql": "text/plain; charset=utf-8",
    ".sha256": "text/plain; charset=utf-8",
    ".whl": "application/zip",
}
# Browsers (DuckDB-WASM, hyparquet, ...) read parquet with Range requests across origins.
CORS_HEADERS = [
    "Range",
    "Content-Range",
    "Accept-Ranges",
    "Content-Length",
    "Content-Type",
    "ETag",
    "Last-Modified",
]
_RELEASE_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_CHUNK = 1 << 20
_log = logging.getLogger(__name__)


class ReleaseRefused(RuntimeError):
    """Nothing was published (or nothing overwritten): the problems say which files are at fault."""

    def __init__(self, reason: str, problems: Sequence[str]):
        self.reason, self.problems = reason, list(problems)
        super().__init__(f"{reason}:\n  " + "\n  ".join(self.problems))


class ObjectExists(Exception):
    """`ReleaseBucket.create` found the object already there."""


class BucketRefused(RuntimeError):
    """The bucket refused a request for lack of permission (403) or credentials (401)."""

    transient = False


@contextlib.contextmanager
def _naming(url: str) -> Iterator[None]:
    """Refusals of access (401, 403) name the object they were about: `gs://bucket/object`."""
    from google.api_core.exceptions import Forbidden, Unauthorized

    from idc_index_assets.failures import describe

    try:
        yield
    except (Forbidden, Unauthorized) as error:
        raise BucketRefused(f"{url}: {describe(error)}") from error


@dataclass(frozen=True)
class Digests:
    size: int
    sha256: str  # hex
    md5: str  # hex
    crc32c: str  # base64 of the big-endian value, as GCS reports it


def digests_of(source: Path | bytes) -> Digests:
    sha256, md5, crc = hashlib.sha256(), hashlib.md5(), google_crc32c.Checksum()
    size = 0
    chunks = [source] if isinstance(source, bytes) else _chunks(source)
    for chunk in chunks:
        sha256.update(chunk)
        md5.update(chunk)
        crc.update(chunk)
        size += len(chunk)
    return Digests(
        size, sha256.hexdigest(), md5.hexdigest(), base64.b64encode(crc.digest()).decode()
    )


def _chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@dataclass(frozen=True)
class ObjectInfo:
    path: str  # relative to the bucket's root (its prefix, for GCS)
    size: int
    md5: str | None  # hex; GCS has none for composite objects
    crc32c: str
    generation: int | None

    def holds(self, digests: Digests) -> bool:
        return (
            self.size == digests.size
            and self.crc32c == digests.crc32c
            and self.md5 in (None, digests.md5)
        )


class ReleaseBucket(Protocol):
    """Where releases go. Paths are `/`-separated and relative to the bucket's root."""

    target: str

    def stat(self, path: str) -> ObjectInfo | None: ...

    def create(
        self, path: str, source: Path | bytes, *, content_type: str, cache_control: str
    ) -> ObjectInfo:
        """Write a new object; raises ObjectExists if there is one already (never replaces)."""
        ...

    def copy(
        self, source: ObjectInfo, path: str, *, content_type: str, cache_control: str
    ) -> ObjectInfo:
        """Replace `path` with `source`'s bytes in one step: readers see the old or the new."""
        ...

    def list(self, prefix: str) -> list[str]: ...

    def read(self, path: str) -> bytes: ...

    def download(self, path: str, target: Path) -> None:
        """Copy an object into the local file `target`, streaming (not through memory)."""
        ...

    def delete(self, path: str) -> None: ...

    def exclusive(self) -> contextlib.AbstractContextManager:
        """Held while publishing: publishes through the same backend wait for each other where
        the backend has a lock (a local directory); GCS has none, and needs none (its writes are
        conditional or whole-object)."""
        ...

    def remove_leftovers(self) -> list[str]:
        """Remove what an interrupted publish left that is no object (temporary files); returns
        their paths. Called under `exclusive()`."""
        ...


class GcsReleaseBucket:
    def __init__(self, bucket, prefix: str = "", retry=None):
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.bucket, self.prefix = bucket, prefix.strip("/")
        # Transient errors (429, 5xx, dropped connections) are retried with exponential backoff.
        # Creation is conditional (ifGenerationMatch=0), so a retried upload that had in fact
        # succeeded fails its precondition, and `create`'s caller then verifies the content.
        self.retry = retry or DEFAULT_RETRY
        self.target = f"gs://{bucket.name}/{self.prefix}".rstrip("/")

    def _name(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _url(self, path: str) -> str:
        return f"gs://{self.bucket.name}/{self._name(path)}"

    @staticmethod
    def _info(path: str, blob) -> ObjectInfo:
        md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None
        return ObjectInfo(path, int(blob.size), md5, blob.crc32c, blob.generation)

    def stat(self, path: str) -> ObjectInfo | None:
        with _naming(self._url(path)):
            blob = self.bucket.get_blob(self._name(path), retry=self.retry)
        return None if blob is None else self._info(path, blob)

    def create(self, path, source, *, content_type, cache_control) -> ObjectInfo:
        from google.api_core.exceptions import PreconditionFailed

        blob = self.bucket.blob(self._name(path), chunk_size=CHUNK_SIZE)
        blob.cache_control = cache_control
        # crc32c: computed while sending and checked against the server's
        options = dict(
            content_type=content_type, if_generation_match=0, checksum="crc32c", retry=self.retry
        )
        try:
            with _naming(self._url(path)):
                if isinstance(source, bytes):
                    blob.upload_from_string(source, **options)
                else:
                    blob.upload_from_filename(str(source), **options)
        except PreconditionFailed as error:
            raise ObjectExists(path) from error
        return self._info(path, blob)

    def copy(self, source, path, *, content_type, cache_control) -> ObjectInfo:
        # A server-side rewrite rather than copy_blob: it sets the destination's own metadata
        # (current/ must not carry the versioned 'immutable' Cache-Control even for a moment)
        # and works for objects of any size. The source generation pins the verified bytes.
        origin = self.bucket.blob(self._name(source.path), generation=source.generation)
        blob = self.bucket.blob(self._name(path))
        blob.content_type, blob.cache_control = content_type, cache_control
        token = None
        with _naming(self._url(path)):
            while True:
                token, _, _ = blob.rewrite(origin, token=token, retry=self.retry)
                if token is None:
                    return self._info(path, blob)

    def list(self, prefix: str) -> list[str]:
        start = len(self._name(""))
        with _naming(self._url(prefix)):
            blobs = self.bucket.client.list_blobs(
                self.bucket, prefix=self._name(prefix), retry=self.retry
            )
            return sorted(blob.name[start:] for blob in blobs)

    def read(self, path: str) -> bytes:
        return self.bucket.blob(self._name(path)).download_as_bytes(retry=self.retry)

    def download(self, path: str, target: Path) -> None:
        blob = self.bucket.blob(self._name(path))
        blob.download_to_filename(str(target), checksum="crc32c", retry=self.retry)

    def delete(self, path: str) -> None:
        from google.api_core.exceptions import NotFound

        # NotFound: gone already, e.g. a retried delete whose first try went through
        with contextlib.suppress(NotFound), _naming(self._url(path)):
            self.bucket.delete_blob(self._name(path), retry=self.retry)

    def exclusive(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def remove_leftovers(self) -> list[str]:
        # An unfinished resumable upload or rewrite leaves no object behind.
        return []


class LocalReleaseBucket:
    """The same layout in a directory. Files are written under a hidden temporary name and then
    linked (new, never replacing) or renamed (replacing) into place, so no reader sees half. A
    temporary file is removed when its write fails (a full disk); one a killed publish left is
    removed by the next publish (`remove_leftovers`). Publishes to one directory take turns
    (`exclusive`: an advisory lock on `.release.lock` in it, which the system drops with the
    process)."""

    LOCK = ".release.lock"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.target = str(self.root)

    def _info(self, path: str) -> ObjectInfo:
        file = self.root / path
        digests = digests_of(file)
        return ObjectInfo(path, digests.size, digests.md5, digests.crc32c, file.stat().st_mtime_ns)

    def stat(self, path: str) -> ObjectInfo | None:
        return self._info(path) if (self.root / path).is_file() else None

    def _temporary(self, final: Path, source: Path | bytes) -> Path:
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
        os.close(handle)
        temporary = Path(name)
        try:
            if isinstance(source, bytes):
                temporary.write_bytes(source)
            else:
                shutil.copyfile(source, temporary)
            temporary.chmod(0o644)  # mkstemp's 0600 would hide a published file from other users
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return temporary

    def create(self, path, source, *, content_type, cache_control) -> ObjectInfo:
        final = self.root / path
        temporary = self._temporary(final, source)
        try:
            os.link(temporary, final)  # unlike rename, fails if the file exists
        except FileExistsError as error:
            raise ObjectExists(path) from error
        finally:
            temporary.unlink()
        return self._info(path)

    def copy(self, source, path, *, content_type, cache_control) -> ObjectInfo:
        final = self.root / path
        temporary = self._temporary(final, self.root / source.path)
        try:
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self._info(path)

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            file.relative_to(self.root).as_posix()
            for file in base.rglob("*")
            if file.is_file() and not file.name.startswith(".")
        )

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def download(self, path: str, target: Path) -> None:
        shutil.copyfile(self.root / path, target)

    def delete(self, path: str) -> None:
        (self.root / path).unlink(missing_ok=True)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / self.LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def remove_leftovers(self) -> list[str]:
        # Temporary names are hidden files beside the objects, in <version or current>/<ARTIFACTS>/.
        removed = []
        for file in sorted(self.root.glob(f"*/{ARTIFACTS}/.*")):
            if file.is_file() and not file.is_symlink():
                file.unlink(missing_ok=True)
                removed.append(file.relative_to(self.root).as_posix())
        return removed


def open_bucket(target: str, client=None, retry=None) -> ReleaseBucket:
    """`gs://bucket[/prefix]` (with `client`, or a `storage.Client()`, which honours
    STORAGE_EMULATOR_HOST) or a local directory."""
    if target.startswith("gs://"):
        name, _, prefix = target.removeprefix("gs://").partition("/")
        if not name:
            raise ValueError(f"no bucket name in {target!r}")
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        return GcsReleaseBucket(client.bucket(name), prefix, retry)
    return LocalReleaseBucket(Path(target))


def configure_bucket(
    bucket: GcsReleaseBucket, *, origins: Sequence[str] = ("*",), public_read: bool = False
) -> None:
    """CORS for browser reads (GET/HEAD with Range) and, if asked, public read for allUsers."""
    gcs = bucket.bucket
    gcs.cors = [
        {
            "origin": list(origins),
            "method": ["GET", "HEAD"],
            "responseHeader": CORS_HEADERS,
            "maxAgeSeconds": 3600,
        }
    ]
    gcs.patch(retry=bucket.retry)
    if public_read:
        policy = gcs.get_iam_policy(requested_policy_version=3, retry=bucket.retry)
        role = "roles/storage.objectViewer"
        if not any(b["role"] == role and "allUsers" in b["members"] for b in policy.bindings):
            policy.bindings.append({"role": role, "members": {"allUsers"}})
            gcs.set_iam_policy(policy, retry=bucket.retry)


# --- publishing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One object done: action is uploaded, verified (already there, same content), copied,
    unchanged (current/ already had it) or deleted."""

    action: str
    path: str
    size: int


@dataclass(frozen=True)
class PublishedObject:
    path: str
    size: int
    sha256: str
    md5: str
    generation: int | None  # the local backend's is the file's mtime in ns
    action: str


@dataclass
class PublishReport:
    target: str
    release_version: str
    idc_version: int
    created: str
    objects: dict[str, PublishedObject] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    @property
    def bytes_uploaded(self) -> int:
        return sum(o.size for o in self.objects.values() if o.action == "uploaded")

    @property
    def bytes_copied(self) -> int:
        return sum(o.size for o in self.objects.values() if o.action == "copied")


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _each(pool: ThreadPoolExecutor, function: Callable, items: Iterable) -> list:
    """`function` over `items` in the pool; the first error cancels what has not started."""
    futures = [pool.submit(function, item) for item in items]
    _, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in pending:
        future.cancel()
    wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()
    return [future.result() for future in futures]


def release_file_names(release_version: str, indices: Iterable[str]) -> tuple[set[str], set[str]]:
    """The files a release of `indices` is made of: those it must have (each index's four files,
    `validation.index_file_names`) and those it may have (the wheel of `release_version` and its
    checksum, the release notes)."""
    required = {file for name in indices for file in index_file_names(name).values()}
    wheel = wheel_filename(release_version)
    return required, {wheel, f"{wheel}.sha256", NOTES_JSON, NOTES_MARKDOWN}


def validate_release(
    directory: Path,
    release_version: str,
    idc_version: int,
    *,
    indices: Iterable[str] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> dict[str, Digests]:
    """Every publishable file of `directory` with its digests; raises ReleaseRefused if the release
    version does not fit the IDC version, an index lacks a file, a parquet embeds other versions,
    a checksum does not match, or the directory holds anything else than the files of the
    release (`release_file_names`; `indices` by default every index the registry builds by
    default, and any other registered index whose parquet is there): a symbolic
    link, a directory or a stray file is refused with its path, never published. Hidden names
    (a build's staging directories and temporary files) are not part of a release and are
    left alone."""
    problems = []
    match = _RELEASE_VERSION.fullmatch(release_version)
    if match is None:
        problems.append(f"release version {release_version!r} is not X.Y.Z")
    elif int(match[1]) != idc_version:
        problems.append(f"release version {release_version} is not for IDC version {idc_version}")
    if indices is None:  # every index the registry builds by default, and the others present
        indices = [s.name for s in INDICES]
        indices += [s.name for s in RELEASED_INDICES if (directory / f"{s.name}.parquet").exists()]
    names = sorted(set(indices))
    required, optional = release_file_names(release_version, names)
    paths = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_symlink():
            problems.append(
                f"{path}: a symbolic link (to {os.readlink(path)}); a release publishes only "
                "regular files"
            )
        elif not path.is_file():
            problems.append(f"{path}: not a regular file; a release publishes only regular files")
        elif path.name.endswith(".whl") and path.name not in optional:
            # idc_index_data-<version>-py3-none-any.whl: a wheel left from another version's build
            problems.append(f"{path.name}: a wheel of another version than {release_version}")
        elif path.name == MANIFEST:
            problems.append(f"{MANIFEST}: reserved for the manifest the publish writes")
        elif path.name not in required | optional:
            problems.append(
                f"{path}: not a file of release {release_version} (each index's four files, "
                "the wheel and its checksum, the release notes); remove it"
            )
        else:
            paths.append(path)
    if not paths:
        problems.append(f"{directory}: no files to publish")
    for name in names:
        missing = [p.name for p in index_files(directory, name).values() if p not in paths]
        problems += [f"{file}: missing" for file in missing if not (directory / file).is_symlink()]
        if not missing:
            problems += check_integrity(
                directory, name, release_version=release_version, idc_version=idc_version
            )
    hashed = (pool.map if pool else map)(digests_of, paths)
    files = {path.name: digests for path, digests in zip(paths, hashed, strict=True)}
    for sidecar in (name for name in files if name.endswith(".sha256")):
        target = sidecar.removesuffix(".sha256")
        if target.endswith(".parquet"):
            continue  # check_integrity covered it
        recorded = read_sidecar(directory / sidecar, target)
        if target not in files or recorded != files[target].sha256:
            problems.append(f"{sidecar}: does not match {target}")
    if problems:
        raise ReleaseRefused(f"not publishing {directory} as release {release_version}", problems)
    return files


def _manifest(release_version: str, idc_version: int, created: str, files: dict[str, Digests]):
    return {
        "version": release_version,
        "idc_version": idc_version,
        "created": created,
        "files": [
            {"name": name, "size": d.size, "sha256": d.sha256, "md5": d.md5}
            for name, d in sorted(files.items())
        ],
    }


def _encode(document: dict) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def release_manifest(
    release_version: str, idc_version: int, created: str, files: dict[str, Digests]
) -> bytes:
    """The `release_manifest.json` of a release: version, IDC version, creation time (ISO 8601,
    UTC) and each file's name, size, sha256 and md5."""
    return _encode(_manifest(release_version, idc_version, created, files))


def lists_same_files(manifest: bytes, files: dict[str, Digests]) -> bool:
    """Whether an earlier manifest lists exactly these files with these digests."""
    try:
        document = json.loads(manifest)
    except ValueError:
        return False
    return (
        isinstance(document, dict) and document.get("files") == _manifest("", 0, "", files)["files"]
    )


def publish_release(
    directory: Path,
    bucket: ReleaseBucket,
    release_version: str,
    idc_version: int,
    *,
    indices: Iterable[str] | None = None,
    blocking_failures: Sequence[str] = (),
    files: dict[str, Digests] | None = None,
    concurrency: int = 4,
    progress: Callable[[Step], None] | None = None,
    log: Callable[[str], None] = _log.info,
) -> PublishReport:
    """Publish the files of `directory` as release `release_version` of IDC version `idc_version`.

    Refuses (ReleaseRefused, nothing written) on any blocking check failure given, an invalid
    release (see `validate_release`; `indices` are the ones that must be there, by default every
    registered index), or a version already published with other content. `files`: what
    `validate_release` returned for `directory`, when the caller validated it already. `progress`
    is called from worker threads after each object."""
    directory = Path(directory)
    if blocking_failures:
        raise ReleaseRefused(
            f"not publishing release {release_version}: blocking checks failed", blocking_failures
        )
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        if files is None:
            files = validate_release(
                directory, release_version, idc_version, indices=indices, pool=pool
            )
        with bucket.exclusive():
            for leftover in bucket.remove_leftovers():
                log(f"removed {leftover}, left by an interrupted publish")
            return _publish(
                directory, bucket, release_version, idc_version, files, pool, progress, log
            )


def _publish(
    directory: Path,
    bucket: ReleaseBucket,
    release_version: str,
    idc_version: int,
    files: dict[str, Digests],
    pool: ThreadPoolExecutor,
    progress: Callable[[Step], None] | None,
    log: Callable[[str], None],
) -> PublishReport:
    versioned, current = f"{release_version}/{ARTIFACTS}/", f"{CURRENT}/{ARTIFACTS}/"
    log(f"publishing {len(files)} files as release {release_version} to {bucket.target}")

    # Immutability: an existing version must hold exactly these bytes, else nothing is written.
    existing = set(bucket.list(versioned))
    problems = [
        f"{path}: not in this release"
        for path in sorted(existing)
        if path.removeprefix(versioned) not in files and path != versioned + MANIFEST
    ]
    present = [versioned + name for name in files if versioned + name in existing]
    stats = zip(present, _each(pool, bucket.stat, present), strict=True)
    found = {path: info for path, info in stats if info is not None}
    problems += [
        f"{path}: already published with other content"
        for path, info in found.items()
        if not info.holds(files[path.removeprefix(versioned)])
    ]
    created = datetime.now(UTC).isoformat(timespec="seconds")
    if versioned + MANIFEST in existing:
        # A complete earlier publish of the same files: keep its creation time, so the
        # manifest's bytes are the same and a re-run verifies it instead of failing.
        earlier = bucket.read(versioned + MANIFEST)
        if lists_same_files(earlier, files):
            created = json.loads(earlier)["created"]
        else:
            problems.append(f"{versioned}{MANIFEST}: lists other files")
    if problems:
        raise ReleaseRefused(
            f"release {release_version} already exists at {bucket.target} with other "
            "content; nothing was overwritten: bump the release version",
            sorted(problems),
        )

    report = PublishReport(bucket.target, release_version, idc_version, created)
    manifest = release_manifest(release_version, idc_version, created, files)
    digests = {**files, MANIFEST: digests_of(manifest)}

    def record(action: str, info: ObjectInfo) -> ObjectInfo:
        d = digests[info.path.rsplit("/", 1)[-1]]
        report.objects[info.path] = PublishedObject(
            info.path, d.size, d.sha256, d.md5, info.generation, action
        )
        if progress:
            progress(Step(action, info.path, d.size))
        return info

    def adopt(earlier: bytes) -> bool:
        """An identical publish running at the same time wrote its manifest first: the same
        files, another creation time. Its manifest is this release's."""
        if not lists_same_files(earlier, files):
            return False
        report.created = json.loads(earlier)["created"]
        digests[MANIFEST] = digests_of(earlier)
        return True

    def put(name: str) -> ObjectInfo:
        path = versioned + name
        info, action = found.get(path), "verified"
        if info is None:
            source = manifest if name == MANIFEST else directory / name
            try:
                info = bucket.create(
                    path,
                    source,
                    content_type=content_type(name),
                    cache_control=VERSIONED_CACHE,
                )
                action = "uploaded"
            except ObjectExists:  # appeared meanwhile, or a retried upload that succeeded
                info = bucket.stat(path)
                differs = info is not None and not info.holds(digests[name])
                if name == MANIFEST and differs and adopt(bucket.read(path)):
                    info = bucket.stat(path)
        if info is not None and action == "uploaded" and not info.holds(digests[name]):
            raise RuntimeError(
                f"{path}: uploaded bytes differ from {directory / name}'s "
                "when it was validated: was it changed during the publish?"
            )
        if info is None or not info.holds(digests[name]):
            raise ReleaseRefused(
                f"release {release_version} exists with other content; nothing was "
                "overwritten: bump the release version",
                [f"{path}: differs from {directory / name}"],
            )
        return record(action, info)

    def replace(source: ObjectInfo) -> None:
        name = source.path.removeprefix(versioned)
        path = current + name
        info = bucket.stat(path)
        if info is not None and info.holds(digests[name]):
            record("unchanged", info)
            return
        cache = MANIFEST_CACHE if name == MANIFEST else CURRENT_CACHE
        info = bucket.copy(source, path, content_type=content_type(name), cache_control=cache)
        if not info.holds(digests[name]):
            raise RuntimeError(f"{path}: the copy does not hold the bytes of {source.path}")
        record("copied", info)

    def replace_group(group: list[ObjectInfo]) -> None:
        for source in group:
            replace(source)

    def delete(path: str) -> None:
        bucket.delete(path)
        report.deleted.append(path)
        if progress:
            progress(Step("deleted", path, 0))

    sources = _each(pool, put, sorted(files))
    manifest_info = put(MANIFEST)  # last: the version is complete
    log(f"{versioned}: {len(files)} files, {report.bytes_uploaded} bytes uploaded")
    # An index's files one after the other (the parquet, then at once its checksum, schema
    # and SQL), the indices in parallel: current/ holds a parquet without its own checksum
    # for one copy's time at most.
    _each(pool, replace_group, _by_index(sources, versioned))
    # The manifest once every new file is in place, the stale files' deletion after it: at any
    # moment current/ holds every file of the release its manifest names.
    replace(manifest_info)
    stale = [p for p in bucket.list(current) if p.removeprefix(current) not in digests]
    _each(pool, delete, stale)
    log(f"{current}: now release {release_version}, {len(stale)} stale files deleted")
    return report


def _by_index(sources: list[ObjectInfo], prefix: str) -> list[list[ObjectInfo]]:
    """The objects grouped by the index (or other file) they belong to, each group in copy order:
    the parquet first, its checksum right after it."""
    groups: dict[str, list[ObjectInfo]] = {}
    for source in sources:
        name = source.path.removeprefix(prefix)
        stem = re.sub(r"(\.parquet\.sha256|\.parquet|_schema\.json|\.sql|\.sha256)$", "", name)
        groups.setdefault(stem, []).append(source)
    order = (".parquet", ".parquet.sha256", "_schema.json", ".sql")

    def rank(source: ObjectInfo) -> int:
        name = source.path.removeprefix(prefix)
        return next((i for i, end in enumerate(order) if name.endswith(end)), len(order))

    return [sorted(group, key=rank) for _, group in sorted(groups.items())]
