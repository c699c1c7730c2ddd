"""Building the `idc-index-data` wheel, a drop-in replacement for the published PyPI package, from
one IDC release's artifacts (`<artifacts>/<N>/`).

Design:

- `write_project` lays out a small project tree (what an sdist would unpack to): a
  `pyproject.toml` for the hatchling backend, a README with a table of the indices, the MIT
  LICENSE and `src/idc_index_data/` holding the module, `_version.py`, `py.typed`, the Parquet
  file of every bundled index and the `_schema.json` and `.sql` of every known index that has
  them. Data files are symlinked, not copied (hatchling follows links), so a large idc_index
  costs no extra disk. Supplementary indices and non-bundled Parquet files stay out.
- `build_wheel` builds that tree with the standard frontend, `python -m build --wheel
  --no-isolation` (hatchling), in a subprocess, inside a temporary directory in `out_dir`; the
  wheel and its `<wheel>.sha256` are renamed into place only when the build succeeded.
- Reproducibility needs no post-processing: hatchling's wheel builder is reproducible by default
  (every zip entry is stamped with SOURCE_DATE_EPOCH, permissions are normalized to 644/755,
  files are added in sorted order, RECORD follows that order). We pin SOURCE_DATE_EPOCH, drop
  HATCH_* variables from the build's environment and generate every text file from the inputs
  alone (no dates, no absolute paths), so the same artifacts built with the same hatchling give
  byte-identical wheels. A different hatchling version may differ (its name is in WHEEL).
- The installed module finds its files first in its package directory (importlib.resources: a
  regular install, or an editable install pointing at a source tree), then among the files the
  distribution records (importlib.metadata: editable installs that map files elsewhere).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from idc_index_assets.indices.validation import IDC_VERSION_KEY, index_files, sha256_file

DISTRIBUTION = "idc-index-data"
MODULE = "idc_index_data"
# The published module exposes these two paths as constants, so the wheel must bundle them.
REQUIRED_BUNDLED = ("idc_index", "prior_versions_index")
# 1980-01-01T00:00:00Z, the earliest time a zip entry can carry: plainly "no real timestamp".
SOURCE_DATE_EPOCH = 315532800
BUILD_TIMEOUT_S = 1800

_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_INDEX_NAME = re.compile(r"[a-z][a-z0-9_]*")


class WheelBuildError(RuntimeError):
    """The build backend failed; its output is in the message."""


def wheel_filename(version: str) -> str:
    return f"{MODULE}-{version}-py3-none-any.whl"


def build_wheel(
    artifacts_dir: Path,
    *,
    version: str,
    out_dir: Path,
    bundled: Sequence[str],
    all_indices: Sequence[str],
) -> Path:
    """Build `idc_index_data-<version>-py3-none-any.whl` from the artifacts into `out_dir`, with
    `<wheel>.sha256` (`<hex>  <wheel name>`) beside it, and return the wheel's path.

    Raises ValueError for a version that is not X.Y.Z or inconsistent index lists,
    FileNotFoundError for a missing artifacts directory or bundled Parquet file, and
    WheelBuildError when the backend fails. A failure leaves any previous wheel untouched.
    """
    out_dir = Path(out_dir).absolute()  # the backend runs with the project as its cwd
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{MODULE}-", suffix=".build", dir=out_dir))
    try:
        project = write_project(
            artifacts_dir,
            work / "project",
            version=version,
            bundled=bundled,
            all_indices=all_indices,
        )
        dist = work / "dist"
        _run_backend(project, dist)
        name = wheel_filename(version)
        built = dist / name
        if not built.is_file():
            found = sorted(p.name for p in dist.iterdir()) if dist.is_dir() else []
            raise WheelBuildError(f"the backend did not produce {name} (found {found})")
        checksum = work / f"{name}.sha256"
        checksum.write_text(f"{sha256_file(built)}  {name}\n")
        # The wheel first, then its checksum: the same publishing order as the index artifacts.
        target = out_dir / name
        os.replace(built, target)
        os.replace(checksum, out_dir / f"{name}.sha256")
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_project(
    artifacts_dir: Path,
    project_dir: Path,
    *,
    version: str,
    bundled: Sequence[str],
    all_indices: Sequence[str],
    link: bool = True,
) -> Path:
    """Lay out the buildable (and editable-installable) `idc-index-data` project tree in
    `project_dir` (created; must not exist) and return it. Data files are symlinked when `link`
    is true and the filesystem allows it, copied otherwise. Validates the inputs as build_wheel."""
    artifacts_dir = Path(artifacts_dir)
    _check_version(version)
    data_files, indices = _select_files(artifacts_dir, bundled=bundled, all_indices=all_indices)

    project_dir = Path(project_dir)
    package = project_dir / "src" / MODULE
    package.mkdir(parents=True)
    for source in data_files:
        _place(source.resolve(), package / source.name, link=link)
    (package / "__init__.py").write_text(_init_module(all_indices))
    (package / "_version.py").write_text(_version_module(version))
    (package / "py.typed").write_text("")
    (project_dir / "pyproject.toml").write_text(_pyproject(version))
    (project_dir / "LICENSE").write_text(_LICENSE)
    idc_version = _idc_version(artifacts_dir)
    (project_dir / "README.md").write_text(_readme(version, idc_version, indices))
    return project_dir


def _check_version(version: str) -> None:
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ValueError(
            f"invalid idc-index-data version {version!r}: expected X.Y.Z, three non-negative "
            "integers without leading zeros (e.g. 23.0.0)"
        )


def _select_files(
    artifacts_dir: Path, *, bundled: Sequence[str], all_indices: Sequence[str]
) -> tuple[list[Path], list[tuple[str, bool, dict | None]]]:
    """Validate the index lists and artifacts; return the data files to ship, in order, and per
    index (name, bundled, loaded schema document or None) for the README."""
    if isinstance(bundled, str) or isinstance(all_indices, str):
        raise TypeError("bundled and all_indices must be sequences of index names, not a string")
    for name in all_indices:
        if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name):
            raise ValueError(f"invalid index name {name!r}")
    duplicates = sorted({n for n in all_indices if list(all_indices).count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate index names in all_indices: {duplicates}")
    unknown = [name for name in bundled if name not in all_indices]
    if unknown:
        raise ValueError(f"bundled indices {unknown} are not in all_indices")
    missing_required = [name for name in REQUIRED_BUNDLED if name not in bundled]
    if missing_required:
        raise ValueError(
            f"{missing_required} must be bundled: idc_index_data exposes their Parquet paths"
        )
    if not artifacts_dir.is_dir():
        raise FileNotFoundError(f"artifacts directory {artifacts_dir} does not exist")

    data_files: list[Path] = []
    indices: list[tuple[str, bool, dict | None]] = []
    for name in all_indices:
        files = index_files(artifacts_dir, name)
        if name in bundled:
            if not files["parquet"].is_file():
                raise FileNotFoundError(
                    f"bundled index {name}: Parquet file {files['parquet']} is missing"
                )
            _check_checksum(files["parquet"], files["sha256"])
            data_files.append(files["parquet"])
        schema = None
        if files["schema"].is_file():
            schema = _load_schema(files["schema"])
            data_files.append(files["schema"])
        if files["sql"].is_file():
            data_files.append(files["sql"])
        indices.append((name, name in bundled, schema))
    return data_files, indices


def _check_checksum(parquet: Path, checksum_file: Path) -> None:
    # The checksum file is optional input, but when present a mismatch means the Parquet file
    # changed after it was built and validated: never ship that.
    if not checksum_file.is_file():
        return
    fields = checksum_file.read_text().split()
    actual = sha256_file(parquet)
    if not fields or fields[0] != actual:
        raise ValueError(
            f"{parquet} does not match its checksum in {checksum_file} (sha256 is {actual})"
        )


def _load_schema(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"schema file {path} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"schema file {path} must hold a JSON object")
    return document


def _idc_version(artifacts_dir: Path) -> str | None:
    """The IDC data release the artifacts were built from: idc_index's provenance metadata, or
    the artifacts directory's name (`<N>`)."""
    metadata = pq.read_schema(index_files(artifacts_dir, "idc_index")["parquet"]).metadata or {}
    value = metadata.get(IDC_VERSION_KEY)
    if value:
        return value.decode()
    name = artifacts_dir.resolve().name
    return name if name.isdigit() else None


def _place(source: Path, target: Path, *, link: bool) -> None:
    if link:
        try:
            target.symlink_to(source)
            return
        except OSError:
            pass  # e.g. no symlink support on this filesystem: copy instead
    shutil.copyfile(source, target)


def _run_backend(project: Path, dist: Path) -> None:
    # HATCH_* variables can switch build hooks or metadata checks on and off: keep them out so
    # the result depends only on the project tree.
    env = {key: value for key, value in os.environ.items() if not key.startswith("HATCH_")}
    env["SOURCE_DATE_EPOCH"] = str(SOURCE_DATE_EPOCH)
    command = [
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        str(dist),
        str(project),
    ]
    try:
        result = subprocess.run(
            command,
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise WheelBuildError(f"building the wheel took over {BUILD_TIMEOUT_S} s") from error
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise WheelBuildError(
            f"`{' '.join(command[1:5])}` failed with exit code {result.returncode} "
            f"(are the build dependencies `build` and `hatchling` installed?):\n{output}"
        )


def _toml_string(value: str) -> str:
    # JSON string syntax is valid TOML basic-string syntax.
    return json.dumps(value)


def _pyproject(version: str) -> str:
    return f"""\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "{DISTRIBUTION}"
version = {_toml_string(version)}
description = "NCI Imaging Data Commons index tables for querying and downloading IDC data."
readme = "README.md"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.10"
keywords = ["imaging data commons", "idc", "dicom", "cancer imaging", "index"]
classifiers = [
    "Development Status :: 4 - Beta",
    "Intended Audience :: Developers",
    "Intended Audience :: Science/Research",
    "Operating System :: OS Independent",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Topic :: Scientific/Engineering",
    "Typing :: Typed",
]

[project.urls]
Homepage = "https://imaging.datacommons.cancer.gov"
Source = "https://github.com/ImagingDataCommons/idc-index-data"

[tool.hatch.build]
# The tree may sit below a directory that a .gitignore excludes (e.g. data/): ignore VCS rules.
ignore-vcs = true

[tool.hatch.build.targets.wheel]
packages = ["src/{MODULE}"]
# An editable install puts src/ on sys.path with a .pth file (no `editables` dependency).
dev-mode-dirs = ["src"]
"""


def _version_module(version: str) -> str:
    numbers = tuple(int(part) for part in version.split("."))
    return f"""\
\"\"\"The version of this idc-index-data release.\"\"\"

from __future__ import annotations

__version__ = version = {version!r}
__version_tuple__ = version_tuple = {numbers!r}
"""


def _init_module(all_indices: Sequence[str]) -> str:
    names = "".join(f"    {name!r},\n" for name in all_indices)
    return _INIT_TEMPLATE.replace("@ALL_INDICES@", f"(\n{names})")


_INIT_TEMPLATE = '''\
"""idc-index-data: the NCI Imaging Data Commons (IDC) index tables that idc-index queries to find
and download IDC data.

IDC_INDEX_PARQUET_FILEPATH and PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH are the paths of the two main
Parquet tables. INDEX_METADATA maps every index name to its Parquet path (None when this package
does not ship the table), its schema (path and loaded JSON) and the SQL query that built it (path
and text); each of these is None when this release has no such file.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from ._version import __version__

__all__ = [
    "IDC_INDEX_CSV_ARCHIVE_FILEPATH",
    "IDC_INDEX_PARQUET_FILEPATH",
    "INDEX_METADATA",
    "PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH",
    "__version__",
]

_ALL_INDICES: tuple[str, ...] = @ALL_INDICES@


@cache
def _recorded_files() -> dict[str, Path]:
    """The files the installed distribution records, by their path relative to site-packages."""
    try:
        files = distribution("idc-index-data").files or []
    except PackageNotFoundError:
        return {}
    return {file.as_posix(): Path(str(file.locate())) for file in files}


def _find(filename: str) -> Path | None:
    """The installed data file `filename`, or None when this package does not ship it."""
    # The package directory first: where `import` found this module, for a regular install and for
    # an editable install that points at a source tree.
    candidate = resources.files(__name__).joinpath(filename)
    if isinstance(candidate, Path) and candidate.is_file():
        return candidate.resolve()
    # Then the distribution's record: editable installs may map files outside the package.
    recorded = _recorded_files().get(f"{__name__}/{filename}")
    if recorded is not None and recorded.is_file():
        return recorded.resolve()
    return None


def _required(filename: str) -> Path:
    path = _find(filename)
    if path is None:
        msg = f"idc-index-data is installed without {filename}: reinstall it"
        raise FileNotFoundError(msg)
    return path


def _metadata(name: str) -> dict[str, Path | dict[str, object] | str | None]:
    schema_path = _find(f"{name}_schema.json")
    sql_path = _find(f"{name}.sql")
    return {
        "parquet_filepath": _find(f"{name}.parquet"),
        "schema_path": schema_path,
        "schema": json.loads(schema_path.read_text(encoding="utf-8")) if schema_path else None,
        "sql_path": sql_path,
        "sql": sql_path.read_text(encoding="utf-8") if sql_path else None,
    }


IDC_INDEX_PARQUET_FILEPATH: Path | None = _required("idc_index.parquet")
PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH: Path | None = _required("prior_versions_index.parquet")
# Earlier releases shipped idc_index as a zipped CSV as well; the name stays for compatibility.
IDC_INDEX_CSV_ARCHIVE_FILEPATH: Path | None = None

INDEX_METADATA: dict[str, dict[str, Path | dict[str, object] | str | None]] = {
    name: _metadata(name) for name in _ALL_INDICES
}
'''


def _table_cell(text: str) -> str:
    # One line per table row, and a literal `|` must not end the cell.
    return " ".join(text.split()).replace("|", "\\|")


def _readme(
    version: str, idc_version: str | None, indices: Sequence[tuple[str, bool, dict | None]]
) -> str:
    release = f" It was built from IDC data release v{idc_version}." if idc_version else ""
    rows = []
    for name, is_bundled, schema in indices:
        description = schema.get("table_description") if schema else None
        if not isinstance(description, str) or not description.strip():
            description = "(no schema in this release)" if schema is None else ""
        rows.append(f"| `{name}` | {'yes' if is_bundled else 'no'} | {_table_cell(description)} |")
    table = "\n".join(rows)
    return f"""\
# idc-index-data {version}

The index tables of the [NCI Imaging Data Commons](https://imaging.datacommons.cancer.gov) (IDC)
as a Python package: the Parquet files that
[idc-index](https://github.com/ImagingDataCommons/idc-index) queries to find and download IDC
imaging data, together with each index's schema and the SQL query that built it.{release}

## Usage

```python
import idc_index_data

idc_index_data.__version__
idc_index_data.IDC_INDEX_PARQUET_FILEPATH             # pathlib.Path of idc_index.parquet
idc_index_data.PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH  # pathlib.Path of prior_versions_index.parquet

meta = idc_index_data.INDEX_METADATA["collections_index"]
meta["parquet_filepath"]  # Path, or None when the table is not bundled
meta["schema"]            # dict: table_description and columns (name, type, mode, description)
meta["sql"]               # the query that built the table
```

## Indices

A bundled index ships its Parquet file in this package; for the others the package carries the
schema and the query only.

| index | bundled | description |
|---|---|---|
{table}

## License

MIT; see LICENSE.
"""


_LICENSE = """\
MIT License

Copyright (c) The idc-index-data authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
