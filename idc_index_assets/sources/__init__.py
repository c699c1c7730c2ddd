"""The IDC source: the BigQuery tables each IDC release publishes (`bigquery-public-data.idc_vN.*`,
`idc_vN_clinical.*`), their names, the columns the indices read with their types (the source
contract) and where a local snapshot keeps them. The lowest layer: it imports nothing of ours."""
