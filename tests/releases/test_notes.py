"""Release notes on the sample release (IDC versions 1..3, where series are added, revised and
removed): every count against one computed independently (in Python over the two index files, or
from the generated source tables), schema changes and warnings on modified copies of the
artifacts, the first version, a published release directory as the previous release, the asset
in Dagster and the `notes` command."""

import json
import shutil
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test

from idc_index_assets.cli import main
from idc_index_assets.definitions import defs
from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.indices.build import build_index
from idc_index_assets.indices.queries import load_query
from idc_index_assets.indices.registry import INDICES, RELEASED_INDICES
from idc_index_assets.indices.store import ArtifactStore
from idc_index_assets.releases.assets import RELEASE_ASSET
from idc_index_assets.releases.client_contract import client_uses
from idc_index_assets.releases.notes import (
    BREAKING_CHANGES,
    COLUMN_TYPE_CHANGES,
    COMPLETE_PREVIOUS,
    NEW_DUPLICATE_KEYS,
    NOTES_ASSET,
    NOTES_JSON,
    NOTES_MARKDOWN,
    ROW_COUNT_DROP,
    VANISHED_COLLECTIONS,
    NotesError,
    compute_notes,
    render_markdown,
    warnings,
)
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, open_bucket, publish_release
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

N = SAMPLE_VERSIONS


@pytest.fixture(scope="module")
def store(sample_source, tmp_path_factory) -> Path:
    """An artifact store holding every index of every sample version."""
    root = tmp_path_factory.mktemp("store")
    engine = IndexEngine(source_dir=str(sample_source))
    artifacts = ArtifactStore(root=str(root))
    for version in range(1, N + 1):
        for spec in INDICES:
            build_index(spec, load_query(spec.name), version, engine=engine, store=artifacts)
    return root


@pytest.fixture
def newest_copy(store, tmp_path) -> Path:
    """A private copy of the newest version's artifacts that a test may change."""
    return Path(shutil.copytree(store / str(N), tmp_path / str(N)))


# --- independent expectations ---------------------------------------------------------------------


def expected_diff(before: Path, after: Path, key: tuple[str, ...]) -> dict:
    """Rows added, removed and changed (per column) by key, in plain Python over the rows."""
    old = {tuple(row[k] for k in key): row for row in pq.read_table(before).to_pylist()}
    new = {tuple(row[k] for k in key): row for row in pq.read_table(after).to_pylist()}
    columns = [c for c in pq.read_schema(after).names if c in pq.read_schema(before).names]
    columns = [c for c in columns if c not in key]
    shared = old.keys() & new.keys()
    by_column = Counter(c for k in shared for c in columns if old[k][c] != new[k][c])
    return {
        "rows_before": len(old),
        "rows_after": len(new),
        "rows_added": len(new.keys() - old.keys()),
        "rows_removed": len(old.keys() - new.keys()),
        "rows_changed": sum(any(old[k][c] != new[k][c] for c in columns) for k in shared),
        "changed_by_column": dict(by_column),
    }


def source_series(source: Path, version: int) -> dict[str, tuple[str, str, int]]:
    """SeriesInstanceUID → (crdc_series_uuid, collection_id, bytes), from the source dicom_all."""
    path = source / SOURCE_PROJECT / f"idc_v{version}" / "dicom_all.parquet"
    columns = ["SeriesInstanceUID", "crdc_series_uuid", "collection_id", "instance_size"]
    grouped = (
        pq.read_table(path, columns=columns)
        .group_by(columns[:3])
        .aggregate([("instance_size", "sum")])
        .to_pylist()
    )
    return {
        row["SeriesInstanceUID"]: (
            row["crdc_series_uuid"],
            row["collection_id"],
            row["instance_size_sum"],
        )
        for row in grouped
    }


def source_collections(source: Path, version: int) -> set[str]:
    path = source / SOURCE_PROJECT / f"idc_v{version}" / "original_collections_metadata.parquet"
    return set(pq.read_table(path, columns=["collection_id"])["collection_id"].to_pylist())


# --- the counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 3])
def test_every_index_count_equals_a_python_diff_of_the_two_files(store, version):
    before, after = store / str(version - 1), store / str(version)
    notes = compute_notes(after, before)
    assert notes["previous"] == {
        "idc_version": version - 1,
        "release_version": f"{version - 1}.0.0",
        "absent_indices": [],
    }
    assert notes["breaking_changes"] == []
    assert (notes["idc_version"], notes["release_version"]) == (version, f"{version}.0.0")
    assert list(notes["indices"]) == [spec.name for spec in INDICES]
    for spec in INDICES:
        entry = notes["indices"][spec.name]
        expected = expected_diff(
            before / f"{spec.name}.parquet", after / f"{spec.name}.parquet", spec.primary_key
        )
        assert {k: entry[k] for k in expected} == expected, spec.name
        assert entry["columns_added"] == entry["columns_removed"] == []
        assert entry["columns_type_changed"] == entry["columns_renamed"] == []
        assert entry["duplicated_keys_before"] == entry["duplicated_keys_after"] == 0
    # The sample really changes: something is added, removed and changed between the versions.
    idc_index = notes["indices"]["idc_index"]
    assert idc_index["rows_added"] and idc_index["rows_removed"] and idc_index["rows_changed"]


@pytest.mark.parametrize("version", [2, 3])
def test_series_and_collections_equal_the_generated_source(store, sample_source, version):
    notes = compute_notes(store / str(version), store / str(version - 1))
    old, new = source_series(sample_source, version - 1), source_series(sample_source, version)
    added = new.keys() - old.keys()
    removed = old.keys() - new.keys()
    revised = {uid for uid in old.keys() & new.keys() if old[uid][0] != new[uid][0]}
    assert added and removed and revised

    series = notes["idc_index"]
    assert (series["series_added"], series["series_revised"], series["series_removed"]) == (
        len(added),
        len(revised),
        len(removed),
    )
    by_collection: dict[str, Counter] = {}
    for kind, uids, side in (
        ("series_added", added, new),
        ("series_revised", revised, new),
        ("series_removed", removed, old),
    ):
        for uid in uids:
            by_collection.setdefault(side[uid][1], Counter())[kind] += 1
    assert series["by_collection"] == {
        collection: {k: counts[k] for k in ("series_added", "series_revised", "series_removed")}
        for collection, counts in sorted(by_collection.items())
    }
    # From series_size_MB (10^6 bytes, a FLOAT64) back to bytes: exact but for float rounding.
    bytes_added = sum(new[uid][2] for uid in added | revised)
    bytes_removed = sum(old[uid][2] for uid in removed | revised)
    assert abs(series["bytes_added"] - bytes_added) <= 1
    assert abs(series["bytes_removed"] - bytes_removed) <= 1

    old_collections = {c for _, c, _ in old.values()}
    new_collections = {c for _, c, _ in new.values()}
    assert series["collections_added"] == sorted(new_collections - old_collections)
    assert series["collections_removed"] == sorted(old_collections - new_collections)
    listed_before = source_collections(sample_source, version - 1)
    listed_after = source_collections(sample_source, version)
    collections = notes["collections_index"]
    assert collections["collections_added"] == sorted(listed_after - listed_before)
    assert collections["collections_removed"] == sorted(listed_before - listed_after)
    assert collections["collections_changed"] == []  # the sample keeps licenses, DOIs, types


def test_version_2_adds_a_collection_and_the_markdown_says_so(store, sample_source):
    notes = compute_notes(store / "2", store / "1")
    added = sorted(source_collections(sample_source, 2) - source_collections(sample_source, 1))
    assert added and notes["idc_index"]["collections_added"] == added
    markdown = render_markdown(notes)
    assert markdown.startswith("## IDC v2 (idc-index-data 2.0.0)\n")
    assert "Changes since IDC v1 (idc-index-data 1.0.0)." in markdown
    series = notes["idc_index"]
    assert (
        f"- **Series:** {series['series_added']} added, {series['series_revised']} revised, "
        f"{series['series_removed']} removed"
    ) in markdown
    assert f"**Collections added:** {', '.join(f'`{c}`' for c in added)}" in markdown
    idc_index = notes["indices"]["idc_index"]
    assert (
        f"| `idc_index` | {idc_index['rows_before']} | {idc_index['rows_after']} | "
        f"{idc_index['rows_added']} | {idc_index['rows_removed']} | {idc_index['rows_changed']} |"
    ) in markdown


def test_the_first_version_has_notes_that_say_so(store):
    notes = compute_notes(store / "1", None)
    assert notes["previous"] is None
    assert notes["indices"]["idc_index"] == {
        "primary_key": ["SeriesInstanceUID"],
        "rows_after": pq.read_metadata(store / "1" / "idc_index.parquet").num_rows,
    }
    assert "no earlier release to compare it with" in render_markdown(notes)
    assert all(problems == [] for problems in warnings(notes, 0.0).values())


# --- schema changes and warnings on modified copies -----------------------------------------------


def rewrite(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def test_an_added_column_and_a_type_change_are_reported(store, newest_copy):
    def change(table: pa.Table) -> pa.Table:
        position = table.schema.get_field_index("instanceCount")
        as_text = table["instanceCount"].cast(pa.large_string())
        table = table.set_column(position, "instanceCount", as_text)
        return table.append_column("BodyPartExamined_code", pa.nulls(len(table), pa.string()))

    rewrite(newest_copy / "idc_index.parquet", change)
    notes = compute_notes(newest_copy, store / str(N - 1))
    entry = notes["indices"]["idc_index"]
    assert entry["columns_added"] == [{"name": "BodyPartExamined_code", "type": "STRING"}]
    assert entry["columns_removed"] == []
    assert entry["columns_type_changed"] == [
        {"name": "instanceCount", "before": "INT64", "after": "STRING"}
    ]
    # Values of a retyped column are compared as text: 12 and "12" are the same.
    unchanged = compute_notes(store / str(N), store / str(N - 1))["indices"]["idc_index"]
    assert entry["changed_by_column"] == unchanged["changed_by_column"]
    assert warnings(notes, 1.0)[COLUMN_TYPE_CHANGES] == ["idc_index.instanceCount: INT64 → STRING"]
    markdown = render_markdown(notes)
    assert "| `BodyPartExamined_code` | added (STRING) | |" in markdown
    assert "| `instanceCount` | type INT64 → STRING |" in markdown


def test_a_nested_type_change_is_a_type_change(store, newest_copy):
    def change(table: pa.Table) -> pa.Table:
        sources = table["sources"].to_pylist()
        for row in sources:
            for source in row:
                source.pop("citation")
        position = table.schema.get_field_index("sources")
        source = table.schema.field("sources").type.value_type
        fields = [f for f in source if f.name != "citation"]
        return table.set_column(position, "sources", pa.array(sources, pa.list_(pa.struct(fields))))

    rewrite(newest_copy / "collections_index.parquet", change)
    entry = compute_notes(newest_copy, store / str(N - 1))["indices"]["collections_index"]
    (retyped,) = entry["columns_type_changed"]
    assert retyped["name"] == "sources"
    assert "citation STRING" in retyped["before"] and "citation" not in retyped["after"]


def test_a_vanished_collection_is_warned_about(store, newest_copy):
    gone = pq.read_table(store / str(N) / "idc_index.parquet")["collection_id"][0].as_py()
    for name in ("idc_index", "collections_index"):
        rewrite(
            newest_copy / f"{name}.parquet",
            lambda t: t.filter(pc.not_equal(t["collection_id"], gone)),
        )
    notes = compute_notes(newest_copy, store / str(N - 1))
    assert notes["idc_index"]["collections_removed"] == [gone]
    assert notes["collections_index"]["collections_removed"] == [gone]
    assert warnings(notes, 1.0)[VANISHED_COLLECTIONS] == [
        f"{gone} (gone from idc_index and collections_index)"
    ]
    assert f"**Collections removed:** `{gone}`" in render_markdown(notes)


def test_a_row_count_drop_beyond_the_limit_is_warned_about(store):
    notes = compute_notes(store / str(N), store / str(N - 1))
    rows = {
        spec.name: (
            pq.read_metadata(store / str(N - 1) / f"{spec.name}.parquet").num_rows,
            pq.read_metadata(store / str(N) / f"{spec.name}.parquet").num_rows,
        )
        for spec in INDICES
    }
    drops = {name: (b - a) / b for name, (b, a) in rows.items() if b}
    for limit in (0.0, 0.1, 0.5):
        flagged = [p.split(":")[0] for p in warnings(notes, limit)[ROW_COUNT_DROP]]
        assert flagged == [name for name, drop in drops.items() if drop > limit]
    assert max(drops.values()) > 0  # the sample does lose rows somewhere


def test_a_missing_index_lost_all_its_rows(store, newest_copy):
    (newest_copy / "sm_index.parquet").unlink()
    notes = compute_notes(newest_copy, store / str(N - 1))
    assert notes["indices"]["sm_index"]["status"] == "missing"
    assert any(p.startswith("sm_index: ") for p in warnings(notes, 0.5)[ROW_COUNT_DROP])


def test_without_idc_index_and_collections_index_there_are_no_series_or_collections(
    store, newest_copy
):
    for name in ("idc_index", "collections_index"):
        (newest_copy / f"{name}.parquet").unlink()
    notes = compute_notes(newest_copy, store / str(N - 1))
    assert notes["idc_index"] is None and notes["collections_index"] is None
    assert notes["indices"]["idc_index"]["status"] == "missing"
    markdown = render_markdown(notes)
    assert "**Series:**" not in markdown and "| `idc_index` (missing) |" in markdown


def test_notes_against_an_incomplete_previous_version_name_what_was_absent(store, tmp_path):
    previous = tmp_path / str(N - 1)
    previous.mkdir()
    shutil.copy(store / str(N - 1) / "idc_index.parquet", previous)
    notes = compute_notes(store / str(N), previous)
    absent = [
        spec.name
        for spec in RELEASED_INDICES
        if spec.name != "idc_index" and (store / str(N) / f"{spec.name}.parquet").is_file()
    ]
    assert notes["previous"]["absent_indices"] == absent
    assert [p.split(":")[0] for p in warnings(notes, 1.0)[COMPLETE_PREVIOUS]] == absent
    markdown = render_markdown(notes)
    assert f"**Incomplete comparison:** {len(absent)} of {len(absent) + 1} indices" in markdown
    assert f"- **Indices:** 1 of 1 changed; {len(absent)} not compared (absent before)" in markdown
    assert "| `sm_index` (absent before) | 0 |" in markdown
    # against the complete previous version: nothing absent, nothing warned about
    complete = compute_notes(store / str(N), store / str(N - 1))
    assert complete["previous"]["absent_indices"] == []
    assert warnings(complete, 1.0)[COMPLETE_PREVIOUS] == []
    assert "Incomplete comparison" not in render_markdown(complete)


def test_breaking_changes_have_their_own_section_naming_the_client_functions(store, tmp_path):
    previous = Path(shutil.copytree(store / str(N - 1), tmp_path / "previous"))
    after = Path(shutil.copytree(store / str(N), tmp_path / "after"))

    def change(table: pa.Table) -> pa.Table:
        table = table.drop_columns(["PatientAge"])  # read by the client
        position = table.schema.get_field_index("SeriesDescription")
        table = table.rename_columns(  # same place, same type: a rename
            [("SeriesTitle" if i == position else n) for i, n in enumerate(table.column_names)]
        )
        count = table.schema.get_field_index("instanceCount")
        return table.set_column(count, "instanceCount", table["instanceCount"].cast(pa.string()))

    rewrite(after / "idc_index.parquet", change)
    (after / "rtstruct_index.parquet").unlink()
    # The previous release's own notes recorded another key for ct_index.
    recorded = compute_notes(previous, None)
    recorded["indices"]["ct_index"]["primary_key"] = ["StudyInstanceUID"]
    (previous / NOTES_JSON).write_text(json.dumps(recorded))

    notes = compute_notes(after, previous)
    found = {(c["index"], c["change"], c["column"]): c for c in notes["breaking_changes"]}
    assert set(found) == {
        ("idc_index", "column_removed", "PatientAge"),
        ("idc_index", "column_renamed", "SeriesDescription"),
        ("idc_index", "column_retyped", "instanceCount"),
        ("rtstruct_index", "index_removed", None),
        ("ct_index", "key_changed", None),
    }
    assert found[("idc_index", "column_renamed", "SeriesDescription")]["after"] == "SeriesTitle"
    assert found[("ct_index", "key_changed", None)]["before"] == "StudyInstanceUID"
    readers = found[("idc_index", "column_removed", "PatientAge")]["client"]
    assert readers and readers == client_uses("idc_index", "PatientAge")
    assert len(warnings(notes, 1.0)[BREAKING_CHANGES]) == 5
    markdown = render_markdown(notes)
    section = markdown.split("### Breaking changes")[1].split("###")[0]
    assert "| `idc_index` | column removed | `PatientAge` | STRING |  | `" in section
    assert all(f"`{reader}`" in section for reader in readers)
    assert (
        "| `idc_index` | column renamed | `SeriesDescription` | SeriesDescription | SeriesTitle |"
        in section
    )
    # the unchanged release has no such section
    assert "Breaking changes" not in render_markdown(
        compute_notes(store / str(N), store / str(N - 1))
    )


def test_a_key_that_becomes_duplicated_is_warned_about(store, newest_copy):
    path = newest_copy / "idc_index.parquet"
    table = pq.read_table(path)
    doubled = table["SeriesInstanceUID"][0].as_py()
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), path)
    notes = compute_notes(newest_copy, store / str(N - 1))
    entry = notes["indices"]["idc_index"]
    assert (entry["duplicated_keys_before"], entry["duplicated_keys_after"]) == (0, 1)
    assert entry["rows_changed"] is None  # rows of a duplicated key cannot be paired
    # Rows whose key is new or gone are still counted, the duplicate among them.
    old = set(
        pq.read_table(store / str(N - 1) / "idc_index.parquet")["SeriesInstanceUID"].to_pylist()
    )
    new = [*table["SeriesInstanceUID"].to_pylist(), doubled]
    assert entry["rows_added"] == sum(uid not in old for uid in new)
    assert entry["rows_removed"] == len(old - set(new))
    (problem,) = warnings(notes, 1.0)[NEW_DUPLICATE_KEYS]
    assert (
        problem.startswith("idc_index (SeriesInstanceUID): 1 duplicated key values")
        and doubled in problem
    )


def test_a_new_license_doi_or_cancer_type_is_reported(store, newest_copy):
    path = newest_copy / "collections_index.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    first, second = rows[0], rows[1]
    old_type = first["cancer_types"]
    first["cancer_types"] = "Lung Cancer, Other"
    old_license = second["sources"][0]["license"]["license_short_name"]
    second["sources"][0]["license"] = {
        "license_url": "https://creativecommons.org/licenses/by-nc/4.0/",
        "license_long_name": "Creative Commons Attribution-NonCommercial 4.0",
        "license_short_name": "CC BY-NC 4.0",
    }
    old_doi = second["sources"][0]["source_doi"]
    second["sources"][0]["source_doi"] = "10.0000/new-doi"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)

    changed = compute_notes(newest_copy, store / str(N - 1))["collections_index"][
        "collections_changed"
    ]
    by_id = {item["collection_id"]: item["changes"] for item in changed}
    assert by_id[first["collection_id"]] == {
        "cancer_types": {"before": old_type, "after": "Lung Cancer, Other"}
    }
    second_changes = by_id[second["collection_id"]]
    assert set(second_changes) == {"license", "source_doi"}
    assert old_license in second_changes["license"]["before"]
    assert "CC BY-NC 4.0" in second_changes["license"]["after"]
    assert old_doi in second_changes["source_doi"]["before"]
    assert "10.0000/new-doi" in second_changes["source_doi"]["after"]
    assert len(by_id) == 2


def test_a_directory_without_indices_is_a_clear_error(store, tmp_path):
    with pytest.raises(NotesError, match=f"{tmp_path}: no index parquet files"):
        compute_notes(store / str(N), tmp_path)


# --- a published release as the previous one --------------------------------------------------------


def test_a_release_directory_gives_the_same_notes_as_the_artifact_store(store, tmp_path):
    bucket = tmp_path / "bucket"
    names = [spec.name for spec in INDICES]
    publish_release(
        store / str(N - 1), open_bucket(str(bucket)), f"{N - 1}.0.0", N - 1, indices=names
    )
    published = bucket / CURRENT / ARTIFACTS
    from_store = compute_notes(store / str(N), store / str(N - 1))
    assert compute_notes(store / str(N), published) == from_store


# --- in Dagster and on the command line ---------------------------------------------------------------


@pytest.fixture
def environment(store, sample_source, monkeypatch, tmp_path):
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(store))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))


def materialize_notes(instance, version: int, against: str = ""):
    instance.add_dynamic_partitions("idc_version", [str(version)])
    return defs.resolve_job_def("publish_release").execute_in_process(
        instance=instance,
        partition_key=str(version),
        asset_selection=[AssetKey(NOTES_ASSET)],
        run_config={"ops": {NOTES_ASSET: {"config": {"against": against}}}},
        raise_on_error=False,
    )


def evaluations(result) -> dict:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_the_asset_writes_the_notes_with_markdown_and_numbers_as_metadata(environment, store):
    with instance_for_test() as instance:
        result = materialize_notes(instance, N)
        assert result.success
        written = json.loads((store / str(N) / NOTES_JSON).read_text())
        assert written == compute_notes(store / str(N), store / str(N - 1))
        markdown = (store / str(N) / NOTES_MARKDOWN).read_text()
        assert markdown == render_markdown(written)
        event = instance.get_latest_materialization_event(AssetKey(NOTES_ASSET))
        metadata = event.asset_materialization.metadata
        assert metadata["notes"].value == markdown
        assert metadata["series_added"].value == written["idc_index"]["series_added"]
        assert (
            metadata["idc_index/rows_removed"].value
            == (written["indices"]["idc_index"]["rows_removed"])
        )
        checks = evaluations(result)
        assert set(checks) == {
            VANISHED_COLLECTIONS,
            ROW_COUNT_DROP,
            COLUMN_TYPE_CHANGES,
            NEW_DUPLICATE_KEYS,
            COMPLETE_PREVIOUS,
            BREAKING_CHANGES,
        }
        assert all(c.severity.value == "WARN" for c in checks.values())
        expected = warnings(written, 0.1)  # IDC_MAX_ROW_DROP's default
        assert {name: not c.passed for name, c in checks.items()} == {
            name: bool(problems) for name, problems in expected.items()
        }


def test_the_vanished_collection_check_names_the_collection(environment, store, tmp_path):
    root = tmp_path / "artifacts"
    shutil.copytree(store / str(N - 1), root / str(N - 1))
    shutil.copytree(store / str(N), root / str(N))
    gone = pq.read_table(root / str(N) / "idc_index.parquet")["collection_id"][0].as_py()
    rewrite(
        root / str(N) / "idc_index.parquet",
        lambda t: t.filter(pc.not_equal(t["collection_id"], gone)),
    )
    with instance_for_test() as instance, pytest.MonkeyPatch.context() as patch:
        patch.setenv("IDC_ARTIFACTS_DIR", str(root))
        result = materialize_notes(instance, N)
    assert result.success  # a warning, not a failure
    check = evaluations(result)[VANISHED_COLLECTIONS]
    assert not check.passed and check.severity.value == "WARN"
    assert gone in check.metadata["problems"].value
    assert check.metadata["violations"].value == 1


def test_the_first_version_materializes_with_passing_checks(environment, store):
    with instance_for_test() as instance:
        result = materialize_notes(instance, 1)
    assert result.success
    checks = evaluations(result)
    assert checks and all(c.passed for c in checks.values())
    assert "nothing to compare" in checks[ROW_COUNT_DROP].metadata["note"].value
    assert "first IDC version built here" in (store / "1" / NOTES_MARKDOWN).read_text()


def test_a_release_on_gcs_gives_the_same_notes_as_the_artifact_store(environment, store, gcs):
    name = f"idc-notes-{uuid.uuid4().hex[:8]}"
    gcs.create_bucket(name)
    names = [spec.name for spec in INDICES]
    bucket = open_bucket(f"gs://{name}", client=gcs)
    publish_release(store / str(N - 1), bucket, f"{N - 1}.0.0", N - 1, indices=names)
    with instance_for_test() as instance:
        result = materialize_notes(instance, N, against=f"gs://{name}/{CURRENT}/{ARTIFACTS}")
        assert result.success
        written = json.loads((store / str(N) / NOTES_JSON).read_text())
        assert written == compute_notes(store / str(N), store / str(N - 1))

        result = materialize_notes(instance, N, against=f"gs://{name}/nothing")
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        message = failure.step_failure_data.user_failure_data.description
        assert f"gs://{name}/nothing: no index parquet files" in message


def test_the_notes_command_prints_and_writes_the_notes(environment, store, tmp_path, capsys):
    against = tmp_path / "release"
    shutil.copytree(store / str(N - 1), against)
    assert main(["notes", "--idc-version", str(N), "--against", str(against)]) == 0
    printed = capsys.readouterr().out
    assert printed == (store / str(N) / NOTES_MARKDOWN).read_text()
    assert printed == render_markdown(compute_notes(store / str(N), store / str(N - 1)))
    assert json.loads((store / str(N) / NOTES_JSON).read_text())["previous"]["idc_version"] == N - 1

    assert main(["notes", "--idc-version", str(N), "--against", str(tmp_path / "nothing")]) == 2
    assert "--against" in capsys.readouterr().err


def test_the_notes_sit_between_the_indices_and_the_release():
    graph = defs.resolve_asset_graph()
    notes = graph.get(AssetKey(NOTES_ASSET))
    assert {AssetKey(spec.name) for spec in RELEASED_INDICES} <= set(notes.parent_keys)
    assert AssetKey(NOTES_ASSET) in graph.get(AssetKey(RELEASE_ASSET)).parent_keys
    assert notes.partitions_def.name == "idc_version"
