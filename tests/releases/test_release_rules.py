"""The release rules read from the release notes: an incomplete previous release, breaking
changes under an unchanged major version, and the columns the idc-index client reads; through
the Dagster release on the sample (a previous version with only idc_index built), and the client
contract derived again from the real client's source."""

import json
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, instance_for_test

from idc_index_assets.definitions import defs
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import RELEASE_ASSET
from idc_index_assets.releases.client_contract import (
    CLIENT_CONTRACT,
    CLIENT_SOURCE,
    client_contract,
    derive,
    published_columns,
)
from idc_index_assets.releases.notes import NOTES_JSON, compute_notes
from idc_index_assets.releases.publish import CURRENT, MANIFEST
from idc_index_assets.releases.rules import release_rule_problems
from tests.conftest import SAMPLE_VERSIONS
from tests.releases.test_wheel_asset import CLIENT

N = SAMPLE_VERSIONS


def notes_with(changes: list[dict], previous_release: str = "3.0.0", absent=()) -> dict:
    return {
        "previous": {
            "idc_version": 3,
            "release_version": previous_release,
            "absent_indices": list(absent),
        },
        "breaking_changes": changes,
    }


RETYPED = {
    "index": "ct_index",
    "change": "column_retyped",
    "column": "KVP",
    "before": "STRING",
    "after": "FLOAT64",
    "client": [],
}


def test_a_breaking_change_needs_a_new_major_version_or_the_flag():
    (problem,) = release_rule_problems(notes_with([RETYPED]), "3.1.0")
    assert "3.1.0 has breaking changes" in problem and "4.0.0" in problem
    assert "ct_index.KVP: column retyped: STRING → FLOAT64" in problem
    assert "allow_breaking_change" in problem
    assert release_rule_problems(notes_with([RETYPED]), "4.0.0") == []
    assert release_rule_problems(notes_with([RETYPED]), "3.1.0", allow_breaking_change=True) == []
    assert release_rule_problems(notes_with([]), "3.0.1") == []


def test_removing_a_column_the_client_reads_is_refused_even_with_the_flag():
    removed = {
        "index": "idc_index",
        "change": "column_removed",
        "column": "series_aws_url",
        "before": "STRING",
        "after": None,
        "client": ["IDCClient.get_series_file_URLs"],
    }
    problems = release_rule_problems(notes_with([removed]), "4.0.0", allow_breaking_change=True)
    assert problems == [
        "idc_index.series_aws_url is read by the idc-index client "
        "(IDCClient.get_series_file_URLs) and this release removes it: keep the column "
        "(data/client_contract.json lists what the client reads)"
    ]


def test_notes_against_an_incomplete_previous_release_need_the_flag():
    notes = notes_with([], absent=["sm_index", "ct_index"])
    (problem,) = release_rule_problems(notes, "4.0.0")
    assert (
        "IDC v3 (release 3.0.0), which has no files for 2 indices (sm_index, ct_index)" in problem
    )
    assert "--allow-incomplete-previous" in problem
    assert release_rule_problems(notes, "4.0.0", allow_incomplete_previous=True) == []
    assert release_rule_problems({"previous": None}, "1.0.0") == []


# --- through the Dagster release -------------------------------------------------------------------


@pytest.fixture
def incomplete(sample_source, built_artifacts, monkeypatch, tmp_path):
    """Version N built in full, version N-1 with idc_index only."""
    root = tmp_path / "artifacts"
    shutil.copytree(built_artifacts, root / str(N))
    store = ArtifactStore(root=str(root))
    engine = IndexEngine(source_dir=str(sample_source))
    spec = INDEX_BY_NAME["idc_index"]
    build_index(spec, load_query(spec.name), N - 1, engine=engine, store=store)
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(root))
    monkeypatch.setenv("IDC_RELEASE_BUCKET", str(tmp_path / "bucket"))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    return root, tmp_path / "bucket"


def run(instance, job: str, run_config=None):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=str(N), run_config=run_config, raise_on_error=False
    )


def refusal(result) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.step_failure_data.user_failure_data.description


@pytest.mark.slow
def test_a_release_refuses_notes_against_an_incomplete_previous_version(incomplete):
    root, bucket = incomplete
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [str(N)])
        assert run(instance, "build_indices").success
        result = run(instance, "publish_release")
        assert not result.success
        notes = json.loads((root / str(N) / NOTES_JSON).read_text())
        absent = notes["previous"]["absent_indices"]
        assert "sm_index" in absent and "idc_index" not in absent
        assert f"which has no files for {len(absent)} indices" in refusal(result)
        assert not (bucket / CURRENT).exists()  # nothing published
        warned = instance.get_latest_materialization_event(AssetKey("release_notes"))
        assert "Incomplete comparison" in warned.asset_materialization.metadata["notes"].value

        flag = {"ops": {RELEASE_ASSET: {"config": {"allow_incomplete_previous": True}}}}
        assert run(instance, "publish_release", flag).success
        manifest = json.loads((bucket / CURRENT / "release_artifacts" / MANIFEST).read_text())
        assert manifest["version"] == f"{N}.0.0"


def test_an_added_column_is_not_a_breaking_change(built_artifacts, tmp_path):
    previous = tmp_path / "previous"
    shutil.copytree(built_artifacts, previous)
    table = pq.read_table(previous / "idc_index.parquet")
    pq.write_table(table.drop_columns(["crdc_series_uuid"]), previous / "idc_index.parquet")
    assert compute_notes(built_artifacts, previous)["breaking_changes"] == []


# --- the client contract ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_client_contract_is_what_the_real_client_reads(tmp_path):
    target = tmp_path / "client"  # the client from PyPI, in a directory of its own
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "--target", str(target), CLIENT], check=True)
    source = (target / CLIENT_SOURCE).read_text()
    name, version = CLIENT.split("==")
    stored = client_contract()
    assert stored == json.loads(CLIENT_CONTRACT.read_text())
    assert derive(source, f"{name} {version}", published_columns()) == stored
    # what the client is known to need is in it
    assert "IDCClient.get_series_file_URLs" in stored["indices"]["idc_index"]["series_aws_url"]
    assert "crdc_instance_uuid" in stored["indices"]["sm_instance_index"]
