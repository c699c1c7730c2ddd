"""Builds, validates and publishes the NCI Imaging Data Commons index files as Dagster assets."""
