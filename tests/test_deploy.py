"""The deployment recipes: the Dockerfile, checked by replaying its build steps in a clean virtual
environment (this machine runs no Docker engine) and starting its entry point, and the Helm values,
checked against the instance configuration and settings they must agree with."""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from idc_index_assets import settings
from tests.servers.loopback import free_port

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOY = REPOSITORY / "deploy"
# RUN steps the replay skips: they change the image's users and system folders, not its Python.
SYSTEM_COMMANDS = {"useradd", "mkdir", "chown"}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    steps, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            steps.append((keyword.upper(), " ".join(arguments.split())))
            pending = ""
    return steps


def context_files(root: Path) -> list[str]:
    """The tracked files `docker build` would send, after .dockerignore (last matching pattern
    wins; `!` re-includes; a pattern matching a folder matches what is inside it)."""
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def matches(pattern: str, path: str) -> bool:
        pattern = pattern.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if pattern.startswith("**/"):
            return any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)

    listed = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    kept = []
    for path in listed:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if matches(pattern.removeprefix("!"), path):
                included = negated
        if included:
            kept.append(path)
    return kept


def test_the_image_context_holds_the_package_and_its_queries_only():
    files = context_files(REPOSITORY)
    assert "pyproject.toml" in files and "queries/idc_index.sql" in files
    assert "idc_index_assets/definitions.py" in files
    assert "idc_index_assets/data/published_contract.json" in files
    assert not [f for f in files if f.startswith(("tests/", "data/", ".venv/", "benchmarks/"))]


@pytest.mark.slow
def test_the_dockerfile_installs_a_code_location_that_serves(tmp_path):
    """Replays COPY and the pip installs of the Dockerfile into a fresh virtual environment, then
    starts the image's command and asks the code server whether it is serving."""
    steps = instructions(REPOSITORY / "Dockerfile")
    assert steps[0] == ("FROM", "python:3.11-slim")
    image = tmp_path / "image"
    workdir = image
    files = context_files(REPOSITORY)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("IDC_", "DAGSTER"))}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment['PATH']}"
    image_env: dict[str, str] = {}
    command: list[str] = []
    for keyword, arguments in steps:
        if keyword == "WORKDIR":
            workdir = image / arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, target = shlex.split(arguments)
            for source in sources:
                if source in files:  # a file: into the target folder, or as the target
                    into = target.endswith("/") or target == "."
                    copies = [(source, workdir / target / Path(source).name if into else target)]
                else:  # a folder: its contents into the target
                    copies = [
                        (path, workdir / target / Path(path).relative_to(source))
                        for path in files
                        if path.startswith(source.rstrip("/") + "/")
                    ]
                assert copies, f"COPY {source}: not in the build context"
                for path, destination in copies:
                    Path(destination).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPOSITORY / path, destination)
        elif keyword == "RUN":
            words = shlex.split(arguments)
            if words[0] == "pip":
                # pip's cache is allowed here (the image build disables it to stay small)
                subprocess.run(
                    [str(venv / "bin" / "pip"), *words[1:], "--quiet"],
                    cwd=workdir,
                    env=environment,
                    check=True,
                )
            else:
                commands = [part.split()[0] for part in arguments.split("&&")]
                assert set(commands) <= SYSTEM_COMMANDS, f"the replay does not know RUN {arguments}"
        elif keyword == "ENV":
            for assignment in shlex.split(arguments):
                name, _, value = assignment.partition("=")
                image_env[name] = value
        elif keyword == "CMD":
            command = yaml.safe_load(arguments)
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-m") + 1] == "idc_index_assets.definitions"
    assert command[command.index("-p") + 1] == "4000"

    # The image's environment, its absolute folders moved under the replayed image.
    for name, value in image_env.items():
        if not name.startswith("PIP_"):
            environment[name] = str(image / value.lstrip("/")) if value.startswith("/") else value
    Path(environment["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    production = dict(
        line.split("=", 1)
        for line in (DEPLOY / "production.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    environment["IDC_EXECUTOR"] = production["IDC_EXECUTOR"]
    port = free_port()
    served = [*command[:-4], "-h", "127.0.0.1", "-p", str(port)]
    assert served[:5] == command[:5]
    server = subprocess.Popen(
        served, cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            check = subprocess.run(
                ["dagster", "api", "grpc-health-check", "-p", str(port)],
                env=environment,
                capture_output=True,
                text=True,
            )
            if check.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(
                    f"the code server did not serve: {server.stderr.read().decode()[-2000:]}"
                )
            time.sleep(1)
        # The image's definitions execute steps one pod each, through dagster-k8s.
        executor = subprocess.run(
            [
                "python",
                "-c",
                "from idc_index_assets.definitions import defs; "
                "print(defs.resolve_job_def('build_indices').executor_def.name)",
            ],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        assert executor.stdout.strip() == "k8s_step_per_pod"
    finally:
        # Stopping is not what is tested: a code server slow to shut down on a loaded machine
        # gets SIGKILL, as Kubernetes sends after a pod's grace period.
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_helm_values_run_this_code_location_with_the_production_settings():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "idc_index_assets.definitions"]
    assert deployment["port"] == 4000
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    config_map = deployment["envConfigMaps"][0]["name"]
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["envConfigMaps"] == [{"name": config_map}]
    # the GitHub release channel's token, from a Secret, in the code server and its runs
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == deployment["envSecrets"]
    # Every run and step pod reads and writes one artifact store on GCS: no shared volume.
    production = dict(
        line.split("=", 1)
        for line in (DEPLOY / "production.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert production["IDC_ARTIFACTS_DIR"].startswith("gs://")
    assert "volumes" not in deployment and "volumeMounts" not in deployment
    # Credentials through Workload Identity, never a key in the environment.
    assert "iam.gke.io/gcp-service-account" in values["serviceAccount"]["annotations"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in production
    assert production["IDC_EXECUTOR"] == "k8s"
    assert set(production) <= set(settings.DEFAULTS) | {"IDC_AUTOMATION"}


def test_the_helm_run_queue_is_the_instance_run_queue():
    """deploy/dagster.yaml (any instance) and the chart's coordinator hold the same limits."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    chart = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_coordinator"]["config"]
    assert chart["maxConcurrentRuns"] == instance["max_concurrent_runs"]
    assert chart["tagConcurrencyLimits"] == [
        {"key": limit["key"], "value": limit["value"], "limit": limit["limit"]}
        for limit in instance["tag_concurrency_limits"]
    ]
    assert instance["tag_concurrency_limits"][0]["value"] == {"applyLimitPerUniqueValue": True}
    # and the same run monitoring: a run whose worker is gone is failed, never left holding a slot
    monitoring = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_monitoring"]
    assert monitoring["enabled"] and values["dagsterDaemon"]["runMonitoring"] == {
        "enabled": True,
        "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "maxResumeRunAttempts": monitoring["max_resume_run_attempts"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
    }
