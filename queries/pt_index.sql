# table-description:
# PET acquisition, correction, reconstruction and radiopharmaceutical parameters: one row per series
# of Positron Emission Tomography Image Storage instances (SOP Class UID
# 1.2.840.10008.5.1.4.1.1.128). Frame durations differ between the time frames of a dynamic
# acquisition, so they are the sorted list of distinct values in the series; every other attribute
# is the same for all instances of a series and is taken from one of them. The radiopharmaceutical
# columns describe the first item of RadiopharmaceuticalInformationSequence. Join with idc_index on
# SeriesInstanceUID.
WITH pt_instances AS (
  SELECT
    SeriesInstanceUID,
    NULLIF(ARRAY_TO_STRING(SeriesType, '/'), '') AS series_type,
    Units,
    DecayCorrection,
    CorrectedImage,
    RandomsCorrectionMethod,
    ReconstructionMethod,
    SAFE_CAST(ActualFrameDuration AS FLOAT64) AS frame_duration,
    ScatterCorrectionMethod,
    AttenuationCorrectionMethod,
    RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)] AS radiopharmaceutical,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64) AS pixel_spacing_row,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64) AS pixel_spacing_col,
    `Rows`,
    `Columns`,
    SAFE_CAST(SliceThickness AS FLOAT64) AS slice_thickness,
    NumberOfSlices,
    NumberOfTimeSlices
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.128'
)

SELECT
  # description:
  # unique identifier of the PET series (DICOM SeriesInstanceUID); one row per value, joins with
  # idc_index
  SeriesInstanceUID,
  # description:
  # the two values of DICOM SeriesType joined by a slash: how the data were acquired (STATIC,
  # DYNAMIC, GATED, WHOLE BODY) and what the series holds (IMAGE, REPROJECTION); NULL when absent
  ANY_VALUE(series_type) AS SeriesType,
  # description:
  # unit of the pixel values (DICOM Units), e.g. BQML for Bq/ml, CNTS for counts, GML for SUV body
  # weight
  ANY_VALUE(Units) AS Units,
  # description:
  # time the pixel values are decay corrected to (DICOM DecayCorrection): START of the acquisition,
  # ADMIN the administration of the radiopharmaceutical, or NONE
  ANY_VALUE(DecayCorrection) AS DecayCorrection,
  # description:
  # corrections applied to the pixel values (DICOM CorrectedImage), e.g. DECY decay, ATTN
  # attenuation, SCAT scatter, RAN randoms, NORM normalization, DTIM dead time
  ANY_VALUE(CorrectedImage) AS CorrectedImage,
  # description:
  # how random coincidences were corrected (DICOM RandomsCorrectionMethod), e.g. DLYD delayed event
  # subtraction, SING singles estimation
  ANY_VALUE(RandomsCorrectionMethod) AS RandomsCorrectionMethod,
  # description:
  # reconstruction algorithm as recorded by the scanner (DICOM ReconstructionMethod), e.g. OSEM with
  # its iterations and subsets, FBP
  ANY_VALUE(ReconstructionMethod) AS ReconstructionMethod,
  # description:
  # the distinct frame durations in ms of the series' instances, in ascending order (DICOM
  # ActualFrameDuration); one value for a static acquisition, several for a dynamic one
  ARRAY_AGG(DISTINCT frame_duration IGNORE NULLS ORDER BY frame_duration) AS ActualFrameDuration,
  # description:
  # how scattered coincidences were corrected (DICOM ScatterCorrectionMethod)
  ANY_VALUE(ScatterCorrectionMethod) AS ScatterCorrectionMethod,
  # description:
  # how attenuation was corrected (DICOM AttenuationCorrectionMethod), e.g. CT-based
  ANY_VALUE(AttenuationCorrectionMethod) AS AttenuationCorrectionMethod,
  # description:
  # coded name of the radionuclide (CodeMeaning of the first RadionuclideCodeSequence item of the
  # first RadiopharmaceuticalInformationSequence item), e.g. ^18^Fluorine; NULL when not coded
  ANY_VALUE(radiopharmaceutical.RadionuclideCodeSequence[SAFE_OFFSET(0)].CodeMeaning)
    AS RadionuclideCodeMeaning,
  # description:
  # radioactivity administered to the patient in Bq (RadionuclideTotalDose of the first
  # RadiopharmaceuticalInformationSequence item)
  ANY_VALUE(SAFE_CAST(radiopharmaceutical.RadionuclideTotalDose AS FLOAT64)) AS RadionuclideTotalDose,
  # description:
  # time of day the radiopharmaceutical was administered, as HH:MM:SS with optional fractional seconds
  # (RadiopharmaceuticalStartTime of the first RadiopharmaceuticalInformationSequence item); a
  # string because Parquet has no DICOM time type
  ANY_VALUE(CAST(radiopharmaceutical.RadiopharmaceuticalStartTime AS STRING))
    AS RadiopharmaceuticalStartTime,
  # description:
  # free-text name of the radiopharmaceutical (Radiopharmaceutical of the first
  # RadiopharmaceuticalInformationSequence item), e.g. Fluorodeoxyglucose F^18^; spellings vary
  # between sites, RadionuclideCodeMeaning is coded
  ANY_VALUE(radiopharmaceutical.Radiopharmaceutical) AS Radiopharmaceutical,
  # description:
  # distance in mm between the centres of adjacent rows, i.e. the vertical pixel size (first value
  # of DICOM PixelSpacing)
  ANY_VALUE(pixel_spacing_row) AS PixelSpacing_row_mm,
  # description:
  # distance in mm between the centres of adjacent columns, i.e. the horizontal pixel size (second
  # value of DICOM PixelSpacing)
  ANY_VALUE(pixel_spacing_col) AS PixelSpacing_col_mm,
  # description:
  # height of each image in pixels (DICOM Rows)
  ANY_VALUE(`Rows`) AS `Rows`,
  # description:
  # width of each image in pixels (DICOM Columns)
  ANY_VALUE(`Columns`) AS `Columns`,
  # description:
  # nominal slice thickness in mm (DICOM SliceThickness)
  ANY_VALUE(slice_thickness) AS SliceThickness,
  # description:
  # number of slice positions in each time frame of the acquisition (DICOM NumberOfSlices)
  ANY_VALUE(NumberOfSlices) AS NumberOfSlices,
  # description:
  # number of time frames of a dynamic acquisition (DICOM NumberOfTimeSlices); NULL for a static one
  ANY_VALUE(NumberOfTimeSlices) AS NumberOfTimeSlices
FROM pt_instances
GROUP BY SeriesInstanceUID
ORDER BY SeriesInstanceUID
