"""Every index built from the sample with the real DuckDB engine: artifacts, and rows checked against
expectations computed here from the generated source with pyarrow (not with the index's SQL)."""

import hashlib
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.base import EngineError, MissingSourceTableError
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import IndexQuery, load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME, INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.writer import ArtifactValidationError
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS


def _source(root: Path, table: str, version: int = N) -> list[dict]:
    return pq.read_table(root / SOURCE_PROJECT / f"idc_v{version}" / f"{table}.parquet").to_pylist()


def sidecar_name(spec) -> str:
    return f"{spec.name}.parquet.sha256"


def _index(directory: Path, name: str) -> list[dict]:
    return pq.read_table(directory / f"{name}.parquet").to_pylist()


def test_a_column_of_distinct_values_is_written_without_a_dictionary(built_artifacts):
    metadata = pq.read_metadata(built_artifacts / "idc_index.parquet")
    names = metadata.schema.names
    dictionary = {
        name: metadata.row_group(0).column(names.index(name)).has_dictionary_page
        for name in ("SeriesInstanceUID", "crdc_series_uuid", "collection_id", "Modality")
    }
    assert dictionary == {
        "SeriesInstanceUID": False,
        "crdc_series_uuid": False,
        "collection_id": True,
        "Modality": True,
    }


@pytest.mark.parametrize("spec", INDICES, ids=lambda s: s.name)
def test_artifacts_are_complete_and_self_describing(spec, built_artifacts):
    parquet = built_artifacts / f"{spec.name}.parquet"
    metadata = pq.read_metadata(parquet)
    kv = metadata.metadata
    assert kv[b"idc_index_data_version"] == f"{N}.0.0".encode()
    assert kv[b"idc_version"] == str(N).encode()
    rendered = (built_artifacts / f"{spec.name}.sql").read_text()
    assert rendered == load_query(spec.name).render(N)
    assert kv[b"query_sha256"] == hashlib.sha256(rendered.encode()).hexdigest().encode()
    codecs = {
        metadata.row_group(g).column(c).compression
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    }
    assert codecs == {"ZSTD"}
    schema_file = json.loads((built_artifacts / f"{spec.name}_schema.json").read_text())
    assert [(c["name"], c["type"], c["mode"]) for c in schema_file["columns"]] == [
        (c.name, c.type, c.mode) for c in spec.contract.columns
    ]
    assert schema_file["table_description"] == load_query(spec.name).table_description
    assert all(c["description"].strip() for c in schema_file["columns"])
    sidecar = (built_artifacts / sidecar_name(spec)).read_text()
    assert sidecar.endswith(f"  {spec.name}.parquet\n")
    subprocess.run(["sha256sum", "-c", sidecar_name(spec)], cwd=built_artifacts, check=True)
    assert not [p for p in built_artifacts.iterdir() if p.name.startswith(".")]


def test_idc_index_rows_match_the_source(sample_source, built_artifacts):
    instances = _source(sample_source, "dicom_all")
    aux = {r["SeriesInstanceUID"]: r for r in _source(sample_source, "auxiliary_metadata")}
    curated = {
        r["SOPInstanceUID"]: r["BodyPartExamined"]
        for r in _source(sample_source, "dicom_metadata_curated")
    }
    expected = defaultdict(lambda: {"count": 0, "bytes": 0, "ts": set(), "body": set()})
    for row in instances:
        series = expected[row["SeriesInstanceUID"]]
        series["count"] += 1
        series["bytes"] += row["instance_size"]
        series["ts"].add(row["TransferSyntaxUID"])
        series["body"].add(curated[row["SOPInstanceUID"]])
        series["row"] = row
    index = _index(built_artifacts, "idc_index")
    assert len(index) == len(expected)
    assert [r["SeriesInstanceUID"] for r in index] == [
        r["SeriesInstanceUID"]
        for r in sorted(
            index,
            key=lambda r: (
                r["collection_id"],
                r["PatientID"],
                r["StudyInstanceUID"],
                r["SeriesInstanceUID"],
            ),
        )
    ]
    for row in index:
        want = expected[row["SeriesInstanceUID"]]
        source = want["row"]
        assert row["instanceCount"] == want["count"]
        assert row["series_size_MB"] == pytest.approx(want["bytes"] / 1e6)
        assert row["TransferSyntaxUID"] == ",".join(sorted(want["ts"]))
        assert row["BodyPartExamined"] in want["body"]
        assert row["series_aws_url"] == source["series_aws_url"] + "*"
        assert row["StudyDate"] == source["StudyDate"].isoformat()
        assert row["PatientAge"] == (source["PatientAge"] or None)
        assert (
            row["series_init_idc_version"]
            == aux[row["SeriesInstanceUID"]]["series_init_idc_version"]
        )
        assert (
            row["series_revised_idc_version"]
            == aux[row["SeriesInstanceUID"]]["series_revised_idc_version"]
        )
        for column in (
            "collection_id",
            "analysis_result_id",
            "PatientID",
            "Modality",
            "crdc_series_uuid",
            "aws_bucket",
        ):
            assert row[column] == source[column], column
    sm = [r for r in index if r["Modality"] == "SM" and "," in r["TransferSyntaxUID"]]
    assert sm and all("," in r["transfer_syntax_name"] for r in sm)
    assert {
        r["PhotometricInterpretation"] for r in index if r["Modality"] in ("SR", "RTSTRUCT")
    } == {None}


def test_prior_versions_index_lists_every_version_no_longer_served(sample_source, built_artifacts):
    current = {r["crdc_series_uuid"] for r in _source(sample_source, "dicom_all")}
    served = defaultdict(set)  # (crdc_series_uuid, bucket) -> versions
    for version in range(1, N + 1):
        for row in _source(sample_source, "dicom_all", version):
            bucket = row["gcs_url"].split("/")[2]
            if row["crdc_series_uuid"] not in current and bucket != "idc-open-idc":
                served[row["crdc_series_uuid"], bucket].add(version)
    index = _index(built_artifacts, "prior_versions_index")
    got = {(r["crdc_series_uuid"], r["gcs_bucket"]): r for r in index}
    assert len(got) == len(index) == len(served)  # consecutive versions in one bucket: one row
    for key, versions in served.items():
        row = got[key]
        assert (row["min_idc_version"], row["max_idc_version"]) == (min(versions), max(versions))
        assert row["series_aws_url"] == f"s3://{row['aws_bucket']}/{row['crdc_series_uuid']}/*"
    uuids = [uuid for uuid, _ in served]
    assert len(set(uuids)) < len(uuids), "the sample should have a version served from two buckets"


def test_metadata_indices_match_the_source(sample_source, built_artifacts):
    collections = _source(sample_source, "original_collections_metadata")
    index = _index(built_artifacts, "collections_index")
    assert [r["collection_id"] for r in index] == sorted(r["collection_id"] for r in collections)
    by_id = {r["collection_id"]: r for r in collections}
    for row in index:
        source = by_id[row["collection_id"]]
        assert row["subjects"] == source["subjects"]
        assert row["updated"] == source["updated"].isoformat()
        assert row["supporting_data"] == (source["supporting_data"] or None)
        assert [s["source_doi"] for s in row["sources"]] == [
            s["source_doi"] for s in source["sources"]
        ]
    results = _index(built_artifacts, "analysis_results_index")
    assert sorted(r["analysis_result_id"] for r in results) == sorted(
        r["analysis_result_id"] for r in _source(sample_source, "analysis_results_metadata")
    )
    versions = _index(built_artifacts, "version_metadata_index")
    assert [r["idc_version"] for r in versions] == list(range(1, N + 1))


def test_tcia_idc_subset_is_read_from_idc_index(built_artifacts):
    subset = _index(built_artifacts, "tcia_idc_subset")
    index = {r["SeriesInstanceUID"]: r for r in _index(built_artifacts, "idc_index")}
    assert subset
    for row in subset:
        assert all(row[k] == index[row["SeriesInstanceUID"]][k] for k in row)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_a_failed_build_leaves_the_previous_artifacts_intact(
    sample_source, artifacts_copy, tmp_path
):
    store = ArtifactStore(root=str(artifacts_copy.parent))
    before = _snapshot(artifacts_copy)
    spec = INDEX_BY_NAME["collections_index"]
    good = load_query(spec.name)
    engine = IndexEngine(source_dir=str(sample_source))

    def variant(old: str, new: str) -> IndexQuery:
        template = good.template.replace(old, new, 1)
        assert template != good.template
        return IndexQuery(name=spec.name, path=tmp_path / f"{spec.name}.sql", template=template)

    # Queries that run but break the contract: a renamed column, a value of the wrong type.
    renamed = variant("  subjects,\n", "  subjects AS subject_count,\n")
    with pytest.raises(ArtifactValidationError, match="subject_count"):
        build_index(spec, renamed, N, engine=engine, store=store)
    retyped = variant("  subjects,\n", "  CONCAT('n=', CAST(subjects AS STRING)) AS subjects,\n")
    with pytest.raises(ArtifactValidationError, match="subjects"):
        build_index(spec, retyped, N, engine=engine, store=store)
    # Digits as STRING where the contract says INT64: a cast would succeed, and hide the bug.
    digits = variant("  subjects,\n", "  CAST(subjects AS STRING) AS subjects,\n")
    with pytest.raises(
        ArtifactValidationError,
        match=r"column subjects: the query returns STRING \(string\), the contract says INTEGER",
    ):
        build_index(spec, digits, N, engine=engine, store=store)
    # A query that fails in the engine part-way through the stream.
    failing = variant(
        "  collection_id,\n", "  IF(subjects > 0, ERROR('boom'), collection_id) AS collection_id,\n"
    )
    with pytest.raises(EngineError, match=r"collections_index\.sql.*boom"):
        build_index(spec, failing, N, engine=engine, store=store)
    assert _snapshot(artifacts_copy) == before


def test_a_missing_source_table_names_table_and_path(sample_source, tmp_path):
    source = tmp_path / "source"
    (source / SOURCE_PROJECT / f"idc_v{N}").mkdir(parents=True)
    engine = IndexEngine(source_dir=str(source))
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    spec = INDEX_BY_NAME["version_metadata_index"]
    expected = rf"version_metadata_index\.sql: table bigquery-public-data\.idc_v{N}\.version_metadata .*{source}"
    with pytest.raises(MissingSourceTableError, match=expected):
        build_index(spec, load_query(spec.name), N, engine=engine, store=store)
    assert not (tmp_path / "artifacts").exists() or not any(
        (tmp_path / "artifacts").rglob("*.parquet")
    )


def test_a_table_may_be_a_directory_of_parquet_files(sample_source, tmp_path):
    """The shape of IDC's public Parquet export: `<table>/` holding several files."""
    source = tmp_path / "source" / SOURCE_PROJECT / f"idc_v{N}"
    source.mkdir(parents=True)
    table = pq.read_table(sample_source / SOURCE_PROJECT / f"idc_v{N}" / "version_metadata.parquet")
    (source / "version_metadata").mkdir()
    for part in range(table.num_rows):
        pq.write_table(
            table.slice(part, 1), source / "version_metadata" / f"part-{part:03}.parquet"
        )
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    spec = INDEX_BY_NAME["version_metadata_index"]
    engine = IndexEngine(source_dir=str(tmp_path / "source"))
    result = build_index(spec, load_query(spec.name), N, engine=engine, store=store)
    assert result.written.rows == table.num_rows
