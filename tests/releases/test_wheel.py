"""The idc-index-data wheel: contents and metadata, byte-identical rebuilds, regular and editable
installs into a fresh virtual environment, and input validation. Runs on small fake artifacts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.releases.wheel import build_wheel, wheel_filename, write_project

VERSION = "23.1.4"
IDC_VERSION = 7
BUNDLED = ("idc_index", "prior_versions_index", "collections_index")
# clinical_index: schema and sql only (its parquet exists but is not bundled); sm_index: no files.
ALL_INDICES = (*BUNDLED, "clinical_index", "sm_index")

TABLES = {
    "idc_index": pa.table({"SeriesInstanceUID": ["1.2.3", "1.2.4"], "collection_id": ["a", "b"]}),
    "prior_versions_index": pa.table({"crdc_series_uuid": ["u1"], "min_idc_version": [3]}),
    "collections_index": pa.table({"collection_id": ["a", "b"], "Location": ["x", None]}),
    "clinical_index": pa.table({"collection_id": ["a"], "table_name": ["t"]}),
    "tcia_idc_subset": pa.table({"SeriesInstanceUID": ["1.2.3"]}),
}
DESCRIPTIONS = {name: f"Fake {name} table.\nOne row per | thing." for name in TABLES}


def _write_index(directory: Path, name: str) -> None:
    table = TABLES[name]
    schema = table.schema.with_metadata({"idc_version": str(IDC_VERSION)})
    parquet = directory / f"{name}.parquet"
    pq.write_table(table.cast(schema), parquet)
    digest = hashlib.sha256(parquet.read_bytes()).hexdigest()
    (directory / f"{name}.parquet.sha256").write_text(f"{digest}  {name}.parquet\n")
    document = {
        "table_description": DESCRIPTIONS[name],
        "columns": [
            {"name": f.name, "type": "STRING", "mode": "NULLABLE", "description": f"{f.name}."}
            for f in table.schema
        ],
    }
    (directory / f"{name}_schema.json").write_text(json.dumps(document, indent=2) + "\n")
    (directory / f"{name}.sql").write_text(f"SELECT * FROM `{name}`  -- {name}\n")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("artifacts") / str(IDC_VERSION)
    directory.mkdir()
    for name in TABLES:
        _write_index(directory, name)
    return directory


def _build(artifacts: Path, out_dir: Path, **overrides) -> Path:
    arguments = {"version": VERSION, "bundled": BUNDLED, "all_indices": ALL_INDICES}
    return build_wheel(artifacts, out_dir=out_dir, **(arguments | overrides))


@pytest.fixture(scope="module")
def wheel(artifacts, tmp_path_factory) -> Path:
    return _build(artifacts, tmp_path_factory.mktemp("dist"))


def _expected_package_files() -> set[str]:
    files = {"__init__.py", "_version.py", "py.typed"}
    files |= {f"{name}.parquet" for name in BUNDLED}
    files |= {f"{name}{suffix}" for name in TABLES for suffix in ("_schema.json", ".sql")}
    files -= {"tcia_idc_subset_schema.json", "tcia_idc_subset.sql"}  # supplementary: not shipped
    return {f"idc_index_data/{name}" for name in files}


def test_wheel_contents_and_metadata(wheel, artifacts):
    assert wheel.name == wheel_filename(VERSION) == f"idc_index_data-{VERSION}-py3-none-any.whl"
    # Only the wheel and its checksum are left behind, no temporary build directory.
    assert sorted(p.name for p in wheel.parent.iterdir()) == [wheel.name, f"{wheel.name}.sha256"]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (wheel.parent / f"{wheel.name}.sha256").read_text() == f"{digest}  {wheel.name}\n"

    dist_info = f"idc_index_data-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        package_files = {n for n in names if not n.startswith(dist_info)}
        assert package_files == _expected_package_files()
        assert {f"{dist_info}/{n}" for n in ("METADATA", "WHEEL", "RECORD")} <= names
        for name in BUNDLED:
            shipped = archive.read(f"idc_index_data/{name}.parquet")
            assert shipped == (artifacts / f"{name}.parquet").read_bytes()
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        wheel_info = archive.read(f"{dist_info}/WHEEL").decode()
        record = archive.read(f"{dist_info}/RECORD").decode().splitlines()
        # RECORD lists every other file with its true hash and size.
        for line in record:
            path, hashed, size = line.rsplit(",", 2)
            if path.endswith("/RECORD"):
                continue
            data = archive.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert (hashed, size) == (f"sha256={expected.decode()}", str(len(data))), path
        assert len(record) == len(names)
        version_module = archive.read("idc_index_data/_version.py").decode()

    assert metadata["Name"] == "idc-index-data"
    assert metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("Requires-Dist") is None  # no runtime dependencies
    assert "Tag: py3-none-any" in wheel_info
    assert "Root-Is-Purelib: true" in wheel_info
    assert f"__version__ = version = '{VERSION}'" in version_module

    readme = metadata.get_payload()
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert f"IDC data release v{IDC_VERSION}" in readme
    for name in ALL_INDICES:
        bundled = "yes" if name in BUNDLED else "no"
        description = "(no schema in this release)"
        if name in TABLES:
            description = f"Fake {name} table. One row per \\| thing."
        assert f"| `{name}` | {bundled} | {description} |" in readme
    assert "tcia_idc_subset" not in readme


def test_rebuild_is_byte_identical(wheel, artifacts, tmp_path, monkeypatch):
    # Other file times and permissions, and a different SOURCE_DATE_EPOCH in the caller's
    # environment, must not change a byte.
    for path in artifacts.iterdir():
        os.utime(path, (2_000_000_000, 2_000_000_000))
        path.chmod(0o600)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    again = _build(artifacts, tmp_path)
    assert again.read_bytes() == wheel.read_bytes()
    # Rebuilding into a directory that already holds the wheel replaces it.
    assert _build(artifacts, tmp_path).read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [again.name, f"{again.name}.sha256"]


_PROBE = """
import json
from pathlib import Path
import idc_index_data as m

def plain(value):
    return str(value) if isinstance(value, Path) else value

print(json.dumps({
    "all": sorted(m.__all__),
    "version": m.__version__,
    "file": m.__file__,
    "idc_index": plain(m.IDC_INDEX_PARQUET_FILEPATH),
    "prior_versions_index": plain(m.PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH),
    "csv": m.IDC_INDEX_CSV_ARCHIVE_FILEPATH,
    "metadata": {
        name: {key: plain(value) for key, value in entry.items()}
        for name, entry in m.INDEX_METADATA.items()
    },
}))
"""


def _fresh_venv(directory: Path) -> Path:
    # Without pip of its own (faster); this environment's pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    return directory / "bin" / "python"


def _install_and_probe(python: Path, wheel: Path) -> dict:
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    # -I: nothing from this environment (PYTHONPATH, user site) can leak into the import.
    result = subprocess.run(
        [str(python), "-I", "-c", _PROBE], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def _check_api(found: dict, artifacts: Path, package_dir: Path) -> None:
    assert found["all"] == [
        "IDC_INDEX_CSV_ARCHIVE_FILEPATH",
        "IDC_INDEX_PARQUET_FILEPATH",
        "INDEX_METADATA",
        "PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH",
        "__version__",
    ]
    assert found["version"] == VERSION
    assert Path(found["file"]).parent == package_dir
    assert found["csv"] is None
    metadata = found["metadata"]
    assert list(metadata) == list(ALL_INDICES)
    for name, entry in metadata.items():
        assert set(entry) == {"parquet_filepath", "schema_path", "schema", "sql_path", "sql"}
        if name in BUNDLED:
            parquet = Path(entry["parquet_filepath"])
            assert pq.read_table(parquet).equals(pq.read_table(artifacts / f"{name}.parquet"))
        else:
            assert entry["parquet_filepath"] is None
        if name in TABLES:
            assert Path(entry["schema_path"]).is_file()
            assert Path(entry["sql_path"]).is_file()
            expected = json.loads((artifacts / f"{name}_schema.json").read_text())
            assert entry["schema"] == expected
            assert entry["schema"]["table_description"] == DESCRIPTIONS[name]
            assert entry["sql"] == (artifacts / f"{name}.sql").read_text()
        else:
            assert all(value is None for value in entry.values())
    assert found["idc_index"] == metadata["idc_index"]["parquet_filepath"]
    assert found["prior_versions_index"] == metadata["prior_versions_index"]["parquet_filepath"]


@pytest.mark.slow
def test_regular_install(wheel, artifacts, tmp_path):
    python = _fresh_venv(tmp_path / "venv")
    found = _install_and_probe(python, wheel)
    site_packages = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    package_dir = site_packages.resolve() / "idc_index_data"
    _check_api(found, artifacts, package_dir)
    for name in BUNDLED:  # the paths point into the installed package, not at the artifacts
        assert Path(found["metadata"][name]["parquet_filepath"]).parent == package_dir


@pytest.mark.slow
def test_editable_install(artifacts, tmp_path):
    # What `pip install -e <tree>` does: build an editable wheel with the tree's backend (taken
    # from this environment, the fresh one has none), then install it.
    project = write_project(
        artifacts,
        tmp_path / "tree",
        version=VERSION,
        bundled=BUNDLED,
        all_indices=ALL_INDICES,
        link=False,
    )
    editable_dir = tmp_path / "editable"
    editable_dir.mkdir()
    build = "import sys, hatchling.build as b; print(b.build_editable(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(editable_dir)],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    editable_wheel = editable_dir / result.stdout.strip()
    python = _fresh_venv(tmp_path / "venv")
    found = _install_and_probe(python, editable_wheel)
    package_dir = (project / "src" / "idc_index_data").resolve()
    _check_api(found, artifacts, package_dir)
    for name in BUNDLED:  # the paths point into the source tree
        assert Path(found["metadata"][name]["parquet_filepath"]).parent == package_dir


def test_missing_bundled_parquet(artifacts, tmp_path):
    damaged = tmp_path / "7"
    shutil.copytree(artifacts, damaged)
    (damaged / "collections_index.parquet").unlink()
    out = tmp_path / "dist"
    with pytest.raises(FileNotFoundError, match=r"collections_index\.parquet"):
        _build(damaged, out)
    assert not any(out.iterdir())  # nothing half-built left behind


@pytest.mark.parametrize("version", ["23.1", "v23.1.4", "23.1.4rc1", "23.01.4", "23.1.4.0", ""])
def test_bad_version(artifacts, tmp_path, version):
    with pytest.raises(ValueError, match=r"X\.Y\.Z"):
        _build(artifacts, tmp_path, version=version)


def test_checksum_mismatch(artifacts, tmp_path):
    damaged = tmp_path / "7"
    shutil.copytree(artifacts, damaged)
    (damaged / "idc_index.parquet.sha256").write_text(f"{'0' * 64}  idc_index.parquet\n")
    with pytest.raises(ValueError, match=r"idc_index\.parquet does not match its checksum"):
        _build(damaged, tmp_path / "dist")


def test_inconsistent_index_lists(artifacts, tmp_path):
    with pytest.raises(ValueError, match="not in all_indices"):
        _build(artifacts, tmp_path, bundled=(*BUNDLED, "tcia_idc_subset"))
    with pytest.raises(ValueError, match="prior_versions_index"):
        _build(artifacts, tmp_path, bundled=("idc_index", "collections_index"))
    with pytest.raises(ValueError, match="duplicate"):
        _build(artifacts, tmp_path, all_indices=(*ALL_INDICES, "sm_index"))
