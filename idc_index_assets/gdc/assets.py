"""The gdc_idc_mapping asset: an index like the others (partitions, checks, artifacts), whose rows
come from the studies query joined, in Python, with GDC cases."""

import contextlib
import hashlib
from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from idc_index_assets.engines.resource import IndexEngine
from idc_index_assets.gdc.cases import (
    GDC_CASE_ID_DOC,
    STUDIES_QUERY,
    GDCCases,
    project_map_text,
)
from idc_index_assets.gdc.mapping import build_gdc_mapping
from idc_index_assets.indices.assets import index_asset_args, materialize
from idc_index_assets.indices.queries import (
    load_query,
)
from idc_index_assets.indices.registry import GDC_MAPPING
from idc_index_assets.indices.store import ArtifactStore


def build_gdc_mapping_asset() -> AssetsDefinition:
    """gdc_idc_mapping: the studies query's rows joined, in Python, with GDC cases."""
    query = load_query(STUDIES_QUERY)
    # The mapping changes with the query and with the collection → project map.
    code_version = hashlib.sha256((query.code_version + project_map_text()).encode()).hexdigest()[
        :16
    ]

    @asset(
        **index_asset_args(
            GDC_MAPPING,
            query,
            docs=(*query.columns, GDC_CASE_ID_DOC),
            code_version=code_version,
            kinds={"sql", "python", "parquet"},
        )
    )
    def gdc_idc_mapping(
        context: AssetExecutionContext,
        index_engine: IndexEngine,
        gdc_cases: GDCCases,
        artifacts: ArtifactStore,
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        with contextlib.closing(gdc_cases.source()) as cases:
            yield from materialize(
                context,
                GDC_MAPPING,
                lambda idc_version: build_gdc_mapping(
                    query, idc_version, engine=index_engine, cases=cases, store=artifacts
                ),
                query=query,
                engine=index_engine,
            )

    return gdc_idc_mapping
