"""The sample IDC release: follows the source contract and changes between versions like IDC does."""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.sample.generate import generate_sample
from idc_index_assets.sources.contract import source_tables
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS


def _read(root, version, table, dataset="idc_v{}"):
    return pq.read_table(root / SOURCE_PROJECT / dataset.format(version) / f"{table}.parquet")


def _series(root, version):
    """SeriesInstanceUID → crdc_series_uuid of one version's dicom_all."""
    table = _read(root, version, "dicom_all").select(["SeriesInstanceUID", "crdc_series_uuid"])
    rows = table.group_by(["SeriesInstanceUID", "crdc_series_uuid"]).aggregate([]).to_pylist()
    return {row["SeriesInstanceUID"]: row["crdc_series_uuid"] for row in rows}


@pytest.mark.parametrize("version", range(1, SAMPLE_VERSIONS + 1))
def test_every_table_has_exactly_the_contract_schema(sample_source, version):
    for name, schema in source_tables().items():
        _, dataset, table = name.split(".")
        written = pq.read_schema(
            sample_source
            / SOURCE_PROJECT
            / dataset.replace("NN", str(version))
            / f"{table}.parquet"
        )
        assert written.remove_metadata() == schema, name


def test_series_are_added_revised_and_removed_between_versions(sample_source):
    for version in range(2, SAMPLE_VERSIONS + 1):
        before, after = _series(sample_source, version - 1), _series(sample_source, version)
        added = after.keys() - before.keys()
        removed = before.keys() - after.keys()
        revised = {uid for uid in before.keys() & after.keys() if before[uid] != after[uid]}
        assert added and removed and revised, version
        aux = _read(sample_source, version, "auxiliary_metadata").to_pylist()
        history = {row["SeriesInstanceUID"]: row for row in aux}
        assert all(history[uid]["series_init_idc_version"] == version for uid in added)
        assert all(history[uid]["series_revised_idc_version"] == version for uid in revised)


def test_an_unchanged_series_has_identical_instances_in_every_version(sample_source):
    first, last = _series(sample_source, 1), _series(sample_source, SAMPLE_VERSIONS)
    unchanged = sorted(uid for uid in first.keys() & last.keys() if first[uid] == last[uid])
    assert unchanged
    columns = ["SOPInstanceUID", "crdc_instance_uuid", "instance_size", "TransferSyntaxUID"]

    def instances(version):
        table = _read(sample_source, version, "dicom_all")
        mask = pc.is_in(table["SeriesInstanceUID"], value_set=pa.array(unchanged[:20]))
        return table.filter(mask).select(columns).sort_by("SOPInstanceUID")

    assert instances(1).equals(instances(SAMPLE_VERSIONS))


def test_a_series_version_moves_between_buckets(sample_source):
    def buckets(version):
        table = _read(sample_source, version, "dicom_all")
        bucket = pc.struct_field(
            pc.extract_regex(table["gcs_url"], r"^gs://(?P<bucket>[^/]+)/"), "bucket"
        )
        pairs = zip(table["crdc_series_uuid"].to_pylist(), bucket.to_pylist(), strict=True)
        return dict(pairs)

    v1, v2 = buckets(1), buckets(2)
    moved = [uuid for uuid in v1.keys() & v2.keys() if v1[uuid] != v2[uuid]]
    assert moved
    assert {v1[uuid] for uuid in moved} <= {"public-datasets-idc", "idc-open-idc"}


def test_values_are_realistic(sample_source):
    table = _read(sample_source, SAMPLE_VERSIONS, "dicom_all").to_pylist()
    by_modality = {}
    for row in table:
        by_modality.setdefault(row["Modality"], []).append(row)
    assert {"CT", "MR", "PT", "SM", "SEG", "SR", "RTSTRUCT", "ANN"} <= by_modality.keys()
    for modality in ("SR", "RTSTRUCT", "ANN"):
        assert {r["PhotometricInterpretation"] for r in by_modality[modality]} == {None}
    # Slide microscopy series mix encodings across their instances.
    syntaxes = {}
    for row in by_modality["SM"]:
        syntaxes.setdefault(row["SeriesInstanceUID"], set()).add(row["TransferSyntaxUID"])
    assert any(len(found) > 1 for found in syntaxes.values())
    for row in table[:200]:
        assert row["gcs_url"].startswith("gs://") and row["crdc_instance_uuid"] in row["gcs_url"]
        assert row["series_aws_url"] == f"s3://{row['aws_bucket']}/{row['crdc_series_uuid']}/"
        assert row["instance_size"] > 0


def test_metadata_tables_agree_with_dicom_all(sample_source):
    for version in range(1, SAMPLE_VERSIONS + 1):
        dicom_all = _read(sample_source, version, "dicom_all")
        collections = set(
            _read(sample_source, version, "original_collections_metadata")[
                "collection_id"
            ].to_pylist()
        )
        assert set(pc.unique(dicom_all["collection_id"]).to_pylist()) == collections
        results = set(
            _read(sample_source, version, "analysis_results_metadata")[
                "analysis_result_id"
            ].to_pylist()
        )
        used = set(pc.unique(dicom_all["analysis_result_id"]).to_pylist()) - {None}
        assert used == results
        versions = _read(sample_source, version, "version_metadata")["idc_version"].to_pylist()
        assert sorted(versions) == list(range(1, version + 1))
        clinical = _read(sample_source, version, "column_metadata", dataset="idc_v{}_clinical")
        assert set(clinical["collection_id"].to_pylist()) <= collections


def test_generation_is_deterministic_and_seeded(tmp_path):
    generate_sample(tmp_path / "a", versions=2, seed=3, scale=0.2)
    generate_sample(tmp_path / "b", versions=2, seed=3, scale=0.2)
    generate_sample(tmp_path / "c", versions=2, seed=4, scale=0.2)
    a, b, c = (_read(tmp_path / n, 2, "dicom_all") for n in "abc")
    assert a.equals(b)
    assert not a.equals(c)


def test_scale_multiplies_the_size(tmp_path):
    small = generate_sample(tmp_path / "small", versions=1, scale=0.5)
    large = generate_sample(tmp_path / "large", versions=1, scale=2)
    rows = [int(s["idc_v1"].split()[0]) for s in (small, large)]
    assert rows[1] > 3 * rows[0]


@pytest.mark.parametrize("arguments", [{"versions": 0}, {"scale": 0}, {"scale": -1}])
def test_bad_arguments_are_refused(tmp_path, arguments):
    with pytest.raises(ValueError, match="must be"):
        generate_sample(tmp_path, **arguments)
    assert not any(tmp_path.iterdir())
