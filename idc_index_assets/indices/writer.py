"""Writing an index's artifacts: `<name>.parquet` (zstd, provenance in the schema metadata),
`<name>.parquet.sha256`, `<name>_schema.json` and `<name>.sql`.

Batches stream from the engine into the Parquet writer, which writes through a file object that
hashes the bytes as they go, so memory stays bounded and the file is never read back to hash it
(on GCS the bytes go up as a resumable upload while they are written: no local copy). The four
files are written under a private staging directory (`<version>/.staging/<name>.<random>/`) and
validated there; only a valid set replaces the previous one, file by file in one step each (a
rename locally, a server-side copy on GCS), the parquet and its checksum last. A failed or killed
build leaves the previous good files intact (and at most a staging directory, never read).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from idc_index_assets.indices.contract import (
    ContractMismatch,
    IndexContract,
    conform_batch,
    target_schema,
)
from idc_index_assets.indices.layout import write_parquet_file
from idc_index_assets.indices.queries import ColumnDoc
from idc_index_assets.indices.store import ArtifactDirectory
from idc_index_assets.indices.validation import (
    CONTRACT_CHECK,
    IDC_VERSION_KEY,
    INTEGRITY_CHECK,
    QUERY_SHA256_KEY,
    RELEASE_VERSION_KEY,
    as_directory,
    check_contract,
    check_integrity,
    columns_of,
    index_file_names,
    read_parquet_schema,
)

# Publishing order: the parquet and its checksum last, so the newest pair is always consistent.
_PUBLISH_ORDER = ("sql", "schema", "parquet", "sha256")


class ArtifactValidationError(RuntimeError):
    """The new artifacts broke the contract or failed integrity; the previous ones were kept."""

    def __init__(self, name: str, problems: dict[str, list[str]]):
        self.name, self.problems = name, problems
        listed = [f"{check}: {problem}" for check, found in problems.items() for problem in found]
        super().__init__(
            f"{name}: new artifacts rejected, previous ones kept: " + "; ".join(listed)
        )


@dataclass(frozen=True)
class WrittenIndex:
    name: str
    directory: ArtifactDirectory
    rows: int
    bytes: int
    sha256: str
    schema: pa.Schema

    @property
    def parquet(self) -> str:
        """The parquet's local path or gs:// URL."""
        return self.directory.label(f"{self.name}.parquet")


class _HashingWriter:
    """A write-only binary file that computes the SHA-256 of what passes through it."""

    def __init__(self, file: pa.NativeFile):
        self._file = file
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        self.digest.update(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self.closed = True


def _write_parquet(
    sink: _HashingWriter,
    schema: pa.Schema,
    batches: pa.RecordBatchReader,
    bloom_filters: tuple[str, ...],
) -> int:
    """Stream the batches, conformed to the schema, into Parquet laid out by `layout`; returns
    the rows written."""
    conformed = (conform_batch(batch, schema) for batch in batches)
    return write_parquet_file(sink, schema, conformed, bloom_filters=bloom_filters)


def write_index(
    directory: ArtifactDirectory | Path,
    *,
    contract: IndexContract,
    batches: pa.RecordBatchReader,
    table_description: str,
    column_docs: tuple[ColumnDoc, ...],
    sql: str,
    release_version: str,
    idc_version: int,
    bloom_filters: tuple[str, ...] = (),
) -> WrittenIndex:
    """Write, validate and move into place the index's four files (see the module docstring);
    `bloom_filters` names the columns whose row groups carry a Bloom filter (`layout`). Raises
    ArtifactValidationError, keeping the previous files, when the new ones fail a check."""
    name = contract.name
    result_names = batches.schema.names
    if result_names != contract.column_names:
        raise ArtifactValidationError(
            name,
            {
                CONTRACT_CHECK: [
                    f"query returns columns {result_names}, contract says {contract.column_names}"
                ]
            },
        )
    directory = as_directory(directory)
    staging = directory.staging(name)
    try:
        files = index_file_names(name)
        schema = target_schema(contract, batches.schema).with_metadata(
            {
                RELEASE_VERSION_KEY: release_version,
                IDC_VERSION_KEY: str(idc_version),
                QUERY_SHA256_KEY: hashlib.sha256(sql.encode()).hexdigest(),
                b"index_name": name,
            }
        )
        sink = _HashingWriter(staging.open_output(files["parquet"]))
        rows = 0
        try:
            rows = _write_parquet(sink, schema, batches, bloom_filters)
        except ContractMismatch as error:
            raise ArtifactValidationError(name, {CONTRACT_CHECK: [str(error)]}) from error
        finally:
            sink.close()
        digest = sink.digest.hexdigest()
        staging.write_text(files["sha256"], f"{digest}  {name}.parquet\n")
        descriptions = {doc.name: doc.description for doc in column_docs}
        document = {
            "table_description": table_description,
            "columns": [
                {**column, "description": descriptions[column["name"]]}
                for column in columns_of(read_parquet_schema(staging, files["parquet"]))
            ],
        }
        staging.write_text(files["schema"], json.dumps(document, indent=2) + "\n")
        staging.write_text(files["sql"], sql)
        problems = {
            CONTRACT_CHECK: check_contract(staging, contract),
            INTEGRITY_CHECK: check_integrity(
                staging, name, release_version=release_version, idc_version=idc_version
            ),
        }
        if any(problems.values()):
            raise ArtifactValidationError(name, problems)
        for key in _PUBLISH_ORDER:
            directory.move_in(staging, files[key])
        return WrittenIndex(
            name=name,
            directory=directory,
            rows=rows,
            bytes=directory.size(files["parquet"]),
            sha256=digest,
            schema=schema,
        )
    finally:
        staging.remove()
