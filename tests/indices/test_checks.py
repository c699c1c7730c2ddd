"""Each check fails on a crafted bad artifact and passes on the good one."""

from __future__ import annotations

import json
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.indices.checks import (
    KEY_CHECK,
    VALUES_CHECK,
    evaluate_files,
    key_outcome,
    reference_outcome,
    verify_directory,
)
from idc_index_assets.indices.registry import INDEX_BY_NAME, INDICES
from idc_index_assets.indices.validation import (
    CONTRACT_CHECK,
    INTEGRITY_CHECK,
    check_contract,
    check_integrity,
    sha256_file,
)
from tests.conftest import SAMPLE_VERSIONS

IDC_INDEX = INDEX_BY_NAME["idc_index"]


def _problems(spec, directory, **versions):
    versions = versions or {
        "release_version": f"{SAMPLE_VERSIONS}.0.0",
        "idc_version": SAMPLE_VERSIONS,
    }
    return {o.name: o.problems for o in evaluate_files(spec, directory, **versions)}


def _rewrite(path, table, metadata=None):
    """Rewrite a parquet (and its sidecar, so only the intended defect remains)."""
    pq.write_table(table.replace_schema_metadata(metadata or table.schema.metadata), path)
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(f"{sha256_file(path)}  {path.name}\n")


@pytest.mark.parametrize("spec", INDICES, ids=lambda s: s.name)
def test_good_artifacts_pass_every_blocking_check(spec, built_artifacts):
    assert _problems(spec, built_artifacts) == {
        CONTRACT_CHECK: [],
        INTEGRITY_CHECK: [],
        KEY_CHECK: [],
        VALUES_CHECK: [],
    }


def test_good_artifacts_pass_sha256sum(built_artifacts):
    sidecars = sorted(p.name for p in built_artifacts.glob("*.sha256"))
    assert len(sidecars) == len(INDICES)
    subprocess.run(["sha256sum", "-c", *sidecars], cwd=built_artifacts, check=True)


def test_one_flipped_byte_fails_integrity(artifacts_copy):
    path = artifacts_copy / "collections_index.parquet"
    data = bytearray(path.read_bytes())
    data[16] ^= 0x01  # in the first column chunk: the footer stays readable
    path.write_bytes(bytes(data))
    problems = check_integrity(
        artifacts_copy, "collections_index", release_version=None, idc_version=None
    )
    assert problems == [
        "collections_index.parquet: sha256 does not match collections_index.parquet.sha256"
    ]


def test_wrong_embedded_version_fails_integrity(artifacts_copy):
    path = artifacts_copy / "version_metadata_index.parquet"
    table = pq.read_table(path)
    metadata = {**table.schema.metadata, b"idc_index_data_version": b"9.9.9"}
    _rewrite(path, table, metadata)
    problems = _problems(INDEX_BY_NAME["version_metadata_index"], artifacts_copy)
    assert problems[INTEGRITY_CHECK] == [
        f"version_metadata_index.parquet: idc_index_data_version is 9.9.9, expected {SAMPLE_VERSIONS}.0.0"
    ]
    assert problems[CONTRACT_CHECK] == []


def test_changed_column_type_fails_the_contract(artifacts_copy):
    path = artifacts_copy / "idc_index.parquet"
    table = pq.read_table(path)
    position = table.schema.get_field_index("instanceCount")
    table = table.set_column(
        position, "instanceCount", table.column("instanceCount").cast(pa.float64())
    )
    _rewrite(path, table)
    problems = check_contract(artifacts_copy, IDC_INDEX.contract)
    assert "column instanceCount: FLOAT NULLABLE, contract says INTEGER NULLABLE" in problems
    assert any("Arrow type of instanceCount: double" in p for p in problems)
    assert any("do not match the parquet file's columns" in p for p in problems)


def test_missing_description_fails_the_contract(artifacts_copy):
    path = artifacts_copy / "idc_index_schema.json"
    document = json.loads(path.read_text())
    document["columns"][3]["description"] = "  "
    path.write_text(json.dumps(document))
    assert check_contract(artifacts_copy, IDC_INDEX.contract) == [
        "idc_index_schema.json: column SeriesInstanceUID has no description"
    ]


def test_dropped_column_is_named(artifacts_copy):
    path = artifacts_copy / "analysis_results_index.parquet"
    _rewrite(path, pq.read_table(path).drop_columns(["citation"]))
    problems = check_contract(artifacts_copy, INDEX_BY_NAME["analysis_results_index"].contract)
    assert problems[0] == "columns differ from the contract: missing ['citation'], unexpected []"


def test_duplicated_key_fails_the_key_check(artifacts_copy):
    path = artifacts_copy / "idc_index.parquet"
    table = pq.read_table(path)
    duplicate = table.slice(0, 1)
    _rewrite(path, pa.concat_tables([table, duplicate]))
    outcome = key_outcome(IDC_INDEX, artifacts_copy)
    series = duplicate.column("SeriesInstanceUID")[0].as_py()
    assert not outcome.passed
    assert outcome.metadata["duplicated_keys"] == 1
    assert outcome.problems == [f"1 duplicated key values, e.g. {series}"]


def test_null_key_fails_the_key_check(artifacts_copy):
    path = artifacts_copy / "collections_index.parquet"
    table = pq.read_table(path)
    ids = table.column("collection_id").to_pylist()
    ids[0] = None
    position = table.schema.get_field_index("collection_id")
    _rewrite(
        path,
        table.set_column(position, table.schema.field(position), pa.array(ids, pa.large_string())),
    )
    outcome = key_outcome(INDEX_BY_NAME["collections_index"], artifacts_copy)
    assert outcome.problems == ["1 rows with a NULL in the key (collection_id)"]


def test_references_resolve_on_good_artifacts_and_dangle_on_bad(artifacts_copy):
    assert reference_outcome(IDC_INDEX, artifacts_copy).passed
    path = artifacts_copy / "collections_index.parquet"
    table = pq.read_table(path)
    first = table.column("collection_id")[0].as_py()
    _rewrite(path, table.slice(1))
    outcome = reference_outcome(IDC_INDEX, artifacts_copy)
    label = "collection_id → collections_index.collection_id"
    assert outcome.metadata[f"dangling {label}"] == 1
    assert outcome.problems == [f"{label}: 1 values do not resolve, e.g. ['{first}']"]


def test_verify_directory_reports_each_index(artifacts_copy):
    (artifacts_copy / "idc_index.parquet.sha256").write_text("0" * 64 + "  idc_index.parquet\n")
    failing = {
        name for name, outcome in verify_directory(artifacts_copy, INDICES) if not outcome.passed
    }
    assert failing == {"idc_index"}
