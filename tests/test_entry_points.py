"""Every entry point the README names uses the one Dagster instance of the repository root, with
nothing more typed than the README shows: the idc-index-assets command, `dg launch`, `dg dev` and
`dagster dev -w workspace.yaml` (`make dev`). Run in a scratch checkout: the repository's own
`.env`, `pyproject.toml`, `workspace.yaml` and `.dagster_home/dagster.yaml`, the package and the
virtual environment linked, `data/source` the sample; no DAGSTER_HOME or IDC_* in the
environment, as in a fresh shell."""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterInstance

from idc_index_assets.settings import INSTANCE_CONFIG
from tests.servers.loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
RUNS = "{ runsOrError { ... on Runs { results { runId pipelineName status } } } }"


def test_the_committed_instance_configuration_is_the_one_settings_writes():
    """A fresh clone's `.dagster_home` exists (dagster dev refuses a missing DAGSTER_HOME) and
    already queues runs one per IDC version."""
    assert (ROOT / ".dagster_home" / "dagster.yaml").read_text() == INSTANCE_CONFIG
    assert (ROOT / ".env").read_text().splitlines()[-1] == "DAGSTER_HOME=${PWD}/.dagster_home"


@pytest.fixture
def checkout(tmp_path, sample_source):
    root = tmp_path / "checkout"
    (root / ".dagster_home").mkdir(parents=True)
    (root / "data").mkdir()
    for name in (".env", "pyproject.toml", "workspace.yaml", ".dagster_home/dagster.yaml"):
        shutil.copy(ROOT / name, root / name)
    (root / "idc_index_assets").symlink_to(ROOT / "idc_index_assets")
    (root / ".venv").symlink_to(VENV_BIN.parent)
    (root / "data" / "source").symlink_to(sample_source)
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("IDC_", "DAGSTER", "VIRTUAL_ENV"))
    }
    # What a shell sets when it starts in the checkout (the .env reads it), and the venv dg uses.
    environment.update(PWD=str(root), VIRTUAL_ENV=str(root / ".venv"))
    return root, environment


def run(command: list[str], root: Path, environment: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def served_runs(command: list[str], root: Path, environment: dict, port: int) -> set[str]:
    """Start a UI server, ask its GraphQL for the runs it sees, stop it."""
    server = subprocess.Popen(
        command,
        cwd=root,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/graphql",
                data=json.dumps({"query": RUNS}).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    results = json.load(response)["data"]["runsOrError"]["results"]
                return {run["runId"] for run in results}
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[1]} did not serve: {server.stderr.read()[-2000:]}")
                time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.slow
def test_the_cli_dg_and_dagster_dev_share_the_instance_of_the_repository_root(checkout):
    root, environment = checkout
    bin_ = root / ".venv" / "bin"
    run(
        [str(bin_ / "idc-index-assets"), "build", "--select", "version_metadata_index"],
        root,
        environment,
    )
    # The partition the command registered is there for dg launch: the same instance.
    launch = [str(bin_ / "dg"), "launch", "--assets", "version_metadata_index", "--partition", "3"]
    run(launch, root, environment)
    with DagsterInstance.from_config(str(root / ".dagster_home")) as instance:
        runs = {run.run_id for run in instance.get_runs()}
    assert len(runs) == 2
    # No entry point fell back to a temporary instance.
    assert not list(root.glob(".tmp_dagster_home_*"))

    port = free_port()
    dagster_dev = [str(bin_ / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(port)]
    assert served_runs(dagster_dev, root, environment, port) == runs
    port = free_port()
    dg_dev = [str(bin_ / "dg"), "dev", "--port", str(port)]
    assert served_runs(dg_dev, root, environment, port) == runs


@pytest.mark.slow
def test_dg_launch_knows_the_snapshot_versions_on_a_fresh_instance(checkout):
    """The code location registers the snapshot's IDC versions as partitions when it loads: a
    partition exists for `dg launch` before any build made one."""
    root, environment = checkout
    bin_ = root / ".venv" / "bin"
    launch = [str(bin_ / "dg"), "launch", "--assets", "version_metadata_index", "--partition", "3"]
    run(launch, root, environment)
    with DagsterInstance.from_config(str(root / ".dagster_home")) as instance:
        assert instance.get_dynamic_partitions("idc_version") == ["1", "2", "3"]
        (run_,) = instance.get_runs()
        assert run_.tags["dagster/partition"] == run_.tags["idc_version"] == "3"
        assert run_.tags["release_version"] == "3.0.0"
    assert (root / "data" / "artifacts" / "3" / "version_metadata_index.parquet").exists()
