"""The IDC source tables as Dagster assets: keyed per release family, partitioned by IDC version,
documented, observed (their data version makes index partitions stale) and checked for drift."""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterEventType, Definitions, instance_for_test
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from idc_index_assets.definitions import build_indices_job, defs, observe_sources_job
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES
from idc_index_assets.sources.assets import SOURCE_GROUP, SOURCE_SCHEMA_CHECK, source_asset_key
from idc_index_assets.sources.contract import contract_columns
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = str(SAMPLE_VERSIONS)
AUXILIARY = AssetKey([SOURCE_GROUP, "idc_vNN", "auxiliary_metadata"])


def _source_keys(graph) -> list[AssetKey]:
    return sorted(k for k in graph.get_all_asset_keys() if k.path[0] == SOURCE_GROUP)


def test_the_definitions_with_the_observation_job_load_as_dg_loads_them():
    Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(observe_sources_job.name).partitions_def.name == "idc_version"


def test_source_assets_are_partitioned_observable_documented_and_checked():
    graph = defs.resolve_asset_graph()
    keys = _source_keys(graph)
    assert [k.to_user_string() for k in keys] == [
        "idc_source/idc_vNN/analysis_results_metadata",
        "idc_source/idc_vNN/auxiliary_metadata",
        "idc_source/idc_vNN/dicom_all",
        "idc_source/idc_vNN/dicom_metadata",
        "idc_source/idc_vNN/dicom_metadata_curated",
        "idc_source/idc_vNN/original_collections_metadata",
        "idc_source/idc_vNN/version_metadata",
        "idc_source/idc_vNN_clinical/column_metadata",
    ]
    for key in keys:
        node = graph.get(key)
        assert node.is_observable and node.partitions_def.name == "idc_version"
        contract = f"{SOURCE_PROJECT}.{key.path[1]}.{key.path[2]}"
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c["name"] for c in contract_columns()[contract]]
        assert all(c.description for c in schema.columns)
        (check,) = graph.get_check_keys_for_assets({key})
        assert check.name == SOURCE_SCHEMA_CHECK and graph.get_check_spec(check).blocking
    # every index reads its sources through these keys
    for spec in INDICES:
        parents = graph.get(AssetKey(spec.name)).parent_keys
        assert {source_asset_key(t) for t in load_query(spec.name).source_tables} <= parents


@pytest.fixture
def environment(monkeypatch, tmp_path, source_copy):
    monkeypatch.setenv("IDC_ENGINE", "duckdb")
    monkeypatch.setenv("IDC_SOURCE_DIR", str(source_copy))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    return source_copy


def _observe(instance):
    return defs.resolve_job_def(observe_sources_job.name).execute_in_process(
        instance=instance, partition_key=N, raise_on_error=False
    )


def _checks(result):
    return {
        e.asset_check_evaluation_data.asset_key: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def _resolver(instance) -> CachingStaleStatusResolver:
    """What the UI asks for an asset partition's staleness."""
    return CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )


def test_a_changed_source_makes_its_index_partition_stale(environment):
    auxiliary = environment / SOURCE_PROJECT / f"idc_v{N}" / "auxiliary_metadata.parquet"
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [N])
        first = _observe(instance)
        assert first.success
        assert all(c.passed for c in _checks(first).values())
        observation = instance.fetch_observations(AssetKey(AUXILIARY.path), limit=1).records[0]
        observed = observation.asset_observation
        assert observed.partition == N
        assert observed.metadata["dagster/row_count"].value == pq.read_metadata(auxiliary).num_rows
        assert "dagster/data_version" in observed.tags

        built = defs.resolve_job_def(build_indices_job.name).execute_in_process(
            instance=instance, partition_key=N, asset_selection=[AssetKey("idc_index")]
        )
        assert built.success
        assert _resolver(instance).get_status(AssetKey("idc_index"), N) == StaleStatus.FRESH

        # IDC revises the table: one series fewer
        table = pq.read_table(auxiliary)
        pq.write_table(table.slice(1), auxiliary)
        assert _observe(instance).success
        resolver = _resolver(instance)
        assert resolver.get_status(AssetKey("idc_index"), N) == StaleStatus.STALE
        causes = resolver.get_stale_root_causes(AssetKey("idc_index"), N)
        assert [(c.asset_key, c.partition_key, c.reason) for c in causes] == [
            (AUXILIARY, N, "has a new data version")
        ]


def test_a_drifted_source_fails_its_blocking_check_naming_table_and_column(environment):
    auxiliary = environment / SOURCE_PROJECT / f"idc_v{N}" / "auxiliary_metadata.parquet"
    table = pq.read_table(auxiliary)
    index = table.schema.get_field_index("series_init_idc_version")
    column = pc.cast(table["series_init_idc_version"], pa.string())
    pq.write_table(table.set_column(index, "series_init_idc_version", column), auxiliary)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [N])
        result = _observe(instance)
        assert not result.success
        checks = _checks(result)
        failed = {key for key, check in checks.items() if not check.passed}
        assert failed == {AUXILIARY}
        description = checks[AUXILIARY].description
        assert description.startswith(
            f"FAIL {SOURCE_PROJECT}.idc_v{N}.auxiliary_metadata: series_init_idc_version: "
            "expected INT64, found STRING (read by idc_index)"
        )
        assert "idc_source_contract.json" in description
        # the index run refuses the drifted source before its query, without retrying
        built = defs.resolve_job_def(build_indices_job.name).execute_in_process(
            instance=instance,
            partition_key=N,
            asset_selection=[AssetKey("idc_index")],
            raise_on_error=False,
        )
        assert not built.success
        types = [e.event_type for e in built.all_events]
        assert DagsterEventType.STEP_UP_FOR_RETRY not in types
        failure = next(e for e in built.all_events if e.is_step_failure)
        assert (
            f"FAIL {SOURCE_PROJECT}.idc_v{N}.auxiliary_metadata: series_init_idc_version: "
            "expected INT64, found STRING"
        ) in failure.step_failure_data.user_failure_data.description


def test_a_missing_table_fails_its_check_and_the_others_are_observed(environment):
    (environment / SOURCE_PROJECT / f"idc_v{N}" / "version_metadata.parquet").unlink()
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [N])
        result = _observe(instance)
        assert not result.success
        checks = _checks(result)
        missing = AssetKey([SOURCE_GROUP, "idc_vNN", "version_metadata"])
        assert {key for key, check in checks.items() if not check.passed} == {missing}
        assert checks[missing].description.startswith(
            f"cannot read the table: table {SOURCE_PROJECT}.idc_v{N}.version_metadata is not in "
            "the source snapshot"
        )
        observed = {
            e.asset_observation_data.asset_observation.asset_key
            for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_OBSERVATION
        }
        assert observed == set(_source_keys(defs.resolve_asset_graph())) - {missing}
