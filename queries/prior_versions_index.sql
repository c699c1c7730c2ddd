# table-description:
# Earlier versions of IDC series: series content that a past release served and this release no
# longer serves, because the series was revised (its SeriesInstanceUID is still in idc_index, with a
# new crdc_series_uuid) or removed (its SeriesInstanceUID is gone). Each row is one version of a
# series (crdc_series_uuid) in one storage bucket over an unbroken range of releases; a version that
# moved between buckets has one row per bucket. Use it to find and download series named in
# manifests made from earlier releases; to see what a release added or revised, use
# series_init_idc_version and series_revised_idc_version in idc_index instead.
WITH served AS (
{%- for version in range(1, idc_version + 1) %}
  SELECT
    {{ version }} AS idc_version,
    collection_id,
    PatientID,
    SeriesInstanceUID,
    StudyInstanceUID,
    Modality,
    REGEXP_EXTRACT(gcs_url, r'^gs://([^/]+)/') AS gcs_bucket,
    crdc_series_uuid,
    SUM(instance_size) AS series_bytes
  FROM `bigquery-public-data.idc_v{{ version }}.dicom_all`
  GROUP BY
    collection_id,
    PatientID,
    SeriesInstanceUID,
    StudyInstanceUID,
    Modality,
    gcs_bucket,
    crdc_series_uuid
  {%- if not loop.last %}
  UNION ALL
  {%- endif %}
{%- endfor %}
),

no_longer_served AS (
  SELECT
    *,
    -- consecutive releases of one version in one bucket share this value (gaps and islands)
    idc_version - ROW_NUMBER() OVER (
      PARTITION BY
        crdc_series_uuid,
        gcs_bucket,
        collection_id,
        PatientID,
        SeriesInstanceUID,
        StudyInstanceUID,
        Modality
      ORDER BY idc_version
    ) AS release_run
  FROM served
  WHERE
    crdc_series_uuid NOT IN (
      SELECT crdc_series_uuid FROM served WHERE idc_version = {{ idc_version }}
    )
    -- the first public bucket predates the crdc layout; its objects are not downloadable as series
    AND gcs_bucket != 'idc-open-idc'
),

version_ranges AS (
  SELECT
    collection_id,
    PatientID,
    SeriesInstanceUID,
    StudyInstanceUID,
    Modality,
    gcs_bucket,
    crdc_series_uuid,
    MAX(series_bytes) AS series_bytes,
    MIN(idc_version) AS min_idc_version,
    MAX(idc_version) AS max_idc_version
  FROM no_longer_served
  GROUP BY
    collection_id,
    PatientID,
    SeriesInstanceUID,
    StudyInstanceUID,
    Modality,
    gcs_bucket,
    crdc_series_uuid,
    release_run
),

with_aws_bucket AS (
  SELECT
    *,
    CASE gcs_bucket
      WHEN 'idc-open-data' THEN 'idc-open-data'
      WHEN 'public-datasets-idc' THEN 'idc-open-data'
      WHEN 'idc-open-idc1' THEN 'idc-open-data-two'
      WHEN 'idc-open-cr' THEN 'idc-open-data-cr'
      ELSE ERROR(CONCAT('prior_versions_index: no AWS bucket for GCS bucket ', gcs_bucket))
    END AS aws_bucket
  FROM version_ranges
)

SELECT
  # description:
  # identifier of the collection the series belonged to
  collection_id,
  # description:
  # patient identifier within the collection (DICOM PatientID)
  PatientID,
  # description:
  # unique identifier of the series (DICOM SeriesInstanceUID); it stays the same across versions, so
  # a value that is also in idc_index marks a revised series and one that is not a removed series
  SeriesInstanceUID,
  # description:
  # unique identifier of the study the series is part of (DICOM StudyInstanceUID)
  StudyInstanceUID,
  # description:
  # modality of the series (DICOM Modality)
  Modality,
  # description:
  # Google Cloud Storage bucket that served this version of the series from min_idc_version to
  # max_idc_version
  gcs_bucket,
  # description:
  # IDC identifier of this version of the series; it changes whenever the content changes, so it
  # never equals a crdc_series_uuid of idc_index; several rows share it when the version moved
  # between buckets
  crdc_series_uuid,
  # description:
  # total size of the files of this version of the series, in megabytes (10^6 bytes)
  series_bytes / 1000000 AS series_size_MB,
  # description:
  # S3 URL matching every file of this version of the series, for bulk download
  CONCAT('s3://', aws_bucket, '/', crdc_series_uuid, '/*') AS series_aws_url,
  # description:
  # AWS S3 bucket that holds the files of this version of the series
  aws_bucket,
  # description:
  # first IDC release (an integer) of this row's range
  min_idc_version,
  # description:
  # last IDC release (an integer) of this row's range; the next release revised or removed the
  # series, or moved this version to another bucket
  max_idc_version
FROM with_aws_bucket
ORDER BY collection_id, min_idc_version, Modality, SeriesInstanceUID, crdc_series_uuid, gcs_bucket
