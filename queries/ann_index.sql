# table-description:
# One row per Microscopy Bulk Simple Annotations (ANN) series of the release: annotations (points,
# outlines, regions) drawn on a slide microscopy image, with their coordinate type and the image
# series they annotate. What the annotations are (their groups, counts, graphic types, coded
# properties and algorithms) is in ann_group_index; join with it, or with idc_index, on
# SeriesInstanceUID.
SELECT
  # description:
  # unique identifier of the annotation series (DICOM SeriesInstanceUID); one row per value (where
  # idc-index-data 25.0.5 has one per instance), and the key to join with ann_group_index and
  # idc_index
  SeriesInstanceUID,
  # description:
  # whether the annotation coordinates are 2D (image pixel positions) or 3D (positions in the slide's
  # frame of reference, in mm), DICOM AnnotationCoordinateType; the smallest value when the
  # instances of the series disagree
  MIN(AnnotationCoordinateType) AS AnnotationCoordinateType,
  # description:
  # unique identifier of the image series the annotations were made on: the SeriesInstanceUID of the
  # first item of DICOM ReferencedSeriesSequence (the smallest over the instances of the series);
  # join with sm_index or idc_index on it; NULL when none is referenced
  MIN(ReferencedSeriesSequence[SAFE_OFFSET(0)].SeriesInstanceUID) AS referenced_SeriesInstanceUID
FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
# The SOP class identifies bulk annotations more reliably than the Modality value ANN.
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.91.1'
GROUP BY SeriesInstanceUID
ORDER BY SeriesInstanceUID
