"""The idc-v25 preset at 1/1000 of IDC v25: the newest version has v25's shape, chunking does not
change the rows, and every index builds from it and passes its checks (what runs at full size in
benchmarks/bench_full.py, kept small here)."""

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import SnapshotCases
from idc_index_assets.gdc.mapping import build_gdc_mapping
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.checks import reference_outcome, verify_directory
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.sample.generate import generate_sample
from idc_index_assets.sources.tables import SOURCE_PROJECT

SCALE, VERSIONS = 0.001, 2
# IDC v25 (idc-index-data 25.0.5): series and instances, and per modality (series, p50, p90,
# p99) of instances per series.
V25_SERIES, V25_INSTANCES = 1_044_191, 58_784_975
V25_MODALITIES = {
    "CT": (270_830, 122, 247, 650),
    "MR": (128_143, 63, 200, 992),
    "SM": (76_300, 5, 6, 7),
    "SR": (270_687, 1, 1, 1),
    "SEG": (193_295, 1, 1, 5),
    "RTSTRUCT": (19_366, 1, 1, 1),
    "ANN": (7_448, 1, 1, 1),
}


@pytest.fixture(scope="module")
def v25_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("idc-v25")
    # Small chunks, so the release is written in many of them.
    generate_sample(root, preset="idc-v25", scale=SCALE, versions=VERSIONS, chunk_rows=5000)
    return root


def _dicom_all(root, version=VERSIONS):
    return pq.read_table(root / SOURCE_PROJECT / f"idc_v{version}" / "dicom_all.parquet")


def test_the_newest_version_has_the_size_and_shape_of_idc_v25(v25_source):
    table = _dicom_all(v25_source)
    series = table.group_by(["SeriesInstanceUID", "Modality"]).aggregate([([], "count_all")])
    assert series.num_rows == pytest.approx(V25_SERIES * SCALE, rel=0.05)
    assert table.num_rows == pytest.approx(V25_INSTANCES * SCALE, rel=0.05)
    for modality, (count, p50, p90, p99) in V25_MODALITIES.items():
        counts = series.filter(pc.equal(series["Modality"], modality))["count_all"].to_numpy()
        assert len(counts) == pytest.approx(count * SCALE, rel=0.1, abs=2), modality
        assert np.percentile(counts, 50) == pytest.approx(p50, rel=0.1, abs=1), modality
        assert np.percentile(counts, 90) == pytest.approx(p90, rel=0.15, abs=1), modality
        assert np.percentile(counts, 99) <= p99 * 1.2 + 1, modality
    # The long tail: the largest CT series has far more instances than the 99th percentile.
    ct = series.filter(pc.equal(series["Modality"], "CT"))["count_all"].to_numpy()
    assert ct.max() >= 650
    # Earlier versions are smaller, as IDC grew.
    assert _dicom_all(v25_source, 1).num_rows < table.num_rows * 0.8


def test_chunks_do_not_change_the_rows(v25_source, tmp_path):
    generate_sample(tmp_path, preset="idc-v25", scale=SCALE, versions=VERSIONS)
    for table in ("dicom_all", "dicom_metadata", "dicom_metadata_curated", "auxiliary_metadata"):
        path = f"{SOURCE_PROJECT}/idc_v{VERSIONS}/{table}.parquet"
        chunked, whole = pq.ParquetFile(v25_source / path), pq.ParquetFile(tmp_path / path)
        assert chunked.num_row_groups > 1 and whole.num_row_groups == 1
        assert chunked.read().equals(whole.read()), table


def test_the_same_seed_writes_the_same_files_with_parallel_workers(v25_source, tmp_path):
    generate_sample(
        tmp_path, preset="idc-v25", scale=SCALE, versions=VERSIONS, chunk_rows=5000, workers=2
    )
    files = sorted(p.relative_to(v25_source) for p in v25_source.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for path in files:
        assert (tmp_path / path).read_bytes() == (v25_source / path).read_bytes(), path


def test_every_index_builds_and_passes_its_checks(v25_source, tmp_path):
    engine = IndexEngine(source_dir=str(v25_source))
    store = ArtifactStore(root=str(tmp_path))
    for spec in INDICES:
        build_index(spec, load_query(spec.name), VERSIONS, engine=engine, store=store)
    cases = SnapshotCases(v25_source / "gdc" / "cases.json")
    build_gdc_mapping(
        load_query("gdc_idc_studies"), VERSIONS, engine=engine, cases=cases, store=store
    )
    directory = store.directory(VERSIONS)
    results = verify_directory(directory, RELEASED_INDICES)
    assert len({name for name, _ in results}) == len(RELEASED_INDICES)
    assert [(name, o.problems) for name, o in results if o.problems] == []
    for spec in RELEASED_INDICES:
        assert reference_outcome(spec, directory).problems == [], spec.name
    prior = pq.read_table(directory / "prior_versions_index.parquet")
    assert prior.num_rows > 0
