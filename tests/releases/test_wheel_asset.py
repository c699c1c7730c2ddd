"""The idc_index_data_wheel asset built from the sample's checked artifacts, and the real `idc-index`
client from PyPI working on it, unchanged, in a fresh virtual environment: on the indices the wheel
bundles, and on one it downloads from the GitHub release the release channel published."""

import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from idc_index_assets.cli import main
from idc_index_assets.releases.github import GitHubRepository, publish_github_release
from idc_index_assets.releases.publish import validate_release
from idc_index_assets.releases.wheel import wheel_filename
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.github_server import GitHubServer

RELEASE = f"{SAMPLE_VERSIONS}.0.0"
CLIENT = "idc-index==0.13.4"


@pytest.fixture
def environment(monkeypatch, tmp_path, sample_source, built_artifacts):
    root = tmp_path / "artifacts"
    shutil.copytree(built_artifacts, root / str(SAMPLE_VERSIONS))
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(root))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    return root / str(SAMPLE_VERSIONS)


@pytest.fixture
def wheel(environment) -> Path:
    assert main(["package"]) == 0
    return environment / wheel_filename(RELEASE)


def test_package_builds_the_wheel_beside_the_indices(wheel, environment):
    sidecar = wheel.with_name(wheel.name + ".sha256").read_text()
    assert sidecar.endswith(f"  {wheel.name}\n")
    subprocess.run(["sha256sum", "-c", f"{wheel.name}.sha256"], cwd=environment, check=True)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(
            archive.read(f"idc_index_data-{RELEASE}.dist-info/METADATA").decode()
        )
    assert metadata["Name"] == "idc-index-data" and metadata["Version"] == RELEASE
    assert "idc_index_data/idc_index.parquet" in names
    assert "idc_index_data/tcia_idc_subset.parquet" not in names


def test_package_refuses_artifacts_that_fail_a_blocking_check(environment, capsys):
    parquet = environment / "collections_index.parquet"
    data = bytearray(parquet.read_bytes())
    data[100] ^= 0xFF
    parquet.write_bytes(bytes(data))
    assert main(["package"]) == 1
    err = capsys.readouterr().err
    assert "collections_index: integrity" in err
    assert not (environment / wheel_filename(RELEASE)).exists()


def test_package_refuses_a_version_other_than_the_artifacts(environment, capsys):
    assert main(["package", "--version", f"{SAMPLE_VERSIONS}.0.1"]) == 1
    assert f"{SAMPLE_VERSIONS}.0.1" in capsys.readouterr().err
    assert not list(environment.glob("*.whl"))


# The repository whose releases the client downloads the indices its wheel does not bundle from.
CLIENT_REPOSITORY = "ImagingDataCommons/idc-index-data"
DOWNLOADED = "sm_index"

# Run by the real client inside the fresh environment; prints what it found as JSON. The download
# URL of one non-bundled index is pointed at the loopback GitHub server (argv[2]), keeping its path.
_CLIENT_PROBE = r"""
import json, sys
from idc_index import IDCClient
client = IDCClient()
downloaded, github, frame_out = sys.argv[3], sys.argv[2], sys.argv[4]
url = client.indices_overview[downloaded]["url"]
client.indices_overview[downloaded]["url"] = github + url.removeprefix("https://github.com")
client.fetch_index(downloaded)
getattr(client, downloaded).to_parquet(frame_out)
collection, = [c for c in sorted(client.get_collections()) if c == sys.argv[1]]
patients = client.get_patients(collection, outputFormat="list")
studies = client.get_dicom_studies(sorted(patients)[0], outputFormat="list")
series = client.get_dicom_series(sorted(studies)[0], outputFormat="list")
print(json.dumps({
    "collections": sorted(client.get_collections()),
    "patients": sorted(patients),
    "studies": sorted(studies),
    "series": sorted(series),
    "size": float(client.get_series_size(sorted(series)[0])),
    "per_modality": client.sql_query(
        "SELECT Modality, COUNT(*) AS n FROM index GROUP BY Modality ORDER BY Modality"
    ).to_dict(orient="records"),
    "prior": int(client.sql_query("SELECT COUNT(*) AS n FROM prior_versions_index")["n"][0]),
    "indices": sorted(client.indices_overview),
    "schema_columns": [c["name"] for c in client.get_index_schema("index")["columns"]],
    "idc_version": client.get_idc_version(),
    "download_url": url,
    "downloaded_file": client.indices_overview[downloaded]["file_path"],
}))
"""


@pytest.mark.slow
def test_the_real_idc_index_client_works_on_the_wheel(wheel, environment, tmp_path):
    venv = tmp_path / "client-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True)
    subprocess.run([*pip, "--no-deps", CLIENT], check=True)
    requirements = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; "
            "print('\\n'.join(r for r in m.requires('idc-index') if 'extra ==' not in r "
            "and not r.startswith('idc-index-data')))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    subprocess.run([*pip, *requirements], check=True)

    index = pq.read_table(environment / "idc_index.parquet").to_pylist()
    collection = sorted({r["collection_id"] for r in index})[0]
    frame = tmp_path / "downloaded_frame.parquet"
    with GitHubServer(CLIENT_REPOSITORY, "token") as github:
        files = validate_release(environment, RELEASE, SAMPLE_VERSIONS)
        publish_github_release(
            environment,
            files,
            GitHubRepository(CLIENT_REPOSITORY, "token", github.api_url),
            RELEASE,
            SAMPLE_VERSIONS,
            created="2026-01-01T00:00:00+00:00",
        )
        probe = subprocess.run(
            [str(python), "-c", _CLIENT_PROBE, collection, github.url("web"), DOWNLOADED, frame],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"HOME": str(tmp_path), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"},
        )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])

    # The non-bundled index, downloaded from the GitHub release: our file, and our rows.
    assert found["download_url"] == (
        f"https://github.com/{CLIENT_REPOSITORY}/releases/download/{RELEASE}/{DOWNLOADED}.parquet"
    )
    ours = environment / f"{DOWNLOADED}.parquet"
    assert Path(found["downloaded_file"]).read_bytes() == ours.read_bytes()
    expected = pd.read_parquet(ours)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(pd.read_parquet(frame), expected)

    assert found["collections"] == sorted({r["collection_id"] for r in index})
    assert found["patients"] == sorted(
        {r["PatientID"] for r in index if r["collection_id"] == collection}
    )
    patient = found["patients"][0]
    assert found["studies"] == sorted(
        {r["StudyInstanceUID"] for r in index if r["PatientID"] == patient}
    )
    study = found["studies"][0]
    series = sorted(r["SeriesInstanceUID"] for r in index if r["StudyInstanceUID"] == study)
    assert found["series"] == series
    size = next(r["series_size_MB"] for r in index if r["SeriesInstanceUID"] == series[0])
    assert found["size"] == pytest.approx(size)
    modalities = {}
    for row in index:
        modalities[row["Modality"]] = modalities.get(row["Modality"], 0) + 1
    assert {r["Modality"]: r["n"] for r in found["per_modality"]} == modalities
    assert found["prior"] == pq.read_metadata(environment / "prior_versions_index.parquet").num_rows
    assert {"index", "prior_versions_index", "collections_index"} <= set(found["indices"])
    schema = json.loads((environment / "idc_index_schema.json").read_text())
    assert found["schema_columns"] == [c["name"] for c in schema["columns"]]
    assert found["idc_version"] == f"v{SAMPLE_VERSIONS}"
