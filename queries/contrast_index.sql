# table-description:
# Contrast agents: one row per CT, MR, PT, XA or RF series whose instances record a contrast or
# bolus agent, ingredient or route of administration; series without any of them have no row. Each
# column is the sorted list of the distinct values over the instances of the series, which may
# spell one agent in several ways. Join with idc_index on SeriesInstanceUID.
WITH contrast_by_series AS (
  -- ARRAY_AGG over nothing but NULLs is a NULL array, not an empty one
  SELECT
    SeriesInstanceUID,
    IFNULL(
      ARRAY_AGG(DISTINCT ContrastBolusAgent IGNORE NULLS ORDER BY ContrastBolusAgent),
      ARRAY<STRING>[]
    ) AS agents,
    IFNULL(
      ARRAY_AGG(DISTINCT ContrastBolusIngredient IGNORE NULLS ORDER BY ContrastBolusIngredient),
      ARRAY<STRING>[]
    ) AS ingredients,
    IFNULL(
      ARRAY_AGG(DISTINCT ContrastBolusRoute IGNORE NULLS ORDER BY ContrastBolusRoute),
      ARRAY<STRING>[]
    ) AS routes
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE Modality IN ('CT', 'MR', 'PT', 'XA', 'RF')
  GROUP BY SeriesInstanceUID
)

SELECT
  # description:
  # unique identifier of the series (DICOM SeriesInstanceUID); one row per value, joins with
  # idc_index
  SeriesInstanceUID,
  # description:
  # the distinct contrast or bolus agents named by the series' instances, sorted (DICOM
  # ContrastBolusAgent, free text such as OMNIPAQUE 350); empty when none is named
  agents AS ContrastBolusAgent,
  # description:
  # the distinct active ingredients of the agent, sorted (DICOM ContrastBolusIngredient, e.g.
  # IODINE, GADOLINIUM); empty when not recorded
  ingredients AS ContrastBolusIngredient,
  # description:
  # the distinct routes of administration, sorted (DICOM ContrastBolusRoute, e.g. IV, ORAL); empty
  # when not recorded
  routes AS ContrastBolusRoute
FROM contrast_by_series
WHERE ARRAY_LENGTH(agents) + ARRAY_LENGTH(ingredients) + ARRAY_LENGTH(routes) > 0
ORDER BY SeriesInstanceUID
