"""Checks that guard every index.

Blocking (declared on the asset itself and evaluated on the files it has just written, per IDC
version): `schema_contract`, `integrity`, `primary_key`. The contract and integrity checks also run
inside the build before the new files replace the old ones, so an index that fails them never
replaces the previous good artifacts; the build then reports the failed checks and fails the step.

Warning (asset checks of their own, runnable on their own from the UI): `references` (values resolve in
the index they refer to). What changed since the previous release (rows lost, columns retyped,
collections gone) is warned about by the `release_notes` asset's checks (releases/notes.py).
"""

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
REFERENCES_CHECK = "references"
BLOCKING_CHECKS = (CONTRACT_CHECK, INTEGRITY_CHECK, KEY_CHECK)
EXAMPLES = 5

_DESCRIPTIONS = {
    CONTRACT_CHECK: "Columns, order, types and modes equal the output contract, and the schema file "
    "describes exactly those columns, each with a description.",
    INTEGRITY_CHECK: "The sha256 sidecar matches the parquet's bytes, and the parquet's embedded "
    "release and IDC versions are the expected ones.",
    KEY_CHECK: "The primary key is unique and never null.",
    REFERENCES_CHECK: "Every reference to another index resolves in that index.",
}


@dataclass
class Outcome:
    """One check's result on files: problems (empty = passed) and metadata for the UI."""

    name: str
    problems: list[str] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def result(self, asset_key: AssetKey, severity=AssetCheckSeverity.ERROR) -> AssetCheckResult:
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
    return [
        AssetCheckSpec(
            name,
            asset=spec.name,
            blocking=True,
            description=_DESCRIPTIONS[name],
            partitions_def=partitions_def,
        )
        for name in BLOCKING_CHECKS
    ]


def contract_outcomes(
    spec: IndexSpec,
    directory: ArtifactDirectory | Path,
    *,
    release_version: str | None,
    idc_version: int | None,
) -> list[Outcome]:
    return [
        Outcome(CONTRACT_CHECK, check_contract(directory, spec.contract)),
        Outcome(
            INTEGRITY_CHECK,
            check_integrity(
                directory, spec.name, release_version=release_version, idc_version=idc_version
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
        spec, directory, release_version=release_version, idc_version=idc_version
    )
    if directory.exists(index_file_names(spec.name)["parquet"]) and outcomes[0].passed:
        outcomes.append(key_outcome(spec, directory))
    else:
        outcomes.append(Outcome(KEY_CHECK, ["not evaluated: the file is missing or unreadable"]))
    return outcomes


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
    or gs://)."""
    directory = as_directory(directory)
    results = []
    for spec in specs:
        if not directory.exists(index_file_names(spec.name)["parquet"]):
            continue
        for outcome in evaluate_files(spec, directory, release_version=None, idc_version=None):
            results.append((spec.name, outcome))
    return results
