"""ct_index, mr_index, pt_index, contrast_index and volume_geometry_index built from the sample release
with the real DuckDB engine, checked against expectations computed here in Python from the generated
dicom_all rows (BigQuery semantics), the sample's coverage of the edge cases, and the geometry query
on hand-built series."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.duckdb import DuckDBEngine
from idc_index_assets.indices.checks import key_outcome, reference_outcome
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.sources.contract import source_tables
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

CT, MR, PT = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.128"
RADIOLOGY_INDICES = ["ct_index", "mr_index", "pt_index", "contrast_index", "volume_geometry_index"]


def _dicom_all(source, version: int = SAMPLE_VERSIONS) -> pa.Table:
    return pq.read_table(source / SOURCE_PROJECT / f"idc_v{version}" / "dicom_all.parquet")


def _by_series(instances: list[dict]) -> dict[str, list[dict]]:
    series: dict[str, list[dict]] = {}
    for instance in instances:
        series.setdefault(instance["SeriesInstanceUID"], []).append(instance)
    return series


def _index(directory, name: str) -> dict[str, dict]:
    rows = pq.read_table(directory / f"{name}.parquet").to_pylist()
    return {row["SeriesInstanceUID"]: row for row in rows}


@pytest.fixture(scope="module")
def series_of(sample_source):
    """SOP Class UID → {SeriesInstanceUID: instances of that class} of the newest release."""
    instances = _dicom_all(sample_source).to_pylist()
    return {
        sop_class: _by_series([i for i in instances if i["SOPClassUID"] == sop_class])
        for sop_class in (CT, MR, PT)
    } | {"all": _by_series(instances)}


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def _distinct(instances, column, convert=_number) -> list:
    return sorted({convert(i[column]) for i in instances if i[column] is not None})


def _only_value(instances, column):
    """The value every instance of the series has (those columns are constant per series)."""
    values = {repr(i[column]) for i in instances}
    assert len(values) == 1, (column, values)
    return instances[0][column]


def _any_of(value, instances, column, convert=lambda v: v) -> bool:
    return value in [convert(i[column]) for i in instances]


@pytest.mark.parametrize("name", RADIOLOGY_INDICES)
def test_every_index_has_rows_a_unique_key_and_resolving_references(name, built_artifacts):
    spec = INDEX_BY_NAME[name]
    assert spec.primary_key == ("SeriesInstanceUID",)
    assert ("SeriesInstanceUID", "idc_index", "SeriesInstanceUID") in [
        (r.column, r.index, r.target_column) for r in spec.references
    ]
    assert pq.read_metadata(built_artifacts / f"{name}.parquet").num_rows > 0
    assert key_outcome(spec, built_artifacts).passed
    assert reference_outcome(spec, built_artifacts).passed


# --- CT ------------------------------------------------------------------------------------------


def test_ct_index_matches_the_ct_instances(built_artifacts, series_of):
    index = _index(built_artifacts, "ct_index")
    assert index.keys() == series_of[CT].keys()
    for uid, instances in series_of[CT].items():
        row = index[uid]
        assert row["KVP"] == _number(_only_value(instances, "KVP"))
        assert row["ConvolutionKernel"] == _only_value(instances, "ConvolutionKernel")
        assert row["ScanOptions"] == _only_value(instances, "ScanOptions")
        assert row["ImageType"] == _only_value(instances, "ImageType")
        assert row["SpiralPitchFactor"] == _only_value(instances, "SpiralPitchFactor")
        assert row["GantryDetectorTilt"] == _number(_only_value(instances, "GantryDetectorTilt"))
        for column, attribute in [
            ("XRayTubeCurrent", "XRayTubeCurrent"),
            ("Exposure", "Exposure"),
            ("ExposureTime", "ExposureTime"),
        ]:
            values = _distinct(instances, attribute)
            assert (row[f"{column}_min"], row[f"{column}_max"]) == (values[0], values[-1])
        spacing = [float(v) for v in instances[0]["PixelSpacing"]]
        assert [row["PixelSpacing_row_mm"], row["PixelSpacing_col_mm"]] in [
            [float(v) for v in i["PixelSpacing"]] for i in instances
        ]
        assert _any_of(row["Rows"], instances, "Rows")
        assert row["SliceThickness"] == _number(_only_value(instances, "SliceThickness"))
        assert row["ReconstructionDiameter"] == pytest.approx(spacing[0] * 512, abs=0.06)


def test_ct_index_covers_modulation_missing_values_and_multi_valued_attributes(built_artifacts):
    rows = list(_index(built_artifacts, "ct_index").values())
    assert any(r["XRayTubeCurrent_min"] < r["XRayTubeCurrent_max"] for r in rows)  # modulated
    assert any(r["XRayTubeCurrent_min"] == r["XRayTubeCurrent_max"] for r in rows)
    assert any(r["KVP"] is None for r in rows)
    assert any(len(r["ConvolutionKernel"]) == 2 for r in rows)
    assert any(r["ConvolutionKernel"] == [] for r in rows)
    assert any(r["SpiralPitchFactor"] is None for r in rows)
    assert any(r["GantryDetectorTilt"] != 0 for r in rows)
    assert any("LOCALIZER" in r["ImageType"] for r in rows)


# --- MR ------------------------------------------------------------------------------------------


def test_mr_index_matches_the_mr_instances(built_artifacts, series_of):
    index = _index(built_artifacts, "mr_index")
    assert index.keys() == series_of[MR].keys()
    for uid, instances in series_of[MR].items():
        row = index[uid]
        assert row["EchoTime"] == _distinct(instances, "EchoTime")
        assert row["DiffusionBValue"] == _distinct(instances, "DiffusionBValue", float)
        assert row["MagneticFieldStrength"] == _number(
            _only_value(instances, "MagneticFieldStrength")
        )
        assert row["ScanningSequence"] == _only_value(instances, "ScanningSequence")
        assert row["SequenceVariant"] == _only_value(instances, "SequenceVariant")
        assert row["RepetitionTime"] == _number(_only_value(instances, "RepetitionTime"))
        assert row["EchoTrainLength"] == int(_only_value(instances, "EchoTrainLength"))
        assert row["InversionTime"] == _number(_only_value(instances, "InversionTime"))
        temporal = _only_value(instances, "NumberOfTemporalPositions")
        assert row["NumberOfTemporalPositions"] == (None if temporal is None else int(temporal))
        assert row["SequenceName"] == _only_value(instances, "SequenceName")


def test_mr_index_covers_multi_echo_diffusion_and_inversion_recovery(built_artifacts):
    rows = list(_index(built_artifacts, "mr_index").values())
    assert any(len(r["EchoTime"]) == 3 for r in rows) and any(len(r["EchoTime"]) == 1 for r in rows)
    assert any(r["DiffusionBValue"] == [0.0, 400.0, 800.0] for r in rows)
    assert any(r["DiffusionBValue"] == [] for r in rows)
    inversion = [r for r in rows if "IR" in r["ScanningSequence"]]
    assert inversion and all(r["InversionTime"] is not None for r in inversion)
    assert all(r["InversionTime"] is None for r in rows if "IR" not in r["ScanningSequence"])
    assert any(r["NumberOfTemporalPositions"] is not None for r in rows)


# --- PT ------------------------------------------------------------------------------------------


def _first_item(instance: dict) -> dict | None:
    sequence = instance["RadiopharmaceuticalInformationSequence"]
    return sequence[0] if sequence else None


def test_pt_index_matches_the_pet_instances(built_artifacts, series_of):
    index = _index(built_artifacts, "pt_index")
    assert index.keys() == series_of[PT].keys()
    for uid, instances in series_of[PT].items():
        row = index[uid]
        series_type = "/".join(_only_value(instances, "SeriesType"))
        assert row["SeriesType"] == (series_type or None)
        assert row["ActualFrameDuration"] == _distinct(instances, "ActualFrameDuration")
        assert row["CorrectedImage"] == _only_value(instances, "CorrectedImage")
        assert row["NumberOfTimeSlices"] == _only_value(instances, "NumberOfTimeSlices")
        item = _first_item(instances[0])
        if item is None:
            assert row["Radiopharmaceutical"] is row["RadionuclideCodeMeaning"] is None
            continue
        codes = item["RadionuclideCodeSequence"]
        assert row["RadionuclideCodeMeaning"] == (codes[0]["CodeMeaning"] if codes else None)
        assert row["Radiopharmaceutical"] == item["Radiopharmaceutical"]
        assert row["RadionuclideTotalDose"] == float(item["RadionuclideTotalDose"])
        assert (
            row["RadiopharmaceuticalStartTime"] == item["RadiopharmaceuticalStartTime"].isoformat()
        )


def test_pt_index_covers_dynamic_series_and_every_sequence_shape(built_artifacts, series_of):
    rows = _index(built_artifacts, "pt_index")
    assert any(len(r["ActualFrameDuration"]) > 1 and r["NumberOfTimeSlices"] for r in rows.values())
    assert any(r["SeriesType"] is None for r in rows.values())
    shapes = {len(i[0]["RadiopharmaceuticalInformationSequence"]) for i in series_of[PT].values()}
    assert shapes == {0, 1, 2}
    assert any(
        _first_item(i[0]) and not _first_item(i[0])["RadionuclideCodeSequence"]
        for i in series_of[PT].values()
    )


# --- contrast ------------------------------------------------------------------------------------


CONTRAST = ["ContrastBolusAgent", "ContrastBolusIngredient", "ContrastBolusRoute"]


def test_contrast_index_lists_the_distinct_contrast_attributes(built_artifacts, series_of):
    expected = {}
    for uid, instances in series_of["all"].items():
        if instances[0]["Modality"] not in ("CT", "MR", "PT", "XA", "RF"):
            continue
        lists = {column: _distinct(instances, column, str) for column in CONTRAST}
        if any(lists.values()):
            expected[uid] = {"SeriesInstanceUID": uid, **lists}
    assert _index(built_artifacts, "contrast_index") == expected


def test_contrast_index_covers_spellings_partial_and_route_only_series(built_artifacts, series_of):
    rows = _index(built_artifacts, "contrast_index")
    assert any(len(r["ContrastBolusAgent"]) == 2 for r in rows.values())  # two spellings
    assert any(not r["ContrastBolusAgent"] and r["ContrastBolusRoute"] for r in rows.values())
    assert any(r["ContrastBolusAgent"] and not r["ContrastBolusIngredient"] for r in rows.values())
    partial = [
        uid
        for uid in rows
        if any(i["ContrastBolusAgent"] is None for i in series_of["all"][uid])
        and any(i["ContrastBolusAgent"] is not None for i in series_of["all"][uid])
    ]
    assert partial  # injected after the first instance
    modalities = {series_of["all"][uid][0]["Modality"] for uid in rows}
    assert {"CT", "MR"} <= modalities


# --- volume geometry -----------------------------------------------------------------------------


def _expected_geometry(instances: list[dict]) -> dict:
    """The geometry checks of one series, from its instances' DICOM attributes with numpy."""
    position = np.array([[float(v) for v in i["ImagePositionPatient"]] for i in instances])
    orientation = np.array([[float(v) for v in i["ImageOrientationPatient"]] for i in instances])
    row, col = orientation[:, :3], orientation[:, 3:]
    normal = np.cross(row, col)
    length = np.linalg.norm(normal, axis=1)

    def dot(a, b):
        return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]

    along = dot(position, normal)
    order = sorted(range(len(instances)), key=lambda k: (along[k], instances[k]["SOPInstanceUID"]))
    gaps = np.diff(along[order])
    mean_gap = (along.max() - along.min()) / (len(along) - 1) if len(along) > 1 else None
    checks = {
        "single_orientation": len({tuple(i["ImageOrientationPatient"]) for i in instances}) == 1,
        "orthogonal_orientation": bool(np.all(np.abs(length - 1) <= 0.01)),
        "unique_slice_positions": len(set(along.tolist())) == len(instances),
        "consistent_in_plane_row": bool(np.ptp(dot(position, row)) <= 0.1),
        "consistent_in_plane_col": bool(np.ptp(dot(position, col)) <= 0.1),
        "consistent_pixel_spacing": len({tuple(i["PixelSpacing"]) for i in instances}) == 1,
        "consistent_image_dimensions": len({(i["Rows"], i["Columns"]) for i in instances}) == 1,
        "uniform_slice_spacing": bool(
            mean_gap is not None
            and mean_gap > 0
            and np.all(np.abs(gaps - mean_gap) <= 0.01 * mean_gap)
        ),
    }
    first = order[0]
    regular = all(checks.values())
    axis_cosine = min(1.0, np.abs(normal[first]).max() / length[first])
    return checks | {
        "regularly_spaced_3d_volume": regular,
        "obliquity_degrees": math.degrees(math.acos(axis_cosine)),
        "origin_patient": position[first].tolist() if regular else [],
        "ImageOrientationPatient": orientation[first].tolist() if regular else [],
        "slice_spacing_mm": mean_gap if regular else None,
    }


def _volume_series(series_of) -> dict[str, list[dict]]:
    """In-scope series: CT, MR and PET images, without localizer and MIP series."""
    excluded = {
        uid
        for uid, instances in series_of["all"].items()
        if any(t == "LOCALIZER" or "MIP" in t for i in instances for t in i["ImageType"])
    }
    return {
        uid: instances
        for sop_class in (CT, MR, PT)
        for uid, instances in series_of[sop_class].items()
        if uid not in excluded
    }


def _assert_geometry(row: dict, expected: dict) -> None:
    for column, value in expected.items():
        if column == "obliquity_degrees":
            assert row[column] == pytest.approx(value, abs=0.006), column
        elif column == "slice_spacing_mm" and value is not None:
            assert row[column] == pytest.approx(value, rel=1e-9), column
        elif isinstance(value, list):
            assert row[column] == pytest.approx(value, abs=1e-9), column
        else:
            assert row[column] == value, column


def test_volume_geometry_matches_the_slice_positions(built_artifacts, series_of):
    index = _index(built_artifacts, "volume_geometry_index")
    in_scope = _volume_series(series_of)
    assert index.keys() == in_scope.keys()
    for uid, instances in in_scope.items():
        _assert_geometry(index[uid], _expected_geometry(instances))


def test_volume_geometry_has_both_outcomes_of_every_check(built_artifacts):
    rows = list(_index(built_artifacts, "volume_geometry_index").values())
    for column in [
        "single_orientation",
        "orthogonal_orientation",
        "unique_slice_positions",
        "consistent_in_plane_row",
        "consistent_in_plane_col",
        "consistent_pixel_spacing",
        "consistent_image_dimensions",
        "uniform_slice_spacing",
        "regularly_spaced_3d_volume",
    ]:
        assert {r[column] for r in rows} == {True, False}, column
    assert sum(r["regularly_spaced_3d_volume"] for r in rows) > len(rows) / 2
    assert any(r["obliquity_degrees"] > 5 and r["regularly_spaced_3d_volume"] for r in rows)
    # gantry tilt: oblique slices stacked along the table axis are not a rectilinear volume
    assert any(
        r["obliquity_degrees"] > 5 and not r["consistent_in_plane_col"] and r["single_orientation"]
        for r in rows
    )


def _slice(series, number, position, *, sop_class=CT, orientation=None, **attributes) -> dict:
    return {
        "SeriesInstanceUID": series,
        "SOPInstanceUID": f"{series}.{number}",
        "SOPClassUID": sop_class,
        "Modality": "CT",
        "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
        "ImagePositionPatient": [str(v) for v in position],
        "ImageOrientationPatient": orientation or ["1", "0", "0", "0", "1", "0"],
        "PixelSpacing": ["0.7", "0.7"],
        "Rows": 512,
        "Columns": 512,
    } | attributes


def test_volume_geometry_of_hand_built_series(tmp_path):
    # oblique about x by 30 degrees: normal (0, -sin, cos) with the column (0, cos, sin)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    oblique = ["1", "0", "0", "0", str(c), str(s)]
    rows = [
        _slice("single", 1, [0, 0, 0]),
        *[_slice("spacing", k, [0, 0, 2 * k]) for k in range(3)],
        _slice("spacing", 3, [0, 0, 6], PixelSpacing=["0.8", "0.8"]),
        *[_slice("size", k, [0, 0, 2 * k]) for k in range(3)],
        _slice("size", 3, [0, 0, 6], Rows=256),
        *[_slice("oblique", k, [1, -s * 3 * k, c * 3 * k], orientation=oblique) for k in range(4)],
        # a series that also carries a non-image instance: only the images count
        *[_slice("mixed", k, [0, 0, -2.5 * k]) for k in range(3)],
        _slice("mixed", 9, [0, 0, 50], sop_class="1.2.840.10008.5.1.4.1.1.7"),
        *[
            _slice("scout", k, [0, 0, k], ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])
            for k in range(2)
        ],
    ]
    path = tmp_path / SOURCE_PROJECT / "idc_v1" / "dicom_all.parquet"
    path.parent.mkdir(parents=True)
    schema = source_tables()[f"{SOURCE_PROJECT}.idc_vNN.dicom_all"]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    query = load_query("volume_geometry_index")
    with DuckDBEngine(tmp_path).run(query.render(1), query_file=str(query.path)) as run:
        result = {row["SeriesInstanceUID"]: row for row in run.batches.read_all().to_pylist()}

    assert sorted(result) == ["mixed", "oblique", "single", "size", "spacing"]
    single = result["single"]
    assert single["unique_slice_positions"] and not single["uniform_slice_spacing"]
    assert not single["regularly_spaced_3d_volume"] and single["slice_spacing_mm"] is None
    assert single["origin_patient"] == [] and single["ImageOrientationPatient"] == []
    assert not result["spacing"]["consistent_pixel_spacing"]
    assert result["spacing"]["consistent_image_dimensions"]
    assert not result["size"]["consistent_image_dimensions"]
    assert not result["spacing"]["regularly_spaced_3d_volume"]
    assert not result["size"]["regularly_spaced_3d_volume"]
    oblique_row = result["oblique"]
    assert oblique_row["regularly_spaced_3d_volume"]
    assert oblique_row["obliquity_degrees"] == pytest.approx(30, abs=0.006)
    assert oblique_row["slice_spacing_mm"] == pytest.approx(3)
    assert oblique_row["origin_patient"] == [1.0, 0.0, 0.0]
    mixed = result["mixed"]
    assert mixed["regularly_spaced_3d_volume"] and mixed["slice_spacing_mm"] == pytest.approx(2.5)
    assert mixed["origin_patient"] == [0.0, 0.0, -5.0]  # lowest along the normal (0, 0, 1)


# --- the sample ----------------------------------------------------------------------------------

RADIOLOGY_COLUMNS = [
    "KVP",
    "XRayTubeCurrent",
    "ConvolutionKernel",
    "EchoTime",
    "DiffusionBValue",
    "RadiopharmaceuticalInformationSequence",
    "ContrastBolusAgent",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
]


def test_an_unchanged_series_keeps_its_radiology_attributes(sample_source):
    def instances(version):
        table = _dicom_all(sample_source, version)
        return {
            row["SOPInstanceUID"]: row
            for row in table.select(
                ["SOPInstanceUID", "crdc_series_uuid", "Modality", *RADIOLOGY_COLUMNS]
            ).to_pylist()
            if row["Modality"] in ("CT", "MR", "PT")
        }

    first, last = instances(1), instances(SAMPLE_VERSIONS)
    unchanged = [
        uid
        for uid in first.keys() & last.keys()
        if first[uid]["crdc_series_uuid"] == last[uid]["crdc_series_uuid"]
    ]
    assert len(unchanged) > 1000
    assert all(first[uid] == last[uid] for uid in unchanged)
