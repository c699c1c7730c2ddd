"""gdc_idc_mapping: the GDC cases client against a loopback cases API (filters, batching, paging,
retries, rate), and the mapping on the sample release against an independent join of its studies
with its GDC cases snapshot."""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import (
    CASES_SNAPSHOT,
    STUDIES_QUERY,
    GDCCase,
    GDCCasesClient,
    GDCError,
    GDCMappingError,
    GDCRequestError,
    ProjectMap,
    SnapshotCases,
    load_project_map,
)
from idc_index_assets.gdc.mapping import build_gdc_mapping, map_studies_to_cases
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import GDC_MAPPING
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.indices.validation import check_contract
from idc_index_assets.sample.generate import generate_sample
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS
from tests.servers.gdc_server import Failure, GDCServer

# What the test takes as the truth, written independently of the package's data file.
GDC_PROGRAM = re.compile(r"^(tcga|cptac|ccdi|cgci|cddp_eagle|hcmi)_|(^|_)apollo(_|$)")
SAMPLE_PROJECTS = {"tcga_luad": {"TCGA-LUAD"}, "cptac_ccrcc": {"CPTAC-2", "CPTAC-3"}}


@pytest.fixture(scope="module")
def hits(sample_source) -> list[dict]:
    return json.loads((sample_source / CASES_SNAPSHOT).read_text())


@pytest.fixture
def server(hits):
    with GDCServer(hits) as running:
        yield running


class RecordingSleep:
    """time.sleep that remembers how long it was asked to wait."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def client_for(server: GDCServer, **options) -> GDCCasesClient:
    settings = {"min_interval_seconds": 0.0, "backoff_seconds": 0.01, **options}
    return GDCCasesClient(server.url, **settings)


def submitter_ids(body: dict) -> list[str]:
    (clause,) = [c for c in body["filters"]["content"] if c["content"]["field"] == "submitter_id"]
    return clause["content"]["value"]


def expected_cases(hits, projects, ids) -> set[tuple[str, str, str]]:
    return {
        (h["case_id"], h["submitter_id"], h["project"]["project_id"])
        for h in hits
        if h["project"]["project_id"] in projects and h["submitter_id"] in ids
    }


def as_tuples(cases) -> set[tuple[str, str, str]]:
    return {(c.case_id, c.submitter_id, c.project_id) for c in cases}


def all_submitters(hits) -> list[str]:
    return sorted({h["submitter_id"] for h in hits})


# --- the client ----------------------------------------------------------------------------------


def test_lookup_is_scoped_by_project_and_submitter(server, hits, sample_source):
    ids = all_submitters(hits)
    projects = ["CPTAC-2", "CPTAC-3"]
    found = client_for(server).find_cases(projects, ids)
    assert as_tuples(found) == expected_cases(hits, projects, ids)
    assert {c.project_id for c in found} == set(projects)
    # the offline snapshot answers the same lookups the same way
    offline = SnapshotCases(sample_source / CASES_SNAPSHOT).find_cases(projects, ids)
    assert as_tuples(offline) == as_tuples(found)
    (body,) = [r.body for r in server.requests]
    assert body["fields"] == "case_id,submitter_id,project.project_id"
    assert body["format"] == "JSON"


def test_submitter_ids_go_in_batches(server, hits):
    ids = all_submitters(hits)
    assert len(ids) >= 7
    found = client_for(server, batch_size=3).find_cases(["TCGA-LUAD", "TCGA-LUSC"], ids)
    bodies = [r.body for r in server.requests]
    assert len(bodies) == -(-len(ids) // 3)
    assert all(len(submitter_ids(b)) <= 3 for b in bodies)
    assert sorted(i for b in bodies for i in submitter_ids(b)) == ids
    assert as_tuples(found) == expected_cases(hits, {"TCGA-LUAD", "TCGA-LUSC"}, set(ids))


def test_results_beyond_one_page_are_fetched(server, hits):
    ids = all_submitters(hits)
    projects = ["CPTAC-2", "CPTAC-3"]
    expected = expected_cases(hits, projects, ids)
    assert len(expected) > 4
    found = client_for(server, page_size=2).find_cases(projects, ids)
    assert as_tuples(found) == expected
    assert len(found) == len(expected)  # no page read twice
    offsets = [r.body["from"] for r in server.requests]
    assert offsets == list(range(0, len(expected), 2))
    assert all(r.body["size"] == 2 for r in server.requests)


def test_a_429_is_retried_after_the_time_it_asks_for(server, hits):
    server.failures.append(Failure(429, {"Retry-After": "1"}))
    sleep = RecordingSleep()
    ids = all_submitters(hits)
    found = client_for(server, sleep=sleep).find_cases(["TCGA-LUAD"], ids)
    assert as_tuples(found) == expected_cases(hits, {"TCGA-LUAD"}, ids)
    first, second = server.requests
    assert first.body == second.body
    assert sleep.waits == [1.0]
    assert second.at - first.at >= 1.0


def test_a_retry_after_date_is_honoured(server, hits):
    moment = datetime.now(UTC) + timedelta(seconds=2)
    server.failures.append(Failure(503, {"Retry-After": format_datetime(moment, usegmt=True)}))
    sleep = RecordingSleep()
    client_for(server, sleep=sleep).find_cases(["TCGA-LUAD"], all_submitters(hits))
    (wait,) = sleep.waits
    assert 0.5 < wait <= 2.0
    assert len(server.requests) == 2


def test_a_500_storm_gives_up_with_backoff_and_a_clear_error(server, hits):
    server.always_fail = 500
    sleep = RecordingSleep()
    client = client_for(server, max_attempts=4, backoff_seconds=0.01, sleep=sleep)
    with pytest.raises(GDCRequestError) as raised:
        client.find_cases(["TCGA-LUAD"], all_submitters(hits))
    message = str(raised.value)
    assert f"{server.url}/cases" in message
    assert "HTTP 500" in message
    assert "failed 4 times" in message
    assert "batch 1/1" in message and "TCGA-LUAD" in message
    assert raised.value.transient
    assert len(server.requests) == 4
    assert sleep.waits == [0.01, 0.02, 0.04]  # exponential


def test_a_client_error_is_not_retried(server, hits):
    server.always_fail = 400
    with pytest.raises(GDCRequestError, match=r"refused .*HTTP 400") as raised:
        client_for(server).find_cases(["TCGA-LUAD"], all_submitters(hits))
    assert not raised.value.transient
    assert len(server.requests) == 1


def test_requests_keep_the_minimum_interval(server, hits):
    client = client_for(server, batch_size=2, min_interval_seconds=0.15)
    client.find_cases(["TCGA-LUAD"], all_submitters(hits))
    times = [r.at for r in server.requests]
    assert len(times) >= 4
    # The client spaces the starts of its requests; the server sees arrivals, each a little late
    # on a loaded machine, so one gap may shrink by that lateness but the span cannot.
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05
    assert times[-1] - times[0] >= 0.15 * (len(times) - 1) - 0.05


@pytest.mark.parametrize("hit", ["x", {"case_id": "c"}, None])
def test_a_malformed_snapshot_hit_is_a_clear_error(tmp_path, hit):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([hit]))
    with pytest.raises(GDCError, match=rf"{path}: not a list of GDC case hits"):
        SnapshotCases(path).find_cases(["TCGA-LUAD"], ["LUAD-00001"])


def test_an_unreachable_api_is_named_in_the_error(hits):
    client = GDCCasesClient(
        "http://127.0.0.1:9", max_attempts=2, backoff_seconds=0.01, timeout_seconds=2
    )
    with pytest.raises(GDCRequestError, match=r"http://127\.0\.0\.1:9/cases failed 2 times"):
        client.find_cases(["TCGA-LUAD"], ["LUAD-00001"])


# --- the mapping on the sample -------------------------------------------------------------------


def independent_mapping(source: Path, hits: list[dict]) -> list[dict]:
    """Studies of GDC-program collections in dicom_all, joined with the snapshot's cases by
    (PatientID = submitter_id, project among the collection's)."""
    dicom_all = pq.read_table(
        source / SOURCE_PROJECT / f"idc_v{SAMPLE_VERSIONS}" / "dicom_all.parquet",
        columns=[
            "collection_id",
            "PatientID",
            "StudyInstanceUID",
            "StudyDate",
            "StudyDescription",
            "Modality",
        ],
    ).to_pylist()
    studies: dict[str, dict] = {}
    for row in dicom_all:
        if not GDC_PROGRAM.search(row["collection_id"]):
            continue
        study = studies.setdefault(
            row["StudyInstanceUID"],
            {
                "collection_id": row["collection_id"],
                "PatientID": row["PatientID"],
                "StudyInstanceUID": row["StudyInstanceUID"],
                "StudyDate": row["StudyDate"].isoformat(),
                "StudyDescription": row["StudyDescription"],
                "study_type": "R",
            },
        )
        if row["Modality"] == "SM":
            study["study_type"] = "M"
    rows = [
        {**study, "gdc_case_id": hit["case_id"]}
        for study in studies.values()
        for hit in hits
        if hit["submitter_id"] == study["PatientID"]
        and hit["project"]["project_id"] in SAMPLE_PROJECTS[study["collection_id"]]
    ]
    return sorted(rows, key=lambda r: (r["collection_id"], r["PatientID"], r["StudyInstanceUID"]))


@pytest.fixture(scope="module")
def expected_rows(sample_source, hits) -> list[dict]:
    return independent_mapping(sample_source, hits)


def build(sample_source, artifacts: Path, cases, projects=None):
    return build_gdc_mapping(
        load_query(STUDIES_QUERY),
        SAMPLE_VERSIONS,
        engine=IndexEngine(source_dir=str(sample_source)),
        cases=cases,
        store=ArtifactStore(root=str(artifacts)),
        projects=projects,
    )


def test_the_sample_has_what_the_mapping_must_handle(sample_source, hits, expected_rows):
    collections = {row["collection_id"] for row in expected_rows}
    assert collections == set(SAMPLE_PROJECTS)
    assert {row["study_type"] for row in expected_rows} == {"M", "R"}
    projects = {
        h["project"]["project_id"] for h in hits if h["case_id"] in _case_ids(expected_rows)
    }
    assert {"CPTAC-2", "CPTAC-3", "TCGA-LUAD"} <= projects
    served = pq.read_table(
        sample_source / SOURCE_PROJECT / f"idc_v{SAMPLE_VERSIONS}" / "dicom_all.parquet",
        columns=["collection_id", "PatientID"],
    ).to_pylist()
    luad = {r["PatientID"] for r in served if r["collection_id"] == "tcga_luad"}
    mapped = {r["PatientID"] for r in expected_rows if r["collection_id"] == "tcga_luad"}
    assert mapped and mapped < luad, "most but not all tcga_luad patients are GDC cases"
    assert any(not GDC_PROGRAM.search(r["collection_id"]) for r in served)


def _case_ids(rows) -> set[str]:
    return {row["gdc_case_id"] for row in rows}


def test_mapping_from_the_api_is_the_independent_join(
    server, sample_source, expected_rows, tmp_path
):
    client = GDCCasesClient(server.url, min_interval_seconds=0.0)
    result = build(sample_source, tmp_path / "online", client)
    written = result.written
    table = pq.read_table(written.parquet)
    assert table.column_names == GDC_MAPPING.contract.column_names
    assert table.to_pylist() == expected_rows
    assert check_contract(written.directory, GDC_MAPPING.contract) == []
    assert result.engine_metadata["gdc_patients"] == len({r["PatientID"] for r in expected_rows})
    # non-GDC collections were never asked about
    asked = {i for r in server.requests for i in submitter_ids(r.body)}
    assert all(i.startswith(("LUAD-", "CCRCC-")) for i in asked)
    # offline, from the snapshot, the same rows
    offline = build(
        sample_source, tmp_path / "offline", SnapshotCases(sample_source / CASES_SNAPSHOT)
    )
    assert pq.read_table(offline.written.parquet).equals(table)


def test_the_schema_file_documents_every_column(server, sample_source, tmp_path):
    result = build(sample_source, tmp_path, GDCCasesClient(server.url, min_interval_seconds=0.0))
    document = json.loads(result.written.directory.read_text("gdc_idc_mapping_schema.json"))
    assert [c["name"] for c in document["columns"]] == GDC_MAPPING.contract.column_names
    assert all(c["description"] and c["type"] == "STRING" for c in document["columns"])
    sql = result.written.directory.read_text("gdc_idc_mapping.sql")
    assert f"idc_v{SAMPLE_VERSIONS}.dicom_all" in sql


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_release_of_other_samples_maps_too(seed, tmp_path):
    """Whatever the seed and size, each release serves some GDC case of each GDC collection."""
    source = tmp_path / "source"
    generate_sample(source, scale=0.3, versions=3, seed=seed)
    hits = json.loads((source / CASES_SNAPSHOT).read_text())
    for version in (1, 2, 3):
        result = build_gdc_mapping(
            load_query(STUDIES_QUERY),
            version,
            engine=IndexEngine(source_dir=str(source)),
            cases=SnapshotCases(source / CASES_SNAPSHOT),
            store=ArtifactStore(root=str(tmp_path / "artifacts")),
        )
        rows = pq.read_table(result.written.parquet).to_pylist()
        assert rows and {r["gdc_case_id"] for r in rows} <= {h["case_id"] for h in hits}


def test_a_collection_without_a_project_is_an_error_naming_it(sample_source, tmp_path):
    projects = load_project_map()
    partial = ProjectMap(
        {k: v for k, v in projects.projects.items() if k != "cptac_ccrcc"}, projects.known_absent
    )
    with pytest.raises(GDCMappingError, match=r"no GDC project for collection.*cptac_ccrcc"):
        build(sample_source, tmp_path, SnapshotCases(sample_source / CASES_SNAPSHOT), partial)
    assert not (tmp_path / str(SAMPLE_VERSIONS) / "gdc_idc_mapping.parquet").exists()


def test_a_collection_without_matches_fails_unless_known_absent(
    sample_source, expected_rows, tmp_path
):
    cases = SnapshotCases(sample_source / CASES_SNAPSHOT)
    projects = {"tcga_luad": ("TCGA-BRCA",), "cptac_ccrcc": ("CPTAC-2", "CPTAC-3")}
    with pytest.raises(GDCMappingError, match=r"tcga_luad \(projects TCGA-BRCA\)"):
        build(sample_source, tmp_path / "a", cases, ProjectMap(projects))
    result = build(
        sample_source, tmp_path / "b", cases, ProjectMap(projects, frozenset({"tcga_luad"}))
    )
    rows = pq.read_table(result.written.parquet).to_pylist()
    assert rows == [r for r in expected_rows if r["collection_id"] != "tcga_luad"]


def test_a_patient_with_cases_in_two_projects_gets_a_row_per_case():
    class Cases:
        def find_cases(self, project_ids, submitter_ids):
            return [
                GDCCase("case-2", "P1", "CPTAC-2"),
                GDCCase("case-3", "P1", "CPTAC-3"),
                GDCCase("elsewhere", "P1", "TCGA-LUAD"),  # outside the lookup: ignored
            ]

    studies = pa.table(
        {
            "collection_id": ["cptac_luad"],
            "PatientID": ["P1"],
            "StudyInstanceUID": ["1.2.3"],
            "StudyDate": ["2001-02-03"],
            "StudyDescription": ["CT"],
            "study_type": ["R"],
        }
    )
    mapped = map_studies_to_cases(studies, Cases(), load_project_map())
    assert mapped["gdc_case_id"].to_pylist() == ["case-2", "case-3"]


def test_the_project_map_covers_what_the_studies_query_selects():
    projects = load_project_map()
    assert projects.projects["tcga_luad"] == ("TCGA-LUAD",)
    assert projects.projects["cptac_luad"] == ("CPTAC-2", "CPTAC-3")
    assert projects.known_absent <= set(projects.projects)
    assert all(GDC_PROGRAM.search(name) for name in projects.projects)


def test_verify_checks_the_mapping_too(sample_source, tmp_path, monkeypatch, capsys):
    from idc_index_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    result = build(sample_source, tmp_path, SnapshotCases(sample_source / CASES_SNAPSHOT))
    assert main(["verify", result.written.directory.url]) == 0
    assert "ok   gdc_idc_mapping.parquet" in capsys.readouterr().out


# --- through Dagster -----------------------------------------------------------------------------


def test_the_asset_builds_by_default_from_the_api(server, sample_source, monkeypatch, tmp_path):
    from idc_index_assets.definitions import build_indices_job, defs, index_assets

    assert "gdc_idc_mapping" in [a.key.to_user_string() for a in index_assets]
    node = defs.resolve_asset_graph().get(AssetKey("gdc_idc_mapping"))
    assert node.group_name == "supplementary"
    assert AssetKey(["idc_source", "idc_vNN", "dicom_all"]) in node.parent_keys
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path))
    monkeypatch.setenv("IDC_GDC_API_URL", server.url)
    version = str(SAMPLE_VERSIONS)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("idc_version", [version])
        result = defs.resolve_job_def(build_indices_job.name).execute_in_process(
            instance=instance,
            partition_key=version,
            asset_selection=[AssetKey("gdc_idc_mapping")],
            raise_on_error=False,
        )
        assert result.success
        evaluations = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        }
        assert evaluations["schema_contract"] and evaluations["primary_key"]
        event = instance.get_latest_materialization_event(AssetKey("gdc_idc_mapping"))
        rows = pq.read_metadata(tmp_path / version / "gdc_idc_mapping.parquet").num_rows
        assert event.asset_materialization.metadata["dagster/row_count"].value == rows
    assert server.requests, "the run asked the configured GDC API"
