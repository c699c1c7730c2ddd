"""Where an index's artifacts are written and read: the `ArtifactStore` resource and the
`ArtifactDirectory` of one IDC version in it.

The store's root (`IDC_ARTIFACTS_DIR`) is a local directory or a GCS prefix `gs://bucket[/prefix]`,
with the same layout either way: `<root>/<idc_version>/<index>.parquet` and its sidecars, the
wheel and the release notes. Every step of every run, on any machine, reads and writes the same
files through it: on GCS through google-cloud-storage (credentials from Application Default
Credentials, `STORAGE_EMULATOR_HOST` honoured), seen as a pyarrow filesystem so that Parquet is
written and read in the same way in both places, and DuckDB reads an artifact as a pyarrow dataset
(by ranged reads of the object, through Python; no DuckDB extension is needed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from dagster import ConfigurableResource, InitResourceContext
from dagster._core.storage.tags import PARTITION_NAME_TAG
from pydantic import Field

from idc_index_assets.settings import GCS_SCHEME, parse_release_version, split_gcs_url

# Resumable uploads go up in chunks of this size (GCS wants multiples of 256 KiB): memory per
# open upload, and what a transient error costs to resend.
UPLOAD_CHUNK_BYTES = 8 << 20
# Ranged reads of this size: a Parquet footer costs one request, a column chunk a few.
READ_CHUNK_BYTES = 4 << 20
_STAGING = ".staging"
_COMMITS = ".commit"
_COPY_CHUNK = 1 << 20


class ArtifactStore(ConfigurableResource):
    """The artifacts of every IDC version: `<root>/<idc_version>/<index>.parquet` and sidecars,
    `root` being a local directory or `gs://bucket[/prefix]`."""

    root: str = Field(
        default="data/artifacts",
        description="Artifacts root: a local directory or gs://bucket[/prefix]",
    )
    release_version: str = Field(
        default="", description="idc-index-data version X.Y.Z written into artifacts (empty: N.0.0)"
    )
    gcp_project: str = Field(default="", description="GCP project of the GCS client (empty: ADC's)")

    def location(self, idc_version: int) -> ArtifactDirectory:
        """The directory of one IDC version (not created until something is written to it), with
        any commit a killed build left half-applied completed first (`ArtifactDirectory.settle`)."""
        directory = open_location(self.root, self.gcp_project).subdirectory(str(idc_version))
        directory.settle()
        return directory

    def directory(self, idc_version: int) -> Path:
        """The local directory of one IDC version. Raises ValueError for a store on GCS, whose
        readers use `location()`."""
        local = self.location(idc_version).local_path
        if local is None:
            raise ValueError(f"{self.root} is not a local directory")
        return local

    def release_version_for(self, idc_version: int) -> str:
        return parse_release_version(self.release_version or f"{idc_version}.0.0")

    def version_tags(self, idc_version: int) -> dict[str, str]:
        """The tags of every run of one IDC version: `idc_version`, `release_version`."""
        return {
            "idc_version": str(idc_version),
            "release_version": self.release_version_for(idc_version),
        }

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Gives a run of one IDC version that was launched without them (from an asset page or
        a backfill in the UI, or `dg launch`) the tags the command line, the sensor and the
        schedules launch theirs with, so that runs are found by version alike. Every step of
        such a run uses this store, and the first one that starts tags the run."""
        run = context.run
        partition = run.tags.get(PARTITION_NAME_TAG) if run else None
        if not partition or not partition.isdigit() or context.instance is None:
            return
        try:
            tags = self.version_tags(int(partition))
        except ValueError:  # a malformed IDC_RELEASE_VERSION: the step itself reports it
            return
        missing = {name: value for name, value in tags.items() if name not in run.tags}
        if missing:
            try:
                context.instance.add_run_tags(run.run_id, missing)
            except Exception as error:  # a tag is not worth failing a step for
                context.log.warning(f"could not tag the run with {missing}: {error}")


def open_location(target: str | Path, gcp_project: str = "") -> ArtifactDirectory:
    """A local directory or `gs://bucket[/prefix]` as an ArtifactDirectory. Raises ValueError for
    a gs:// URL without a bucket name."""
    text = str(target)
    if not text.startswith(GCS_SCHEME):
        local = Path(text).absolute()
        return ArtifactDirectory(pafs.LocalFileSystem(), local.as_posix(), str(local))
    bucket, prefix = split_gcs_url(text)
    path = f"{bucket}/{prefix}".rstrip("/")
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    return ArtifactDirectory(_gcs_filesystem(gcp_project, emulator), path, GCS_SCHEME + path)


@dataclass(frozen=True)
class ArtifactDirectory:
    """A directory of artifacts on a pyarrow filesystem: `path` is the directory in `filesystem`,
    `url` how it is shown (a local path or gs://bucket/prefix/N). File names are bare (`x.parquet`).
    Reads raise FileNotFoundError for a missing file."""

    filesystem: pafs.FileSystem
    path: str
    url: str

    @classmethod
    def local(cls, directory: Path | str) -> ArtifactDirectory:
        return open_location(Path(directory))

    @property
    def local_path(self) -> Path | None:
        """The directory on this machine, or None when it is in object storage."""
        return Path(self.path) if isinstance(self.filesystem, pafs.LocalFileSystem) else None

    def file(self, name: str) -> str:
        return f"{self.path}/{name}"

    def label(self, name: str) -> str:
        """How a file is named in messages: its local path or gs:// URL."""
        return f"{self.url}/{name}"

    def subdirectory(self, name: str) -> ArtifactDirectory:
        return ArtifactDirectory(self.filesystem, self.file(name), self.label(name))

    def exists(self, name: str) -> bool:
        info = self.filesystem.get_file_info(self.file(name))
        return info.type == pafs.FileType.File

    def size(self, name: str) -> int:
        info = self.filesystem.get_file_info(self.file(name))
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(self.label(name))
        return info.size

    def names(self) -> list[str]:
        """The files directly in the directory, hidden ones (staging) excluded, sorted."""
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        return sorted(
            info.base_name
            for info in infos
            if info.type == pafs.FileType.File and not info.base_name.startswith(".")
        )

    def open_input(self, name: str) -> pa.NativeFile:
        """A seekable reader (ranged reads on GCS)."""
        return self.filesystem.open_input_file(self.file(name))

    def open_output(self, name: str) -> pa.NativeFile:
        """A writer replacing the file when closed (a resumable upload on GCS: the object exists,
        whole, only once the writer is closed)."""
        self._make_parent()
        return self.filesystem.open_output_stream(self.file(name))

    def read_bytes(self, name: str) -> bytes:
        with self.filesystem.open_input_stream(self.file(name)) as handle:
            return handle.read()

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a whole file in one step: readers see the old file or the new one."""
        with tempfile.NamedTemporaryFile() as temporary:
            temporary.write(data)
            temporary.flush()
            self.upload(Path(temporary.name), name)

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode())

    def upload(self, source: Path, name: str | None = None) -> None:
        """Stream a local file into the directory as `name` (the source's own by default), in
        one step: a hidden temporary file renamed into place locally, one upload on GCS (an
        object exists only once complete). Nothing to do for the file itself."""
        name = name or source.name
        local = self.local_path
        if local is None:
            with open(source, "rb") as reader, self.open_output(name) as writer:
                shutil.copyfileobj(reader, writer, _COPY_CHUNK)
            return
        target = local / name
        if target.exists() and target.samefile(source):
            return
        local.mkdir(parents=True, exist_ok=True)
        with (
            open(source, "rb") as reader,
            tempfile.NamedTemporaryFile(dir=local, prefix=f".{name}.", delete=False) as out,
        ):
            shutil.copyfileobj(reader, out, _COPY_CHUNK)
        Path(out.name).chmod(0o644)  # NamedTemporaryFile's 0600 would hide it from other users
        Path(out.name).replace(target)

    def subdirectories(self) -> list[str]:
        """The names of the directories directly in this one, hidden ones excluded, sorted."""
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return sorted(
            info.base_name
            for info in self.filesystem.get_file_info(selector)
            if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
        )

    def download(self, name: str, target: Path) -> None:
        """Stream a file into a local file (not through memory)."""
        with (
            self.filesystem.open_input_stream(self.file(name)) as reader,
            open(target, "wb") as out,
        ):
            shutil.copyfileobj(reader, out, _COPY_CHUNK)

    def move_in(self, source: ArtifactDirectory, name: str) -> None:
        """Replace `name` with the same-named file of `source` (on this filesystem) in one step:
        readers see the old file or the new one (a rename locally, a server-side copy on GCS)."""
        self.filesystem.move(source.file(name), self.file(name))

    def dataset(self, name: str) -> ds.Dataset:
        """A Parquet file as a pyarrow dataset (DuckDB scans it with projection pushdown)."""
        return ds.dataset(self.file(name), filesystem=self.filesystem, format="parquet")

    def scan(self, connection, name: str) -> str:
        """SQL reading a Parquet file in a DuckDB connection: `read_parquet('<path>')` locally
        (the path taken literally, glob characters too), else the name of a view registered on
        the connection over its dataset."""
        from idc_index_assets.engines.semantics import literal_glob

        local = self.local_path
        if local is not None:
            return "read_parquet('{}')".format(literal_glob(str(local / name)).replace("'", "''"))
        view = f"artifact_{uuid.uuid4().hex}"
        connection.register(view, self.dataset(name))
        return view

    def staging(self, prefix: str) -> ArtifactDirectory:
        """A new, private directory under `.staging/` for files not yet validated."""
        return self.subdirectory(_STAGING).subdirectory(f"{prefix}.{uuid.uuid4().hex}")

    # --- committing a set of files at once -------------------------------------------------------
    #
    # Neither a directory nor a GCS prefix can replace several files in one step, so a set of
    # staged files is committed by a record, `.commit/<key>.json`, naming its staging directory and
    # files, written in one step once everything was checked: that write is the commit point.
    # Before it the previous files are untouched; after it the set is new, even if the process
    # dies while moving the files, because every reader reaches the directory through `settle()`
    # (`ArtifactStore.location`, `verify`), which completes the moves a record names before
    # anything is read. Moving is idempotent (a file already moved is no longer staged), so a
    # commit may be completed by several processes, or again after a crash during completion.

    def commit(self, staging: ArtifactDirectory, names: Sequence[str]) -> None:
        """Make `names` of `staging` (a directory from `staging()`) replace the same-named files
        here, all or none; `staging` is removed."""
        key = staging.path.rsplit("/", 1)[1]
        self.subdirectory(_COMMITS).write_text(f"{key}.json", json.dumps(list(names)) + "\n")
        self._complete(key, list(names))

    def settle(self) -> None:
        """Complete every commit a killed process left half-applied (usually nothing to do: one
        listing of `.commit/`)."""
        records = self.subdirectory(_COMMITS)
        for record in records.names():
            try:
                names = json.loads(records.read_text(record))
            except FileNotFoundError:  # completed meanwhile by another process
                continue
            self._complete(record.removesuffix(".json"), names)

    def _complete(self, key: str, names: list[str]) -> None:
        staging = self.subdirectory(_STAGING).subdirectory(key)
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # moved already
                self.move_in(staging, name)
        staging.remove()
        records = self.subdirectory(_COMMITS)
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(records.file(f"{key}.json"))
        if records.local_path is not None:
            with contextlib.suppress(OSError):  # another commit's record is still there
                records.local_path.rmdir()

    def remove(self) -> None:
        """Delete the directory and everything in it (nothing if it is not there); locally, an
        emptied `.staging/` goes too."""
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_dir(self.path)
        local = self.local_path
        if local is not None and local.parent.name == _STAGING:
            with contextlib.suppress(OSError):  # another build's staging is still there
                local.parent.rmdir()

    @contextlib.contextmanager
    def local_copy(self, names: Sequence[str] | None = None) -> Iterator[Path]:
        """The directory as local files, for readers that need paths (the wheel, the release):
        itself when local; otherwise a temporary directory holding `names` (by default every
        file), downloaded by streaming, and deleted on exit."""
        local = self.local_path
        if local is not None:
            yield local
            return
        with tempfile.TemporaryDirectory(prefix="idc-artifacts-") as temporary:
            for name in self.names() if names is None else names:
                if self.exists(name):
                    self.download(name, Path(temporary) / name)
            yield Path(temporary)

    def _make_parent(self) -> None:
        if self.local_path is not None:
            self.local_path.mkdir(parents=True, exist_ok=True)


# --- GCS as a pyarrow filesystem ------------------------------------------------------------------


@functools.cache
def _gcs_filesystem(gcp_project: str, emulator: str) -> pafs.PyFileSystem:
    """One client per project (and emulator, which the client reads when created)."""
    from dagster_gcp import GCSResource

    return pafs.PyFileSystem(_GcsHandler(GCSResource(project=gcp_project or None).get_client()))


class _GcsHandler(pafs.FileSystemHandler):
    """google-cloud-storage behind pyarrow's filesystem interface. Paths are `bucket/object`.
    Directories are prefixes: creating one is a no-op. Transient errors (429, 5xx, resets) are
    retried by the client with backoff; a resumable upload retries each chunk."""

    def __init__(self, client):
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.client, self.retry = client, DEFAULT_RETRY

    def __eq__(self, other):
        return isinstance(other, _GcsHandler) and other.client is self.client

    def __ne__(self, other):
        return not self == other

    def get_type_name(self) -> str:
        return "gcs"

    def normalize_path(self, path: str) -> str:
        return path.removeprefix(GCS_SCHEME).strip("/")

    def _split(self, path: str) -> tuple[str, str]:
        bucket, _, name = self.normalize_path(path).partition("/")
        return bucket, name

    def _blob(self, path: str, **options):
        bucket, name = self._split(path)
        return self.client.bucket(bucket).blob(name, **options)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos = []
        for path in paths:
            bucket, name = self._split(path)
            blob = self.client.bucket(bucket).get_blob(name, retry=self.retry) if name else None
            if blob is not None:
                mtime = blob.updated
                infos.append(pafs.FileInfo(path, pafs.FileType.File, size=blob.size, mtime=mtime))
            elif name and self._list(bucket, name + "/", max_results=1)[0]:
                infos.append(pafs.FileInfo(path, pafs.FileType.Directory))
            else:
                infos.append(pafs.FileInfo(path, pafs.FileType.NotFound))
        return infos

    def _list(self, bucket: str, prefix: str, **options) -> tuple[list, set[str]]:
        """The objects under a prefix and (with a delimiter) the prefixes below it. Raises
        FileNotFoundError naming the bucket when there is no such bucket."""
        from google.api_core.exceptions import NotFound

        blobs = self.client.list_blobs(bucket, prefix=prefix, retry=self.retry, **options)
        try:
            return list(blobs), set(blobs.prefixes)
        except NotFound as error:
            raise FileNotFoundError(
                f"GCS bucket {bucket} does not exist (or these credentials cannot see it)"
            ) from error

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        bucket, name = self._split(selector.base_dir)
        prefix = f"{name}/" if name else ""
        options = {} if selector.recursive else {"delimiter": "/"}
        blobs, prefixes = self._list(bucket, prefix, **options)
        infos = [
            pafs.FileInfo(f"{bucket}/{blob.name}", pafs.FileType.File, size=blob.size)
            for blob in blobs
        ]
        infos += [
            pafs.FileInfo(f"{bucket}/{sub.rstrip('/')}", pafs.FileType.Directory)
            for sub in sorted(prefixes)
        ]
        if not infos and not selector.allow_not_found:
            raise FileNotFoundError(f"{GCS_SCHEME}{bucket}/{prefix}")
        return infos

    def create_dir(self, path: str, recursive: bool) -> None:
        pass

    def delete_dir(self, path: str) -> None:
        self.delete_dir_contents(path, missing_dir_ok=True)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        from google.api_core.exceptions import NotFound

        bucket, name = self._split(path)
        blobs, _ = self._list(bucket, f"{name}/")
        if not blobs and not missing_dir_ok:
            raise FileNotFoundError(f"{GCS_SCHEME}{bucket}/{name}/")
        for blob in blobs:
            with contextlib.suppress(NotFound):  # a retried delete that had gone through
                blob.delete(retry=self.retry)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete a whole bucket's contents")

    def delete_file(self, path: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self._blob(path).delete(retry=self.retry)
        except NotFound as error:
            raise FileNotFoundError(f"{GCS_SCHEME}{self.normalize_path(path)}") from error

    def copy_file(self, source: str, destination: str) -> None:
        # A rewrite (server-side, any size, in rounds): the destination is replaced in one step.
        from google.api_core.exceptions import NotFound

        origin, target = self._blob(source), self._blob(destination)
        token = None
        while True:
            try:
                token, _, _ = target.rewrite(origin, token=token, retry=self.retry)
            except NotFound as error:
                raise FileNotFoundError(f"{GCS_SCHEME}{self.normalize_path(source)}") from error
            if token is None:
                return

    def move(self, source: str, destination: str) -> None:
        self.copy_file(source, destination)
        self.delete_file(source)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        from google.api_core.exceptions import NotFound

        blob = self._blob(path)
        try:
            blob.reload(retry=self.retry)  # pins the generation: a replaced object fails the read
        except NotFound as error:
            raise FileNotFoundError(f"{GCS_SCHEME}{self.normalize_path(path)}") from error
        reader = blob.open("rb", chunk_size=READ_CHUNK_BYTES, retry=self.retry)
        return pa.PythonFile(reader, mode="r")

    def open_output_stream(self, path: str, metadata) -> pa.NativeFile:
        blob = self._blob(path, chunk_size=UPLOAD_CHUNK_BYTES)
        # ignore_flush: pyarrow flushes; a resumable upload can only send whole chunks.
        writer = blob.open("wb", ignore_flush=True, retry=self.retry, checksum="crc32c")
        return pa.PythonFile(writer, mode="w")

    def open_append_stream(self, path: str, metadata) -> pa.NativeFile:
        raise OSError("GCS objects cannot be appended to")
