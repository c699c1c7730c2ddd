"""Sample release columns for segmentations (SEG) and RT structure sets (RTSTRUCT).

A SEG carries its segments in `dicom_metadata.SegmentSequence` and points at the images it
segments through `dicom_all` (ReferencedSeriesSequence, or only ReferencedImageSequence or
SourceImageSequence, as some converters write it); an RTSTRUCT lists its ROIs and observations and
the image series it was drawn on, in `dicom_all`.

Segment and ROI content is a function of (seed, series, revision, position). The image series a
derived object refers to is the first image series (CT, MR or PT) of its study in the release, so
the reference is real; some objects refer to a series that is not in IDC, or to none, as in IDC.

Nested columns are built flat (one row per item) and wrapped with `ListArray.from_arrays`, so a
million instances take no per-row Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idc_index_assets.sample.kit import (
    InstanceRows,
    empty_lists,
    join,
    list_offsets,
    pick,
    scatter,
    text,
    uniform,
)
from idc_index_assets.sources.contract import source_tables

DICOM_ALL = "bigquery-public-data.idc_vNN.dicom_all"
DICOM_METADATA = "bigquery-public-data.idc_vNN.dicom_metadata"
IMAGE_MODALITIES = ("CT", "MR", "PT")
# UIDs of image series that IDC does not have (a SEG or RTSTRUCT may reference one).
OUTSIDE_UID_ROOT = "1.2.826.0.1.3680043.8.498.5"

# What segments represent: (category, property type, anatomic region (meaning, code, scheme) or
# None, region modifier or None). Prostate collections segment the prostate, the others the chest
# and abdomen (as TotalSegmentator does).
BODY_PROPERTIES = [
    ("Anatomical Structure", "Lung", None, None),
    ("Anatomical Structure", "Heart", None, None),
    (
        "Morphologically Altered Structure",
        "Nodule",
        ("Lung", "39607008", "SCT"),
        ("Right", "24028007", "SCT"),
    ),
    (
        "Morphologically Altered Structure",
        "Neoplasm",
        ("Lung", "39607008", "SCT"),
        ("Left", "7771000", "SCT"),
    ),
    ("Anatomical Structure", "Liver", None, None),
    ("Tissue", "Fat", ("Abdomen", "818981001", "SCT"), None),
]
PROSTATE_PROPERTIES = [
    ("Anatomical Structure", "Prostate", None, None),
    (
        "Morphologically Altered Structure",
        "Lesion",
        ("Peripheral zone of the prostate", "279706003", "SCT"),
        None,
    ),
    ("Anatomical Structure", "Urinary bladder", ("Pelvis", "12921003", "SCT"), None),
]
SEGMENT_PROPERTIES = BODY_PROPERTIES + PROSTATE_PROPERTIES
PROSTATE_COLLECTIONS = ("qin_prostate_repeatability",)
ALGORITHM_TYPES = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")
ALGORITHM_NAMES = ("TotalSegmentator", "nnU-Net", "3D Slicer")
ROIS = [  # (ROIName, RTROIInterpretedType)
    ("GTV-1", "GTV"),
    ("Lung-Left", "ORGAN"),
    ("Lung-Right", "ORGAN"),
    ("Heart", "ORGAN"),
    ("Esophagus", "ORGAN"),
    ("Spinal-Cord", "ORGAN"),
    ("PTV", "PTV"),
    ("External", "EXTERNAL"),
]
ROI_ALGORITHMS = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC", None)  # None: not recorded


def columns(instances: InstanceRows) -> dict[str, dict]:
    """{table: {column: one value per instance}} for the sample's dicom tables."""
    dicom_all: dict[str, pa.Array] = {}
    dicom_metadata: dict[str, pa.Array] = {}
    if instances.where("SEG").any():
        dicom_all |= _segmentation_references(instances)
        dicom_metadata |= _segmentation_content(instances)
    if instances.where("RTSTRUCT").any():
        dicom_all |= _structure_sets(instances)
    return {"dicom_all": dicom_all, "dicom_metadata": dicom_metadata}


# --- nested values ------------------------------------------------------------------------------


def _column_type(table: str, column: str) -> pa.DataType:
    return source_tables()[table].field(column).type


def _items(list_type: pa.DataType, lengths: np.ndarray, fields: dict[str, pa.Array]) -> pa.Array:
    """A REPEATED RECORD column: row i has lengths[i] items, whose fields are the flat arrays in
    `fields` (one element per item, rows in order); fields not given are NULL (or empty lists)."""
    item_type = list_type.value_type
    items = int(lengths.sum())
    children = []
    for field in item_type:
        value = fields.get(field.name)
        if value is None:
            value = empty_lists(field.type, items) if pa.types.is_list(field.type) else None
            value = value if value is not None else pa.nulls(items, field.type)
        children.append(pc.cast(value, field.type))
    struct = pa.StructArray.from_arrays(children, fields=list(item_type))
    return pa.ListArray.from_arrays(list_offsets(lengths), struct, type=list_type)


def _strings(lengths: np.ndarray, values: pa.Array) -> pa.Array:
    """A REPEATED STRING column: row i has the next lengths[i] values."""
    return pa.ListArray.from_arrays(list_offsets(lengths), values, type=pa.list_(pa.string()))


def _expand(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items laid out row after row: the row of each item and its position in the row."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, position


def _item_counts(
    seed: int, series: np.ndarray, revision: np.ndarray, salt: int, most: int
) -> np.ndarray:
    """Items per instance, a function of the series content (series, revision): about one in
    eight has none, the others 1 to `most`."""
    u_count = uniform(seed, series, revision, salt)
    return np.where(u_count < 0.12, 0, 1 + (u_count * most).astype(np.int64) % most)


# --- referenced images --------------------------------------------------------------------------


def _referenced_series(
    instances: InstanceRows, rows: np.ndarray, outside: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    """For each object at `rows`: the UID of the image series it refers to (the first image series
    of its study in the release, or one outside IDC where `outside` or when the study has none) and
    how many of its instances it lists."""
    image_instances = instances.image_series_instances[rows]
    outside = outside | (image_instances == 0)
    in_release = pc.take(instances.image_series_uid, pa.array(rows))
    outside_uid = join(OUTSIDE_UID_ROOT, text(instances.series[rows]), sep=".")
    uid = pc.if_else(pa.array(outside), outside_uid, in_release)
    listed = np.where(outside, 1, np.minimum(image_instances, 3))
    return uid, listed


def _instance_uids(series_uid: pa.Array, listed: np.ndarray) -> pa.Array:
    """The first `listed` SOPInstanceUIDs of each series, flat; they are <series UID>.<number>,
    as sample.release_tables makes them."""
    owner, position = _expand(listed)
    return join(pc.take(series_uid, pa.array(owner)), text(position + 1), sep=".")


# --- SEG ----------------------------------------------------------------------------------------

# How a SEG refers to its images, by a uniform value of its series: below the first bound through
# ReferencedSeriesSequence, then through ReferencedImageSequence only, SourceImageSequence only,
# a series outside IDC (in ReferencedSeriesSequence); above the last bound, not at all.
SEG_REFERENCE_BOUNDS = (0.35, 0.55, 0.75, 0.88)
BY_SERIES, BY_IMAGE, BY_SOURCE, OUTSIDE, NONE = range(5)


def _segmentation_references(instances: InstanceRows) -> dict:
    size = len(instances)
    rows = np.flatnonzero(instances.where("SEG"))
    u = uniform(instances.seed, instances.series[rows], 38)
    kind = np.searchsorted(SEG_REFERENCE_BOUNDS, u, side="right")
    kind = np.where((instances.image_series_instances[rows] == 0) & (kind < OUTSIDE), OUTSIDE, kind)
    series_uid, listed = _referenced_series(instances, rows, kind == OUTSIDE)
    listed = np.where(kind == NONE, 0, listed)
    uids = _instance_uids(series_uid, listed)

    def instance_sequence(column: str, wanted: np.ndarray) -> pa.Array:
        keep = pa.array(np.repeat(wanted, listed))
        return scatter(
            rows,
            _items(
                _column_type(DICOM_ALL, column),
                np.where(wanted, listed, 0),
                {"ReferencedSOPInstanceUID": uids.filter(keep)},
            ),
            size,
        )

    by_series = np.isin(kind, [BY_SERIES, OUTSIDE])
    series_type = _column_type(DICOM_ALL, "ReferencedSeriesSequence")
    referenced_instances = _items(
        series_type.value_type.field("ReferencedInstanceSequence").type,
        listed[by_series],
        {"ReferencedSOPInstanceUID": uids.filter(pa.array(np.repeat(by_series, listed)))},
    )
    return {
        "ReferencedSeriesSequence": scatter(
            rows,
            _items(
                series_type,
                by_series.astype(np.int64),
                {
                    "SeriesInstanceUID": series_uid.filter(pa.array(by_series)),
                    "ReferencedInstanceSequence": referenced_instances,
                },
            ),
            size,
        ),
        "ReferencedImageSequence": instance_sequence("ReferencedImageSequence", kind == BY_IMAGE),
        "SourceImageSequence": instance_sequence("SourceImageSequence", kind == BY_SOURCE),
    }


def _segmentation_content(instances: InstanceRows) -> dict:
    size = len(instances)
    rows = np.flatnonzero(instances.where("SEG"))
    seed, series, revision = instances.seed, instances.series[rows], instances.revision[rows]
    # Segments: every instance of a series carries them all.
    segments = _item_counts(seed, series, revision, 32, most=5)
    owner, position = _expand(segments)
    s_series, s_revision = series[owner], revision[owner]
    u_segment = uniform(seed, s_series, s_revision, position, 33)
    prostate = np.isin(instances.collection_id(rows[owner]), PROSTATE_COLLECTIONS)
    first = np.where(prostate, len(BODY_PROPERTIES), 0)
    choices = np.where(prostate, len(PROSTATE_PROPERTIES), len(BODY_PROPERTIES))
    start = (uniform(seed, s_series, 34) * choices).astype(np.int64)
    # Mostly distinct properties, but some segments repeat the first one (several nodules).
    prop = first + np.where(u_segment < 0.25, start, start + position) % choices

    algorithm = (uniform(seed, s_series, 35) * len(ALGORITHM_TYPES)).astype(np.int64)
    mixed = uniform(seed, s_series, 36) < 0.25  # some series mix manual and automatic segments
    algorithm = np.where(mixed & (position % 2 == 1), ALGORITHM_TYPES.index("MANUAL"), algorithm)
    manual = algorithm == ALGORITHM_TYPES.index("MANUAL")
    # A manual segment has no algorithm name (NULL in the index).
    name_choice = (uniform(seed, s_series, 37) * len(ALGORITHM_NAMES)).astype(np.int64)
    names = pick(ALGORITHM_NAMES, name_choice[~manual])

    segment_type = _column_type(DICOM_METADATA, "SegmentSequence")
    segment_fields = {f.name: f.type for f in segment_type.value_type}
    has_category = uniform(seed, s_series, s_revision, position, 31) >= 0.05
    region = np.array([p[2] is not None for p in SEGMENT_PROPERTIES])[prop]
    modifier = np.array([p[3] is not None for p in SEGMENT_PROPERTIES])[prop]
    region_prop, modifier_prop = prop[region], prop[region & modifier]

    def code_part(part: int, index: int, of: np.ndarray) -> pa.Array:
        return pick([p[part][index] if p[part] else None for p in SEGMENT_PROPERTIES], of)

    region_type = segment_fields["AnatomicRegionSequence"]
    modifiers = _items(
        region_type.value_type.field("AnatomicRegionModifierSequence").type,
        modifier[region].astype(np.int64),
        {
            "CodeMeaning": code_part(3, 0, modifier_prop),
            "CodeValue": code_part(3, 1, modifier_prop),
            "CodingSchemeDesignator": code_part(3, 2, modifier_prop),
        },
    )
    segment_sequence = scatter(
        rows,
        _items(
            segment_type,
            segments,
            {
                "SegmentNumber": pa.array(position + 1),
                "SegmentAlgorithmType": pick(ALGORITHM_TYPES, algorithm),
                "SegmentAlgorithmName": _strings((~manual).astype(np.int64), names),
                "SegmentedPropertyCategoryCodeSequence": _items(
                    segment_fields["SegmentedPropertyCategoryCodeSequence"],
                    has_category.astype(np.int64),
                    {"CodeMeaning": pick([p[0] for p in SEGMENT_PROPERTIES], prop[has_category])},
                ),
                "SegmentedPropertyTypeCodeSequence": _items(
                    segment_fields["SegmentedPropertyTypeCodeSequence"],
                    np.ones(len(prop), dtype=np.int64),
                    {"CodeMeaning": pick([p[1] for p in SEGMENT_PROPERTIES], prop)},
                ),
                "AnatomicRegionSequence": _items(
                    region_type,
                    region.astype(np.int64),
                    {
                        "CodeMeaning": code_part(2, 0, region_prop),
                        "CodeValue": code_part(2, 1, region_prop),
                        "CodingSchemeDesignator": code_part(2, 2, region_prop),
                        "AnatomicRegionModifierSequence": modifiers,
                    },
                ),
                "TrackingID": join(
                    pick([p[1] for p in SEGMENT_PROPERTIES], prop), text(position + 1)
                ),
                "TrackingUID": join(
                    pc.take(instances.sop_uid, pa.array(rows[owner])), text(position + 1), sep=".9."
                ),
            },
        ),
        size,
    )
    segmentation_type = pick(["BINARY", "FRACTIONAL"], (uniform(seed, series, 39) < 0.2) * 1)
    # One frame of reference per study: the images a SEG was derived from share it.
    frame_of_reference = join(pc.take(instances.study_uid, pa.array(rows)), "1", sep=".")
    return {
        "SegmentSequence": segment_sequence,
        "SegmentationType": scatter(rows, segmentation_type, size),
        "FrameOfReferenceUID": scatter(rows, frame_of_reference, size),
    }


# --- RTSTRUCT -----------------------------------------------------------------------------------

# How an RT structure set refers to its images, by a uniform value of its series: below the first
# bound one series of its study, then that series and one outside IDC, only a series outside IDC;
# above the last bound, no ReferencedFrameOfReferenceSequence at all.
RT_REFERENCE_BOUNDS = (0.4, 0.6, 0.8)
ONE_SERIES, TWO_SERIES, OUTSIDE_ONLY, NO_FRAME = range(4)


def _structure_sets(instances: InstanceRows) -> dict:
    size = len(instances)
    rows = np.flatnonzero(instances.where("RTSTRUCT"))
    seed, series, revision = instances.seed, instances.series[rows], instances.revision[rows]

    rois = _item_counts(seed, series, revision, 41, most=6)
    owner, position = _expand(rois)
    start = (uniform(seed, series, 42) * len(ROIS)).astype(np.int64)
    roi = (start[owner] + position) % len(ROIS)
    u_roi = uniform(seed, series[owner], revision[owner], position, 43)
    algorithm = np.searchsorted((0.45, 0.7, 0.9), u_roi, side="right")
    roi_number = text(position + 1)
    # Some ROIs have no observation, so no interpreted type.
    observed = uniform(seed, series[owner], revision[owner], position, 44) >= 0.15

    kind = np.searchsorted(RT_REFERENCE_BOUNDS, uniform(seed, series, 45), side="right")
    first_uid, _ = _referenced_series(instances, rows, kind == OUTSIDE_ONLY)
    second_uid = join(OUTSIDE_UID_ROOT, text(series), "2", sep=".")
    framed = kind != NO_FRAME
    per_frame = np.where(kind[framed] == TWO_SERIES, 2, 1)
    # Series items, object after object: its first series, then the outside one if it has two.
    framed_count = int(framed.sum())
    uids = pa.concat_arrays(
        [first_uid.filter(pa.array(framed)), second_uid.filter(pa.array(framed))]
    )
    item_owner, item_position = _expand(per_frame)
    series_items = pc.take(
        uids, pa.array(np.where(item_position == 0, item_owner, framed_count + item_owner))
    )

    frame_type = _column_type(DICOM_ALL, "ReferencedFrameOfReferenceSequence")
    study_type = frame_type.value_type.field("RTReferencedStudySequence").type
    series_type = study_type.value_type.field("RTReferencedSeriesSequence").type
    studies = _items(
        study_type,
        np.ones(framed_count, dtype=np.int64),
        {
            "RTReferencedSeriesSequence": _items(
                series_type, per_frame, {"SeriesInstanceUID": series_items}
            )
        },
    )
    return {
        "StructureSetROISequence": scatter(
            rows,
            _items(
                _column_type(DICOM_ALL, "StructureSetROISequence"),
                rois,
                {
                    "ROINumber": roi_number,
                    "ROIName": pick([name for name, _ in ROIS], roi),
                    "ROIGenerationAlgorithm": pick(ROI_ALGORITHMS, algorithm),
                },
            ),
            size,
        ),
        "RTROIObservationsSequence": scatter(
            rows,
            _items(
                _column_type(DICOM_ALL, "RTROIObservationsSequence"),
                np.bincount(owner[observed], minlength=len(rows)),
                {
                    "ReferencedROINumber": roi_number.filter(pa.array(observed)),
                    "RTROIInterpretedType": pick(
                        [interpreted for _, interpreted in ROIS], roi[observed]
                    ),
                },
            ),
            size,
        ),
        "ReferencedFrameOfReferenceSequence": scatter(
            rows,
            _items(
                frame_type,
                framed.astype(np.int64),
                {"RTReferencedStudySequence": studies},
            ),
            size,
        ),
    }
