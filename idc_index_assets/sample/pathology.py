"""Sample release columns for slide microscopy (SM) and microscopy annotation (ANN) instances.

An SM series is a pyramid: instance 0 is the slide label, instance 1 the full-resolution level and
each further instance a level four times smaller, with its own TotalPixelMatrixColumns/Rows and
pixel spacing (in SharedFunctionalGroupsSequence, or for some series only in the top-level
PixelSpacing, or nowhere). Specimen, optical path and diagnosis sequences are series attributes
drawn from small catalogues of realistic values that include the edge cases the indices must
handle: empty sequences, several items, NULL fields, items without a coded value.

An ANN instance holds zero to four annotation groups and refers to an SM series of its collection
in the release (picked by rendezvous hashing, so the pick only changes when that series goes).

Every value is a function of (seed, series, revision, instance); nested columns are built flat and
wrapped with `ListArray.from_arrays` or taken from a catalogue, so there is no per-row Python.
Instances of other modalities get NULL, which the sample generator leaves to other providers.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idc_index_assets.sample.kit import (
    InstanceRows,
    empty_lists,
    join,
    list_offsets,
    mix,
    pick,
    scatter,
    text,
    uniform,
    weighted,
)
from idc_index_assets.sources.contract import source_tables

DICOM_ALL = "bigquery-public-data.idc_vNN.dicom_all"


def _code(meaning: str, value: str, scheme: str = "SCT") -> dict:
    return {"CodeMeaning": meaning, "CodeValue": value, "CodingSchemeDesignator": scheme}


# Concept names of specimen preparation content items (DICOM TID 8001).
SPECIMEN_IDENTIFIER = _code("Specimen Identifier", "121041", "DCM")
PROCESSING_TYPE = _code("Processing type", "111701", "DCM")
FIXATIVE = _code("Tissue Fixative", "430864009")
EMBEDDING = _code("Embedding medium", "430863003")
USING_SUBSTANCE = _code("Using substance", "424361007")
COLLECTION_PROCEDURE = _code("Specimen collection", "17636008")

SAMPLING = _code("Sampling of tissue specimen", "433465004")
EXCISION = _code("Excision", "65801008")
PROCESSING = _code("Specimen processing", "9265001")
STAINING = _code("Staining", "127790008")
FORMALIN = _code("Formalin", "431510009")
PARAFFIN = _code("Paraffin wax", "311731000")
FREEZING_MEDIUM = _code("Tissue freezing medium", "433469005")
HEMATOXYLIN = _code("hematoxylin stain", "12710003")
EOSIN = _code("water soluble eosin stain", "36879007")


def _step(*items: tuple[dict, dict | None]) -> dict:
    """A preparation step; an item without a concept code is a text item (no ConceptCodeSequence)."""
    return {
        "SpecimenPreparationStepContentItemSequence": [
            {"ConceptNameCodeSequence": [name], "ConceptCodeSequence": [code] if code else []}
            for name, code in items
        ]
    }


SAMPLED = _step(
    (SPECIMEN_IDENTIFIER, None),
    (PROCESSING_TYPE, SAMPLING),
    (COLLECTION_PROCEDURE, EXCISION),  # an SCT concept the indices do not report
)
FIXED = _step((PROCESSING_TYPE, PROCESSING), (FIXATIVE, FORMALIN))
# Preparation protocols, each a SpecimenPreparationSequence: stains with two substances, one, none;
# frozen sections without fixative; a slide with no preparation recorded at all.
PROTOCOLS = [
    [
        SAMPLED,
        FIXED,
        _step((PROCESSING_TYPE, PROCESSING), (EMBEDDING, PARAFFIN)),
        _step(
            (PROCESSING_TYPE, STAINING), (USING_SUBSTANCE, HEMATOXYLIN), (USING_SUBSTANCE, EOSIN)
        ),
    ],
    [
        SAMPLED,
        _step((EMBEDDING, FREEZING_MEDIUM)),
        _step(
            (PROCESSING_TYPE, STAINING), (USING_SUBSTANCE, EOSIN), (USING_SUBSTANCE, HEMATOXYLIN)
        ),
    ],
    [SAMPLED, FIXED, _step((EMBEDDING, PARAFFIN)), _step((USING_SUBSTANCE, HEMATOXYLIN))],
    [SAMPLED, FIXED, _step((EMBEDDING, PARAFFIN))],
    [],
]
PROTOCOL_WEIGHTS = (0.5, 0.15, 0.15, 0.1, 0.1)

# Per collection: anatomic structure and admitting diagnosis; other collections use the first.
ANATOMY = {
    "tcga_luad": (_code("Lung", "39607008"), _code("Adenocarcinoma of lung", "254626006")),
    "cptac_ccrcc": (
        _code("Kidney", "64033007"),
        _code("Clear cell renal cell carcinoma", "702391001"),
    ),
    "cmb_crc": (_code("Colon", "71854001"), _code("Malignant neoplasm of colon", "363406005")),
}
ANATOMY_KEYS = list(ANATOMY)
MODIFIERS = [None, _code("Right", "24028007"), _code("Left", "7771000")]
SECONDARY_DIAGNOSIS = _code("Metastatic malignant neoplasm", "128462008")
# Specimens on a slide: none described, one, or two (the second with the next protocol).
SPECIMEN_LAYOUTS = (0, 1, 2)
SPECIMEN_LAYOUT_WEIGHTS = (0.05, 0.85, 0.1)

BRIGHTFIELD = _code("Brightfield illumination", "111744", "DCM")
EPIFLUORESCENCE = _code("Epifluorescence illumination", "111743", "DCM")
# OpticalPathSequence options: brightfield at various powers (a DS value that is not a whole
# number, a missing power, a path without illumination code), three fluorescence paths, none.
# Label images are taken by an overview camera: brightfield, no objective lens power.
OPTICAL_PATHS = [
    [{"IlluminationTypeCodeSequence": [BRIGHTFIELD], "ObjectiveLensPower": "40"}],
    [{"IlluminationTypeCodeSequence": [BRIGHTFIELD], "ObjectiveLensPower": "20"}],
    [{"IlluminationTypeCodeSequence": [BRIGHTFIELD], "ObjectiveLensPower": "2.5"}],
    [{"IlluminationTypeCodeSequence": [BRIGHTFIELD], "ObjectiveLensPower": None}],
    [{"IlluminationTypeCodeSequence": [], "ObjectiveLensPower": "40"}],
    [{"IlluminationTypeCodeSequence": [EPIFLUORESCENCE], "ObjectiveLensPower": "20"}] * 3,
    [],
]
OPTICAL_PATH_WEIGHTS = (0.4, 0.3, 0.05, 0.05, 0.05, 0.1, 0.05)
LABEL_OPTICAL_PATH = 3

IMAGE_TYPES = [  # label, full-resolution level, lower levels
    ["ORIGINAL", "PRIMARY", "LABEL", "NONE"],
    ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"],
    ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"],
]
# Where an SM series records its pixel spacing.
SPACING_IN_FUNCTIONAL_GROUPS, SPACING_TOP_LEVEL, SPACING_NONE = range(3)
SPACING_WEIGHTS = (0.85, 0.1, 0.05)

ANNOTATION_GROUP_COUNTS = (0, 1, 2, 3, 4)
ANNOTATION_GROUP_COUNT_WEIGHTS = (0.2, 0.3, 0.25, 0.15, 0.1)
GROUP_LABELS = ["Nuclei", "Tumor region", "Lymphocytes", "Stroma", "Necrosis"]
GENERATION_TYPES = ["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"]
ALGORITHMS = ["HoVer-Net", "StarDist", "CellViT"]
GRAPHIC_TYPES = ["POINT", "POLYGON", "POLYLINE", "RECTANGLE", "ELLIPSE"]
PROPERTY_CATEGORIES = [  # the last: no code recorded
    [_code("Anatomical Structure", "91723000")],
    [_code("Morphologically Altered Structure", "49755003")],
    [_code("Tissue", "85756007")],
    [],
]
PROPERTY_TYPES = [
    [_code("Nucleus", "84640000")],
    [_code("Neoplasm", "108369006")],
    [_code("Lymphocyte", "56972008")],
    [],
]
# ReferencedSeriesSequence of an ANN series: the chosen SM series, that and a second one, nothing.
REFERENCE_LAYOUT_WEIGHTS = (0.6, 0.15, 0.25)


def columns(instances: InstanceRows) -> dict[str, dict]:
    """{table: {column: one value per instance}} for the sample's dicom tables."""
    dicom_all: dict[str, pa.Array] = {}
    for rows, make in (
        (np.flatnonzero(instances.where("SM")), _slide_microscopy),
        (np.flatnonzero(instances.where("ANN")), _annotations),
    ):
        if len(rows):
            for name, values in make(instances, rows).items():
                dicom_all[name] = scatter(rows, values, len(instances))
    return {"dicom_all": dicom_all}


# --- SM -----------------------------------------------------------------------------------------


def _slide_microscopy(instances: InstanceRows, rows: np.ndarray) -> dict[str, pa.Array]:
    seed, series, number = instances.seed, instances.series[rows], instances.number[rows]

    def series_u(salt: int) -> np.ndarray:
        return uniform(seed, series, salt)

    anatomy = _anatomy_index(instances.collection_id(rows))
    modifier = (series_u(41) * len(MODIFIERS)).astype(int)
    protocol = weighted(series_u(42), PROTOCOL_WEIGHTS)
    layout = weighted(series_u(43), SPECIMEN_LAYOUT_WEIGHTS)
    specimen = ((anatomy * len(MODIFIERS) + modifier) * len(PROTOCOLS) + protocol) * len(
        SPECIMEN_LAYOUTS
    ) + layout
    diagnoses = anatomy * 3 + weighted(series_u(44), (0.1, 0.8, 0.1))

    # Pyramid: instance 0 is the label, instance 1 the full-resolution level, then levels / 4.
    level = np.maximum(number - 1, 0)
    width = (20_000 + series_u(45) * 100_000).astype(np.int64)
    height = (15_000 + series_u(46) * 80_000).astype(np.int64)
    is_label = number == 0
    columns_ = np.where(is_label, 1_200, width >> (2 * level))
    rows_ = np.where(is_label, 900, height >> (2 * level))
    unknown_matrix = series_u(47) < 0.05  # older conversions without TotalPixelMatrix*
    tile = np.where(series_u(48) < 0.5, 256, 512)

    base_spacing = np.round(0.00022 + series_u(49) * 0.00006, 9)
    spacing = np.where(is_label, 0.04, base_spacing * 4.0**level)
    spacing_kind = weighted(series_u(50), SPACING_WEIGHTS)
    pixel_spacing = _pixel_spacing(spacing, np.round(spacing * (1 + series_u(51) * 0.01), 9))
    in_groups = spacing_kind == SPACING_IN_FUNCTIONAL_GROUPS
    functional_groups = _wrap_pixel_measures(pixel_spacing, in_groups)
    top_level = pc.if_else(
        pa.array(spacing_kind == SPACING_TOP_LEVEL),
        pixel_spacing,
        pa.scalar(None, pa.list_(pa.string())),
    )

    container = join("SLIDE", text(series), sep="-")
    container = pc.if_else(pa.array(series_u(52) < 0.05), pa.scalar(None, pa.string()), container)

    return {
        "ContainerIdentifier": container,
        "ImageType": _catalog("ImageType", IMAGE_TYPES, np.minimum(number, 2)),
        "TotalPixelMatrixColumns": pa.array(columns_, mask=unknown_matrix),
        "TotalPixelMatrixRows": pa.array(rows_, mask=unknown_matrix),
        "Columns": pa.array(tile),
        "Rows": pa.array(tile),
        "SharedFunctionalGroupsSequence": functional_groups,
        "PixelSpacing": top_level,
        "SpecimenDescriptionSequence": _catalog(
            "SpecimenDescriptionSequence", _specimen_catalog(), specimen
        ),
        "OpticalPathSequence": _catalog(
            "OpticalPathSequence",
            OPTICAL_PATHS,
            np.where(is_label, LABEL_OPTICAL_PATH, weighted(series_u(53), OPTICAL_PATH_WEIGHTS)),
        ),
        "AdmittingDiagnosesCodeSequence": _catalog(
            "AdmittingDiagnosesCodeSequence", _diagnosis_catalog(), diagnoses
        ),
    }


@cache
def _specimen_catalog() -> list[list[dict]]:
    """Every SpecimenDescriptionSequence value, indexed as in `_slide_microscopy`."""
    values = []
    for anatomy in ANATOMY_KEYS:
        structure = ANATOMY[anatomy][0]
        for modifier in MODIFIERS:
            site = structure | {
                "PrimaryAnatomicStructureModifierSequence": [modifier] if modifier else []
            }
            for protocol in range(len(PROTOCOLS)):
                specimens = [
                    {
                        "PrimaryAnatomicStructureSequence": [site],
                        "SpecimenPreparationSequence": PROTOCOLS[(protocol + i) % len(PROTOCOLS)],
                    }
                    for i in range(max(SPECIMEN_LAYOUTS))
                ]
                values += [specimens[:count] for count in SPECIMEN_LAYOUTS]
    return values


@cache
def _diagnosis_catalog() -> list[list[dict]]:
    """Per anatomy: no admitting diagnosis, one, or two."""
    values = []
    for anatomy in ANATOMY_KEYS:
        diagnosis = ANATOMY[anatomy][1]
        values += [[], [diagnosis], [diagnosis, SECONDARY_DIAGNOSIS]]
    return values


def _anatomy_index(collection_id: np.ndarray) -> np.ndarray:
    names, inverse = np.unique(collection_id, return_inverse=True)
    index = np.array([ANATOMY_KEYS.index(n) if n in ANATOMY else 0 for n in names], dtype=int)
    return index[inverse]


def _pixel_spacing(row_spacing: np.ndarray, column_spacing: np.ndarray) -> pa.Array:
    """[row spacing, column spacing] per instance, as DICOM DS strings."""
    values = np.stack([row_spacing, column_spacing], axis=1).reshape(-1)
    offsets = pa.array(np.arange(len(row_spacing) + 1, dtype=np.int32) * 2)
    return pa.ListArray.from_arrays(offsets, text(values))


def _wrap_pixel_measures(pixel_spacing: pa.Array, present: np.ndarray) -> pa.Array:
    """SharedFunctionalGroupsSequence with one PixelMeasuresSequence item holding the spacing where
    `present`, empty elsewhere."""
    groups_type = _column_type("SharedFunctionalGroupsSequence")
    measures_type = groups_type.value_type.field("PixelMeasuresSequence").type
    kept = pc.filter(pixel_spacing, pa.array(present))
    measure = pa.StructArray.from_arrays([kept], fields=list(measures_type.value_type))
    measures = _wrap(measure, np.ones(len(kept), dtype=bool), measures_type)
    group = pa.StructArray.from_arrays([measures], fields=list(groups_type.value_type))
    return _wrap(group, present, groups_type)


# --- ANN ----------------------------------------------------------------------------------------


def _annotations(instances: InstanceRows, rows: np.ndarray) -> dict[str, pa.Array]:
    seed, series = instances.seed, instances.series[rows]
    revision, number = instances.revision[rows], instances.number[rows]
    coordinate = weighted(uniform(seed, series, 61), (0.7, 0.15, 0.15))

    # Annotation groups, one flat row per group of each instance.
    counts = np.array(ANNOTATION_GROUP_COUNTS)[
        weighted(uniform(seed, series, revision, number, 62), ANNOTATION_GROUP_COUNT_WEIGHTS)
    ]
    owner = np.repeat(np.arange(len(rows)), counts)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    g_series, g_revision, g_number = series[owner], revision[owner], number[owner]

    def group_u(salt: int) -> np.ndarray:
        return uniform(seed, g_series, g_revision, g_number, position, salt)

    generation = (group_u(63) * len(GENERATION_TYPES)).astype(int)
    automatic = np.array([t != "MANUAL" for t in GENERATION_TYPES])[generation]
    algorithm = pick(ALGORITHMS, (group_u(64) * len(ALGORITHMS)).astype(int))
    algorithm_item = _struct(
        _item_type("AnnotationGroupSequence", "AnnotationGroupAlgorithmIdentificationSequence"),
        {"AlgorithmName": algorithm},
    )
    group_type = _item_type("AnnotationGroupSequence")
    groups = _struct(
        group_type,
        {
            "AnnotationGroupNumber": pa.array(position + 1),
            "AnnotationGroupUID": join(
                pc.take(instances.sop_uid, pa.array(rows[owner])), text(position + 1), sep="."
            ),
            "AnnotationGroupLabel": pick(
                GROUP_LABELS, (group_u(65) * len(GROUP_LABELS)).astype(int)
            ),
            "AnnotationGroupGenerationType": pick(GENERATION_TYPES, generation),
            "AnnotationGroupAlgorithmIdentificationSequence": _wrap(
                pc.filter(algorithm_item, pa.array(automatic)),
                automatic,
                group_type.field("AnnotationGroupAlgorithmIdentificationSequence").type,
            ),
            "NumberOfAnnotations": pa.array((10 ** (1 + group_u(66) * 5)).astype(np.int64)),
            "GraphicType": pick(GRAPHIC_TYPES, (group_u(67) * len(GRAPHIC_TYPES)).astype(int)),
            "AnnotationPropertyCategoryCodeSequence": pa.array(
                PROPERTY_CATEGORIES,
                group_type.field("AnnotationPropertyCategoryCodeSequence").type,
            ).take(pa.array((group_u(68) * len(PROPERTY_CATEGORIES)).astype(int))),
            "AnnotationPropertyTypeCodeSequence": pa.array(
                PROPERTY_TYPES, group_type.field("AnnotationPropertyTypeCodeSequence").type
            ).take(pa.array((group_u(69) * len(PROPERTY_TYPES)).astype(int))),
        },
    )
    return {
        "AnnotationCoordinateType": pick(["2D", "3D", None], coordinate),
        "AnnotationGroupSequence": pa.ListArray.from_arrays(
            list_offsets(counts), groups, type=_column_type("AnnotationGroupSequence")
        ),
        "ReferencedSeriesSequence": _referenced_slides(instances, rows),
    }


def _referenced_slides(instances: InstanceRows, rows: np.ndarray) -> pa.Array:
    """ReferencedSeriesSequence of each ANN instance: the SM series of its collection in the release
    that scores highest for it (rendezvous hashing), or that and the runner-up, or nothing."""
    seed, series = instances.seed, instances.series[rows]
    first, second = np.full(len(rows), -1), np.full(len(rows), -1)
    collection_id = instances.collection_id(rows)
    for collection in np.unique(collection_id):
        candidates = np.flatnonzero(instances.slide_collection_id == collection)
        mine = np.flatnonzero(collection_id == collection)
        if len(candidates) == 0:
            continue
        scores = mix(seed, series[mine, None], instances.slide_series[None, candidates], 70)
        best = np.argmax(scores, axis=1)
        first[mine] = candidates[best]
        if len(candidates) > 1:
            scores[np.arange(len(mine)), best] = 0
            best = np.argmax(scores, axis=1)
        second[mine] = candidates[best]
    layout = weighted(uniform(seed, series, 71), REFERENCE_LAYOUT_WEIGHTS)
    layout = np.where((first < 0) | ((layout == 1) & (second == first)), 2, layout)
    counts = np.array([1, 2, 0])[layout]
    targets = np.stack([first, second], axis=1)[np.arange(2)[None, :] < counts[:, None]]
    item = _struct(
        _item_type("ReferencedSeriesSequence"),
        {"SeriesInstanceUID": pc.take(instances.slide_series_uid, pa.array(targets))},
    )
    return pa.ListArray.from_arrays(
        list_offsets(counts), item, type=_column_type("ReferencedSeriesSequence")
    )


# --- building blocks ----------------------------------------------------------------------------


def _column_type(column: str) -> pa.DataType:
    return source_tables()[DICOM_ALL].field(column).type


def _item_type(column: str, *nested: str) -> pa.DataType:
    """The item (struct) type of a sequence column, or of a sequence nested in its items."""
    item = _column_type(column).value_type
    for name in nested:
        item = item.field(name).type.value_type
    return item


def _struct(item_type: pa.DataType, fields: dict[str, pa.Array]) -> pa.StructArray:
    """Items of `item_type` from flat field arrays; fields not given are NULL (empty if REPEATED)."""
    size = len(next(iter(fields.values())))
    children = []
    for field in item_type:
        value = fields.get(field.name)
        if value is None:
            value = empty_lists(field.type, size) if pa.types.is_list(field.type) else None
        children.append(pa.nulls(size, field.type) if value is None else pc.cast(value, field.type))
    return pa.StructArray.from_arrays(children, fields=list(item_type))


def _wrap(items: pa.Array, present: np.ndarray, list_type: pa.DataType | None = None) -> pa.Array:
    """One-item sequences: row i holds the next item where present[i], nothing elsewhere."""
    list_type = list_type or pa.list_(items.type)
    return pa.ListArray.from_arrays(list_offsets(present.astype(np.int64)), items, type=list_type)


def _catalog(column: str, values: list, index: np.ndarray) -> pa.Array:
    return pa.array(values, type=_column_type(column)).take(pa.array(index))
