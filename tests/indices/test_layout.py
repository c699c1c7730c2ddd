"""The Parquet layout of the index files (`indices.layout`): fixed-size row groups whatever the
engine's batches, and Bloom filters that a range-reading DuckDB uses to skip row groups."""

import io

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from idc_index_assets.indices import layout
from idc_index_assets.indices.registry import INDEX_BY_NAME


def _write(table: pa.Table, batch_rows: int, **options) -> bytes:
    sink = io.BytesIO()
    layout.write_parquet_file(sink, table.schema, table.to_batches(batch_rows), **options)
    return sink.getvalue()


def test_row_groups_have_a_fixed_size_and_bytes_do_not_depend_on_the_batches(built_artifacts):
    table = pq.read_table(built_artifacts / "idc_index.parquet")
    # enough rows for several row groups: the sample's rows repeated
    table = pa.concat_tables([table] * (2 * layout.ROW_GROUP_ROWS // table.num_rows + 2))
    written = {rows: _write(table, rows) for rows in (1000, 4096, 65536, 100_000)}
    assert len(set(written.values())) == 1
    metadata = pq.read_metadata(io.BytesIO(written[1000]))
    sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    assert sizes[:-1] == [layout.ROW_GROUP_ROWS] * (len(sizes) - 1)
    assert 0 < sizes[-1] <= layout.ROW_GROUP_ROWS and sum(sizes) == table.num_rows
    assert pq.read_table(io.BytesIO(written[1000])).equals(table)


def test_declared_bloom_filters_exclude_absent_values_and_keep_present_ones(built_artifacts):
    path = built_artifacts / "idc_index.parquet"
    declared = INDEX_BY_NAME["idc_index"].bloom_filters
    assert declared
    table = pq.read_table(path, columns=list(declared))
    for column in declared:
        present = table[column][table.num_rows // 2].as_py()
        probe = f"SELECT bloom_filter_excludes FROM parquet_bloom_probe('{path}', '{column}', ?)"
        assert duckdb.execute(probe, [present]).fetchall() == [(False,)]
        absent = [f"1.2.3.{n}" for n in range(20)]
        excluded = [duckdb.execute(probe, [value]).fetchall() == [(True,)] for value in absent]
        assert sum(excluded) >= 15  # a 5% false-positive rate
    # a column without one: the probe cannot exclude anything
    probe = f"SELECT bloom_filter_excludes FROM parquet_bloom_probe('{path}', 'Modality', 'none')"
    assert duckdb.execute(probe).fetchall() == [(False,)]
