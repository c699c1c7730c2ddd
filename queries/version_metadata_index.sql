# table-description:
# The IDC releases up to this one, one row each, with when the release was created; use it to put
# dates on the release numbers found in other indices (series_init_idc_version, min_idc_version...).
SELECT
  # description:
  # IDC release number (an integer, e.g. 25 for v25)
  idc_version,
  # description:
  # when the release was created (a timestamp string)
  version_timestamp
FROM `bigquery-public-data.idc_v{{ idc_version }}.version_metadata`
ORDER BY idc_version
