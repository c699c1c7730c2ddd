"""The `idc-index-assets` command line. It drives the same Dagster definitions in-process, against
the persistent instance in DAGSTER_HOME, so command-line runs show up in the Dagster UI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from idc_index_assets import settings


def _fail(message: str) -> int:
    print(f"idc-index-assets: error: {message}", file=sys.stderr)
    return 2


def _sample(args: argparse.Namespace) -> int:
    from idc_index_assets.sample.generate import generate_sample

    out = Path(args.out or os.environ["IDC_SOURCE_DIR"])
    try:
        summary = generate_sample(out, scale=args.scale, versions=args.versions, seed=args.seed)
    except ValueError as error:
        return _fail(str(error))
    print(f"sample IDC release (versions 1..{args.versions}) written to {out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from idc_index_assets.definitions import index_assets

    names = [a.key.to_user_string() for a in index_assets]
    selection = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else names
    unknown = [name for name in selection if name not in names]
    if unknown:
        return _fail(f"unknown index {', '.join(unknown)}; known: {', '.join(names)}")
    if args.dry_run:
        return _dry_run(selection, args.idc_version)
    return _materialize(selection, args.idc_version, args.release_version, "build_indices")


def _dry_run(selection: list[str], idc_version: str | None) -> int:
    """Print the bytes each selected index's query would scan in BigQuery; nothing runs."""
    from idc_index_assets.definitions import defs
    from idc_index_assets.engines.base import EngineError
    from idc_index_assets.gdc.cases import STUDIES_QUERY
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import GDC_MAPPING

    engine = _resolved(defs.resources["index_engine"])
    if engine.engine != "bigquery":
        return _fail(
            "--dry-run reports BigQuery bytes and needs the bigquery engine "
            f"(IDC_ENGINE=bigquery); IDC_ENGINE is {engine.engine!r}"
        )
    version = _pick_version(engine, idc_version)
    if isinstance(version, str):
        return _fail(version)
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
    from idc_index_assets.definitions import defs
    from idc_index_assets.engines.base import EngineError
    from idc_index_assets.gdc.cases import STUDIES_QUERY
    from idc_index_assets.indices.build import check_sources
    from idc_index_assets.indices.queries import load_query
    from idc_index_assets.indices.registry import INDICES
    from idc_index_assets.sources.drift import CONTRACT_HINT

    with defs.resources["index_engine"].process_config_and_initialize_cm() as engine:
        version = _pick_version(engine, args.idc_version)
        if isinstance(version, str):
            return _fail(version)
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


def _package(args: argparse.Namespace) -> int:
    from idc_index_assets.releases.assets import WHEEL_ASSET

    return _materialize([WHEEL_ASSET], args.idc_version, args.version, "package")


def _release(args: argparse.Namespace) -> int:
    from idc_index_assets.releases.assets import RELEASE_ASSET, WHEEL_ASSET
    from idc_index_assets.releases.notes import NOTES_ASSET

    if args.bucket:
        os.environ["IDC_RELEASE_BUCKET"] = args.bucket
    if args.concurrency is not None:
        os.environ["IDC_RELEASE_CONCURRENCY"] = str(args.concurrency)
    selection = [WHEEL_ASSET, NOTES_ASSET, RELEASE_ASSET]
    code = _materialize(selection, args.idc_version, args.version, "release_job")
    if code == 0:
        print(f"published to {os.environ['IDC_RELEASE_BUCKET']}")
    return code


def _notes(args: argparse.Namespace) -> int:
    import contextlib

    from idc_index_assets.definitions import defs
    from idc_index_assets.releases.notes import NOTES_ASSET, NOTES_MARKDOWN

    version = _pick_version(_resolved(defs.resources["index_engine"]), args.idc_version)
    if isinstance(version, str):
        return _fail(version)
    markdown = _resolved(defs.resources["artifacts"]).directory(version) / NOTES_MARKDOWN
    run_config = {}
    if args.against:
        against = Path(args.against)
        if not against.is_dir() or not any(against.glob("*.parquet")):
            return _fail(f"--against {against}: not a directory of index parquet files")
        run_config = {"ops": {NOTES_ASSET: {"config": {"against": str(against.resolve())}}}}
    # stdout gets the Markdown alone (e.g. for `gh release create --notes-file -`)
    with contextlib.redirect_stdout(sys.stderr):
        code = _materialize([NOTES_ASSET], str(version), None, "release_job", run_config)
    if code == 0:
        print(markdown.read_text(), end="")
    return code


def _pick_version(engine, idc_version: str | None) -> int | str:
    """The IDC version to work on (the requested one, else the source's newest), or why none."""
    from idc_index_assets.indices.queries import parse_idc_version

    try:
        available = engine.available_versions()
    except Exception as error:
        return f"cannot list the IDC versions of the source: {error}"
    if not available:
        return (
            f"no IDC release in the source {os.environ['IDC_SOURCE_DIR']}; "
            "run `idc-index-assets sample` first or set IDC_SOURCE_DIR"
        )
    try:
        version = parse_idc_version(idc_version) if idc_version else available[-1]
    except ValueError as error:
        return str(error)
    if version not in available:
        return f"IDC version {version} is not in the source (available: {available})"
    return version


def _materialize(
    selection: list[str],
    idc_version: str | None,
    release_version: str | None,
    job_name: str,
    run_config: dict | None = None,
) -> int:
    """Run the selected assets of the Dagster definitions in-process for one IDC version, in the
    persistent instance; prints where the artifacts are. Arguments are checked before any work."""
    from dagster import AssetKey, DagsterInstance

    from idc_index_assets.definitions import defs

    if release_version:
        os.environ["IDC_RELEASE_VERSION"] = release_version
    store = _resolved(defs.resources["artifacts"])
    version = _pick_version(_resolved(defs.resources["index_engine"]), idc_version)
    if isinstance(version, str):
        return _fail(version)
    try:
        release = store.release_version_for(version)
    except ValueError as error:
        return _fail(str(error))

    # Entered, so that the definitions load against this instance and it is closed after the run.
    with DagsterInstance.get() as instance:
        partitions = "idc_version"
        if not instance.has_dynamic_partition(partitions, str(version)):
            instance.add_dynamic_partitions(partitions, [str(version)])
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            partition_key=str(version),
            asset_selection=[AssetKey(name) for name in selection],
            raise_on_error=False,
            # step progress and each index's row count, without the per-event debug lines
            run_config={
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
                **(run_config or {}),
            },
            tags={"idc_version": str(version), "release_version": release},
        )
    directory = store.directory(version)
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            print(
                f"FAILED {event.step_key}: {error.message.strip() if error else ''}",
                file=sys.stderr,
            )
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                label = "FAILED" if evaluation.severity.value == "ERROR" else "WARNING"
                print(
                    f"{label} check {evaluation.asset_key.to_user_string()}:"
                    f"{evaluation.check_name} {evaluation.description or ''}".rstrip(),
                    file=sys.stderr,
                )
    if not result.success:
        print(f"IDC version {version} failed (run {result.run_id})", file=sys.stderr)
        return 1
    print(f"materialized {', '.join(selection)} for IDC version {version} (release {release})")
    print(f"artifacts: {directory}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from idc_index_assets.indices.checks import verify_directory
    from idc_index_assets.indices.registry import RELEASED_INDICES
    from idc_index_assets.indices.validation import (
        IDC_VERSION_KEY,
        RELEASE_VERSION_KEY,
        index_files,
    )

    directory = Path(args.path)
    if not directory.is_dir():
        return _fail(f"{directory} is not a directory")
    results = verify_directory(directory, RELEASED_INDICES)
    if not results:
        return _fail(f"no index parquet files in {directory}")
    by_file: dict[str, list] = {}
    for name, outcome in results:
        by_file.setdefault(name, []).append(outcome)
    failed = 0
    for name, outcomes in by_file.items():
        problems = [f"{o.name}: {p}" for o in outcomes for p in o.problems]
        failed += bool(problems)
        file = index_files(directory, name)["parquet"].name
        print(f"FAIL {file}: " + "; ".join(problems) if problems else f"ok   {file}")
    for label, key in (("release version", RELEASE_VERSION_KEY), ("IDC version", IDC_VERSION_KEY)):
        found = _embedded_versions(directory, list(by_file), key)
        if len(set(found.values())) > 1:
            failed += 1
            print(f"FAIL files disagree on the {label}: {found}")
    print(f"verified {len(by_file)} indices in {directory}: {failed} problem(s)")
    return 1 if failed else 0


def _embedded_versions(directory: Path, names: list[str], key: bytes) -> dict[str, str]:
    import pyarrow.parquet as pq

    found = {}
    for name in dict.fromkeys(names):
        try:
            metadata = pq.read_schema(directory / f"{name}.parquet").metadata or {}
        except Exception:
            continue
        found[name] = metadata.get(key, b"").decode()
    return found


def _resolved(resource):
    """A resource with its EnvVar fields read from the environment, for use outside a run."""
    return resource.process_config_and_initialize()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="idc-index-assets",
        description="Build, check and publish the IDC index files (Dagster assets).",
    )
    commands = top.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample", help="generate a sample IDC source snapshot")
    sample.add_argument("--out", help="snapshot root (default: $IDC_SOURCE_DIR)")
    sample.add_argument("--scale", type=float, default=1.0, help="size multiplier (default 1)")
    sample.add_argument("--versions", type=int, default=3, help="IDC versions (default 3)")
    sample.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sample.set_defaults(handler=_sample)

    build = commands.add_parser("build", help="build the indices of one IDC version")
    build.add_argument("--idc-version", help="IDC version N (default: the newest in the source)")
    build.add_argument("--select", help="comma-separated index names (default: all)")
    build.add_argument("--release-version", help="release version X.Y.Z (default: N.0.0)")
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
        "--idc-version", help="IDC version N (default: the newest in the source)"
    )
    check_source.set_defaults(handler=_check_source)

    package = commands.add_parser("package", help="build the idc-index-data wheel")
    package.add_argument("--idc-version", help="IDC version N (default: the newest in the source)")
    package.add_argument("--version", help="wheel version X.Y.Z (default: N.0.0)")
    package.set_defaults(handler=_package)

    release = commands.add_parser(
        "release",
        help="publish the checked artifacts and wheel of one IDC version to the release bucket",
    )
    release.add_argument("--idc-version", help="IDC version N (default: the newest in the source)")
    release.add_argument("--version", help="release version N.Y.Z (default: N.0.0)")
    release.add_argument(
        "--bucket", help="gs://bucket[/prefix] or a directory ($IDC_RELEASE_BUCKET)"
    )
    release.add_argument("--concurrency", type=int, help="parallel transfers (default 4)")
    release.set_defaults(handler=_release)

    notes = commands.add_parser(
        "notes", help="what changed since the previous release: print and write the release notes"
    )
    notes.add_argument("--idc-version", help="IDC version N (default: the newest in the source)")
    notes.add_argument(
        "--against",
        help="a release directory to compare with (default: the previous IDC version's artifacts)",
    )
    notes.set_defaults(handler=_notes)

    verify = commands.add_parser("verify", help="check a directory of artifacts")
    verify.add_argument("path", help="directory holding <index>.parquet files and sidecars")
    verify.set_defaults(handler=_verify)
    return top


def main(argv: list[str] | None = None) -> int:
    settings.apply_defaults()
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
