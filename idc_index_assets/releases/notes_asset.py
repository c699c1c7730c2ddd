"""The `release_notes` asset: per IDC version, what changed in each index since the previous release
(`notes.compute_notes`), written beside the indices as release_notes.json and release_notes.md, so
the release publishes them; the Markdown and the counts are its metadata (Dagster plots the counts
across versions), and `notes.warnings` become its warning-severity asset checks."""

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

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.assets import IDC_VERSION_PARTITIONS
from idc_index_assets.indices.checks import Outcome
from idc_index_assets.indices.queries import parse_idc_version
from idc_index_assets.indices.registry import RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import PUBLISH_WHEN_CHECKED
from idc_index_assets.releases.notes import (
    NOTES_ASSET,
    ROW_COUNT_DROP,
    WARNING_DESCRIPTIONS,
    NotesError,
    compute_notes,
    headline,
    previous_version,
    render_markdown,
    warnings,
    write_notes,
)


class ReleaseNotesConfig(Config):
    against: str = Field(
        default="",
        description="A release directory to compare with, e.g. data/release/current/"
        "release_artifacts (empty: the previous IDC version in the artifact store)",
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
    ):
        idc_version = parse_idc_version(context.partition_key)
        directory = artifacts.directory(idc_version)
        if config.against:
            previous = Path(config.against)
            if not previous.is_dir():
                raise Failure(f"against: {previous} is not a directory", allow_retries=False)
        else:
            earlier = previous_version(Path(artifacts.root), idc_version)
            previous = None if earlier is None else artifacts.directory(earlier)
        try:
            notes = compute_notes(
                directory, previous, memory_limit=index_engine.duckdb_memory_limit
            )
        except NotesError as error:
            raise Failure(str(error), allow_retries=False) from error
        json_path, markdown_path = write_notes(directory, notes)
        context.log.info(f"release notes against {previous or 'nothing'}: {markdown_path}")
        yield MaterializeResult(
            metadata={
                "notes": MetadataValue.md(render_markdown(notes)),
                "previous": str(previous) if previous else "(none: first version)",
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
