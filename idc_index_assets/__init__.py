"""Builds, validates and publishes the NCI Imaging Data Commons index files as Dagster assets."""

import warnings

# Checks partitioned like their assets (results per IDC version) are a Dagster preview feature,
# used on purpose; its PreviewWarning would precede every command's output. Matched by message,
# so that importing the package does not import Dagster.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")
