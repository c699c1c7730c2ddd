"""Release notes: what changed in each index between two releases, as `release_notes.json` (for
programs, and the numbers Dagster plots) and `release_notes.md` (a short summary for people: the
text of a GitHub release or an announcement).

A release is a directory of index files: an IDC version's directory in the artifact store, or a
published release (`<bucket>/current/release_artifacts/`). Per index of the registry the notes give
rows before and after; rows added, removed and changed, matched on the index's primary key
("changed": same key, another column different, counted per column; values of a column whose type
changed are compared as text); columns added, removed and changed in type (GoogleSQL type names);
and how many key values are duplicated on each side. For `idc_index` also the series added,
revised (same SeriesInstanceUID, new crdc_series_uuid) and removed, per collection; the bytes
added (series added, and the new versions of revised series) and removed (series removed, and the
replaced versions), from `series_size_MB` (10^6 bytes); the collections added and removed. For
`collections_index`, the collections added and removed, and those whose license, source DOI or
cancer types changed.

Everything is computed by DuckDB over the two Parquet files (hash joins on the key, spilling to
disk beyond `memory_limit`), so memory stays bounded for the largest index. No Dagster here: the
`release_notes` asset (`notes_asset.py`) wraps it and turns `warnings` into asset checks.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from idc_index_assets.engines.semantics import literal_glob
from idc_index_assets.indices.contract import googlesql_type
from idc_index_assets.indices.registry import RELEASED_INDICES, IndexSpec
from idc_index_assets.indices.store import ArtifactDirectory
from idc_index_assets.indices.validation import IDC_VERSION_KEY, RELEASE_VERSION_KEY, as_directory

NOTES_ASSET = "release_notes"
NOTES_JSON = "release_notes.json"
NOTES_MARKDOWN = "release_notes.md"
FORMAT_VERSION = 1
EXAMPLES = 5

# The warnings, as the asset's check names.
VANISHED_COLLECTIONS = "vanished_collections"
ROW_COUNT_DROP = "row_count_drop"
COLUMN_TYPE_CHANGES = "column_type_changes"
NEW_DUPLICATE_KEYS = "new_duplicate_keys"
COMPLETE_PREVIOUS = "complete_previous_release"
BREAKING_CHANGES = "breaking_changes"
WARNING_DESCRIPTIONS = {
    COMPLETE_PREVIOUS: "Every index of this release has files in the previous release it is "
    "compared with (one absent there is compared as new: its changes are unknown).",
    BREAKING_CHANGES: "No index and no column of the previous release was removed, renamed or "
    "retyped, and no primary key changed (a breaking change needs a new major version).",
    VANISHED_COLLECTIONS: "No collection of the previous release is missing from idc_index or "
    "collections_index.",
    ROW_COUNT_DROP: "No index lost more than the allowed fraction of its rows since the previous "
    "release (an index missing altogether lost them all).",
    COLUMN_TYPE_CHANGES: "No column kept its name but changed its type.",
    NEW_DUPLICATE_KEYS: "No index whose primary key was unique in the previous release has "
    "duplicated key values now.",
}

_SIDE = '"__release_notes_row"'  # marks which side of the full join a row came from


class NotesError(ValueError):
    """The releases to compare are not usable (no index files, unreadable parquet)."""


# --- which releases --------------------------------------------------------------------------------


def release_of(directory: Path, specs: Sequence[IndexSpec] = RELEASED_INDICES) -> dict:
    """The IDC version and release version embedded in a directory's index files (the first one
    found), as `{"idc_version": N, "release_version": "X.Y.Z"}`; raises NotesError without any."""
    for spec in specs:
        path = Path(directory) / f"{spec.name}.parquet"
        if path.is_file():
            metadata = _schema(path).metadata or {}
            idc_version = metadata.get(IDC_VERSION_KEY, b"").decode()
            return {
                "idc_version": int(idc_version) if idc_version.isdigit() else None,
                "release_version": metadata.get(RELEASE_VERSION_KEY, b"").decode() or None,
            }
    raise NotesError(f"{directory}: no index parquet files to compare")


def previous_version(root: ArtifactDirectory | Path, idc_version: int) -> int | None:
    """The newest IDC version before `idc_version` with index files under the artifact store
    `root` (`<root>/<N>/*.parquet`, local or gs://), or None."""
    root = as_directory(root)
    earlier = [
        int(name)
        for name in root.subdirectories()
        if name.isdigit()
        and int(name) < idc_version
        and any(file.endswith(".parquet") for file in root.subdirectory(name).names())
    ]
    return max(earlier, default=None)


def fetch_release(bucket, directory: Path, specs: Sequence[IndexSpec] = RELEASED_INDICES) -> Path:
    """Download the index parquet files of a published release (a `publish.ReleaseBucket` opened
    at its `.../release_artifacts` prefix, e.g. `gs://bucket/current/release_artifacts`) into
    `directory`, to compare with; raises NotesError when it holds none."""
    present = set(bucket.list(""))
    names = [f"{spec.name}.parquet" for spec in specs if f"{spec.name}.parquet" in present]
    if not names:
        raise NotesError(f"{bucket.target}: no index parquet files to compare")
    if NOTES_JSON in present:  # its own notes: each index's primary key then
        names.append(NOTES_JSON)
    for name in names:
        bucket.download(name, Path(directory) / name)
    return Path(directory)


# --- computing -------------------------------------------------------------------------------------


def compute_notes(
    directory: Path,
    previous: Path | None,
    *,
    memory_limit: str = "1GB",
    specs: Sequence[IndexSpec] = RELEASED_INDICES,
) -> dict:
    """The notes of the release in `directory` against the one in `previous` (None: there is
    none, the notes say so). Indices of `specs` missing on both sides are left out; one missing
    on a side is reported as new or missing. Raises NotesError when `directory` (or `previous`)
    holds no index file, or a parquet cannot be read."""
    directory = Path(directory)
    notes: dict = {"format": FORMAT_VERSION, **release_of(directory, specs)}
    notes["previous"] = release_of(previous, specs) if previous is not None else None
    with tempfile.TemporaryDirectory(prefix="idc-notes-spill-") as spill:
        connection = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill})
        try:
            notes["indices"] = {}
            for spec in specs:
                after = _parquet(directory, spec)
                before = _parquet(previous, spec) if previous is not None else None
                if after is None and before is None:
                    continue
                if previous is None:
                    notes["indices"][spec.name] = {
                        "primary_key": list(spec.primary_key),
                        "rows_after": _rows(after),
                    }
                    continue
                notes["indices"][spec.name] = _diff_index(connection, spec, before, after)
            if previous is not None:
                notes["previous"]["absent_indices"] = [
                    name for name, entry in notes["indices"].items() if entry.get("status") == "new"
                ]
                notes["breaking_changes"] = breaking_changes(
                    notes["indices"], _previous_keys(previous)
                )
                notes["idc_index"] = _series_changes(connection, directory, previous)
                notes["collections_index"] = _collection_changes(connection, directory, previous)
        except duckdb.Error as error:
            raise NotesError(f"comparing {previous} with {directory}: {error}") from error
        finally:
            connection.close()
    return notes


def _parquet(directory: Path, spec: IndexSpec) -> Path | None:
    path = Path(directory) / f"{spec.name}.parquet"
    return path if path.is_file() else None


def _schema(path: Path):
    try:
        return pq.read_schema(path)
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        raise NotesError(f"{path}: not a readable parquet file: {error}") from error


def _rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows


def _types(path: Path) -> dict[str, str]:
    return {field.name: _type_name(field.type) for field in _schema(path)}


def _type_name(arrow_type) -> str:
    try:
        return googlesql_type(arrow_type)
    except TypeError:  # no BigQuery type (e.g. Arrow's null type): Arrow's name says what it is
        return str(arrow_type)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scan(path: Path) -> str:
    return "read_parquet('" + literal_glob(str(path)).replace("'", "''") + "')"


def _key_match(key: Sequence[str]) -> str:
    return " AND ".join(f"b.{_q(c)} IS NOT DISTINCT FROM a.{_q(c)}" for c in key)


def _duplicated_keys(connection, path: Path, key: Sequence[str]) -> tuple[int, list[str]]:
    """How many key values occur more than once, and a few of them."""
    columns = ", ".join(_q(c) for c in key)
    duplicated = (
        f"SELECT {columns}, count(*) AS n FROM {_scan(path)} GROUP BY ALL HAVING count(*) > 1"
    )
    count = connection.execute(f"SELECT count(*) FROM ({duplicated})").fetchone()[0]
    examples = connection.execute(
        f"SELECT {columns} FROM ({duplicated}) ORDER BY n DESC, {columns} LIMIT {EXAMPLES}"
    ).fetchall()
    return count, [", ".join(str(v) for v in row) for row in examples]


def _diff_index(connection, spec: IndexSpec, before: Path | None, after: Path | None) -> dict:
    entry: dict = {"primary_key": list(spec.primary_key)}
    if before is None:
        return entry | {"status": "new", "rows_before": 0, "rows_after": _rows(after)}
    if after is None:
        return entry | {"status": "missing", "rows_before": _rows(before), "rows_after": 0}
    old, new = _types(before), _types(after)
    entry |= {
        "rows_before": _rows(before),
        "rows_after": _rows(after),
        "columns_added": [{"name": c, "type": t} for c, t in new.items() if c not in old],
        "columns_removed": [{"name": c, "type": t} for c, t in old.items() if c not in new],
        "columns_type_changed": [
            {"name": c, "before": old[c], "after": t}
            for c, t in new.items()
            if c in old and old[c] != t
        ],
        "columns_renamed": _renamed(old, new),
    }
    key = spec.primary_key
    missing_key = [c for c in key if c not in old or c not in new]
    if missing_key:
        entry["note"] = f"key column {', '.join(missing_key)} missing: rows not matched"
        return entry | {"status": "changed", "rows_added": None, "rows_removed": None}
    for side, path in (("before", before), ("after", after)):
        count, examples = _duplicated_keys(connection, path, key)
        entry[f"duplicated_keys_{side}"] = count
        if count:
            entry[f"duplicated_key_examples_{side}"] = examples

    columns = [c for c in new if c in old and c not in key]
    if entry["duplicated_keys_before"] or entry["duplicated_keys_after"]:
        # Rows of a duplicated key cannot be paired: count only the keys that come and go.
        entry["note"] = "duplicated key values: changed rows not counted"
        entry |= _added_removed(connection, key, before, after)
        entry |= {"rows_changed": None, "changed_by_column": {}}
    else:
        entry |= _full_diff(connection, key, columns, old, new, before, after)
    unchanged = not any(
        entry[k]
        for k in ("rows_added", "rows_removed", "rows_changed", "columns_added", "columns_removed")
    )
    entry["status"] = "unchanged" if unchanged and not entry["columns_type_changed"] else "changed"
    return entry


def _renamed(old: dict[str, str], new: dict[str, str]) -> list[dict]:
    """Columns read as renamed: between two columns that both releases have (or an end), the
    previous release has exactly one column the new one lacks and the new one exactly one column
    the previous lacked, of the same type, e.g. `{"before": "PatientSize", "after":
    "PatientHeight", "type": "FLOAT64"}`. Anything less clear stays a removal plus an addition."""
    before, after = list(old), list(new)
    kept = [c for c in before if c in new]
    bounds = [None, *kept, None]
    renamed = []
    for left, right in itertools.pairwise(bounds):
        gone = before[
            before.index(left) + 1 if left else 0 : before.index(right) if right else None
        ]
        came = after[after.index(left) + 1 if left else 0 : after.index(right) if right else None]
        gone = [c for c in gone if c not in new]
        came = [c for c in came if c not in old]
        if len(gone) == len(came) == 1 and old[gone[0]] == new[came[0]]:
            renamed.append({"before": gone[0], "after": came[0], "type": old[gone[0]]})
    return renamed


def _previous_keys(previous: Path) -> dict[str, list[str]]:
    """Each index's primary key as the previous release's own notes recorded it (`{}` when it
    has none: a key change is then not detectable)."""
    try:
        recorded = json.loads((Path(previous) / NOTES_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: entry["primary_key"]
        for name, entry in (recorded.get("indices") or {}).items()
        if isinstance(entry, dict) and entry.get("primary_key")
    }


def breaking_changes(indices: dict, previous_keys: dict[str, list[str]]) -> list[dict]:
    """What breaks code written against the previous release: an index removed; a column removed,
    renamed (`_renamed`) or retyped; a primary key changed. One dict per change: `index`,
    `change` (index_removed, column_removed, column_renamed, column_retyped, key_changed),
    `column`, `before`, `after`, and `client`: the idc-index client functions that read the
    column (`client_contract`)."""
    from idc_index_assets.releases.client_contract import client_uses

    changes = []

    def add(index: str, change: str, column: str | None, before, after) -> None:
        client = client_uses(index, column) if column else []
        changes.append(
            {"index": index, "change": change, "column": column, "before": before}
            | {"after": after, "client": client}
        )

    for name, entry in indices.items():
        if entry.get("status") == "missing":
            add(name, "index_removed", None, name, None)
            continue
        renamed = {c["before"]: c for c in entry.get("columns_renamed", [])}
        for column in entry.get("columns_removed", []):
            if column["name"] in renamed:
                rename = renamed[column["name"]]
                add(name, "column_renamed", column["name"], column["name"], rename["after"])
            else:
                add(name, "column_removed", column["name"], column["type"], None)
        for column in entry.get("columns_type_changed", []):
            add(name, "column_retyped", column["name"], column["before"], column["after"])
        key_before = previous_keys.get(name)
        if key_before and entry.get("primary_key") and key_before != entry["primary_key"]:
            add(name, "key_changed", None, ", ".join(key_before), ", ".join(entry["primary_key"]))
    return changes


def _full_diff(connection, key, columns, old, new, before: Path, after: Path) -> dict:
    """One full outer join on the key: rows on one side only, and rows whose columns differ."""
    differs = {}
    for c in columns:
        if old[c] == new[c]:
            differs[c] = f"b.{_q(c)} IS DISTINCT FROM a.{_q(c)}"
        else:
            differs[c] = f"b.{_q(c)}::VARCHAR IS DISTINCT FROM a.{_q(c)}::VARCHAR"
    both = f"b.{_SIDE} AND a.{_SIDE}"
    any_differs = " OR ".join(differs.values()) or "false"
    selected = ", ".join(_q(c) for c in [*key, *columns])
    per_column = "".join(f", count(*) FILTER (WHERE {both} AND {d})" for d in differs.values())
    row = connection.execute(
        f"SELECT count(*) FILTER (WHERE b.{_SIDE} IS NULL), "
        f"count(*) FILTER (WHERE a.{_SIDE} IS NULL), "
        f"count(*) FILTER (WHERE {both} AND ({any_differs})){per_column} "
        f"FROM (SELECT {selected}, true AS {_SIDE} FROM {_scan(before)}) b "
        f"FULL JOIN (SELECT {selected}, true AS {_SIDE} FROM {_scan(after)}) a "
        f"ON {_key_match(key)}"
    ).fetchone()
    counts = dict(zip(differs, row[3:], strict=True))
    return {
        "rows_added": row[0],
        "rows_removed": row[1],
        "rows_changed": row[2],
        "changed_by_column": {c: n for c, n in counts.items() if n},
    }


def _added_removed(connection, key, before: Path, after: Path) -> dict:
    columns = ", ".join(_q(c) for c in key)

    def only_in(this: Path, other: Path) -> int:
        return connection.execute(
            f"SELECT count(*) FROM {_scan(this)} a "
            f"ANTI JOIN (SELECT DISTINCT {columns} FROM {_scan(other)}) b ON {_key_match(key)}"
        ).fetchone()[0]

    return {"rows_added": only_in(after, before), "rows_removed": only_in(before, after)}


def _has(path: Path, columns: Sequence[str]) -> bool:
    return path.is_file() and set(columns) <= set(_schema(path).names)


_SERIES_COLUMNS = ("SeriesInstanceUID", "crdc_series_uuid", "collection_id", "series_size_MB")


def _series_changes(connection, directory: Path, previous: Path) -> dict | None:
    """idc_index: series added, revised and removed per collection, bytes, collections."""
    before, after = Path(previous) / "idc_index.parquet", Path(directory) / "idc_index.parquet"
    if not (_has(before, _SERIES_COLUMNS) and _has(after, _SERIES_COLUMNS)):
        return None
    columns = ", ".join(_q(c) for c in _SERIES_COLUMNS)
    added, removed = "b.SeriesInstanceUID IS NULL", "a.SeriesInstanceUID IS NULL"
    revised = (
        "a.SeriesInstanceUID IS NOT NULL AND b.SeriesInstanceUID IS NOT NULL "
        "AND a.crdc_series_uuid IS DISTINCT FROM b.crdc_series_uuid"
    )
    rows = connection.execute(
        f"SELECT coalesce(a.collection_id, b.collection_id) AS collection_id, "
        f"count(*) FILTER (WHERE {added}), count(*) FILTER (WHERE {revised}), "
        f"count(*) FILTER (WHERE {removed}), "
        f"coalesce(sum(a.series_size_MB) FILTER (WHERE {added} OR {revised}), 0), "
        f"coalesce(sum(b.series_size_MB) FILTER (WHERE {removed} OR {revised}), 0) "
        f"FROM (SELECT {columns} FROM {_scan(before)}) b "
        f"FULL JOIN (SELECT {columns} FROM {_scan(after)}) a "
        f"ON a.SeriesInstanceUID IS NOT DISTINCT FROM b.SeriesInstanceUID "
        f"GROUP BY ALL ORDER BY collection_id NULLS LAST"
    ).fetchall()
    by_collection = {
        collection: {"series_added": a, "series_revised": r, "series_removed": d}
        for collection, a, r, d, _, _ in rows
        if a or r or d
    }
    return {
        "series_added": sum(row[1] for row in rows),
        "series_revised": sum(row[2] for row in rows),
        "series_removed": sum(row[3] for row in rows),
        # series_size_MB is in 10^6 bytes (SUM(instance_size) / 1000000)
        "bytes_added": round(sum(row[4] for row in rows) * 1e6),
        "bytes_removed": round(sum(row[5] for row in rows) * 1e6),
        **_collections_in_out(connection, before, after),
        "by_collection": by_collection,
    }


def _collections_in_out(connection, before: Path, after: Path) -> dict:
    def only_in(this: Path, other: Path) -> list[str]:
        rows = connection.execute(
            f"SELECT collection_id FROM {_scan(this)} WHERE collection_id IS NOT NULL "
            f"EXCEPT SELECT collection_id FROM {_scan(other)} ORDER BY 1"
        ).fetchall()
        return [row[0] for row in rows]

    return {
        "collections_added": only_in(after, before),
        "collections_removed": only_in(before, after),
    }


# What the notes compare of a collection: a text for people, and a value compared exactly.
_COLLECTION_FIELDS = {
    "license": (
        "array_to_string(list_sort(list_transform(sources, "
        "lambda s: s.license.license_short_name)), ', ')",
        "list_sort(list_transform(sources, lambda s: s.license))",
    ),
    "source_doi": (
        "array_to_string(list_sort(list_transform(sources, lambda s: s.source_doi)), ', ')",
        "list_sort(list_transform(sources, lambda s: s.source_doi))",
    ),
    "cancer_types": ("cancer_types", "cancer_types"),
}


def _collection_changes(connection, directory: Path, previous: Path) -> dict | None:
    """collections_index: collections added and removed, and whose license, DOI or cancer types
    changed (each with its text before and after)."""
    before = Path(previous) / "collections_index.parquet"
    after = Path(directory) / "collections_index.parquet"
    needed = ("collection_id", "cancer_types", "sources")
    if not (_has(before, needed) and _has(after, needed)):
        return None
    shown = ", ".join(f"{text} AS {name}" for name, (text, _) in _COLLECTION_FIELDS.items())
    compared = ", ".join(
        f"{value} AS {name}__value" for name, (_, value) in _COLLECTION_FIELDS.items()
    )
    names = list(_COLLECTION_FIELDS)
    differs = " OR ".join(f"b.{n}__value IS DISTINCT FROM a.{n}__value" for n in names)
    select = f"SELECT collection_id, {shown}, {compared} FROM "
    picked = ", ".join(f"b.{n}__value IS DISTINCT FROM a.{n}__value, b.{n}, a.{n}" for n in names)
    rows = connection.execute(
        f"SELECT a.collection_id, {picked} FROM ({select}{_scan(before)}) b "
        f"JOIN ({select}{_scan(after)}) a ON a.collection_id = b.collection_id "
        f"WHERE {differs} ORDER BY a.collection_id"
    ).fetchall()
    changed = []
    for row in rows:
        values = row[1:]
        changes = {
            name: {"before": values[3 * i + 1], "after": values[3 * i + 2]}
            for i, name in enumerate(names)
            if values[3 * i]
        }
        changed.append({"collection_id": row[0], "changes": changes})
    return {**_collections_in_out(connection, before, after), "collections_changed": changed}


# --- warnings ---------------------------------------------------------------------------------------


def warnings(notes: dict, max_row_drop: float) -> dict[str, list[str]]:
    """The problems worth a warning, per check name (empty lists: nothing to warn about). Each
    problem names what is at fault: the collection, the index, the column."""
    found: dict[str, list[str]] = {name: [] for name in WARNING_DESCRIPTIONS}
    if notes.get("previous") is None:
        return found
    compared_with = _release_label(notes["previous"])
    found[COMPLETE_PREVIOUS] = [
        f"{name}: no files in {compared_with}; compared as absent (changes unknown)"
        for name in notes["previous"].get("absent_indices", [])
    ]
    found[BREAKING_CHANGES] = [
        describe_breaking(change) for change in notes.get("breaking_changes", [])
    ]
    vanished: dict[str, list[str]] = {}
    for index in ("idc_index", "collections_index"):
        for collection in (notes.get(index) or {}).get("collections_removed", []):
            vanished.setdefault(collection, []).append(index)
    found[VANISHED_COLLECTIONS] = [
        f"{collection} (gone from {' and '.join(where)})"
        for collection, where in sorted(vanished.items())
    ]
    for name, entry in notes["indices"].items():
        before, after = entry.get("rows_before") or 0, entry.get("rows_after") or 0
        if before and (before - after) / before > max_row_drop:
            found[ROW_COUNT_DROP].append(
                f"{name}: {before} → {after} rows, a {(before - after) / before:.1%} drop, "
                f"more than {max_row_drop:.0%}"
            )
        for column in entry.get("columns_type_changed", []):
            found[COLUMN_TYPE_CHANGES].append(
                f"{name}.{column['name']}: {column['before']} → {column['after']}"
            )
        if entry.get("duplicated_keys_before") == 0 and entry.get("duplicated_keys_after"):
            examples = "; ".join(entry.get("duplicated_key_examples_after", []))
            found[NEW_DUPLICATE_KEYS].append(
                f"{name} ({', '.join(entry['primary_key'])}): "
                f"{entry['duplicated_keys_after']} duplicated key values, e.g. {examples}"
            )
    return found


_CHANGE_WORDS = {
    "index_removed": "index removed",
    "column_removed": "column removed",
    "column_renamed": "column renamed",
    "column_retyped": "column retyped",
    "key_changed": "primary key changed",
}


def describe_breaking(change: dict) -> str:
    """One breaking change in a line, e.g. `idc_index.PatientAge: column removed (STRING); read by
    the idc-index client's IDCClient.get_patients`."""
    where = f"{change['index']}.{change['column']}" if change.get("column") else change["index"]
    what = _CHANGE_WORDS[change["change"]]
    if change["change"] == "column_removed":
        what += f" ({change['before']})"
    elif change["change"] != "index_removed":
        what += f": {change['before']} → {change['after']}"
    if change.get("client"):
        what += f"; read by the idc-index client's {', '.join(change['client'])}"
    return f"{where}: {what}"


def headline(notes: dict) -> dict[str, int]:
    """The numbers worth plotting across versions: per index rows, added, removed and changed;
    for idc_index series, bytes and collections."""
    numbers: dict[str, int] = {}
    for name, entry in notes["indices"].items():
        for field in ("rows_after", "rows_added", "rows_removed", "rows_changed"):
            if entry.get(field) is not None:
                numbers[f"{name}/{field}"] = entry[field]
    series = notes.get("idc_index") or {}
    for field in ("series_added", "series_revised", "series_removed"):
        if field in series:
            numbers[field] = series[field]
    for field in ("bytes_added", "bytes_removed"):
        if field in series:
            numbers[field] = series[field]
    for field in ("collections_added", "collections_removed"):
        if field in series:
            numbers[field] = len(series[field])
    return numbers


# --- Markdown ---------------------------------------------------------------------------------------


def _release_label(release: dict) -> str:
    label = f"IDC v{release['idc_version']}" if release.get("idc_version") else "IDC"
    if release.get("release_version"):
        label += f" (idc-index-data {release['release_version']})"
    return label


def _size(count: int) -> str:
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= factor:
            return f"{count / factor:,.2f} {unit}"
    return f"{count} bytes"


def _number(value) -> str:
    return "n/a" if value is None else f"{value:,}"


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def render_markdown(notes: dict) -> str:
    """The notes as Markdown (GitHub-flavoured): headline numbers, the collections added and
    removed, the series per collection, one table of the indices and one per changed index."""
    lines = [f"## {_release_label(notes)}", ""]
    if notes["previous"] is None:
        lines += [
            "The first IDC version built here: there is no earlier release to compare it with.",
            "",
            "| index | rows |",
            "|---|---:|",
        ]
        lines += [f"| `{n}` | {e['rows_after']:,} |" for n, e in notes["indices"].items()]
        return "\n".join(lines) + "\n"

    lines += [f"Changes since {_release_label(notes['previous'])}.", ""]
    series, collections = notes.get("idc_index"), notes.get("collections_index")
    indices = notes["indices"]
    absent = notes["previous"].get("absent_indices", [])
    if absent:
        lines += [
            f"> **Incomplete comparison:** {len(absent)} of {len(indices)} indices have no files "
            f"in {_release_label(notes['previous'])}: {_names(absent)}. They are compared as "
            "absent (0 rows before); what changed in them is not known.",
            "",
        ]
    changed = [n for n, e in indices.items() if e.get("status") != "unchanged" and n not in absent]
    if series:
        lines.append(
            f"- **Series:** {series['series_added']:,} added, {series['series_revised']:,} "
            f"revised, {series['series_removed']:,} removed"
        )
        lines.append(
            f"- **Data:** {_size(series['bytes_added'])} added, "
            f"{_size(series['bytes_removed'])} removed"
        )
        lines.append(
            f"- **Collections:** {len(series['collections_added'])} added, "
            f"{len(series['collections_removed'])} removed"
        )
    compared = len(indices) - len(absent)
    not_compared = f"; {len(absent)} not compared (absent before)" if absent else ""
    lines += [f"- **Indices:** {len(changed)} of {compared} changed{not_compared}", ""]
    breaking = notes.get("breaking_changes") or []
    if breaking:
        lines += ["### Breaking changes", ""]
        lines += [
            "Code written against the previous release may need changes:",
            "",
            "| index | change | column | before | after | read by idc-index |",
            "|---|---|---|---|---|---|",
        ]
        for change in breaking:
            client = ", ".join(f"`{f}`" for f in change.get("client") or []) or ""
            lines.append(
                f"| `{change['index']}` | {_CHANGE_WORDS[change['change']]} | "
                f"{'`' + change['column'] + '`' if change.get('column') else ''} | "
                f"{change.get('before') or ''} | {change.get('after') or ''} | {client} |"
            )
        lines.append("")

    if series:
        lines += [f"**Collections added:** {_names(series['collections_added'])}", ""]
        lines += [f"**Collections removed:** {_names(series['collections_removed'])}", ""]
    if collections and collections["collections_changed"]:
        lines += ["### Collections with a new license, DOI or cancer types", ""]
        lines += ["| collection | changed | before | after |", "|---|---|---|---|"]
        for item in collections["collections_changed"]:
            for field, change in item["changes"].items():
                lines.append(
                    f"| `{item['collection_id']}` | {field} | {change['before'] or ''} | "
                    f"{change['after'] or ''} |"
                )
        lines.append("")
    if series and series["by_collection"]:
        lines += ["### Series by collection", ""]
        lines += ["| collection | added | revised | removed |", "|---|---:|---:|---:|"]
        for collection, counts in series["by_collection"].items():
            lines.append(
                f"| `{collection}` | {counts['series_added']:,} | "
                f"{counts['series_revised']:,} | {counts['series_removed']:,} |"
            )
        lines.append("")

    lines += ["### Indices", ""]
    lines += [
        "| index | rows before | rows after | added | removed | changed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in indices.items():
        status = {"new": " (new)", "missing": " (missing)"}.get(entry.get("status"), "")
        if name in absent:
            status = " (absent before)"
        lines.append(
            f"| `{name}`{status} | {entry['rows_before']:,} | {entry['rows_after']:,} | "
            f"{_number(entry.get('rows_added'))} | {_number(entry.get('rows_removed'))} | "
            f"{_number(entry.get('rows_changed'))} |"
        )
    lines.append("")
    for name, entry in indices.items():
        details = _index_details(entry)
        if details:
            lines += [f"#### `{name}`", "", *details, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _index_details(entry: dict) -> list[str]:
    """One table per changed index: its column changes and the rows changed per column."""
    rows = [f"| `{c['name']}` | added ({c['type']}) | |" for c in entry.get("columns_added", [])]
    rows += [
        f"| `{c['name']}` | removed ({c['type']}) | |" for c in entry.get("columns_removed", [])
    ]
    retyped = {c["name"]: c for c in entry.get("columns_type_changed", [])}
    counts = entry.get("changed_by_column", {})
    for column in dict.fromkeys([*retyped, *counts]):
        change = (
            f"type {retyped[column]['before']} → {retyped[column]['after']}"
            if column in retyped
            else "values"
        )
        rows.append(f"| `{column}` | {change} | {counts.get(column, 0):,} |")
    notes = [f"_{entry['note']}_", ""] if entry.get("note") else []
    if not rows:
        return notes[:1]
    return [*notes, "| column | change | rows changed |", "|---|---|---:|", *rows]


# --- files ------------------------------------------------------------------------------------------


def write_notes(directory: Path, notes: dict) -> tuple[Path, Path]:
    """Write `release_notes.json` and `release_notes.md` into `directory`, each atomically (a
    hidden temporary file renamed into place); returns their paths."""
    written = []
    for name, text in (
        (NOTES_JSON, json.dumps(notes, indent=2) + "\n"),
        (NOTES_MARKDOWN, render_markdown(notes)),
    ):
        path = Path(directory) / name
        temporary = path.with_name(f".{name}.{os.getpid()}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
        written.append(path)
    return written[0], written[1]
