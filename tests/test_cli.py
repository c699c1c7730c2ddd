"""The `idc-index-assets` command line, run in-process against a temporary Dagster home."""

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance

from idc_index_assets.cli import main
from tests.conftest import SAMPLE_VERSIONS


@pytest.fixture
def environment(monkeypatch, tmp_path, sample_source):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("IDC_ENGINE", "duckdb")
    monkeypatch.setenv("IDC_SOURCE_DIR", str(sample_source))
    monkeypatch.setenv("IDC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("IDC_RELEASE_VERSION", "")
    return tmp_path


def test_build_defaults_to_the_newest_version_and_records_the_run(environment, capsys):
    assert main(["build", "--select", "version_metadata_index,collections_index"]) == 0
    out = capsys.readouterr().out
    directory = environment / "artifacts" / str(SAMPLE_VERSIONS)
    assert str(directory) in out
    assert sorted(p.name for p in directory.glob("*.parquet")) == [
        "collections_index.parquet",
        "version_metadata_index.parquet",
    ]
    # The run and its partition live in DAGSTER_HOME, so the UI shows them.
    instance = DagsterInstance.get()
    assert instance.get_dynamic_partitions("idc_version") == [str(SAMPLE_VERSIONS)]
    event = instance.get_latest_materialization_event(AssetKey("collections_index"))
    assert event.asset_materialization.partition == str(SAMPLE_VERSIONS)


def test_build_writes_the_requested_release_version(environment):
    code = main(
        [
            "build",
            "--idc-version",
            "2",
            "--select",
            "version_metadata_index",
            "--release-version",
            "2.1.0",
        ]
    )
    assert code == 0
    parquet = environment / "artifacts" / "2" / "version_metadata_index.parquet"
    assert pq.read_schema(parquet).metadata[b"idc_index_data_version"] == b"2.1.0"
    assert pq.read_metadata(parquet).num_rows == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--idc-version", "x3"], "positive integer"),
        (["--idc-version", "0"], "positive integer"),
        (["--idc-version", "99"], "IDC version 99 is not in the source"),
        (["--select", "idc_index,no_such_index"], "unknown index no_such_index"),
        (["--release-version", "3.0"], "X.Y.Z"),
    ],
)
def test_bad_arguments_fail_before_any_work(environment, capsys, arguments, message):
    assert main(["build", *arguments]) != 0
    assert message in capsys.readouterr().err
    assert not (environment / "artifacts").exists()


def test_an_empty_source_says_what_to_do(environment, monkeypatch, capsys):
    monkeypatch.setenv("IDC_SOURCE_DIR", str(environment / "nothing"))
    assert main(["build"]) != 0
    assert "idc-index-assets sample" in capsys.readouterr().err


def test_a_missing_table_fails_the_build_naming_it(environment, monkeypatch, source_copy, capsys):
    source = source_copy
    missing = (
        source / "bigquery-public-data" / f"idc_v{SAMPLE_VERSIONS}" / "version_metadata.parquet"
    )
    missing.unlink()
    monkeypatch.setenv("IDC_SOURCE_DIR", str(source))
    assert main(["build", "--select", "version_metadata_index"]) == 1
    err = capsys.readouterr().err
    assert "version_metadata" in err and str(missing) in err


def test_sample_then_verify(environment, capsys):
    out = environment / "sample"
    assert main(["sample", "--out", str(out), "--versions", "2", "--scale", "0.2"]) == 0
    assert (out / "bigquery-public-data" / "idc_v2" / "dicom_all.parquet").exists()
    assert main(["build", "--select", "collections_index"]) == 0
    directory = environment / "artifacts" / str(SAMPLE_VERSIONS)
    capsys.readouterr()
    assert main(["verify", str(directory)]) == 0
    assert "ok   collections_index.parquet" in capsys.readouterr().out
    (directory / "collections_index.parquet.sha256").write_text(
        "0" * 64 + "  collections_index.parquet\n"
    )
    assert main(["verify", str(directory)]) == 1
    assert "FAIL collections_index.parquet" in capsys.readouterr().out
