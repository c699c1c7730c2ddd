"""Sample release columns for slide microscopy (SM) and microscopy annotation (ANN) instances."""

from __future__ import annotations

from .sample_kit import InstanceRows


def columns(instances: InstanceRows) -> dict[str, dict]:
    """{table: {column: one value per instance}} for the sample's dicom tables."""
    return {}
