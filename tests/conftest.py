"""Shared fixtures: a generated sample IDC release and the indices built from it, once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from idc_index_assets.build import build_index
from idc_index_assets.queries import load_query
from idc_index_assets.registry import INDICES
from idc_index_assets.resources import ArtifactStore, IndexEngine
from idc_index_assets.sample import generate_sample

SAMPLE_VERSIONS = 3


@pytest.fixture(scope="session")
def sample_source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("source")
    generate_sample(root, versions=SAMPLE_VERSIONS, seed=7)
    return root


@pytest.fixture(scope="session")
def built_artifacts(sample_source, tmp_path_factory) -> Path:
    """Every index of the newest sample version, built with the real DuckDB engine."""
    root = tmp_path_factory.mktemp("artifacts")
    engine = IndexEngine(source_dir=str(sample_source))
    store = ArtifactStore(root=str(root))
    for spec in INDICES:
        build_index(spec, load_query(spec.name), SAMPLE_VERSIONS, engine=engine, store=store)
    return store.directory(SAMPLE_VERSIONS)


@pytest.fixture
def artifacts_copy(built_artifacts, tmp_path) -> Path:
    """A private copy of the built artifacts that a test may damage."""
    target = tmp_path / str(SAMPLE_VERSIONS)
    shutil.copytree(built_artifacts, target)
    return target
