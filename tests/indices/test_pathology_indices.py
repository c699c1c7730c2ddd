"""sm_index, sm_instance_index, ann_index and ann_group_index built from the sample release with the
real DuckDB engine, checked against expectations computed here in Python from the generated
dicom_all rows (BigQuery semantics), and the sample's coverage of the edge cases they must handle."""

from __future__ import annotations

import re
from collections import Counter

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.indices.checks import reference_outcome
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

ANN_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.91.1"
PREPARATION_CONCEPTS = {
    "430863003": "embeddingMedium",
    "430864009": "tissueFixative",
    "424361007": "staining_usingSubstance",
}


def _dicom_all(sample_source, version: int = SAMPLE_VERSIONS):
    path = sample_source / SOURCE_PROJECT / f"idc_v{version}" / "dicom_all.parquet"
    return pq.read_table(path)


def _rows(table, **equal) -> list[dict]:
    for column, value in equal.items():
        table = table.filter(pc.equal(table[column], value))
    return table.to_pylist()


@pytest.fixture(scope="module")
def sm_instances(sample_source) -> list[dict]:
    return _rows(_dicom_all(sample_source), Modality="SM")


@pytest.fixture(scope="module")
def ann_instances(sample_source) -> list[dict]:
    return _rows(_dicom_all(sample_source), SOPClassUID=ANN_SOP_CLASS)


def _index(built_artifacts, name: str) -> list[dict]:
    return pq.read_table(built_artifacts / f"{name}.parquet").to_pylist()


def _by_series(instances: list[dict]) -> dict[str, list[dict]]:
    series: dict[str, list[dict]] = {}
    for instance in instances:
        series.setdefault(instance["SeriesInstanceUID"], []).append(instance)
    return series


# --- expectations, computed from the DICOM attributes -------------------------------------------


def _first(value, *path):
    """value[path...] where a str is a field and 0 the first item; None once anything is missing."""
    for step in path:
        if value is None:
            return None
        value = (value[0] if value else None) if step == 0 else value.get(step)
    return value


def _code_tuple(code: dict | None) -> str | None:
    if code is None or code["CodingSchemeDesignator"] is None or code["CodeValue"] is None:
        return None
    return f"{code['CodingSchemeDesignator']}:{code['CodeValue']}"


def _preparations(instances: list[dict]) -> dict[str, list]:
    """Per preparation column: the sorted distinct (meaning, code tuple) pairs over all specimens."""
    found = {prefix: set() for prefix in PREPARATION_CONCEPTS.values()}
    for instance in instances:
        for specimen in instance["SpecimenDescriptionSequence"]:
            for step in specimen["SpecimenPreparationSequence"]:
                for item in step["SpecimenPreparationStepContentItemSequence"]:
                    for name in item["ConceptNameCodeSequence"]:
                        if name["CodingSchemeDesignator"] != "SCT":
                            continue
                        prefix = PREPARATION_CONCEPTS.get(name["CodeValue"])
                        for code in item["ConceptCodeSequence"] if prefix else []:
                            if code["CodeMeaning"] is not None and _code_tuple(code):
                                found[prefix].add((code["CodeMeaning"], _code_tuple(code)))
    columns = {}
    for prefix, pairs in found.items():
        ordered = sorted(pairs)
        columns[f"{prefix}_CodeMeaning"] = [meaning for meaning, _ in ordered]
        columns[f"{prefix}_code_designator_value_str"] = [code for _, code in ordered]
    return columns


def _pixel_spacing(instance: dict) -> float | None:
    recorded = _first(
        instance, "SharedFunctionalGroupsSequence", 0, "PixelMeasuresSequence", 0, "PixelSpacing", 0
    ) or _first(instance, "PixelSpacing", 0)
    return float(recorded) if recorded is not None else None


def _whole_number(text: str | None) -> int | None:
    """BigQuery's SAFE_CAST(text AS INT64) for decimal text: NULL unless it is an integer."""
    return int(text) if text is not None and re.fullmatch(r"\s*[+-]?\d+\s*", text) else None


def _two_significant_digits(value: float) -> float:
    return float(f"{value:.2g}")


def _expected_sm_series(instances: list[dict]) -> dict:
    # the highest-resolution image: widest total pixel matrix (NULL last), then smallest UID
    top = min(
        instances,
        key=lambda i: (i["TotalPixelMatrixColumns"] is None, -(i["TotalPixelMatrixColumns"] or 0),
                       i["SOPInstanceUID"]),
    )  # fmt: skip
    spacings = [s for s in map(_pixel_spacing, instances) if s is not None and s > 0]
    widths = [i["TotalPixelMatrixColumns"] for i in instances if i["TotalPixelMatrixColumns"]]
    heights = [i["TotalPixelMatrixRows"] for i in instances if i["TotalPixelMatrixRows"]]
    structure = _first(top, "SpecimenDescriptionSequence", 0, "PrimaryAnatomicStructureSequence", 0)
    modifier = _first(structure, "PrimaryAnatomicStructureModifierSequence", 0)
    illumination = _first(top, "OpticalPathSequence", 0, "IlluminationTypeCodeSequence", 0)
    diagnosis = _first(top, "AdmittingDiagnosesCodeSequence", 0)
    return {
        "SeriesInstanceUID": top["SeriesInstanceUID"],
        "ContainerIdentifier": top["ContainerIdentifier"],
        **_preparations(instances),
        "min_PixelSpacing_2sf": _two_significant_digits(min(spacings)) if spacings else None,
        "max_TotalPixelMatrixColumns": max(widths or [i["Columns"] for i in instances]),
        "max_TotalPixelMatrixRows": max(heights or [i["Rows"] for i in instances]),
        "ObjectiveLensPower": _whole_number(
            _first(top, "OpticalPathSequence", 0, "ObjectiveLensPower")
        ),
        "primaryAnatomicStructure_code_designator_value_str": _code_tuple(structure),
        "primaryAnatomicStructure_CodeMeaning": _first(structure, "CodeMeaning"),
        "primaryAnatomicStructureModifier_code_designator_value_str": _code_tuple(modifier),
        "primaryAnatomicStructureModifier_CodeMeaning": _first(modifier, "CodeMeaning"),
        "illuminationType_code_designator_value_str": _code_tuple(illumination),
        "illuminationType_CodeMeaning": _first(illumination, "CodeMeaning"),
        "admittingDiagnosis_code_designator_value_str": _code_tuple(diagnosis),
        "admittingDiagnosis_CodeMeaning": _first(diagnosis, "CodeMeaning"),
    }


def _expected_sm_instance(instance: dict) -> dict:
    return {
        "SOPInstanceUID": instance["SOPInstanceUID"],
        "SeriesInstanceUID": instance["SeriesInstanceUID"],
        **_preparations([instance]),
        "PixelSpacing_0": _pixel_spacing(instance),
        **{
            column: instance[column]
            for column in (
                "ImageType",
                "TransferSyntaxUID",
                "instance_size",
                "TotalPixelMatrixColumns",
                "TotalPixelMatrixRows",
                "crdc_instance_uuid",
            )
        },
    }


def _expected_groups(instance: dict) -> list[dict]:
    groups = []
    for group in instance["AnnotationGroupSequence"]:
        category = _first(group, "AnnotationPropertyCategoryCodeSequence", 0)
        kind = _first(group, "AnnotationPropertyTypeCodeSequence", 0)
        groups.append(
            {
                "SeriesInstanceUID": instance["SeriesInstanceUID"],
                **{
                    column: group[column]
                    for column in (
                        "AnnotationGroupNumber",
                        "AnnotationGroupUID",
                        "AnnotationGroupLabel",
                        "AnnotationGroupGenerationType",
                        "NumberOfAnnotations",
                        "GraphicType",
                    )
                },
                "AnnotationPropertyCategory_code": _code_tuple(category),
                "AnnotationPropertyCategory_CodeMeaning": _first(category, "CodeMeaning"),
                "AnnotationPropertyType_code": _code_tuple(kind),
                "AnnotationPropertyType_CodeMeaning": _first(kind, "CodeMeaning"),
                "AlgorithmName": _first(
                    group, "AnnotationGroupAlgorithmIdentificationSequence", 0, "AlgorithmName"
                ),
            }
        )
    return groups


def _smallest(values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


# --- the indices match the expectations ---------------------------------------------------------


def test_sm_index_has_one_row_per_slide_series_as_expected(built_artifacts, sm_instances):
    expected = {
        uid: _expected_sm_series(instances) for uid, instances in _by_series(sm_instances).items()
    }
    rows = _index(built_artifacts, "sm_index")
    assert len(rows) == len(expected) > 0
    for row in rows:
        want = expected[row["SeriesInstanceUID"]]
        assert row["min_PixelSpacing_2sf"] == pytest.approx(want.pop("min_PixelSpacing_2sf"))
        row.pop("min_PixelSpacing_2sf")
        assert row == want


def test_sm_instance_index_has_one_row_per_slide_image_as_expected(built_artifacts, sm_instances):
    expected = {i["SOPInstanceUID"]: _expected_sm_instance(i) for i in sm_instances}
    rows = _index(built_artifacts, "sm_instance_index")
    assert len(rows) == len(expected) > 0
    assert all(row == expected[row["SOPInstanceUID"]] for row in rows)


def test_ann_index_has_one_row_per_annotation_series_as_expected(built_artifacts, ann_instances):
    expected = {
        uid: {
            "SeriesInstanceUID": uid,
            "AnnotationCoordinateType": _smallest(i["AnnotationCoordinateType"] for i in instances),
            "referenced_SeriesInstanceUID": _smallest(
                _first(i, "ReferencedSeriesSequence", 0, "SeriesInstanceUID") for i in instances
            ),
        }
        for uid, instances in _by_series(ann_instances).items()
    }
    rows = _index(built_artifacts, "ann_index")
    assert len(rows) == len(expected) > 0
    assert {row["SeriesInstanceUID"]: row for row in rows} == expected


def test_ann_group_index_has_one_row_per_annotation_group_as_expected(
    built_artifacts, ann_instances
):
    expected = [group for instance in ann_instances for group in _expected_groups(instance)]
    rows = _index(built_artifacts, "ann_group_index")
    key = "AnnotationGroupUID"
    assert len(rows) == len(expected) > 0
    assert {row[key]: row for row in rows} == {group[key]: group for group in expected}
    groups_per_series = Counter(row["SeriesInstanceUID"] for row in rows)
    assert groups_per_series == Counter(
        {
            uid: sum(len(i["AnnotationGroupSequence"]) for i in instances)
            for uid, instances in _by_series(ann_instances).items()
            if any(i["AnnotationGroupSequence"] for i in instances)
        }
    )


@pytest.mark.parametrize("name", ["sm_index", "sm_instance_index", "ann_index", "ann_group_index"])
def test_references_resolve(name, built_artifacts):
    spec = INDEX_BY_NAME[name]
    assert spec.references
    outcome = reference_outcome(spec, built_artifacts)
    assert outcome.passed, outcome


def test_annotations_refer_to_slides_in_the_release(built_artifacts):
    slides = {row["SeriesInstanceUID"] for row in _index(built_artifacts, "sm_index")}
    referenced = {
        row["referenced_SeriesInstanceUID"] for row in _index(built_artifacts, "ann_index")
    }
    assert referenced - {None} <= slides
    assert None in referenced  # an annotation without a ReferencedSeriesSequence


# --- the sample covers the edge cases -----------------------------------------------------------


def test_sm_index_covers_nulls_and_lists_of_zero_one_and_several_values(built_artifacts):
    rows = _index(built_artifacts, "sm_index")
    stain_counts = {len(row["staining_usingSubstance_CodeMeaning"]) for row in rows}
    assert {0, 1, 2} <= stain_counts
    assert any(row["tissueFixative_CodeMeaning"] == [] for row in rows)  # frozen, unrecorded
    assert any(row["embeddingMedium_CodeMeaning"] for row in rows)
    for column in (
        "ContainerIdentifier",
        "min_PixelSpacing_2sf",
        "ObjectiveLensPower",
        "primaryAnatomicStructure_CodeMeaning",
        "primaryAnatomicStructureModifier_CodeMeaning",
        "illuminationType_CodeMeaning",
        "admittingDiagnosis_CodeMeaning",
    ):
        values = [row[column] for row in rows]
        assert None in values and any(v is not None for v in values), column


def test_sample_slides_cover_the_sequence_edge_cases(sm_instances):
    series = _by_series(sm_instances).values()
    for column in ("SpecimenDescriptionSequence", "OpticalPathSequence",
                   "AdmittingDiagnosesCodeSequence"):  # fmt: skip
        # empty, one and several items
        assert {0, 1} < {len(i[column]) for i in sm_instances}, column
    # a whole number, a fractional one (NULL in the index) and a missing objective lens power
    powers = {_first(i, "OpticalPathSequence", 0, "ObjectiveLensPower") for i in sm_instances}
    assert {"40", "2.5", None} <= powers
    # the label image differs from the pyramid levels, so which instance describes a series counts
    assert any(len({str(i["OpticalPathSequence"]) for i in s}) > 1 for s in series)
    # spacing in the functional groups, only at the top level, nowhere
    assert any(_first(i, "SharedFunctionalGroupsSequence", 0) for i in sm_instances)
    assert any(i["PixelSpacing"] and not i["SharedFunctionalGroupsSequence"] for i in sm_instances)
    assert any(all(_pixel_spacing(i) is None for i in s) for s in series)
    # series without TotalPixelMatrixColumns fall back to Columns
    assert any(all(i["TotalPixelMatrixColumns"] is None for i in s) for s in series)
    # pyramids: several instances with different sizes
    assert any(len({i["TotalPixelMatrixColumns"] for i in s}) > 2 for s in series)


def test_sample_annotations_cover_the_sequence_edge_cases(ann_instances, built_artifacts):
    group_counts = {len(i["AnnotationGroupSequence"]) for i in ann_instances}
    assert {0, 1} < group_counts
    assert {0, 1} < {len(i["ReferencedSeriesSequence"]) for i in ann_instances}
    assert None in {i["AnnotationCoordinateType"] for i in ann_instances}
    rows = _index(built_artifacts, "ann_group_index")
    for column in (
        "AlgorithmName",
        "AnnotationPropertyCategory_code",
        "AnnotationPropertyType_code",
    ):
        values = [row[column] for row in rows]
        assert None in values and any(v is not None for v in values), column
    # group numbers restart in every instance, so only the UID identifies a group
    assert len({(r["SeriesInstanceUID"], r["AnnotationGroupNumber"]) for r in rows}) < len(rows)


def test_unchanged_series_keep_their_pathology_attributes_across_versions(sample_source):
    columns = [
        "SOPInstanceUID",
        "crdc_series_uuid",
        "ContainerIdentifier",
        "TotalPixelMatrixColumns",
        "SharedFunctionalGroupsSequence",
        "SpecimenDescriptionSequence",
        "OpticalPathSequence",
        "AnnotationGroupSequence",
    ]
    older, newer = (
        {
            row["SOPInstanceUID"]: row
            for row in _dicom_all(sample_source, version).select(columns).to_pylist()
        }
        for version in (SAMPLE_VERSIONS - 1, SAMPLE_VERSIONS)
    )
    modality = dict(
        zip(
            *_dicom_all(sample_source).select(["SOPInstanceUID", "Modality"]).to_pydict().values(),
            strict=True,
        )
    )
    kept = [
        uid
        for uid, row in newer.items()
        if modality[uid] in ("SM", "ANN")
        and uid in older
        and older[uid]["crdc_series_uuid"] == row["crdc_series_uuid"]
    ]
    assert kept
    assert all(older[uid] == newer[uid] for uid in kept)
