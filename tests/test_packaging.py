"""The SQL travels with the package: the sdist carries `queries/`, the wheel built from it holds
every query file as `idc_index_assets/queries/`, and the package imported from that wheel (no
editable install, no repository, no IDC_QUERIES_DIR) loads every index's query from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUERIES = sorted(ROOT.glob("queries/*.sql"))


@pytest.fixture(scope="module")
def distributions(tmp_path_factory) -> tuple[Path, Path]:
    """The sdist and the wheel that `python -m build` makes of the tracked files, built from a copy
    so that the checkout gets no build/ folder."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    source = tmp_path_factory.mktemp("source")
    for name in tracked:
        if name.startswith(("tests/", "benchmarks/", "deploy/", "docs/")):
            continue
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        check=True,
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_the_sdist_carries_the_queries(distributions):
    sdist, _ = distributions
    with tarfile.open(sdist) as archive:
        names = {
            Path(name).relative_to(Path(name).parts[0]).as_posix() for name in archive.getnames()
        }
    assert {f"queries/{query.name}" for query in QUERIES} <= names


def test_the_wheel_holds_every_query_as_it_is_in_the_repository(distributions):
    _, wheel = distributions
    with zipfile.ZipFile(wheel) as archive:
        packed = {
            Path(name).name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("idc_index_assets/queries/")
        }
    assert QUERIES and packed == {query.name: query.read_bytes() for query in QUERIES}


def test_the_installed_package_finds_its_queries_without_a_setting(distributions, tmp_path):
    _, wheel = distributions
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IDC_")}
    # Ahead of the editable install, which sys.meta_path consults only after the path.
    environment["PYTHONPATH"] = str(site)
    probe = (
        "import idc_index_assets\n"
        "from idc_index_assets.indices.queries import QUERIES_DIR, load_query\n"
        "from idc_index_assets.indices.registry import INDICES\n"
        "for spec in INDICES:\n"
        "    load_query(spec.name)\n"
        "print(idc_index_assets.__file__)\n"
        "print(QUERIES_DIR)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    package_file, queries_dir = done.stdout.split()
    assert Path(package_file).is_relative_to(site)
    assert Path(queries_dir) == site / "idc_index_assets" / "queries"
