"""The registry of indices: one entry per published index, driving the asset factory, the checks,
the package and the release. Adding an index is one SQL file in `queries/`, one entry here and
its columns in the contract."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idc_index_assets.indices.contract import IndexContract


@dataclass(frozen=True)
class Reference:
    """Every non-null value of `column` must appear in `index`.`target_column`."""

    column: str
    index: str
    target_column: str


@dataclass(frozen=True)
class IndexSpec:
    """An index. Its row order is its query's ORDER BY; `bloom_filters` are the columns looked up
    by value that this order does not cluster (min/max statistics cannot skip their row groups),
    given a Bloom filter per row group for range-reading clients (`layout`)."""

    name: str
    primary_key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    bloom_filters: tuple[str, ...] = ()
    # False for an index that every IDC version has rows in: no rows then fails plausible_values
    may_be_empty: bool = True
    # True for the index built from every instance row (dicom_all): its build also checks those
    # rows (duplicated instances, a series in two studies or collections, negative sizes)
    checks_instances: bool = False

    @cached_property
    def contract(self) -> IndexContract:
        # Imported here: the command line reads the registry's names before anything heavy loads.
        from idc_index_assets.indices.contract import index_contract

        return index_contract(self.name)

    @property
    def in_wheel(self) -> bool:
        return self.contract.in_wheel

    @property
    def supplementary(self) -> bool:
        return self.contract.supplementary


INDICES: tuple[IndexSpec, ...] = (
    IndexSpec(
        "idc_index",
        primary_key=("SeriesInstanceUID",),
        may_be_empty=False,
        checks_instances=True,
        references=(
            Reference("collection_id", "collections_index", "collection_id"),
            Reference("analysis_result_id", "analysis_results_index", "analysis_result_id"),
        ),
        # rows are in collection, patient, study, series order; a Bloom filter on the series
        # (1 MB of idc_index's real content) keeps the file no larger than the published one,
        # one on StudyInstanceUID as well would not (docs/remote-reads.md)
        bloom_filters=("SeriesInstanceUID",),
    ),
    IndexSpec(
        "prior_versions_index",
        primary_key=("crdc_series_uuid", "gcs_bucket", "min_idc_version"),
    ),
    IndexSpec("collections_index", primary_key=("collection_id",), may_be_empty=False),
    IndexSpec("analysis_results_index", primary_key=("analysis_result_id",)),
    IndexSpec("version_metadata_index", primary_key=("idc_version",), may_be_empty=False),
    IndexSpec(
        "tcia_idc_subset",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "clinical_index",
        primary_key=("collection_id", "table_name", "column"),
        references=(Reference("collection_id", "collections_index", "collection_id"),),
    ),
    IndexSpec(
        "seg_index",
        primary_key=("SeriesInstanceUID",),
        # segmented_SeriesInstanceUID is resolved through dicom_all, so it is in the release
        references=(
            Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),
            Reference("segmented_SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),
        ),
    ),
    IndexSpec(
        "rtstruct_index",
        primary_key=("SeriesInstanceUID",),
        # not referenced_SeriesInstanceUID: it is copied from DICOM and may name a series outside IDC
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "sm_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "sm_instance_index",
        primary_key=("SOPInstanceUID",),
        references=(Reference("SeriesInstanceUID", "sm_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "ann_index",
        primary_key=("SeriesInstanceUID",),
        references=(
            Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),
            # bulk annotations are drawn on slides
            Reference("referenced_SeriesInstanceUID", "sm_index", "SeriesInstanceUID"),
        ),
    ),
    IndexSpec(
        "ann_group_index",
        primary_key=("AnnotationGroupUID",),
        references=(Reference("SeriesInstanceUID", "ann_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "ct_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "mr_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "pt_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "contrast_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
    IndexSpec(
        "volume_geometry_index",
        primary_key=("SeriesInstanceUID",),
        references=(Reference("SeriesInstanceUID", "idc_index", "SeriesInstanceUID"),),
    ),
)

# Built from SQL and the GDC cases API (the gdc package), so it is not among the indices the SQL asset
# factory builds; it is released and verified with them.
GDC_MAPPING = IndexSpec(
    "gdc_idc_mapping",
    primary_key=("StudyInstanceUID", "gdc_case_id"),
    references=(Reference("StudyInstanceUID", "idc_index", "StudyInstanceUID"),),
)
RELEASED_INDICES = (*INDICES, GDC_MAPPING)

INDEX_BY_NAME = {spec.name: spec for spec in INDICES}
