"""Every index query, run on BigQuery's reference evaluator (ZetaSQL) over the sample release's
newest version, gives the rows the DuckDB engine builds (compared as a multiset: see
`tests.reference_rows`). The reference takes one to seventy seconds a query here (its joins are
nested loops), so these are slow tests."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import STUDIES_QUERY
from idc_index_assets.indices.queries import QUERIES_DIR, load_query
from tests.conftest import SAMPLE_VERSIONS
from tests.reference_rows import SourceTables, difference

QUERY_FILES = sorted(path.stem for path in QUERIES_DIR.glob("*.sql"))


@pytest.fixture(scope="module")
def source_tables(sample_source) -> SourceTables:
    return SourceTables(sample_source)


def test_every_query_file_is_checked():
    assert len(QUERY_FILES) == 19 and STUDIES_QUERY in QUERY_FILES


@pytest.mark.slow
@pytest.mark.parametrize("name", QUERY_FILES)
def test_the_reference_gives_the_rows_the_duckdb_engine_built(
    name, reference, sample_source, built_artifacts, source_tables
):
    query = load_query(name)
    sql = query.render(SAMPLE_VERSIONS)
    tables = source_tables.named(query.tables_read(SAMPLE_VERSIONS))
    for upstream in query.upstream_indices:  # tcia_idc_subset reads the built idc_index
        tables[upstream] = pq.read_table(built_artifacts / f"{upstream}.parquet")
    if name == STUDIES_QUERY:  # the studies of gdc_idc_mapping, before the GDC cases join
        with IndexEngine(source_dir=str(sample_source)).run(sql, query_file=name) as run:
            built = run.batches.read_all()
    else:
        built = pq.read_table(built_artifacts / f"{name}.parquet")
    expected = reference.run(sql, tables)
    assert expected.num_rows > 0, "the sample gives the query rows to compare"
    assert difference(built, expected) is None, difference(built, expected)
