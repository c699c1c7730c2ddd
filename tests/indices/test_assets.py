"""The Dagster code location: definitions load as a user sees them, and real runs of the job."""

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test

from idc_index_assets.definitions import build_indices_job, defs
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.validation import CONTRACT_CHECK, INTEGRITY_CHECK
from idc_index_assets.sources.assets import SOURCE_GROUP
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = str(SAMPLE_VERSIONS)


def test_every_index_is_a_documented_partitioned_asset():
    graph = defs.resolve_asset_graph()
    for spec in INDICES:
        query = load_query(spec.name)
        node = graph.get(AssetKey(spec.name))
        assert node.partitions_def.name == "idc_version"
        assert node.description == query.table_description
        assert node.code_version == query.code_version
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == spec.contract.column_names
        assert all(c.description for c in schema.columns)
        parents = {key for key in node.parent_keys}
        sources = {key for key in parents if key.path[0] == SOURCE_GROUP}
        assert {key.path[-1] for key in sources} == {t.table for t in query.source_tables}
        assert {key.path[-1] for key in parents - sources} == set(query.upstream_indices)
        checks = {key.name for key in graph.get_check_keys_for_assets({node.key})}
        assert {CONTRACT_CHECK, INTEGRITY_CHECK, "primary_key"} <= checks


def test_tcia_idc_subset_is_downstream_of_idc_index():
    graph = defs.resolve_asset_graph()
    assert AssetKey("idc_index") in graph.get(AssetKey("tcia_idc_subset")).parent_keys


def test_lineage_runs_from_every_index_through_the_wheel_to_the_release():
    graph = defs.resolve_asset_graph()
    release = graph.get(AssetKey("idc_index_release")).parent_keys
    assert {AssetKey(spec.name) for spec in RELEASED_INDICES} <= release
    assert AssetKey("idc_index_data_wheel") in release


def test_the_production_settings_are_known_settings():
    from pathlib import Path

    from idc_index_assets import settings

    lines = (Path(__file__).parents[2] / "deploy" / "production.env").read_text().splitlines()
    names = {line.split("=")[0] for line in lines if line and not line.startswith("#")}
    assert names and names <= set(settings.DEFAULTS) | {"IDC_AUTOMATION"}


@pytest.fixture
def environment(monkeypatch, tmp_path):
    def configure(source):
        monkeypatch.setenv("IDC_ENGINE", "duckdb")
        monkeypatch.setenv("IDC_SOURCE_DIR", str(source))
        monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
        monkeypatch.setenv("IDC_RELEASE_VERSION", "")
        return tmp_path / "artifacts" / N

    return configure


def _run(instance, selection=None):
    instance.add_dynamic_partitions("idc_version", [N])
    job = defs.resolve_job_def(build_indices_job.name)
    return job.execute_in_process(
        instance=instance, partition_key=N, raise_on_error=False, asset_selection=selection
    )


def _evaluations(result):
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    return {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}


def _checks(result):
    return {key: evaluation.passed for key, evaluation in _evaluations(result).items()}


def test_a_run_materializes_every_index_with_metadata(sample_source, environment):
    directory = environment(sample_source)
    with instance_for_test() as instance:
        result = _run(instance)
        assert result.success
        # Launched with the partition alone, as from an asset page: the run got the version tags
        # the command line and the sensor launch with.
        tags = instance.get_run_by_id(result.run_id).tags
        assert (tags["idc_version"], tags["release_version"]) == (N, f"{N}.0.0")
        for spec in INDICES:
            event = instance.get_latest_materialization_event(AssetKey(spec.name))
            metadata = event.asset_materialization.metadata
            rows = pq.read_metadata(directory / f"{spec.name}.parquet").num_rows
            assert metadata["dagster/row_count"].value == rows
            assert (
                metadata["sha256"].value in (directory / f"{spec.name}.parquet.sha256").read_text()
            )
            assert event.asset_materialization.partition == N
            lineage = metadata["dagster/column_lineage"].value
            assert set(lineage.deps_by_column) == {c.name for c in load_query(spec.name).columns}
            # readable in open-source Dagster: a Markdown table, and the columns' descriptions
            table = metadata["column_lineage"].value
            schema = {
                c.name: c.description for c in metadata["dagster/column_schema"].schema.columns
            }
            for column, deps in lineage.deps_by_column.items():
                sources = [
                    f"{'.'.join(d.asset_key.path[1:]) or d.asset_key.path[0]}.{d.column_name}"
                    for d in deps
                ]
                row = next(
                    line for line in table.splitlines() if line.startswith(f"| `{column}` |")
                )
                assert all(f"`{source}`" in row for source in sources), row
                assert schema[column].endswith(f"From {', '.join(sources) or 'a constant'}.")
        checks = _checks(result)
        assert checks and all(checks.values()), checks
        assert {name for _, name in checks} >= {
            CONTRACT_CHECK,
            INTEGRITY_CHECK,
            "primary_key",
            "references",
        }


def test_a_failed_blocking_check_stops_the_downstream_asset(null_key_source, environment):
    environment(null_key_source)
    with instance_for_test() as instance:
        result = _run(instance, [AssetKey("idc_index"), AssetKey("tcia_idc_subset")])
        assert not result.success
        assert _checks(result)[("idc_index", "primary_key")] is False
        assert instance.get_latest_materialization_event(AssetKey("tcia_idc_subset")) is None


def test_errors_in_the_query_or_data_are_not_retried(source_copy, environment):
    source = source_copy
    (source / SOURCE_PROJECT / f"idc_v{N}" / "version_metadata.parquet").unlink()
    environment(source)
    with instance_for_test() as instance:
        result = _run(instance, [AssetKey("version_metadata_index")])
        assert not result.success
        types = [e.event_type for e in result.all_events]
        assert DagsterEventType.STEP_FAILURE in types
        assert DagsterEventType.STEP_UP_FOR_RETRY not in types
        failure = next(
            e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE
        )
        assert "version_metadata" in failure.step_failure_data.error.message


def test_a_partition_the_source_lacks_fails_at_once_naming_the_source(sample_source, environment):
    """A partition added by hand (the UI's "Add partition") for a version the snapshot does not
    have: each step fails before any query, naming the snapshot and its versions, unretried."""
    environment(sample_source)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", ["7"])
        job = defs.resolve_job_def(build_indices_job.name)
        result = job.execute_in_process(
            instance=instance,
            partition_key="7",
            raise_on_error=False,
            asset_selection=[AssetKey("version_metadata_index")],
        )
        assert not result.success
        types = [e.event_type for e in result.all_events]
        assert DagsterEventType.STEP_UP_FOR_RETRY not in types
        (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        description = failure.step_failure_data.user_failure_data.description
        assert description == (
            f"IDC version 7 is not in the source snapshot {sample_source} (IDC_SOURCE_DIR; its "
            "versions: 1, 2, 3); delete the partition or add the version to the snapshot"
        )
