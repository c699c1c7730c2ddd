"""Source drift on copies of the sample: a table that no longer has the source contract's schema
fails the build before its query runs, naming table and column, and leaves the previous artifacts
as they were; a column the contract does not list is reported and the build proceeds."""

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index, check_sources
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME, INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.sources.drift import CONTRACT_HINT, SourceDriftError, compare_table
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS


def _rewrite(source: Path, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    path = source / SOURCE_PROJECT / f"idc_v{N}" / f"{table}.parquet"
    pq.write_table(change(pq.read_table(path)), path)


def _replace(table: pa.Table, name: str, new_name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), new_name, values)


def _renamed(table: pa.Table) -> pa.Table:
    return _replace(table, "Modality", "ModalityCode", table["Modality"])


def _retyped(table: pa.Table) -> pa.Table:
    """The issue's case: MIN() over these strings would silently give '10' < '9'."""
    column = table["series_init_idc_version"]
    return _replace(table, column._name, column._name, pc.cast(column, pa.string()))


def _single_valued(table: pa.Table) -> pa.Table:
    """ImageType REPEATED → NULLABLE: the values in one string, as DICOM writes them."""
    column = table["ImageType"]
    return _replace(table, "ImageType", "ImageType", pc.binary_join(column, "\\"))


def _nested_renamed(table: pa.Table) -> pa.Table:
    """provenance.data_contributor renamed inside its RECORD."""
    column = table["provenance"].combine_chunks()
    names = [("data_supplier" if f.name == "data_contributor" else f.name) for f in column.type]
    renamed = pa.StructArray.from_arrays(column.flatten(), names=names, mask=column.is_null())
    return _replace(table, "provenance", "provenance", renamed)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize(
    ("index", "table", "change", "expected"),
    [
        ("idc_index", "dicom_all", _renamed, "Modality: missing (contract: STRING)"),
        (
            "idc_index",
            "auxiliary_metadata",
            _retyped,
            "series_init_idc_version: expected INT64, found STRING",
        ),
        (
            "ct_index",
            "dicom_all",
            _single_valued,
            "ImageType: expected STRING REPEATED, found STRING",
        ),
        (
            "analysis_results_index",
            "analysis_results_metadata",
            _nested_renamed,
            "provenance.data_contributor: missing (contract: STRING)",
        ),
    ],
    ids=["renamed", "type", "mode", "nested-record-field"],
)
def test_a_drifted_source_fails_before_the_query_and_keeps_the_artifacts(
    index, table, change, expected, source_copy, artifacts_copy
):
    _rewrite(source_copy, table, change)
    store = ArtifactStore(root=str(artifacts_copy.parent))
    before = _snapshot(artifacts_copy)
    spec = INDEX_BY_NAME[index]
    with pytest.raises(SourceDriftError) as raised:
        build_index(
            spec,
            load_query(index),
            N,
            engine=IndexEngine(source_dir=str(source_copy)),
            store=store,
        )
    message = str(raised.value)
    assert f"FAIL {SOURCE_PROJECT}.idc_v{N}.{table}: {expected}" in message
    assert index in message.split("read by ", 1)[1]
    assert CONTRACT_HINT in message
    assert _snapshot(artifacts_copy) == before


def test_an_added_column_is_reported_and_the_build_proceeds(source_copy, tmp_path):
    _rewrite(
        source_copy,
        "dicom_all",
        lambda t: t.append_column("SpecimenShortDescription", pa.nulls(t.num_rows, pa.string())),
    )
    engine = IndexEngine(source_dir=str(source_copy))
    query = load_query("idc_index")
    report = next(
        r for r in check_sources([query], N, engine=engine) if r.table.endswith(".dicom_all")
    )
    assert report.ok
    assert [str(d) for d in report.added] == [
        "SpecimenShortDescription: not in the contract (STRING)"
    ]
    assert report.line().startswith(f"ok   {SOURCE_PROJECT}.idc_v{N}.dicom_all: ")
    assert report.line().endswith("not in the contract (reported only): SpecimenShortDescription")
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    result = build_index(INDEX_BY_NAME["idc_index"], query, N, engine=engine, store=store)
    assert result.written.rows > 0


def test_the_sample_matches_the_contract_for_every_query(sample_source):
    queries = [load_query(spec.name) for spec in INDICES]
    reports = check_sources(queries, N, engine=IndexEngine(source_dir=str(sample_source)))
    assert all(r.ok and not r.drifts for r in reports), [r.line() for r in reports]
    # prior_versions_index reads every release's dicom_all, on the columns it uses
    older = {
        r.table: r
        for r in reports
        if r.table.split(".")[1] not in (f"idc_v{N}", f"idc_v{N}_clinical")
    }
    assert set(older) == {f"{SOURCE_PROJECT}.idc_v{v}.dicom_all" for v in range(1, N)}
    assert all(r.read_by == ("prior_versions_index",) for r in older.values())
    newest = next(r for r in reports if r.table == f"{SOURCE_PROJECT}.idc_v{N}.dicom_all")
    assert 0 < older[f"{SOURCE_PROJECT}.idc_v1.dicom_all"].compared < newest.compared


def test_an_earlier_release_is_compared_on_the_columns_its_readers_use():
    """An old dicom_all without the columns only today's indices read is fine for
    prior_versions_index, not for idc_index."""
    schema = pa.schema(
        [
            (name, pa.int64() if name == "instance_size" else pa.string())
            for name in [
                "collection_id",
                "PatientID",
                "SeriesInstanceUID",
                "StudyInstanceUID",
                "Modality",
                "gcs_url",
                "crdc_series_uuid",
                "instance_size",
            ]
        ]
    )
    table = f"{SOURCE_PROJECT}.idc_v1.dicom_all"
    prior = compare_table(table, schema, only_used_by=["prior_versions_index"])
    assert prior.ok and prior.compared == 8
    assert not compare_table(table, schema, only_used_by=["idc_index"]).ok


def test_bigquery_names_and_recorded_types_compare_as_bigquery_types():
    """INTEGER/INT64, large_string, REQUIRED and a struct's field order are no drift; a JSON
    column that Arrow shows as a string is."""
    schema = pa.schema(
        [
            pa.field("idc_version", pa.int64(), nullable=False),
            pa.field("version_timestamp", pa.large_string()),
        ]
    )
    table = f"{SOURCE_PROJECT}.idc_v{N}.version_metadata"
    assert compare_table(table, schema).ok
    json_typed = schema.set(1, schema.field(1).with_metadata({b"bigquery:type": b"JSON"}))
    assert [str(d) for d in compare_table(table, json_typed).failed] == [
        "version_timestamp: expected STRING, found JSON"
    ]


def test_check_source_command_prints_a_line_per_table_and_fails_on_drift(
    source_copy, monkeypatch, tmp_path, capsys
):
    from idc_index_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("IDC_ENGINE", "duckdb")
    monkeypatch.setenv("IDC_SOURCE_DIR", str(source_copy))
    assert main(["check-source", "--idc-version", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "IDC version 2: 9 source tables, 0 differ"
    assert all(line.startswith("ok   ") for line in lines[:-1])

    _rewrite(source_copy, "auxiliary_metadata", _retyped)
    assert main(["check-source"]) == 1
    out = capsys.readouterr().out
    assert (
        f"FAIL {SOURCE_PROJECT}.idc_v{N}.auxiliary_metadata: "
        "series_init_idc_version: expected INT64, found STRING (read by idc_index)"
    ) in out.splitlines()
    assert f"IDC version {N}: 10 source tables, 1 differ" in out
    assert CONTRACT_HINT in out
