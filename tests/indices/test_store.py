"""The artifact store, in a local directory and on GCS (fake-gcs-server through the real
google-cloud-storage client): the same operations in both places, builds on GCS byte-identical to
local ones (a build killed at each of its requests: tests/indices/test_commit.py), two IDC
versions built at once, and the whole automated chain (build, checks, wheel, notes, release) with its artifacts on GCS."""

import base64
import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from idc_index_assets.cli import main
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.checks import evaluate_files
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore, open_location
from idc_index_assets.indices.validation import index_file_names
from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
from idc_index_assets.releases.notes import NOTES_ASSET, NOTES_MARKDOWN
from idc_index_assets.releases.publish import ARTIFACTS, MANIFEST
from idc_index_assets.releases.wheel import wheel_filename
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS
# tcia_idc_subset reads idc_index back from the store: a reader of an artifact on GCS
BUILT = ["idc_index", "tcia_idc_subset", "collections_index"]


@pytest.fixture
def gcs_bucket(gcs):
    return gcs.create_bucket(f"artifacts-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "gcs"])
def location(request, tmp_path):
    if request.param == "local":
        return open_location(tmp_path / "store")
    return open_location(f"gs://{request.getfixturevalue('gcs_bucket').name}/store")


def build(names, version, engine, store):
    return {
        name: build_index(
            INDEX_BY_NAME[name], load_query(name), version, engine=engine, store=store
        ).written
        for name in names
    }


def objects(bucket, prefix: str) -> dict[str, tuple[str, int]]:
    """The published objects under a prefix (staging excluded): name → (md5, generation)."""
    return {
        blob.name: (blob.md5_hash, blob.generation)
        for blob in bucket.list_blobs(prefix=prefix)
        if "/.staging/" not in blob.name
    }


def test_a_directory_behaves_the_same_locally_and_on_gcs(location, tmp_path):
    version = location.subdirectory("3")
    assert version.names() == [] and location.subdirectories() == []
    version.write_text("a.txt", "first")
    version.write_text("a.txt", "second")
    assert (version.read_text("a.txt"), version.size("a.txt")) == ("second", 6)

    staging = version.staging("a")
    staging.write_text("a.txt", "third")
    assert version.names() == ["a.txt"]  # staging is hidden from readers
    assert location.subdirectories() == ["3"]
    version.move_in(staging, "a.txt")
    assert version.read_text("a.txt") == "third" and not staging.exists("a.txt")

    data = os.urandom(9 << 20)  # several upload and read chunks
    (tmp_path / "b.bin").write_bytes(data)
    version.upload(tmp_path / "b.bin")
    version.download("b.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    with version.open_input("b.bin") as handle:  # ranged reads
        handle.seek(5 << 20)
        assert handle.read(100) == data[5 << 20 : (5 << 20) + 100]
    with version.local_copy(["a.txt"]) as copy:
        assert (copy / "a.txt").read_text() == "third"
    with pytest.raises(FileNotFoundError):
        version.read_text("missing.txt")

    version.remove()
    assert version.names() == [] and not version.exists("a.txt")


def test_a_build_on_gcs_is_the_local_build_byte_for_byte(sample_source, gcs_bucket, tmp_path):
    engine = IndexEngine(source_dir=str(sample_source))
    store = ArtifactStore(root=f"gs://{gcs_bucket.name}/idc")
    on_gcs = build(BUILT, N, engine, store)
    on_disk = build(BUILT, N, engine, ArtifactStore(root=str(tmp_path)))
    for name in BUILT:
        assert on_gcs[name].sha256 == on_disk[name].sha256
        assert on_gcs[name].parquet == f"gs://{gcs_bucket.name}/idc/{N}/{name}.parquet"
        for file in index_file_names(name).values():
            stored = gcs_bucket.blob(f"idc/{N}/{file}").download_as_bytes()
            assert stored == (tmp_path / str(N) / file).read_bytes(), file
        outcomes = evaluate_files(
            INDEX_BY_NAME[name], store.location(N), release_version=f"{N}.0.0", idc_version=N
        )
        assert [o.problems for o in outcomes] == [[], [], [], []]
    assert list(gcs_bucket.list_blobs(prefix=f"idc/{N}/.staging/")) == []


def test_two_idc_versions_built_at_once_do_not_interfere(sample_source, gcs_bucket, tmp_path):
    engine = IndexEngine(source_dir=str(sample_source))
    store = ArtifactStore(root=f"gs://{gcs_bucket.name}/idc")
    names = ["idc_index", "tcia_idc_subset"]
    versions = (N - 1, N)
    with ThreadPoolExecutor(2) as pool:
        built = pool.map(lambda version: build(names, version, engine, store), versions)
        at_once = dict(zip(versions, built, strict=True))
    for version in versions:
        alone = build(names, version, engine, ArtifactStore(root=str(tmp_path)))
        for name in names:
            assert at_once[version][name].sha256 == alone[name].sha256, (version, name)
            sidecar = store.location(version).read_text(f"{name}.parquet.sha256")
            assert sidecar.split()[0] == alone[name].sha256


def test_the_automated_chain_with_artifacts_and_release_on_gcs(
    sample_source, gcs, monkeypatch, capsys
):
    from dagster import instance_for_test

    from tests.test_production_chain import Daemon

    artifacts = gcs.create_bucket(f"artifacts-{uuid.uuid4().hex[:12]}")
    release = gcs.create_bucket(f"release-{uuid.uuid4().hex[:12]}")
    root = f"gs://{artifacts.name}/idc"
    for name, value in (
        ("IDC_SOURCE_DIR", str(sample_source)),
        ("IDC_ARTIFACTS_DIR", root),
        ("IDC_RELEASE_BUCKET", f"gs://{release.name}"),
        ("IDC_RELEASE_VERSION", ""),
    ):
        monkeypatch.setenv(name, value)
    resources = {
        "index_engine": IndexEngine(source_dir=str(sample_source)),
        "artifacts": ArtifactStore(root=root),
    }
    with instance_for_test() as instance:
        assert Daemon(instance, resources).tick() == [
            f"build_indices[{N}]",
            f"{WHEEL_ASSET}[{N}]",
            f"{NOTES_ASSET}[{N}]",
            f"{RELEASE_ASSET}[{N}]",
        ]

    # The wheel and the notes went into the store beside the indices.
    stored = {blob.name.removeprefix(f"idc/{N}/"): blob for blob in artifacts.list_blobs()}
    wheel = wheel_filename(f"{N}.0.0")
    wheel_bytes = stored[wheel].download_as_bytes()
    assert stored[f"{wheel}.sha256"].download_as_text().split()[0] == sha256(wheel_bytes)
    assert NOTES_MARKDOWN in stored
    assert not [name for name in stored if "/.staging/" in name or name.startswith(".staging")]

    # Every released file is the stored artifact, byte for byte.
    manifest = json.loads(release.blob(f"{N}.0.0/{ARTIFACTS}/{MANIFEST}").download_as_bytes())
    for entry in manifest["files"]:
        blob = stored[entry["name"]]
        assert base64.b64decode(blob.md5_hash).hex() == entry["md5"], entry["name"]
    assert {e["name"] for e in manifest["files"]} >= {wheel, "idc_index.parquet", NOTES_MARKDOWN}

    # `verify` reads the gs:// directory.
    capsys.readouterr()
    assert main(["verify", f"{root}/{N}"]) == 0
    assert "ok   idc_index.parquet" in capsys.readouterr().out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_missing_bucket_or_bucket_name_is_named(gcs, monkeypatch, capsys):
    assert main(["verify", "gs://no-such-bucket-here/idc/3"]) == 1
    out = capsys.readouterr().out
    assert "GCS bucket no-such-bucket-here does not exist" in out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1

    monkeypatch.setenv("IDC_ARTIFACTS_DIR", "gs://")
    assert main(["build"]) == 2  # refused before any run starts
    assert "IDC_ARTIFACTS_DIR: no bucket name in 'gs://'" in capsys.readouterr().err
