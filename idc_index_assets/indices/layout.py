"""How an index's rows are laid out in its Parquet file, for the two ways it is read: whole (the
`idc-index` client's `pandas.read_parquet`) and in place over HTTP with range reads (DuckDB's
httpfs, pyarrow/pandas over fsspec), where a reader fetches the footer, then only the column
chunks of the row groups its filter cannot exclude.

Rows arrive sorted by the index's query (its ORDER BY: collection, patient, study, series for
idc_index), so a collection, patient or study is a contiguous run that min/max statistics isolate.
Row groups are small enough that one row group is a small fetch, and columns looked up by value
that the order cannot cluster (idc_index's SeriesInstanceUID) carry Bloom filters that DuckDB
checks before reading a row group.
Settings chosen by measurement: benchmarks/bench_remote.py and bench_writer.py, figures in
benchmarks/README.md. pyarrow only, so that benchmarks can write files the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

# zstd level 1 is as small as levels 3 to 12 and the fastest (bench_writer.py).
COMPRESSION, COMPRESSION_LEVEL = "zstd", 1
# A column whose values are mostly distinct in the first batch (keys, UUIDs, URLs) is written
# without a dictionary, which would only add its own size (idc_index 6% smaller).
DISTINCT_SHARE_WITHOUT_DICTIONARY = 0.5
# 16k rows (about 1 MB of idc_index): one collection of idc_index's real rows (1% of them) costs
# a DuckDB reader 1.6 MB, where 64k-row groups cost 4.7 MB and the published single row group
# 74 MB; the footer grows by about 4 KB per row group (0.27 MB for idc_index's 64).
ROW_GROUP_ROWS = 16 * 1024
# A Bloom filter per row group and declared column (`IndexSpec.bloom_filters`), sized for
# ROW_GROUP_ROWS distinct values: 16 KB each at 5% (pyarrow rounds up to a power of two, so the
# real rate is lower); 1% doubles them (32 KB) and saved a DuckDB series lookup only 0.3 MB.
# DuckDB consults them only on columns that also have min/max statistics: keep those.
BLOOM_FILTER_FPP = 0.05
# No page index: neither DuckDB nor pyarrow uses it to skip pages (pyarrow's writer says so).


def parquet_writer(
    sink, schema: pa.Schema, first: pa.RecordBatch | None, bloom_filters: tuple[str, ...] = ()
) -> pq.ParquetWriter:
    """A ParquetWriter with the layout's settings; which columns get a dictionary is decided on
    the first batch (None: no rows, every column). Raises KeyError for a Bloom filter column the
    schema lacks."""
    dictionary: bool | list[str] = True if first is None else dictionary_columns(first)
    for name in bloom_filters:
        if name not in schema.names:
            raise KeyError(f"Bloom filter column {name!r} is not a column of the index")
    blooms = {name: {"ndv": ROW_GROUP_ROWS, "fpp": BLOOM_FILTER_FPP} for name in bloom_filters}
    return pq.ParquetWriter(
        sink,
        schema,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=dictionary,
        bloom_filter_options=blooms or None,
    )


def dictionary_columns(batch: pa.RecordBatch) -> list[str]:
    """The columns worth a dictionary: all but the flat ones whose values are mostly distinct."""
    return [
        field.name
        for field, column in zip(batch.schema, batch.columns, strict=True)
        if pa.types.is_nested(field.type)
        or len(column.unique()) <= len(column) * DISTINCT_SHARE_WITHOUT_DICTIONARY
    ]


def write_parquet_file(
    sink,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    bloom_filters: tuple[str, ...] = (),
) -> int:
    """Stream the batches (already in the schema) into Parquet, ROW_GROUP_ROWS rows per row group
    whatever the batches' sizes (the last one holds the rest); returns the rows written. At most
    one row group's rows are held."""
    writer, rows, pending, held = None, 0, [], 0
    try:
        for batch in batches:
            if writer is None:
                writer = parquet_writer(sink, schema, batch, bloom_filters)
            pending.append(batch)
            held += batch.num_rows
            rows += batch.num_rows
            if held >= ROW_GROUP_ROWS:
                table = pa.Table.from_batches(pending, schema)
                full = held - held % ROW_GROUP_ROWS
                writer.write_table(table.slice(0, full), row_group_size=ROW_GROUP_ROWS)
                pending, held = table.slice(full).to_batches(), held - full
        if writer is None:  # no rows: a file with the schema only
            writer = parquet_writer(sink, schema, None, bloom_filters)
        elif held:
            writer.write_table(
                pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP_ROWS
            )
    finally:
        if writer is not None:
            writer.close()
    return rows
