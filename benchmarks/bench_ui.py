"""One IDC version of `build_indices` from the UI against the same from the command line.

    .venv/bin/python benchmarks/bench_ui.py [--root data/bench-ui] [--idc-version 3] [--repeat 2]

Against one Dagster instance (`<root>/dagster_home`) and one sample source, alternately:

- **cli**: `idc-index-assets build --idc-version N`, wall time of the whole command (Python start,
  definitions, the run, its steps in the command's own process);
- **ui backfill**: what the UI's "Launch backfill" of the job's partition N does, the
  `launchPartitionBackfill` GraphQL mutation, sent to a running `dagster dev` (webserver and
  daemon, as `make dev` starts them); timed from the request until the backfill's run has
  finished, so the daemon's backfill loop (it looks every 30 s), the run queue, the run worker's
  start and every step count;
- **ui launch**: the UI's "Materialize" of the job for partition N (`launchPipelineExecution`),
  timed the same way.

Each UI run's own start and end times (as the instance records them) split the wall into waiting
(daemon and queue) and running. The webserver's start is not timed (a user's UI is already up).
The table goes to stdout and benchmarks/results/bench_ui.md.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCATION = "idc_index_assets"
JOB = "build_indices"
REPOSITORY = "__repository__"

BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
LAUNCH = """
mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status startTime endTime } }
  }
}"""


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(root: Path, source: Path, artifacts: Path) -> dict:
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "IDC_SOURCE_DIR": str(source),
        "IDC_ARTIFACTS_DIR": str(artifacts),
        "IDC_AUTOMATION": "off",
        # this checkout's code, also for the command line of another checkout's environment
        "PYTHONPATH": str(REPO),
    }


def run_cli(env: dict, idc_version: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "idc-index-assets"), "build", "--idc-version", str(idc_version)],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def wait_for_run(port: int, runs_filter: dict, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = graphql(port, RUNS, {"filter": runs_filter})["runsOrError"]["results"]
        if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            if any(r["status"] != "SUCCESS" for r in runs):
                raise RuntimeError(f"run {runs[0]['runId']} ended {runs[0]['status']}")
            return runs[0]
        time.sleep(0.25)
    raise TimeoutError(f"no finished run of {runs_filter} after {timeout} s")


def run_ui(port: int, how: str, idc_version: int) -> tuple[float, float]:
    """(wall seconds from the request to the run's end, seconds the run itself took)."""
    repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    started = time.time()
    if how == "backfill":
        params = {
            "selector": {
                "partitionSetName": f"{JOB}_partition_set",
                "repositorySelector": repository,
            },
            "partitionNames": [str(idc_version)],
            "fromFailure": False,
        }
        answer = graphql(port, BACKFILL, {"params": params})["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(answer)
        runs_filter = {"tags": [{"key": "dagster/backfill", "value": answer["backfillId"]}]}
    else:
        params = {
            "selector": {**repository, "pipelineName": JOB},
            "runConfigData": {},
            "mode": "default",
            "executionMetadata": {
                "tags": [{"key": "dagster/partition", "value": str(idc_version)}]
            },
        }
        answer = graphql(port, LAUNCH, {"params": params})["launchPipelineExecution"]
        if answer["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(answer)
        runs_filter = {"runIds": [answer["run"]["runId"]]}
    run = wait_for_run(port, runs_filter)
    return run["endTime"] - started, run["endTime"] - run["startTime"]


def start_ui(root: Path, env: dict, port: int) -> subprocess.Popen:
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: idc_index_assets.definitions\n"
        f"      working_directory: {REPO}\n      location_name: {LOCATION}\n"
    )
    with open(root / "dagster_dev.log", "w") as log:
        process = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", str(workspace), "-p", str(port)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            data = graphql(
                port,
                "{ workspaceOrError { ... on Workspace { locationEntries { name "
                "locationOrLoadError { __typename } } } } }",
                {},
            )
            entries = data["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation":
                return process
        except (OSError, RuntimeError):
            pass
        time.sleep(1)
    raise TimeoutError("dagster dev did not serve the code location within 300 s")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / "data" / "bench-ui")
    parser.add_argument("--source", type=Path, help="a sample source (default: <root>/source)")
    parser.add_argument("--idc-version", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-warm-up", action="store_true", help="skip the untimed first UI run")
    args = parser.parse_args()
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    source = (args.source or root / "source").resolve()
    if not (source / "bigquery-public-data").is_dir():
        subprocess.run([str(BIN / "idc-index-assets"), "sample", "--out", str(source)], check=True)
    shutil.rmtree(root / "dagster_home", ignore_errors=True)
    env = environment(root, source, root / "artifacts")

    times: dict[str, list[tuple[float, float | None]]] = {
        "cli": [],
        "ui backfill": [],
        "ui launch": [],
    }
    # The command line first: it registers the source's versions as partitions.
    run_cli(env, args.idc_version)
    port = free_port()
    ui = start_ui(root, env, port)
    try:
        if not args.no_warm_up:
            run_ui(port, "launch", args.idc_version)  # the first run imports cold
        for _ in range(args.repeat):
            times["cli"].append((run_cli(env, args.idc_version), None))
            times["ui backfill"].append(run_ui(port, "backfill", args.idc_version))
            times["ui launch"].append(run_ui(port, "launch", args.idc_version))
    finally:
        stop(ui)

    cli = statistics.median(wall for wall, _ in times["cli"])
    lines = [
        f"IDC version {args.idc_version} of {source}, {args.repeat} runs each, "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| path | wall s (each) | median wall s | run s (median) | x cli |",
        "|---|---|---:|---:|---:|",
    ]
    for name, measured in times.items():
        walls = [wall for wall, _ in measured]
        runs = [run for _, run in measured if run is not None]
        median = statistics.median(walls)
        lines.append(
            f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {median:.1f} | "
            f"{statistics.median(runs):.1f} | {median / cli:.2f} |"
            if runs
            else f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {median:.1f} | | 1.00 |"
        )
    table = "\n".join(lines)
    print(table)
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_ui.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
