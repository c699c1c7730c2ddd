# table-description:
# The main IDC index: one row per DICOM series in the release, with the collection, patient, study
# and series attributes most searches need, the release history of the series, and where to download
# it from (AWS S3 bucket, URL and size).
WITH series_history AS (
  SELECT
    SeriesInstanceUID,
    MIN(series_init_idc_version) AS series_init_idc_version,
    MAX(series_revised_idc_version) AS series_revised_idc_version
  FROM `bigquery-public-data.idc_v{{ idc_version }}.auxiliary_metadata`
  GROUP BY SeriesInstanceUID
),

-- Per-series values computed apart from the instance rows, so the instance-level aggregation
-- below carries no instance-level join and no DISTINCT aggregate: the SOPInstanceUID join reads
-- two narrow columns per side, and the comma-joined encodings are aggregated over the distinct
-- (series, encoding) rows only.
curated_body_parts AS (
  SELECT
    dicom_all.SeriesInstanceUID,
    ANY_VALUE(curated.BodyPartExamined) AS BodyPartExamined
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all` AS dicom_all
  INNER JOIN `bigquery-public-data.idc_v{{ idc_version }}.dicom_metadata_curated` AS curated
    ON dicom_all.SOPInstanceUID = curated.SOPInstanceUID
  -- ANY_VALUE skips NULLs anyway
  WHERE curated.BodyPartExamined IS NOT NULL
  GROUP BY dicom_all.SeriesInstanceUID
),

encodings AS (
  SELECT DISTINCT
    SeriesInstanceUID,
    TransferSyntaxUID,
    PhotometricInterpretation,
    PixelRepresentation
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
),

series_encodings AS (
  SELECT
    SeriesInstanceUID,
    STRING_AGG(DISTINCT TransferSyntaxUID, ',' ORDER BY TransferSyntaxUID) AS TransferSyntaxUID,
    STRING_AGG(DISTINCT transfer_syntax_name, ',' ORDER BY transfer_syntax_name)
      AS transfer_syntax_name,
    STRING_AGG(DISTINCT PhotometricInterpretation, ',' ORDER BY PhotometricInterpretation)
      AS PhotometricInterpretation,
    STRING_AGG(
      DISTINCT CAST(PixelRepresentation AS STRING), ','
      ORDER BY CAST(PixelRepresentation AS STRING)
    ) AS PixelRepresentation
  FROM (
    SELECT
      *,
      CASE TransferSyntaxUID
        WHEN '1.2.840.10008.1.2' THEN 'Implicit VR Little Endian'
        WHEN '1.2.840.10008.1.2.1' THEN 'Explicit VR Little Endian'
        WHEN '1.2.840.10008.1.2.1.99' THEN 'Deflated Explicit VR Little Endian'
        WHEN '1.2.840.10008.1.2.2' THEN 'Explicit VR Big Endian'
        WHEN '1.2.840.10008.1.2.4.50' THEN 'JPEG Baseline'
        WHEN '1.2.840.10008.1.2.4.51' THEN 'JPEG Extended'
        WHEN '1.2.840.10008.1.2.4.57' THEN 'JPEG Lossless (Process 14)'
        WHEN '1.2.840.10008.1.2.4.70' THEN 'JPEG Lossless'
        WHEN '1.2.840.10008.1.2.4.80' THEN 'JPEG-LS Lossless'
        WHEN '1.2.840.10008.1.2.4.81' THEN 'JPEG-LS Near-Lossless'
        WHEN '1.2.840.10008.1.2.4.90' THEN 'JPEG 2000 Lossless'
        WHEN '1.2.840.10008.1.2.4.91' THEN 'JPEG 2000'
        WHEN '1.2.840.10008.1.2.4.201' THEN 'HTJ2K Lossless'
        WHEN '1.2.840.10008.1.2.4.202' THEN 'HTJ2K Lossless RPCL'
        WHEN '1.2.840.10008.1.2.4.203' THEN 'HTJ2K'
        WHEN '1.2.840.10008.1.2.5' THEN 'RLE Lossless'
        ELSE ERROR(CONCAT('idc_index: no name for TransferSyntaxUID ', TransferSyntaxUID))
      END AS transfer_syntax_name
    FROM encodings
  )
  GROUP BY SeriesInstanceUID
),

instances AS (
  SELECT
    dicom_all.*,
    curated_body_parts.BodyPartExamined AS curated_BodyPartExamined,
    series_encodings.TransferSyntaxUID AS series_TransferSyntaxUID,
    series_encodings.transfer_syntax_name AS series_transfer_syntax_name,
    series_encodings.PhotometricInterpretation AS series_PhotometricInterpretation,
    series_encodings.PixelRepresentation AS series_PixelRepresentation
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all` AS dicom_all
  LEFT JOIN curated_body_parts
    ON dicom_all.SeriesInstanceUID = curated_body_parts.SeriesInstanceUID
  LEFT JOIN series_encodings
    ON dicom_all.SeriesInstanceUID = series_encodings.SeriesInstanceUID
)

SELECT
  # description:
  # identifier of the collection the series belongs to (lower case, e.g. tcga_luad); join with
  # collections_index on collection_id
  ANY_VALUE(instances.collection_id) AS collection_id,
  # description:
  # identifier of the analysis result the series belongs to (see analysis_results_index); NULL for
  # original image data. Analysis results keep the collection_id of the collection they were derived
  # from, so use analysis_result_id IS NULL to select original data only
  ANY_VALUE(instances.analysis_result_id) AS analysis_result_id,
  # description:
  # patient identifier within the collection (DICOM PatientID)
  ANY_VALUE(instances.PatientID) AS PatientID,
  # description:
  # unique identifier of the series (DICOM SeriesInstanceUID); one row per value
  instances.SeriesInstanceUID,
  # description:
  # unique identifier of the study the series is part of (DICOM StudyInstanceUID)
  ANY_VALUE(instances.StudyInstanceUID) AS StudyInstanceUID,
  # description:
  # Digital Object Identifier of the dataset the series was published in; resolve it to learn how
  # the data was produced and how to cite it
  ANY_VALUE(instances.Source_DOI) AS source_DOI,
  # description:
  # age of the patient when imaged, as DICOM encodes it (e.g. 065Y); NULL when absent or empty
  ANY_VALUE(NULLIF(instances.PatientAge, '')) AS PatientAge,
  # description:
  # sex of the patient (DICOM PatientSex: M, F or O)
  ANY_VALUE(instances.PatientSex) AS PatientSex,
  # description:
  # date of the study, shifted by de-identification, as YYYY-MM-DD (DICOM StudyDate)
  ANY_VALUE(CAST(instances.StudyDate AS STRING)) AS StudyDate,
  # description:
  # free-text description of the study (DICOM StudyDescription)
  ANY_VALUE(instances.StudyDescription) AS StudyDescription,
  # description:
  # body part examined, as curated by IDC (DICOM BodyPartExamined); not used for slide microscopy.
  # For derived objects such as SEG or RTSTRUCT it describes the source images; what was segmented
  # is in seg_index and rtstruct_index
  ANY_VALUE(instances.curated_BodyPartExamined) AS BodyPartExamined,
  # description:
  # modality of the series (DICOM Modality, e.g. CT, MR, SM, SEG)
  ANY_VALUE(instances.Modality) AS Modality,
  # description:
  # SOP Class UID of the objects in the series (DICOM SOPClassUID); tells object types apart more
  # precisely than Modality
  ANY_VALUE(instances.SOPClassUID) AS SOPClassUID,
  # description:
  # name of the SOP Class, e.g. "CT Image Storage" or "Segmentation Storage"; derived from SOPClassUID
  ANY_VALUE(
    CASE instances.SOPClassUID
      WHEN '1.2.840.10008.5.1.4.1.1.1' THEN 'Computed Radiography Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.1.1' THEN 'Digital X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.1.1.1' THEN 'Digital X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.1.2' THEN 'Digital Mammography X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.1.2.1' THEN 'Digital Mammography X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.2' THEN 'CT Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.2.1' THEN 'Enhanced CT Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.3.1' THEN 'Ultrasound Multi-frame Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.4' THEN 'MR Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.4.1' THEN 'Enhanced MR Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.6.1' THEN 'Ultrasound Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.7' THEN 'Secondary Capture Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.7.2' THEN 'Multi-frame Grayscale Byte Secondary Capture Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.11.1' THEN 'Grayscale Softcopy Presentation State Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.11.8' THEN 'Advanced Blending Presentation State Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.12.1' THEN 'X-Ray Angiographic Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.12.2' THEN 'X-Ray Radiofluoroscopic Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.3' THEN 'Breast Tomosynthesis Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.4' THEN 'Breast Projection X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.5' THEN 'Breast Projection X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.20' THEN 'Nuclear Medicine Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.30' THEN 'Parametric Map Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66' THEN 'Raw Data Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.1' THEN 'Spatial Registration Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.4' THEN 'Segmentation Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.7' THEN 'Label Map Segmentation Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.67' THEN 'Real World Value Mapping Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.77.1.6' THEN 'VL Whole Slide Microscopy Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.11' THEN 'Basic Text SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.22' THEN 'Enhanced SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.33' THEN 'Comprehensive SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.34' THEN 'Comprehensive 3D SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.59' THEN 'Key Object Selection Document Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.67' THEN 'X-Ray Radiation Dose SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.71' THEN 'Acquisition Context SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.91.1' THEN 'Microscopy Bulk Simple Annotations Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.104.3' THEN 'Encapsulated STL Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.128' THEN 'Positron Emission Tomography Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.2' THEN 'RT Dose Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.3' THEN 'RT Structure Set Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.5' THEN 'RT Plan Storage'
      ELSE ERROR(CONCAT('idc_index: no name for SOPClassUID ', instances.SOPClassUID))
    END
  ) AS sop_class_name,
  # description:
  # Transfer Syntax UID of the stored instances (DICOM TransferSyntaxUID); when the instances of a
  # series use different encodings (common for slide microscopy), the distinct values, sorted and
  # joined with commas
  ANY_VALUE(instances.series_TransferSyntaxUID) AS TransferSyntaxUID,
  # description:
  # short name of the transfer syntax, e.g. "JPEG 2000" or "Explicit VR Little Endian"; comma-joined like
  # TransferSyntaxUID when the series mixes encodings; derived from TransferSyntaxUID
  ANY_VALUE(instances.series_transfer_syntax_name) AS transfer_syntax_name,
  # description:
  # how pixel values are to be interpreted (DICOM PhotometricInterpretation, e.g. MONOCHROME2, RGB,
  # YBR_FULL_422); NULL for objects without pixel data such as SEG, SR or RTSTRUCT; the distinct
  # values comma-joined when the instances disagree
  ANY_VALUE(instances.series_PhotometricInterpretation) AS PhotometricInterpretation,
  # description:
  # whether pixel samples are unsigned ("0") or two's complement signed ("1") integers (DICOM
  # PixelRepresentation); NULL for objects without pixel data; comma-joined when instances disagree
  ANY_VALUE(instances.series_PixelRepresentation) AS PixelRepresentation,
  # description:
  # manufacturer of the equipment that produced the series (DICOM Manufacturer)
  ANY_VALUE(instances.Manufacturer) AS Manufacturer,
  # description:
  # manufacturer's model name of that equipment (DICOM ManufacturerModelName)
  ANY_VALUE(instances.ManufacturerModelName) AS ManufacturerModelName,
  # description:
  # date of the series, shifted by de-identification, as YYYY-MM-DD (DICOM SeriesDate)
  ANY_VALUE(CAST(instances.SeriesDate AS STRING)) AS SeriesDate,
  # description:
  # free-text description of the series (DICOM SeriesDescription); NULL when empty
  ANY_VALUE(NULLIF(instances.SeriesDescription, '')) AS SeriesDescription,
  # description:
  # number of the series within its study (DICOM SeriesNumber, an integer string)
  ANY_VALUE(instances.SeriesNumber) AS SeriesNumber,
  # description:
  # number of DICOM instances (files) in the series
  COUNT(instances.SOPInstanceUID) AS instanceCount,
  # description:
  # short name of the license the series is shared under (e.g. CC BY 4.0)
  ANY_VALUE(instances.license_short_name) AS license_short_name,
  # description:
  # IDC release (an integer, e.g. 1 for v1) in which the series first appeared
  ANY_VALUE(series_history.series_init_idc_version) AS series_init_idc_version,
  # description:
  # IDC release (an integer) in which the current content of the series appeared, i.e. its latest
  # revision
  ANY_VALUE(series_history.series_revised_idc_version) AS series_revised_idc_version,
  # description:
  # AWS S3 bucket that holds the files of the series
  ANY_VALUE(instances.aws_bucket) AS aws_bucket,
  # description:
  # IDC identifier of this version of the series; the folder that holds its files in the bucket
  ANY_VALUE(instances.crdc_series_uuid) AS crdc_series_uuid,
  # description:
  # S3 URL matching every file of the series (one file per instance), for bulk download with
  # s5cmd or the AWS CLI
  ANY_VALUE(CONCAT(instances.series_aws_url, '*')) AS series_aws_url,
  # description:
  # total size of the files of the series, in megabytes (10^6 bytes)
  SUM(CAST(instances.instance_size AS FLOAT64)) / 1000000 AS series_size_MB
FROM instances
LEFT JOIN series_history
  ON instances.SeriesInstanceUID = series_history.SeriesInstanceUID
GROUP BY instances.SeriesInstanceUID
ORDER BY collection_id, PatientID, StudyInstanceUID, SeriesInstanceUID
