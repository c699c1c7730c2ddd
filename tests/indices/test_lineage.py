"""Column lineage from the SQL, against expectations read off the queries by hand."""

from dagster import AssetKey

from idc_index_assets.indices.lineage import column_lineage, lineage_markdown
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES
from idc_index_assets.sources.contract import contract_columns

DICOM_ALL = "idc_source/idc_vNN/dicom_all"


def _deps(name: str, version: int = 3) -> dict[str, list[tuple[str, str]]]:
    lineage = column_lineage(load_query(name), version)
    return {
        column: [(dep.asset_key.to_user_string(), dep.column_name) for dep in deps]
        for column, deps in lineage.deps_by_column.items()
    }


def test_version_metadata_index_copies_its_two_columns():
    assert _deps("version_metadata_index") == {
        "idc_version": [("idc_source/idc_vNN/version_metadata", "idc_version")],
        "version_timestamp": [("idc_source/idc_vNN/version_metadata", "version_timestamp")],
    }


def test_idc_index_columns_trace_through_its_ctes_and_joins():
    deps = _deps("idc_index")
    assert deps["series_size_MB"] == [(DICOM_ALL, "instance_size")]
    assert deps["instanceCount"] == [(DICOM_ALL, "SOPInstanceUID")]
    # names looked up from a UID, and a column named differently in the source
    assert deps["sop_class_name"] == [(DICOM_ALL, "SOPClassUID")]
    assert deps["transfer_syntax_name"] == [(DICOM_ALL, "TransferSyntaxUID")]
    assert deps["source_DOI"] == [(DICOM_ALL, "Source_DOI")]
    assert deps["BodyPartExamined"] == [
        ("idc_source/idc_vNN/dicom_metadata_curated", "BodyPartExamined")
    ]
    assert deps["series_init_idc_version"] == [
        ("idc_source/idc_vNN/auxiliary_metadata", "series_init_idc_version")
    ]
    assert list(deps) == [c.name for c in load_query("idc_index").columns]


def test_prior_versions_index_reads_every_release_as_one_source_asset():
    deps = _deps("prior_versions_index")
    assert deps["gcs_bucket"] == [(DICOM_ALL, "gcs_url")]
    assert deps["series_size_MB"] == [(DICOM_ALL, "instance_size")]
    assert deps["aws_bucket"] == [(DICOM_ALL, "gcs_url")]
    assert deps["series_aws_url"] == [(DICOM_ALL, "crdc_series_uuid"), (DICOM_ALL, "gcs_url")]
    # the release numbers are literals of the rendered query: no column
    assert deps["min_idc_version"] == deps["max_idc_version"] == []


def test_an_index_over_another_index_depends_on_its_columns():
    deps = _deps("tcia_idc_subset")
    assert deps["series_aws_url"] == [("idc_index", "series_aws_url")]
    assert {key for column in deps.values() for key, _ in column} == {
        AssetKey("idc_index").to_user_string()
    }


def test_fields_read_through_unnest_count_as_their_sequence_column():
    deps = _deps("ann_group_index")
    assert deps["SeriesInstanceUID"] == [(DICOM_ALL, "SeriesInstanceUID")]
    assert deps["AnnotationGroupLabel"] == [(DICOM_ALL, "AnnotationGroupSequence")]


def test_the_source_contract_names_every_index_that_reads_a_column():
    """The contract's `used_by` decides which columns an earlier release is compared on; every
    column an index's values come from must name that index."""
    used_by = {
        (name.split(".")[1], name.split(".")[2], column["name"]): set(column.get("used_by", ()))
        for name, columns in contract_columns().items()
        for column in columns
    }
    missing = sorted(
        f"{spec.name} reads {key.path[1]}.{key.path[2]}.{dep.column_name}"
        for spec in INDICES
        if not load_query(spec.name).upstream_indices
        for deps in column_lineage(load_query(spec.name), 3).deps_by_column.values()
        for dep in deps
        for key in [dep.asset_key]
        if spec.name not in used_by[(key.path[1], key.path[2], dep.column_name)]
    )
    assert not missing


def test_the_lineage_reads_as_a_markdown_table():
    table = lineage_markdown(column_lineage(load_query("version_metadata_index"), 3))
    assert table.splitlines() == [
        "| column | ← source table.column |",
        "|---|---|",
        "| `idc_version` | `idc_vNN.version_metadata.idc_version` |",
        "| `version_timestamp` | `idc_vNN.version_metadata.version_timestamp` |",
    ]
    subset = lineage_markdown(column_lineage(load_query("tcia_idc_subset"), 3))
    assert "| `SeriesInstanceUID` | `idc_index.SeriesInstanceUID` |" in subset.splitlines()
