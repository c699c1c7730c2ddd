"""The new-version sensor, the rebuild schedule and the instance's run queue, against real Dagster
instances and real sample snapshots. The declarative chain that follows a build (wheel, release)
is exercised end to end in test_production_chain."""

import os
import shutil
import subprocess
import sys

import pytest
from dagster import (
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from idc_index_assets.automation import (
    daily_source_observation,
    new_idc_version_sensor,
    weekly_rebuild,
)
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS


def _resources(source, tmp_path):
    return {
        "index_engine": IndexEngine(source_dir=str(source)),
        "artifacts": ArtifactStore(root=str(tmp_path / "artifacts")),
    }


def _tick(instance: DagsterInstance, resources, cursor=None):
    """One sensor evaluation, applying its partition requests as the daemon would."""
    # Entered and left like the daemon does, so the context's resources are released.
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = new_idc_version_sensor(context)
    if isinstance(result, SkipReason):
        return [], cursor, result
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result.run_requests, result.cursor, None


def test_the_sensor_builds_each_new_version_once(source_copy, tmp_path):
    source = source_copy
    newest = source / SOURCE_PROJECT / f"idc_v{N}"
    held_back = tmp_path / "held_back"
    shutil.move(newest, held_back)  # the source starts one release behind
    resources = _resources(source, tmp_path)
    with instance_for_test() as instance:
        requests, cursor, _ = _tick(instance, resources)
        assert [(r.partition_key, r.run_key) for r in requests] == [
            (str(N - 1), f"idc_version_{N - 1}")
        ]
        assert requests[0].tags == {"idc_version": str(N - 1), "release_version": f"{N - 1}.0.0"}
        assert instance.get_dynamic_partitions("idc_version") == [str(v) for v in range(1, N)]

        requests, cursor, skipped = _tick(instance, resources, cursor)
        assert requests == [] and "no new IDC version" in skipped.skip_message

        shutil.move(held_back, newest)  # IDC publishes the next release
        requests, cursor, _ = _tick(instance, resources, cursor)
        assert [r.partition_key for r in requests] == [str(N)]
        assert cursor == str(N)
        assert str(N) in instance.get_dynamic_partitions("idc_version")

        requests, _, skipped = _tick(instance, resources, cursor)
        assert requests == [] and skipped is not None


def test_an_unreadable_source_skips_the_tick_with_the_reason(tmp_path):
    not_a_directory = tmp_path / "source"
    not_a_directory.write_text("")
    with instance_for_test() as instance:
        _, _, skipped = _tick(instance, _resources(not_a_directory, tmp_path))
    assert skipped is not None
    assert "cannot list the IDC versions" in skipped.skip_message
    assert str(not_a_directory) in skipped.skip_message


def test_the_schedule_rebuilds_the_newest_built_version(sample_source, tmp_path):
    resources = _resources(sample_source, tmp_path)
    with instance_for_test() as instance:
        with build_schedule_context(instance=instance, resources=resources) as context:
            assert isinstance(weekly_rebuild(context), SkipReason)  # nothing built yet
        instance.add_dynamic_partitions("idc_version", [str(N)])
        with build_schedule_context(instance=instance, resources=resources) as context:
            request = weekly_rebuild(context)
        assert isinstance(request, RunRequest) and request.partition_key == str(N)


def test_the_local_instance_never_runs_one_version_twice_at_once(tmp_path, monkeypatch):
    from idc_index_assets import settings

    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings.apply_defaults()
    with DagsterInstance.get() as instance:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    assert {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in limits
    # A user's own edits are kept.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    settings.apply_defaults()
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"


@pytest.mark.parametrize("value", ["x", "1.5", "-0.1"])
def test_a_bad_row_drop_fraction_is_named(monkeypatch, value):
    from idc_index_assets import settings

    monkeypatch.setenv("IDC_MAX_ROW_DROP", value)
    with pytest.raises(
        ValueError, match=rf"IDC_MAX_ROW_DROP must be a fraction between 0 and 1, got '{value}'"
    ):
        settings.max_row_drop()


@pytest.mark.parametrize(("setting", "status"), [("on", "RUNNING"), ("", "STOPPED")])
def test_automation_setting_starts_the_sensors_and_schedule(setting, status, tmp_path):
    probe = (
        "from idc_index_assets.definitions import defs\n"
        "items = [defs.get_sensor_def('new_idc_version_sensor'),"
        " defs.get_sensor_def('publishing_automation'), defs.get_schedule_def('weekly_rebuild')]\n"
        "print(' '.join(item.default_status.value for item in items))\n"
        "selection = defs.get_sensor_def('publishing_automation').asset_selection\n"
        "keys = selection.resolve(defs.resolve_asset_graph())\n"
        "print(sorted(k.to_user_string() for k in keys if 'idc_index_' in k.to_user_string()))\n"
    )
    environment = {**os.environ, "IDC_AUTOMATION": setting, "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == " ".join([status] * 3)
    assert "idc_index_data_wheel" in out[1] and "idc_index_release" in out[1]


def test_the_daily_observation_observes_the_newest_version_once_it_is_a_partition(
    sample_source, tmp_path
):
    resources = {"index_engine": IndexEngine(source_dir=str(sample_source))}
    with instance_for_test() as instance:
        with build_schedule_context(instance=instance, resources=resources) as context:
            skipped = daily_source_observation(context)
        assert isinstance(skipped, SkipReason) and f"{N} is not built yet" in skipped.skip_message
        instance.add_dynamic_partitions("idc_version", [str(N)])
        with build_schedule_context(instance=instance, resources=resources) as context:
            request = daily_source_observation(context)
        assert isinstance(request, RunRequest)
        assert (request.partition_key, request.tags) == (str(N), {"idc_version": str(N)})
    assert daily_source_observation.job_name == "observe_idc_sources"
