"""The Dagster code location: assembles the index assets, the source tables, jobs and resources."""

import os

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    define_asset_job,
)

from idc_index_assets import settings
from idc_index_assets.automation import (
    daily_source_observation,
    new_idc_version_sensor,
    publishing_automation,
    weekly_rebuild,
)
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.execution import executor
from idc_index_assets.gdc.assets import build_gdc_mapping_asset
from idc_index_assets.gdc.cases import STUDIES_QUERY, GDCCases
from idc_index_assets.indices.assets import (
    IDC_VERSION_PARTITIONS,
    build_index_asset,
    source_assets,
)
from idc_index_assets.indices.checks import build_reference_checks
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import (
    PackageIndex,
    ReleaseTarget,
    idc_index_data_wheel,
    idc_index_release,
)
from idc_index_assets.releases.github import GitHubReleases
from idc_index_assets.releases.notes_asset import build_release_notes_asset
from idc_index_assets.releases.published import PUBLISHED_ASSET, published_release
from idc_index_assets.sources.assets import OBSERVE_SOURCES, register_snapshot_versions

settings.apply_defaults()
# A local snapshot's IDC versions are partitions as soon as the code location loads.
if os.environ["IDC_ENGINE"].strip().lower() == "duckdb":
    register_snapshot_versions(os.environ["IDC_SOURCE_DIR"])


index_assets = [*(build_index_asset(spec) for spec in INDICES), build_gdc_mapping_asset()]
release_notes = build_release_notes_asset(settings.max_row_drop())
idc_sources = source_assets(
    [*(load_query(spec.name) for spec in INDICES), load_query(STUDIES_QUERY)]
)
reference_checks = build_reference_checks(RELEASED_INDICES, IDC_VERSION_PARTITIONS)

observe_sources_job = define_asset_job(
    OBSERVE_SOURCES,
    selection=AssetSelection.assets(idc_sources),
    description=(
        "Observe the IDC source tables of one IDC version (data versions: rows, bytes, last "
        "modified) and check their schemas against the source contract."
    ),
)

# A build observes the source tables first: their data versions say which source each index was
# built from. Without their schema checks, so that one missing or drifted table fails only the
# indices that read it (each index checks its own sources before its query runs).
build_indices_job = define_asset_job(
    "build_indices",
    selection=AssetSelection.assets(idc_sources).without_checks()
    | AssetSelection.assets(*index_assets),
    description="Observe the IDC source tables of one IDC version and build every index from them.",
)

package_wheel_job = define_asset_job(
    "package_wheel",
    selection=AssetSelection.assets(idc_index_data_wheel),
    description="Build the idc-index-data wheel of one IDC version from its checked artifacts.",
)

publish_release_job = define_asset_job(
    "publish_release",
    selection=AssetSelection.assets(idc_index_data_wheel, release_notes, idc_index_release),
    description=(
        "Publish one IDC version's checked artifacts, wheel and release notes to the release "
        "bucket's versioned and current paths and, when configured, to the GitHub release of the "
        "version."
    ),
)

observe_published_job = define_asset_job(
    "observe_published",
    selection=AssetSelection.assets(PUBLISHED_ASSET),
    description="Read what every release channel serves now (bucket manifest, GitHub release).",
)

defs = Definitions(
    executor=executor(),
    assets=[
        idc_sources,
        *index_assets,
        idc_index_data_wheel,
        release_notes,
        idc_index_release,
        published_release,
    ],
    asset_checks=[reference_checks],
    jobs=[
        observe_sources_job,
        build_indices_job,
        package_wheel_job,
        publish_release_job,
        observe_published_job,
    ],
    sensors=[new_idc_version_sensor, publishing_automation],
    schedules=[weekly_rebuild, daily_source_observation],
    resources={
        "index_engine": IndexEngine(
            engine=EnvVar("IDC_ENGINE"),
            source_dir=EnvVar("IDC_SOURCE_DIR"),
            duckdb_memory_limit=EnvVar("IDC_DUCKDB_MEMORY_LIMIT"),
            duckdb_threads=EnvVar("IDC_DUCKDB_THREADS"),
            gcp_project=EnvVar("GCP_PROJECT"),
            bigquery_api_endpoint=EnvVar("IDC_BIGQUERY_API_ENDPOINT"),
            maximum_bytes_billed=EnvVar("IDC_MAX_BYTES_BILLED"),
        ),
        "artifacts": ArtifactStore(
            root=EnvVar("IDC_ARTIFACTS_DIR"),
            release_version=EnvVar("IDC_RELEASE_VERSION"),
            gcp_project=EnvVar("GCP_PROJECT"),
        ),
        "gdc_cases": GDCCases(
            api_url=EnvVar("IDC_GDC_API_URL"), source_dir=EnvVar("IDC_SOURCE_DIR")
        ),
        "package_index": PackageIndex(
            url=EnvVar("IDC_PACKAGE_INDEX_URL"),
            username=EnvVar("IDC_PACKAGE_INDEX_USERNAME"),
            password=EnvVar("IDC_PACKAGE_INDEX_PASSWORD"),
        ),
        "release_target": ReleaseTarget(
            bucket=EnvVar("IDC_RELEASE_BUCKET"),
            gcp_project=EnvVar("GCP_PROJECT"),
            concurrency=EnvVar("IDC_RELEASE_CONCURRENCY"),
            configure_bucket=EnvVar("IDC_CONFIGURE_BUCKET"),
        ),
        "github_release": GitHubReleases(
            repository=EnvVar("IDC_GITHUB_REPOSITORY"),
            api_url=EnvVar("IDC_GITHUB_API_URL"),
            token=EnvVar("GITHUB_TOKEN"),
        ),
    },
)
