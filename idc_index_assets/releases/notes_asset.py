"""The `release_notes` asset: per IDC version, what changed in each index since the previous release
(`notes.compute_notes`), written beside the indices as release_notes.json and release_notes.md, so
the release publishes them; the Markdown and the counts are its metadata (Dagster plots the counts
across versions), and `notes.warnings` become its warning-severity asset checks."""

import contextlib
import tempfile
from pathlib import Path

from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from idc_index_assets import settings
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.assets import IDC_VERSION_PARTITIONS
from idc_index_assets.indices.checks import Outcome
from idc_index_assets.indices.queries import parse_idc_version
from idc_index_assets.indices.registry import RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactDirectory, ArtifactStore, open_location
from idc_index_assets.releases.assets import (
    PUBLISH_WHEN_CHECKED,
    WHEEL_ASSET,
    ReleaseTarget,
    refuse_misconfigured_channels,
)
from idc_index_assets.releases.github import GitHubReleases
from idc_index_assets.releases.notes import (
    NOTES_ASSET,
    NOTES_JSON,
    NOTES_MARKDOWN,
    ROW_COUNT_DROP,
    WARNING_DESCRIPTIONS,
    NotesError,
    compute_notes,
    fetch_release,
    headline,
    previous_version,
    render_markdown,
    warnings,
    write_notes,
)


class ReleaseNotesConfig(Config):
    against: str = Field(
        default="",
        description="A published release to compare with: a directory, e.g. "
        "data/release/current/release_artifacts, or a gs:// prefix (empty: the previous IDC "
        "version in the artifact store)",
    )


def build_release_notes_asset(max_row_drop: float) -> AssetsDefinition:
    """The asset, warning when an index loses more than `max_row_drop` of its rows."""
    descriptions = dict(WARNING_DESCRIPTIONS)
    descriptions[ROW_COUNT_DROP] += f" (at most {max_row_drop:.0%}, IDC_MAX_ROW_DROP)"

    @asset(
        name=NOTES_ASSET,
        partitions_def=IDC_VERSION_PARTITIONS,
        deps=[AssetKey(spec.name) for spec in RELEASED_INDICES],
        group_name="publishing",
        kinds={"duckdb", "markdown"},
        automation_condition=PUBLISH_WHEN_CHECKED,
        check_specs=[
            AssetCheckSpec(
                name,
                asset=NOTES_ASSET,
                description=description,
                partitions_def=IDC_VERSION_PARTITIONS,
            )
            for name, description in descriptions.items()
        ],
        description=(
            "What changed in each index since the previous release: rows added, removed and "
            "changed (by primary key, per column), columns added, removed or retyped; series "
            "added, revised and removed per collection; collections added, removed or with a new "
            "license, DOI or cancer types. release_notes.json and release_notes.md, published "
            "with the release."
        ),
    )
    def release_notes(
        context: AssetExecutionContext,
        config: ReleaseNotesConfig,
        artifacts: ArtifactStore,
        index_engine: IndexEngine,
        release_target: ReleaseTarget,
        github_release: GitHubReleases,
    ):
        refuse_misconfigured_channels(
            context, release_target, github_release, unless_selected=WHEEL_ASSET
        )
        idc_version = parse_idc_version(context.partition_key)
        location = artifacts.location(idc_version)
        with contextlib.ExitStack() as stack:
            # DuckDB compares local files: on GCS, the two versions' parquet files are copied
            # down for the step (locally, the files themselves).
            directory = stack.enter_context(location.local_copy(_parquet_files(location)))
            try:
                previous, compared = _previous_release(
                    config.against, idc_version, artifacts, release_target, stack
                )
                notes = compute_notes(
                    directory,
                    previous,
                    memory_limit=settings.duckdb_memory_limit(index_engine.duckdb_memory_limit),
                )
            except NotesError as error:
                raise Failure(str(error), allow_retries=False) from error
            for written in write_notes(directory, notes):
                location.upload(written)
        json_path, markdown_path = location.label(NOTES_JSON), location.label(NOTES_MARKDOWN)
        context.log.info(f"release notes against {compared or 'nothing'}: {markdown_path}")
        yield MaterializeResult(
            metadata={
                "notes": MetadataValue.md(render_markdown(notes)),
                "previous": compared or "(none: first version)",
                "path": MetadataValue.path(str(json_path)),
                "markdown_path": MetadataValue.path(str(markdown_path)),
                **headline(notes),
            }
        )
        compared = {} if previous else {"note": "first version: nothing to compare with"}
        for name, problems in warnings(notes, max_row_drop).items():
            outcome = Outcome(name, problems, compared)
            yield outcome.result(AssetKey(NOTES_ASSET), AssetCheckSeverity.WARN)

    return release_notes


def _previous_release(
    against: str,
    idc_version: int,
    artifacts: ArtifactStore,
    release_target: ReleaseTarget,
    stack: contextlib.ExitStack,
) -> tuple[Path | None, str]:
    """The local directory of the release to compare with (a gs:// one downloaded into a
    temporary directory that `stack` removes) and where it comes from; (None, "") when there is
    none."""
    if not against:
        root = open_location(artifacts.root, artifacts.gcp_project)
        earlier = previous_version(root, idc_version)
        if earlier is None:
            return None, ""
        location = artifacts.location(earlier)
        # its notes too: they record each index's primary key then (a changed key is breaking)
        files = [*_parquet_files(location), NOTES_JSON]
        return stack.enter_context(location.local_copy(files)), location.url
    if against.startswith("gs://"):
        bucket = stack.enter_context(release_target.open(against))
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="idc-notes-"))
        return fetch_release(bucket, Path(scratch)), against
    if not Path(against).is_dir():
        raise NotesError(f"against: {against} is not a directory or gs:// prefix")
    return Path(against), against


def _parquet_files(location: ArtifactDirectory) -> list[str]:
    return [name for name in location.names() if name.endswith(".parquet")]
