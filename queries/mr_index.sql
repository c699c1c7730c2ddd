# table-description:
# MR acquisition and sequence parameters: one row per series of MR Image Storage instances (SOP
# Class UID 1.2.840.10008.5.1.4.1.1.4). Echo times and diffusion b-values legitimately differ
# between the instances of multi-echo and diffusion-weighted series, so each is the sorted list of
# its distinct values in the series; every other attribute is the same for all instances of a
# series and is taken from one of them. Join with idc_index on SeriesInstanceUID.
WITH mr_instances AS (
  SELECT
    SeriesInstanceUID,
    SAFE_CAST(MagneticFieldStrength AS FLOAT64) AS field_strength,
    ScanningSequence,
    SequenceVariant,
    MRAcquisitionType,
    SAFE_CAST(EchoTime AS FLOAT64) AS echo_time,
    SAFE_CAST(RepetitionTime AS FLOAT64) AS repetition_time,
    SAFE_CAST(EchoTrainLength AS INT64) AS echo_train_length,
    SAFE_CAST(FlipAngle AS FLOAT64) AS flip_angle,
    SAFE_CAST(PixelBandwidth AS FLOAT64) AS pixel_bandwidth,
    SAFE_CAST(ImagingFrequency AS FLOAT64) AS imaging_frequency,
    ImagedNucleus,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64) AS pixel_spacing_row,
    SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64) AS pixel_spacing_col,
    `Rows`,
    `Columns`,
    SAFE_CAST(SliceThickness AS FLOAT64) AS slice_thickness,
    SAFE_CAST(InversionTime AS FLOAT64) AS inversion_time,
    ReceiveCoilName,
    SequenceName,
    DiffusionBValue,
    SAFE_CAST(NumberOfTemporalPositions AS INT64) AS temporal_positions
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.4'
)

SELECT
  # description:
  # unique identifier of the MR series (DICOM SeriesInstanceUID); one row per value, joins with
  # idc_index
  SeriesInstanceUID,
  # description:
  # nominal strength of the main magnetic field in tesla (DICOM MagneticFieldStrength)
  ANY_VALUE(field_strength) AS MagneticFieldStrength,
  # description:
  # type of pulse sequence (DICOM ScanningSequence): SE spin echo, IR inversion recovery, GR gradient
  # recalled, EP echo planar, RM research mode; several values combine, e.g. [SE, IR]
  ANY_VALUE(ScanningSequence) AS ScanningSequence,
  # description:
  # variants of the pulse sequence (DICOM SequenceVariant), e.g. SK segmented k-space, SP spoiled,
  # SS steady state, MP magnetization prepared, OSP oversampling phase, NONE
  ANY_VALUE(SequenceVariant) AS SequenceVariant,
  # description:
  # whether the data were acquired as 2D slices or as a 3D volume (DICOM MRAcquisitionType)
  ANY_VALUE(MRAcquisitionType) AS MRAcquisitionType,
  # description:
  # the distinct echo times in ms of the series' instances, in ascending order (DICOM EchoTime); one
  # value for a single-echo series, one per echo for a multi-echo series
  ARRAY_AGG(DISTINCT echo_time IGNORE NULLS ORDER BY echo_time) AS EchoTime,
  # description:
  # time in ms between successive excitations of the same slice (DICOM RepetitionTime)
  ANY_VALUE(repetition_time) AS RepetitionTime,
  # description:
  # number of echoes acquired per excitation (DICOM EchoTrainLength)
  ANY_VALUE(echo_train_length) AS EchoTrainLength,
  # description:
  # flip angle of the excitation pulse in degrees (DICOM FlipAngle)
  ANY_VALUE(flip_angle) AS FlipAngle,
  # description:
  # receiver bandwidth per pixel in Hz (DICOM PixelBandwidth)
  ANY_VALUE(pixel_bandwidth) AS PixelBandwidth,
  # description:
  # resonance frequency of the imaged nucleus in MHz (DICOM ImagingFrequency); about 42.58 MHz per
  # tesla for hydrogen
  ANY_VALUE(imaging_frequency) AS ImagingFrequency,
  # description:
  # nucleus the scanner was tuned to (DICOM ImagedNucleus), e.g. 1H
  ANY_VALUE(ImagedNucleus) AS ImagedNucleus,
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
  # nominal slice thickness in mm (DICOM SliceThickness); not the distance between slices, see
  # volume_geometry_index.slice_spacing_mm
  ANY_VALUE(slice_thickness) AS SliceThickness,
  # description:
  # time in ms from the inversion pulse to the excitation (DICOM InversionTime); NULL unless the
  # sequence uses inversion recovery
  ANY_VALUE(inversion_time) AS InversionTime,
  # description:
  # name of the receive coil (DICOM ReceiveCoilName)
  ANY_VALUE(ReceiveCoilName) AS ReceiveCoilName,
  # description:
  # the scanner's own name for the pulse sequence (DICOM SequenceName), e.g. *tse2d1_16 or *ep_b0_800
  # on Siemens scanners
  ANY_VALUE(SequenceName) AS SequenceName,
  # description:
  # the distinct diffusion b-values in s/mm² of the series' instances, in ascending order (DICOM
  # DiffusionBValue); empty unless the series is diffusion weighted
  ARRAY_AGG(DISTINCT DiffusionBValue IGNORE NULLS ORDER BY DiffusionBValue) AS DiffusionBValue,
  # description:
  # number of time points of a dynamic acquisition such as DCE-MRI (DICOM NumberOfTemporalPositions);
  # NULL for static series
  ANY_VALUE(temporal_positions) AS NumberOfTemporalPositions
FROM mr_instances
GROUP BY SeriesInstanceUID
ORDER BY SeriesInstanceUID
