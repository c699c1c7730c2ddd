# table-description:
# The collections of the release, one row each: what the collection is about (cancer types, tumor
# locations, species, subjects), where its data came from (sources, with DOI, license, citation and
# provenance), its status and when it was last updated.
SELECT
  # description:
  # full name of the collection
  collection_name,
  # description:
  # identifier of the collection (lower case, e.g. tcga_luad); the key that idc_index.collection_id
  # refers to
  collection_id,
  # description:
  # cancer types represented in the collection, comma-separated
  cancer_types,
  # description:
  # anatomic locations of the tumors in the collection, comma-separated
  tumor_locations,
  # description:
  # number of subjects (patients or specimens donors) in the collection
  subjects,
  # description:
  # species of the subjects, e.g. Human or Mouse
  species,
  # description:
  # the datasets the collection is made of, one entry per source: its identifier, title, type, DOI
  # and URL, the modalities and image types it contains, its access level, license and citation, and
  # its provenance (who contributed the data to IDC, who provided the source material, who
  # de-identified it and who converted it to DICOM)
  sources,
  # description:
  # other data about the collection available outside IDC (e.g. clinical or genomic data); NULL when
  # there is none
  NULLIF(supporting_data, '') AS supporting_data,
  # description:
  # program or initiative the collection belongs to, e.g. TCGA, CPTAC, NLST or Community
  program_id,
  # description:
  # whether the collection is complete or still receiving data (Completed or Ongoing)
  status,
  # description:
  # date the collection was last updated, as YYYY-MM-DD
  CAST(updated AS STRING) AS updated,
  # description:
  # summary of the collection: how and why the data was collected and what it contains
  description
FROM `bigquery-public-data.idc_v{{ idc_version }}.original_collections_metadata`
ORDER BY collection_id
