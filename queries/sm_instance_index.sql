# table-description:
# One row per slide microscopy (SM) instance of the release: each image of a slide (a level of the
# resolution pyramid, the label or the overview) with its type, size, pixel spacing, encoding and
# file size, and how the specimen on the slide was prepared (fixative, embedding medium, stains).
# Join with sm_index or idc_index on SeriesInstanceUID; crdc_instance_uuid names the instance's file.
WITH slide_instances AS (
  SELECT
    SOPInstanceUID,
    SeriesInstanceUID,
    SpecimenDescriptionSequence,
    SharedFunctionalGroupsSequence,
    PixelSpacing,
    ImageType,
    TransferSyntaxUID,
    instance_size,
    TotalPixelMatrixColumns,
    TotalPixelMatrixRows,
    crdc_instance_uuid
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE Modality = 'SM'
),

# Coded values of the preparation steps of every specimen on the slide (DICOM TID 8001), by the
# concept they give: SCT 430864009 tissue fixative, 430863003 embedding medium, 424361007 staining
# substance. Text-valued items have no concept code and drop out in the UNNEST.
preparation_codes AS (
  SELECT DISTINCT
    instance.SOPInstanceUID,
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
    SOPInstanceUID,
    concept,
    ARRAY_AGG(CodeMeaning ORDER BY CodeMeaning, code_tuple) AS meanings,
    ARRAY_AGG(code_tuple ORDER BY CodeMeaning, code_tuple) AS code_tuples
  FROM preparation_codes
  GROUP BY SOPInstanceUID, concept
)

SELECT
  # description:
  # unique identifier of the instance (DICOM SOPInstanceUID); one row per value
  instance.SOPInstanceUID,
  # description:
  # unique identifier of the series the instance belongs to (DICOM SeriesInstanceUID); join with
  # sm_index and idc_index on it
  instance.SeriesInstanceUID,
  # description:
  # embedding media of the specimens on the slide (e.g. Paraffin wax), the distinct CodeMeaning
  # values of the instance's SpecimenPreparationSequence items whose concept is SCT 430863003
  # "Embedding medium", sorted; empty when none is recorded
  IFNULL(embedding.meanings, ARRAY<STRING>[]) AS embeddingMedium_CodeMeaning,
  # description:
  # codes of those embedding media as CodingSchemeDesignator:CodeValue (e.g. SCT:311731000), in the
  # same order as embeddingMedium_CodeMeaning
  IFNULL(embedding.code_tuples, ARRAY<STRING>[]) AS embeddingMedium_code_designator_value_str,
  # description:
  # fixatives the tissue was treated with (e.g. Formalin), the distinct CodeMeaning values of the
  # instance's SpecimenPreparationSequence items whose concept is SCT 430864009 "Tissue Fixative",
  # sorted; empty when none is recorded
  IFNULL(fixative.meanings, ARRAY<STRING>[]) AS tissueFixative_CodeMeaning,
  # description:
  # codes of those fixatives as CodingSchemeDesignator:CodeValue (e.g. SCT:431510009), in the same
  # order as tissueFixative_CodeMeaning
  IFNULL(fixative.code_tuples, ARRAY<STRING>[]) AS tissueFixative_code_designator_value_str,
  # description:
  # substances the slide was stained with, the distinct CodeMeaning values of the instance's
  # SpecimenPreparationSequence items whose concept is SCT 424361007 "Using substance", sorted;
  # empty for unstained slides or when not recorded
  IFNULL(staining.meanings, ARRAY<STRING>[]) AS staining_usingSubstance_CodeMeaning,
  # description:
  # codes of those staining substances as CodingSchemeDesignator:CodeValue (e.g. SCT:12710003), in
  # the same order as staining_usingSubstance_CodeMeaning
  IFNULL(staining.code_tuples, ARRAY<STRING>[]) AS staining_usingSubstance_code_designator_value_str,
  # description:
  # physical distance between the centers of adjacent pixel rows, in mm, as recorded (not rounded):
  # the first value of DICOM PixelSpacing in the PixelMeasuresSequence of the
  # SharedFunctionalGroupsSequence, or of the top-level PixelSpacing when that is absent; NULL when
  # neither is recorded
  SAFE_CAST(
    COALESCE(
      instance.SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(0)],
      instance.PixelSpacing[SAFE_OFFSET(0)]
    ) AS FLOAT64
  ) AS PixelSpacing_0,
  # description:
  # characteristics of the image (DICOM ImageType), e.g. ORIGINAL, PRIMARY, VOLUME, NONE for the
  # full-resolution level; the third value tells pyramid levels (VOLUME) from LABEL, OVERVIEW and
  # THUMBNAIL images
  instance.ImageType,
  # description:
  # Transfer Syntax UID the instance is encoded with (DICOM TransferSyntaxUID), e.g.
  # 1.2.840.10008.1.2.4.50 for JPEG Baseline
  instance.TransferSyntaxUID,
  # description:
  # size of the instance's file, in bytes
  instance.instance_size,
  # description:
  # width in pixels of the whole image the instance's tiles make up (DICOM TotalPixelMatrixColumns);
  # NULL when not recorded
  instance.TotalPixelMatrixColumns,
  # description:
  # height in pixels of the whole image the instance's tiles make up (DICOM TotalPixelMatrixRows);
  # NULL when not recorded
  instance.TotalPixelMatrixRows,
  # description:
  # IDC identifier of this version of the instance; its file is <crdc_instance_uuid>.dcm in the
  # series' folder of the bucket
  instance.crdc_instance_uuid
FROM slide_instances AS instance
LEFT JOIN preparations AS embedding
  ON embedding.SOPInstanceUID = instance.SOPInstanceUID
  AND embedding.concept = '430863003'
LEFT JOIN preparations AS fixative
  ON fixative.SOPInstanceUID = instance.SOPInstanceUID
  AND fixative.concept = '430864009'
LEFT JOIN preparations AS staining
  ON staining.SOPInstanceUID = instance.SOPInstanceUID
  AND staining.concept = '424361007'
ORDER BY instance.SeriesInstanceUID, instance.SOPInstanceUID
