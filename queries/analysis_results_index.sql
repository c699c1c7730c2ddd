# table-description:
# The analysis results of the release, one row each: datasets derived from IDC collections (for
# example segmentations, annotations or radiomics features), with what they cover, their DOI,
# license, citation and provenance. idc_index.analysis_result_id refers to this table.
SELECT
  # description:
  # identifier of the analysis result; the key that idc_index.analysis_result_id refers to
  analysis_result_id,
  # description:
  # title of the analysis result
  analysis_result_title,
  # description:
  # Digital Object Identifier of the analysis result
  source_doi AS source_DOI,
  # description:
  # web page with more information about the analysis result
  source_url,
  # description:
  # number of subjects the analysis result covers
  subjects,
  # description:
  # collections the analysis result was derived from, comma-separated
  collections,
  # description:
  # modalities of the objects in the analysis result, comma-separated (e.g. SEG, SR)
  modalities,
  # description:
  # date the analysis result was last updated, as YYYY-MM-DD
  CAST(updated AS STRING) AS updated,
  # description:
  # URL of the license the analysis result is shared under
  license_url,
  # description:
  # full name of that license
  license_long_name,
  # description:
  # short name of that license (e.g. CC BY 4.0)
  license_short_name,
  # description:
  # summary of how the analysis result was produced and what it contains
  description,
  # description:
  # how to cite the analysis result when you use it
  citation,
  # description:
  # who is responsible for the data: who contributed it to IDC, who provided the source material,
  # who de-identified it and who converted it to DICOM
  provenance
FROM `bigquery-public-data.idc_v{{ idc_version }}.analysis_results_metadata`
ORDER BY analysis_result_id
