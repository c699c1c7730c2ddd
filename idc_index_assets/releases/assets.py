"""What leaves the pipeline, per IDC version: the `idc-index-data` wheel built from the checked
artifacts, and the release that publishes every artifact to the release bucket.

Both are downstream of every index, so lineage shows indices → wheel → release, and a failed
blocking check in the same run stops them. Both re-run the blocking checks on the files
themselves, so nothing that changed or broke since its materialization goes out; the release also
refuses when a blocking check of an index's latest materialization failed or has no result (the
instance's check records)."""

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AutomationCondition,
    Config,
    ConfigurableResource,
    DagsterInstance,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_gcp import GCSResource
from pydantic import Field
from tqdm import tqdm

from idc_index_assets import settings
from idc_index_assets.failures import (
    RETRY_POLICY,
    TRANSIENT_STATUS,
    describe,
    is_transient,
    only_transient_retried,
    redact,
)
from idc_index_assets.indices.assets import IDC_VERSION_PARTITIONS
from idc_index_assets.indices.checks import BLOCKING_CHECKS, evaluate_files
from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import sha256_file
from idc_index_assets.releases.channels import channel_problems
from idc_index_assets.releases.checks import (
    RELEASE_CHECK,
    WHEEL_CHECK,
    check_result,
    check_spec,
    release_problems,
    wheel_problems,
)
from idc_index_assets.releases.github import (
    CHANNEL as GITHUB,
)
from idc_index_assets.releases.github import (
    GitHubReleases,
    publish_github_release,
)
from idc_index_assets.releases.notes import NOTES_ASSET
from idc_index_assets.releases.publish import (
    ARTIFACTS,
    CURRENT,
    GcsReleaseBucket,
    PublishReport,
    ReleaseBucket,
    ReleaseRefused,
    Step,
    configure_bucket,
    open_bucket,
    publish_release,
    validate_release,
)
from idc_index_assets.releases.rules import read_notes, release_rule_problems
from idc_index_assets.releases.wheel import build_wheel, wheel_filename
from idc_index_assets.settings import parse_idc_version

PUBLISH_WHEN_CHECKED = (
    AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager, after every upstream blocking check passed")

_RELEASE_BUCKET = os.environ.get("IDC_RELEASE_BUCKET") or settings.DEFAULTS["IDC_RELEASE_BUCKET"]
WHEEL_ASSET = "idc_index_data_wheel"
PUBLISH_JOB = "publish_release"
RELEASE_ASSET = "idc_index_release"
PACKAGED_INDICES = tuple(spec for spec in INDICES if not spec.supplementary)


def blocking_failures(directory, idc_version: int, release_version: str, specs) -> list[str]:
    """Every failed blocking check of the given indices' files, as `index: check: problem`."""
    failures = []
    for spec in specs:
        outcomes = evaluate_files(
            spec, directory, release_version=release_version, idc_version=idc_version
        )
        failures += [f"{spec.name}: {o.name}: {p}" for o in outcomes for p in o.problems]
    return failures


def unchecked_materializations(instance: DagsterInstance, partition: str, specs) -> list[str]:
    """Every blocking check of the indices' latest materializations (of one partition) that did
    not pass, as `index: check: why`; an index never materialized for the partition counts too."""
    keys = [
        AssetCheckKey(AssetKey(spec.name), check) for spec in specs for check in BLOCKING_CHECKS
    ]
    infos = {
        info.check_key: info
        for info in instance.event_log_storage.get_asset_check_partition_info(
            keys, partition_keys=[partition]
        )
        if info.partition_key == partition
    }
    problems = []
    for spec in specs:
        asset_key = AssetKey(spec.name)
        latest = AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition])
        if not instance.fetch_materializations(latest, limit=1).records:
            problems.append(f"{spec.name}: not materialized for IDC version {partition}")
            continue
        for check in BLOCKING_CHECKS:
            info = infos.get(AssetCheckKey(asset_key, check))
            if info is None:
                problems.append(f"{spec.name}: {check}: no result")
            elif not info.is_current:
                problems.append(f"{spec.name}: {check}: no result for the latest materialization")
            elif info.latest_execution_status != AssetCheckExecutionRecordStatus.SUCCEEDED:
                status = info.latest_execution_status.value.lower()
                problems.append(f"{spec.name}: {check}: {status}")
    return problems


def package_wheel(store: ArtifactStore, idc_version: int, directory: Path | None = None) -> Path:
    """Build the wheel of one IDC version into its local artifacts directory (`directory`: a
    local copy of them); returns its path. Raises ValueError when a blocking check fails."""
    directory = directory or store.directory(idc_version)
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


def _refusal(context: AssetExecutionContext, what: str, problems: list[str]) -> Failure:
    for problem in problems:
        context.log.error(problem)
    return Failure(
        description=f"{what}:\n  " + "\n  ".join(problems),
        metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in problems))},
        allow_retries=False,
    )


UPLOAD_TIMEOUT_S = 900
# A 429, a 5xx or a failed connection: the upload is tried again after 2, 4 and 8 s.
UPLOAD_ATTEMPTS = 4
UPLOAD_BACKOFF_S = 2.0
# How package indices refuse a file they have: PyPI "400 File already exists", pypiserver
# "Package '<file>' already exists!", others 409 Conflict.
_ALREADY_THERE = re.compile(r"already exists|409 Conflict", re.IGNORECASE)
# twine's report of an answer ("HTTPError: 503 Service Unavailable from <url>") and of a
# connection that failed
_HTTP_ERROR = re.compile(r"HTTPError: (\d{3})\b[^\n]*")
_CONNECTION_ERROR = re.compile(
    r"[^\n]*(ConnectionError|Connection refused|Connection reset|Max retries exceeded|timed out)"
    r"[^\n]*"
)


class PackageIndexError(RuntimeError):
    """The package index refused the wheel, or still failed (`transient`: 429, 5xx, a failed
    connection) after the retries."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def _upload_failure(output: str, returncode: int) -> tuple[str, bool]:
    """Why twine failed, from its output, and whether trying again may help."""
    if answer := _HTTP_ERROR.search(output):
        reason = answer.group(0).strip()
        body = output.partition("Content received from server:")[2].strip().splitlines()
        if body:
            reason += f" ({' '.join(line.strip() for line in body[:3])[:300]})"
        return reason, int(answer.group(1)) in TRANSIENT_STATUS
    if connection := _CONNECTION_ERROR.search(output):
        return connection.group(0).strip().removeprefix("ERROR").strip(), True
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return (lines[-1] if lines else f"twine exited with status {returncode} and no message"), False


class PackageIndex(ConfigurableResource):
    """A package index the wheel is uploaded to (the PyPI upload API, through twine), when a URL
    is configured; credentials come from the environment and never reach a command line or log
    (nor do any embedded in the URL: every message shows it redacted)."""

    url: str = Field(
        default="",
        description="Upload URL, e.g. https://upload.pypi.org/legacy/ (empty: no upload)",
    )
    username: str = Field(
        default="__token__", description="Account name (__token__ for an API token)"
    )
    password: str = Field(default="", description="Password or API token")

    @property
    def shown_url(self) -> str:
        return redact(self.url)

    def _hidden(self, text: str) -> str:
        text = redact(text).replace(self.url, self.shown_url)
        secrets = [self.password, unquote(urlsplit(self.url).password or "")]
        for secret in filter(None, secrets):
            text = text.replace(secret, "***")
        return text

    def upload(self, wheel: Path, log: Callable[[str], None] = print) -> str:
        """Upload the wheel and its metadata; says what happened. A file the index already has
        is left alone (indices never replace a file; the wheel is reproducible), so re-runs pass.
        A 429, 5xx or failed connection is tried again (UPLOAD_ATTEMPTS, backing off); a
        failure raises PackageIndexError with the index's answer."""
        # Credentials embedded in the URL go to twine as its username and password, not on its
        # command line. --verbose: twine then shows the server's reason for a refusal.
        parts = urlsplit(self.url)
        username, password = self.username, self.password
        if parts.password is not None and not password:
            username, password = unquote(parts.username or ""), unquote(parts.password)
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        command = [sys.executable, "-m", "twine", "--no-color", "upload", "--non-interactive"]
        command += ["--verbose", "--disable-progress-bar", "--repository-url", url, str(wheel)]
        environment = {**os.environ, "TWINE_USERNAME": username, "TWINE_PASSWORD": password}
        where = f"{wheel.name} to {self.shown_url}"
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                done = subprocess.run(
                    command,
                    env=environment,
                    capture_output=True,
                    text=True,
                    timeout=UPLOAD_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired as error:
                raise TimeoutError(
                    f"uploading {where} timed out after {error.timeout:.0f} s"
                ) from None
            output = self._hidden((done.stdout + done.stderr).strip())
            if done.returncode == 0:
                return f"uploaded {where}"
            if _ALREADY_THERE.search(output):
                return f"{wheel.name} is already on {self.shown_url}; not replaced"
            reason, transient = _upload_failure(output, done.returncode)
            if not transient or attempt == UPLOAD_ATTEMPTS - 1:
                tries = f" ({attempt + 1} attempts)" if attempt else ""
                raise PackageIndexError(
                    f"uploading {where} failed{tries}: {reason}", transient=transient
                )
            wait = UPLOAD_BACKOFF_S * 2**attempt
            log(f"uploading {where}: {reason}; trying again in {wait:.0f} s")
            time.sleep(wait)
        raise AssertionError("unreachable")


class ReleaseTarget(ConfigurableResource):
    """Where releases are published: a GCS bucket (through dagster-gcp's GCSResource, which
    honours STORAGE_EMULATOR_HOST) or, by default, a local directory with the same layout."""

    bucket: str = Field(
        default="data/release", description="gs://bucket[/prefix], or a local directory"
    )
    gcp_project: str = Field(default="", description="GCS project (empty: ADC's)")
    concurrency: str = Field(default="4", description="Parallel uploads and copies")
    configure_bucket: str = Field(
        default="off",
        description="on: set CORS (GET/HEAD with Range) and public read on the bucket first",
    )

    @property
    def on_gcs(self) -> bool:
        return self.bucket.startswith("gs://")

    @contextlib.contextmanager
    def open(self, target: str = "") -> Iterator[ReleaseBucket]:
        """The release bucket, or `target` (another gs:// prefix or directory, such as an
        earlier release to read) with the same credentials."""
        target = target or self.bucket
        if not target.startswith("gs://"):
            yield open_bucket(target)
            return
        client = GCSResource(project=self.gcp_project or None).get_client()
        try:
            yield open_bucket(target, client=client)
        finally:
            client.close()

    def link(self, path: str) -> MetadataValue:
        """Where readers find `path`: its public URL on GCS, else its local path."""
        if self.on_gcs:
            bucket = self.bucket.removeprefix("gs://")
            return MetadataValue.url(f"https://storage.googleapis.com/{bucket}/{path}")
        return MetadataValue.path(str(Path(self.bucket).resolve() / path))

    @property
    def workers(self) -> int:
        try:
            return settings.parse_concurrency(self.concurrency)
        except ValueError as error:
            raise ValueError(f"IDC_RELEASE_CONCURRENCY {error}") from None

    @property
    def configures_bucket(self) -> bool:
        return settings.switched_on(self.configure_bucket)


@asset(
    name=WHEEL_ASSET,
    partitions_def=IDC_VERSION_PARTITIONS,
    deps=[AssetKey(spec.name) for spec in PACKAGED_INDICES],
    group_name="publishing",
    kinds={"python", "wheel"},
    automation_condition=PUBLISH_WHEN_CHECKED,
    retry_policy=RETRY_POLICY,
    check_specs=[check_spec(WHEEL_ASSET, WHEEL_CHECK, IDC_VERSION_PARTITIONS)],
    description=(
        "The idc-index-data wheel of one IDC version: the bundled indices' Parquet files, the "
        "schema and SQL of every index and INDEX_METADATA, a drop-in replacement for the package "
        "on PyPI. Written with its .sha256 beside the indices."
    ),
)
def idc_index_data_wheel(
    context: AssetExecutionContext,
    artifacts: ArtifactStore,
    package_index: PackageIndex,
    release_target: ReleaseTarget,
    github_release: GitHubReleases,
):
    refuse_misconfigured_channels(context, release_target, github_release)
    with only_transient_retried():
        yield from _package(context, artifacts, package_index)


def refuse_misconfigured_channels(
    context: AssetExecutionContext,
    release_target: ReleaseTarget,
    github_release: GitHubReleases,
    *,
    unless_selected: str | None = None,
) -> None:
    """In a run that publishes (its selection holds the release), the first step checks every
    channel's configuration before any work: a missing token, bucket or credentials fails the
    run before the wheel (or, without the wheel, the notes) is computed. `unless_selected`: an
    asset of the run that checks in its place (so one run reports the problem once)."""
    selection = context.run.asset_selection
    if selection:
        publishes = AssetKey(RELEASE_ASSET) in selection
        if unless_selected and AssetKey(unless_selected) in selection:
            return
    else:
        publishes = context.job_def.name == PUBLISH_JOB
        if unless_selected and publishes:
            return
    if publishes and (problems := channel_problems(release_target, github_release)):
        for problem in problems:
            context.log.error(problem)
        raise Failure(
            description="\n".join(problems),  # each line names its channel
            metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in problems))},
            allow_retries=False,
        )


def _package(
    context: AssetExecutionContext, artifacts: ArtifactStore, package_index: PackageIndex
) -> Iterator[MaterializeResult | AssetCheckResult]:
    idc_version = parse_idc_version(context.partition_key)
    location = artifacts.location(idc_version)
    with location.local_copy() as directory:
        wheel = package_wheel(artifacts, idc_version, directory)
        for built in (wheel, wheel.with_name(f"{wheel.name}.sha256")):
            location.upload(built)  # the wheel first, then its checksum
        context.log.info(f"built {location.label(wheel.name)}")
        upload = "(no package index configured)"
        if package_index.url:
            upload = package_index.upload(wheel, log=context.log.warning)
            context.log.info(upload)
        release_version = artifacts.release_version_for(idc_version)
        yield MaterializeResult(
            metadata={
                "path": MetadataValue.path(location.label(wheel.name)),
                "bytes": wheel.stat().st_size,
                "sha256": sha256_file(wheel),
                "version": release_version,
                "uploaded_to": package_index.shown_url or "(no package index configured)",
                "upload": upload,
            }
        )
        problems = wheel_problems(wheel, directory, release_version, PACKAGED_INDICES)
    yield check_result(
        WHEEL_ASSET, WHEEL_CHECK, problems, wheel=MetadataValue.path(location.label(wheel.name))
    )


# --- the release ----------------------------------------------------------------------------------


class _Progress:
    """Publish steps as log lines (every object at debug level, each tenth at info) and, on a
    terminal, a progress bar over the bytes to upload and copy."""

    def __init__(self, context: AssetExecutionContext, objects: int, total_bytes: int):
        self.context, self.objects, self.done = context, objects, 0
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            desc="publishing",
            disable=not sys.stderr.isatty(),
        )

    def __call__(self, step: Step) -> None:
        self.bar.update(step.size)
        self.done += 1
        message = f"{step.action} {step.path} ({step.size} bytes)"
        if self.done % max(self.objects // 10, 1) == 0:
            self.context.log.info(f"[{self.done}/{self.objects}] {message}")
        else:
            self.context.log.debug(message)

    def close(self) -> None:
        self.bar.close()


def _objects_table(report: PublishReport) -> MetadataValue:
    columns = ("path", "size", "sha256", "md5", "generation", "action")
    return MetadataValue.table(
        records=[
            TableRecord({c: getattr(o, c) for c in columns})
            for o in sorted(report.objects.values(), key=lambda o: o.path)
        ],
        schema=TableSchema(
            columns=[
                TableColumn("path", "string"),
                TableColumn("size", "int"),
                TableColumn("sha256", "string"),
                TableColumn("md5", "string"),
                TableColumn("generation", "int"),
                TableColumn("action", "string"),
            ]
        ),
    )


class ReleaseConfig(Config):
    allow_incomplete_previous: bool = Field(
        default=False,
        description="Publish even though the release notes compare with a previous release "
        "that lacks some indices (their changes are unknown)",
    )
    allow_breaking_change: bool = Field(
        default=False,
        description="Publish breaking changes (an index or column removed, renamed or retyped, "
        "a key changed) under the previous release's major version",
    )


@asset(
    name=RELEASE_ASSET,
    partitions_def=IDC_VERSION_PARTITIONS,
    deps=[AssetKey(spec.name) for spec in RELEASED_INDICES]
    + [AssetKey(WHEEL_ASSET), AssetKey(NOTES_ASSET)],
    group_name="publishing",
    # Where IDC_RELEASE_BUCKET (and IDC_GITHUB_REPOSITORY) send releases when the definitions load.
    kinds={"gcs" if _RELEASE_BUCKET.startswith("gs://") else "file"}
    | ({"github"} if os.environ.get("IDC_GITHUB_REPOSITORY") else set()),
    automation_condition=PUBLISH_WHEN_CHECKED,
    retry_policy=RETRY_POLICY,
    check_specs=[check_spec(RELEASE_ASSET, RELEASE_CHECK, IDC_VERSION_PARTITIONS)],
    description=(
        "One IDC version's release: every artifact (indices, sidecars, schemas, SQL, the wheel, "
        "the release notes) "
        f"published to `<bucket>/<version>/{ARTIFACTS}/` (immutable) and "
        f"`<bucket>/{CURRENT}/{ARTIFACTS}/` (the newest release), each with a "
        "release_manifest.json; the bucket is IDC_RELEASE_BUCKET (GCS or a local directory). "
        "With IDC_GITHUB_REPOSITORY set, also the assets of that repository's GitHub release "
        "`<version>`."
    ),
)
def idc_index_release(
    context: AssetExecutionContext,
    config: ReleaseConfig,
    artifacts: ArtifactStore,
    release_target: ReleaseTarget,
    github_release: GitHubReleases,
):
    with only_transient_retried():
        yield from _release(context, config, artifacts, release_target, github_release)


def _release(
    context: AssetExecutionContext,
    config: ReleaseConfig,
    artifacts: ArtifactStore,
    release_target: ReleaseTarget,
    github_release: GitHubReleases,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    idc_version = parse_idc_version(context.partition_key)
    workers = release_target.workers  # a bad setting fails here, before any work
    if problems := channel_problems(release_target, github_release):
        raise _refusal(context, "the release channels are misconfigured", problems)
    # The channels publish local files: on GCS, the version's artifacts are copied down for the
    # step (and verified against their checksums below); locally, the files themselves.
    with artifacts.location(idc_version).local_copy() as directory:
        yield from _publish(
            context,
            config,
            artifacts,
            release_target,
            github_release,
            directory,
            idc_version,
            workers,
        )


def _publish(
    context: AssetExecutionContext,
    config: ReleaseConfig,
    artifacts: ArtifactStore,
    release_target: ReleaseTarget,
    github_release: GitHubReleases,
    directory: Path,
    idc_version: int,
    workers: int,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    release_version = artifacts.release_version_for(idc_version)
    what = f"not publishing IDC version {idc_version} as release {release_version}"
    problems = unchecked_materializations(context.instance, context.partition_key, RELEASED_INDICES)
    problems += blocking_failures(directory, idc_version, release_version, RELEASED_INDICES)
    if not (directory / wheel_filename(release_version)).is_file():
        problems.append(f"{wheel_filename(release_version)}: missing; materialize {WHEEL_ASSET}")
    notes = read_notes(directory)
    if notes is not None:
        problems += release_rule_problems(
            notes,
            release_version,
            allow_incomplete_previous=config.allow_incomplete_previous,
            allow_breaking_change=config.allow_breaking_change,
        )
    if problems:
        raise _refusal(context, what, problems)
    indices = [spec.name for spec in RELEASED_INDICES]
    try:
        validated = validate_release(directory, release_version, idc_version, indices=indices)
    except ReleaseRefused as refused:
        raise _refusal(context, refused.reason, refused.problems) from refused

    # Channels are independent: each is tried, and each is idempotent, so a re-run completes
    # what a failed one left. One failed channel fails the step, naming it.
    failed: list[str] = []
    retry = True  # unless a channel failed for good (see `failures`)
    report, github_report = None, None
    files = [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")]
    progress = _Progress(context, 2 * (len(files) + 1), 2 * sum(p.stat().st_size for p in files))
    try:
        with release_target.open() as bucket:
            if release_target.configures_bucket and isinstance(bucket, GcsReleaseBucket):
                configure_bucket(bucket, public_read=True)
                context.log.info(f"{bucket.target}: CORS and public read set")
            report = publish_release(
                directory,
                bucket,
                release_version,
                idc_version,
                indices=indices,
                files=validated,
                concurrency=workers,
                progress=progress,
                log=context.log.info,
            )
            # Read back what the bucket now holds, as its readers will.
            read_back, channels = release_problems(bucket, release_version)
    except Exception as error:
        failed.append(f"channel bucket ({release_target.bucket}): {describe(error)}")
        retry &= is_transient(error)
    finally:
        progress.close()
    if github_release.enabled:
        progress = _Progress(context, len(files) + 1, sum(p.stat().st_size for p in files))
        try:
            github_report = publish_github_release(
                directory,
                validated,
                github_release.open(stop=run_is_stopping),
                release_version,
                idc_version,
                created=report.created if report else datetime.now(UTC).isoformat("T", "seconds"),
                progress=progress,
                log=context.log.info,
            )
        except Exception as error:
            failed.append(f"channel {GITHUB} ({github_release.repository}): {describe(error)}")
            retry &= is_transient(error)
        finally:
            progress.close()
    if failed:
        for failure in failed:
            context.log.error(failure)
        raise Failure(
            description="\n".join(failed),  # each line names its channel and where it goes
            metadata={"problems": MetadataValue.md("\n".join(f"- {f}" for f in failed))},
            allow_retries=retry,
        )
    versioned = f"{release_version}/{ARTIFACTS}/"
    in_versioned = [o for o in report.objects.values() if o.path.startswith(versioned)]
    yield MaterializeResult(
        metadata={
            "target": report.target,
            "release_version": release_version,
            "idc_version": idc_version,
            "created": report.created,
            "url": release_target.link(versioned),
            "bytes_uploaded": report.bytes_uploaded,
            "bytes_copied": report.bytes_copied,
            "deleted_from_current": len(report.deleted),
            "bucket_uploaded": sum(o.action == "uploaded" for o in in_versioned),
            "bucket_unchanged": sum(o.action == "verified" for o in in_versioned),
            **_github_metadata(github_report),
            "objects": _objects_table(report),
        },
    )
    yield check_result(
        RELEASE_ASSET, RELEASE_CHECK, read_back, channels=", ".join(channels) or "none"
    )


def run_is_stopping() -> bool:
    """Whether the run was asked to stop (SIGTERM or SIGINT: terminated from the UI, the CLI's
    process signalled, a pod deleted). Dagster holds the signal until the step returns, so a step
    that waits to retry asks, and stops waiting."""
    from dagster._utils.interrupts import check_captured_interrupt  # no public equivalent

    return check_captured_interrupt()


def _github_metadata(report) -> dict:
    if report is None:
        return {"github_release_url": "(no GitHub repository configured)"}
    return {
        "github_release_url": MetadataValue.url(report.url),
        "github_uploaded": len(report.uploaded),
        "github_unchanged": len(report.unchanged),
        "github_bytes_uploaded": report.bytes_uploaded,
    }
