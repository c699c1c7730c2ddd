# table-description:
# Links IDC imaging studies to the Genomic Data Commons (GDC): one row per imaging study of a
# collection from a GDC program (TCGA, CPTAC, APOLLO, CCDI, CGCI, CDDP-EAGLE, HCMI) whose patient is
# a case in the GDC, with the GDC case UUID. This query selects the studies; the GDC cases API, asked
# within the GDC projects of each collection, supplies the case UUIDs.
WITH gdc_program_instances AS (
  SELECT
    collection_id,
    PatientID,
    StudyInstanceUID,
    StudyDate,
    StudyDescription,
    Modality
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  -- APOLLO's name may come first or last in a collection id (apollo_5_lscc, varepop_apollo)
  WHERE REGEXP_CONTAINS(collection_id, r'^(tcga|cptac|ccdi|cgci|cddp_eagle|hcmi)_|(^|_)apollo(_|$)')
)

SELECT
  # description:
  # identifier of the IDC collection the study belongs to (e.g. tcga_luad)
  collection_id,
  # description:
  # patient identifier within the collection (DICOM PatientID); in GDC programs it is the case's
  # submitter_id
  PatientID,
  # description:
  # unique identifier of the imaging study (DICOM StudyInstanceUID)
  StudyInstanceUID,
  # description:
  # date the study started (DICOM StudyDate), as YYYY-MM-DD
  CAST(MAX(StudyDate) AS STRING) AS StudyDate,
  # description:
  # institution-generated description of the study (DICOM StudyDescription)
  MAX(StudyDescription) AS StudyDescription,
  # description:
  # M when the study holds slide microscopy (a series of Modality SM), R (radiology) otherwise
  CASE WHEN COUNTIF(Modality = 'SM') > 0 THEN 'M' ELSE 'R' END AS study_type
FROM gdc_program_instances
GROUP BY collection_id, PatientID, StudyInstanceUID
ORDER BY collection_id, PatientID, StudyInstanceUID
