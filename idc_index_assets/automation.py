"""Automation: a sensor that notices a new IDC release and builds it, a periodic rebuild of the
newest release, and the condition that lets publishing follow a build on its own.

- `new_idc_version_sensor` asks the engine which IDC versions exist, adds the missing partitions
  and requests one build per new version (run key `idc_version_<N>`, so the sensor never builds a
  version twice; its cursor is the newest version it has requested). Engine errors become a
  skipped tick that says why.
- `weekly_rebuild` rebuilds the newest version (to catch revised data); cron and timezone from
  `IDC_REBUILD_CRON` / `IDC_REBUILD_TIMEZONE`; off unless turned on.
- `daily_source_observation` observes the source tables of the newest version every day (cheap:
  no query), so a table IDC revised in place gets a new data version and the indices built from
  it show as stale; its schema check runs with it.
- `PUBLISH_WHEN_CHECKED`: downstream publishing assets materialize once every index of the
  version has been updated and all their blocking checks passed (declarative automation).

The sensor, the schedule and `publishing_automation` (the sensor that evaluates the automation
conditions) are off by default (`IDC_AUTOMATION=on` turns them on), so a local `dagster dev` never
starts builds by itself.
"""

import os

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from idc_index_assets import settings
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.assets import IDC_VERSION_PARTITIONS
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.sources.assets import OBSERVE_SOURCES

BUILD_JOB = "build_indices"


def _default_status(kind):
    return kind.RUNNING if settings.switched_on(os.environ.get("IDC_AUTOMATION")) else kind.STOPPED


# Evaluates PUBLISH_WHEN_CHECKED; on with the rest of the automation, so that IDC_AUTOMATION=on
# takes a new IDC version all the way to the release.
publishing_automation = AutomationConditionSensorDefinition(
    "publishing_automation",
    target=AssetSelection.all(),
    default_status=_default_status(DefaultSensorStatus),
    minimum_interval_seconds=60,
    description="Materializes the wheel and the release once a version's blocking checks pass.",
)


def _available_versions(index_engine: IndexEngine) -> list[int] | SkipReason:
    """The source's IDC versions, or why a tick has nothing to do."""
    try:
        available = index_engine.available_versions()
    except Exception as error:  # the source is outside this process: report, never crash-loop
        return SkipReason(f"cannot list the IDC versions of the source: {error}")
    return available or SkipReason("the source offers no IDC version")


@sensor(
    job_name=BUILD_JOB,
    minimum_interval_seconds=3600,
    default_status=_default_status(DefaultSensorStatus),
    description="Builds every index of each new IDC version the engine's source offers.",
)
def new_idc_version_sensor(
    context: SensorEvaluationContext, index_engine: IndexEngine, artifacts: ArtifactStore
):
    available = _available_versions(index_engine)
    if isinstance(available, SkipReason):
        return available
    known = set(context.instance.get_dynamic_partitions(IDC_VERSION_PARTITIONS.name))
    missing = [str(v) for v in available if str(v) not in known]
    newest_requested = int(context.cursor) if context.cursor else 0
    # On the first tick only the newest version is built; after that, every version past the cursor.
    new = [v for v in available if v > newest_requested] if newest_requested else available[-1:]
    if not new and not missing:
        return SkipReason(f"no new IDC version (newest: {available[-1]})")
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"idc_version_{version}",
                partition_key=str(version),
                tags=artifacts.version_tags(version),
            )
            for version in new
        ],
        dynamic_partitions_requests=[IDC_VERSION_PARTITIONS.build_add_request(missing)]
        if missing
        else [],
        cursor=str(max([newest_requested, *new])),
    )


@schedule(
    job_name=BUILD_JOB,
    cron_schedule=os.environ.get("IDC_REBUILD_CRON") or "0 6 * * 1",
    execution_timezone=os.environ.get("IDC_REBUILD_TIMEZONE") or "UTC",
    default_status=_default_status(DefaultScheduleStatus),
    description="Rebuilds the newest IDC version, to catch data IDC revised in place.",
)
def weekly_rebuild(
    context: ScheduleEvaluationContext, index_engine: IndexEngine, artifacts: ArtifactStore
):
    newest = _newest_partition(context, index_engine)
    if isinstance(newest, SkipReason):
        return newest
    return RunRequest(partition_key=str(newest), tags=artifacts.version_tags(newest))


@schedule(
    job_name=OBSERVE_SOURCES,
    cron_schedule="0 5 * * *",
    execution_timezone=os.environ.get("IDC_REBUILD_TIMEZONE") or "UTC",
    default_status=_default_status(DefaultScheduleStatus),
    description=(
        "Observes the source tables of the newest IDC version daily: a table IDC revised in place "
        "gets a new data version (its indices show as stale) and its schema is checked."
    ),
)
def daily_source_observation(context: ScheduleEvaluationContext, index_engine: IndexEngine):
    newest = _newest_partition(context, index_engine)
    if isinstance(newest, SkipReason):
        return newest
    return RunRequest(partition_key=str(newest), tags={"idc_version": str(newest)})


def _newest_partition(context: ScheduleEvaluationContext, index_engine: IndexEngine):
    """The source's newest IDC version once it is a partition, or why a tick has nothing to do."""
    available = _available_versions(index_engine)
    if isinstance(available, SkipReason):
        return available
    newest = available[-1]
    if not context.instance.has_dynamic_partition(IDC_VERSION_PARTITIONS.name, str(newest)):
        return SkipReason(f"IDC version {newest} is not built yet; the sensor builds it first")
    return newest
