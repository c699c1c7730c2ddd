"""Uploading the wheel to a package index: the wheel asset through twine to a real pypiserver on
loopback that requires a login, then pip installing from that index."""

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from idc_index_assets.cli import main
from idc_index_assets.failures import is_transient
from idc_index_assets.releases import assets
from idc_index_assets.releases.assets import WHEEL_ASSET
from idc_index_assets.releases.wheel import wheel_filename
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.gcs_proxy import gcs_proxy
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


@pytest.fixture
def answering(package_index, monkeypatch):
    """The index behind a proxy whose uploads (POST) are first answered with the given statuses,
    then forwarded; its URL becomes IDC_PACKAGE_INDEX_URL. Yields the statuses still to give and
    the uploads seen."""
    monkeypatch.setattr(assets, "UPLOAD_BACKOFF_S", 0.05)
    statuses, posts = [], []

    def hook(method: str, path: str):
        if method == "POST":
            posts.append(path)
            if statuses:
                return statuses.pop(0)
        return True

    with gcs_proxy(package_index, hook) as url:
        monkeypatch.setenv("IDC_PACKAGE_INDEX_URL", f"{url}/")
        yield statuses, posts


def test_a_503_is_tried_again_and_the_upload_completes(environment, answering, capsys):
    statuses, posts = answering
    statuses += [503, 429]
    assert main(["package"]) == 0
    assert len(posts) == 3 and statuses == []
    event = DagsterInstance.get().get_latest_materialization_event(AssetKey(WHEEL_ASSET))
    assert event.asset_materialization.metadata["upload"].value.startswith("uploaded ")


def test_a_lasting_503_fails_saying_why(environment, answering, capsys):
    """The resource itself (the asset's step retries would try again after 10, 20 and 40 s):
    after its attempts, a transient failure that names the answer."""
    statuses, posts = answering
    assert main(["package"]) == 0  # the wheel, uploaded
    statuses += [503] * 20
    url = os.environ["IDC_PACKAGE_INDEX_URL"]
    index = assets.PackageIndex(url=url, username=USER, password=PASSWORD)
    with pytest.raises(assets.PackageIndexError) as failed:
        index.upload(environment / wheel_filename(RELEASE), log=lambda line: None)
    assert str(failed.value).startswith(
        f"uploading {wheel_filename(RELEASE)} to {url} failed ({assets.UPLOAD_ATTEMPTS} "
        "attempts): HTTPError: 503 Service Unavailable"
    )
    assert failed.value.transient and is_transient(failed.value)
    assert len(posts) > 1 + assets.UPLOAD_ATTEMPTS - 1  # every attempt reached the index


def test_credentials_in_the_url_are_never_shown_or_stored(
    environment, package_index, monkeypatch, capsys
):
    """The login inside IDC_PACKAGE_INDEX_URL: the upload works, and neither the command's output
    nor any file of the Dagster instance holds the password, when it succeeds or is refused."""
    host = package_index.removeprefix("http://")
    monkeypatch.delenv("IDC_PACKAGE_INDEX_USERNAME")
    monkeypatch.delenv("IDC_PACKAGE_INDEX_PASSWORD")
    monkeypatch.setenv("IDC_PACKAGE_INDEX_URL", f"http://{USER}:{PASSWORD}@{host}/")
    assert main(["package", "--verbose"]) == 0
    monkeypatch.setenv("IDC_PACKAGE_INDEX_URL", f"http://{USER}:wrong-{PASSWORD}@{host}/")
    assert main(["package", "--verbose"]) == 1  # refused: the message names the index, redacted
    output = capsys.readouterr()
    assert f"http://***@{host}/" in output.err + output.out
    for text in (output.out, output.err):
        assert PASSWORD not in text
    home = Path(os.environ["DAGSTER_HOME"])
    for file in home.rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file
