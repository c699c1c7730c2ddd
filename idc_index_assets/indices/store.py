"""The `ArtifactStore` resource: where an index's artifacts are written and read, one directory per
IDC version, and which idc-index-data release version they carry."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from idc_index_assets.settings import parse_release_version


class ArtifactStore(ConfigurableResource):
    """Local directory of built artifacts: `<root>/<idc_version>/<index>.parquet` and sidecars."""

    root: str = Field(default="data/artifacts", description="Artifacts root directory")
    release_version: str = Field(
        default="", description="idc-index-data version X.Y.Z written into artifacts (empty: N.0.0)"
    )

    def directory(self, idc_version: int) -> Path:
        return Path(self.root) / str(idc_version)

    def release_version_for(self, idc_version: int) -> str:
        return parse_release_version(self.release_version or f"{idc_version}.0.0")
