"""Benchmark: Parquet writer settings for an index, by re-encoding a built index file.

For each combination of zstd level, row-group size and dictionary use it writes the file's rows
again (in the index writer's 64k-row batches) and reports bytes, write seconds, row groups and the
seconds of `pandas.read_parquet` (what the `idc-index` client does), so that the writer's settings
are chosen by measurement.

    python benchmarks/bench_writer.py data/artifacts/3/idc_index.parquet [--published FILE]
        [--levels 1,3,6,9,12] [--row-groups 65536,131072,262144,524288]
"""

from __future__ import annotations

import argparse
import io
import itertools
import time
from pathlib import Path

import pyarrow.parquet as pq

LEVELS = (1, 3, 6, 9, 12)
ROW_GROUPS = (64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024)
BATCH_ROWS = 64 * 1024


def _encode(table, level: int, row_group: int, dictionary) -> tuple[bytes, float, int]:
    sink = io.BytesIO()
    start = time.perf_counter()
    with pq.ParquetWriter(
        sink, table.schema, compression="zstd", compression_level=level, use_dictionary=dictionary
    ) as writer:
        for offset in range(0, table.num_rows, row_group):
            writer.write_table(table.slice(offset, row_group), row_group_size=row_group)
    seconds = time.perf_counter() - start
    data = sink.getvalue()
    return data, seconds, pq.ParquetFile(io.BytesIO(data)).num_row_groups


def _read_seconds(data: bytes, repeat: int = 3) -> float:
    import pandas as pd

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        pd.read_parquet(io.BytesIO(data))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", type=Path)
    parser.add_argument("--published", type=Path, help="a published file to compare reads with")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="zstd levels")
    parser.add_argument(
        "--row-groups", default=",".join(map(str, ROW_GROUPS)), help="row-group sizes (rows)"
    )
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    row_groups = [int(v) for v in args.row_groups.split(",")]
    table = pq.read_table(args.parquet)
    # Columns whose values are mostly distinct gain nothing from a dictionary.
    distinct = {
        name: len(table[name].unique()) / max(table.num_rows, 1)
        for name in table.column_names
        if not str(table.schema.field(name).type).startswith(("list", "struct"))
    }
    unique_columns = [name for name, share in distinct.items() if share > 0.5]
    dictionaries = {
        "all": True,
        "not unique": [n for n in table.column_names if n not in unique_columns],
    }
    print(f"{args.parquet}: {table.num_rows} rows, {args.parquet.stat().st_size} bytes as built")
    print(f"mostly distinct columns (no dictionary in 'not unique'): {', '.join(unique_columns)}\n")
    print("| zstd level | row group rows | dictionary | bytes | row groups | write s | read s |")
    print("|---|---|---|---|---|---|---|")
    for level, row_group, (label, dictionary) in itertools.product(
        levels, row_groups, dictionaries.items()
    ):
        data, seconds, groups = _encode(table, level, row_group, dictionary)
        print(
            f"| {level} | {row_group} | {label} | {len(data)} | {groups} | {seconds:.2f} | "
            f"{_read_seconds(data):.3f} |",
            flush=True,
        )
    if args.published:
        data = args.published.read_bytes()
        print(f"\npublished {args.published}: {len(data)} bytes, read {_read_seconds(data):.3f} s")


if __name__ == "__main__":
    main()
