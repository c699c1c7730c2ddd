# table-description:
# A data dictionary of the tabular (mostly clinical) data that accompanies IDC collections: one row
# per column of each such table, for each collection the table belongs to, with the column's human
# readable label and, for coded columns, the codes it takes and what they mean. The tables
# themselves live in the release's clinical BigQuery dataset; idc-index fetches one with
# `get_clinical_table()`.
SELECT
  # description:
  # identifier of the collection the table accompanies (e.g. tcga_luad)
  collection_id,
  # description:
  # fully qualified name of the table holding the column (project.dataset.table)
  table_name,
  # description:
  # name of the table alone, without its project and dataset
  REGEXP_EXTRACT(table_name, r'[^.]+$') AS short_table_name,
  # description:
  # name of the column within the table
  `column`,
  # description:
  # readable name of the column as the data submitters labelled it; NULL when there is none
  NULLIF(column_label, '') AS column_label,
  # description:
  # for a coded column, each code it may hold (option_code) with its meaning
  # (option_description); empty for free-form columns
  `values`
FROM `bigquery-public-data.idc_v{{ idc_version }}_clinical.column_metadata`
ORDER BY collection_id, table_name, `column`
