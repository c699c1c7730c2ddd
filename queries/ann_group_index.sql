# table-description:
# One row per annotation group of the Microscopy Bulk Simple Annotations (ANN) instances of the
# release. A group gathers annotations of one kind: what they mark (coded property category and
# type), their graphic type, how many there are, and whether they were drawn by hand or produced by
# an algorithm (and which). Join with ann_index or idc_index on SeriesInstanceUID.
SELECT
  # description:
  # unique identifier of the annotation series the group belongs to (DICOM SeriesInstanceUID); join
  # with ann_index and idc_index on it
  annotations.SeriesInstanceUID,
  # description:
  # number of the group within its instance, from 1 (DICOM AnnotationGroupNumber)
  annotation_group.AnnotationGroupNumber,
  # description:
  # unique identifier of the group (DICOM AnnotationGroupUID); one row per value
  annotation_group.AnnotationGroupUID,
  # description:
  # short name given to the group, e.g. Nuclei (DICOM AnnotationGroupLabel)
  annotation_group.AnnotationGroupLabel,
  # description:
  # how the annotations were made (DICOM AnnotationGroupGenerationType): MANUAL, SEMIAUTOMATIC or
  # AUTOMATIC
  annotation_group.AnnotationGroupGenerationType,
  # description:
  # number of annotations in the group (DICOM NumberOfAnnotations)
  annotation_group.NumberOfAnnotations,
  # description:
  # shape of every annotation in the group (DICOM GraphicType): POINT, POLYLINE, POLYGON, ELLIPSE
  # or RECTANGLE
  annotation_group.GraphicType,
  # description:
  # code of the general category of what the annotations mark (e.g. SCT:91723000 for anatomical
  # structure) as CodingSchemeDesignator:CodeValue, the first item of DICOM
  # AnnotationPropertyCategoryCodeSequence; NULL when none is coded
  CONCAT(
    annotation_group.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator,
    ':',
    annotation_group.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeValue
  ) AS AnnotationPropertyCategory_code,
  # description:
  # name of that category (its CodeMeaning, e.g. Anatomical Structure); NULL when none is coded
  annotation_group.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeMeaning
    AS AnnotationPropertyCategory_CodeMeaning,
  # description:
  # code of the specific kind of thing the annotations mark (e.g. SCT:84640000 for nucleus) as
  # CodingSchemeDesignator:CodeValue, the first item of DICOM AnnotationPropertyTypeCodeSequence;
  # NULL when none is coded
  CONCAT(
    annotation_group.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator,
    ':',
    annotation_group.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeValue
  ) AS AnnotationPropertyType_code,
  # description:
  # name of that kind (its CodeMeaning, e.g. Nucleus); NULL when none is coded
  annotation_group.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning
    AS AnnotationPropertyType_CodeMeaning,
  # description:
  # name of the algorithm that produced the annotations, from the first item of DICOM
  # AnnotationGroupAlgorithmIdentificationSequence; NULL for manual annotations
  annotation_group.AnnotationGroupAlgorithmIdentificationSequence[SAFE_OFFSET(0)].AlgorithmName
    AS AlgorithmName
FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all` AS annotations,
  UNNEST(annotations.AnnotationGroupSequence) AS annotation_group
# The SOP class identifies bulk annotations more reliably than the Modality value ANN.
WHERE annotations.SOPClassUID = '1.2.840.10008.5.1.4.1.1.91.1'
ORDER BY
  annotations.SeriesInstanceUID,
  annotations.SOPInstanceUID,
  annotation_group.AnnotationGroupNumber
