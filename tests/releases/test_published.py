"""What is published, per channel: the `published_release` observation after a release to a
local bucket and a GitHub API server on loopback, still showing that release after a later
attempt failed; and a misconfigured channel refused in the run's first step, before the wheel or
the notes are computed."""

# ruff: noqa: F811 (the fixtures of test_release_asset, imported, are this module's parameters)

import json

from dagster import AssetKey

from idc_index_assets.definitions import defs
from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, MANIFEST
from idc_index_assets.releases.published import PUBLISHED_ASSET
from idc_index_assets.releases.wheel import wheel_filename
from tests.releases.test_release_asset import (  # noqa: F401
    RELEASE,
    TOKEN,
    built,
    environment,
    failures,
    github,
    run,
)


def observed(instance) -> dict:
    """Observe `published_release` (the channels as the environment configures them)."""
    result = defs.resolve_job_def("observe_published").execute_in_process(instance=instance)
    assert result.success
    (record,) = instance.fetch_observations(AssetKey(PUBLISHED_ASSET), limit=1).records
    return {k: v.value for k, v in record.asset_observation.metadata.items()}


def test_the_published_release_is_observed_per_channel_and_survives_a_failed_attempt(
    built, github, monkeypatch, tmp_path
):
    instance, _ = built
    bucket = tmp_path / "bucket"
    nothing = observed(instance)
    assert (
        nothing["version"] == "(none)"
        and nothing["github_state"] == "no current version to look for"
    )

    assert run(instance, "publish_release").success
    manifest = (bucket / CURRENT / ARTIFACTS / MANIFEST).read_text()
    first = observed(instance)
    files = json.loads(manifest)["files"]
    assert (first["version"], first["files"], first["github_files"]) == (
        RELEASE,
        len(files),
        len(files) + 1,  # the manifest is an asset of the GitHub release too
    )
    assert first["github_state"] == "published" and first["github_problems"] == "none"
    assert first["created"] == json.loads(manifest)["created"]
    shown = {r.data["name"]: r.data["sha256"] for r in first["current_files"].records}
    assert shown == {f["name"]: f["sha256"] for f in files}

    # A later attempt with a broken GitHub channel fails; what is published is still shown.
    monkeypatch.setenv("GITHUB_TOKEN", "")
    assert not run(instance, "publish_release").success
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    again = observed(instance)
    assert (again["version"], again["manifest_sha256"]) == (RELEASE, first["manifest_sha256"])

    # A file GitHub holds with other bytes is named.
    github.release(RELEASE).asset(files[0]["name"]).data = b"other bytes"
    tampered = observed(instance)
    assert files[0]["name"] in tampered["github_problems"]


def test_a_misconfigured_channel_fails_the_first_step_before_any_work(
    built, github, monkeypatch, tmp_path
):
    instance, artifacts = built
    monkeypatch.setenv("GITHUB_TOKEN", "")
    result = run(instance, "publish_release")
    assert not result.success
    assert "GITHUB_TOKEN is not set" in failures(result)
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert failed == {WHEEL_ASSET}  # the first step, once; not the release
    assert not (artifacts / wheel_filename(RELEASE)).exists()  # no wheel was built
    assert github.requests == [] and not (tmp_path / "bucket").exists()
    assert RELEASE_ASSET not in {e.step_key for e in result.all_events if e.is_step_start}
