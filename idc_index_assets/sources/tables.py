"""Names of IDC's source tables and where a local snapshot keeps them.

IDC publishes each release N as the BigQuery datasets `bigquery-public-data.idc_vN` and
`idc_vN_clinical`; a snapshot mirrors them as `<root>/bigquery-public-data/<dataset>/<table>.parquet`
(or a directory `<table>/` of Parquet files, the layout of IDC's public Parquet export).
"""

from __future__ import annotations

from pathlib import Path

SOURCE_PROJECT = "bigquery-public-data"


def snapshot_table_path(source_dir: Path, dataset: str, table: str) -> Path:
    """Where the snapshot keeps a table: `<root>/bigquery-public-data/<dataset>/<table>.parquet`,
    or a directory `<table>/` of Parquet files."""
    base = Path(source_dir) / SOURCE_PROJECT / dataset
    single = base / f"{table}.parquet"
    return single if single.exists() or not (base / table).is_dir() else base / table
