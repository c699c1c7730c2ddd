"""What every engine hands back: a running query's Arrow record batches and metadata, and the
errors it raises (`transient` marks the ones worth retrying). Every engine also has
`table_state(dataset, table)`: a source table's schema and observation
(`sources.tables.SourceTableState`) without running a query."""

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
