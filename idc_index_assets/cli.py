"""The `idc-index-assets` command line.

Arguments are checked first, before Dagster or the definitions load, so a mistake is refused at
once, naming the flag. `build`, `package` and `release` then run a job of the code location
(`build_indices`, `package_wheel`, `publish_release`) in this process, against the persistent
instance in DAGSTER_HOME: the run carries the code location's origin, as a run launched from the
UI does, so it shows under its job, on the Overview timeline and on the asset pages. No daemon is
needed: the command runs the steps itself (one after the other) and exits when the run is over.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import socket
import sys
from pathlib import Path

from idc_index_assets import settings
from idc_index_assets.sample.presets import PRESETS

# The name of the code location in workspace.yaml and pyproject.toml ([tool.dg.project]);
# command-line runs carry it, so the UI files them under the location's jobs.
CODE_LOCATION = "idc_index_assets"
DEFINITIONS_MODULE = "idc_index_assets.definitions"
# Where `make dev` (dagster dev) serves the UI by default.
UI_URL = "http://127.0.0.1:3000"


def _fail(message: str) -> int:
    for line in message.splitlines():
        print(f"idc-index-assets: error: {line}", file=sys.stderr)
    return 2


# --- argument types: syntax only, checked by argparse before anything loads ----------------------


def _argument_type(parse):
    def checked(value: str):
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    checked.__name__ = parse.__name__.removeprefix("parse_").replace("_", " ")
    return checked


idc_version_argument = _argument_type(settings.parse_idc_version)
release_version_argument = _argument_type(settings.parse_release_version)
concurrency_argument = _argument_type(settings.parse_concurrency)
bucket_argument = _argument_type(settings.parse_release_bucket)


# --- commands ------------------------------------------------------------------------------------


def _sample(args: argparse.Namespace) -> int:
    from idc_index_assets.sample.generate import generate_sample

    out = Path(args.out or os.environ["IDC_SOURCE_DIR"])
    try:
        summary = generate_sample(
            out,
            scale=args.scale,
            versions=args.versions,
            seed=args.seed,
            preset=args.preset,
            workers=args.workers,
        )
    except ValueError as error:
        return _fail(str(error))
    print(f"sample IDC release (versions 1..{args.versions}) written to {out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def parse_selection(value: str) -> list[str]:
    """Comma-separated index names, each one of the registry's."""
    from idc_index_assets.indices.registry import RELEASED_INDICES

    names = [spec.name for spec in RELEASED_INDICES]
    selection = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in selection if name not in names]
    if unknown or not selection:
        raise ValueError(f"unknown index {', '.join(unknown)}; known: {', '.join(names)}")
    return selection


def _build(args: argparse.Namespace) -> int:
    from idc_index_assets.indices.registry import RELEASED_INDICES

    selection = args.select or [spec.name for spec in RELEASED_INDICES]
    if args.dry_run:
        checked = _check_before_loading(args.idc_version, None, args.source_given)
        if isinstance(checked, str):
            return _fail(checked)
        if settings.parse_engine(os.environ["IDC_ENGINE"]) != "bigquery":
            return _fail(
                "--dry-run reports BigQuery bytes and needs the bigquery engine "
                f"(IDC_ENGINE=bigquery); IDC_ENGINE is {os.environ['IDC_ENGINE']!r}"
            )
        return _dry_run(selection, args.idc_version)
    release = _Release(args.release_version, "--release-version", args.force_release_version)
    available = _check_before_loading(args.idc_version, release, args.source_given)
    if isinstance(available, str):
        return _fail(available)
    return _run_job(
        "build_indices", selection, args, release, available, observed=_sources_of(selection)
    )


def _sources_of(indices: list[str]) -> list[str]:
    """The source tables (asset keys) the indices read: a build observes them first."""
    from dagster import AssetKey

    from idc_index_assets.definitions import defs
    from idc_index_assets.sources.assets import SOURCE_GROUP

    graph = defs.resolve_asset_graph()
    return sorted(
        {
            parent.to_user_string()
            for name in indices
            for parent in graph.get(AssetKey(name)).parent_keys
            if parent.path[0] == SOURCE_GROUP
        }
    )


def _package(args: argparse.Namespace) -> int:
    release = _Release(args.version)
    available = _check_before_loading(args.idc_version, release, args.source_given)
    if isinstance(available, str):
        return _fail(available)
    from idc_index_assets.releases.assets import WHEEL_ASSET

    return _run_job("package_wheel", [WHEEL_ASSET], args, release, available)


def _release(args: argparse.Namespace) -> int:
    release = _Release(args.version)
    if args.bucket:
        os.environ["IDC_RELEASE_BUCKET"] = args.bucket
    if args.concurrency is not None:
        os.environ["IDC_RELEASE_CONCURRENCY"] = str(args.concurrency)
    available = _check_before_loading(args.idc_version, release, args.source_given)
    if isinstance(available, str):
        return _fail(available)
    from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
    from idc_index_assets.releases.notes import NOTES_ASSET

    selection = [WHEEL_ASSET, NOTES_ASSET, RELEASE_ASSET]
    flags = {
        "allow_incomplete_previous": args.allow_incomplete_previous,
        "allow_breaking_change": args.allow_breaking_change,
    }
    run_config = {"ops": {RELEASE_ASSET: {"config": flags}}}
    return _run_job(
        "publish_release",
        selection,
        args,
        release,
        available,
        run_config,
        report=lambda metadata: _channel_lines(metadata.get(RELEASE_ASSET, {})),
    )


def _channel_lines(release: dict) -> list[str]:
    """One line per release channel: what the release did there (from its materialization)."""
    if not release:
        return []
    lines = [
        f"bucket {release['target']}: {release['bucket_uploaded']} uploaded, "
        f"{release['bucket_unchanged']} unchanged ({release['bytes_uploaded']:,} bytes uploaded); "
        f"{release['url']}"
    ]
    if "github_uploaded" in release:
        lines.append(
            f"GitHub release of {os.environ.get('IDC_GITHUB_REPOSITORY', '')}: "
            f"{release['github_uploaded']} uploaded, {release['github_unchanged']} unchanged "
            f"({release['github_bytes_uploaded']:,} bytes uploaded); {release['github_release_url']}"
        )
    return lines


def _notes(args: argparse.Namespace) -> int:
    run_config = {}
    against = args.against
    if against and not against.startswith("gs://"):
        if not Path(against).is_dir() or not any(Path(against).glob("*.parquet")):
            return _fail(f"--against {against}: not a directory of index parquet files")
        against = str(Path(against).resolve())
    available = _check_before_loading(args.idc_version, _Release(None), args.source_given)
    if isinstance(available, str):
        return _fail(available)
    from idc_index_assets.releases.notes import NOTES_ASSET, NOTES_MARKDOWN

    if against:
        run_config = {"ops": {NOTES_ASSET: {"config": {"against": against}}}}
    # stdout gets the Markdown alone (e.g. for `gh release create --notes-file -`)
    with contextlib.redirect_stdout(sys.stderr):
        code = _run_job(
            "publish_release", [NOTES_ASSET], args, _Release(None), available, run_config
        )
    if code == 0:
        with _resources("artifacts") as (store,):
            print(store.location(args.idc_version).read_text(NOTES_MARKDOWN), end="")
    return code


class _Release:
    """The release version a command writes: its flag's value, else IDC_RELEASE_VERSION, else
    N.0.0. X must be N (`forced` lets a build write another, on purpose)."""

    def __init__(self, flag_value: str | None, flag: str = "--version", forced: bool = False):
        self.flag_value, self.flag, self.forced = flag_value, flag, forced
        if flag_value:
            os.environ["IDC_RELEASE_VERSION"] = flag_value

    def problem(self, idc_version: int | None) -> str | None:
        """Why the release version cannot be written for `idc_version` (None: not known yet)."""
        value = self.flag_value or os.environ.get("IDC_RELEASE_VERSION")
        if not value or idc_version is None:
            return None
        source = self.flag if self.flag_value else "IDC_RELEASE_VERSION"
        try:
            problem = settings.release_version_problem(value, idc_version)
        except ValueError as error:
            return f"{source}: {error}"
        if problem is None or self.forced:
            return None
        hint = " (--force-release-version writes it anyway)" if self.flag != "--version" else ""
        return f"{source}: {problem}{hint}"


def _dry_run(selection: list[str], idc_version: int | None) -> int:
    """Print the bytes each selected index's query would scan in BigQuery; nothing runs."""
    with _resources("index_engine") as (engine,):
        return _dry_run_with(engine, selection, idc_version)


def _dry_run_with(engine, selection: list[str], idc_version: int | None) -> int:
    from idc_index_assets.engines.base import EngineError
    from idc_index_assets.gdc.cases import STUDIES_QUERY
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import GDC_MAPPING

    if engine.kind != "bigquery":
        return _fail(
            "--dry-run reports BigQuery bytes and needs the bigquery engine "
            f"(IDC_ENGINE=bigquery); IDC_ENGINE is {engine.engine!r}"
        )
    versions = _source_versions(engine, idc_version)
    if isinstance(versions, str):
        return _fail(versions)
    version = idc_version or versions[-1]
    total = 0
    for name in selection:
        # The GDC mapping's BigQuery part is its studies query; its cases come from the GDC API.
        query = load_query(STUDIES_QUERY if name == GDC_MAPPING.name else name)
        try:
            scanned = engine.dry_run(
                query.render(version),
                query_file=str(query.path),
                reads_local_tables=bool(query.upstream_indices),
            )
        except EngineError as error:
            print(f"FAILED {name}: {error}", file=sys.stderr)
            return 1
        local = f" (runs locally over {', '.join(query.upstream_indices)})"
        print(f"{name}: {scanned:,} bytes" + (local if query.upstream_indices else ""))
        total += scanned
    print(f"IDC version {version}: {total:,} bytes in all (dry run: nothing ran, nothing billed)")
    return 0


def _check_source(args: argparse.Namespace) -> int:
    """Compare every source table the queries read for one IDC version with the source contract;
    one line per table; exit status 1 when any differs."""
    checked = _check_before_loading(args.idc_version, None, args.source_given)
    if isinstance(checked, str):
        return _fail(checked)
    from idc_index_assets.definitions import defs
    from idc_index_assets.engines.base import EngineError
    from idc_index_assets.gdc.cases import STUDIES_QUERY
    from idc_index_assets.indices.build import check_sources
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import INDICES
    from idc_index_assets.sources.drift import CONTRACT_HINT

    with defs.resources["index_engine"].process_config_and_initialize_cm() as engine:
        available = _source_versions(engine, args.idc_version)
        if isinstance(available, str):
            return _fail(available)
        version = args.idc_version or available[-1]
        queries = [*(load_query(spec.name) for spec in INDICES), load_query(STUDIES_QUERY)]
        try:
            reports = check_sources(queries, version, engine=engine)
        except EngineError as error:
            print(f"FAIL {error}")
            return 1
    for report in reports:
        print(report.line())
    failed = [report for report in reports if not report.ok]
    print(f"IDC version {version}: {len(reports)} source tables, {len(failed)} differ")
    if failed:
        print(CONTRACT_HINT)
    return 1 if failed else 0


def _check_before_loading(
    idc_version: int | None, release: _Release | None, source_given: bool
) -> list[int] | str | None:
    """What can be checked before Dagster and the definitions load (a fraction of a second):
    every setting's syntax (`settings.setting_problems`), and with the duckdb engine the IDC
    version against the snapshot's directory listing and the release version against it (its
    newest version by default). Returns the snapshot's IDC versions, None with the bigquery engine
    (its versions are asked of BigQuery once the engine starts), or why the command is refused."""
    if problems := settings.setting_problems():
        return "\n".join(problems)
    home = Path(os.environ["DAGSTER_HOME"])
    if home.exists() and not home.is_dir():
        return f"DAGSTER_HOME: {home} is not a directory"
    if release and idc_version is not None and (problem := release.problem(idc_version)):
        return problem
    if settings.parse_engine(os.environ["IDC_ENGINE"]) != "duckdb":
        return None
    from idc_index_assets.sources.tables import snapshot_versions

    source = os.environ["IDC_SOURCE_DIR"]
    try:
        available = snapshot_versions(source)
    except NotADirectoryError as error:
        return f"IDC_SOURCE_DIR: {error}"
    if not available:
        return _no_source(Path(source), source_given)
    if idc_version is not None and idc_version not in available:
        return (
            f"--idc-version {idc_version}: IDC version {idc_version} is not in the source "
            f"{source} (it has {_versions(available)})"
        )
    if release and idc_version is None and (problem := release.problem(available[-1])):
        return problem
    return available


def _versions(versions: list[int]) -> str:
    if len(versions) > 2 and versions == list(range(versions[0], versions[-1] + 1)):
        return f"IDC versions {versions[0]} to {versions[-1]}"
    return "IDC version" + ("s " if len(versions) > 1 else " ") + ", ".join(map(str, versions))


def _no_source(source: Path, given: bool) -> str:
    """Why there is no source, and what would give one: the right directory, a setting, or a
    sample snapshot."""
    from idc_index_assets.sources.tables import snapshot_versions

    if given:
        return (
            f"IDC_SOURCE_DIR={source} holds no IDC release (no bigquery-public-data/idc_vN "
            "directory): set it to a source snapshot, or write a sample one there with "
            f"`idc-index-assets sample --out {source}`"
        )
    cwd = Path.cwd()
    unset = (
        f"no IDC source snapshot in {cwd}: IDC_SOURCE_DIR is not set and its default, "
        "data/source, is relative to the working directory"
    )
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "workspace.yaml").is_file() and checkout != cwd.resolve():
        found = snapshot_versions(checkout / "data" / "source")
        holds = f" (its data/source has {_versions(found)})" if found else ""
        return (
            f"{unset}; run the command in the repository root {checkout}{holds}, or set "
            "IDC_SOURCE_DIR to a source snapshot"
        )
    if (cwd / "workspace.yaml").is_file():
        return (
            f"{unset}; `make run` writes the sample snapshot to data/source (or "
            "`idc-index-assets sample`), or set IDC_SOURCE_DIR to a source snapshot"
        )
    return (
        f"{unset}; run the command where data/source is (the repository root), or set "
        "IDC_SOURCE_DIR to a source snapshot (`idc-index-assets sample --out DIR` writes one)"
    )


def _source_versions(engine, idc_version: int | None) -> list[int] | str:
    """The IDC versions the source offers (the requested one among them), or why not."""
    try:
        available = engine.available_versions()
    except Exception as error:
        return f"cannot list the IDC versions of the source: {error}"
    if not available:
        return (
            f"no IDC release in the source {os.environ['IDC_SOURCE_DIR']}; "
            "run `idc-index-assets sample` first or set IDC_SOURCE_DIR"
        )
    if idc_version is not None and idc_version not in available:
        return f"IDC version {idc_version} is not in the source (available: {available})"
    return available


def _run_job(
    job_name: str,
    selection: list[str],
    args: argparse.Namespace,
    release: _Release,
    available: list[int] | None,
    run_config: dict | None = None,
    report=None,
    observed: list[str] = (),
) -> int:
    """Run the selected assets of a job for one IDC version (the requested one, else the
    source's newest) as a run of the code location; prints progress, then the outcome.
    `available`: the source's IDC versions as `_check_before_loading` found them (None: ask
    the engine); `report`: lines to print after a success, from the materializations' metadata
    (asset name → metadata values); `observed`: source assets the run observes first."""
    from dagster import DagsterInstance

    with _resources("artifacts", "index_engine") as (store, engine):
        if available is None:  # the bigquery engine: its versions, from BigQuery
            available = _source_versions(engine, args.idc_version)
    if isinstance(available, str):
        return _fail(available)
    version = args.idc_version or available[-1]
    if args.idc_version is None and (problem := release.problem(version)):
        return _fail(problem)
    args.idc_version = version
    release_version = store.release_version_for(version)

    settings.prepare_dagster_home()
    # Entered, so that the definitions load against this instance and it is closed after the run.
    with DagsterInstance.get() as instance:
        _register_partitions(instance, available)
        for line in fail_dead_runs(instance):
            print(line, file=sys.stderr)
        try:
            run_id, outcome = _execute(
                instance,
                job_name,
                [*observed, *selection],
                partition=str(version),
                tags=store.version_tags(version),
                verbose=args.verbose,
                run_config=run_config or {},
            )
        except SlotTaken as taken:
            print(f"idc-index-assets: {taken}", file=sys.stderr)
            return 1
    if not outcome.success:
        print(outcome.summary(f"IDC version {version}", run_id), file=sys.stderr)
        return 1
    print(
        f"materialized {', '.join(selection)} for IDC version {version} (release {release_version})"
    )
    print(f"artifacts: {store.location(version).url}")
    for line in report(outcome.metadata) if report else []:
        print(line)
    return 0


def _register_partitions(instance, versions: list[int]) -> None:
    """Every IDC version of the source becomes a partition, built or not, so the UI shows the
    whole history (and what is missing)."""
    from idc_index_assets.indices.assets import IDC_VERSION_PARTITIONS

    name = IDC_VERSION_PARTITIONS.name
    known = set(instance.get_dynamic_partitions(name))
    missing = [str(v) for v in versions if str(v) not in known]
    if missing:
        instance.add_dynamic_partitions(name, missing)


# Which process runs a command-line run: `host:pid:start` (the process's start time in clock
# ticks since boot, /proc/<pid>/stat field 22, so that a reused pid is not taken for it).
PROCESS_TAG = "idc_index_assets/process"


class SlotTaken(Exception):
    """Another run holds the IDC version's slot (the instance's one-run-per-version limit)."""


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # the fields after the command name start at 3


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_gone(tag: str) -> bool:
    """Whether the process a PROCESS_TAG names is certainly gone (on this host: no process with
    that pid and start time); a process of another host is never taken for gone."""
    host, _, rest = tag.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or start in ("", "None"):
        return False
    return _process_start(int(pid)) != start


def fail_dead_runs(instance) -> list[str]:
    """Mark failed every unfinished run whose process is gone (killed, or its machine restarted),
    so that it holds no IDC version's slot in the run queue; one line for each. A command-line
    run names its process (PROCESS_TAG); in a local instance (SQLite storage in DAGSTER_HOME,
    runs on this machine) a run started otherwise (the UI's `dagster dev`, a script) is known by
    the process that reported its start, and is failed only when no process has that pid any
    more. Runs of a production instance are watched by its run monitoring instead."""
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter
    from dagster._core.storage.runs import SqliteRunStorage

    unfinished = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    local = isinstance(instance.run_storage, SqliteRunStorage)
    lines = []
    for run in instance.get_runs(RunsFilter(statuses=unfinished)):
        tag = run.tags.get(PROCESS_TAG)
        if tag:
            gone, process = _process_gone(tag), f"the command-line process that ran it ({tag})"
        elif local and run.status == DagsterRunStatus.STARTED:
            started = instance.get_records_for_run(
                run.run_id, of_type=DagsterEventType.RUN_START, limit=1
            ).records
            pid = started[0].event_log_entry.dagster_event.pid if started else None
            gone = pid is not None and not Path(f"/proc/{pid}").exists()
            process = f"the process that ran it (pid {pid})"
        else:
            continue
        if gone:
            message = (
                f"{process} is gone (killed?); marked failed so that the run queue does not "
                "wait for it"
            )
            instance.report_run_failed(run, message)
            lines.append(f"run {run.run_id} ({run.job_name}): {message}")
    return lines


def slot_holder(instance, run_id: str, partition: str):
    """The run created before `run_id` that holds IDC version `partition`'s slot, or None: one
    queued or in progress for the same partition tag (`dagster/partition`, the key of the
    instance's tag concurrency limit), or a command-line run about to start. Of two runs created
    at once, the later one finds the earlier one, never the other way round."""
    from dagster import DagsterRunStatus, RunsFilter
    from dagster._core.storage.tags import PARTITION_NAME_TAG

    holding = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    records = instance.get_run_records(
        RunsFilter(statuses=holding, tags={PARTITION_NAME_TAG: partition})
    )
    ours = next((r.storage_id for r in records if r.dagster_run.run_id == run_id), None)
    earlier = [
        r.dagster_run
        for r in sorted(records, key=lambda r: r.storage_id)
        if r.dagster_run.run_id != run_id
        and (ours is None or r.storage_id < ours)
        # a run that has not started holds the slot only when a command is about to start it
        and (
            r.dagster_run.status != DagsterRunStatus.NOT_STARTED
            or PROCESS_TAG in r.dagster_run.tags
        )
    ]
    return earlier[0] if earlier else None


def _execute(
    instance,
    job_name: str,
    selection: list[str],
    partition: str,
    tags: dict,
    verbose: bool,
    run_config: dict,
) -> tuple[str, _Outcome]:
    """Create a run of `job_name` (the selected assets and their checks) with the code location's
    origin, as the UI and `dagster job launch` do, and execute it here, step after step."""
    from dagster import AssetKey, DagsterRunStatus
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.execution.api import execute_run_iterator
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.storage.tags import PARTITION_NAME_TAG
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._utils.hosted_user_process import recon_job_from_origin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=DEFINITIONS_MODULE,
            working_directory=os.getcwd(),
        ),
        location_name=CODE_LOCATION,
    )
    from idc_index_assets.definitions import defs

    # The console logger speaks only with --verbose (the progress lines and the summary say
    # what matters); with Dagster's default executor, the steps run in this process, one after
    # the other (IDC_EXECUTOR=k8s keeps its pod per step).
    run_config = {
        **run_config,
        "loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}},
    }
    job_def = defs.resolve_job_def(job_name)
    if job_def.executor_def.name == "multi_or_in_process_executor":
        run_config["execution"] = {"config": {"in_process": {}}}
    keys = {AssetKey.from_user_string(name) for name in selection}
    # the job's checks of the selected assets (it leaves some out: the build's source checks)
    checks = {k for k in job_def.asset_layer.asset_graph.asset_check_keys if k.asset_key in keys}
    with origin.create_location(instance) as location:
        repository = next(iter(location.get_repositories().values()))
        job = location.get_job(
            JobSubsetSelector(
                location_name=location.name,
                repository_name=repository.name,
                job_name=job_name,
                op_selection=None,
                asset_selection=sorted(keys),
                asset_check_selection=checks,
            )
        )
        plan = location.get_execution_plan(
            job, run_config, step_keys_to_execute=None, known_state=None, instance=instance
        ).execution_plan_snapshot
        run = instance.create_run(
            job_name=job.name,
            run_id=None,
            run_config=run_config,
            resolved_op_selection=None,
            step_keys_to_execute=plan.step_keys_to_execute,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**job.tags, **tags, PARTITION_NAME_TAG: partition, PROCESS_TAG: _this_process()},
            job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan,
            parent_job_snapshot=job.parent_job_snapshot,
            remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(),
            asset_selection=frozenset(job.asset_selection or ()),
            asset_check_selection=job.asset_check_selection,
            asset_graph=repository.asset_graph,
        )
        holder = slot_holder(instance, run.run_id, partition)
        if holder is not None:
            instance.delete_run(run.run_id)  # it never ran
            raise SlotTaken(
                f"IDC version {partition} is being built or published by run {holder.run_id} "
                f"({holder.job_name}, {holder.status.value}); one run per IDC version at a time: "
                f"wait for it, or cancel it in the UI ({UI_URL}/runs/{holder.run_id})"
            )
        outcome = _Outcome(len(plan.step_keys_to_execute), selection, verbose)
        try:
            for event in execute_run_iterator(
                recon_job_from_origin(job.get_python_origin()), run, instance
            ):
                outcome.see(event)
        finally:
            outcome.close()
    finished = instance.get_run_by_id(run.run_id)
    outcome.success = (
        finished is not None
        and finished.status == DagsterRunStatus.SUCCESS
        and not outcome.failures
    )
    return run.run_id, outcome


class _Outcome:
    """Follows a run's events: a line when an index starts and when it finishes (rows, elapsed
    time), a progress bar over the steps where stderr is a terminal, and each failed step and
    check with its one-line cause for the summary."""

    def __init__(self, steps: int, assets: list[str], verbose: bool):
        from tqdm import tqdm

        self.assets, self.verbose, self.success = set(assets), verbose, False
        self.failures: list[str] = []
        self.rows: dict[str, int] = {}
        self.metadata: dict[str, dict] = {}
        self.console = _console()
        self.bar = tqdm(
            total=steps, unit="step", file=self.console, disable=not self.console.isatty()
        )

    def say(self, line: str) -> None:
        from idc_index_assets.failures import redact

        self.bar.write(redact(line), file=self.console)

    def see(self, event) -> None:
        step, kind = event.step_key, event.event_type_value
        if kind == "STEP_START" and step in self.assets:
            self.say(f"{step}: started")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.step_materialization_data.materialization
            metadata = materialization.metadata
            self.metadata[materialization.asset_key.to_user_string()] = {
                name: getattr(value, "value", value) for name, value in metadata.items()
            }
            if "dagster/row_count" in metadata:
                self.rows[step] = metadata["dagster/row_count"].value
        elif kind == "STEP_SUCCESS":
            self.bar.update(1)
            if step in self.assets:
                seconds = event.event_specific_data.duration_ms / 1000
                rows = f"{self.rows[step]:,} rows, " if step in self.rows else ""
                self.say(f"{step}: done ({rows}{seconds:.1f} s)")
        elif kind == "STEP_UP_FOR_RETRY":
            data = event.event_specific_data
            wait = f" in {data.seconds_to_wait:.0f} s" if data.seconds_to_wait else ""
            self.say(f"{step}: failed, retrying{wait}: {_cause(data.error)}")
        elif kind == "STEP_FAILURE":
            self.bar.update(1)
            data = event.step_failure_data
            description = data.user_failure_data.description if data.user_failure_data else None
            cause = _first_lines(description) if description else _cause(data.error)
            self.failures.append(f"FAILED {step}: {cause}")
            self.say(self.failures[-1])
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                blocking = evaluation.severity.value == "ERROR"
                line = (
                    f"{'FAILED' if blocking else 'WARNING'} check "
                    f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                    f"{_first_lines(evaluation.description or '')}"
                ).rstrip(": ")
                self.say(line)
                if blocking:
                    self.failures.append(line)
        elif kind == "STEP_SKIPPED":
            self.bar.update(1)
            if step in self.assets:  # a run may succeed with a step skipped: not a build
                self.failures.append(f"SKIPPED {step}: an upstream step gave it nothing to run on")
                self.say(self.failures[-1])

    def close(self) -> None:
        self.bar.close()
        if self.console is not sys.stderr:
            self.console.close()

    def summary(self, what: str, run_id: str) -> str:
        failed = f": {len(self.failures)} failed step(s) and check(s)" if self.failures else ""
        return (
            f"{what} failed{failed} (run {run_id})\n"
            f"full log: {UI_URL}/runs/{run_id} (start the UI with `make dev`)"
            + ("" if self.verbose else ", or run again with --verbose")
        )


def _console():
    """stderr for the lines written while a run executes. Dagster captures the steps' output by
    pointing file descriptors 1 and 2 at a log file that a `tail -F` process copies back to the
    terminal, and stops that copy as soon as the run ends, so the last lines written during the
    run (the last step's `done`) were sometimes lost. A duplicate of the descriptor made before
    the run is not redirected: every line arrives, in order, and stays out of the step logs."""
    try:
        sys.stderr.flush()
        descriptor = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a test's)
        return sys.stderr
    return os.fdopen(descriptor, "w", buffering=1, encoding="utf-8", errors="replace")


def _first_lines(text: str, limit: int = 6) -> str:
    """A description as one line, or its first lines when it lists problems (one per line)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more (see the run's log)"]
    return "\n    ".join(lines)


def _cause(error) -> str:
    """The innermost cause of a serialized error, on one line."""
    if error is None:
        return "(no error recorded)"
    while error.cause is not None:
        error = error.cause
    message = error.message.strip().splitlines()
    return message[0] if message else error.cls_name or "error"


def _verify(args: argparse.Namespace) -> int:
    from idc_index_assets.failures import describe
    from idc_index_assets.indices.checks import verify_directory
    from idc_index_assets.indices.registry import RELEASED_INDICES
    from idc_index_assets.indices.store import open_location
    from idc_index_assets.indices.validation import (
        IDC_VERSION_KEY,
        RELEASE_VERSION_KEY,
        index_file_names,
        read_parquet_schema,
    )

    try:
        directory = open_location(args.path, os.environ.get("GCP_PROJECT", ""))
    except ValueError as error:
        return _fail(f"{args.path}: {error}")
    if directory.local_path is not None and not directory.local_path.is_dir():
        return _fail(f"{args.path} is not a directory")
    try:
        results = verify_directory(directory, RELEASED_INDICES)
    except Exception as error:  # storage and credentials: one line, not a traceback
        print(f"FAIL {args.path}: {describe(error)}")
        return 1
    if not results:
        return _fail(f"no index parquet files in {args.path}")
    by_file: dict[str, list] = {}
    for name, outcome in results:
        by_file.setdefault(name, []).append(outcome)
    failed = 0
    for name, outcomes in by_file.items():
        problems = [f"{o.name}: {p}" for o in outcomes for p in o.problems]
        failed += bool(problems)
        file = index_file_names(name)["parquet"]
        print(f"FAIL {file}: " + "; ".join(problems) if problems else f"ok   {file}")
    for label, key in (("release version", RELEASE_VERSION_KEY), ("IDC version", IDC_VERSION_KEY)):
        found = {}
        for name in by_file:
            try:
                metadata = read_parquet_schema(directory, f"{name}.parquet").metadata or {}
            except Exception:  # reported above as not readable
                continue
            found[name] = metadata.get(key, b"").decode()
        if len(set(found.values())) > 1:
            failed += 1
            print(f"FAIL files disagree on the {label}: {found}")
    print(f"verified {len(by_file)} indices in {args.path}: {failed} problem(s)")
    return 1 if failed else 0


@contextlib.contextmanager
def _resources(*names: str):
    """Resources of the definitions with their EnvVar fields read from the environment, for use
    outside a run."""
    from idc_index_assets.definitions import defs

    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(defs.resources[name].process_config_and_initialize_cm())
            for name in names
        ]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="idc-index-assets",
        description="Build, check and publish the IDC index files (Dagster assets).",
    )
    top.add_argument("--version", action="version", version=_versions_line())
    commands = top.add_subparsers(dest="command", required=True)
    # What every command that runs a job takes.
    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument(
        "--idc-version",
        type=idc_version_argument,
        help="IDC version N (default: the newest in the source)",
    )
    runs.add_argument(
        "--verbose", action="store_true", help="show Dagster's log and every failure's traceback"
    )

    sample = commands.add_parser("sample", help="generate a sample IDC source snapshot")
    sample.add_argument("--out", help="snapshot root (default: $IDC_SOURCE_DIR)")
    sample.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="the size and shape of a real IDC release (idc-v25: 1.04M series, 58.8M instances "
        "in the newest version at --scale 1)",
    )
    sample.add_argument("--scale", type=float, default=1.0, help="size multiplier (default 1)")
    sample.add_argument("--versions", type=int, default=3, help="IDC versions (default 3)")
    sample.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sample.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes writing versions in parallel (default: the machine's cores)",
    )
    sample.set_defaults(handler=_sample)

    build = commands.add_parser(
        "build", parents=[runs], help="build the indices of one IDC version"
    )
    build.add_argument(
        "--select",
        type=_argument_type(parse_selection),
        help="comma-separated index names (default: all)",
    )
    build.add_argument(
        "--release-version",
        type=release_version_argument,
        help="release version N.Y.Z written into the artifacts (default: N.0.0)",
    )
    build.add_argument(
        "--force-release-version",
        action="store_true",
        help="write --release-version even when its first number is not the IDC version",
    )
    build.add_argument(
        "--dry-run",
        action="store_true",
        help="only report the bytes each query would scan (bigquery engine)",
    )
    build.set_defaults(handler=_build)

    check_source = commands.add_parser(
        "check-source", help="compare the source tables of one IDC version with the contract"
    )
    check_source.add_argument(
        "--idc-version",
        type=idc_version_argument,
        help="IDC version N (default: the newest in the source)",
    )
    check_source.set_defaults(handler=_check_source)

    package = commands.add_parser("package", parents=[runs], help="build the idc-index-data wheel")
    package.add_argument(
        "--version", type=release_version_argument, help="wheel version N.Y.Z (default: N.0.0)"
    )
    package.set_defaults(handler=_package)

    release = commands.add_parser(
        "release",
        parents=[runs],
        help="publish the checked artifacts and wheel of one IDC version to the release bucket",
    )
    release.add_argument(
        "--version", type=release_version_argument, help="release version N.Y.Z (default: N.0.0)"
    )
    release.add_argument(
        "--bucket",
        type=bucket_argument,
        help="gs://bucket[/prefix] or a directory (default: $IDC_RELEASE_BUCKET)",
    )
    release.add_argument(
        "--concurrency", type=concurrency_argument, help="parallel transfers (default 4)"
    )
    release.add_argument(
        "--allow-incomplete-previous",
        action="store_true",
        help="publish even though the release notes compare with a previous release that lacks "
        "some indices",
    )
    release.add_argument(
        "--allow-breaking-change",
        action="store_true",
        help="publish breaking changes (index or column removed, renamed or retyped, key "
        "changed) under the previous release's major version",
    )
    release.set_defaults(handler=_release)

    notes = commands.add_parser(
        "notes",
        parents=[runs],
        help="what changed since the previous release: print and write the release notes",
    )
    notes.add_argument(
        "--against",
        help="a release directory or gs:// prefix to compare with "
        "(default: the previous IDC version's artifacts)",
    )
    notes.set_defaults(handler=_notes)

    verify = commands.add_parser("verify", help="check a directory of artifacts")
    verify.add_argument(
        "path", help="directory or gs://bucket/prefix holding <index>.parquet files and sidecars"
    )
    verify.set_defaults(handler=_verify)
    top.set_defaults(commands=commands.choices)
    return top


def _versions_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    python = ".".join(map(str, sys.version_info[:3]))
    return f"idc-index-assets {of('idc-index-assets')} (dagster {of('dagster')}, Python {python})"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; a misspelt command or flag is refused with the command's usage
    and the nearest valid name ("did you mean"), before anything loads."""
    top = parser()
    argv = sys.argv[1:] if argv is None else argv
    names = top.get_default("commands")
    command = next((word for word in argv if not word.startswith("-")), None)
    if command is not None and command not in names:
        near = difflib.get_close_matches(command, list(names), n=1)
        if near:
            top.error(f"unknown command {command!r}; did you mean {near[0]}?")
    args, unknown = top.parse_known_args(argv)
    if unknown:
        command_parser = names[args.command]
        flags = [flag for action in command_parser._actions for flag in action.option_strings]
        hints = ""
        for word in unknown:
            flag = word.split("=", 1)[0]
            near = difflib.get_close_matches(flag, flags, n=1) if flag.startswith("-") else []
            hints += f"; did you mean {near[0]} instead of {flag}?" if near else ""
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}{hints}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # Said apart from a default: a wrong directory gets other advice than a wrong setting.
    args.source_given = "IDC_SOURCE_DIR" in os.environ
    settings.set_defaults()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
