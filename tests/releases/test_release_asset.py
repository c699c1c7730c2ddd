"""The release asset and `publish_release`: one IDC version's checked artifacts published through the
Dagster definitions, refused when a blocking check of the latest materializations failed or is
missing, to a local directory and to a real fake-gcs-server."""

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, instance_for_test

from idc_index_assets.cli import main
from idc_index_assets.definitions import defs
from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
from idc_index_assets.releases.notes import NOTES_JSON, NOTES_MARKDOWN
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, MANIFEST
from idc_index_assets.releases.wheel import wheel_filename
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.github_server import GitHubServer

N = SAMPLE_VERSIONS
RELEASE = f"{N}.0.0"


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """Point the definitions' resources at a source, and at private artifacts and bucket."""

    def configure(source, bucket=None):
        monkeypatch.setenv("IDC_SOURCE_DIR", str(source))
        monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
        monkeypatch.setenv("IDC_RELEASE_BUCKET", str(bucket or tmp_path / "bucket"))
        monkeypatch.setenv("IDC_RELEASE_VERSION", "")
        return tmp_path / "artifacts" / str(N)

    return configure


def run(instance, job: str, selection=None):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=str(N),
        asset_selection=[AssetKey(name) for name in selection] if selection else None,
        raise_on_error=False,
    )


def failures(result) -> str:
    """The step failures' messages and descriptions of a run, as one text."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            texts.append(data.error.message if data.error else "")
            if data.user_failure_data:
                texts.append(data.user_failure_data.description or "")
    return "\n".join(texts)


def latest_release_metadata(instance) -> dict:
    records = instance.fetch_materializations(AssetKey(RELEASE_ASSET), limit=1).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


@pytest.fixture
def built(sample_source, environment):
    """A Dagster instance in which every index of the sample's newest version was materialized."""
    artifacts = environment(sample_source)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [str(N)])
        assert run(instance, "build_indices").success
        yield instance, artifacts


def test_publish_release_publishes_the_versioned_and_current_paths(built, tmp_path):
    instance, artifacts = built
    result = run(instance, "publish_release")
    assert result.success, failures(result)

    bucket = tmp_path / "bucket"
    versioned, current = bucket / RELEASE / ARTIFACTS, bucket / CURRENT / ARTIFACTS
    published = sorted(p.name for p in artifacts.iterdir() if p.is_file())
    assert {wheel_filename(RELEASE), NOTES_JSON, NOTES_MARKDOWN} <= set(published)
    for directory in (versioned, current):
        assert sorted(p.name for p in directory.iterdir()) == sorted([*published, MANIFEST])
        # What a downstream user does after downloading: every checksum holds.
        sidecars = sorted(p.name for p in directory.glob("*.sha256"))
        subprocess.run(["sha256sum", "--quiet", "-c", *sidecars], cwd=directory, check=True)
    manifest = json.loads((versioned / MANIFEST).read_text())
    assert (manifest["version"], manifest["idc_version"]) == (RELEASE, N)
    assert sorted(f["name"] for f in manifest["files"]) == published

    metadata = latest_release_metadata(instance)
    objects = {record.data["path"]: record.data for record in metadata["objects"].records}
    assert set(objects) == {
        f"{prefix}/{ARTIFACTS}/{name}"
        for prefix in (RELEASE, CURRENT)
        for name in manifest_names(manifest)
    }
    parquet = objects[f"{RELEASE}/{ARTIFACTS}/idc_index.parquet"]
    assert parquet["sha256"] == (artifacts / "idc_index.parquet.sha256").read_text().split()[0]
    assert parquet["size"] == (artifacts / "idc_index.parquet").stat().st_size
    assert metadata["bytes_uploaded"] == sum(f["size"] for f in manifest["files"]) + len(
        (versioned / MANIFEST).read_bytes()
    )

    # The same release again: everything verified, nothing uploaded or touched.
    mtimes = {p: p.stat().st_mtime_ns for p in versioned.iterdir()}
    result = run(instance, "publish_release")
    assert result.success, failures(result)
    assert latest_release_metadata(instance)["bytes_uploaded"] == 0
    assert {p: p.stat().st_mtime_ns for p in versioned.iterdir()} == mtimes


def test_a_symlink_or_a_stray_file_is_refused_naming_it(built, tmp_path):
    """`ln -s /etc/passwd <artifacts>/N/passwd` and a file no index owns: the release step fails
    naming both, and nothing reaches the bucket."""
    instance, artifacts = built
    (artifacts / "passwd").symlink_to("/etc/passwd")
    (artifacts / "idc_index_old.parquet").write_bytes(
        (artifacts / "idc_index.parquet").read_bytes()
    )
    result = run(instance, "publish_release")
    assert not result.success
    text = failures(result)
    assert f"{artifacts / 'passwd'}: a symbolic link (to /etc/passwd)" in text
    assert f"{artifacts / 'idc_index_old.parquet'}: not a file of release {RELEASE}" in text
    assert not (tmp_path / "bucket").exists()


def manifest_names(manifest: dict) -> list[str]:
    return [f["name"] for f in manifest["files"]] + [MANIFEST]


def test_a_failed_blocking_check_blocks_the_release(null_key_source, environment, tmp_path):
    artifacts = environment(null_key_source)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [str(N)])
        assert not run(instance, "build_indices").success  # idc_index: primary_key fails
        result = run(instance, "publish_release", [RELEASE_ASSET])
    assert not result.success
    assert f"idc_index: not materialized for IDC version {N}" in failures(result)
    assert not (artifacts / "idc_index.parquet").exists()  # failed files never became visible
    assert not (tmp_path / "bucket").exists()


def test_checked_files_without_check_results_are_not_released(
    built_artifacts, sample_source, environment, tmp_path
):
    """Good files copied in by hand have no materialization (and no check result) in the
    instance: the release names every such index and publishes nothing."""
    artifacts = environment(sample_source)
    shutil.copytree(built_artifacts, artifacts)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [str(N)])
        assert run(instance, "package_wheel", [WHEEL_ASSET]).success
        result = run(instance, "publish_release", [RELEASE_ASSET])
    assert not result.success
    text = failures(result)
    assert f"idc_index: not materialized for IDC version {N}" in text
    assert f"collections_index: not materialized for IDC version {N}" in text
    assert not (tmp_path / "bucket").exists()


def test_a_fixed_rebuild_releases(null_key_source, sample_source, environment, tmp_path):
    """Check results follow the latest materialization: after a build whose check failed, a
    rebuild from fixed data passes and releases."""
    environment(null_key_source)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [str(N)])
        assert not run(instance, "build_indices").success
        environment(sample_source)
        assert run(instance, "build_indices", ["idc_index", "tcia_idc_subset"]).success
        result = run(instance, "publish_release")
    assert result.success, failures(result)
    assert (tmp_path / "bucket" / RELEASE / ARTIFACTS / MANIFEST).exists()


def test_a_release_version_other_than_the_artifacts_is_refused(built, monkeypatch, tmp_path):
    instance, _ = built
    monkeypatch.setenv("IDC_RELEASE_VERSION", f"{N}.0.1")  # the artifacts embed N.0.0
    result = run(instance, "publish_release", [RELEASE_ASSET])
    assert not result.success
    text = failures(result)
    assert f"{N}.0.1" in text and "integrity" in text
    monkeypatch.setenv("IDC_RELEASE_VERSION", f"{N + 1}.0.0")  # X must equal N
    assert not run(instance, "publish_release", [RELEASE_ASSET]).success
    assert not (tmp_path / "bucket").exists()


@pytest.mark.parametrize("setting", ["0", "four"])
def test_a_bad_concurrency_setting_is_named(built, monkeypatch, tmp_path, setting):
    instance, _ = built
    monkeypatch.setenv("IDC_RELEASE_CONCURRENCY", setting)
    result = run(instance, "publish_release", [RELEASE_ASSET])
    assert not result.success
    message = f"IDC_RELEASE_CONCURRENCY must be a whole number of at least 1, got '{setting}'"
    assert message in failures(result)
    assert not (tmp_path / "bucket").exists()


def test_release_to_gcs_through_the_resource(built, gcs, monkeypatch):
    """IDC_RELEASE_BUCKET=gs://… goes through dagster-gcp's GCSResource to the server named by
    STORAGE_EMULATOR_HOST, with no credentials configured."""
    instance, artifacts = built
    name = f"idc-release-{uuid.uuid4().hex[:8]}"
    gcs.create_bucket(name)
    monkeypatch.setenv("IDC_RELEASE_BUCKET", f"gs://{name}")
    result = run(instance, "publish_release")
    assert result.success, failures(result)

    blobs = {blob.name: blob for blob in gcs.list_blobs(name)}
    files = [p.name for p in artifacts.iterdir() if p.is_file()]
    for prefix in (RELEASE, CURRENT):
        assert {n for n in blobs if n.startswith(f"{prefix}/")} == {
            f"{prefix}/{ARTIFACTS}/{f}" for f in [*files, MANIFEST]
        }
    parquet = blobs[f"{RELEASE}/{ARTIFACTS}/idc_index.parquet"]
    assert parquet.content_type == "application/vnd.apache.parquet"
    assert "immutable" in parquet.cache_control
    metadata = latest_release_metadata(instance)
    generations = {r.data["path"]: r.data["generation"] for r in metadata["objects"].records}
    assert generations[parquet.name] == parquet.generation


def test_the_release_command(sample_source, environment, monkeypatch, tmp_path, capsys):
    environment(sample_source)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["build"]) == 0
    target = tmp_path / "elsewhere"
    assert main(["release", "--idc-version", str(N), "--bucket", str(target)]) == 0
    # One line per channel: what was uploaded, what was there already.
    first = re.search(
        rf"^bucket {re.escape(str(target))}: (\d+) uploaded, 0 unchanged ",
        capsys.readouterr().out,
        re.MULTILINE,
    )
    assert first and int(first[1]) > 0
    assert main(["release", "--idc-version", str(N), "--bucket", str(target)]) == 0
    assert f"bucket {target}: 0 uploaded, {first[1]} unchanged (0 bytes uploaded)" in (
        capsys.readouterr().out
    )
    manifest = json.loads((target / CURRENT / ARTIFACTS / MANIFEST).read_text())
    assert manifest["version"] == RELEASE
    # GCS without credentials: one attempt, failing with what is missing and how to provide it.
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on Google Cloud: skip its metadata server
    assert main(["release", "--bucket", "gs://idc-release-without-credentials"]) == 1
    err = capsys.readouterr().err
    (failed,) = [line for line in err.splitlines() if line.startswith("FAILED")]
    # refused in the run's first step, before the wheel is built
    assert failed == (
        f"FAILED {WHEEL_ASSET}: channel bucket (gs://idc-release-without-credentials): "
        "no Google Cloud credentials found (DefaultCredentialsError): "
        "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to "
        "a service account key file"
    )
    assert "retrying" not in err
    latest = DagsterInstance.get().get_runs(limit=1)[0]
    retries = DagsterInstance.get().get_records_for_run(
        latest.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY
    )
    assert not retries.records
    # X is not N: refused before any work, and no wheel of that version is left behind.
    assert main(["release", "--version", f"{N + 1}.0.0"]) == 2
    assert f"{N + 1}.0.0 is not for IDC version {N}" in capsys.readouterr().err
    assert not list(Path(os.environ["IDC_ARTIFACTS_DIR"]).rglob(f"*{N + 1}.0.0*.whl"))


TOKEN = "the-token-value"


@pytest.fixture
def github(monkeypatch):
    """A GitHub API server on loopback, configured as the GitHub release channel."""
    with GitHubServer("owner/repo", TOKEN) as server:
        monkeypatch.setenv("IDC_GITHUB_REPOSITORY", "owner/repo")
        monkeypatch.setenv("IDC_GITHUB_API_URL", server.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield server


def test_publish_release_publishes_to_every_channel(built, github, tmp_path):
    instance, artifacts = built
    result = run(instance, "publish_release")
    assert result.success, failures(result)

    published = sorted(p.name for p in artifacts.iterdir() if p.is_file())
    release = github.release(RELEASE)
    assert not release.draft
    assert sorted(a.name for a in release.assets.values()) == sorted([*published, MANIFEST])
    bucket_manifest = (tmp_path / "bucket" / RELEASE / ARTIFACTS / MANIFEST).read_bytes()
    assert release.asset(MANIFEST).data == bucket_manifest  # one manifest, in both channels
    assert release.body == (artifacts / NOTES_MARKDOWN).read_text()  # the notes describe it
    metadata = latest_release_metadata(instance)
    web = github.url("web")
    assert metadata["github_release_url"] == f"{web}/owner/repo/releases/tag/{RELEASE}"
    everything = len(published) + 1
    assert (metadata["github_uploaded"], metadata["github_unchanged"]) == (everything, 0)
    assert (metadata["bucket_uploaded"], metadata["bucket_unchanged"]) == (everything, 0)

    result = run(instance, "publish_release")  # again: both channels verify, nothing is uploaded
    assert result.success, failures(result)
    metadata = latest_release_metadata(instance)
    assert (metadata["github_uploaded"], metadata["github_unchanged"]) == (0, everything)
    assert (metadata["bucket_uploaded"], metadata["bucket_unchanged"]) == (0, everything)
    assert not any(TOKEN in str(entry) for entry in instance.all_logs(result.run_id))


def test_a_failed_channel_fails_the_step_naming_it_and_the_file(built, github, tmp_path):
    instance, artifacts = built
    github.fail("POST", r".*/assets", 403, message="Resource not accessible by integration")
    result = run(instance, "publish_release")
    assert not result.success
    text = failures(result)
    first = sorted(p.name for p in artifacts.iterdir() if p.is_file())[0]
    assert f"channel github (owner/repo): uploading {first}" in text
    assert "contents: write" in text
    # Not retried (GitHub refused); the bucket channel published all the same.
    assert len([r for r in github.requests if r.method == "POST" and "/assets" in r.path]) == 1
    assert (tmp_path / "bucket" / RELEASE / ARTIFACTS / MANIFEST).exists()
    assert github.release(RELEASE).draft

    result = run(instance, "publish_release", [RELEASE_ASSET])  # the re-run completes the draft
    assert result.success, failures(result)
    assert not github.release(RELEASE).draft


def test_a_github_channel_without_a_token_fails_before_any_work(
    built, github, monkeypatch, tmp_path
):
    instance, _ = built
    monkeypatch.setenv("GITHUB_TOKEN", "")
    result = run(instance, "publish_release", [RELEASE_ASSET])
    assert not result.success
    assert "GITHUB_TOKEN is not set" in failures(result)
    assert not (tmp_path / "bucket").exists() and github.requests == []
