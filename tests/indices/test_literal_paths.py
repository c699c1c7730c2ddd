"""Paths are literal: a directory whose name holds `[`, `*` or `?` is read as named, never as a
pattern matching its siblings (DuckDB globs every path it is given). Each reader is tried with a
sibling directory that such a pattern would match and that holds other data: the source snapshot
read by the engine (a table file and a table directory), the artifacts read back by a build
(tcia_idc_subset reads idc_index), `verify DIR` and the release notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from idc_index_assets.cli import main
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.notes import compute_notes
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS
# (the directory's name, a sibling its name matches as a DuckDB pattern)
NAMES = [("src[b]", "srcb"), ("src*", "src-other"), ("sr?", "srx")]


def _halve(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)


def _twice(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table]), path)


@pytest.mark.parametrize(("name", "sibling"), NAMES)
def test_the_engine_reads_the_source_directory_given(name, sibling, sample_source, tmp_path):
    source, other = tmp_path / name, tmp_path / sibling
    shutil.copytree(sample_source, source)
    shutil.copytree(sample_source, other)
    tables = source / SOURCE_PROJECT / f"idc_v{N}"
    # version_metadata as a directory of Parquet files (IDC's export layout), the rest as files
    (tables / "version_metadata").mkdir()
    (tables / "version_metadata.parquet").rename(tables / "version_metadata" / "part-0.parquet")
    for table in ("version_metadata", "original_collections_metadata"):
        _halve(other / SOURCE_PROJECT / f"idc_v{N}" / f"{table}.parquet")
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    engine = IndexEngine(source_dir=str(source))
    for index, table in (
        ("version_metadata_index", "version_metadata"),
        ("collections_index", "original_collections_metadata"),
    ):
        written = build_index(
            INDEX_BY_NAME[index], load_query(index), N, engine=engine, store=store
        ).written
        expected = pq.read_metadata(
            sample_source / SOURCE_PROJECT / f"idc_v{N}" / f"{table}.parquet"
        ).num_rows
        assert written.rows == expected, index


def test_a_build_reads_back_the_artifacts_directory_given(sample_source, built_artifacts, tmp_path):
    root, sibling = tmp_path / "art[x]", tmp_path / "artx"
    shutil.copytree(built_artifacts, root / str(N))
    shutil.copytree(built_artifacts, sibling / str(N))
    _halve(sibling / str(N) / "idc_index.parquet")
    written = build_index(
        INDEX_BY_NAME["tcia_idc_subset"],
        load_query("tcia_idc_subset"),
        N,
        engine=IndexEngine(source_dir=str(sample_source)),
        store=ArtifactStore(root=str(root)),
    ).written
    assert written.rows == pq.read_metadata(built_artifacts / "tcia_idc_subset.parquet").num_rows


def test_verify_checks_the_directory_given(built_artifacts, tmp_path, capsys):
    bad, good = tmp_path / "art[x]" / str(N), tmp_path / "artx" / str(N)
    shutil.copytree(built_artifacts, bad)
    shutil.copytree(built_artifacts, good)
    _twice(bad / "collections_index.parquet")
    assert main(["verify", str(good)]) == 0
    capsys.readouterr()
    assert main(["verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL collections_index.parquet: " in out and "primary_key: " in out


def test_the_release_notes_read_the_directories_given(built_artifacts, tmp_path):
    release, previous = tmp_path / "rel[a]", tmp_path / "prev[a]"
    for directory in (release, previous, tmp_path / "rela", tmp_path / "preva"):
        shutil.copytree(built_artifacts, directory)
    _twice(tmp_path / "rela" / "collections_index.parquet")
    _twice(tmp_path / "preva" / "collections_index.parquet")
    notes = compute_notes(release, previous)
    entry = notes["indices"]["collections_index"]
    assert entry["duplicated_keys_before"] == entry["duplicated_keys_after"] == 0
    assert entry["status"] == "unchanged"
