"""The automated chain as the daemon drives it: the sensor notices a new IDC version, the build
runs, and the wheel and the release follow through their automation conditions, with no person
in between: on the production instance configuration (`deploy/dagster.yaml`) with a real
PostgreSQL server, and, for a chain that a failed check stops, on a throwaway SQLite instance."""

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    RunsFilter,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
)

from idc_index_assets.automation import new_idc_version_sensor
from idc_index_assets.definitions import defs
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
from idc_index_assets.releases.notes import NOTES_ASSET, NOTES_MARKDOWN
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, MANIFEST
from tests.conftest import SAMPLE_VERSIONS
from tests.servers import postgres_server

N = SAMPLE_VERSIONS
DEPLOY_CONFIG = Path(__file__).parents[1] / "deploy" / "dagster.yaml"


@pytest.fixture
def postgres_instance(tmp_path, monkeypatch):
    """A Dagster instance from the production configuration, on a fresh PostgreSQL server."""
    if not postgres_server.available():
        pytest.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
    with postgres_server.postgres_server() as url:
        parts = urlparse(url)
        for name, value in (
            ("HOST", parts.hostname),
            ("PORT", str(parts.port)),
            ("DB", parts.path.lstrip("/")),
            ("USER", parts.username),
            ("PASSWORD", "unused-with-trust-auth"),
        ):
            monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.get() as instance:
            yield instance


@pytest.fixture
def sqlite_instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def environment(monkeypatch, tmp_path):
    def configure(source):
        monkeypatch.setenv("IDC_SOURCE_DIR", str(source))
        monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
        monkeypatch.setenv("IDC_RELEASE_BUCKET", str(tmp_path / "bucket"))
        monkeypatch.setenv("IDC_RELEASE_VERSION", "")
        return {
            "index_engine": IndexEngine(source_dir=str(source)),
            "artifacts": ArtifactStore(root=str(tmp_path / "artifacts")),
        }

    return configure


class Daemon:
    """What the Dagster daemon does, in-process: sensor ticks (keeping the cursor, dropping run
    requests whose run key already ran) and automation ticks, each followed by its runs."""

    def __init__(self, instance: DagsterInstance, resources: dict):
        self.instance, self.resources = instance, resources
        self.sensor_cursor = None
        self.automation_cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor

    def tick(self, rounds: int = 5) -> list[str]:
        """One sensor tick and its runs, then automation ticks until nothing more is requested;
        returns what ran, in order."""
        instance, ran = self.instance, []
        with build_sensor_context(
            instance=instance, resources=self.resources, cursor=self.sensor_cursor
        ) as context:
            result = new_idc_version_sensor(context)
        if isinstance(result, SkipReason):
            requests = []
        else:
            self.sensor_cursor = result.cursor
            for add in result.dynamic_partitions_requests:
                instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
            requests = result.run_requests
        for request in requests:
            key_tag = {"dagster/run_key": request.run_key}
            if instance.get_runs(filters=RunsFilter(tags=key_tag)):
                continue
            defs.resolve_job_def("build_indices").execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags={**request.tags, **key_tag},
                raise_on_error=False,
            )
            ran.append(f"build_indices[{request.partition_key}]")
        for _ in range(rounds):
            evaluation = evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=self.automation_cursor
            )
            self.automation_cursor = evaluation.cursor
            requested = [
                (key, partition)
                for key in (AssetKey(WHEEL_ASSET), AssetKey(NOTES_ASSET), AssetKey(RELEASE_ASSET))
                for partition in sorted(evaluation.get_requested_partitions(key))
            ]
            if not requested:
                break
            for key, partition in requested:
                defs.resolve_implicit_global_asset_job_def().execute_in_process(
                    instance=instance,
                    partition_key=partition,
                    asset_selection=[key],
                    tags={"idc_version": partition},
                    raise_on_error=False,
                )
                ran.append(f"{key.to_user_string()}[{partition}]")
        return ran


@pytest.mark.slow
def test_a_new_version_is_built_checked_and_released_unattended(
    postgres_instance, sample_source, environment, tmp_path
):
    daemon = Daemon(postgres_instance, environment(sample_source))
    assert daemon.tick() == [
        f"build_indices[{N}]",
        f"{WHEEL_ASSET}[{N}]",
        f"{NOTES_ASSET}[{N}]",
        f"{RELEASE_ASSET}[{N}]",
    ]
    for prefix in (f"{N}.0.0", CURRENT):
        manifest = json.loads((tmp_path / "bucket" / prefix / ARTIFACTS / MANIFEST).read_text())
        assert (manifest["version"], manifest["idc_version"]) == (f"{N}.0.0", N)
        assert (tmp_path / "bucket" / prefix / ARTIFACTS / NOTES_MARKDOWN).is_file()
    assert daemon.tick() == []  # nothing new: nothing runs

    # Run history per version, tagged with the IDC and release versions.
    runs = postgres_instance.get_runs(filters=RunsFilter(tags={"idc_version": str(N)}))
    assert len(runs) == 4 and all(run.is_success for run in runs)
    build_run = next(run for run in runs if run.job_name == "build_indices")
    assert build_run.tags["release_version"] == f"{N}.0.0"
    assert build_run.tags["dagster/partition"] == str(N)


def test_a_failed_check_stops_the_chain_before_publishing(
    sqlite_instance, null_key_source, environment, tmp_path
):
    resources = environment(null_key_source)
    assert Daemon(sqlite_instance, resources).tick() == [f"build_indices[{N}]"]
    assert not (tmp_path / "bucket").exists()
    records = sqlite_instance.fetch_materializations(AssetKey(RELEASE_ASSET), limit=1).records
    assert records == []
