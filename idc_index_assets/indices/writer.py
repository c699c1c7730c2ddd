"""Writing an index's artifacts: `<name>.parquet` (zstd, provenance in the schema metadata),
`<name>.parquet.sha256`, `<name>_schema.json` and `<name>.sql`.

Batches stream from the engine into the Parquet writer, which writes through a file object that
hashes the bytes as they go, so memory stays bounded and the file is never read back to hash it
(on GCS the bytes go up as a resumable upload while they are written: no local copy). The four
files are written under a private staging directory (`<version>/.staging/<name>.<random>/`) and
every blocking check runs there; only a set that passed them all replaces the previous one, as one
commit (`ArtifactDirectory.commit`: a commit record written in one step is the point where the
index turns from the old set to the new one). A failed or killed build leaves the previous files
byte-identical (and at most a staging directory, never read).

The parquet ties its sidecars to itself: its metadata holds the SHA-256 of the `.sql` that ran
(`query_sha256`) and of its `_schema.json` (`schema_sha256`), and the `.sha256` holds its own
digest, so `integrity` (and `verify`) find any file of one build beside files of another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from idc_index_assets.indices.checks import Outcome, contract_outcomes
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
    QUERY_SHA256_KEY,
    RELEASE_VERSION_KEY,
    SCHEMA_SHA256_KEY,
    as_directory,
    columns_of,
    index_file_names,
)

# The order the commit moves the files in (the parquet last); readers never see the files
# between, since a directory is settled before it is read (`ArtifactDirectory.settle`).
_PUBLISH_ORDER = ("sql", "schema", "sha256", "parquet")


class ArtifactValidationError(RuntimeError):
    """A blocking check failed on the new (staged) artifacts; the previous ones were kept.
    `outcomes` are every check's result on them (passed ones too), for the asset to report."""

    def __init__(self, name: str, outcomes: Sequence[Outcome]):
        self.name, self.outcomes = name, list(outcomes)
        self.problems = {o.name: o.problems for o in self.outcomes if o.blocking and o.problems}
        listed = [f"{check}: {p}" for check, found in self.problems.items() for p in found]
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
    # every check's result on the files, evaluated before they replaced the previous ones
    outcomes: tuple[Outcome, ...] = ()

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
    checks: Callable[[ArtifactDirectory, int], Sequence[Outcome]] | None = None,
) -> WrittenIndex:
    """Write the four files into staging, run `checks(staging, rows)` on them (default: contract
    and integrity), and commit them only when no blocking check failed (see the module
    docstring); `bloom_filters` names the columns whose row groups carry a Bloom filter
    (`layout`). Raises ArtifactValidationError, keeping the previous files byte-identical, when a
    blocking check fails."""
    name = contract.name
    result_names = batches.schema.names
    if result_names != contract.column_names:
        problem = f"query returns columns {result_names}, contract says {contract.column_names}"
        raise ArtifactValidationError(name, [Outcome(CONTRACT_CHECK, [problem])])
    directory = as_directory(directory)
    if checks is None:

        def checks(staged: ArtifactDirectory, rows: int) -> list[Outcome]:
            return contract_outcomes(
                contract, staged, release_version=release_version, idc_version=idc_version
            )

    staging = directory.staging(name)
    try:
        files = index_file_names(name)
        schema = target_schema(contract, batches.schema)
        descriptions = {doc.name: doc.description for doc in column_docs}
        document = {
            "table_description": table_description,
            "columns": [
                {**column, "description": descriptions[column["name"]]}
                for column in columns_of(schema)
            ],
        }
        schema_text = json.dumps(document, indent=2) + "\n"
        schema = schema.with_metadata(
            {
                RELEASE_VERSION_KEY: release_version,
                IDC_VERSION_KEY: str(idc_version),
                QUERY_SHA256_KEY: hashlib.sha256(sql.encode()).hexdigest(),
                SCHEMA_SHA256_KEY: hashlib.sha256(schema_text.encode()).hexdigest(),
                b"index_name": name,
            }
        )
        sink = _HashingWriter(staging.open_output(files["parquet"]))
        rows = 0
        try:
            rows = _write_parquet(sink, schema, batches, bloom_filters)
        except ContractMismatch as error:
            raise ArtifactValidationError(name, [Outcome(CONTRACT_CHECK, [str(error)])]) from error
        finally:
            sink.close()
        digest = sink.digest.hexdigest()
        staging.write_text(files["sha256"], f"{digest}  {name}.parquet\n")
        staging.write_text(files["schema"], schema_text)
        staging.write_text(files["sql"], sql)
        outcomes = tuple(checks(staging, rows))
        if any(o.blocking and not o.passed for o in outcomes):
            raise ArtifactValidationError(name, outcomes)
        directory.commit(staging, [files[key] for key in _PUBLISH_ORDER])
        return WrittenIndex(
            name=name,
            directory=directory,
            rows=rows,
            bytes=directory.size(files["parquet"]),
            sha256=digest,
            schema=schema,
            outcomes=outcomes,
        )
    finally:
        staging.remove()
