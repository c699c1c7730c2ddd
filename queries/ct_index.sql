# table-description:
# CT acquisition and reconstruction parameters: one row per series of CT Image Storage instances
# (SOP Class UID 1.2.840.10008.5.1.4.1.1.2). Tube current, exposure and exposure time change from
# slice to slice under dose modulation, so their range over the series is given (minimum and
# maximum); every other attribute is the same for all instances of a series and is taken from one of
# them. Join with idc_index on SeriesInstanceUID for collection, patient and download information.
WITH ct_instances AS (
  SELECT
    SeriesInstanceUID,
    ImageType,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64) AS pixel_spacing_row,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64) AS pixel_spacing_col,
    `Rows`,
    `Columns`,
    SAFE_CAST(SliceThickness AS FLOAT64) AS slice_thickness,
    SAFE_CAST(KVP AS FLOAT64) AS kvp,
    ScanOptions,
    ConvolutionKernel,
    SAFE_CAST(GantryDetectorTilt AS FLOAT64) AS gantry_tilt,
    SAFE_CAST(XRayTubeCurrent AS FLOAT64) AS tube_current,
    FilterType,
    SAFE_CAST(Exposure AS FLOAT64) AS exposure,
    SAFE_CAST(ExposureTime AS FLOAT64) AS exposure_time,
    SAFE_CAST(DataCollectionDiameter AS FLOAT64) AS data_collection_diameter,
    SAFE_CAST(ReconstructionDiameter AS FLOAT64) AS reconstruction_diameter,
    SpiralPitchFactor
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.2'
)

SELECT
  # description:
  # unique identifier of the CT series (DICOM SeriesInstanceUID); one row per value, joins with
  # idc_index
  SeriesInstanceUID,
  # description:
  # DICOM ImageType values of the series, e.g. ORIGINAL, PRIMARY, AXIAL; LOCALIZER marks scout
  # images
  ANY_VALUE(ImageType) AS ImageType,
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
  # nominal thickness in mm of the reconstructed slices (DICOM SliceThickness); not the distance
  # between slices, see volume_geometry_index.slice_spacing_mm
  ANY_VALUE(slice_thickness) AS SliceThickness,
  # description:
  # peak tube voltage in kV (DICOM KVP); NULL when the instances do not record it
  ANY_VALUE(kvp) AS KVP,
  # description:
  # scan options recorded by the scanner (DICOM ScanOptions, e.g. HELICAL MODE, AXIAL MODE); may hold
  # several values, empty when absent
  ANY_VALUE(ScanOptions) AS ScanOptions,
  # description:
  # reconstruction kernel, a vendor-specific name (DICOM ConvolutionKernel, e.g. B30f, STANDARD,
  # LUNG); newer Siemens scanners record two values (kernel and sharpness), empty when absent
  ANY_VALUE(ConvolutionKernel) AS ConvolutionKernel,
  # description:
  # tilt of the gantry in degrees (DICOM GantryDetectorTilt); non-zero tilts the image plane against
  # the table axis
  ANY_VALUE(gantry_tilt) AS GantryDetectorTilt,
  # description:
  # lowest X-ray tube current in mA over the instances of the series (DICOM XRayTubeCurrent)
  MIN(tube_current) AS XRayTubeCurrent_min,
  # description:
  # highest X-ray tube current in mA over the instances of the series; above XRayTubeCurrent_min when
  # dose modulation changed the current during the scan
  MAX(tube_current) AS XRayTubeCurrent_max,
  # description:
  # X-ray beam filter (DICOM FilterType, e.g. BODY FILTER, FLAT, WEDGE)
  ANY_VALUE(FilterType) AS FilterType,
  # description:
  # lowest exposure in mAs over the instances of the series (DICOM Exposure)
  MIN(exposure) AS Exposure_min,
  # description:
  # highest exposure in mAs over the instances of the series (DICOM Exposure)
  MAX(exposure) AS Exposure_max,
  # description:
  # shortest X-ray exposure time in ms over the instances of the series (DICOM ExposureTime)
  MIN(exposure_time) AS ExposureTime_min,
  # description:
  # longest X-ray exposure time in ms over the instances of the series (DICOM ExposureTime)
  MAX(exposure_time) AS ExposureTime_max,
  # description:
  # diameter in mm of the region from which projection data were acquired (DICOM
  # DataCollectionDiameter)
  ANY_VALUE(data_collection_diameter) AS DataCollectionDiameter,
  # description:
  # diameter in mm of the reconstructed field of view (DICOM ReconstructionDiameter)
  ANY_VALUE(reconstruction_diameter) AS ReconstructionDiameter,
  # description:
  # table feed per gantry rotation divided by the total collimation width (DICOM SpiralPitchFactor);
  # NULL for sequential (non-helical) scans
  ANY_VALUE(SpiralPitchFactor) AS SpiralPitchFactor
FROM ct_instances
GROUP BY SeriesInstanceUID
ORDER BY SeriesInstanceUID
