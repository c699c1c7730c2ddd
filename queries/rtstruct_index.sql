# table-description:
# One row per DICOM RT Structure Set (RTSTRUCT) series of the release: how many regions of interest
# (ROIs) it delineates, their names, how they were generated and how they are interpreted (e.g.
# GTV, PTV, ORGAN), and the image series the contours were drawn on. Every list column holds the
# distinct values of its own attribute over all ROIs of the series, sorted: values at the same
# position in two lists need not describe the same ROI.
WITH structure_sets AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    StructureSetROISequence,
    RTROIObservationsSequence,
    # the first series of the first study of the first frame of reference
    ReferencedFrameOfReferenceSequence[SAFE_OFFSET(0)].RTReferencedStudySequence[SAFE_OFFSET(0)].RTReferencedSeriesSequence[SAFE_OFFSET(0)].SeriesInstanceUID
      AS referenced_SeriesInstanceUID
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  # RT Structure Set Storage: the SOP class is more reliable than Modality
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.481.3'
),

rois AS (
  SELECT
    structure_set.SeriesInstanceUID,
    structure_set.SOPInstanceUID,
    structure_set.referenced_SeriesInstanceUID,
    roi.ROINumber,
    roi.ROIName,
    roi.ROIGenerationAlgorithm
  FROM structure_sets AS structure_set
  # a structure set without ROIs keeps its row, with NULL ROI attributes
  LEFT JOIN UNNEST(structure_set.StructureSetROISequence) AS roi
),

observations AS (
  SELECT
    structure_set.SOPInstanceUID,
    observation.ReferencedROINumber,
    observation.RTROIInterpretedType
  FROM structure_sets AS structure_set
  CROSS JOIN UNNEST(structure_set.RTROIObservationsSequence) AS observation
)

SELECT
  # description:
  # unique identifier of the RT structure set series (DICOM SeriesInstanceUID); one row per value,
  # and the key to join with idc_index
  rois.SeriesInstanceUID,
  # description:
  # number of ROIs in the series: distinct DICOM ROINumber values over the items of the
  # StructureSetROISequence of its instances (0 when it has none; idc-index-data 25.0.5 leaves
  # such a series out)
  COUNT(DISTINCT rois.ROINumber) AS total_rois,
  # description:
  # names of the ROIs (DICOM ROIName in StructureSetROISequence), distinct and sorted, e.g.
  # ["GTV-1", "Heart", "Lung-Left"]
  COALESCE(ARRAY_AGG(DISTINCT rois.ROIName IGNORE NULLS ORDER BY rois.ROIName), ARRAY<STRING>[])
    AS ROINames,
  # description:
  # how the ROIs were generated (DICOM ROIGenerationAlgorithm: AUTOMATIC, SEMIAUTOMATIC or MANUAL),
  # distinct and sorted; ROIs that do not record it add nothing
  COALESCE(
    ARRAY_AGG(DISTINCT rois.ROIGenerationAlgorithm IGNORE NULLS ORDER BY rois.ROIGenerationAlgorithm),
    ARRAY<STRING>[]
  ) AS ROIGenerationAlgorithms,
  # description:
  # clinical interpretation of the ROIs (DICOM RTROIInterpretedType of the RTROIObservationsSequence
  # item that refers to each ROI, e.g. GTV, PTV, ORGAN, EXTERNAL), distinct and sorted; ROIs without
  # an observation add nothing
  COALESCE(
    ARRAY_AGG(
      DISTINCT observations.RTROIInterpretedType IGNORE NULLS
      ORDER BY observations.RTROIInterpretedType
    ),
    ARRAY<STRING>[]
  ) AS RTROIInterpretedTypes,
  # description:
  # SeriesInstanceUID of the image series the structure set was drawn on, as recorded in
  # ReferencedFrameOfReferenceSequence > RTReferencedStudySequence > RTReferencedSeriesSequence (the
  # first listed; the smallest where the instances disagree, where idc-index-data 25.0.5 takes
  # any); it may name a series that is not in IDC, and is NULL when none is recorded
  MIN(rois.referenced_SeriesInstanceUID) AS referenced_SeriesInstanceUID
FROM rois
LEFT JOIN observations
  ON observations.SOPInstanceUID = rois.SOPInstanceUID
  AND observations.ReferencedROINumber = rois.ROINumber
GROUP BY rois.SeriesInstanceUID
ORDER BY rois.SeriesInstanceUID
