"""Uploading the wheel to a package index: the wheel asset through twine to a real pypiserver on
loopback that requires a login, then pip installing from that index."""

import shutil
import subprocess
import sys
import urllib.request

import pytest
from dagster import AssetKey, DagsterInstance

from idc_index_assets.cli import main
from idc_index_assets.releases.assets import WHEEL_ASSET
from idc_index_assets.releases.wheel import wheel_filename
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.package_index import package_index_server

RELEASE = f"{SAMPLE_VERSIONS}.0.0"
USER, PASSWORD = "publisher", "s3cret-token"


@pytest.fixture
def package_index(tmp_path):
    """A pypiserver that lets `publisher` upload; yields its base URL."""
    with package_index_server(tmp_path, USER, PASSWORD) as url:
        yield url


@pytest.fixture
def environment(monkeypatch, tmp_path, sample_source, built_artifacts, package_index):
    root = tmp_path / "artifacts"
    shutil.copytree(built_artifacts, root / str(SAMPLE_VERSIONS))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(root))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    monkeypatch.setenv("IDC_PACKAGE_INDEX_URL", f"{package_index}/")
    monkeypatch.setenv("IDC_PACKAGE_INDEX_USERNAME", USER)
    monkeypatch.setenv("IDC_PACKAGE_INDEX_PASSWORD", PASSWORD)
    return root / str(SAMPLE_VERSIONS)


def test_the_wheel_is_uploaded_and_installable_from_the_index(
    environment, package_index, tmp_path, capsys
):
    assert main(["package"]) == 0
    assert PASSWORD not in capsys.readouterr().err
    downloaded = tmp_path / "downloaded"
    subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--dest",
                downloaded,
            ),
            *("--index-url", f"{package_index}/simple/", f"idc-index-data=={RELEASE}"),
        ],
        check=True,
    )
    wheel = wheel_filename(RELEASE)
    assert (downloaded / wheel).read_bytes() == (environment / wheel).read_bytes()
    # A re-run builds the same bytes and finds them already there: nothing to do, no failure.
    assert main(["package"]) == 0
    event = DagsterInstance.get().get_latest_materialization_event(AssetKey(WHEEL_ASSET))
    upload = event.asset_materialization.metadata["upload"].value
    assert upload == f"{wheel} is already on {package_index}/; not replaced"


def test_a_refused_login_fails_the_wheel_naming_the_index(
    environment, package_index, monkeypatch, capsys
):
    monkeypatch.setenv("IDC_PACKAGE_INDEX_PASSWORD", "wrong")
    assert main(["package"]) == 1
    err = capsys.readouterr().err
    assert f"uploading {wheel_filename(RELEASE)} to {package_index}/ failed" in err
    listing = urllib.request.urlopen(f"{package_index}/simple/").read().decode()
    assert "idc-index-data" not in listing  # nothing reached the index
