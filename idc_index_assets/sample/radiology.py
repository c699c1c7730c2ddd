"""Sample release columns for CT, MR and PT instances: acquisition parameters, the PET
radiopharmaceutical, contrast agents and the position and orientation of every slice.

Attributes that are constant within a series are drawn (from `uniform(seed, series, salt)`, so a
revised series keeps its protocol) and formatted once per series, then spread to its instances;
values that vary within a series (tube current, echo times, b-values, frame durations, contrast
before the injection, slice positions) come from the instance number or per-instance values.

Geometry: most series are regular volumes, axial for CT and PT and axial, sagittal, coronal or
oblique for MR. A known share is irregular in one way each (`GEOMETRY_KINDS`): a missing slice,
two slices at the same position, one slice with another orientation, a gantry-tilted CT whose
slices move along the table axis rather than the slice normal, series that repeat one slice
position (cine, perfusion), non-perpendicular direction cosines, and a first slice with another
pixel spacing or image size. Dynamic PET repeats every position once per time frame. Localizers
are CT series with a LOCALIZER ImageType.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idc_index_assets.sample.kit import (
    InstanceRows,
    list_offsets,
    pick,
    scatter,
    spread,
    text,
    uniform,
    weighted,
)
from idc_index_assets.sources.contract import source_tables

STRINGS = pa.list_(pa.string())

# Geometry kinds of a series, with their share among CT, MR and PT series (gantry tilt: CT only).
GEOMETRY_KINDS = {
    "regular": 0.63,
    "gap": 0.06,  # the slice after the sixth is missing
    "duplicate": 0.06,  # the third and fourth instance share a position
    "orientation_change": 0.05,  # the first instance is rotated in plane by 3 degrees
    "gantry_tilt": 0.06,
    "single_position": 0.05,  # every instance at the same position
    "skewed": 0.03,  # row and column directions 75 degrees apart (a broken header)
    "pixel_spacing_change": 0.03,  # the first instance has twice the pixel spacing
    "size_change": 0.03,  # the first instance is 256 x 256 pixels
}
GAP_AFTER, DUPLICATE_AT, SKEW_DEGREES = 5, 3, 15.0
# The salts of the geometry kinds and of the PT sequence shapes are chosen so that the default
# sample (seed 7) has every kind and shape in its newest version.


@dataclass(frozen=True)
class Series:
    """The series of the instances, one element each (a series' instances are adjacent and
    numbered from 0)."""

    instances: InstanceRows
    first: np.ndarray  # per instance: the first instance of its series
    owner: np.ndarray  # per instance: the position of its series
    starts: np.ndarray  # per series: the position of its first instance
    ends: np.ndarray  # per series: the position after its last instance
    ids: np.ndarray  # per series: its number in the universe (InstanceRows.series)
    modality: np.ndarray  # per series: as InstanceRows.modality

    @classmethod
    def of(cls, instances: InstanceRows) -> Series:
        first = instances.number == 0
        starts = np.flatnonzero(first)
        return cls(
            instances,
            first,
            np.cumsum(first) - 1,
            starts,
            np.append(starts[1:], len(first))[: len(starts)].astype(np.int32),
            instances.series[starts],
            instances.modality[starts],
        )

    def __len__(self) -> int:
        return len(self.starts)

    def uniform(self, salt: int) -> np.ndarray:
        """The values of `instances.uniform(salt)`, one per series."""
        return uniform(self.instances.seed, self.ids, salt)

    def where(self, *modalities: str) -> np.ndarray:
        return np.isin(self.instances.modality_names, modalities)[self.modality]

    def spread(self, values):
        """Per-series values (Arrow or numpy) as per-instance values."""
        if isinstance(values, pa.Array):
            return spread(values, self.owner, self.ends)
        return np.asarray(values)[self.owner]


def columns(instances: InstanceRows) -> dict[str, dict]:
    """{table: {column: one value per instance}} for the sample's dicom tables; instances of
    other modalities are NULL."""
    series = Series.of(instances)
    geometry_kind = series_geometry_kind(series)
    by_modality = [
        _ct_columns(series, geometry_kind),
        _mr_columns(series),
        _pt_columns(series),
    ]
    image_type = pc.coalesce(*[columns.pop("ImageType") for columns in by_modality])
    dicom_all = {"ImageType": series.spread(image_type)}
    for modality_columns in by_modality:
        dicom_all |= modality_columns
    dicom_all |= _contrast_columns(series)
    dicom_all |= _geometry_columns(series, geometry_kind)
    return {"dicom_all": dicom_all}


# --- building blocks ---------------------------------------------------------------------------


def _only(mask: np.ndarray, values) -> pa.Array:
    """`values` where `mask`, NULL elsewhere."""
    values = values if isinstance(values, pa.Array) else pa.array(values)
    return pc.if_else(pa.array(mask), values, pa.scalar(None, values.type))


def _ds_text(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as DICOM DS/IS strings ("120", "0.625")."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" and (values.size == 0 or np.abs(values).max() < 10**10):
        return text(values)  # below 1e10, whole numbers print alike as integers and as floats
    return text(np.round(values.astype(np.float64), decimals) + 0.0)  # no "-0"


def _instance_text(series: Series, values: np.ndarray, rows: np.ndarray, decimals: int) -> pa.Array:
    """`_ds_text(values[rows])` for per-instance numbers (one row each, or a row of several),
    `rows` ascending; where every instance of a series holds the same number (most series, for
    most attributes), it is formatted once for the series."""
    if len(series) == 0:
        return _ds_text(values[rows].ravel(), decimals)
    low = np.minimum.reduceat(values, series.starts, axis=0)
    shared = low == np.maximum.reduceat(values, series.starts, axis=0)
    owner = series.owner[rows]
    shared_rows = shared[owner]
    width = values[0].size
    position = (owner * width).reshape(-1, *([1] * (values.ndim - 1))) + np.arange(width).reshape(
        values.shape[1:]
    )
    own = low.size + np.cumsum(~shared_rows).reshape(shared_rows.shape) - 1
    index = np.where(shared_rows, position, own)
    pool = pa.concat_arrays(
        [_ds_text(low.ravel(), decimals), _ds_text(values[rows][~shared_rows], decimals)]
    )
    return pool.take(pa.array(index.ravel()))


def _instance_strings(
    series: Series, values: np.ndarray, mask: np.ndarray, decimals: int = 4
) -> pa.Array:
    """Per-instance numbers as DS/IS strings, NULL outside `mask` (per instance)."""
    rows = np.flatnonzero(mask)
    return scatter(rows, _instance_text(series, values, rows, decimals), len(mask))


def _decimal_strings(values: np.ndarray, mask: np.ndarray, decimals: int = 4) -> pa.Array:
    """Numbers as DS/IS strings, NULL outside `mask`."""
    return _only(mask, _ds_text(values, decimals))


def _string_lists(values: np.ndarray, mask: np.ndarray, series: Series | None = None) -> pa.Array:
    """Rows of a 2-D array of numbers as REPEATED DS strings, NULL outside `mask`; with `series`,
    the rows are per instance of those series."""
    width = values.shape[1]
    if series is None:
        flat = _ds_text(values[mask].ravel(), 6)
    else:
        flat = _instance_text(series, values, np.flatnonzero(mask), 6)
    return pa.ListArray.from_arrays(list_offsets(mask * width), flat, mask=pa.array(~mask))


def _choice(series: Series, salt: int, options, weights=None) -> tuple[pa.Array, np.ndarray]:
    """One of `options` per series (None is NULL), and the index chosen."""
    weights = np.ones(len(options)) if weights is None else weights
    index = weighted(series.uniform(salt), weights)
    return pick(options, index), index


def _spread_all(series: Series, columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    return {name: series.spread(values) for name, values in columns.items()}


# --- CT ----------------------------------------------------------------------------------------


def _ct_columns(series: Series, kind: np.ndarray) -> dict[str, pa.Array]:
    ct = series.where("CT")
    image_type, _ = _choice(
        series,
        101,
        [
            ["ORIGINAL", "PRIMARY", "AXIAL"],
            ["DERIVED", "SECONDARY", "AXIAL"],
            ["ORIGINAL", "PRIMARY", "LOCALIZER"],
        ],
        [0.85, 0.1, 0.05],
    )
    kvp, _ = _choice(series, 102, ["120", "100", "140", "80", None], [0.6, 0.15, 0.12, 0.08, 0.05])
    scan_options, scan = _choice(
        series,
        103,
        [["HELICAL MODE"], ["AXIAL MODE"], ["HELICAL MODE", "CARDIAC GATING"], []],
        [0.6, 0.2, 0.1, 0.1],
    )
    kernel, _ = _choice(
        series,
        104,
        [["B30f"], ["STANDARD"], ["LUNG"], ["FC51"], ["Br40d", "3"], ["Hr64h", "5"], []],
        [0.2, 0.2, 0.15, 0.1, 0.15, 0.1, 0.1],
    )
    filter_type, _ = _choice(series, 105, ["BODY FILTER", "FLAT", "WEDGE", None])
    helical = np.isin(scan, [0, 2])
    pitch = np.array([0.984375, 1.375, 0.9, 1.2])[(series.uniform(106) * 4).astype(int)]
    exposure_time = np.array([500, 750, 1000, 570])[(series.uniform(110) * 4).astype(int)]
    pixel_spacing = series.instances.pixel_spacing[series.first]  # the field of view matches it
    tilt = np.where(kind == "gantry_tilt", _gantry_tilt_degrees(series), 0.0)
    constant = {
        "ImageType": _only(ct, image_type),  # spread by `columns`
        "KVP": _only(ct, kvp),
        "ScanOptions": _only(ct, scan_options),
        "ConvolutionKernel": _only(ct, kernel),
        "FilterType": _only(ct, filter_type),
        "SpiralPitchFactor": _only(ct & helical, pitch),
        "GantryDetectorTilt": _decimal_strings(tilt, ct),
        "ExposureTime": _decimal_strings(exposure_time, ct),
        "DataCollectionDiameter": _decimal_strings(np.full(len(series), 500.0), ct),
        "ReconstructionDiameter": _decimal_strings(pixel_spacing * 512, ct, decimals=1),
    }

    # Dose modulation: the tube current changes from slice to slice in most series.
    modulated = series.spread(series.uniform(107) < 0.7)
    base_current = series.spread(100 + (series.uniform(108) * 300).astype(int))
    swing = np.where(modulated, 0.5 + series.instances.uniform(109, per="instance"), 1.0)
    current = np.round(base_current * swing).astype(np.int64)
    exposure = np.round(current * series.spread(exposure_time) / 1000).astype(np.int64)
    ct_instance = series.spread(ct)
    return (
        {"ImageType": constant.pop("ImageType")}
        | _spread_all(series, constant)
        | {
            "XRayTubeCurrent": _instance_strings(series, current, ct_instance),
            "Exposure": _instance_strings(series, exposure, ct_instance),
        }
    )


def _gantry_tilt_degrees(series: Series) -> np.ndarray:
    return np.array([-20.0, -15.0, 12.5, 15.0, 22.0])[(series.uniform(111) * 5).astype(int)]


# --- MR ----------------------------------------------------------------------------------------

# One protocol per MR series: (ScanningSequence, SequenceVariant, MRAcquisitionType, EchoTime ms,
# RepetitionTime ms, EchoTrainLength, FlipAngle, InversionTime ms, SequenceName, PixelBandwidth).
MR_PROTOCOLS = {
    "t2_tse": (["SE"], ["SK", "SP", "OSP"], "2D", 98.0, 4000, 16, 150, None, "*tse2d1_16", 200),
    "t1_dce": (["GR"], ["SP", "OSP"], "3D", 1.43, 4.1, 1, 12, None, "*fl3d1", 390),
    "dwi": (["EP"], ["SK", "SP"], "2D", 68.0, 5200, 1, 90, None, "*ep_b0_800", 1502),
    "multi_echo_gre": (["GR"], ["SP"], "2D", 2.46, 45, 3, 20, None, "*fl2d3", 260),
    "flair": (
        ["SE", "IR"],
        ["SK", "SP", "MP"],
        "2D",
        125.0,
        9000,
        16,
        150,
        2500,
        "*tir2d1_16",
        287,
    ),
}
MR_PROTOCOL_WEIGHTS = [0.35, 0.2, 0.2, 0.1, 0.15]
B_VALUES = np.array([0.0, 400.0, 800.0])
ECHOES = 3
DCE_TIME_POINTS = "40"


def mr_protocol(series: Series) -> np.ndarray:
    """Index into MR_PROTOCOLS of each series (meaningful for MR series)."""
    return weighted(series.uniform(201), MR_PROTOCOL_WEIGHTS)


def _mr_columns(series: Series) -> dict[str, pa.Array]:
    mr = series.where("MR")
    names = list(MR_PROTOCOLS)
    protocol = mr_protocol(series)
    attributes = zip(*MR_PROTOCOLS.values(), strict=True)
    (sequence, variant, acquisition, echo, repetition, train, flip, inversion, name, bandwidth) = [
        pick(values, protocol) for values in attributes
    ]
    dwi, dce = protocol == names.index("dwi"), protocol == names.index("t1_dce")
    tesla = np.where(series.uniform(202) < 0.55, 3.0, 1.5)
    image_type = pc.if_else(
        pa.array(dwi & (series.uniform(204) < 0.5)),
        pa.scalar(["DERIVED", "PRIMARY", "DIFFUSION", "ADC"], STRINGS),
        pa.scalar(["ORIGINAL", "PRIMARY", "M", "ND"], STRINGS),
    )
    coil, _ = _choice(series, 203, ["Body", "BO1_2:SP1-4", "SENSE-TORSO", None])
    constant = {
        "MagneticFieldStrength": _decimal_strings(tesla, mr),
        "ImagingFrequency": _decimal_strings(42.577478 * tesla, mr, decimals=6),
        "ImagedNucleus": _only(mr, pa.array(["1H"] * len(series))),
        "ScanningSequence": _only(mr, sequence),
        "SequenceVariant": _only(mr, variant),
        "MRAcquisitionType": _only(mr, acquisition),
        "RepetitionTime": _only(mr, pc.cast(repetition, pa.string())),
        "EchoTrainLength": _only(mr, pc.cast(train, pa.string())),
        "FlipAngle": _only(mr, pc.cast(flip, pa.string())),
        "InversionTime": _only(mr, pc.cast(inversion, pa.string())),
        "SequenceName": _only(mr, name),
        "PixelBandwidth": _only(mr, pc.cast(bandwidth, pa.string())),
        "ReceiveCoilName": _only(mr, coil),
        "NumberOfTemporalPositions": _only(mr & dce, pa.array([DCE_TIME_POINTS] * len(series))),
    }

    # Multi-echo series cycle through their echoes, DWI series through their b-values.
    number = series.instances.number
    multi_echo = series.spread(protocol == names.index("multi_echo_gre"))
    echo_number = np.where(multi_echo, number % ECHOES, 0)
    echo_time = series.spread(echo.to_numpy(zero_copy_only=False)) * (echo_number + 1.0)
    mr_instance = series.spread(mr)
    return (
        {"ImageType": _only(mr, image_type)}
        | _spread_all(series, constant)
        | {
            "EchoTime": _instance_strings(series, echo_time, mr_instance),
            "DiffusionBValue": _only(
                mr_instance & series.spread(dwi), B_VALUES[number % len(B_VALUES)]
            ),
        }
    )


# --- PT ----------------------------------------------------------------------------------------

# (radionuclide code meaning, radiopharmaceutical, typical total dose in Bq)
TRACERS = [
    ("^18^Fluorine", "Fluorodeoxyglucose F^18^", 370e6),
    ("^68^Gallium", "Ga-68 PSMA-11", 185e6),
    ("^18^Fluorine", "FLT", 300e6),
]
# Shape of the RadiopharmaceuticalInformationSequence: one item (most), none, one item without a
# radionuclide code, two items (the first one describes the series).
PT_SEQUENCE_SHAPES = {"one": 0.55, "none": 0.15, "no_code": 0.15, "two": 0.15}
DYNAMIC_FRAMES = 3
FRAME_DURATIONS_MS = np.array([60000, 120000, 300000])


def pt_time_frames(series: Series) -> np.ndarray:
    """Time frames of each PET series: DYNAMIC_FRAMES for a dynamic series, 1 for the others."""
    dynamic = series.where("PT") & (series.uniform(301) < 0.2)
    return np.where(dynamic, DYNAMIC_FRAMES, 1)


def _pt_columns(series: Series) -> dict[str, pa.Array]:
    pt = series.where("PT")
    frames = pt_time_frames(series)
    dynamic = frames > 1
    static_type, _ = _choice(
        series, 302, [["WHOLE BODY", "IMAGE"], ["STATIC", "IMAGE"], []], [0.6, 0.3, 0.1]
    )
    series_type = pc.if_else(
        pa.array(dynamic), pa.scalar(["DYNAMIC", "IMAGE"], STRINGS), static_type
    )
    units, _ = _choice(series, 303, ["BQML", "CNTS"], [0.85, 0.15])
    decay, _ = _choice(series, 304, ["START", "ADMIN", "NONE"], [0.7, 0.2, 0.1])
    corrected, _ = _choice(
        series,
        305,
        [["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"], ["ATTN", "DECY"], []],
        [0.6, 0.3, 0.1],
    )
    randoms, _ = _choice(series, 306, ["DLYD", "SING", None])
    reconstruction, _ = _choice(series, 307, ["OSEM3D 3i21s", "VPHDS", "FBP"])
    scatter, _ = _choice(series, 308, ["Model-based", "CONVOLUTION SUBTRACTION", None])
    attenuation, _ = _choice(series, 309, ["CT-based", "measured,AC CT", None])
    slice_count = series.instances.instance_count[series.first]
    constant = {
        "SeriesType": _only(pt, series_type),
        "Units": _only(pt, units),
        "DecayCorrection": _only(pt, decay),
        "CorrectedImage": _only(pt, corrected),
        "RandomsCorrectionMethod": _only(pt, randoms),
        "ReconstructionMethod": _only(pt, reconstruction),
        "ScatterCorrectionMethod": _only(pt, scatter),
        "AttenuationCorrectionMethod": _only(pt, attenuation),
        "NumberOfSlices": _only(pt, -(-slice_count // frames)),  # per time frame, rounded up
        "NumberOfTimeSlices": _only(pt & dynamic, frames),
        "RadiopharmaceuticalInformationSequence": _radiopharmaceutical(series, pt),
    }

    # Dynamic series cycle through their time frames, each with its own duration.
    static_duration = np.where(series.uniform(310) < 0.5, 120000, 180000)
    frame = series.instances.number % series.spread(frames)
    duration = np.where(
        series.spread(dynamic),
        FRAME_DURATIONS_MS[frame % len(FRAME_DURATIONS_MS)],
        series.spread(static_duration),
    )
    image_type = pa.array([["ORIGINAL", "PRIMARY"]] * len(series), STRINGS)
    return (
        {"ImageType": _only(pt, image_type)}
        | _spread_all(series, constant)
        | {
            "ActualFrameDuration": _instance_strings(series, duration, series.spread(pt)),
        }
    )


def _radiopharmaceutical(series: Series, pt: np.ndarray) -> pa.Array:
    """RadiopharmaceuticalInformationSequence per series: REPEATED RECORD with a nested code
    sequence."""
    shapes = list(PT_SEQUENCE_SHAPES)
    shape = weighted(series.uniform(316), list(PT_SEQUENCE_SHAPES.values()))
    items = np.where(
        pt, np.select([shape == shapes.index("none"), shape == shapes.index("two")], [0, 2], 1), 0
    )
    item_row = np.repeat(np.arange(len(series)), items)
    item_number = np.arange(len(item_row)) - np.repeat(np.cumsum(items) - items, items)

    # The second item of a two-item sequence names the next tracer.
    tracer = ((series.uniform(312) * len(TRACERS)).astype(int)[item_row] + item_number) % len(
        TRACERS
    )
    codes = np.where(shape[item_row] == shapes.index("no_code"), 0, 1)
    code_meaning = pick([t[0] for t in TRACERS], np.repeat(tracer, codes))
    code_sequence = pa.ListArray.from_arrays(
        list_offsets(codes),
        pa.StructArray.from_arrays([code_meaning], names=["CodeMeaning"]),
    )
    dose = np.array([t[2] for t in TRACERS])[tracer] * (0.8 + 0.4 * series.uniform(313)[item_row])
    start_seconds = (7 * 3600 + series.uniform(314) * 4 * 3600).astype(np.int64)[item_row]
    item = pa.StructArray.from_arrays(
        [
            code_sequence,
            text(np.round(dose)),
            pick([t[1] for t in TRACERS], tracer),
            pa.array(start_seconds * 1_000_000, pa.time64("us")),
        ],
        names=[
            "RadionuclideCodeSequence",
            "RadionuclideTotalDose",
            "Radiopharmaceutical",
            "RadiopharmaceuticalStartTime",
        ],
    )
    sequence = pa.ListArray.from_arrays(list_offsets(items), item, mask=pa.array(~pt))
    target = source_tables()["bigquery-public-data.idc_vNN.dicom_all"]
    return pc.cast(sequence, target.field("RadiopharmaceuticalInformationSequence").type)


# --- contrast ----------------------------------------------------------------------------------

# (agent, ingredient, route) per modality; None: the attribute is absent.
CT_CONTRAST = [
    ("OMNIPAQUE 350", "IOHEXOL", "IV"),
    ("Isovue-370", "IOPAMIDOL", "IV"),
    ("IV CONTRAST", None, None),
    (None, None, "ORAL"),
]
MR_CONTRAST = [("Gadavist", "GADOBUTROL", "IV"), ("MAGNEVIST", "GADOLINIUM", "IV")]
PT_CONTRAST = [("Omnipaque", None, "IV")]


def _contrast_columns(series: Series) -> dict[str, pa.Array]:
    """Contrast agent attributes: some CT series, the DCE MR series, a few PT series.

    Within a contrast series the first instance may lack the attributes (acquired before the
    injection) and some series spell the agent two ways from one instance to the next."""
    ct, mr, pt = series.where("CT"), series.where("MR"), series.where("PT")
    with_contrast = (
        (ct & (series.uniform(401) < 0.35))
        | (mr & (mr_protocol(series) == list(MR_PROTOCOLS).index("t1_dce")))
        | (pt & (series.uniform(401) < 0.1))
    )
    options = CT_CONTRAST + MR_CONTRAST + PT_CONTRAST
    first = np.select([ct, mr], [0, len(CT_CONTRAST)], len(CT_CONTRAST) + len(MR_CONTRAST))
    size = np.select([ct, mr], [len(CT_CONTRAST), len(MR_CONTRAST)], len(PT_CONTRAST))
    option = first + (series.uniform(402) * size).astype(int)
    agent = pick([o[0] for o in options], option)
    ingredient = pick([o[1] for o in options], option)
    route = pick([o[2] for o in options], option)

    number = series.instances.number
    before_injection = series.spread(series.uniform(403) < 0.3) & (number == 0)
    injected = series.spread(with_contrast) & ~before_injection
    # Some series spell the agent in upper case on every other instance.
    respelled = series.spread(series.uniform(404) < 0.2) & (number % 2 == 1)
    agent = pc.if_else(
        pa.array(respelled), series.spread(pc.utf8_upper(agent)), series.spread(agent)
    )
    return {
        "ContrastBolusAgent": _only(injected, agent),
        "ContrastBolusIngredient": _only(injected, series.spread(ingredient)),
        "ContrastBolusRoute": _only(injected, series.spread(route)),
    }


# --- geometry ----------------------------------------------------------------------------------


def series_geometry_kind(series: Series) -> np.ndarray:
    """The geometry kind (a key of GEOMETRY_KINDS) of each series."""
    names = np.array(list(GEOMETRY_KINDS))
    kind = names[weighted(series.uniform(520), list(GEOMETRY_KINDS.values()))]
    # Only CT has a gantry; a tilted MR or PT series would be an oblique one.
    return np.where((kind == "gantry_tilt") & ~series.where("CT"), "regular", kind)


def _rotation(axis: np.ndarray, vectors: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rotate each row vector about the matching unit axis (Rodrigues' formula)."""
    turned = degrees != 0  # most rows keep their vector: compute only the others
    axis, angle = axis[turned], np.radians(degrees[turned])[:, None]
    rotated = vectors.copy()
    rotated[turned] = (
        vectors[turned] * np.cos(angle)
        + np.cross(axis, vectors[turned]) * np.sin(angle)
        + axis * np.sum(axis * vectors[turned], axis=1, keepdims=True) * (1 - np.cos(angle))
    )
    return rotated


def _geometry_columns(series: Series, kind: np.ndarray) -> dict[str, pa.Array]:
    image = series.where("CT", "MR", "PT")
    # Orientation: axial for CT and PT; MR also sagittal, coronal or oblique (tilted about x).
    plane = np.where(series.where("MR"), (series.uniform(502) * 4).astype(int), 0)
    row_vector = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=float)[plane]
    col_vector = np.array([[0, 1, 0], [0, 0, -1], [0, 0, -1], [0, 1, 0]], dtype=float)[plane]
    x_axis = np.tile([1.0, 0.0, 0.0], (len(series), 1))
    oblique_degrees = np.where(plane == 3, 10 + series.uniform(503) * 20, 0.0)
    col_vector = _rotation(x_axis, col_vector, oblique_degrees)
    tilted = kind == "gantry_tilt"
    col_vector = _rotation(x_axis, col_vector, np.where(tilted, _gantry_tilt_degrees(series), 0.0))
    normal = np.cross(row_vector, col_vector)
    skewed_col = _rotation(normal, col_vector, np.where(kind == "skewed", SKEW_DEGREES, 0.0))
    orientation = np.concatenate([row_vector, skewed_col], axis=1)
    # The first instance of an orientation_change series is turned in plane.
    turned = (kind == "orientation_change") & image
    angle = np.full(int(turned.sum()), 3.0)
    turned_orientation = np.concatenate(
        [
            _rotation(normal[turned], row_vector[turned], angle),
            _rotation(normal[turned], col_vector[turned], angle),
        ],
        axis=1,
    )
    orientation_text = pa.concat_arrays(
        [
            _string_lists(orientation, image),
            _string_lists(turned_orientation, np.ones(len(angle), dtype=bool)),
        ]
    )
    first = series.first
    turned_instance = first & series.spread(turned)
    which = np.where(turned_instance, len(series) + np.cumsum(turned_instance) - 1, series.owner)

    # Slice index of each instance; dynamic PET repeats every position once per time frame.
    number = series.instances.number // series.spread(pt_time_frames(series))
    index = np.select(
        [series.spread(kind == k) for k in ("gap", "duplicate", "single_position")],
        [number + (number > GAP_AFTER), number - (number >= DUPLICATE_AT), 0 * number],
        number,
    )
    spacing = np.array([0.625, 1.0, 1.25, 2.5, 3.0, 5.0])[(series.uniform(504) * 6).astype(int)]
    # Slices run head to feet in some series, feet to head in others.
    step = spacing * np.where(series.uniform(505) < 0.5, 1.0, -1.0)
    origin = np.stack(
        [
            -250 + series.uniform(506) * 100,
            -250 + series.uniform(507) * 100,
            -400 + series.uniform(508) * 300,
        ],
        axis=1,
    )
    # A tilted gantry tilts the image plane, but the table still moves along z.
    direction = np.where(tilted[:, None], np.array([0.0, 0.0, 1.0]), normal)
    position = (
        series.spread(origin) + series.spread(direction) * (index * series.spread(step))[:, None]
    )

    # generate.py gives every slice of a series the same PixelSpacing, Rows and Columns; only the
    # first instance of some series differs (NULL elsewhere keeps generate.py's values).
    resampled = first & series.spread(kind == "pixel_spacing_change")
    spacing_twice = 2 * series.instances.pixel_spacing
    resized = first & series.spread(kind == "size_change")
    size = _only(resized, pa.array(np.full(len(first), 256)))
    return {
        "ImagePositionPatient": _string_lists(position, series.spread(image), series),
        "ImageOrientationPatient": orientation_text.take(pa.array(which)),
        "PixelSpacing": _string_lists(np.stack([spacing_twice, spacing_twice], axis=1), resampled),
        "Rows": size,
        "Columns": size,
    }
