# table-description:
# Whether a series of single-frame CT, MR or PET images is a regularly spaced 3D volume, and where
# that volume lies: one row per series with CT, MR or PET Image Storage instances (localizer and MIP
# series excluded). Every slice is placed on the slice normal (the cross product of the row and
# column direction cosines of ImageOrientationPatient) by projecting its ImagePositionPatient onto
# it, which works the same for axial, oblique and gantry-tilted series. A series is a regular
# volume when all its slices share one orthogonal orientation, pixel spacing and image size, lie
# on one line (no in-plane shift between slices, within 0.1 mm), occupy distinct positions and are
# equally spaced (every gap within 1% of the mean gap). For regular volumes the origin, orientation
# and slice spacing are given; in-plane pixel spacing and image size are in ct_index, mr_index and
# pt_index. Series that fail a check may still be usable after resampling.
WITH excluded_series AS (
  -- scouts and projections are not part of a volume (no NULL here: NOT IN would exclude all)
  SELECT DISTINCT SeriesInstanceUID
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`, UNNEST(ImageType) AS image_type
  WHERE (image_type = 'LOCALIZER' OR image_type LIKE '%MIP%') AND SeriesInstanceUID IS NOT NULL
),

slices AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(0)] AS FLOAT64) AS x,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(1)] AS FLOAT64) AS y,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(2)] AS FLOAT64) AS z,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(0)] AS FLOAT64) AS row_x,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(1)] AS FLOAT64) AS row_y,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(2)] AS FLOAT64) AS row_z,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(3)] AS FLOAT64) AS col_x,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(4)] AS FLOAT64) AS col_y,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(5)] AS FLOAT64) AS col_z,
    ARRAY_TO_STRING(ImageOrientationPatient, '\\') AS orientation_text,
    ARRAY_TO_STRING(PixelSpacing, '\\') AS pixel_spacing_text,
    `Rows` AS image_rows,
    `Columns` AS image_columns
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
  WHERE
    SOPClassUID IN (
      '1.2.840.10008.5.1.4.1.1.2',  -- CT Image Storage
      '1.2.840.10008.5.1.4.1.1.4',  -- MR Image Storage
      '1.2.840.10008.5.1.4.1.1.128'  -- Positron Emission Tomography Image Storage
    )
    AND SeriesInstanceUID NOT IN (SELECT SeriesInstanceUID FROM excluded_series)
),

slice_normals AS (
  SELECT
    *,
    row_y * col_z - row_z * col_y AS normal_x,
    row_z * col_x - row_x * col_z AS normal_y,
    row_x * col_y - row_y * col_x AS normal_z
  FROM slices
),

projections AS (
  SELECT
    *,
    SQRT(normal_x * normal_x + normal_y * normal_y + normal_z * normal_z) AS normal_length,
    x * normal_x + y * normal_y + z * normal_z AS slice_position,
    x * row_x + y * row_y + z * row_z AS row_offset,
    x * col_x + y * col_y + z * col_z AS col_offset
  FROM slice_normals
),

ordered_slices AS (
  SELECT
    *,
    -- ties broken by SOPInstanceUID so that the first slice is always the same instance
    ROW_NUMBER() OVER (
      PARTITION BY SeriesInstanceUID ORDER BY slice_position, SOPInstanceUID
    ) AS slice_rank,
    LEAD(slice_position) OVER (
      PARTITION BY SeriesInstanceUID ORDER BY slice_position, SOPInstanceUID
    ) - slice_position AS gap_to_next
  FROM projections
),

series_checks AS (
  SELECT
    SeriesInstanceUID,
    COUNT(DISTINCT orientation_text) = 1 AND COUNTIF(orientation_text IS NULL) = 0
      AS single_orientation,
    COUNTIF(normal_length IS NULL OR ABS(normal_length - 1) > 0.01) = 0 AS orthogonal_orientation,
    COUNT(DISTINCT slice_position) = COUNT(*) AS unique_slice_positions,
    MAX(row_offset) - MIN(row_offset) <= 0.1 AS consistent_in_plane_row,
    MAX(col_offset) - MIN(col_offset) <= 0.1 AS consistent_in_plane_col,
    COUNT(DISTINCT pixel_spacing_text) = 1 AND COUNTIF(pixel_spacing_text IS NULL) = 0
      AS consistent_pixel_spacing,
    COUNT(DISTINCT image_rows) = 1 AND COUNT(DISTINCT image_columns) = 1
      AND COUNTIF(image_rows IS NULL OR image_columns IS NULL) = 0 AS consistent_image_dimensions,
    -- the mean gap, from the first to the last slice
    SAFE_DIVIDE(MAX(slice_position) - MIN(slice_position), COUNT(*) - 1) AS mean_gap,
    MAX(gap_to_next) AS largest_gap,
    MIN(gap_to_next) AS smallest_gap,
    -- the first slice's geometry, in the same pass: one row per series has slice_rank 1 (no join
    -- back to the slices, which would keep every slice of every series until the join)
    MAX(IF(slice_rank = 1, x, NULL)) AS x,
    MAX(IF(slice_rank = 1, y, NULL)) AS y,
    MAX(IF(slice_rank = 1, z, NULL)) AS z,
    MAX(IF(slice_rank = 1, row_x, NULL)) AS row_x,
    MAX(IF(slice_rank = 1, row_y, NULL)) AS row_y,
    MAX(IF(slice_rank = 1, row_z, NULL)) AS row_z,
    MAX(IF(slice_rank = 1, col_x, NULL)) AS col_x,
    MAX(IF(slice_rank = 1, col_y, NULL)) AS col_y,
    MAX(IF(slice_rank = 1, col_z, NULL)) AS col_z,
    -- cosine of the angle between the slice normal and the nearest patient axis (at most 1)
    MAX(
      IF(
        slice_rank = 1,
        LEAST(
          1,
          SAFE_DIVIDE(
            GREATEST(ABS(normal_x), ABS(normal_y), ABS(normal_z)),
            normal_length
          )
        ),
        NULL
      )
    ) AS axis_cosine
  FROM ordered_slices
  GROUP BY SeriesInstanceUID
),

series_geometry AS (
  SELECT
    *,
    -- a single slice, or slices that all share one position, have no spacing to be uniform
    COALESCE(
      mean_gap > 0
      AND largest_gap - mean_gap <= 0.01 * mean_gap
      AND mean_gap - smallest_gap <= 0.01 * mean_gap,
      FALSE
    ) AS uniform_slice_spacing
  FROM series_checks
),

series_verdict AS (
  SELECT
    *,
    COALESCE(
      single_orientation
      AND orthogonal_orientation
      AND unique_slice_positions
      AND consistent_in_plane_row
      AND consistent_in_plane_col
      AND consistent_pixel_spacing
      AND consistent_image_dimensions
      AND uniform_slice_spacing,
      FALSE
    ) AS regular_volume
  FROM series_geometry
)

SELECT
  # description:
  # unique identifier of the series (DICOM SeriesInstanceUID); one row per CT, MR or PET series,
  # joins with idc_index and with ct_index, mr_index or pt_index
  SeriesInstanceUID,
  # description:
  # TRUE when every instance has the same ImageOrientationPatient
  single_orientation,
  # description:
  # TRUE when, for every instance, the row and column direction cosines are perpendicular unit
  # vectors: their cross product has length 1 within 0.01
  orthogonal_orientation,
  # description:
  # TRUE when no two instances lie at the same position along the slice normal (no repeated or
  # duplicate slices, as in multi-phase or multi-frame series stored together)
  unique_slice_positions,
  # description:
  # TRUE when the instances do not shift along the row direction: the projections of their
  # ImagePositionPatient onto it span at most 0.1 mm
  consistent_in_plane_row,
  # description:
  # TRUE when the instances do not shift along the column direction: the projections of their
  # ImagePositionPatient onto it span at most 0.1 mm (fails e.g. for gantry-tilted CT)
  consistent_in_plane_col,
  # description:
  # TRUE when every instance has the same PixelSpacing
  consistent_pixel_spacing,
  # description:
  # TRUE when every instance has the same Rows and the same Columns
  consistent_image_dimensions,
  # description:
  # TRUE when the gaps between neighbouring slice positions all lie within 1% of the mean gap
  # (first to last position divided by the number of slices minus one); FALSE for a single slice or
  # when all slices share one position
  uniform_slice_spacing,
  # description:
  # angle in degrees between the slice normal of the first slice and the patient axis (x, y or z)
  # nearest to it: 0 for axial, sagittal and coronal images, larger for oblique acquisitions and
  # gantry tilt
  ROUND(ACOS(axis_cosine) * 180 / ACOS(-1), 2) AS obliquity_degrees,
  # description:
  # TRUE when every check above passes: the instances, sorted by position along the slice normal,
  # stack into a 3D array of equally spaced slices without resampling
  regular_volume AS regularly_spaced_3d_volume,
  # description:
  # ImagePositionPatient (x, y, z in mm) of the first slice, the one lowest along the slice normal:
  # the centre of the volume's first voxel; empty unless regularly_spaced_3d_volume
  CASE WHEN regular_volume THEN [x, y, z] ELSE ARRAY<FLOAT64>[] END AS origin_patient,
  # description:
  # ImageOrientationPatient of the first slice: direction cosines of the rows (first three) and of
  # the columns (last three); the slice normal is their cross product; empty unless
  # regularly_spaced_3d_volume
  CASE
    WHEN regular_volume THEN [row_x, row_y, row_z, col_x, col_y, col_z]
    ELSE ARRAY<FLOAT64>[]
  END AS ImageOrientationPatient,
  # description:
  # distance in mm between neighbouring slices along the slice normal (the mean gap); differs from
  # SliceThickness when slices overlap or leave gaps; NULL unless regularly_spaced_3d_volume
  CASE WHEN regular_volume THEN mean_gap END AS slice_spacing_mm
FROM series_verdict
ORDER BY SeriesInstanceUID
