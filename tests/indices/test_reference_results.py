"""Every index query, run on BigQuery's reference evaluator (ZetaSQL) over the sample release's
newest version, gives the rows the DuckDB engine builds (compared as a multiset: see
`tests.reference_rows`). The reference takes one to seventy seconds a query here (its joins are
nested loops), so these are slow tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import STUDIES_QUERY
from idc_index_assets.indices.queries import QUERIES_DIR, load_query
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS
from tests.reference_rows import SourceTables, difference

QUERY_FILES = sorted(path.stem for path in QUERIES_DIR.glob("*.sql"))
# The reference evaluator's window functions take many minutes over every instance of the
# sample; this query is compared over the instances of its first series instead, both engines
# reading the same reduced snapshot.
SERIES_SUBSET = {"volume_geometry_index": 12}


@pytest.fixture(scope="module")
def source_tables(sample_source) -> SourceTables:
    return SourceTables(sample_source)


def test_every_query_file_is_checked():
    assert len(QUERY_FILES) == 19 and STUDIES_QUERY in QUERY_FILES


@pytest.mark.slow
@pytest.mark.parametrize("name", QUERY_FILES)
def test_the_reference_gives_the_rows_the_duckdb_engine_built(
    name, reference, sample_source, built_artifacts, source_tables, tmp_path
):
    query = load_query(name)
    sql = query.render(SAMPLE_VERSIONS)
    tables = source_tables.named(query.tables_read(SAMPLE_VERSIONS))
    for upstream in query.upstream_indices:  # tcia_idc_subset reads the built idc_index
        tables[upstream] = pq.read_table(built_artifacts / f"{upstream}.parquet")
    if name in SERIES_SUBSET:
        source = tmp_path / "source"
        tables = _first_series(tables, SERIES_SUBSET[name], source)
        with IndexEngine(source_dir=str(source)).run(sql, query_file=name) as run:
            built = run.batches.read_all()
    elif name == STUDIES_QUERY:  # the studies of gdc_idc_mapping, before the GDC cases join
        with IndexEngine(source_dir=str(sample_source)).run(sql, query_file=name) as run:
            built = run.batches.read_all()
    else:
        built = pq.read_table(built_artifacts / f"{name}.parquet")
    expected = reference.run(sql, tables)
    assert expected.num_rows > 0, "the sample gives the query rows to compare"
    assert difference(built, expected) is None, difference(built, expected)


def _first_series(tables: dict, count: int, source: Path) -> dict:
    """The tables' rows of their first `count` series (by SeriesInstanceUID), also written as a
    snapshot under `source` for the DuckDB engine."""
    uids = sorted(
        {uid for table in tables.values() for uid in table["SeriesInstanceUID"].to_pylist() if uid}
    )[:count]
    reduced = {}
    for name, table in tables.items():
        table = table.filter(pc.is_in(table["SeriesInstanceUID"], pa.array(uids)))
        _, dataset, table_name = name.split(".")
        path = source / SOURCE_PROJECT / dataset / f"{table_name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        reduced[name] = table
    return reduced
