"""A deterministic, vectorized sample IDC release: the source tables of IDC versions 1..V written as
a snapshot for the embedded engine (`<root>/bigquery-public-data/idc_vN/<table>.parquet`).

Design:

- A universe of series is drawn once: collection, patient, study, modality, analysis result,
  instance count, the release it appears in (birth), the release it is removed in (death) and the
  releases that revise it. Each release is then a view of that universe, so an unchanged series is
  byte-for-byte the same in every release that serves it, a revised one gets a new
  crdc_series_uuid (and instance uuids), and a removed one disappears.
- Storage follows IDC's history: version 1 serves from the legacy buckets (`idc-open-idc` for one
  collection, `public-datasets-idc` for the other open ones), later versions from each collection's
  license bucket, so some series versions move between buckets.
- Every per-instance value is a function of (seed, series, revision, instance) through a hash, and
  every string column is assembled with Arrow compute kernels: a million instance rows take seconds.
- Tables and column types come from the source contract (`sources.contract.source_tables`); columns
  the generator does not fill are NULL (or empty for REPEATED, as BigQuery exports them).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from idc_index_assets.gdc.cases import write_cases_snapshot
from idc_index_assets.sample import pathology, radiology, segmentation
from idc_index_assets.sample.kit import (
    InstanceRows,
    join,
    list_offsets,
    mix,
    pick,
    repeated_strings,
    spread,
    text,
    uniform,
    uuid4,
)
from idc_index_assets.sample.presets import PRESETS, ReleaseShape
from idc_index_assets.sources.contract import source_tables
from idc_index_assets.sources.tables import SOURCE_PROJECT

BASE_SERIES = 240
# Instance rows generated and written at a time (one row group): at most about 0.7 GB of Arrow
# memory while they are made. Larger chunks take no less time (at 1M rows: 2.6 GB) and smaller
# ones compress less well.
CHUNK_ROWS = 1 << 18
UID_ROOT = "1.2.826.0.1.3680043.8.498"
RELEASE_DATE = dt.date(2021, 1, 15)

CC_BY_4 = (
    "CC BY 4.0",
    "Creative Commons Attribution 4.0 International License",
    "https://creativecommons.org/licenses/by/4.0/",
)
CC_BY_3 = (
    "CC BY 3.0",
    "Creative Commons Attribution 3.0 Unported License",
    "https://creativecommons.org/licenses/by/3.0/",
)
CC_BY_NC_3 = (
    "CC BY-NC 3.0",
    "Creative Commons Attribution-NonCommercial 3.0 Unported License",
    "https://creativecommons.org/licenses/by-nc/3.0/",
)
# GCS bucket of each license, and the AWS bucket that mirrors each GCS bucket.
LICENSE_BUCKET = {
    "CC BY 4.0": "idc-open-data",
    "CC BY 3.0": "idc-open-idc1",
    "CC BY-NC 3.0": "idc-open-cr",
}
AWS_BUCKET = {
    "idc-open-data": "idc-open-data",
    "public-datasets-idc": "idc-open-data",
    "idc-open-idc1": "idc-open-data-two",
    "idc-open-cr": "idc-open-data-cr",
    "idc-open-idc": "idc-open-data",
}


@dataclass(frozen=True)
class Collection:
    collection_id: str
    name: str
    program: str
    doi: str
    license: tuple[str, str, str]
    cancer_types: str
    tumor_locations: str
    body_part: str | None
    modalities: dict[str, float]
    first_version: int = 1
    legacy_bucket: str = "public-datasets-idc"
    supporting_data: str = ""


COLLECTIONS = [
    Collection(
        "tcga_luad",
        "TCGA-LUAD",
        "TCGA",
        "10.7937/K9/TCIA.2016.JGNIHEP5",
        CC_BY_3,
        "Lung Cancer",
        "Lung",
        "CHEST",
        {"CT": 0.45, "SM": 0.4, "ANN": 0.1, "SEG": 0.05},
        supporting_data="Clinical, Genomics",
    ),
    Collection(
        "nlst",
        "NLST",
        "NLST",
        "10.7937/TCIA.HMQ8-J677",
        CC_BY_4,
        "Lung Cancer",
        "Lung",
        "CHEST",
        {"CT": 0.8, "SEG": 0.1, "SR": 0.1},
        legacy_bucket="idc-open-idc",
        supporting_data="Clinical",
    ),
    Collection(
        "cptac_ccrcc",
        "CPTAC-CCRCC",
        "CPTAC",
        "10.7937/K9/TCIA.2018.OBLAMN27",
        CC_BY_3,
        "Clear Cell Renal Cell Carcinoma",
        "Kidney",
        "KIDNEY",
        {"CT": 0.3, "MR": 0.3, "SM": 0.4},
        supporting_data="Clinical, Proteomics",
    ),
    Collection(
        "lidc_idri",
        "LIDC-IDRI",
        "Community",
        "10.7937/K9/TCIA.2015.LO9QL9SX",
        CC_BY_4,
        "Lung Cancer",
        "Chest",
        "CHEST",
        {"CT": 0.7, "SEG": 0.15, "SR": 0.15},
    ),
    Collection(
        "nsclc_radiomics",
        "NSCLC-Radiomics",
        "Community",
        "10.7937/K9/TCIA.2015.PF0M9REI",
        CC_BY_NC_3,
        "Non-small Cell Lung Cancer",
        "Lung",
        "CHEST",
        {"CT": 0.6, "RTSTRUCT": 0.2, "SEG": 0.2},
    ),
    Collection(
        "acrin_nsclc_fdg_pet",
        "ACRIN-NSCLC-FDG-PET",
        "ACRIN",
        "10.7937/K9/TCIA.2016.D0D6F5RA",
        CC_BY_4,
        "Non-small Cell Lung Cancer",
        "Lung",
        "CHEST",
        {"PT": 0.5, "CT": 0.5},
    ),
    Collection(
        "qin_prostate_repeatability",
        "QIN-PROSTATE-Repeatability",
        "QIN",
        "10.7937/K9/TCIA.2018.MR1CKGND",
        CC_BY_4,
        "Prostate Cancer",
        "Prostate",
        "PROSTATE",
        {"MR": 0.7, "SEG": 0.3},
    ),
    Collection(
        "cmb_crc",
        "CMB-CRC",
        "CMB",
        "10.7937/DJG7-GZ87",
        CC_BY_4,
        "Colorectal Cancer",
        "Colon",
        None,
        {"SM": 0.8, "ANN": 0.2},
        first_version=2,
    ),
]


@dataclass(frozen=True)
class AnalysisResult:
    analysis_result_id: str
    title: str
    doi: str
    covers: tuple[tuple[str, str], ...]  # (collection_id, modality) pairs it contributes


ANALYSIS_RESULTS = [
    AnalysisResult(
        "TotalSegmentator-CT-Segmentations",
        "TotalSegmentator segmentations of NLST CT",
        "10.5281/zenodo.8347012",
        (("nlst", "SEG"), ("nlst", "SR")),
    ),
    AnalysisResult(
        "Pan-Cancer-Nuclei-Seg-DICOM",
        "Nuclei segmentations of TCGA and CMB slides",
        "10.5281/zenodo.11099004",
        (("tcga_luad", "ANN"), ("cmb_crc", "ANN")),
    ),
    AnalysisResult(
        "Prostate-MRI-Expert-Annotations",
        "Expert prostate gland segmentations",
        "10.5281/zenodo.7676958",
        (("qin_prostate_repeatability", "SEG"),),
    ),
]


@dataclass(frozen=True)
class Modality:
    name: str
    sop_class: str
    transfer_syntaxes: tuple[str, ...]  # first: most instances; second (if any): first instance
    photometric: tuple[str | None, ...]  # aligned with transfer_syntaxes
    pixel_representation: int | None
    instances: tuple[int, int]  # range of instances per series
    megabytes: tuple[float, float]  # range of instance size
    descriptions: tuple[str, ...]
    manufacturers: tuple[str, ...]


EXPLICIT_LE, IMPLICIT_LE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
JPEG_BASELINE, JPEG2000 = "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.91"
MODALITIES = {
    m.name: m
    for m in [
        Modality(
            "CT",
            "1.2.840.10008.5.1.4.1.1.2",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            1,
            (20, 150),
            (0.4, 0.6),
            ("CHEST W/O CONTRAST", "1.25mm lung", "AXIAL 5mm", ""),
            ("SIEMENS", "GE MEDICAL SYSTEMS", "Philips"),
        ),
        Modality(
            "MR",
            "1.2.840.10008.5.1.4.1.1.4",
            (IMPLICIT_LE,),
            ("MONOCHROME2",),
            0,
            (10, 60),
            (0.1, 0.3),
            ("t2_tse_tra", "ADC", "DWI b800", "T1 post"),
            ("SIEMENS", "GE MEDICAL SYSTEMS"),
        ),
        Modality(
            "PT",
            "1.2.840.10008.5.1.4.1.1.128",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            1,
            (30, 90),
            (0.05, 0.1),
            ("PET WB", "PET AC"),
            ("GE MEDICAL SYSTEMS", "SIEMENS"),
        ),
        Modality(
            "SM",
            "1.2.840.10008.5.1.4.1.1.77.1.6",
            (JPEG_BASELINE, EXPLICIT_LE),
            ("YBR_FULL_422", "RGB"),
            0,
            (2, 8),
            (5.0, 400.0),
            ("", "H&E"),
            ("Aperio", "Leica Biosystems"),
        ),
        Modality(
            "SEG",
            "1.2.840.10008.5.1.4.1.1.66.4",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            0,
            (1, 1),
            (0.2, 8.0),
            ("Segmentation", "Lung nodule segmentation"),
            ("QIICR",),
        ),
        Modality(
            "SR",
            "1.2.840.10008.5.1.4.1.1.88.34",
            (EXPLICIT_LE,),
            (None,),
            None,
            (1, 1),
            (0.01, 0.05),
            ("Measurements",),
            ("QIICR",),
        ),
        Modality(
            "RTSTRUCT",
            "1.2.840.10008.5.1.4.1.1.481.3",
            (IMPLICIT_LE,),
            (None,),
            None,
            (1, 1),
            (0.1, 2.0),
            ("RTSTRUCT", ""),
            ("Varian Medical Systems",),
        ),
        Modality(
            "ANN",
            "1.2.840.10008.5.1.4.1.1.91.1",
            (EXPLICIT_LE,),
            (None,),
            None,
            (1, 2),
            (1.0, 30.0),
            ("Nuclei",),
            ("Highdicom",),
        ),
        # Modalities that only the release shapes of sample.presets use (after the others, so the
        # default sample's draws are unchanged).
        Modality(
            "MG",
            "1.2.840.10008.5.1.4.1.1.1.2",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            0,
            (1, 4),
            (10.0, 30.0),
            ("L CC", "R MLO"),
            ("HOLOGIC, Inc.", "GE MEDICAL SYSTEMS"),
        ),
        Modality(
            "CR",
            "1.2.840.10008.5.1.4.1.1.1",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            0,
            (1, 1),
            (8.0, 24.0),
            ("CHEST PA",),
            ("Agfa", "FUJIFILM Corporation"),
        ),
        Modality(
            "US",
            "1.2.840.10008.5.1.4.1.1.3.1",
            (JPEG_BASELINE,),
            ("YBR_FULL_422",),
            0,
            (1, 3),
            (1.0, 150.0),
            ("Abdomen",),
            ("Philips",),
        ),
        Modality(
            "DX",
            "1.2.840.10008.5.1.4.1.1.1.1",
            (EXPLICIT_LE,),
            ("MONOCHROME2",),
            0,
            (1, 2),
            (10.0, 30.0),
            ("CHEST AP",),
            ("Carestream Health",),
        ),
    ]
}


def _empty_or_null(field: pa.Field, rows: int) -> pa.Array:
    if pa.types.is_list(field.type):
        offsets = pa.array(np.zeros(rows + 1, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, pa.array([], type=field.type.value_type))
    return pa.nulls(rows, type=field.type)


def _nulls_as_empty_lists(values: pa.Array) -> pa.Array:
    """NULL lists become empty ones; rebuilt from offsets, as fill_null is slow on nested lists."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count == 0:
        return values
    lengths = pc.list_value_length(values)
    offsets = values.offsets  # without validity: a NULL list becomes the items its offsets span
    if offsets[-1].as_py() - offsets[0].as_py() == (pc.sum(lengths).as_py() or 0):
        return pa.ListArray.from_arrays(offsets, values.values, type=values.type)  # none
    lengths = pc.fill_null(lengths, 0).to_numpy()
    return pa.ListArray.from_arrays(list_offsets(lengths), values.flatten(), type=values.type)


def _table(contract_name: str, columns: dict[str, pa.Array], rows: int) -> pa.Table:
    """A table with exactly the contract's schema: given columns cast to it, the others empty."""
    schema = source_tables()[contract_name]
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{contract_name} has no column {sorted(unknown)} in the source contract")
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None:
            arrays.append(_empty_or_null(field, rows))
        elif pa.types.is_list(field.type):
            # BigQuery exports an absent REPEATED value as an empty list, never NULL.
            arrays.append(_nulls_as_empty_lists(pc.cast(value, field.type)))
        else:
            arrays.append(pc.cast(value, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# Modality-specific columns (sequences, acquisition parameters, ...) come from these providers:
# each takes the release's InstanceRows and returns {"dicom_all"|"dicom_metadata": {column: array}}
# with one value per instance.
COLUMN_PROVIDERS: list = [
    pathology.columns,
    radiology.columns,
    segmentation.columns,
]


# --- the universe of series ---------------------------------------------------------------------


@dataclass
class Universe:
    """One row per series ever published, across all versions."""

    collection: np.ndarray
    patient: np.ndarray  # global patient number
    study: np.ndarray  # global study number
    modality: np.ndarray  # index into MODALITY_NAMES
    analysis_result: np.ndarray  # index into ANALYSIS_RESULTS, -1 for original data
    instances: np.ndarray
    birth: np.ndarray
    death: np.ndarray  # first version without the series (versions + 1: never removed)
    revised_in: np.ndarray  # bool [series, version + 1]: revised in that version

    def __len__(self) -> int:
        return len(self.collection)


MODALITY_NAMES = list(MODALITIES)


def draw_universe(rng: np.random.Generator, series: int, versions: int) -> Universe:
    studies = max(series // 3, 1)
    patients = max(studies // 2, 1)
    # Patients belong to a collection; studies to a patient; series to a study.
    patient_collection = rng.integers(0, len(COLLECTIONS), patients)
    study_patient = np.concatenate(
        [np.arange(patients), rng.integers(0, patients, studies - patients)]
    )
    study = np.concatenate([np.arange(studies), rng.integers(0, studies, series - studies)])
    patient = study_patient[study]
    collection = patient_collection[patient]

    modality = np.empty(series, dtype=np.int64)
    for index, spec in enumerate(COLLECTIONS):
        members = np.flatnonzero(collection == index)
        names = list(spec.modalities)
        weights = np.array([spec.modalities[n] for n in names])
        choice = rng.choice(len(names), size=len(members), p=weights / weights.sum())
        modality[members] = [MODALITY_NAMES.index(names[c]) for c in choice]

    low = np.array([MODALITIES[n].instances[0] for n in MODALITY_NAMES])[modality]
    high = np.array([MODALITIES[n].instances[1] for n in MODALITY_NAMES])[modality]
    instances = rng.integers(low, high + 1)
    return _with_history(rng, collection, patient, study, modality, instances, versions, 0.7)


def draw_shaped_universe(
    rng: np.random.Generator, shape: ReleaseShape, scale: float, versions: int
) -> Universe:
    """A universe whose newest version has about `scale` times the series, studies, patients and
    instances of `shape`, with its modality mix and instances per series (sample.presets). Series
    appear evenly over the versions, so earlier versions are smaller, as IDC grew."""
    unknown = set(shape.modalities) - set(MODALITY_NAMES)
    if unknown:
        raise ValueError(f"release shape {shape.name}: no sample modality {sorted(unknown)}")
    # The universe also holds the series removed before the newest version.
    kept = 1 - REMOVED_SHARE * (versions - 1) / versions
    modality, instances = [], []
    for name, spec in shape.modalities.items():
        n = max(round(spec.series * scale / kept), 1)
        u = (rng.permutation(n) + rng.random(n)) / n  # stratified: the percentiles hold at any n
        modality.append(np.full(n, MODALITY_NAMES.index(name)))
        instances.append(spec.draw(u, scale))
    longest = np.cumsum([len(i) for i in instances]) - [len(i) - np.argmax(i) for i in instances]
    order = rng.permutation(sum(len(m) for m in modality))
    modality, instances = np.concatenate(modality)[order], np.concatenate(instances)[order]
    # The longest series of each modality stays to the newest version (the long tail is there).
    longest = np.isin(order, longest)
    series = len(modality)

    # A series' collection is one that has its modality (any collection of radiology for a
    # modality none has); patients and studies are spread over collections like the series.
    weights = np.array([[c.modalities.get(n, 0.0) for c in COLLECTIONS] for n in MODALITY_NAMES])
    radiology = np.array([c.body_part is not None for c in COLLECTIONS], dtype=float)
    weights[weights.sum(axis=1) == 0] = radiology
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)[modality]
    collection = np.minimum(
        (cumulative < rng.random(series)[:, None]).sum(axis=1), len(COLLECTIONS) - 1
    )
    patient, study = np.empty(series, np.int64), np.empty(series, np.int64)
    first_patient = first_study = 0
    for index in range(len(COLLECTIONS)):
        members = np.flatnonzero(collection == index)
        share = len(members) / series
        patients = max(round(shape.patients * scale * share), 1)
        studies = max(round(shape.studies * scale * share), patients)
        study_patient = np.concatenate(
            [np.arange(patients), rng.integers(0, patients, studies - patients)]
        )
        local_study = rng.integers(0, studies, len(members))
        patient[members] = first_patient + study_patient[local_study]
        study[members] = first_study + local_study
        first_patient, first_study = first_patient + patients, first_study + studies
    return _with_history(
        rng, collection, patient, study, modality, instances, versions, 0.0, kept=longest
    )


# Per version, the share of series removed and the share revised (as IDC does, now and then).
REMOVED_SHARE, REVISED_SHARE = 0.08, 0.08


def _with_history(
    rng: np.random.Generator,
    collection: np.ndarray,
    patient: np.ndarray,
    study: np.ndarray,
    modality: np.ndarray,
    instances: np.ndarray,
    versions: int,
    in_first: float,
    kept: np.ndarray | None = None,
) -> Universe:
    """The universe of these series, with the analysis results they belong to and the version
    each appears in (`in_first` of them in version 1, the others in any version), is removed in
    (never where `kept`) and is revised in."""
    series = len(collection)
    analysis_result = np.full(series, -1)
    for index, result in enumerate(ANALYSIS_RESULTS):
        for collection_id, modality_name in result.covers:
            mask = (collection == _collection_index(collection_id)) & (
                modality == MODALITY_NAMES.index(modality_name)
            )
            analysis_result[mask] = index

    first = np.array([c.first_version for c in COLLECTIONS])[collection]
    birth = np.where(rng.random(series) < in_first, 1, rng.integers(1, versions + 1, series))
    birth = np.maximum(birth, first)
    removed = rng.random(series) < REMOVED_SHARE
    if kept is not None:
        removed &= ~kept
    death = np.where(
        removed & (birth < versions),
        rng.integers(birth + 1, np.maximum(birth + 2, versions + 2)),
        versions + 1,
    )
    revised_in = rng.random((series, versions + 1)) < REVISED_SHARE
    version = np.arange(versions + 1)
    revised_in &= (version[None, :] > birth[:, None]) & (version[None, :] < death[:, None])
    keep = birth <= versions  # collections that start after the last version have no series
    return Universe(
        collection[keep],
        patient[keep],
        study[keep],
        modality[keep],
        analysis_result[keep],
        instances[keep],
        birth[keep],
        death[keep],
        revised_in[keep],
    )


def _collection_index(collection_id: str) -> int:
    return [c.collection_id for c in COLLECTIONS].index(collection_id)


def _series_uids(sid: np.ndarray) -> pa.Array:
    """SeriesInstanceUID of universe series numbers."""
    return join(UID_ROOT, text(sid), sep=".2.")


def _patient_ids(coll: np.ndarray, patient: np.ndarray) -> pa.Array:
    """PatientID of global patient numbers, e.g. LUAD-00012."""
    return join(
        pick([c.name.split("-")[-1].upper() for c in COLLECTIONS], coll),
        pc.utf8_lpad(text(patient), 5, "0"),
        sep="-",
    )


# --- one release ----------------------------------------------------------------------------


def release_tables(
    universe: Universe, version: int, seed: int, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[dict[str, pa.Table]]:
    """The source tables of IDC version `version`, keyed by contract table name, in chunks: each
    chunk holds the instance-level tables (dicom_all, dicom_metadata, dicom_metadata_curated,
    auxiliary_metadata) of consecutive whole series, at most `chunk_rows` instances unless one
    series has more; the first chunk also holds the release-level tables. Rows come in the same
    order whatever `chunk_rows` is, so memory stays bounded by the chunk."""
    served = np.flatnonzero((universe.birth <= version) & (universe.death > version))
    sid = served.astype(np.int64)
    revision = universe.revised_in[served, : version + 1].sum(axis=1)
    revised_version = np.where(
        revision > 0,
        version - np.argmax(universe.revised_in[served, version::-1], axis=1),
        universe.birth[served],
    )
    coll = universe.collection[served]
    mod = universe.modality[served]
    study = universe.study[served]
    patient_number = universe.patient[served]
    ar = universe.analysis_result[served]
    multi = universe.instances[served] > 1
    count = universe.instances[served] + (multi & (revision % 2 == 1))

    home = [LICENSE_BUCKET[c.license[0]] for c in COLLECTIONS]
    buckets = [
        c.legacy_bucket if version == 1 and home[i] == "idc-open-data" else home[i]
        for i, c in enumerate(COLLECTIONS)
    ]
    specs = [MODALITIES[n] for n in MODALITY_NAMES]
    is_image = np.isin(mod, [MODALITY_NAMES.index(n) for n in ("CT", "MR", "PT")])
    # What a chunk needs from other series of the release: the image series each series' study
    # refers to, and the release's slides (as numbers; their UIDs are made when needed).
    image_series = _first_image_series(study, sid, is_image)
    has_image = image_series >= 0
    image_series_instances = np.where(has_image, count[np.maximum(image_series, 0)], 0)
    slides = np.flatnonzero(mod == MODALITY_NAMES.index("SM"))
    collection_ids = np.array([c.collection_id for c in COLLECTIONS])

    def series_values(part: slice) -> dict:
        """The series-level values of the served series in `part` (functions of the series, its
        patient and study, so stable across versions): dicom_all columns, spread to the
        instances of a chunk, and the other values a chunk needs."""
        p_sid, p_coll, p_mod, p_patient = sid[part], coll[part], mod[part], patient_number[part]
        p_image, p_image_series = is_image[part], image_series[part]
        crdc_series = uuid4(seed, p_sid, revision[part], 11)
        aws_bucket = pc.take(pa.array([AWS_BUCKET[b] for b in buckets]), pa.array(p_coll))
        series_aws_url = join("s3://", aws_bucket, "/", crdc_series, "/")
        u_patient, u_study = uniform(seed, p_patient, 21), uniform(seed, study[part], 22)
        study_date = pa.array(
            np.datetime64("2000-01-01") + (u_study * 6000).astype("timedelta64[D]"), pa.date32()
        )
        age = (u_patient * 60 + 25).astype(int)
        patient_age = join(pc.utf8_lpad(text(age), 3, "0"), "Y")
        patient_age = pc.if_else(pa.array(u_patient < 0.05), "", patient_age)  # some empty
        sex = pick(["M", "F"], (u_patient * 1000).astype(int) % 2)

        def choose(attribute: str, salt: int) -> pa.Array:
            options = [getattr(MODALITIES[n], attribute) for n in MODALITY_NAMES]
            u = uniform(seed, p_sid, salt)
            flat = [value for group in options for value in group]
            start = np.cumsum([0] + [len(g) for g in options])[:-1]
            sizes = np.array([len(g) for g in options])
            return pick(flat, start[p_mod] + (u * sizes[p_mod]).astype(int))

        description, manufacturer = choose("descriptions", 23), choose("manufacturers", 24)
        ar_slot = np.where(ar[part] < 0, len(ANALYSIS_RESULTS), ar[part])  # after the last: none
        ar_ids = [r.analysis_result_id for r in ANALYSIS_RESULTS] + [None]
        ar_dois = [r.doi for r in ANALYSIS_RESULTS] + [None]
        source_doi = pc.coalesce(pick(ar_dois, ar_slot), pick([c.doi for c in COLLECTIONS], p_coll))
        body_part = pick([c.body_part for c in COLLECTIONS], p_coll)
        body_part = pc.if_else(
            pa.array(np.isin(p_mod, [MODALITY_NAMES.index("SM")])),
            pa.scalar(None, pa.string()),
            body_part,
        )
        pixel_spacing = np.round(0.5 + uniform(seed, p_sid, 26) * 0.5, 6)  # mm, in plane
        image_series_uid = _series_uids(sid[np.maximum(p_image_series, 0)])
        return {
            "dicom_all": {
                "collection_id": pick([c.collection_id for c in COLLECTIONS], p_coll),
                "analysis_result_id": pick(ar_ids, ar_slot),
                "PatientID": _patient_ids(p_coll, p_patient),
                "PatientAge": patient_age,
                "PatientSex": sex,
                "StudyInstanceUID": join(UID_ROOT, text(study[part]), sep=".1."),
                "StudyDate": study_date,
                "StudyDescription": pick(
                    ["CT CHEST", "MRI PELVIS", "PET/CT", "Pathology"], (u_study * 4).astype(int)
                ),
                "SeriesInstanceUID": _series_uids(p_sid),
                "SeriesDescription": description,
                "SeriesNumber": text((uniform(seed, p_sid, 27) * 900).astype(int) + 1),
                "Modality": pick(MODALITY_NAMES, p_mod),
                "SOPClassUID": pick([m.sop_class for m in specs], p_mod),
                "Manufacturer": manufacturer,
                "ManufacturerModelName": join(manufacturer, "model", sep=" "),
                "Source_DOI": source_doi,
                "license_short_name": pc.coalesce(
                    pick([CC_BY_4[0]] * len(ANALYSIS_RESULTS) + [None], ar_slot),
                    pick([c.license[0] for c in COLLECTIONS], p_coll),
                ),
                "crdc_series_uuid": crdc_series,
                "aws_bucket": aws_bucket,
                "series_aws_url": series_aws_url,
                "SliceThickness": pc.if_else(
                    pa.array(p_image),
                    text(np.round(0.625 + (uniform(seed, p_sid, 28) * 8).astype(int) * 0.625, 3)),
                    None,
                ),
                "PixelSpacing": pc.if_else(
                    pa.array(p_image),
                    repeated_strings(text(pixel_spacing), 2),
                    pa.scalar(None, pa.list_(pa.string())),
                ),
                "Rows": pa.array(np.where(p_image, 512, None)),
                "Columns": pa.array(np.where(p_image, 512, None)),
            },
            "gcs_series_url": join("gs://", pick(buckets, p_coll), "/", crdc_series, "/"),
            "body_part": body_part,
            "pixel_spacing": pixel_spacing,
            "image_series_uid": pc.if_else(pa.array(p_image_series >= 0), image_series_uid, None),
        }

    first = {
        "original_collections_metadata": _collections_metadata(coll, patient_number, version),
        "analysis_results_metadata": _analysis_results_metadata(ar, patient_number, version),
        "version_metadata": _table(
            _name("version_metadata"),
            {
                "idc_version": pa.array(np.arange(1, version + 1)),
                "version_timestamp": pa.array(
                    [_release_timestamp(v) for v in range(1, version + 1)]
                ),
            },
            version,
        ),
    }
    release_level = {_name(name): table for name, table in first.items()} | {
        f"{SOURCE_PROJECT}.idc_vNN_clinical.column_metadata": _clinical_column_metadata(
            coll, version
        )
    }
    slide_series_uid = _series_uids(sid[slides])

    for lo, hi in _series_chunks(count, chunk_rows):
        # Instance rows: series s repeated count[s] times, numbered 0..count-1 within the series.
        c_count = count[lo:hi]
        rows = int(c_count.sum())
        owner = np.repeat(np.arange(hi - lo), c_count)
        number = np.arange(rows) - np.repeat(np.cumsum(c_count) - c_count, c_count)

        per_instance = partial(spread, owner=owner, ends=np.cumsum(c_count, dtype=np.int32))
        of_series = series_values(slice(lo, hi))

        c_sid, c_mod = sid[lo:hi], mod[lo:hi]
        s_sid, s_rev = c_sid[owner], revision[lo:hi][owner]
        # Per-instance values hash (seed, series, revision, number, salt): the hash of the first
        # three once per series, then of the number per instance.
        key = mix(number, state=mix(seed, c_sid, revision[lo:hi])[owner])
        crdc_instance = uuid4(12, state=key)
        dicom_all = {name: per_instance(value) for name, value in of_series["dicom_all"].items()}
        dicom_all["SeriesDate"] = dicom_all["StudyDate"]  # a series is dated as its study
        sop_uid = join(dicom_all["SeriesInstanceUID"], text(number + 1), sep=".")

        # The second transfer syntax (and photometric interpretation), if any, is the first
        # instance's: slide microscopy series mix a losslessly stored label image with JPEG tiles.
        i_mod = c_mod[owner]
        alternate = (number == 0) & np.array([len(m.transfer_syntaxes) > 1 for m in specs])[i_mod]
        ts = np.where(alternate, 1, 0)
        ts_flat = [t for m in specs for t in (m.transfer_syntaxes * 2)[:2]]
        pi_flat = [p for m in specs for p in (m.photometric * 2)[:2]]
        low = np.array([m.megabytes[0] for m in specs])[i_mod]
        high = np.array([m.megabytes[1] for m in specs])[i_mod]
        size = (low + (high - low) * uniform(25, state=key)) * 1e6

        dicom_all |= {
            "SOPInstanceUID": sop_uid,
            "TransferSyntaxUID": pick(ts_flat, i_mod * 2 + ts),
            "PhotometricInterpretation": pick(pi_flat, i_mod * 2 + ts),
            "PixelRepresentation": pick([m.pixel_representation for m in specs], i_mod),
            "instance_size": pa.array(size.astype(np.int64)),
            "crdc_instance_uuid": crdc_instance,
            "gcs_url": join(per_instance(of_series["gcs_series_url"]), crdc_instance, ".dcm"),
        }
        instances = InstanceRows(
            seed=seed,
            version=version,
            key=key,
            modality=i_mod,
            modality_names=tuple(MODALITY_NAMES),
            collection=coll[lo:hi][owner],
            collection_ids=tuple(collection_ids),
            series=s_sid,
            revision=s_rev,
            number=number,
            instance_count=c_count[owner],
            pixel_spacing=of_series["pixel_spacing"][owner],
            patient_id=dicom_all["PatientID"],
            study_uid=dicom_all["StudyInstanceUID"],
            series_uid=dicom_all["SeriesInstanceUID"],
            sop_uid=sop_uid,
            image_series_uid=per_instance(of_series["image_series_uid"]),
            image_series_instances=image_series_instances[lo:hi][owner],
            slide_series=sid[slides],
            slide_series_uid=slide_series_uid,
            slide_collection_id=collection_ids[coll[slides]],
        )
        dicom_metadata = {
            "SOPInstanceUID": sop_uid,
            "SeriesInstanceUID": dicom_all["SeriesInstanceUID"],
            "StudyInstanceUID": dicom_all["StudyInstanceUID"],
            "PatientID": dicom_all["PatientID"],
            "SOPClassUID": dicom_all["SOPClassUID"],
        }
        for provider in COLUMN_PROVIDERS:
            extra = provider(instances)
            # A provider fills its own modalities and leaves the other instances NULL, so a column
            # that several providers fill (ImageType, ...) keeps each provider's values.
            for table, filled in (("dicom_all", dicom_all), ("dicom_metadata", dicom_metadata)):
                for name, values in extra.get(table, {}).items():
                    filled[name] = pc.coalesce(values, filled[name]) if name in filled else values

        tables = {
            "dicom_all": _table(_name("dicom_all"), dicom_all, rows),
            "dicom_metadata_curated": _table(
                _name("dicom_metadata_curated"),
                {
                    "SOPInstanceUID": sop_uid,
                    "BodyPartExamined": per_instance(of_series["body_part"]),
                },
                rows,
            ),
            "auxiliary_metadata": _table(
                _name("auxiliary_metadata"),
                {
                    "SeriesInstanceUID": dicom_all["SeriesInstanceUID"],
                    "series_init_idc_version": universe.birth[served][lo:hi][owner],
                    "series_revised_idc_version": revised_version[lo:hi][owner],
                },
                rows,
            ),
            "dicom_metadata": _table(_name("dicom_metadata"), dicom_metadata, rows),
        }
        yield {_name(name): table for name, table in tables.items()} | release_level
        release_level = {}


def _series_chunks(count: np.ndarray, chunk_rows: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) ranges of consecutive series holding at most `chunk_rows` instances each (a series
    larger than that alone); one range for an empty release, so its tables are still written."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    ends = np.cumsum(count)
    lo = 0
    while True:
        base = ends[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(ends, base + chunk_rows, side="right")), lo + 1)
        hi = min(hi, len(count))
        yield lo, hi
        if hi >= len(count):
            return
        lo = hi


def _first_image_series(study: np.ndarray, sid: np.ndarray, is_image: np.ndarray) -> np.ndarray:
    """Per series: the position of the first image series (CT, MR or PT; the lowest series number)
    of its study, or -1 when the study has no image series in the release. Segmentations and RT
    structure sets refer to it, from whichever chunk they are in."""
    rows = np.flatnonzero(is_image)
    rows = rows[np.lexsort((sid[rows], study[rows]))]
    studies, position = np.unique(study[rows], return_index=True)
    first = np.full(len(study), -1)
    if len(studies):
        slot = np.minimum(np.searchsorted(studies, study), len(studies) - 1)
        found = studies[slot] == study
        first[found] = rows[position][slot[found]]
    return first


def _name(table: str) -> str:
    return f"{SOURCE_PROJECT}.idc_vNN.{table}"


def _release_date(version: int) -> dt.date:
    return RELEASE_DATE + dt.timedelta(days=91 * (version - 1))


def _release_timestamp(version: int) -> str:
    return f"{_release_date(version).isoformat()} 00:00:00 UTC"


def _served_collections(coll: np.ndarray) -> list[int]:
    return sorted(set(coll.tolist()))


def _collections_metadata(coll: np.ndarray, patients: np.ndarray, version: int) -> pa.Table:
    rows = []
    for index in _served_collections(coll):
        spec = COLLECTIONS[index]
        short, long, url = spec.license
        modalities = ", ".join(sorted(spec.modalities))
        sources = [
            {
                "source_id": spec.name,
                "source_title": f"Data from {spec.name}",
                "source_type": "original_data",
                "source_doi": spec.doi,
                "source_url": f"https://doi.org/{spec.doi}",
                "modalities": modalities,
                "license": {
                    "license_url": url,
                    "license_long_name": long,
                    "license_short_name": short,
                },
                "citation": f"{spec.name} contributors. Data from {spec.name}. {spec.doi}",
                "Access": "Public",
                "ImageTypes": modalities,
                "provenance": {
                    "data_contributor": spec.program,
                    "source_data_provider": "TCIA",
                    "deidentification_party": "TCIA",
                    "dicom_conversion_by": None,
                },
            }
        ]
        if spec.modalities.keys() & {"SEG", "SR", "RTSTRUCT"}:
            # A collection with derived objects cites a second source, under CC BY 4.0.
            sources.append(
                sources[0]
                | {
                    "source_id": f"{spec.name}-annotations",
                    "source_type": "analysis_result",
                    "source_title": f"Annotations of {spec.name}",
                    "license": dict(
                        zip(
                            ("license_short_name", "license_long_name", "license_url"),
                            CC_BY_4,
                            strict=True,
                        )
                    ),
                }
            )
        rows.append(
            {
                "collection_name": spec.name,
                "collection_id": spec.collection_id,
                "cancer_types": spec.cancer_types,
                "tumor_locations": spec.tumor_locations,
                "subjects": len(set(patients[coll == index].tolist())),
                "species": "Human",
                "sources": sources,
                "supporting_data": spec.supporting_data,
                "program_id": spec.program,
                "status": "Complete" if index % 3 else "Ongoing",
                "updated": _release_date(max(version - index % 2, spec.first_version)),
                "description": f"<p>{spec.name}: {spec.cancer_types.lower()} imaging.</p>",
            }
        )
    schema = source_tables()[_name("original_collections_metadata")]
    return pa.Table.from_pylist(rows, schema=schema)


def _analysis_results_metadata(ar: np.ndarray, patients: np.ndarray, version: int) -> pa.Table:
    rows = []
    for index in sorted(set(ar[ar >= 0].tolist())):
        result = ANALYSIS_RESULTS[index]
        names = sorted(COLLECTIONS[_collection_index(c)].name for c, _ in result.covers)
        rows.append(
            {
                "analysis_result_id": result.analysis_result_id,
                "analysis_result_title": result.title,
                "source_doi": result.doi,
                "source_url": f"https://doi.org/{result.doi}",
                "subjects": len(set(patients[ar == index].tolist())),
                "collections": ", ".join(dict.fromkeys(names)),
                "modalities": ", ".join(sorted({m for _, m in result.covers})),
                "updated": _release_date(version),
                "license_url": CC_BY_4[2],
                "license_long_name": CC_BY_4[1],
                "license_short_name": CC_BY_4[0],
                "description": f"{result.title}.",
                "citation": f"{result.title}. {result.doi}",
                "provenance": {
                    "data_contributor": "IDC",
                    "source_data_provider": "Zenodo",
                    "deidentification_party": None,
                    "dicom_conversion_by": "IDC",
                },
            }
        )
    schema = source_tables()[_name("analysis_results_metadata")]
    return pa.Table.from_pylist(rows, schema=schema)


# The clinical dataset's data dictionary: per collection, its tables and their columns as
# (column, label, value options). It covers a free-form column (no options), coded columns with
# several options, an empty label, several tables per collection, and collections without any
# clinical data (those whose supporting data does not include it).
SEX = [("1", "Male"), ("2", "Female")]
CLINICAL_TABLES: dict[str, dict[str, list[tuple[str, str, list[tuple[str, str]]]]]] = {
    "tcga_luad": {
        "tcga_luad_clinical": [
            ("age_at_diagnosis", "Age at diagnosis (years)", []),
            ("gender", "Gender", SEX),
            (
                "vital_status",
                "Vital status",
                [("Alive", "Alive"), ("Dead", "Dead"), ("Not Reported", "Not reported")],
            ),
        ],
        "tcga_luad_follow_up": [
            ("days_to_last_follow_up", "", []),
            ("tumor_status", "Tumor status", [("0", "Tumor free"), ("1", "With tumor")]),
        ],
    },
    "nlst": {
        "nlst_prsn": [
            ("age", "Age at randomization", []),
            ("gender", "Gender", SEX),
            ("cigsmok", "Smoking status at randomization", [("0", "Former"), ("1", "Current")]),
        ],
        "nlst_canc": [("cancyr", "Study year of cancer diagnosis", [])],
    },
    "cptac_ccrcc": {
        "cptac_clinical": [
            ("tumor_site", "Tumor site", []),
            ("sex", "Sex", SEX),
        ],
    },
}


def _clinical_column_metadata(coll: np.ndarray, version: int) -> pa.Table:
    dataset = f"{SOURCE_PROJECT}.idc_v{version}_clinical"
    rows = []
    for index in _served_collections(coll):
        collection_id = COLLECTIONS[index].collection_id
        for table, columns in CLINICAL_TABLES.get(collection_id, {}).items():
            rows += [
                {
                    "collection_id": collection_id,
                    "table_name": f"{dataset}.{table}",
                    "column": column,
                    "column_label": label,
                    "values": [
                        {"option_code": code, "option_description": meaning}
                        for code, meaning in options
                    ],
                }
                for column, label, options in columns
            ]
    schema = source_tables()[f"{SOURCE_PROJECT}.idc_vNN_clinical.column_metadata"]
    return pa.Table.from_pylist(rows, schema=schema)


# --- GDC cases ----------------------------------------------------------------------------------

# The GDC projects that hold the cases of the sample's collections from GDC programs. CPTAC cases
# are spread over two projects, as in the GDC.
GDC_CASE_PROJECTS = {"tcga_luad": ("TCGA-LUAD",), "cptac_ccrcc": ("CPTAC-3", "CPTAC-2")}
DECOY_PROJECT = "TCGA-LUSC"


def gdc_case_hits(universe: Universe, seed: int, versions: int) -> list[dict]:
    """The GDC cases of the sample's patients, as cases API hits. Most patients of a GDC program's
    collection are cases (the second of every four, by patient number, is not, unless a release
    would serve no case of the collection otherwise); decoys share a PatientID but sit in a project
    the collection does not map to, or belong to a collection outside the GDC programs, so only a
    lookup scoped by collection and project avoids them."""
    hits = []

    def hit(case_id: str, submitter_id: str, project_id: str) -> dict:
        return {
            "id": case_id,
            "case_id": case_id,
            "submitter_id": submitter_id,
            "project": {"project_id": project_id},
        }

    for collection_id, projects in GDC_CASE_PROJECTS.items():
        index = _collection_index(collection_id)
        patients = np.unique(universe.patient[universe.collection == index])
        ids = _patient_ids(np.full(len(patients), index), patients).to_pylist()
        case_ids = uuid4(seed, patients, 31).to_pylist()
        left_out = set(patients[1::4].tolist())
        for version in range(1, versions + 1):
            served = (universe.collection == index) & (universe.birth <= version)
            served_patients = set(universe.patient[served & (universe.death > version)].tolist())
            if served_patients and served_patients <= left_out:
                left_out.discard(min(served_patients))
        for rank, (submitter_id, case_id) in enumerate(zip(ids, case_ids, strict=True)):
            if patients[rank] in left_out:  # not a GDC case, but a namesake in another project is
                namesake = uuid4(seed, patients[rank : rank + 1], 32)[0].as_py()
                hits.append(hit(namesake, submitter_id, DECOY_PROJECT))
                continue
            project = projects[-1] if rank % 4 == 2 else projects[0]
            hits.append(hit(case_id, submitter_id, project))
    nlst = _collection_index("nlst")
    outsider = np.unique(universe.patient[universe.collection == nlst])[:1]
    for submitter_id, case_id in zip(
        _patient_ids(np.full(len(outsider), nlst), outsider).to_pylist(),
        uuid4(seed, outsider, 33).to_pylist(),
        strict=True,
    ):
        hits.append(hit(case_id, submitter_id, GDC_CASE_PROJECTS["tcga_luad"][0]))
    return hits


# --- entry point ------------------------------------------------------------------------------


def write_release(root: Path, universe: Universe, version: int, seed: int, chunk_rows: int) -> str:
    """Write the source tables of one IDC version, chunk by chunk; returns a summary line."""
    writers: dict[str, pq.ParquetWriter] = {}
    instances = series = 0
    try:
        for chunk in release_tables(universe, version, seed, chunk_rows=chunk_rows):
            for contract_name, table in chunk.items():
                if contract_name not in writers:
                    writers[contract_name] = pq.ParquetWriter(
                        _temporary(_snapshot_path(root, contract_name, version)),
                        table.schema,
                        compression="zstd",
                        # Pages end at 1 MB only (not also every 20,000 rows): fewer pages to
                        # encode, 7% less time writing dicom_all.
                        max_rows_per_page=CHUNK_ROWS,
                    )
                writers[contract_name].write_table(table)
            dicom_all = chunk[_name("dicom_all")]
            instances += dicom_all.num_rows
            series += pc.count_distinct(dicom_all["SeriesInstanceUID"]).as_py()
    finally:
        for writer in writers.values():
            writer.close()
    for contract_name in writers:
        path = _snapshot_path(root, contract_name, version)
        _temporary(path).replace(path)
    return f"{instances} instances, {series} series"


def _snapshot_path(root: Path, contract_name: str, version: int) -> Path:
    dataset = contract_name.split(".")[1].replace("NN", str(version))
    path = Path(root) / SOURCE_PROJECT / dataset / f"{contract_name.split('.')[2]}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _temporary(path: Path) -> Path:
    return path.with_suffix(".parquet.tmp")


def generate_sample(
    root: Path,
    *,
    scale: float = 1,
    versions: int = 3,
    seed: int = 7,
    preset: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = 1,
) -> dict:
    """Write IDC versions 1..`versions` under `root`; returns a summary (rows per version).

    Without `preset`, the sample has BASE_SERIES * `scale` series (every edge case the tests
    rely on at scale 1). With a preset name of sample.presets (`idc-v25`), its newest version has
    `scale` times that release's size and shape (`scale` 1: about 1.04M series and 58.8M
    instances). Each version's instance-level tables are generated and written `chunk_rows`
    instances at a time (whole series per chunk), so memory stays bounded whatever the size;
    `workers` processes write versions in parallel (the output is the same)."""
    if versions < 1:
        raise ValueError(f"versions must be at least 1, got {versions}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if chunk_rows < 1 or workers < 1:
        raise ValueError(f"chunk_rows and workers must be at least 1, got {chunk_rows}, {workers}")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
    rng = np.random.default_rng(seed)
    if preset is None:
        universe = draw_universe(rng, max(int(BASE_SERIES * scale), 8), versions)
    else:
        universe = draw_shaped_universe(rng, PRESETS[preset], scale, versions)
    # Largest version first, so that parallel workers finish together.
    order = sorted(range(1, versions + 1), reverse=True)
    if workers > 1 and versions > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, versions), mp_context=context) as pool:
            futures = {
                v: pool.submit(write_release, root, universe, v, seed, chunk_rows) for v in order
            }
            written = {v: future.result() for v, future in futures.items()}
    else:
        written = {v: write_release(root, universe, v, seed, chunk_rows) for v in order}
    summary = {f"idc_v{v}": written[v] for v in range(1, versions + 1)}
    cases = write_cases_snapshot(Path(root), gdc_case_hits(universe, seed, versions))
    summary["gdc"] = f"{cases} cases"
    return summary
