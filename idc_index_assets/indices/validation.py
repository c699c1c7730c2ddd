"""Validation of an index's artifacts against the output contract and for integrity.

The same functions run inside the build (before the new files replace the previous good ones), in
the Dagster asset checks, and in `idc-index-assets verify`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq

from idc_index_assets.indices.contract import IndexContract, bigquery_type

CONTRACT_CHECK = "schema_contract"
INTEGRITY_CHECK = "integrity"
RELEASE_VERSION_KEY = b"idc_index_data_version"
IDC_VERSION_KEY = b"idc_version"
QUERY_SHA256_KEY = b"query_sha256"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def index_files(directory: Path, name: str) -> dict[str, Path]:
    return {
        "parquet": directory / f"{name}.parquet",
        "sha256": directory / f"{name}.parquet.sha256",
        "schema": directory / f"{name}_schema.json",
        "sql": directory / f"{name}.sql",
    }


def columns_of(parquet: Path) -> list[dict[str, str]]:
    """The parquet's columns as the schema file records them: name, BigQuery type and mode."""
    schema = pq.read_schema(parquet)
    columns = []
    for field in schema:
        type_name, mode = bigquery_type(field.type)
        columns.append({"name": field.name, "type": type_name, "mode": mode})
    return columns


def check_contract(directory: Path, contract: IndexContract) -> list[str]:
    """Columns, order, types and modes equal the contract; the schema file describes exactly those
    columns, each with a description. Returns the problems found (empty when it passes)."""
    files = index_files(directory, contract.name)
    missing = [
        str(p) for key, p in files.items() if key in ("parquet", "schema") and not p.exists()
    ]
    if missing:
        return [f"missing file {path}" for path in missing]
    try:
        schema = pq.read_schema(files["parquet"])
    except Exception as error:  # pyarrow raises several types for a damaged file
        return [f"{files['parquet'].name}: not a readable parquet file ({error})"]
    problems: list[str] = []
    actual = columns_of(files["parquet"])
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
    problems += _check_schema_file(files["schema"], actual)
    return problems


def _check_schema_file(path: Path, actual: list[dict[str, str]]) -> list[str]:
    try:
        document = json.loads(path.read_text())
        described = document["columns"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{path.name}: not a schema document ({error})"]
    problems = []
    if not str(document.get("table_description") or "").strip():
        problems.append(f"{path.name}: empty table_description")
    shape = [{k: c.get(k) for k in ("name", "type", "mode")} for c in described]
    if shape != actual:
        problems.append(f"{path.name}: columns do not match the parquet file's columns")
    for column in described:
        if not str(column.get("description") or "").strip():
            problems.append(f"{path.name}: column {column.get('name')} has no description")
    return problems


def read_sidecar(path: Path, expected_name: str) -> str | None:
    """The hex digest of a `<hex>  <name>` sidecar, or None if it does not name expected_name."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[1].lstrip("*") != expected_name or len(parts[0]) != 64:
        return None
    return parts[0].lower()


def check_integrity(
    directory: Path, name: str, *, release_version: str | None, idc_version: int | None
) -> list[str]:
    """The sha256 sidecar matches the parquet's bytes, and the parquet's embedded release and IDC
    versions are the expected ones (None skips that comparison)."""
    files = index_files(directory, name)
    if not files["parquet"].exists():
        return [f"missing file {files['parquet']}"]
    problems = []
    recorded = read_sidecar(files["sha256"], files["parquet"].name)
    if recorded is None:
        problems.append(f"{files['sha256'].name}: missing or not '<sha256>  {name}.parquet'")
    elif recorded != sha256_file(files["parquet"]):
        problems.append(f"{files['parquet'].name}: sha256 does not match {files['sha256'].name}")
    try:
        metadata = pq.read_schema(files["parquet"]).metadata or {}
    except Exception as error:
        return [*problems, f"{files['parquet'].name}: not a readable parquet file ({error})"]
    expectations = {RELEASE_VERSION_KEY: release_version, IDC_VERSION_KEY: idc_version}
    for key, expected in expectations.items():
        found = metadata.get(key, b"").decode() or None
        if found is None:
            problems.append(f"{files['parquet'].name}: no '{key.decode()}' in parquet metadata")
        elif expected is not None and found != str(expected):
            problems.append(
                f"{files['parquet'].name}: {key.decode()} is {found}, expected {expected}"
            )
    return problems
