"""Validation of an index's artifacts against the output contract and for integrity.

The same functions run inside the build (before the new files replace the previous good ones), in
the Dagster asset checks, and in `idc-index-assets verify`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from idc_index_assets.indices.contract import IndexContract, bigquery_type
from idc_index_assets.indices.store import ArtifactDirectory

CONTRACT_CHECK = "schema_contract"
INTEGRITY_CHECK = "integrity"
RELEASE_VERSION_KEY = b"idc_index_data_version"
IDC_VERSION_KEY = b"idc_version"
QUERY_SHA256_KEY = b"query_sha256"
SCHEMA_SHA256_KEY = b"schema_sha256"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    return sha256_of(ArtifactDirectory.local(Path(path).parent), Path(path).name)


def index_file_names(name: str) -> dict[str, str]:
    """The four files of an index, by kind."""
    return {
        "parquet": f"{name}.parquet",
        "sha256": f"{name}.parquet.sha256",
        "schema": f"{name}_schema.json",
        "sql": f"{name}.sql",
    }


def index_files(directory: Path, name: str) -> dict[str, Path]:
    return {kind: directory / file for kind, file in index_file_names(name).items()}


def as_directory(directory: ArtifactDirectory | Path) -> ArtifactDirectory:
    return (
        directory
        if isinstance(directory, ArtifactDirectory)
        else ArtifactDirectory.local(directory)
    )


def read_parquet_schema(directory: ArtifactDirectory, name: str) -> pa.Schema:
    """A Parquet file's schema from its footer (a ranged read on GCS)."""
    with directory.open_input(name) as handle:
        return pq.read_schema(handle)


def sha256_of(directory: ArtifactDirectory, name: str) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks (ranged reads on GCS)."""
    digest = hashlib.sha256()
    with directory.open_input(name) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def columns_of(schema: pa.Schema) -> list[dict[str, str]]:
    """The columns as the schema file records them: name, BigQuery type and mode."""
    columns = []
    for field in schema:
        type_name, mode = bigquery_type(field.type)
        columns.append({"name": field.name, "type": type_name, "mode": mode})
    return columns


def check_contract(directory: ArtifactDirectory | Path, contract: IndexContract) -> list[str]:
    """Columns, order, types and modes equal the contract; the schema file describes exactly those
    columns, each with a description. Returns the problems found (empty when it passes)."""
    directory = as_directory(directory)
    files = index_file_names(contract.name)
    missing = [
        directory.label(file)
        for key, file in files.items()
        if key in ("parquet", "schema") and not directory.exists(file)
    ]
    if missing:
        return [f"missing file {path}" for path in missing]
    try:
        schema = read_parquet_schema(directory, files["parquet"])
    except Exception as error:  # pyarrow raises several types for a damaged file
        return [f"{files['parquet']}: not a readable parquet file ({error})"]
    problems: list[str] = []
    actual = columns_of(schema)
    names = [c["name"] for c in actual]
    if names != contract.column_names:
        missing_names = [n for n in contract.column_names if n not in names]
        extra = [n for n in names if n not in contract.column_names]
        detail = f"missing {missing_names}, unexpected {extra}" if missing_names or extra else ""
        problems.append(
            f"columns differ from the contract: {detail or 'same columns in another order'}"
        )
    by_name = {c["name"]: c for c in actual}
    for expected in contract.columns:
        got = by_name.get(expected.name)
        if got and expected.type and (got["type"], got["mode"]) != (expected.type, expected.mode):
            problems.append(
                f"column {expected.name}: {got['type']} {got['mode']}, "
                f"contract says {expected.type} {expected.mode}"
            )
    if contract.arrow_schema:
        for expected_text, field in zip(contract.arrow_schema, schema, strict=False):
            if f"{field.name}: {field.type}" != expected_text:
                problems.append(
                    f"Arrow type of {field.name}: {field.type}, contract: {expected_text}"
                )
    problems += _check_schema_file(directory, files["schema"], actual)
    return problems


def _check_schema_file(
    directory: ArtifactDirectory, name: str, actual: list[dict[str, str]]
) -> list[str]:
    try:
        document = json.loads(directory.read_text(name))
        described = document["columns"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{name}: not a schema document ({error})"]
    problems = []
    if not str(document.get("table_description") or "").strip():
        problems.append(f"{name}: empty table_description")
    shape = [{k: c.get(k) for k in ("name", "type", "mode")} for c in described]
    if shape != actual:
        problems.append(f"{name}: columns do not match the parquet file's columns")
    for column in described:
        if not str(column.get("description") or "").strip():
            problems.append(f"{name}: column {column.get('name')} has no description")
    return problems


def read_sidecar(path: ArtifactDirectory | Path, expected_name: str) -> str | None:
    """The hex digest of a `<hex>  <name>` sidecar (a local file, or the sidecar of
    `expected_name` in an ArtifactDirectory), or None if it does not name expected_name."""
    try:
        if isinstance(path, ArtifactDirectory):
            text = path.read_text(f"{expected_name}.sha256").strip()
        else:
            text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split()
    if len(parts) != 2 or parts[1].lstrip("*") != expected_name or len(parts[0]) != 64:
        return None
    return parts[0].lower()


def check_integrity(
    directory: ArtifactDirectory | Path,
    name: str,
    *,
    release_version: str | None,
    idc_version: int | None,
) -> list[str]:
    """The sha256 sidecar matches the parquet's bytes; the parquet's embedded release and IDC
    versions are the expected ones (None skips that comparison); the `.sql` and `_schema.json`
    beside it are the ones it was built with (their SHA-256 equal the parquet's `query_sha256`
    and `schema_sha256`, where it records them), so no file of another build passes."""
    directory = as_directory(directory)
    files = index_file_names(name)
    parquet = files["parquet"]
    if not directory.exists(parquet):
        return [f"missing file {directory.label(parquet)}"]
    problems = []
    recorded = read_sidecar(directory, parquet)
    if recorded is None:
        problems.append(f"{files['sha256']}: missing or not '<sha256>  {parquet}'")
    elif recorded != sha256_of(directory, parquet):
        problems.append(f"{parquet}: sha256 does not match {files['sha256']}")
    try:
        metadata = read_parquet_schema(directory, parquet).metadata or {}
    except Exception as error:
        return [*problems, f"{parquet}: not a readable parquet file ({error})"]
    expectations = {RELEASE_VERSION_KEY: release_version, IDC_VERSION_KEY: idc_version}
    for key, expected in expectations.items():
        found = metadata.get(key, b"").decode() or None
        if found is None:
            problems.append(f"{parquet}: no '{key.decode()}' in parquet metadata")
        elif expected is not None and found != str(expected):
            problems.append(f"{parquet}: {key.decode()} is {found}, expected {expected}")
    for key, kind in ((QUERY_SHA256_KEY, "sql"), (SCHEMA_SHA256_KEY, "schema")):
        recorded_digest = metadata.get(key, b"").decode()
        if not recorded_digest:  # built before the parquet recorded it
            continue
        if not directory.exists(files[kind]):
            problems.append(f"missing file {directory.label(files[kind])}")
        elif sha256_of(directory, files[kind]) != recorded_digest:
            problems.append(
                f"{files[kind]} is not the one {parquet} was built with "
                f"(its sha256 differs from the parquet's {key.decode()})"
            )
    return problems
