"""Names of IDC's source tables and where a local snapshot keeps them.

IDC publishes each release N as the BigQuery datasets `bigquery-public-data.idc_vN` and
`idc_vN_clinical`; a snapshot mirrors them as `<root>/bigquery-public-data/<dataset>/<table>.parquet`
(or a directory `<table>/` of Parquet files, the layout of IDC's public Parquet export).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line lists versions from here before anything heavy loads
    import pyarrow as pa

SOURCE_PROJECT = "bigquery-public-data"


def snapshot_versions(source_dir: Path | str) -> list[int]:
    """The IDC versions a snapshot holds, oldest first: its `bigquery-public-data/idc_vN`
    directories (a directory listing, nothing read). Raises NotADirectoryError when `source_dir`
    is a file."""
    source_dir = Path(source_dir)
    if source_dir.exists() and not source_dir.is_dir():
        raise NotADirectoryError(f"the source snapshot {source_dir} is not a directory")
    found = [
        re.fullmatch(r"idc_v([1-9][0-9]*)", p.name)
        for p in (source_dir / SOURCE_PROJECT).glob("idc_v*")
    ]
    return sorted(int(m[1]) for m in found if m)


def snapshot_table_path(source_dir: Path, dataset: str, table: str) -> Path:
    """Where the snapshot keeps a table: `<root>/bigquery-public-data/<dataset>/<table>.parquet`,
    or a directory `<table>/` of Parquet files."""
    base = Path(source_dir) / SOURCE_PROJECT / dataset
    single = base / f"{table}.parquet"
    return single if single.exists() or not (base / table).is_dir() else base / table


@dataclass(frozen=True)
class SourceTable:
    """A source table of every IDC release, the release number written NN: dataset `idc_vNN` (or
    `idc_vNN_clinical`), table `dicom_all`."""

    dataset: str
    table: str

    @property
    def contract_name(self) -> str:
        """`bigquery-public-data.idc_vNN.dicom_all`, its name in the source contract."""
        return f"{SOURCE_PROJECT}.{self.dataset}.{self.table}"

    def dataset_of(self, idc_version: int) -> str:
        """The dataset of one release: `idc_v25`, `idc_v25_clinical`."""
        return self.dataset.replace("NN", str(idc_version))


@dataclass(frozen=True)
class SourceTableState:
    """A source table as an engine sees it without reading its rows: its Arrow schema (BigQuery's
    `tables.get`, or the snapshot's Parquet footer) and what changes when its content changes
    (`observation`: rows, bytes and last-modified time, a POSIX timestamp), which makes the
    source asset's data version."""

    table: str
    schema: pa.Schema
    observation: dict[str, Any]
