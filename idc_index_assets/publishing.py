"""What leaves the pipeline: the `idc-index-data` wheel built from one IDC version's checked
artifacts. Downstream of every index, so lineage shows indices → wheel and a failed blocking check
in the same run stops it; it also re-runs the blocking checks on the files themselves, so a wheel
is never built from artifacts that changed or failed since they were materialized."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from .assets import IDC_VERSION_PARTITIONS
from .automation import PUBLISH_WHEN_CHECKED
from .checks import evaluate_files
from .package import build_wheel
from .queries import parse_idc_version
from .registry import INDICES
from .resources import ArtifactStore
from .validation import sha256_file

WHEEL_ASSET = "idc_index_data_wheel"
PACKAGED_INDICES = tuple(spec for spec in INDICES if not spec.supplementary)


def blocking_failures(
    directory, idc_version: int, release_version: str, specs=INDICES
) -> list[str]:
    """Every failed blocking check of the given indices' files, as `index: check: problem`."""
    failures = []
    for spec in specs:
        outcomes = evaluate_files(
            spec, directory, release_version=release_version, idc_version=idc_version
        )
        failures += [f"{spec.name}: {o.name}: {p}" for o in outcomes for p in o.problems]
    return failures


def package_wheel(store: ArtifactStore, idc_version: int):
    """Build the wheel of one IDC version into its artifacts directory; returns its path."""
    directory = store.directory(idc_version)
    release_version = store.release_version_for(idc_version)
    failures = blocking_failures(directory, idc_version, release_version, PACKAGED_INDICES)
    if failures:
        raise ValueError(
            f"not packaging IDC version {idc_version}: blocking checks fail on "
            f"{directory}:\n  " + "\n  ".join(failures)
        )
    return build_wheel(
        directory,
        version=release_version,
        out_dir=directory,
        bundled=[spec.name for spec in PACKAGED_INDICES if spec.in_wheel],
        all_indices=[spec.name for spec in PACKAGED_INDICES],
    )


@asset(
    name=WHEEL_ASSET,
    partitions_def=IDC_VERSION_PARTITIONS,
    deps=[AssetKey(spec.name) for spec in PACKAGED_INDICES],
    group_name="publishing",
    kinds={"python", "wheel"},
    automation_condition=PUBLISH_WHEN_CHECKED,
    description=(
        "The idc-index-data wheel of one IDC version: the bundled indices' Parquet files, the "
        "schema and SQL of every index and INDEX_METADATA, a drop-in replacement for the package "
        "on PyPI. Written with its .sha256 beside the indices."
    ),
)
def idc_index_data_wheel(context: AssetExecutionContext, artifacts: ArtifactStore):
    idc_version = parse_idc_version(context.partition_key)
    try:
        wheel = package_wheel(artifacts, idc_version)
    except (ValueError, FileNotFoundError) as error:
        raise Failure(description=str(error)) from error
    context.log.info(f"built {wheel}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(wheel)),
            "bytes": wheel.stat().st_size,
            "sha256": sha256_file(wheel),
            "version": artifacts.release_version_for(idc_version),
        }
    )
