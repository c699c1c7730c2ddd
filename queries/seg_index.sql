# table-description:
# One row per DICOM Segmentation (SEG) series of the release: how many segments it holds, what they
# segment (coded segmented property categories and types, anatomic regions), how they were made
# (algorithm types and names) and the image series the segmentation was derived from. Every list
# column (and the comma-separated algorithm columns) holds the distinct values of its own attribute
# over all segments of the series, sorted: values at the same position in two columns need not
# describe the same segment.
WITH segmentation_instances AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    SegmentationType,
    SegmentSequence
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_metadata`
  # The SOP class tells segmentations apart better than Modality: Segmentation Storage (binary and
  # fractional) and Label Map Segmentation Storage.
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7')
),

segments AS (
  SELECT
    instance.SeriesInstanceUID,
    instance.SegmentationType,
    segment.SegmentNumber,
    segment.SegmentAlgorithmType,
    # REPEATED in IDC's tables, although DICOM gives a segment one algorithm name
    segment.SegmentAlgorithmName[SAFE_OFFSET(0)] AS SegmentAlgorithmName,
    segment.SegmentedPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS property_category,
    segment.SegmentedPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS property_type,
    segment.AnatomicRegionSequence[SAFE_OFFSET(0)].CodeMeaning AS anatomic_region
  FROM segmentation_instances AS instance
  # a segmentation without segments keeps its row, with NULL segment attributes
  LEFT JOIN UNNEST(instance.SegmentSequence) AS segment
),

# The first image instance each segmentation instance lists, wherever its converter recorded it.
referenced_instances AS (
  SELECT
    SeriesInstanceUID,
    COALESCE(
      ReferencedSeriesSequence[SAFE_OFFSET(0)].ReferencedInstanceSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID,
      ReferencedImageSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID,
      SourceImageSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID
    ) AS referenced_SOPInstanceUID
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7')
),

# The series of those instances, where IDC has them.
segmented_series AS (
  SELECT
    referenced.SeriesInstanceUID,
    MIN(image.SeriesInstanceUID) AS segmented_SeriesInstanceUID
  FROM referenced_instances AS referenced
  JOIN `bigquery-public-data.idc_v{{ idc_version }}.dicom_all` AS image
    ON image.SOPInstanceUID = referenced.referenced_SOPInstanceUID
  GROUP BY referenced.SeriesInstanceUID
)

SELECT
  # description:
  # unique identifier of the segmentation series (DICOM SeriesInstanceUID); one row per value, and
  # the key to join with idc_index
  segments.SeriesInstanceUID,
  # description:
  # how segment membership is encoded (DICOM SegmentationType): BINARY, FRACTIONAL or LABELMAP
  MIN(segments.SegmentationType) AS SegmentationType,
  # description:
  # number of segments in the series: distinct DICOM SegmentNumber values over the items of the
  # SegmentSequence of its instances (0 when it has none)
  COUNT(DISTINCT segments.SegmentNumber) AS total_segments,
  # description:
  # how the segments were produced (DICOM SegmentAlgorithmType: AUTOMATIC, SEMIAUTOMATIC or MANUAL),
  # distinct values sorted and joined with commas; NULL when no segment records it
  STRING_AGG(DISTINCT segments.SegmentAlgorithmType, ',' ORDER BY segments.SegmentAlgorithmType)
    AS AlgorithmType,
  # description:
  # names of the algorithms or tools that produced the segments (DICOM SegmentAlgorithmName),
  # distinct values sorted and joined with commas; NULL when no segment names one, as for manual
  # segmentations
  STRING_AGG(DISTINCT segments.SegmentAlgorithmName, ',' ORDER BY segments.SegmentAlgorithmName)
    AS AlgorithmName,
  # description:
  # SeriesInstanceUID of the image series the segmentation was derived from: the series of the first
  # image instance a segmentation instance lists in ReferencedSeriesSequence, or else in
  # ReferencedImageSequence, or else in SourceImageSequence. NULL when that instance is not in the
  # release or none is listed, so drop NULLs before a NOT IN over this column
  ANY_VALUE(segmented_series.segmented_SeriesInstanceUID) AS segmented_SeriesInstanceUID,
  # description:
  # broad categories of what the segments represent: distinct code meanings of the first item of
  # each segment's SegmentedPropertyCategoryCodeSequence, sorted, e.g. ["Anatomical Structure",
  # "Morphologically Altered Structure"]
  COALESCE(
    ARRAY_AGG(DISTINCT segments.property_category IGNORE NULLS ORDER BY segments.property_category),
    ARRAY<STRING>[]
  ) AS SegmentedPropertyCategory_CodeMeanings,
  # description:
  # what the segments represent: distinct code meanings of the first item of each segment's
  # SegmentedPropertyTypeCodeSequence, sorted, e.g. ["Heart", "Lung", "Nodule"]
  COALESCE(
    ARRAY_AGG(DISTINCT segments.property_type IGNORE NULLS ORDER BY segments.property_type),
    ARRAY<STRING>[]
  ) AS SegmentedPropertyType_CodeMeanings,
  # description:
  # where in the body the segmented structures lie: distinct code meanings of the first item of each
  # segment's AnatomicRegionSequence, sorted, e.g. ["Kidney", "Lung"]; empty when no segment records
  # an anatomic region
  COALESCE(
    ARRAY_AGG(DISTINCT segments.anatomic_region IGNORE NULLS ORDER BY segments.anatomic_region),
    ARRAY<STRING>[]
  ) AS AnatomicRegion_CodeMeanings
FROM segments
LEFT JOIN segmented_series
  ON segmented_series.SeriesInstanceUID = segments.SeriesInstanceUID
GROUP BY segments.SeriesInstanceUID
ORDER BY segments.SeriesInstanceUID
