"""What leaves the pipeline: the `idc-index-data` wheel, the publishing of a release's files to its
channels (a GCS bucket or a local directory with the same layout) and the wheel and release
assets with their resources. Imports `indices`, `engines` and `sources`."""
