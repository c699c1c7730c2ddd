"""The `idc-index-assets` command line, run in-process against a temporary Dagster home."""

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from idc_index_assets.cli import CODE_LOCATION, main
from tests.conftest import SAMPLE_VERSIONS

ROOT = Path(__file__).resolve().parents[1]


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
    # The run and the partitions live in DAGSTER_HOME, so the UI shows them: every version of
    # the source is a partition, built or not.
    instance = DagsterInstance.get()
    assert instance.get_dynamic_partitions("idc_version") == ["1", "2", "3"]
    event = instance.get_latest_materialization_event(AssetKey("collections_index"))
    assert event.asset_materialization.partition == str(SAMPLE_VERSIONS)
    # The build observed the source tables those indices read (not "Never observed" in the UI).
    source = AssetKey(["idc_source", "idc_vNN", "version_metadata"])
    (observation,) = instance.fetch_observations(source, limit=1).records
    assert observation.asset_observation.partition == str(SAMPLE_VERSIONS)
    assert "dagster/data_version" in observation.asset_observation.tags


# What the job page's Runs tab and the Jobs list ask for: the job's runs in its code location.
JOB_RUNS = """
query JobRuns($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { runs { runId status tags { key value } } }
  }
}
"""


def test_a_build_run_shows_under_its_job_in_the_code_location_the_ui_loads(environment, capsys):
    assert main(["build", "--select", "version_metadata_index"]) == 0
    instance = DagsterInstance.get()
    (run,) = instance.get_runs()
    assert run.remote_job_origin is not None
    assert run.remote_job_origin.location_name == CODE_LOCATION
    # The UI's own view, through the workspace `make dev` serves (a code server of its own).
    with define_out_of_process_context(str(ROOT / "workspace.yaml"), None, instance) as context:
        selector = {
            "repositoryLocationName": CODE_LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": "build_indices",
        }
        result = execute_dagster_graphql(context, JOB_RUNS, {"selector": selector})
    job = result.data["pipelineOrError"]
    assert job["__typename"] == "Pipeline"
    assert [r["runId"] for r in job["runs"]] == [run.run_id]
    assert job["runs"][0]["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": str(SAMPLE_VERSIONS)} in job["runs"][0]["tags"]


def test_dg_and_the_workspace_name_the_code_location_alike():
    import tomllib

    import yaml

    dg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    (entry,) = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    assert dg["code_location_name"] == entry["python_module"]["location_name"] == CODE_LOCATION


def test_progress_lines_say_when_each_index_starts_and_finishes(environment, capsys):
    assert main(["build", "--select", "version_metadata_index,collections_index"]) == 0
    err = capsys.readouterr().err.splitlines()
    for name, rows in (("version_metadata_index", 3), ("collections_index", None)):
        assert f"{name}: started" in err
        (done,) = [line for line in err if line.startswith(f"{name}: done (")]
        assert done.endswith(" s)")
        if rows is not None:
            assert f"({rows} rows, " in done
    assert err.index("collections_index: started") < err.index(
        next(line for line in err if line.startswith("collections_index: done"))
    )


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
        (["build", "--idc-version", "99"], "IDC version 99 is not in the source"),
        # X.Y.Z must be a release of the IDC version: X is N (N the newest, 3, by default)
        (["release", "--version", "4.0.0"], "--version: release version 4.0.0 is not for IDC"),
        (["package", "--version", "2.0.0"], "--version: release version 2.0.0 is not for IDC"),
        (["build", "--release-version", "4.0.0"], "--force-release-version"),
    ],
)
def test_bad_arguments_fail_before_any_work(environment, capsys, arguments, message):
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    # Nothing was built, not even a wheel, and no run was made.
    assert not (environment / "artifacts").exists()
    assert not DagsterInstance.get().get_runs()


# Refused by their syntax, before Dagster or the definitions load.
BAD_SYNTAX = [
    (["build", "--idc-version", "abc"], "argument --idc-version: IDC version must be"),
    (["build", "--idc-version", "024"], "argument --idc-version: IDC version must be"),
    (["build", "--idc-version", "0"], "argument --idc-version: IDC version must be"),
    (["build", "--release-version", "3.0"], "argument --release-version: release version must"),
    (["build", "--select", "idc_index,no_such_index"], "argument --select: unknown index no_such"),
    (["build", "--idc-version", "3", "--release-version", "4.0.0"], "--force-release-version"),
    (["package", "--idc-version", "2", "--version", "3.0.0"], "--version: release version 3.0.0"),
    (["release", "--idc-version", "3", "--version", "4.0.0"], "--version: release version 4.0.0"),
    (["release", "--concurrency", "0"], "argument --concurrency: must be a whole number"),
    (["release", "--concurrency", "two"], "argument --concurrency: must be a whole number"),
    (["release", "--bucket", "s3://bucket"], "argument --bucket: 's3://bucket' is neither"),
    (["release", "--bucket", "gs://Bad_Bucket"], "argument --bucket: 'gs://Bad_Bucket' is not"),
    (["release", "--bucket", "gs://"], "argument --bucket: 'gs://' is not gs://bucket"),
    # a misspelt flag or command: the command's own usage, and the nearest valid name
    (
        ["build", "--idc-verison", "3"],
        "usage: idc-index-assets build [-h] [--idc-version IDC_VERSION]",
    ),
    (["build", "--idc-verison", "3"], "did you mean --idc-version instead of --idc-verison?"),
    (["release", "--bukcet=x"], "did you mean --bucket instead of --bukcet?"),
    (["biuld"], "unknown command 'biuld'; did you mean build?"),
]


@pytest.mark.parametrize(
    ("arguments", "message"), BAD_SYNTAX, ids=[" ".join(a) for a, _ in BAD_SYNTAX]
)
def test_bad_syntax_is_refused_at_once_naming_the_flag(arguments, message, tmp_path):
    stderr, dagster_loaded = _refused_in_a_fresh_process(
        arguments, tmp_path, {"DAGSTER_HOME": str(tmp_path / "home")}
    )
    assert message in stderr
    # Refused before Dagster (seconds to import) is loaded: at once, whatever the machine's load.
    assert not dagster_loaded
    assert not (tmp_path / "home").exists()


def _refused_in_a_fresh_process(arguments, cwd: Path, env: dict) -> tuple[str, bool]:
    """Run `main(arguments)` in a child with only `env`; its exit status must be 2. Returns its
    stderr and whether Dagster had been imported by then."""
    script = (
        "import sys\n"
        "from idc_index_assets.cli import main\n"
        "try:\n"
        f"    code = main({arguments!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print(code, 'dagster' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    code, dagster_loaded = done.stdout.split()
    assert code == "2", done.stderr
    return done.stderr, dagster_loaded == "True"


# Checked against the source snapshot's directory listing and the settings, before Dagster loads.
REFUSED_BEFORE_LOADING = [
    (["build", "--idc-version", "7"], {}, "--idc-version 7: IDC version 7 is not in the source"),
    (["notes", "--idc-version", "9"], {}, "--idc-version 9: IDC version 9 is not in the source"),
    (["check-source", "--idc-version", "8"], {}, "IDC version 8 is not in the source"),
    (["release", "--version", "4.0.0"], {}, "--version: release version 4.0.0 is not for IDC "),
    (["package"], {"IDC_RELEASE_VERSION": "2.0.0"}, "IDC_RELEASE_VERSION: release version 2.0.0"),
    (
        ["build"],
        {"IDC_ENGINE": "bigqurey"},
        "IDC_ENGINE: must be duckdb or bigquery (any case), got 'bigqurey'; did you mean bigquery?",
    ),
    (["build", "--dry-run"], {"IDC_ENGINE": "duckdb"}, "--dry-run reports BigQuery bytes"),
    (["release"], {"IDC_RELEASE_CONCURRENCY": "0"}, "IDC_RELEASE_CONCURRENCY: must be a whole"),
    (["build"], {"IDC_EXECUTOR": "k9s"}, "IDC_EXECUTOR: must be empty or k8s, got 'k9s'"),
    (["build"], {"IDC_DUCKDB_THREADS": "many"}, "IDC_DUCKDB_THREADS: must be a positive integer"),
    (["build"], {"IDC_DUCKDB_MEMORY_LIMIT": "lots"}, "IDC_DUCKDB_MEMORY_LIMIT: must be a size"),
    (["build"], {"IDC_MAX_ROW_DROP": "2"}, "IDC_MAX_ROW_DROP: must be a fraction between 0 and 1"),
    (["notes"], {"IDC_ARTIFACTS_DIR": "gs://"}, "IDC_ARTIFACTS_DIR: no bucket name in 'gs://'"),
    (["release"], {"IDC_GITHUB_REPOSITORY": "just-a-name"}, "IDC_GITHUB_REPOSITORY: must be owner"),
    (["release"], {"IDC_CONFIGURE_BUCKET": "maybe"}, "IDC_CONFIGURE_BUCKET: must be on or off"),
]


@pytest.mark.parametrize(
    ("arguments", "settings", "message"),
    REFUSED_BEFORE_LOADING,
    ids=[" ".join([*(f"{k}={v}" for k, v in e.items()), *a]) for a, e, _ in REFUSED_BEFORE_LOADING],
)
def test_versions_and_settings_are_refused_before_dagster_loads(
    arguments, settings, message, tmp_path, sample_source
):
    environment = {
        "DAGSTER_HOME": str(tmp_path / "home"),
        "IDC_SOURCE_DIR": str(sample_source),
        "IDC_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "IDC_RELEASE_BUCKET": str(tmp_path / "release"),
        **settings,
    }
    err, dagster_loaded = _refused_in_a_fresh_process(arguments, tmp_path, environment)
    assert message in err
    assert not dagster_loaded
    # Nothing was written: no instance, no artifacts, no release.
    assert list(tmp_path.iterdir()) == []


def test_from_the_wrong_directory_the_advice_is_the_repository_root(tmp_path):
    """Without IDC_SOURCE_DIR or DAGSTER_HOME, in a directory that is not the checkout: the
    message says where the snapshot is, and no .dagster_home is left behind."""
    err, dagster_loaded = _refused_in_a_fresh_process(["build"], tmp_path, {})
    assert f"no IDC source snapshot in {tmp_path}: IDC_SOURCE_DIR is not set" in err
    assert f"run the command in the repository root {ROOT}" in err
    assert "idc-index-assets sample" not in err
    assert not dagster_loaded
    assert list(tmp_path.iterdir()) == []


def test_an_empty_source_setting_says_how_to_fill_it(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    env = {"IDC_SOURCE_DIR": str(source), "DAGSTER_HOME": str(tmp_path / "home")}
    err, _ = _refused_in_a_fresh_process(["release"], tmp_path, env)
    assert f"IDC_SOURCE_DIR={source} holds no IDC release" in err
    assert f"`idc-index-assets sample --out {source}`" in err
    assert [p.name for p in tmp_path.iterdir()] == ["source"]


def test_settings_are_read_in_any_case(environment, monkeypatch):
    monkeypatch.setenv("IDC_ENGINE", "DuckDB")
    monkeypatch.setenv("IDC_CONFIGURE_BUCKET", "OFF")
    assert main(["build", "--idc-version", "1", "--select", "version_metadata_index"]) == 0
    assert (environment / "artifacts" / "1" / "version_metadata_index.parquet").exists()


def test_version_names_the_package_and_dagster(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith(
        f"idc-index-assets {version('idc-index-assets')} (dagster {version('dagster')}, Python "
    )


def test_force_release_version_writes_another_major_on_purpose(environment):
    arguments = ["build", "--idc-version", "2", "--select", "version_metadata_index"]
    assert main([*arguments, "--release-version", "7.0.0", "--force-release-version"]) == 0
    parquet = environment / "artifacts" / "2" / "version_metadata_index.parquet"
    assert pq.read_schema(parquet).metadata[b"idc_index_data_version"] == b"7.0.0"


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
    assert main(["build", "--select", "version_metadata_index,collections_index"]) == 1
    err = capsys.readouterr().err
    # One line for the failed step, with its cause; then where the full log is; no traceback.
    (failed,) = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert failed.startswith("FAILED version_metadata_index: ")
    assert "version_metadata_index.sql" in failed and str(missing) in failed
    assert "Traceback" not in err and "Stack Trace" not in err
    (run,) = DagsterInstance.get().get_runs()
    assert f"(run {run.run_id})" in err
    assert f"http://127.0.0.1:3000/runs/{run.run_id}" in err
    assert "--verbose" in err
    assert len(err.splitlines()) <= 8, err
    # --verbose adds Dagster's log, with the stack traces.
    assert main(["build", "--select", "version_metadata_index", "--verbose"]) == 1
    assert "Stack Trace:" in capsys.readouterr().err


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


def test_a_progress_bar_where_stderr_is_a_terminal(environment):
    """On a terminal (a pseudo-terminal here) tqdm draws the bar over the run's steps."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    # A terminal of 24 rows and 100 columns (a fresh pseudo-terminal has no size).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "idc_index_assets.cli", "build", "--select", "collections_index"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal's other side closed: the command is done
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=300) == 0
    text = output.decode(errors="replace")
    assert "collections_index: started" in text
    # The bar, redrawn in place, last at 100% of the run's steps: the index and its checks'.
    bars = [part for part in text.split("\r") if "step" in part and "|" in part]
    assert bars, text
    assert bars[-1].lstrip().startswith("100%|")
    # The last step's line too: progress goes to the terminal itself, not through Dagster's
    # capture of the steps' output (a file copied back by `tail -F`, stopped when the run ends).
    assert "collections_index: done (" in text
    captured = [p.read_text() for p in (environment / "dagster_home").rglob("*.err")]
    assert captured, "the run's captured stderr"
    assert not any("collections_index: done" in log for log in captured)


def test_a_version_held_by_another_run_is_refused_naming_the_run(environment, capsys):
    """A run the daemon started from the UI's queue (or a sensor's) for IDC version N holds N's
    slot: a build of N from the command line refuses, naming it, and runs nothing; a build of
    another version runs."""
    from dagster import DagsterRunStatus
    from dagster._core.storage.tags import PARTITION_NAME_TAG
    from dagster._core.test_utils import create_run_for_test

    main(["build", "--select", "version_metadata_index", "--idc-version", "1"])  # the home
    capsys.readouterr()
    instance = DagsterInstance.get()
    queued = create_run_for_test(
        instance,
        job_name="publish_release",
        status=DagsterRunStatus.STARTED,
        tags={PARTITION_NAME_TAG: str(SAMPLE_VERSIONS)},
    )
    runs = len(instance.get_runs())
    assert main(["build", "--select", "version_metadata_index"]) == 1
    err = capsys.readouterr().err
    assert (
        f"IDC version {SAMPLE_VERSIONS} is being built or published by run {queued.run_id}" in err
    )
    assert "publish_release, STARTED" in err
    assert len(instance.get_runs()) == runs  # the refused run is not left behind
    assert not (environment / "artifacts" / str(SAMPLE_VERSIONS)).exists()
    assert main(["build", "--select", "version_metadata_index", "--idc-version", "2"]) == 0


@pytest.mark.slow
def test_a_killed_build_is_marked_failed_and_the_next_run_succeeds(environment, capsys):
    """kill -9 of a command-line build leaves its run STARTED; the next command finds its process
    gone, marks it failed (so the run queue does not wait for it) and runs."""
    import signal
    import time

    from dagster import DagsterRunStatus

    instance = DagsterInstance.get()  # makes its storage first: then safe to read beside the run
    log = environment / "build.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "idc_index_assets.cli", "build", "--select", "idc_index"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    # the run in progress (an index takes about a second here: a file to watch may come and go
    # between two looks, the run's status does not)
    deadline, started = time.monotonic() + 180, []
    while not started and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        started = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
    assert started, f"the build never started, or ended first: {log.read_text()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    (killed,) = [r.run_id for r in instance.get_runs()]
    assert instance.get_run_by_id(killed).status == DagsterRunStatus.STARTED  # stuck

    assert main(["build", "--select", "version_metadata_index"]) == 0
    err = capsys.readouterr().err
    assert f"run {killed} (build_indices): the command-line process that ran it" in err
    assert "is gone (killed?)" in err
    assert instance.get_run_by_id(killed).status == DagsterRunStatus.FAILURE


def test_a_bad_duckdb_memory_limit_is_named(environment, monkeypatch, capsys):
    monkeypatch.setenv("IDC_DUCKDB_MEMORY_LIMIT", "lots")
    assert main(["build", "--select", "version_metadata_index"]) != 0
    err = capsys.readouterr().err
    assert "IDC_DUCKDB_MEMORY_LIMIT" in err and "'lots'" in err, err
    assert "Traceback" not in err
    assert not (environment / "artifacts").exists()


@pytest.mark.parametrize("damage", ["empty", "corrupt"])
def test_a_damaged_source_parquet_is_named_by_build_and_check_source(
    environment, monkeypatch, source_copy, capsys, damage
):
    table = (
        source_copy
        / "bigquery-public-data"
        / f"idc_v{SAMPLE_VERSIONS}"
        / "version_metadata.parquet"
    )
    table.write_bytes(b"" if damage == "empty" else table.read_bytes()[: table.stat().st_size // 2])
    monkeypatch.setenv("IDC_SOURCE_DIR", str(source_copy))
    named = (
        f"source table bigquery-public-data.idc_v{SAMPLE_VERSIONS}.version_metadata: {table} is "
        "not a readable Parquet file ("
    )
    assert main(["build", "--select", "version_metadata_index"]) == 1
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err
    assert not (
        environment / "artifacts" / str(SAMPLE_VERSIONS) / "version_metadata_index.parquet"
    ).exists()
    assert main(["check-source"]) == 1
    out, err = capsys.readouterr()
    assert named in out and "Traceback" not in out + err, out + err


@pytest.mark.slow
def test_a_killed_run_started_elsewhere_is_marked_failed_by_the_next_command(environment, capsys):
    """A run of the local instance started outside the command line (as `dagster dev` launches
    one: another process, no tag of ours) and killed with SIGKILL: the next command finds that
    the process that reported its start is gone, marks the run failed, and runs."""
    import signal
    import time

    from dagster import DagsterRunStatus

    main(["build", "--select", "version_metadata_index", "--idc-version", "1"])  # the home
    capsys.readouterr()
    script = (
        "from dagster import AssetKey, DagsterInstance\n"
        "from idc_index_assets.definitions import defs\n"
        "defs.resolve_job_def('build_indices').execute_in_process(\n"
        f"    instance=DagsterInstance.get(), partition_key='{SAMPLE_VERSIONS}',\n"
        "    asset_selection=[AssetKey('idc_index')])\n"
    )
    log = environment / "run.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=output, stderr=output)
    instance = DagsterInstance.get()  # its storage exists: safe to read beside the run
    deadline, started = time.monotonic() + 180, []
    while not started and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        started = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
    assert started, f"the run never started, or ended first: {log.read_text()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    (killed,) = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
    assert main(["build", "--select", "version_metadata_index"]) == 0
    err = capsys.readouterr().err
    assert f"run {killed.run_id} (build_indices): the process that ran it (pid " in err
    assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
