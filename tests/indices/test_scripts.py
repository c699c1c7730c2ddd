"""A query file may be a BigQuery script: DECLARE, SET, EXECUTE IMMEDIATE, CREATE TEMP TABLE and a
final SELECT whose rows are the index (https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language).
prior_versions_index written as such a script gives, on the sample release, the rows of its
Jinja query."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.base import EngineError
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import QueryDefinitionError, load_query
from idc_index_assets.indices.registry import INDICES
from idc_index_assets.indices.store import ArtifactStore
from tests.conftest import SAMPLE_VERSIONS

PRIOR_VERSIONS = next(spec for spec in INDICES if spec.name == "prior_versions_index")

# The Jinja query's header and final SELECT, with the per-release UNION ALL built at run time.
PRIOR_VERSIONS_SCRIPT = '''# table-description:
# Earlier versions of IDC series, from a BigQuery script.
DECLARE newest_version INT64 DEFAULT {{ idc_version }};
DECLARE served_sql STRING;

-- one SELECT per release, glued into a UNION ALL
SET served_sql = (
  SELECT
    STRING_AGG(
      FORMAT("""
        SELECT
          %d AS idc_version,
          collection_id,
          PatientID,
          SeriesInstanceUID,
          StudyInstanceUID,
          Modality,
          REGEXP_EXTRACT(gcs_url, r'^gs://([^/]+)/') AS gcs_bucket,
          crdc_series_uuid,
          SUM(instance_size) AS series_bytes
        FROM `bigquery-public-data.idc_v%t.dicom_all`
        GROUP BY
          collection_id, PatientID, SeriesInstanceUID, StudyInstanceUID, Modality, gcs_bucket,
          crdc_series_uuid""", version, version),
      " UNION ALL " ORDER BY version
    )
  FROM UNNEST(GENERATE_ARRAY(1, newest_version)) AS version
);

EXECUTE IMMEDIATE "CREATE TEMP TABLE served AS " || served_sql;

CREATE TEMP TABLE version_ranges AS
WITH no_longer_served AS (
  SELECT
    *,
    idc_version - ROW_NUMBER() OVER (
      PARTITION BY
        crdc_series_uuid, gcs_bucket, collection_id, PatientID, SeriesInstanceUID,
        StudyInstanceUID, Modality
      ORDER BY idc_version
    ) AS release_run
  FROM served
  WHERE
    crdc_series_uuid NOT IN (
      SELECT crdc_series_uuid FROM served WHERE idc_version = newest_version
    )
    AND gcs_bucket != 'idc-open-idc'
)
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
  MAX(idc_version) AS max_idc_version,
  CASE gcs_bucket
    WHEN 'idc-open-data' THEN 'idc-open-data'
    WHEN 'public-datasets-idc' THEN 'idc-open-data'
    WHEN 'idc-open-idc1' THEN 'idc-open-data-two'
    WHEN 'idc-open-cr' THEN 'idc-open-data-cr'
    ELSE ERROR(CONCAT('prior_versions_index: no AWS bucket for GCS bucket ', gcs_bucket))
  END AS aws_bucket
FROM no_longer_served
GROUP BY
  collection_id, PatientID, SeriesInstanceUID, StudyInstanceUID, Modality, gcs_bucket,
  crdc_series_uuid, release_run;

SELECT
  # description:
  # identifier of the collection the series belonged to
  collection_id,
  # description:
  # patient identifier within the collection
  PatientID,
  # description:
  # unique identifier of the series
  SeriesInstanceUID,
  # description:
  # unique identifier of the study
  StudyInstanceUID,
  # description:
  # modality of the series
  Modality,
  # description:
  # Google Cloud Storage bucket of this version
  gcs_bucket,
  # description:
  # IDC identifier of this version of the series
  crdc_series_uuid,
  # description:
  # total size of the files of this version, in megabytes
  series_bytes / 1000000 AS series_size_MB,
  # description:
  # S3 URL matching every file of this version
  CONCAT('s3://', aws_bucket, '/', crdc_series_uuid, '/*') AS series_aws_url,
  # description:
  # AWS S3 bucket of this version
  aws_bucket,
  # description:
  # first IDC release of this row's range
  min_idc_version,
  # description:
  # last IDC release of this row's range
  max_idc_version
FROM version_ranges
ORDER BY collection_id, min_idc_version, Modality, SeriesInstanceUID, crdc_series_uuid, gcs_bucket
'''


def _load(tmp_path, text, name="prior_versions_index"):
    (tmp_path / f"{name}.sql").write_text(text)
    return load_query(name, tmp_path)


def test_a_script_reads_its_columns_from_the_final_select_and_its_lineage_from_every_statement(
    tmp_path,
):
    script = _load(tmp_path, PRIOR_VERSIONS_SCRIPT)
    jinja = load_query("prior_versions_index")
    assert [c.name for c in script.columns] == [c.name for c in jinja.columns]
    assert script.columns[0].description == "identifier of the collection the series belonged to"
    # the table is named only inside the string that EXECUTE IMMEDIATE runs
    assert script.source_tables == jinja.source_tables
    assert script.upstream_indices == ()


def test_prior_versions_as_a_bigquery_script_gives_the_rows_of_the_jinja_query(
    tmp_path, sample_source, built_artifacts
):
    script = _load(tmp_path, PRIOR_VERSIONS_SCRIPT)
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    engine = IndexEngine(source_dir=str(sample_source))
    build_index(PRIOR_VERSIONS, script, SAMPLE_VERSIONS, engine=engine, store=store)
    name = "prior_versions_index.parquet"
    from_script = pq.read_table(store.directory(SAMPLE_VERSIONS) / name)
    from_jinja = pq.read_table(built_artifacts / name)
    assert from_jinja.num_rows > 0
    assert from_script.replace_schema_metadata(None).equals(
        from_jinja.replace_schema_metadata(None)
    )
    # the .sql artifact is the script as it ran
    sql = (store.directory(SAMPLE_VERSIONS) / "prior_versions_index.sql").read_text()
    assert sql == script.render(SAMPLE_VERSIONS)
    assert "EXECUTE IMMEDIATE" in sql


HEADER = "# table-description:\n# A table.\n"
FINAL = "SELECT\n  # description:\n  # the value\n  1 AS a\n"


@pytest.mark.parametrize(
    ("statement", "keyword"),
    [
        ("IF TRUE THEN\n  SELECT 1;\nEND IF;\n", "IF"),
        ("LOOP\n  LEAVE;\nEND LOOP;\n", "LOOP"),
        ("WHILE FALSE DO\n  SELECT 1;\nEND WHILE;\n", "WHILE"),
        ("BEGIN\n  SELECT 1;\nEXCEPTION WHEN ERROR THEN\n  SELECT 2;\nEND;\n", "BEGIN"),
        ("CALL mydataset.myprocedure();\n", "CALL"),
    ],
)
def test_control_flow_and_procedures_are_refused_with_their_line(tmp_path, statement, keyword):
    text = HEADER + "DECLARE x INT64 DEFAULT 1;\n" + statement + FINAL
    with pytest.raises(QueryDefinitionError, match=rf"probe\.sql:4: {keyword} statements are not"):
        _load(tmp_path, text, "probe")


def test_a_script_must_end_with_its_select(tmp_path):
    with pytest.raises(QueryDefinitionError, match=r"probe\.sql:4: the last statement must be"):
        _load(tmp_path, HEADER + "SELECT 1 AS a;\nDECLARE x INT64;\n", "probe")


def _run(tmp_path, sql):
    engine = IndexEngine(source_dir=str(tmp_path))
    with engine.run(sql, query_file="queries/q.sql") as run:
        return run.batches.read_all().to_pylist()


def test_declare_set_and_execute_immediate(tmp_path):
    # the example: a FLOAT64 variable in a WHERE
    assert _run(
        tmp_path,
        "DECLARE tol FLOAT64 DEFAULT 0.5; SELECT x FROM UNNEST([0.1, 0.9]) AS x WHERE x < tol",
    ) == [{"x": 0.1}]
    script = """
        DECLARE a, b INT64 DEFAULT 2;
        DECLARE label STRING;
        SET label = (SELECT MAX(x) FROM UNNEST(['p', 'q']) AS x);
        SET (a, b) = (SELECT AS STRUCT 7, 8);
        CREATE TEMP TABLE t AS SELECT a + b AS n UNION ALL SELECT a;
        EXECUTE IMMEDIATE FORMAT('CREATE TEMP TABLE u AS SELECT %d AS n, "%s-%t" AS s', b, label, a);
        EXECUTE IMMEDIATE CONCAT('CREATE TEMP TABLE v AS ', 'SELECT ', CAST(a AS STRING), ' AS m');
        SELECT t.n, u.s, m, b FROM t, u, v ORDER BY t.n
    """
    assert _run(tmp_path, script) == [
        {"n": 7, "s": "q-7", "m": 7, "b": 8},
        {"n": 15, "s": "q-7", "m": 7, "b": 8},
    ]


def test_a_column_wins_over_a_variable_of_the_same_name(tmp_path):
    script = "DECLARE n INT64 DEFAULT 3; SELECT n, n + 1 AS m FROM (SELECT 1 AS n)"
    assert _run(tmp_path, script) == [{"n": 1, "m": 2}]


def test_a_failing_statement_names_its_line(tmp_path):
    script = "DECLARE n INT64 DEFAULT 3;\nSET n = (SELECT x FROM UNNEST([1, 2]) AS x);\nSELECT n"
    with pytest.raises(EngineError, match=r"queries/q\.sql:2: DuckDB failed"):
        _run(tmp_path, script)
    with pytest.raises(EngineError, match=r"queries/q\.sql:1: variable m is not declared"):
        _run(tmp_path, "SET m = 1;\nSELECT 1 AS x")
