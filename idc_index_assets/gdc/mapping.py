"""gdc_idc_mapping's rows: the studies query's rows joined with the GDC cases of their patients,
within the GDC projects of each collection, and written as an index's artifacts."""

from __future__ import annotations

import pyarrow as pa

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import (
    GDC_CASE_ID_DOC,
    PROJECTS_FILE,
    CasesSource,
    GDCMappingError,
    ProjectMap,
    load_project_map,
)
from idc_index_assets.indices.build import BuildResult, require_sources, staged_checks
from idc_index_assets.indices.queries import IndexQuery
from idc_index_assets.indices.registry import GDC_MAPPING
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.writer import write_index

MAPPING_SCHEMA = pa.schema(
    [pa.field(name, pa.string()) for name in GDC_MAPPING.contract.column_names]
)


def map_studies_to_cases(studies: pa.Table, cases: CasesSource, projects: ProjectMap) -> pa.Table:
    """One row per (study, GDC case of its patient within its collection's projects)."""
    rows = studies.to_pylist()
    collections = sorted({row["collection_id"] for row in rows})
    unmapped = [
        c for c in collections if c not in projects.projects and c not in projects.known_absent
    ]
    if unmapped:
        raise GDCMappingError(
            f"no GDC project for collection(s) {', '.join(unmapped)}: add them to "
            f"idc_index_assets/data/{PROJECTS_FILE}"
        )
    # One lookup per project set, so collections sharing projects (CPTAC) share requests.
    patients: dict[tuple[str, ...], set[str]] = {}
    for row in rows:
        project_ids = projects.projects.get(row["collection_id"])
        if project_ids and row["PatientID"]:
            patients.setdefault(project_ids, set()).add(row["PatientID"])
    case_ids: dict[tuple[tuple[str, ...], str], set[str]] = {}
    for project_ids, submitter_ids in sorted(patients.items()):
        for case in cases.find_cases(project_ids, sorted(submitter_ids)):
            # The API filtered already; checking again costs nothing and guards the join.
            if case.project_id in project_ids and case.submitter_id in submitter_ids:
                case_ids.setdefault((project_ids, case.submitter_id), set()).add(case.case_id)
    mapped = [
        {**row, "gdc_case_id": case_id}
        for row in rows
        for case_id in sorted(
            case_ids.get((projects.projects.get(row["collection_id"], ()), row["PatientID"]), ())
        )
    ]
    matched = {row["collection_id"] for row in mapped}
    unmatched = [c for c in collections if c not in matched and c not in projects.known_absent]
    if unmatched:
        described = [f"{c} (projects {', '.join(projects.projects[c])})" for c in unmatched]
        raise GDCMappingError(
            f"no patient of {', '.join(described)} is a GDC case: a wrong project in "
            f"idc_index_assets/data/{PROJECTS_FILE}? If these patients are really not in the GDC, "
            "list the collection under known_absent there"
        )
    mapped.sort(key=lambda row: tuple(row[name] or "" for name in MAPPING_SCHEMA.names))
    return pa.Table.from_pylist(mapped, schema=MAPPING_SCHEMA)


def build_gdc_mapping(
    query: IndexQuery,
    idc_version: int,
    *,
    engine: IndexEngine,
    cases: CasesSource,
    store: ArtifactStore,
    projects: ProjectMap | None = None,
) -> BuildResult:
    """Run the studies query, look their patients up in the GDC, write gdc_idc_mapping's
    artifacts (validated like every index's)."""
    release_version = store.release_version_for(idc_version)
    require_sources(query, idc_version, engine=engine)
    sql = query.render(idc_version)
    with engine.run(sql, query_file=str(query.path)) as run:
        studies = run.batches.read_all()
        engine_metadata = dict(run.metadata)
    mapping = map_studies_to_cases(studies, cases, projects or load_project_map())
    written = write_index(
        store.location(idc_version),
        contract=GDC_MAPPING.contract,
        batches=pa.RecordBatchReader.from_batches(mapping.schema, mapping.to_batches()),
        table_description=query.table_description,
        column_docs=(*query.columns, GDC_CASE_ID_DOC),
        sql=sql,
        release_version=release_version,
        idc_version=idc_version,
        checks=staged_checks(GDC_MAPPING, store, idc_version, release_version),
    )

    def patients(table: pa.Table) -> int:
        return (
            table.select(["collection_id", "PatientID"])
            .group_by(["collection_id", "PatientID"])
            .aggregate([])
            .num_rows
        )

    summary = {
        "studies": studies.num_rows,
        "patients": patients(studies),
        "gdc_patients": patients(mapping),
    }
    return BuildResult(written, release_version, {**engine_metadata, **summary})
