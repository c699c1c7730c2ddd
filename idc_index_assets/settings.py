"""Configuration by environment variables, with the defaults that make a fresh checkout work
offline. Dagster resources read these through `EnvVar`, so the UI shows where each value comes
from; `apply_defaults` fills in the unset ones (paths relative to the working directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULTS = {
    # duckdb (embedded, over a local source snapshot) or bigquery
    "IDC_ENGINE": "duckdb",
    # root of the local source snapshot the duckdb engine reads
    "IDC_SOURCE_DIR": "data/source",
    # where artifacts are written, one directory per IDC version
    "IDC_ARTIFACTS_DIR": "data/artifacts",
    # idc-index-data release version written into the artifacts; empty means <N>.0.0
    "IDC_RELEASE_VERSION": "",
    # memory each DuckDB query may use before it spills to disk (e.g. 8GB); empty means a share of
    # this machine's memory (duckdb_memory_limit)
    "IDC_DUCKDB_MEMORY_LIMIT": "",
    # threads of each DuckDB query; empty means this machine's cores
    "IDC_DUCKDB_THREADS": "",
    # BigQuery billing project; empty means the Application Default Credentials' project
    "GCP_PROJECT": "",
    # BigQuery API endpoint; empty means Google's (set it to use an emulator)
    "IDC_BIGQUERY_API_ENDPOINT": "",
    # refuse BigQuery queries that would bill more than this many bytes; 0 means no limit
    "IDC_MAX_BYTES_BILLED": "0",
    # GDC API base URL for gdc_idc_mapping (https://api.gdc.cancer.gov); empty means the offline
    # cases snapshot beside the source snapshot (<IDC_SOURCE_DIR>/gdc/cases.json)
    "IDC_GDC_API_URL": "",
    # package index the wheel is uploaded to (PyPI upload API); empty means no upload
    "IDC_PACKAGE_INDEX_URL": "",
    "IDC_PACKAGE_INDEX_USERNAME": "__token__",
    "IDC_PACKAGE_INDEX_PASSWORD": "",
    # where releases are published: gs://bucket[/prefix], or a local directory
    "IDC_RELEASE_BUCKET": "data/release",
    # parallel uploads and copies while publishing
    "IDC_RELEASE_CONCURRENCY": "4",
    # on: set CORS (GET/HEAD with Range) and public read on the GCS bucket before publishing
    "IDC_CONFIGURE_BUCKET": "off",
    # how a run executes its steps: empty for Dagster's default (a process per step), k8s for a
    # Kubernetes pod per step (needs the `production` extra)
    "IDC_EXECUTOR": "",
    # owner/repo whose GitHub release <version> receives the release's files; empty means off
    "IDC_GITHUB_REPOSITORY": "",
    # GitHub REST API (GitHub Enterprise: https://HOST/api/v3)
    "IDC_GITHUB_API_URL": "https://api.github.com",
    # token with the contents: write permission on IDC_GITHUB_REPOSITORY (a secret)
    "GITHUB_TOKEN": "",
    # release_notes warns (row_count_drop) when an index lost more than this fraction of its rows
    "IDC_MAX_ROW_DROP": "0.1",
    # plausible_values (blocking) fails a string value longer than this many characters
    "IDC_MAX_STRING_LENGTH": "65536",
    # row_count_change warns when a build's rows or total size differ from the previous IDC
    # version's by more than this fraction, up or down
    "IDC_MAX_BUILD_CHANGE": "0.5",
}

PATH_SETTINGS = ("IDC_SOURCE_DIR", "IDC_ARTIFACTS_DIR", "IDC_RELEASE_BUCKET")

# The local instance's dagster.yaml (written once; edit it freely): storage stays in DAGSTER_HOME,
# and the run queue never runs two builds or publishes of the same IDC version at once.
INSTANCE_CONFIG = """\
run_queue:
  tag_concurrency_limits:
    - key: dagster/partition
      value:
        applyLimitPerUniqueValue: true
      limit: 1
telemetry:
  enabled: false
"""


GCS_SCHEME = "gs://"


def split_gcs_url(url: str) -> tuple[str, str]:
    """`gs://bucket[/prefix]` → (bucket, prefix without surrounding slashes). Raises ValueError
    when there is no bucket name."""
    bucket, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"no bucket name in {url!r}")
    return bucket, prefix.strip("/")


def apply_defaults() -> None:
    """Fill in the unset settings and make sure the Dagster instance's home exists."""
    set_defaults()
    prepare_dagster_home()


def set_defaults() -> None:
    """Fill in the unset settings (relative paths resolved against the working directory)."""
    for name, value in DEFAULTS.items():
        if name in PATH_SETTINGS:
            value = str(Path(value).resolve())
        os.environ.setdefault(name, value)
    os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve()))


def prepare_dagster_home() -> None:
    """Create DAGSTER_HOME and its dagster.yaml (INSTANCE_CONFIG) when missing."""
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists() or not instance_config.read_text().strip():
        instance_config.write_text(INSTANCE_CONFIG)


def switched_on(value: str | None) -> bool:
    """An on/off setting: on, 1, true or yes (any case) is on; anything else is off."""
    return (value or "").strip().lower() in ("on", "1", "true", "yes")


def machine_cores() -> int:
    """The CPU cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (a
    container's CPU limit)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_value("cpu.max")
    if quota is not None:
        limit, period = quota.split()[:2] if " " in quota else (quota, "100000")
        if limit != "max":
            cores = min(cores or 1, max(1, -(-int(limit) // int(period))))
    return max(cores or 1, 1)


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, capped by a cgroup v2 memory limit
    (a container's)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_value("memory.max")
    if limit is not None and limit.isdigit():
        memory = min(memory, int(limit))
    return memory


def _cgroup_value(name: str) -> str | None:
    try:
        return Path("/sys/fs/cgroup", name).read_text().strip()
    except OSError:
        return None


# The share of the machine's memory that DuckDB queries may use together; the rest is for the
# Arrow batches, the Parquet writer and the Python processes of the run.
DUCKDB_MEMORY_SHARE = 0.75


def duckdb_memory_limit(value: str = "") -> str:
    """IDC_DUCKDB_MEMORY_LIMIT, or when empty a share of this machine's memory: 75% of it divided
    among the steps a run executes at once (Dagster's default executor runs one step per core at
    a time; with IDC_EXECUTOR=k8s each step has its pod, and its memory limit, to itself). On a
    2-core, 24 GiB machine: 9 GiB per query. Raises ValueError naming the setting when DuckDB
    does not take the value."""
    if value.strip():
        import duckdb

        try:  # DuckDB's own parser decides (8GB, 8 GB, 512MiB, ...)
            duckdb.connect(config={"memory_limit": value.strip()}).close()
        except duckdb.Error as error:
            reason = str(error).strip().splitlines()[0]
            raise ValueError(
                f"IDC_DUCKDB_MEMORY_LIMIT {value!r} is not a memory size DuckDB takes (e.g. 8GB "
                f"or 512MiB): {reason}"
            ) from None
        return value.strip()
    steps = 1 if os.environ.get("IDC_EXECUTOR", "").strip().lower() == "k8s" else machine_cores()
    return f"{int(machine_memory() * DUCKDB_MEMORY_SHARE / steps) >> 20}MiB"


def duckdb_threads(value: str = "") -> int:
    """IDC_DUCKDB_THREADS as a positive integer, or when empty this machine's cores."""
    if not value.strip():
        return machine_cores()
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"IDC_DUCKDB_THREADS must be a positive integer, got {value!r}")
    return threads


def max_row_drop() -> float:
    value = os.environ.get("IDC_MAX_ROW_DROP", DEFAULTS["IDC_MAX_ROW_DROP"])
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 <= fraction <= 1:
        raise ValueError(f"IDC_MAX_ROW_DROP must be a fraction between 0 and 1, got {value!r}")
    return fraction


def max_string_length() -> int:
    """IDC_MAX_STRING_LENGTH: the longest string value `plausible_values` lets through."""
    value = os.environ.get("IDC_MAX_STRING_LENGTH", DEFAULTS["IDC_MAX_STRING_LENGTH"])
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"IDC_MAX_STRING_LENGTH must be a positive integer, got {value!r}")
    return int(value)


def max_build_change() -> float:
    """IDC_MAX_BUILD_CHANGE: the fraction by which a build's rows or total size may differ from
    the previous IDC version's before `row_count_change` warns."""
    value = os.environ.get("IDC_MAX_BUILD_CHANGE", DEFAULTS["IDC_MAX_BUILD_CHANGE"])
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not fraction >= 0:
        raise ValueError(f"IDC_MAX_BUILD_CHANGE must be a non-negative fraction, got {value!r}")
    return fraction


# --- values the settings and the command line share: their syntax, checked before any work ----

_IDC_VERSION = re.compile(r"[1-9][0-9]*")
_RELEASE_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# A GCS bucket name (3-63 lowercase letters, digits, dashes, underscores, dots), then a prefix.
_GCS_TARGET = re.compile(r"gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^/].*)?/?")


def parse_idc_version(value: object) -> int:
    """An IDC version (a partition key, a flag, a setting) as an int: a positive integer written
    the one canonical way (`3`, `25`; never `03`, `0`, ` 3` or `v3`), so that one release is one
    partition. Raises ValueError naming the value."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _IDC_VERSION.fullmatch(text):
        raise ValueError(
            f"IDC version must be a positive integer without leading zeros (1, 2, ... 25), "
            f"got {value!r}"
        )
    return int(text)


def parse_release_version(value: str) -> str:
    """An idc-index-data release version X.Y.Z (three non-negative integers without leading
    zeros); raises ValueError naming the value."""
    if not _RELEASE_VERSION.fullmatch(value):
        raise ValueError(f"release version must look like X.Y.Z (e.g. 25.0.1), got {value!r}")
    return value


def release_version_problem(release_version: str, idc_version: int) -> str | None:
    """Why `release_version` cannot be a release of IDC version N (X must be N), or None."""
    major = parse_release_version(release_version).split(".")[0]
    if int(major) != idc_version:
        return (
            f"release version {release_version} is not for IDC version {idc_version} "
            f"(a release of IDC version {idc_version} is {idc_version}.Y.Z)"
        )
    return None


def parse_concurrency(value: object) -> int:
    """A number of parallel transfers: a whole number of at least 1."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"must be a whole number of at least 1, got {value!r}")
    return int(text)


def parse_release_bucket(value: str) -> str:
    """Where releases go: `gs://bucket[/prefix]` or a local directory (any path without a URL
    scheme). Raises ValueError for a malformed GCS URL or another scheme."""
    if value.startswith("gs://"):
        if not _GCS_TARGET.fullmatch(value):
            raise ValueError(
                f"{value!r} is not gs://bucket[/prefix] (bucket names: 3-63 lowercase letters, "
                "digits, '-', '_' or '.')"
            )
    elif "://" in value or not value.strip():
        raise ValueError(f"{value!r} is neither gs://bucket[/prefix] nor a local directory")
    return value


# --- every setting's syntax, checked by the command line before Dagster loads -------------------

ENGINES = ("duckdb", "bigquery")
_ON_OFF = ("on", "off", "1", "0", "true", "false", "yes", "no", "")
_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?\s*(%|b|bytes|[kmgtp]i?b?)?", re.IGNORECASE)
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _closest(value: str, choices) -> str:
    """`; did you mean X?` for the choice nearest to a misspelt value, else nothing."""
    import difflib

    match = difflib.get_close_matches(value.strip().lower(), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def parse_engine(value: str) -> str:
    """IDC_ENGINE in any case and spacing (`DuckDB`, ` bigquery`) → `duckdb` or `bigquery`.
    Raises ValueError naming the valid values (and the nearest one to a misspelling)."""
    name = (value or "").strip().lower()
    if name not in ENGINES:
        raise ValueError(
            f"must be duckdb or bigquery (any case), got {value!r}" + _closest(value, ENGINES)
        )
    return name


def parse_executor(value: str) -> str:
    """IDC_EXECUTOR: empty (Dagster's default) or k8s, in any case."""
    name = (value or "").strip().lower()
    if name not in ("", "k8s"):
        raise ValueError(f"must be empty or k8s, got {value!r}")
    return name


def _on_off(value: str) -> str:
    if (value or "").strip().lower() not in _ON_OFF:
        raise ValueError(f"must be on or off (also 1/0, true/false, yes/no), got {value!r}")
    return value


def _optional(parse):
    return lambda value: parse(value) if value.strip() else value


def _memory(value: str) -> str:
    if not _MEMORY.fullmatch(value.strip()):
        raise ValueError(f"must be a size such as 8GB, 8GiB or 75%, got {value!r}")
    return value


def _bytes(value: str) -> str:
    if not value.strip().isdigit():
        raise ValueError(f"must be a whole number of bytes (0: no limit), got {value!r}")
    return value


def _http_url(value: str) -> str:
    if not value.strip().startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


def _repository(value: str) -> str:
    if not _REPOSITORY.fullmatch(value.strip()):
        raise ValueError(f"must be owner/repo, got {value!r}")
    return value


def _artifacts_dir(value: str) -> str:
    if value.startswith(GCS_SCHEME):
        split_gcs_url(value)
    return value


def _threads(value: str) -> str:
    try:
        duckdb_threads(value)
    except ValueError:
        raise ValueError(
            f"must be a positive integer (empty: the machine's cores), got {value!r}"
        ) from None
    return value


def _row_drop(value: str) -> str:
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 <= fraction <= 1:
        raise ValueError(f"must be a fraction between 0 and 1, got {value!r}")
    return value


# How each setting that the code location reads must look (empty is each one's default).
SETTING_SYNTAX = {
    "IDC_ENGINE": parse_engine,
    "IDC_EXECUTOR": parse_executor,
    "IDC_ARTIFACTS_DIR": _artifacts_dir,
    "IDC_RELEASE_VERSION": _optional(parse_release_version),
    "IDC_DUCKDB_MEMORY_LIMIT": _optional(_memory),
    "IDC_DUCKDB_THREADS": _threads,
    "IDC_MAX_BYTES_BILLED": _optional(_bytes),
    "IDC_BIGQUERY_API_ENDPOINT": _optional(_http_url),
    "IDC_GDC_API_URL": _optional(_http_url),
    "IDC_PACKAGE_INDEX_URL": _optional(_http_url),
    "IDC_RELEASE_BUCKET": parse_release_bucket,
    "IDC_RELEASE_CONCURRENCY": parse_concurrency,
    "IDC_CONFIGURE_BUCKET": _on_off,
    "IDC_AUTOMATION": _on_off,
    "IDC_GITHUB_REPOSITORY": _optional(_repository),
    "IDC_GITHUB_API_URL": _http_url,
    "IDC_MAX_ROW_DROP": _row_drop,
}


def setting_problems() -> list[str]:
    """One line per setting in the environment whose value is malformed, naming the setting
    and what would work (`SETTING_SYNTAX`). Reads the environment only: nothing is started."""
    problems = []
    for name, parse in SETTING_SYNTAX.items():
        value = os.environ.get(name)
        if value is None:
            continue
        try:
            parse(value)
        except ValueError as error:
            problems.append(f"{name}: {error}")
    return problems
