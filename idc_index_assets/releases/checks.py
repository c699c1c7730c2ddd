"""Checks on what leaves the pipeline, per IDC version, blocking checks of the assets they check
(evaluated in the same step, right after the asset is made):

- `installs_and_matches` (the wheel, blocking): the wheel installs into a scratch virtual
  environment, `import idc_index_data` works there, its version is the release version, its
  INDEX_METADATA lists every packaged index with its schema and SQL (and its Parquet file when
  the index is bundled), and every installed file is byte for byte the artifact it came from.
- `matches_manifest` (the release): read back from the bucket, each channel that holds this
  release (`<version>/` and, while it is the newest, `current/`) has its `release_manifest.json`
  for this version, and every file it lists is there with the listed size and MD5.
"""

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dagster import AssetCheckResult, AssetCheckSpec, AssetKey, MetadataValue

from idc_index_assets.indices.registry import IndexSpec
from idc_index_assets.indices.validation import sha256_file
from idc_index_assets.releases.publish import ARTIFACTS, CURRENT, MANIFEST, ReleaseBucket

WHEEL_CHECK = "installs_and_matches"
RELEASE_CHECK = "matches_manifest"
INSTALL_TIMEOUT_S = 600
# The wheel alone: it needs nothing else, and no package index is asked.
_PIP_OPTIONS = ("--quiet", "--no-deps", "--no-index", "--disable-pip-version-check")

# Run by the scratch environment's Python: what the installed package offers, file by file.
_PROBE = r"""
import hashlib, json, idc_index_data as package

def sha256(path):
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

print(json.dumps({
    "version": package.__version__,
    "module": package.__file__,
    "indices": {
        name: {key: sha256(meta[key]) for key in ("parquet_filepath", "schema_path", "sql_path")}
        for name, meta in package.INDEX_METADATA.items()
    },
}))
"""


def installed_wheel(wheel: Path) -> dict | str:
    """What `import idc_index_data` offers once `wheel` is installed into a scratch virtual
    environment (version, module path, sha256 of each INDEX_METADATA file), or why it failed."""
    with tempfile.TemporaryDirectory(prefix="idc-wheel-check-") as scratch:
        venv = Path(scratch) / "venv"
        python = venv / "bin" / "python"
        steps = (
            (
                "creating a virtual environment",
                [sys.executable, "-m", "venv", "--without-pip", venv],
            ),
            (
                f"installing {wheel.name}",
                [sys.executable, "-m", "pip", "--python", python, "install", *_PIP_OPTIONS, wheel],
            ),
            # Isolated (-I) and from the scratch directory: nothing but the install is imported.
            ("import idc_index_data", [python, "-I", "-c", _PROBE]),
        )
        for what, command in steps:
            done = subprocess.run(
                [str(part) for part in command],
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
            if done.returncode != 0:
                output = (done.stderr or done.stdout).strip().splitlines()
                return f"{what} failed: {output[-1] if output else f'exit {done.returncode}'}"
        found = json.loads(done.stdout)
        if not found["module"].startswith(str(venv)):
            return f"import idc_index_data found {found['module']}, not the installed wheel"
        return found


def wheel_problems(
    wheel: Path, directory: Path, release_version: str, packaged: Sequence[IndexSpec]
) -> list[str]:
    """Every way the installed `wheel` differs from what the artifacts in `directory` promise
    for the `packaged` indices."""
    found = installed_wheel(wheel)
    if isinstance(found, str):
        return [found]
    problems = []
    if found["version"] != release_version:
        problems.append(f"idc_index_data.__version__ is {found['version']}, not {release_version}")
    expected = {spec.name: spec for spec in packaged}
    listed = found["indices"]
    problems += [f"INDEX_METADATA lacks {name}" for name in expected if name not in listed]
    problems += [f"INDEX_METADATA has {name}, no index" for name in listed if name not in expected]
    for name, spec in expected.items():
        files = listed.get(name)
        if files is None:
            continue
        for key, artifact in (
            ("parquet_filepath", f"{name}.parquet"),
            ("schema_path", f"{name}_schema.json"),
            ("sql_path", f"{name}.sql"),
        ):
            installed = files[key]
            if key == "parquet_filepath" and not spec.in_wheel:
                if installed is not None:
                    problems.append(f"{artifact}: installed, but {name} is not bundled")
            elif installed is None:
                problems.append(f"{artifact}: INDEX_METADATA[{name!r}][{key!r}] is None")
            elif installed != sha256_file(directory / artifact):
                problems.append(f"{artifact}: the installed file differs from the artifact")
    return problems


def release_problems(bucket: ReleaseBucket, release_version: str) -> tuple[list[str], list[str]]:
    """(problems, channels checked): each channel holding this release has its manifest, and
    every file the manifest lists is in the bucket with the listed size and MD5."""
    problems, channels = [], []
    for channel in (release_version, CURRENT):
        prefix = f"{channel}/{ARTIFACTS}"
        if bucket.stat(f"{prefix}/{MANIFEST}") is None:
            problems.append(f"{prefix}/{MANIFEST}: missing")
            continue
        manifest = json.loads(bucket.read(f"{prefix}/{MANIFEST}"))
        if manifest["version"] != release_version:
            if channel == CURRENT:
                continue  # a newer release is current now; this one stays under its version
            problems.append(f"{prefix}/{MANIFEST}: version {manifest['version']}")
        channels.append(channel)
        for entry in manifest["files"]:
            path = f"{prefix}/{entry['name']}"
            info = bucket.stat(path)
            if info is None:
                problems.append(f"{path}: missing")
            elif info.size != entry["size"]:
                problems.append(f"{path}: {info.size} bytes, the manifest says {entry['size']}")
            elif info.md5 is not None and info.md5 != entry["md5"]:
                problems.append(f"{path}: MD5 {info.md5}, the manifest says {entry['md5']}")
    return problems, channels


def check_spec(asset: str, name: str, partitions_def) -> AssetCheckSpec:
    return AssetCheckSpec(
        name,
        asset=asset,
        blocking=True,
        description=_DESCRIPTIONS[name],
        partitions_def=partitions_def,
    )


_DESCRIPTIONS = {
    WHEEL_CHECK: (
        "The wheel installs into a scratch virtual environment and imports; INDEX_METADATA lists "
        "every packaged index; each installed file equals its artifact."
    ),
    RELEASE_CHECK: (
        "Read back from the bucket: each channel holding the release has its manifest, and every "
        "file listed there is present with the listed size and MD5."
    ),
}


def check_result(asset: str, name: str, problems: list[str], **metadata) -> AssetCheckResult:
    description = None
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        description = "; ".join(problems[:5]) + more
    return AssetCheckResult(
        asset_key=AssetKey(asset),
        check_name=name,
        passed=not problems,
        description=description,
        metadata={
            **metadata,
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )
