"""The BigQuery engine submits a BigQuery script as one script job and streams the result of its
last statement, the script's last child job; a failed statement is named by its line. Against a
loopback server that answers like BigQuery does for scripts (tests/servers/bigquery_scripts.py)."""

from __future__ import annotations

import pytest

from idc_index_assets.engines.base import EngineError
from idc_index_assets.engines.bigquery import BigQueryEngine, IDCBigQueryResource
from tests.servers.bigquery_scripts import ScriptStatement, bigquery_script_server

SCRIPT = """DECLARE newest INT64 DEFAULT 3;
SET newest = (SELECT MAX(v) FROM UNNEST([1, 2, 3]) AS v);
CREATE TEMP TABLE t AS SELECT v FROM UNNEST(GENERATE_ARRAY(1, newest)) AS v;
SELECT v, CAST(v AS STRING) AS s FROM t ORDER BY v
"""


def _engine(url: str) -> BigQueryEngine:
    return BigQueryEngine(IDCBigQueryResource(project="p", api_endpoint=url), api_retry_seconds=1)


def test_a_script_runs_as_one_job_and_gives_its_last_statements_rows():
    statements = [
        ScriptStatement(line=2, statement_type="SELECT"),
        ScriptStatement(line=3, statement_type="CREATE_TABLE_AS_SELECT"),
        ScriptStatement(
            line=4,
            columns=[("v", "INTEGER"), ("s", "STRING")],
            rows=[["1", "1"], ["2", "2"], ["3", "3"]],
        ),
    ]
    with (
        bigquery_script_server(statements) as (url, jobs),
        _engine(url).run(SCRIPT, query_file="queries/q.sql") as run,
    ):
        table = run.batches.read_all()
    assert table.to_pylist() == [{"v": 1, "s": "1"}, {"v": 2, "s": "2"}, {"v": 3, "s": "3"}]
    # one job, the whole script as its query
    assert [body["configuration"]["query"]["query"] for body in jobs.inserted] == [SCRIPT]
    parent = jobs.inserted[0]["jobReference"]["jobId"]
    last_child = f"script_job_{parent[-8:]}_2"
    assert run.metadata["bigquery/job_id"] == parent
    assert run.metadata["bigquery/final_statement_job_id"] == last_child
    # the rows came from the last child job, found among the script's child jobs
    assert ("GET", "/bigquery/v2/projects/p/jobs") in jobs.calls
    assert ("GET", f"/bigquery/v2/projects/p/queries/{last_child}") in jobs.calls


def test_a_failed_statement_is_named_by_its_line():
    statements = [
        ScriptStatement(line=2),
        ScriptStatement(line=3, error="Query error: Table t already exists at [3:1]"),
        ScriptStatement(line=4, columns=[("v", "INTEGER")], rows=[["1"]]),
    ]
    with (
        bigquery_script_server(statements) as (url, jobs),
        pytest.raises(EngineError) as raised,
        _engine(url).run(SCRIPT, query_file="q.sql"),
    ):
        pass
    parent = jobs.inserted[0]["jobReference"]["jobId"]
    assert str(raised.value).startswith(
        f"q.sql:3: statement job script_job_{parent[-8:]}_1 of BigQuery script job {parent} failed"
    )
    assert "Table t already exists" in str(raised.value)
    assert raised.value.transient is False


def test_a_statement_outside_the_subset_is_refused_before_any_job():
    script = "DECLARE x INT64;\nIF x IS NULL THEN SELECT 1; END IF;\nSELECT 1"
    with (
        bigquery_script_server([]) as (url, jobs),
        pytest.raises(EngineError, match=r"q\.sql:2: IF statements are not supported"),
        _engine(url).run(script, query_file="q.sql"),
    ):
        pass
    assert jobs.inserted == []
