"""The deterministic sample IDC release the embedded default builds from (production does not need
it): `generate` writes the source snapshot, with the radiology, pathology and segmentation
providers and the shared drawing helpers of `kit`. Imports `sources` and `gdc` (the cases
snapshot)."""
