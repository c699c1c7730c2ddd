"""Every blocking check runs on the staged files before anything moves: bad source data, made by
mutating the sample release's Parquet files, fails the build naming the check, the column and
example rows, and the previous files stay byte for byte as they were (locally and on GCS)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.checks import CHANGE_CHECK, change_outcome
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore, open_location
from idc_index_assets.indices.writer import ArtifactValidationError
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS


def _mutate(source: Path, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    path = source / SOURCE_PROJECT / f"idc_v{N}" / f"{table}.parquet"
    pq.write_table(change(pq.read_table(path)), path)


def _set(table: pa.Table, column: str, rows: pa.Array, value) -> pa.Table:
    """`column` set to `value` where `rows` (a boolean mask) holds."""
    position = table.schema.get_field_index(column)
    field = table.schema.field(position)
    values = pc.if_else(rows, pa.scalar(value, field.type), table[column])
    return table.set_column(position, field, values)


def _first_series(table: pa.Table) -> tuple[str, pa.Array]:
    series = table["SeriesInstanceUID"][0].as_py()
    return series, pc.equal(table["SeriesInstanceUID"], series)


def _null_series_uid(table):
    return _set(table, "SeriesInstanceUID", pa.array([i < 50 for i in range(len(table))]), None)


def _every_row_twice(table):
    return pa.concat_tables([table, table])


def _one_row_twice(table):
    return pa.concat_tables([table, table.slice(0, 1)])


def _series_in_two_studies(table):
    series, _ = _first_series(table)
    study = table["StudyInstanceUID"][0].as_py()
    other = pc.not_equal(table["StudyInstanceUID"], study)
    second = table.filter(other)["SeriesInstanceUID"][0].as_py()
    return _set(table, "SeriesInstanceUID", pc.equal(table["SeriesInstanceUID"], second), series)


def _negative_sizes(table):
    _, rows = _first_series(table)
    position = table.schema.get_field_index("instance_size")
    negated = pc.if_else(rows, pc.negate(table["instance_size"]), table["instance_size"])
    return table.set_column(position, table.schema.field(position), negated)


def _huge_patient_id(table):
    _, rows = _first_series(table)
    patient = table.filter(rows)["PatientID"][0].as_py()
    return _set(table, "PatientID", pc.equal(table["PatientID"], patient), "P" * 100_000)


def _no_rows(table):
    return table.slice(0, 0)


# (source table, its mutation, the index built, what the failure must say)
CASES = {
    "null SeriesInstanceUID": (
        "dicom_all",
        _null_series_uid,
        "idc_index",
        r"primary_key: 1 rows with a NULL in the key \(SeriesInstanceUID\)",
    ),
    "duplicated collection row": (
        "original_collections_metadata",
        _one_row_twice,
        "collections_index",
        r"primary_key: 1 duplicated key values, e\.g\. \S+",
    ),
    "duplicated version row": (
        "version_metadata",
        _one_row_twice,
        "version_metadata_index",
        r"primary_key: 1 duplicated key values, e\.g\. 1",
    ),
    "every instance twice": (
        "dicom_all",
        _every_row_twice,
        "idc_index",
        r"plausible_values: dicom_all of IDC version 3: \d+ instance rows share their "
        r"SOPInstanceUID \(a duplicated export\?\), e\.g\. SOPInstanceUID [0-9.]+",
    ),
    "series in two studies": (
        "dicom_all",
        _series_in_two_studies,
        "idc_index",
        r"plausible_values: dicom_all of IDC version 3: 1 SeriesInstanceUIDs are in two studies "
        r"or collections, e\.g\. SeriesInstanceUID [0-9.]+",
    ),
    "negative instance_size": (
        "dicom_all",
        _negative_sizes,
        "idc_index",
        r"negative instance_size.*; plausible_values: 1 rows with series_size_MB < 0, "
        r"e\.g\. \('SeriesInstanceUID',\) = [0-9.]+",
    ),
    "100,000-character PatientID": (
        "dicom_all",
        _huge_patient_id,
        "idc_index",
        r"plausible_values: \d+ rows with length\(PatientID\) > 65536, "
        r"e\.g\. \('SeriesInstanceUID',\) = [0-9.]+",
    ),
    "empty dicom_all": (
        "dicom_all",
        _no_rows,
        "idc_index",
        r"plausible_values: no rows: every IDC version has idc_index rows",
    ),
}


def _build(name: str, source: Path, root: str) -> None:
    build_index(
        INDEX_BY_NAME[name],
        load_query(name),
        N,
        engine=IndexEngine(source_dir=str(source)),
        store=ArtifactStore(root=root),
    )


def _visible(root: str) -> dict[str, bytes]:
    """Every file of the version's directory, hidden ones too (staging, commit records)."""
    location = open_location(root).subdirectory(str(N))
    local = location.local_path
    if local is not None:
        return {
            str(p.relative_to(local)): p.read_bytes()
            for p in sorted(local.rglob("*"))
            if p.is_file()
        }
    return {name: location.read_bytes(name) for name in location.names()}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_source_data_fails_the_build_and_keeps_the_previous_files(
    case, sample_source, source_copy, tmp_path
):
    table, mutation, name, message = CASES[case]
    root = str(tmp_path / "artifacts")
    _build(name, sample_source, root)
    before = _visible(root)
    assert len(before) == 4

    _mutate(source_copy, table, mutation)
    with pytest.raises(ArtifactValidationError, match=message):
        _build(name, source_copy, root)
    assert _visible(root) == before


@pytest.mark.parametrize("case", ["null SeriesInstanceUID", "duplicated collection row"])
def test_on_gcs_a_failed_check_keeps_the_previous_objects(case, sample_source, source_copy, gcs):
    table, mutation, name, message = CASES[case]
    bucket = gcs.create_bucket(f"staged-{uuid.uuid4().hex[:12]}")
    root = f"gs://{bucket.name}/idc"
    _build(name, sample_source, root)

    def objects() -> dict[
        str, tuple[str, int]
    ]:  # every object, staging too: name → md5, generation
        return {b.name: (b.md5_hash, b.generation) for b in bucket.list_blobs(prefix="idc/")}

    before = objects()
    assert len(before) == 4
    _mutate(source_copy, table, mutation)
    with pytest.raises(ArtifactValidationError, match=message):
        _build(name, source_copy, root)
    assert objects() == before


def test_a_large_change_against_the_previous_version_is_a_warning(
    built_artifacts, tmp_path, monkeypatch
):
    spec = INDEX_BY_NAME["idc_index"]
    previous = tmp_path / "2"
    previous.mkdir()
    table = pq.read_table(built_artifacts / "idc_index.parquet")
    pq.write_table(table.slice(0, len(table) // 4), previous / "idc_index.parquet")
    outcome = change_outcome(spec, open_location(built_artifacts), open_location(previous))
    assert outcome.name == CHANGE_CHECK and not outcome.blocking
    rows = len(table) // 4
    assert outcome.problems[0].startswith(f"rows {rows} in {previous} → {len(table)}: +")
    assert outcome.problems[0].endswith("beyond IDC_MAX_BUILD_CHANGE 0.5")
    assert outcome.problems[1].startswith("total size ")
    # and the other way round: a shrinking index warns too
    shrunk = change_outcome(spec, open_location(previous), open_location(built_artifacts))
    assert "-75%" in shrunk.problems[0]

    monkeypatch.setenv("IDC_MAX_BUILD_CHANGE", "10")
    assert change_outcome(spec, open_location(built_artifacts), open_location(previous)).passed
    shutil.rmtree(previous)
    assert change_outcome(spec, open_location(built_artifacts), None).passed
