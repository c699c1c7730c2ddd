"""What every engine hands back: a running query's Arrow record batches and metadata, what it can
tell cheaply about a source table (`SourceTableState`), and the errors it raises (`transient`
marks the ones worth retrying)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

BATCH_ROWS = 64 * 1024


class EngineError(RuntimeError):
    """A query that failed in the engine; the message names the query file. `transient` marks
    failures worth retrying (a remote engine's 429/5xx), as opposed to errors in the query or data."""

    transient = False


class MissingSourceTableError(EngineError):
    """A source table the query reads is not in the snapshot."""


@dataclass
class QueryRun:
    """A running query: its batches (consumed once) and what the engine reports about it."""

    batches: pa.RecordBatchReader
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceTableState:
    """A source table as an engine sees it without reading its rows: its Arrow schema (BigQuery's
    `tables.get`, or the snapshot's Parquet footer) and what changes when its content changes
    (`observation`: rows and last-modified time on BigQuery; rows, bytes and file mtime in a
    snapshot), for the source asset's data version."""

    table: str
    schema: pa.Schema
    observation: dict[str, Any]
