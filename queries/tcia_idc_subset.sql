# table-description:
# The columns of idc_index that file-based download tools need to lay series out as
# collection/patient/study/series folders: one row per series of idc_index, in the same order.
SELECT
  # description:
  # identifier of the collection the series belongs to
  collection_id,
  # description:
  # patient identifier within the collection (DICOM PatientID)
  PatientID,
  # description:
  # unique identifier of the study the series is part of (DICOM StudyInstanceUID)
  StudyInstanceUID,
  # description:
  # unique identifier of the series (DICOM SeriesInstanceUID)
  SeriesInstanceUID,
  # description:
  # total size of the files of the series, in megabytes (10^6 bytes)
  series_size_MB,
  # description:
  # S3 URL matching every file of the series, for bulk download
  series_aws_url
FROM idc_index
ORDER BY collection_id, PatientID, StudyInstanceUID, SeriesInstanceUID
