# table-description:
# One row per slide microscopy (SM) series of the release, describing the slide it digitizes: where
# the specimen was taken from, how it was fixed, embedded and stained, the patient's admitting
# diagnosis, how it was imaged (illumination, objective lens power) and the size and pixel spacing
# of its highest-resolution image. Join with idc_index, or with sm_instance_index for the single
# images (pyramid levels, label, overview), on SeriesInstanceUID.
WITH slide_instances AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    ContainerIdentifier,
    TotalPixelMatrixColumns,
    TotalPixelMatrixRows,
    `Columns`,
    `Rows`,
    SpecimenDescriptionSequence,
    OpticalPathSequence,
    AdmittingDiagnosesCodeSequence,
    # whole-slide images record the spacing in the shared functional groups, older ones at the top
    SAFE_CAST(
      COALESCE(
        SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(0)],
        PixelSpacing[SAFE_OFFSET(0)]
      ) AS FLOAT64
    ) AS pixel_spacing
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE Modality = 'SM'
),

# The instance whose attributes describe the series: the highest-resolution image (the widest total
# pixel matrix), so that every single-valued attribute comes from one and the same image.
ranked_instances AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY SeriesInstanceUID
      ORDER BY TotalPixelMatrixColumns DESC NULLS LAST, SOPInstanceUID
    ) AS resolution_rank
  FROM slide_instances
),

representative AS (
  SELECT
    SeriesInstanceUID,
    ContainerIdentifier,
    OpticalPathSequence[SAFE_OFFSET(0)].ObjectiveLensPower AS objective_lens_power,
    OpticalPathSequence[SAFE_OFFSET(0)].IlluminationTypeCodeSequence[SAFE_OFFSET(0)] AS illumination,
    SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)] AS structure,
    SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)] AS structure_modifier,
    AdmittingDiagnosesCodeSequence[SAFE_OFFSET(0)] AS diagnosis
  FROM ranked_instances
  WHERE resolution_rank = 1
),

series_extent AS (
  SELECT
    SeriesInstanceUID,
    MIN(IF(pixel_spacing > 0, pixel_spacing, NULL)) AS min_pixel_spacing,
    # a series without total pixel matrix attributes is one single-frame image per instance
    COALESCE(MAX(TotalPixelMatrixColumns), MAX(`Columns`)) AS max_columns,
    COALESCE(MAX(TotalPixelMatrixRows), MAX(`Rows`)) AS max_rows
  FROM slide_instances
  GROUP BY SeriesInstanceUID
),

# Coded values of the preparation steps of every specimen on the slide (DICOM TID 8001), by the
# concept they give: SCT 430864009 tissue fixative, 430863003 embedding medium, 424361007 staining
# substance. Text-valued items have no concept code and drop out in the UNNEST.
preparation_codes AS (
  SELECT DISTINCT
    instance.SeriesInstanceUID,
    concept_name.CodeValue AS concept,
    code.CodeMeaning,
    CONCAT(code.CodingSchemeDesignator, ':', code.CodeValue) AS code_tuple
  FROM slide_instances AS instance,
    UNNEST(instance.SpecimenDescriptionSequence) AS specimen,
    UNNEST(specimen.SpecimenPreparationSequence) AS step,
    UNNEST(step.SpecimenPreparationStepContentItemSequence) AS item,
    UNNEST(item.ConceptNameCodeSequence) AS concept_name,
    UNNEST(item.ConceptCodeSequence) AS code
  WHERE concept_name.CodingSchemeDesignator = 'SCT'
    AND concept_name.CodeValue IN ('430864009', '430863003', '424361007')
    AND code.CodeMeaning IS NOT NULL
    AND code.CodingSchemeDesignator IS NOT NULL
    AND code.CodeValue IS NOT NULL
),

# Meanings and code tuples sorted the same way, so that position i of both lists is one code.
preparations AS (
  SELECT
    SeriesInstanceUID,
    concept,
    ARRAY_AGG(CodeMeaning ORDER BY CodeMeaning, code_tuple) AS meanings,
    ARRAY_AGG(code_tuple ORDER BY CodeMeaning, code_tuple) AS code_tuples
  FROM preparation_codes
  GROUP BY SeriesInstanceUID, concept
)

SELECT
  # description:
  # unique identifier of the slide microscopy series (DICOM SeriesInstanceUID); one row per value,
  # and the key to join with idc_index and sm_instance_index
  representative.SeriesInstanceUID,
  # description:
  # identifier of the container holding the specimen, usually the glass slide's barcode or label
  # (DICOM ContainerIdentifier)
  representative.ContainerIdentifier,
  # description:
  # embedding media of the specimens on the slide (e.g. Paraffin wax), the distinct CodeMeaning
  # values of the SpecimenPreparationSequence items whose concept is SCT 430863003 "Embedding
  # medium", sorted; empty when none is recorded
  IFNULL(embedding.meanings, ARRAY<STRING>[]) AS embeddingMedium_CodeMeaning,
  # description:
  # codes of those embedding media as CodingSchemeDesignator:CodeValue (e.g. SCT:311731000), in the
  # same order as embeddingMedium_CodeMeaning
  IFNULL(embedding.code_tuples, ARRAY<STRING>[]) AS embeddingMedium_code_designator_value_str,
  # description:
  # fixatives the tissue was treated with (e.g. Formalin), the distinct CodeMeaning values of the
  # SpecimenPreparationSequence items whose concept is SCT 430864009 "Tissue Fixative", sorted;
  # empty when none is recorded (e.g. frozen sections)
  IFNULL(fixative.meanings, ARRAY<STRING>[]) AS tissueFixative_CodeMeaning,
  # description:
  # codes of those fixatives as CodingSchemeDesignator:CodeValue (e.g. SCT:431510009), in the same
  # order as tissueFixative_CodeMeaning
  IFNULL(fixative.code_tuples, ARRAY<STRING>[]) AS tissueFixative_code_designator_value_str,
  # description:
  # substances the slide was stained with (e.g. hematoxylin stain and water soluble eosin stain for
  # H&E), the distinct CodeMeaning values of the SpecimenPreparationSequence items whose concept is
  # SCT 424361007 "Using substance", sorted; empty for unstained slides or when not recorded
  IFNULL(staining.meanings, ARRAY<STRING>[]) AS staining_usingSubstance_CodeMeaning,
  # description:
  # codes of those staining substances as CodingSchemeDesignator:CodeValue (e.g. SCT:12710003), in
  # the same order as staining_usingSubstance_CodeMeaning
  IFNULL(staining.code_tuples, ARRAY<STRING>[]) AS staining_usingSubstance_code_designator_value_str,
  # description:
  # smallest pixel spacing over the images of the series, i.e. that of the highest-resolution
  # level, in mm, rounded to 2 significant digits; from the first value of DICOM PixelSpacing in the
  # PixelMeasuresSequence of the SharedFunctionalGroupsSequence (or, failing that, the top-level
  # PixelSpacing); NULL when no image records a positive spacing
  CASE
    WHEN series_extent.min_pixel_spacing > 0 THEN
      ROUND(
        series_extent.min_pixel_spacing,
        CAST(1 - FLOOR(LOG10(series_extent.min_pixel_spacing)) AS INT64)
      )
  END AS min_PixelSpacing_2sf,
  # description:
  # width in pixels of the largest image of the series (the highest-resolution level), the maximum
  # of DICOM TotalPixelMatrixColumns over its instances, or of Columns when none records it
  series_extent.max_columns AS max_TotalPixelMatrixColumns,
  # description:
  # height in pixels of the largest image of the series, the maximum of DICOM TotalPixelMatrixRows
  # over its instances, or of Rows when none records it
  series_extent.max_rows AS max_TotalPixelMatrixRows,
  # description:
  # magnification of the objective lens the slide was scanned with (e.g. 20 or 40), DICOM
  # ObjectiveLensPower of the first OpticalPathSequence item of the highest-resolution image; NULL
  # when absent or not a whole number
  SAFE_CAST(representative.objective_lens_power AS INT64) AS ObjectiveLensPower,
  # description:
  # code of the anatomic structure the specimen was taken from, as CodingSchemeDesignator:CodeValue
  # (e.g. SCT:39607008 for lung); first item of the PrimaryAnatomicStructureSequence of the first
  # SpecimenDescriptionSequence item of the highest-resolution image
  CONCAT(representative.structure.CodingSchemeDesignator, ':', representative.structure.CodeValue)
    AS primaryAnatomicStructure_code_designator_value_str,
  # description:
  # name of that anatomic structure (its CodeMeaning, e.g. Lung)
  representative.structure.CodeMeaning AS primaryAnatomicStructure_CodeMeaning,
  # description:
  # code qualifying that anatomic structure, such as its laterality (e.g. SCT:24028007 for right),
  # as CodingSchemeDesignator:CodeValue, from its PrimaryAnatomicStructureModifierSequence; NULL
  # when there is none
  CONCAT(
    representative.structure_modifier.CodingSchemeDesignator, ':',
    representative.structure_modifier.CodeValue
  ) AS primaryAnatomicStructureModifier_code_designator_value_str,
  # description:
  # name of that qualifier (its CodeMeaning, e.g. Right); NULL when there is none
  representative.structure_modifier.CodeMeaning AS primaryAnatomicStructureModifier_CodeMeaning,
  # description:
  # code of the illumination the slide was imaged with, as CodingSchemeDesignator:CodeValue (e.g.
  # DCM:111744 for brightfield), from the IlluminationTypeCodeSequence of the first
  # OpticalPathSequence item of the highest-resolution image
  CONCAT(representative.illumination.CodingSchemeDesignator, ':', representative.illumination.CodeValue)
    AS illuminationType_code_designator_value_str,
  # description:
  # name of that illumination (its CodeMeaning, e.g. Brightfield illumination)
  representative.illumination.CodeMeaning AS illuminationType_CodeMeaning,
  # description:
  # code of the diagnosis the patient was admitted with, as CodingSchemeDesignator:CodeValue, the
  # first item of DICOM AdmittingDiagnosesCodeSequence of the highest-resolution image; NULL when
  # not recorded
  CONCAT(representative.diagnosis.CodingSchemeDesignator, ':', representative.diagnosis.CodeValue)
    AS admittingDiagnosis_code_designator_value_str,
  # description:
  # name of that diagnosis (its CodeMeaning); NULL when not recorded
  representative.diagnosis.CodeMeaning AS admittingDiagnosis_CodeMeaning
FROM representative
JOIN series_extent
  ON series_extent.SeriesInstanceUID = representative.SeriesInstanceUID
LEFT JOIN preparations AS embedding
  ON embedding.SeriesInstanceUID = representative.SeriesInstanceUID
  AND embedding.concept = '430863003'
LEFT JOIN preparations AS fixative
  ON fixative.SeriesInstanceUID = representative.SeriesInstanceUID
  AND fixative.concept = '430864009'
LEFT JOIN preparations AS staining
  ON staining.SeriesInstanceUID = representative.SeriesInstanceUID
  AND staining.concept = '424361007'
ORDER BY representative.SeriesInstanceUID
