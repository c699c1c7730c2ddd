"""Checks that guard every index.

Declared on the asset itself and evaluated by the build on the staged files, before they replace
the previous ones (`build_outcomes`), per IDC version: blocking `schema_contract`, `integrity`,
`primary_key` and `plausible_values`, and the warning `row_count_change`. A failed blocking check
stops the build with the previous files byte-identical; the asset reports every result either way.

Warning (a separate asset check, runnable on its own from the UI, after the indices it refers
to): `references` (values resolve in the index they refer to). It is not run on the staged files:
the index it refers to may be rebuilt later in the same run, with the new values. What changed
since the previous release (rows lost, columns retyped, collections gone) is warned about by the
`release_notes` asset's checks (releases/notes.py).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from idc_index_assets.indices.contract import IndexContract
from idc_index_assets.indices.registry import INDEX_BY_NAME, IndexSpec
from idc_index_assets.indices.store import ArtifactDirectory
from idc_index_assets.indices.validation import (
    CONTRACT_CHECK,
    INTEGRITY_CHECK,
    as_directory,
    check_contract,
    check_integrity,
    index_file_names,
)

KEY_CHECK = "primary_key"
VALUES_CHECK = "plausible_values"
CHANGE_CHECK = "row_count_change"
REFERENCES_CHECK = "references"
BLOCKING_CHECKS = (CONTRACT_CHECK, INTEGRITY_CHECK, KEY_CHECK, VALUES_CHECK)
EXAMPLES = 5
# Numeric columns that hold a size or a count, which is never negative.
_SIZE_OR_COUNT = re.compile(r"size|count|subjects|^total_|^numberof", re.IGNORECASE)
_SIZE = re.compile(r"size", re.IGNORECASE)

_DESCRIPTIONS = {
    CONTRACT_CHECK: "Columns, order, types and modes equal the output contract, and the schema file "
    "describes exactly those columns, each with a description.",
    INTEGRITY_CHECK: "The sha256 sidecar matches the parquet's bytes, and the parquet's embedded "
    "release and IDC versions are the expected ones.",
    KEY_CHECK: "The primary key is unique and never null.",
    VALUES_CHECK: "No size or count is negative, no string is longer than IDC_MAX_STRING_LENGTH "
    "characters, and an index that every IDC version has rows in is not empty.",
    CHANGE_CHECK: "The rows, and the total of the size columns, differ from the previous IDC "
    "version's by at most IDC_MAX_BUILD_CHANGE (a fraction), either way.",
    REFERENCES_CHECK: "Every reference to another index resolves in that index.",
}


@dataclass
class Outcome:
    """One check's result on files: problems (empty = passed) and metadata for the UI."""

    name: str
    problems: list[str] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)
    blocking: bool = True

    @property
    def passed(self) -> bool:
        return not self.problems

    def result(self, asset_key: AssetKey, severity=None) -> AssetCheckResult:
        if severity is None:
            severity = AssetCheckSeverity.ERROR if self.blocking else AssetCheckSeverity.WARN
        metadata = {"violations": len(self.problems), **self.metadata}
        if self.problems:
            metadata["problems"] = "\n".join(self.problems[:20])
        return AssetCheckResult(
            asset_key=asset_key,
            check_name=self.name,
            passed=self.passed,
            severity=severity,
            metadata=metadata,
            description=self.problems[0] if self.problems else None,
        )


def blocking_check_specs(spec: IndexSpec, partitions_def) -> list[AssetCheckSpec]:
    """The checks every build evaluates on its staged files: the blocking ones and the
    `row_count_change` warning."""
    return [
        AssetCheckSpec(
            name,
            asset=spec.name,
            blocking=name in BLOCKING_CHECKS,
            description=_DESCRIPTIONS[name],
            partitions_def=partitions_def,
        )
        for name in (*BLOCKING_CHECKS, CHANGE_CHECK)
    ]


def contract_outcomes(
    contract: IndexContract,
    directory: ArtifactDirectory | Path,
    *,
    release_version: str | None,
    idc_version: int | None,
) -> list[Outcome]:
    return [
        Outcome(CONTRACT_CHECK, check_contract(directory, contract)),
        Outcome(
            INTEGRITY_CHECK,
            check_integrity(
                directory, contract.name, release_version=release_version, idc_version=idc_version
            ),
        ),
    ]


def key_outcome(spec: IndexSpec, directory: ArtifactDirectory | Path) -> Outcome:
    directory = as_directory(directory)
    keys = ", ".join(f'"{column}"' for column in spec.primary_key)
    null_condition = " OR ".join(f'"{column}" IS NULL' for column in spec.primary_key)
    with duckdb.connect() as connection:
        scan = directory.scan(connection, index_file_names(spec.name)["parquet"])
        nulls = connection.execute(
            f"SELECT count(*) FROM {scan} WHERE {null_condition}"
        ).fetchone()[0]
        duplicates = connection.execute(
            f"SELECT {keys}, count(*) AS n FROM {scan} GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY n DESC, {keys} LIMIT {EXAMPLES}"
        ).fetchall()
        duplicate_keys = connection.execute(
            f"SELECT count(*) FROM (SELECT {keys} FROM {scan} GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    problems = []
    if nulls:
        problems.append(f"{nulls} rows with a NULL in the key ({', '.join(spec.primary_key)})")
    if duplicate_keys:
        shown = ", ".join(str(row[:-1] if len(row) > 2 else row[0]) for row in duplicates)
        problems.append(f"{duplicate_keys} duplicated key values, e.g. {shown}")
    return Outcome(
        KEY_CHECK,
        problems,
        {
            "key": ", ".join(spec.primary_key),
            "null_keys": nulls,
            "duplicated_keys": duplicate_keys,
            "examples": [str(row[:-1]) for row in duplicates],
        },
    )


def reference_outcome(spec: IndexSpec, directory: ArtifactDirectory | Path) -> Outcome:
    directory = as_directory(directory)
    problems: list[str] = []
    metadata: dict[str, object] = {}
    with duckdb.connect() as connection:
        scan = directory.scan(connection, index_file_names(spec.name)["parquet"])
        for reference in spec.references:
            target = index_file_names(reference.index)["parquet"]
            label = f"{reference.column} → {reference.index}.{reference.target_column}"
            if not directory.exists(target):
                problems.append(f"{label}: {directory.label(target)} does not exist")
                continue
            dangling_sql = (
                f'SELECT DISTINCT s."{reference.column}" AS v '
                f"FROM {scan} s "
                f"ANTI JOIN {directory.scan(connection, target)} t "
                f'ON s."{reference.column}" = t."{reference.target_column}" '
                f'WHERE s."{reference.column}" IS NOT NULL'
            )
            count = connection.execute(f"SELECT count(*) FROM ({dangling_sql})").fetchone()[0]
            examples = [
                row[0]
                for row in connection.execute(
                    f"{dangling_sql} ORDER BY v LIMIT {EXAMPLES}"
                ).fetchall()
            ]
            metadata[f"dangling {label}"] = count
            if count:
                problems.append(f"{label}: {count} values do not resolve, e.g. {examples}")
    return Outcome(REFERENCES_CHECK, problems, metadata)


def evaluate_files(
    spec: IndexSpec,
    directory: ArtifactDirectory | Path,
    *,
    release_version: str | None,
    idc_version: int | None,
) -> list[Outcome]:
    """Blocking checks on a directory of artifacts (the build, the asset and `verify` share it)."""
    directory = as_directory(directory)
    outcomes = contract_outcomes(
        spec.contract, directory, release_version=release_version, idc_version=idc_version
    )
    # The rows are read only from a file that matches its contract and its digest: bytes that
    # differ from what the build wrote may not even decode.
    failed = [o.name for o in outcomes if not o.passed]
    if directory.exists(index_file_names(spec.name)["parquet"]) and not failed:
        outcomes.append(key_outcome(spec, directory))
        outcomes.append(values_outcome(spec, directory))
    else:
        why = f"{' and '.join(failed)} failed" if failed else "the file is missing"
        for name in (KEY_CHECK, VALUES_CHECK):
            outcomes.append(Outcome(name, [f"not evaluated: {why}"]))
    return outcomes


def build_outcomes(
    spec: IndexSpec,
    staged: ArtifactDirectory,
    *,
    release_version: str,
    idc_version: int,
    previous: ArtifactDirectory | None,
    source_problems: Sequence[str] = (),
) -> list[Outcome]:
    """Every check a build runs on its staged files before they may replace the previous ones:
    the blocking checks (`evaluate_files`, with `source_problems`, what `instance_problems` found
    in the rows the index was built from, added to `plausible_values`) and, against `previous`
    (the same index's directory of an earlier IDC version, or None), the `row_count_change`
    warning."""
    outcomes = evaluate_files(
        spec, staged, release_version=release_version, idc_version=idc_version
    )
    for outcome in outcomes:
        if outcome.name == VALUES_CHECK:
            outcome.problems[:0] = source_problems
    if all(o.passed for o in outcomes):
        outcomes.append(change_outcome(spec, staged, previous))
    else:
        outcomes.append(Outcome(CHANGE_CHECK, blocking=False))
    return outcomes


def _numeric_columns(spec: IndexSpec, pattern: re.Pattern) -> list[str]:
    return [
        column.name
        for column in spec.contract.columns
        if column.type in ("INTEGER", "INT64", "FLOAT", "FLOAT64")
        and column.mode != "REPEATED"
        and pattern.search(column.name)
    ]


def values_outcome(spec: IndexSpec, directory: ArtifactDirectory | Path) -> Outcome:
    """`plausible_values`: values that are certainly wrong, in one pass over the file: a negative
    size or count, a string longer than IDC_MAX_STRING_LENGTH, no rows in an index that has rows
    for every IDC version. Problems name the column and example keys."""
    from idc_index_assets.settings import max_string_length

    directory = as_directory(directory)
    limit = max_string_length()
    numeric = _numeric_columns(spec, _SIZE_OR_COUNT)
    strings = [c.name for c in spec.contract.columns if c.type == "STRING" and c.mode != "REPEATED"]
    keys = ", ".join(_q(column) for column in spec.primary_key)
    conditions = {
        **{f"{column} < 0": f"{_q(column)} < 0" for column in numeric},
        **{f"length({column}) > {limit}": f"length({_q(column)}) > {limit}" for column in strings},
    }
    problems: list[str] = []
    metadata: dict[str, object] = {"max_string_length": limit}
    with duckdb.connect() as connection:
        scan = directory.scan(connection, index_file_names(spec.name)["parquet"])
        counts = [f"count_if({condition})" for condition in conditions.values()]
        row = connection.execute(
            f"SELECT {', '.join(['count(*)', *counts])} FROM {scan}"
        ).fetchone()
        rows, found = row[0], dict(zip(conditions, row[1:], strict=True))
        for label, count in found.items():
            if not count:
                continue
            examples = connection.execute(
                f"SELECT {keys} FROM {scan} WHERE {conditions[label]} ORDER BY {keys} "
                f"LIMIT {EXAMPLES}"
            ).fetchall()
            shown = ", ".join(str(r[0] if len(r) == 1 else r) for r in examples)
            problems.append(f"{count} rows with {label}, e.g. {spec.primary_key} = {shown}")
    if rows == 0 and not spec.may_be_empty:
        problems.append(
            f"no rows: every IDC version has {spec.name} rows (are the source tables it reads "
            "empty?)"
        )
    metadata["rows"] = rows
    return Outcome(VALUES_CHECK, problems, metadata)


# The instance rows an IDC version's dicom_all must never hold, in BigQuery SQL (it runs on the
# index engine): one aggregate pass for the counts, then examples only for what was found.
_INSTANCES = "`bigquery-public-data.idc_v{idc_version}.dicom_all`"
_INSTANCE_COUNTS = """
SELECT
  COUNT(SOPInstanceUID) - COUNT(DISTINCT SOPInstanceUID) AS duplicated_instances,
  COUNTIF(instance_size < 0) AS negative_instance_sizes,
  (SELECT COUNT(*) FROM (
    SELECT SeriesInstanceUID FROM {table}
    WHERE SeriesInstanceUID IS NOT NULL
    GROUP BY SeriesInstanceUID
    HAVING MIN(StudyInstanceUID) != MAX(StudyInstanceUID)
      OR MIN(collection_id) != MAX(collection_id)
  )) AS series_in_two_studies_or_collections
FROM {table}
"""
_INSTANCE_EXAMPLES = {
    "duplicated_instances": (
        "instance rows share their SOPInstanceUID (a duplicated export?), e.g. SOPInstanceUID",
        "SELECT SOPInstanceUID FROM {table} WHERE SOPInstanceUID IS NOT NULL "
        "GROUP BY SOPInstanceUID HAVING COUNT(*) > 1",
    ),
    "negative_instance_sizes": (
        "instance rows have a negative instance_size, e.g. SOPInstanceUID",
        "SELECT SOPInstanceUID FROM {table} WHERE instance_size < 0",
    ),
    "series_in_two_studies_or_collections": (
        "SeriesInstanceUIDs are in two studies or collections, e.g. SeriesInstanceUID",
        "SELECT SeriesInstanceUID FROM {table} WHERE SeriesInstanceUID IS NOT NULL "
        "GROUP BY SeriesInstanceUID HAVING MIN(StudyInstanceUID) != MAX(StudyInstanceUID) "
        "OR MIN(collection_id) != MAX(collection_id)",
    ),
}


def instance_problems(engine, idc_version: int) -> list[str]:
    """What is certainly wrong in IDC version N's dicom_all, for `plausible_values`: the same
    SOPInstanceUID twice (every instance of a series twice included), a SeriesInstanceUID under
    two StudyInstanceUIDs or collection_ids, a negative instance_size; each with example UIDs.
    Runs on `engine` (an IndexEngine): one aggregate query over the instance rows (two hash
    aggregations: by SOPInstanceUID and by SeriesInstanceUID), and a query per problem found."""
    table = _INSTANCES.format(idc_version=idc_version)

    def rows(sql: str) -> list[dict]:
        with engine.run(sql.format(table=table), query_file="dicom_all instance checks") as run:
            return run.batches.read_all().to_pylist()

    problems = []
    for name, count in rows(_INSTANCE_COUNTS)[0].items():
        if count:
            what, sql = _INSTANCE_EXAMPLES[name]
            examples = rows(f"SELECT DISTINCT * FROM ({sql}) ORDER BY 1 LIMIT {EXAMPLES}")
            shown = ", ".join(str(next(iter(row.values()))) for row in examples)
            problems.append(f"dicom_all of IDC version {idc_version}: {count} {what} {shown}")
    return problems


def _totals(spec: IndexSpec, directory: ArtifactDirectory) -> tuple[int, float | None]:
    """Rows (from the footer) and the sum of the size columns (None without any)."""
    import pyarrow.parquet as pq

    parquet = index_file_names(spec.name)["parquet"]
    with directory.open_input(parquet) as handle:
        rows = pq.read_metadata(handle).num_rows
    sizes = _numeric_columns(spec, _SIZE)
    if not sizes:
        return rows, None
    with duckdb.connect() as connection:
        scan = directory.scan(connection, parquet)
        total = " + ".join(f"coalesce(sum({_q(c)}), 0)" for c in sizes)
        return rows, float(connection.execute(f"SELECT {total} FROM {scan}").fetchone()[0])


def change_outcome(
    spec: IndexSpec, directory: ArtifactDirectory, previous: ArtifactDirectory | None
) -> Outcome:
    """`row_count_change` (a warning: a real release may grow or shrink): the rows, and the total
    of the size columns, differ from `previous`'s by more than IDC_MAX_BUILD_CHANGE, up or
    down."""
    from idc_index_assets.settings import max_build_change

    limit = max_build_change()
    parquet = index_file_names(spec.name)["parquet"]
    if previous is None or not previous.exists(parquet):
        return Outcome(CHANGE_CHECK, metadata={"previous": "none"}, blocking=False)
    new, old = _totals(spec, directory), _totals(spec, previous)
    problems = []
    metadata: dict[str, object] = {"previous": previous.url, "max_change": limit}
    for label, after, before in (("rows", new[0], old[0]), ("total size", new[1], old[1])):
        if after is None or before is None:
            continue
        metadata[f"{label} before"], metadata[f"{label} after"] = before, after
        change = abs(after - before) / before if before else (1.0 if after else 0.0)
        if change > limit:
            problems.append(
                f"{label} {before:g} in {previous.url} → {after:g}: "
                f"{'+' if after >= before else '-'}{change:.0%}, beyond IDC_MAX_BUILD_CHANGE "
                f"{limit:g}"
            )
    return Outcome(CHANGE_CHECK, problems, metadata, blocking=False)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- warning checks, as separate asset checks -----------------------------------------------------


def build_reference_checks(specs: Sequence[IndexSpec], partitions_def) -> AssetChecksDefinition:
    """The `references` check of every index that has references, evaluated in one step after
    the indices of the run (one process for all of them rather than one per index); each can
    still run on its own from the UI (the step is subsettable)."""
    from idc_index_assets.indices.store import ArtifactStore

    with_references = [spec for spec in specs if spec.references]
    check_specs = []
    for spec in with_references:
        targets = sorted({reference.index for reference in spec.references})
        check_specs.append(
            AssetCheckSpec(
                REFERENCES_CHECK,
                asset=spec.name,
                description=_DESCRIPTIONS[REFERENCES_CHECK] + f" ({', '.join(targets)})",
                additional_deps=[AssetKey(t) for t in targets if t in INDEX_BY_NAME],
                partitions_def=partitions_def,
            )
        )
    by_key = {AssetKey(spec.name): spec for spec in with_references}

    @multi_asset_check(specs=check_specs, name=REFERENCES_CHECK, can_subset=True)
    def references(context: AssetCheckExecutionContext, artifacts: ArtifactStore):
        directory = artifacts.location(int(context.partition_key))
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            spec = by_key[check_key.asset_key]
            yield reference_outcome(spec, directory).result(
                check_key.asset_key, AssetCheckSeverity.WARN
            )

    return references


def verify_directory(
    directory: ArtifactDirectory | Path, specs: Sequence[IndexSpec]
) -> list[tuple[str, Outcome]]:
    """`idc-index-assets verify`: the blocking checks on each index found in a directory (local
    or gs://), after completing a commit a killed build left half-applied there (as every reader
    of the store does: `ArtifactDirectory.settle`)."""
    directory = as_directory(directory)
    directory.settle()
    results = []
    for spec in specs:
        if not directory.exists(index_file_names(spec.name)["parquet"]):
            continue
        for outcome in evaluate_files(spec, directory, release_version=None, idc_version=None):
            results.append((spec.name, outcome))
    return results
