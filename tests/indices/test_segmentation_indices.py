"""seg_index and rtstruct_index on the sample release, against expectations computed here from
the generated source tables (plain Python over the SEG and RTSTRUCT instances)."""

from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.indices.checks import key_outcome, reference_outcome
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

SEG_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"}
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
IMAGE_MODALITIES = {"CT", "MR", "PT"}


def _source(root, table):
    path = root / SOURCE_PROJECT / f"idc_v{SAMPLE_VERSIONS}" / f"{table}.parquet"
    return pq.read_table(path)


def _index(directory, name):
    return pq.read_table(directory / f"{name}.parquet").to_pylist()


@pytest.fixture(scope="module")
def dicom_all(sample_source):
    return _source(sample_source, "dicom_all").to_pylist()


@pytest.fixture(scope="module")
def seg_instances(sample_source, dicom_all):
    """SEG instances: dicom_metadata's segments joined with dicom_all's references."""
    metadata = _source(sample_source, "dicom_metadata").to_pylist()
    references = {row["SOPInstanceUID"]: row for row in dicom_all}
    return [
        row | {key: references[row["SOPInstanceUID"]][key] for key in _REFERENCE_SEQUENCES}
        for row in metadata
        if row["SOPClassUID"] in SEG_CLASSES
    ]


@pytest.fixture(scope="module")
def rtstruct_instances(dicom_all):
    return [row for row in dicom_all if row["SOPClassUID"] == RTSTRUCT_CLASS]


_REFERENCE_SEQUENCES = (
    "ReferencedSeriesSequence",
    "ReferencedImageSequence",
    "SourceImageSequence",
)


def _first(items, key):
    return items[0][key] if items else None


def _first_referenced_instance(instance):
    series = instance["ReferencedSeriesSequence"]
    candidates = [
        _first(series[0]["ReferencedInstanceSequence"], "ReferencedSOPInstanceUID")
        if series
        else None,
        _first(instance["ReferencedImageSequence"], "ReferencedSOPInstanceUID"),
        _first(instance["SourceImageSequence"], "ReferencedSOPInstanceUID"),
    ]
    return next((uid for uid in candidates if uid is not None), None)


def _expected_seg(seg_instances, dicom_all):
    series_of_instance = {row["SOPInstanceUID"]: row["SeriesInstanceUID"] for row in dicom_all}
    by_series = defaultdict(list)
    for instance in seg_instances:
        by_series[instance["SeriesInstanceUID"]].append(instance)
    expected = {}
    for uid, instances in by_series.items():
        segments = [segment for i in instances for segment in i["SegmentSequence"]]

        def distinct(values):
            return sorted({v for v in values if v is not None})

        def joined(values):
            return ",".join(distinct(values)) or None

        def meanings(sequence, segments=segments):
            return distinct(_first(s[sequence], "CodeMeaning") for s in segments)

        segmented = [series_of_instance.get(_first_referenced_instance(i)) for i in instances]
        expected[uid] = {
            "SeriesInstanceUID": uid,
            "SegmentationType": min(i["SegmentationType"] for i in instances),
            "total_segments": len({s["SegmentNumber"] for s in segments}),
            "AlgorithmType": joined(s["SegmentAlgorithmType"] for s in segments),
            "AlgorithmName": joined(
                s["SegmentAlgorithmName"][0] if s["SegmentAlgorithmName"] else None
                for s in segments
            ),
            "segmented_SeriesInstanceUID": min(
                (s for s in segmented if s is not None), default=None
            ),
            "SegmentedPropertyCategory_CodeMeanings": meanings(
                "SegmentedPropertyCategoryCodeSequence"
            ),
            "SegmentedPropertyType_CodeMeanings": meanings("SegmentedPropertyTypeCodeSequence"),
            "AnatomicRegion_CodeMeanings": meanings("AnatomicRegionSequence"),
        }
    return expected


def _first_rt_series(instance):
    frames = instance["ReferencedFrameOfReferenceSequence"]
    studies = frames[0]["RTReferencedStudySequence"] if frames else []
    series = studies[0]["RTReferencedSeriesSequence"] if studies else []
    return _first(series, "SeriesInstanceUID")


def _expected_rtstruct(rtstruct_instances):
    by_series = defaultdict(list)
    for instance in rtstruct_instances:
        by_series[instance["SeriesInstanceUID"]].append(instance)
    expected = {}
    for uid, instances in by_series.items():
        rois = [roi for i in instances for roi in i["StructureSetROISequence"]]
        interpreted = {
            observation["RTROIInterpretedType"]
            for i in instances
            for observation in i["RTROIObservationsSequence"]
            if observation["ReferencedROINumber"]
            in {roi["ROINumber"] for roi in i["StructureSetROISequence"]}
        }
        referenced = [_first_rt_series(i) for i in instances]
        expected[uid] = {
            "SeriesInstanceUID": uid,
            "total_rois": len({roi["ROINumber"] for roi in rois}),
            "ROINames": sorted({roi["ROIName"] for roi in rois} - {None}),
            "ROIGenerationAlgorithms": sorted(
                {roi["ROIGenerationAlgorithm"] for roi in rois} - {None}
            ),
            "RTROIInterpretedTypes": sorted(interpreted - {None}),
            "referenced_SeriesInstanceUID": min(
                (r for r in referenced if r is not None), default=None
            ),
        }
    return expected


def _assert_one_row_per_series(rows, expected):
    """The index has a row per expected series, in SeriesInstanceUID order, equal to it."""
    assert rows
    assert [row["SeriesInstanceUID"] for row in rows] == sorted(expected)
    for row in rows:
        assert row == expected[row["SeriesInstanceUID"]]


# --- seg_index ----------------------------------------------------------------------------------


def test_seg_index_has_one_row_per_segmentation_series_as_the_source_says(
    built_artifacts, seg_instances, dicom_all
):
    _assert_one_row_per_series(
        _index(built_artifacts, "seg_index"), _expected_seg(seg_instances, dicom_all)
    )


def test_seg_index_covers_the_edge_cases(built_artifacts, seg_instances):
    rows = _index(built_artifacts, "seg_index")
    assert any(row["total_segments"] == 0 for row in rows)
    assert any(row["total_segments"] > 2 for row in rows)
    # manual segments name no algorithm; some series mix manual and automatic segments
    assert any(row["AlgorithmType"] == "MANUAL" and row["AlgorithmName"] is None for row in rows)
    assert any("," in (row["AlgorithmType"] or "") for row in rows)
    # several segments of the same property type (e.g. two nodules)
    assert any(
        row["total_segments"] > len(row["SegmentedPropertyType_CodeMeanings"]) for row in rows
    )
    # a segment without a property category
    assert any(
        not segment["SegmentedPropertyCategoryCodeSequence"]
        for instance in seg_instances
        for segment in instance["SegmentSequence"]
    )
    resolved = {row["SeriesInstanceUID"] for row in rows if row["segmented_SeriesInstanceUID"]}
    # resolved through each of the three sequences, and references that do not resolve
    for sequence in _REFERENCE_SEQUENCES:
        only_this = [
            i
            for i in seg_instances
            if i[sequence]
            and not any(i[other] for other in _REFERENCE_SEQUENCES if other != sequence)
        ]
        assert {i["SeriesInstanceUID"] for i in only_this} & resolved, sequence
    outside = {
        i["SeriesInstanceUID"] for i in seg_instances if i["ReferencedSeriesSequence"]
    } - resolved
    assert outside
    nothing = {
        i["SeriesInstanceUID"]
        for i in seg_instances
        if not any(i[sequence] for sequence in _REFERENCE_SEQUENCES)
    }
    assert nothing and not nothing & resolved


def test_segmentations_refer_to_an_image_series_of_their_study(built_artifacts):
    series = {row["SeriesInstanceUID"]: row for row in _index(built_artifacts, "idc_index")}
    pairs = [
        (series[row["SeriesInstanceUID"]], series[row["segmented_SeriesInstanceUID"]])
        for row in _index(built_artifacts, "seg_index")
        if row["segmented_SeriesInstanceUID"]
    ]
    assert pairs
    for segmentation, image in pairs:
        assert segmentation["Modality"] == "SEG"
        assert image["Modality"] in IMAGE_MODALITIES
        assert image["StudyInstanceUID"] == segmentation["StudyInstanceUID"]


# --- rtstruct_index -----------------------------------------------------------------------------


def test_rtstruct_index_has_one_row_per_structure_set_series_as_the_source_says(
    built_artifacts, rtstruct_instances
):
    _assert_one_row_per_series(
        _index(built_artifacts, "rtstruct_index"), _expected_rtstruct(rtstruct_instances)
    )


def test_rtstruct_index_covers_the_edge_cases(built_artifacts, rtstruct_instances):
    rows = _index(built_artifacts, "rtstruct_index")
    assert any(row["total_rois"] == 0 for row in rows)
    assert any(row["total_rois"] > 3 for row in rows)
    rois = [roi for i in rtstruct_instances for roi in i["StructureSetROISequence"]]
    assert any(roi["ROIGenerationAlgorithm"] is None for roi in rois)
    # an ROI without an observation, so without an interpreted type
    assert any(
        {roi["ROINumber"] for roi in i["StructureSetROISequence"]}
        - {o["ReferencedROINumber"] for o in i["RTROIObservationsSequence"]}
        for i in rtstruct_instances
    )
    # a structure set drawn on two series, and one that references none
    assert any(
        len(study["RTReferencedSeriesSequence"]) > 1
        for i in rtstruct_instances
        for frame in i["ReferencedFrameOfReferenceSequence"]
        for study in frame["RTReferencedStudySequence"]
    )
    assert any(not i["ReferencedFrameOfReferenceSequence"] for i in rtstruct_instances)
    assert any(row["referenced_SeriesInstanceUID"] is None for row in rows)


def test_rtstruct_references_may_point_outside_the_release(built_artifacts):
    """Why referenced_SeriesInstanceUID is not a registry reference: it can dangle, by design."""
    in_release = {row["SeriesInstanceUID"] for row in _index(built_artifacts, "idc_index")}
    referenced = {
        row["referenced_SeriesInstanceUID"]
        for row in _index(built_artifacts, "rtstruct_index")
        if row["referenced_SeriesInstanceUID"]
    }
    assert referenced & in_release
    assert referenced - in_release
    spec = INDEX_BY_NAME["rtstruct_index"]
    assert "referenced_SeriesInstanceUID" not in {r.column for r in spec.references}


# --- registry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["seg_index", "rtstruct_index"])
def test_keys_are_unique_and_references_resolve(built_artifacts, name):
    spec = INDEX_BY_NAME[name]
    assert spec.primary_key == ("SeriesInstanceUID",)
    assert ("SeriesInstanceUID", "idc_index") in {(r.column, r.index) for r in spec.references}
    assert key_outcome(spec, built_artifacts).passed
    assert reference_outcome(spec, built_artifacts).passed


def test_a_dangling_segmented_series_fails_the_reference_check(artifacts_copy):
    path = artifacts_copy / "seg_index.parquet"
    table = pq.read_table(path)
    column = table.schema.get_field_index("segmented_SeriesInstanceUID")
    values = ["1.2.3.not.in.idc", *table.column(column).to_pylist()[1:]]
    pq.write_table(table.set_column(column, "segmented_SeriesInstanceUID", pa.array(values)), path)
    outcome = reference_outcome(INDEX_BY_NAME["seg_index"], artifacts_copy)
    assert not outcome.passed
    assert "1.2.3.not.in.idc" in outcome.problems[0]


def test_an_unchanged_segmentation_keeps_its_segments_and_rois_across_versions(sample_source):
    """Segment and ROI content is a function of the series and its revision, not of the release."""

    def content(version):
        root = sample_source / SOURCE_PROJECT / f"idc_v{version}"
        dicom_all = pq.read_table(root / "dicom_all.parquet").to_pylist()
        metadata = pq.read_table(root / "dicom_metadata.parquet").to_pylist()
        segments = {row["SOPInstanceUID"]: row["SegmentSequence"] for row in metadata}
        return {
            row["crdc_instance_uuid"]: (
                segments[row["SOPInstanceUID"]],
                row["StructureSetROISequence"],
                row["RTROIObservationsSequence"],
            )
            for row in dicom_all
            if row["Modality"] in ("SEG", "RTSTRUCT")
        }

    first, last = content(1), content(SAMPLE_VERSIONS)
    unchanged = first.keys() & last.keys()  # same crdc_instance_uuid: same instance content
    assert unchanged
    assert any(first[uuid][0] for uuid in unchanged) and any(first[uuid][1] for uuid in unchanged)
    assert all(first[uuid] == last[uuid] for uuid in unchanged)
