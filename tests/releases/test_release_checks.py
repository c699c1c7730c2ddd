"""The checks on what leaves: the wheel installed into a scratch virtual environment and compared
with the artifacts, and a published release read back from its bucket (both backends)."""

from pathlib import Path

import pytest

from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import PACKAGED_INDICES, package_wheel
from idc_index_assets.releases.checks import release_problems, wheel_problems
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, publish_release
from idc_index_assets.releases.wheel import build_wheel
from tests.conftest import SAMPLE_VERSIONS
from tests.releases.test_publish import NEW, bucket, new_release  # noqa: F401 (fixtures)

RELEASE = f"{SAMPLE_VERSIONS}.0.0"


@pytest.fixture
def wheel(artifacts_copy) -> Path:
    return package_wheel(ArtifactStore(root=str(artifacts_copy.parent)), SAMPLE_VERSIONS)


def test_the_wheel_installs_and_matches_its_artifacts_until_one_changes(wheel, artifacts_copy):
    assert wheel_problems(wheel, artifacts_copy, RELEASE, PACKAGED_INDICES) == []
    sql = artifacts_copy / "collections_index.sql"
    sql.write_text(sql.read_text() + "-- edited after packaging\n")
    assert wheel_problems(wheel, artifacts_copy, RELEASE, PACKAGED_INDICES) == [
        "collections_index.sql: the installed file differs from the artifact"
    ]
    # Another release version than the one expected.
    assert wheel_problems(wheel, artifacts_copy, f"{SAMPLE_VERSIONS}.0.1", PACKAGED_INDICES)[0] == (
        f"idc_index_data.__version__ is {RELEASE}, not {SAMPLE_VERSIONS}.0.1"
    )


@pytest.mark.slow
def test_a_wheel_missing_an_index_or_broken_is_named(artifacts_copy, tmp_path):
    names = [spec.name for spec in PACKAGED_INDICES]
    partial = build_wheel(
        artifacts_copy,
        version=RELEASE,
        out_dir=tmp_path / "partial",
        bundled=[spec.name for spec in PACKAGED_INDICES if spec.in_wheel],
        all_indices=[name for name in names if name != "ct_index"],
    )
    assert wheel_problems(partial, artifacts_copy, RELEASE, PACKAGED_INDICES) == [
        "INDEX_METADATA lacks ct_index"
    ]
    broken = tmp_path / "broken" / partial.name
    broken.parent.mkdir()
    broken.write_bytes(partial.read_bytes()[: partial.stat().st_size // 2])
    (problem,) = wheel_problems(broken, artifacts_copy, RELEASE, PACKAGED_INDICES)
    assert problem.startswith(f"installing {partial.name} failed: ")


def test_a_release_read_back_matches_its_manifest_until_an_object_goes_or_changes(
    bucket,  # noqa: F811
    new_release,  # noqa: F811
):
    directory, _ = new_release
    publish_release(directory, bucket, "3.0.1", 3, indices=NEW)
    assert release_problems(bucket, "3.0.1") == ([], ["3.0.1", CURRENT])

    versioned, current = f"3.0.1/{ARTIFACTS}", f"{CURRENT}/{ARTIFACTS}"
    bucket.delete(f"{versioned}/alpha_index.parquet")
    schema = f"{current}/gamma_index_schema.json"
    original = bucket.read(schema)
    bucket.delete(schema)
    changed = original.replace(b"gamma", b"GAMMA")
    assert len(changed) == len(original) and changed != original
    bucket.create(schema, changed, content_type="application/json", cache_control="no-cache")
    sql = f"{current}/gamma_index.sql"
    longer = bucket.read(sql) + b"-- appended\n"
    bucket.delete(sql)
    bucket.create(sql, longer, content_type="text/plain", cache_control="no-cache")

    problems, channels = release_problems(bucket, "3.0.1")
    assert channels == ["3.0.1", CURRENT]
    assert problems[0] == f"{versioned}/alpha_index.parquet: missing"
    assert problems[1].startswith(f"{current}/gamma_index.sql: {len(longer)} bytes, the manifest")
    assert problems[2].startswith(f"{current}/gamma_index_schema.json: MD5 ")
    assert len(problems) == 3
