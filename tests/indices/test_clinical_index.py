"""clinical_index on the sample release, against expectations computed from the source table."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from idc_index_assets.indices.registry import INDEX_BY_NAME
from idc_index_assets.indices.validation import check_contract
from idc_index_assets.sources.tables import SOURCE_PROJECT
from tests.conftest import SAMPLE_VERSIONS

SOURCE_DATASET = f"idc_v{SAMPLE_VERSIONS}_clinical"


@pytest.fixture(scope="module")
def source_rows(sample_source) -> list[dict]:
    path = sample_source / SOURCE_PROJECT / SOURCE_DATASET / "column_metadata.parquet"
    return pq.read_table(path).to_pylist()


@pytest.fixture(scope="module")
def index_rows(built_artifacts) -> list[dict]:
    return pq.read_table(built_artifacts / "clinical_index.parquet").to_pylist()


def test_rows_are_the_source_dictionary_with_short_names_and_null_labels(source_rows, index_rows):
    expected = sorted(
        (
            {
                "collection_id": row["collection_id"],
                "table_name": row["table_name"],
                "short_table_name": row["table_name"].split(".")[-1],
                "column": row["column"],
                "column_label": row["column_label"] or None,
                "values": row["values"],
            }
            for row in source_rows
        ),
        key=lambda row: (row["collection_id"], row["table_name"], row["column"]),
    )
    assert index_rows == expected


def test_sample_covers_the_edge_cases(sample_source, source_rows, index_rows):
    options = [len(row["values"]) for row in index_rows]
    assert 0 in options, "a free-form column without value options"
    assert max(options) >= 3, "a coded column with several options"
    tables = {}
    for row in index_rows:
        tables.setdefault(row["collection_id"], set()).add(row["short_table_name"])
    assert max(len(names) for names in tables.values()) >= 2, "a collection with several tables"
    assert any(row["column_label"] is None for row in index_rows), "an empty label becomes NULL"
    assert any(row["column_label"] == "" for row in source_rows)
    served = pq.read_table(
        sample_source / SOURCE_PROJECT / f"idc_v{SAMPLE_VERSIONS}" / "dicom_all.parquet",
        columns=["collection_id"],
    )
    without_clinical = set(served["collection_id"].to_pylist()) - set(tables)
    assert without_clinical, "served collections without clinical data have no rows"


def test_table_names_are_qualified_by_the_release_dataset(index_rows):
    prefix = f"{SOURCE_PROJECT}.{SOURCE_DATASET}."
    assert all(row["table_name"].startswith(prefix) for row in index_rows)
    assert all(row["table_name"] == prefix + row["short_table_name"] for row in index_rows)


def test_contract_holds_and_values_are_a_repeated_record(built_artifacts):
    spec = INDEX_BY_NAME["clinical_index"]
    assert check_contract(built_artifacts, spec.contract) == []
    schema = pq.read_schema(built_artifacts / "clinical_index.parquet")
    values = schema.field("values").type
    assert [field.name for field in values.value_type] == ["option_code", "option_description"]
