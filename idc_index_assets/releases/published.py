"""What is published, per channel: the `published_release` observable asset and the check every
channel's configuration passes before a release does any work.

Observing `published_release` reads what readers see, not what a run said it did: the release
bucket's `current/release_manifest.json` (version, IDC version, creation time, files with size
and sha256) and, with `IDC_GITHUB_REPOSITORY` set, the GitHub release of that version (published
or draft, when, how many assets, which of the manifest's files it lacks or holds with other
bytes). Each observation is an event of its own, so a later release attempt that failed (a red
`idc_index_release`) never hides the release that is still published; the data version is the
manifest's sha256, so the UI marks when what is published changed.
"""

import hashlib
import json
import warnings
from dataclasses import dataclass, field

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BetaWarning,
    DataVersion,
    MetadataValue,
    ObserveResult,
    TableColumn,
    TableRecord,
    TableSchema,
    multi_observable_source_asset,
)

from idc_index_assets.releases.assets import _RELEASE_BUCKET, ReleaseTarget
from idc_index_assets.releases.github import GitHubReleases
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, MANIFEST

PUBLISHED_ASSET = "published_release"


@dataclass
class ChannelState:
    """One channel's current release, as its readers see it."""

    channel: str  # bucket, github
    target: str  # where: the bucket URL, owner/repo
    version: str | None = None
    created: str | None = None  # ISO 8601, UTC
    files: int = 0
    state: str = ""  # published, draft, nothing published, unreadable: <why>
    digest: str | None = None  # sha256 of the manifest (bucket)
    problems: list[str] = field(default_factory=list)


def bucket_state(release_target: ReleaseTarget) -> tuple[ChannelState, dict | None]:
    """The bucket's current release, from its `current/release_artifacts/release_manifest.json`,
    and the manifest itself (None when there is none)."""
    state = ChannelState("bucket", release_target.bucket)
    try:
        with release_target.open() as bucket:
            if bucket.stat(f"{CURRENT}/{ARTIFACTS}/{MANIFEST}") is None:
                state.state = "nothing published"
                return state, None
            raw = bucket.read(f"{CURRENT}/{ARTIFACTS}/{MANIFEST}")
    except Exception as error:  # the bucket is outside this process: report what failed
        state.state = f"unreadable: {error}"
        return state, None
    manifest = json.loads(raw)
    state.version, state.created = manifest.get("version"), manifest.get("created")
    state.files = len(manifest.get("files", []))
    state.digest = hashlib.sha256(raw).hexdigest()
    state.state = "published"
    return state, manifest


def github_state(github_release: GitHubReleases, manifest: dict | None) -> ChannelState:
    """The GitHub release of the bucket's current version: published or draft, its assets, and
    which of the manifest's files it lacks or holds with another sha256 (where GitHub reports
    one)."""
    state = ChannelState("github", github_release.repository.strip())
    if manifest is None:
        state.state = "no current version to look for"
        return state
    version = manifest["version"]
    try:
        repository = github_release.open()
        release = repository.find_release(version)
        if release is None:
            state.state = "nothing published"
            return state
        assets = repository.assets(release)
    except Exception as error:  # GitHub is outside this process: report what failed
        state.state = f"unreadable: {error}"
        return state
    state.version = version
    state.state = "draft" if release.get("draft") else "published"
    state.created = release.get("published_at") or release.get("created_at")
    state.files = len(assets)
    for file in manifest.get("files", []):
        asset = assets.get(file["name"])
        if asset is None:
            state.problems.append(f"{file['name']}: missing")
        elif asset.digest and asset.digest != f"sha256:{file['sha256']}":
            state.problems.append(f"{file['name']}: other bytes ({asset.digest})")
    return state


def _states_table(states: list[ChannelState]) -> MetadataValue:
    columns = ("channel", "target", "state", "version", "created", "files", "problems")
    return MetadataValue.table(
        records=[
            TableRecord(
                {
                    "channel": s.channel,
                    "target": s.target,
                    "state": s.state,
                    "version": s.version or "",
                    "created": s.created or "",
                    "files": s.files,
                    "problems": "; ".join(s.problems[:5]),
                }
            )
            for s in states
        ],
        schema=TableSchema(
            columns=[TableColumn(c, "int" if c == "files" else "string") for c in columns]
        ),
    )


def _files_table(manifest: dict) -> MetadataValue:
    return MetadataValue.table(
        records=[
            TableRecord({"name": f["name"], "size": f["size"], "sha256": f["sha256"]})
            for f in manifest.get("files", [])
        ],
        schema=TableSchema(
            columns=[
                TableColumn("name", "string"),
                TableColumn("size", "int"),
                TableColumn("sha256", "string"),
            ]
        ),
    )


_SPEC = AssetSpec(
    PUBLISHED_ASSET,
    group_name="publishing",
    kinds={"gcs" if "gs://" in str(_RELEASE_BUCKET) else "file"},
    description=(
        "What is published now, per channel: the release bucket's current release (its "
        f"{CURRENT}/{ARTIFACTS}/{MANIFEST}: version, IDC version, time, files and their sha256) "
        "and, with IDC_GITHUB_REPOSITORY set, the GitHub release of that version (published or "
        "draft, assets, files it lacks or holds with other bytes). Observe it to see the "
        "channels' state, whatever later release runs did."
    ),
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)
    _observable = multi_observable_source_asset(
        name=PUBLISHED_ASSET, specs=[_SPEC], description=_SPEC.description
    )


@_observable
def published_release(
    context: AssetExecutionContext, release_target: ReleaseTarget, github_release: GitHubReleases
):
    bucket, manifest = bucket_state(release_target)
    states = [bucket]
    if github_release.enabled:
        states.append(github_state(github_release, manifest))
    for state in states:
        context.log.info(
            f"{state.channel} {state.target}: {state.state}"
            + (f", {state.version} ({state.files} files, {state.created})" if state.version else "")
        )
    metadata = {
        "channels": _states_table(states),
        "version": bucket.version or "(none)",
        "created": bucket.created or "",
        "files": bucket.files,
        "manifest_sha256": bucket.digest or "",
    }
    if manifest is not None:
        metadata["idc_version"] = manifest.get("idc_version")
        metadata["current_files"] = _files_table(manifest)
    github = next((s for s in states if s.channel == "github"), None)
    if github is not None:
        metadata |= {
            "github_state": github.state,
            "github_files": github.files,
            "github_problems": "\n".join(github.problems) or "none",
        }
    return ObserveResult(data_version=DataVersion(bucket.digest or bucket.state), metadata=metadata)
