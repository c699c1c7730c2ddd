"""The source side of the contract: the IDC BigQuery tables and the columns the indices read, with
their real BigQuery types and modes (data in `data/idc_source_contract.json`), as Arrow schemas.

The sample generator writes exactly these schemas; the source assets show them in the UI.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import pyarrow as pa

SOURCE_CONTRACT_FILE = "idc_source_contract.json"

# BigQuery's scalar types (and their legacy names) as BigQuery exports them to Arrow
BIGQUERY_TO_ARROW = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "INTEGER": pa.int64(),
    "FLOAT64": pa.float64(),
    "FLOAT": pa.float64(),
    "BOOL": pa.bool_(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}


def arrow_field(column: dict) -> pa.Field:
    """A BigQuery column (name, type, mode, nested fields) as the Arrow field BigQuery exports."""
    if column["type"] == "RECORD":
        value_type: pa.DataType = pa.struct([arrow_field(field) for field in column["fields"]])
    else:
        value_type = BIGQUERY_TO_ARROW[column["type"]]
    if column.get("mode") == "REPEATED":
        value_type = pa.list_(value_type)
    return pa.field(column["name"], value_type)


@cache
def contract_columns() -> dict[str, list[dict]]:
    """Contract table name (`bigquery-public-data.idc_vNN.dicom_all`) → its columns as the JSON
    gives them: name, type, mode, nested `fields`, `used_by` (the indices that read it)."""
    text = resources.files("idc_index_assets").joinpath("data", SOURCE_CONTRACT_FILE).read_text()
    return {name: table["columns"] for name, table in json.loads(text)["tables"].items()}


@cache
def source_tables() -> dict[str, pa.Schema]:
    """Contract table name (`bigquery-public-data.idc_vNN.dicom_all`) → Arrow schema."""
    return {
        name: pa.schema([arrow_field(column) for column in columns])
        for name, columns in contract_columns().items()
    }


def bigquery_type(column: dict) -> str:
    """A contract column's type in BigQuery SQL: `ARRAY<STRUCT<`Name` STRING, ...>>`, `INT64`."""
    if column["type"] == "RECORD":
        fields = ", ".join(
            f"`{field['name']}` {bigquery_type(field)}" for field in column["fields"]
        )
        value_type = f"STRUCT<{fields}>"
    else:
        value_type = column["type"]
    return f"ARRAY<{value_type}>" if column.get("mode") == "REPEATED" else value_type


def sql_schema(idc_version: int) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """The contract tables of one IDC version as project → dataset → table → column → BigQuery
    type, the shape sqlglot's type annotation takes."""
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for name, columns in contract_columns().items():
        project, dataset, table = name.split(".")
        tables = schema.setdefault(project, {}).setdefault(
            dataset.replace("idc_vNN", f"idc_v{idc_version}"), {}
        )
        tables[table] = {column["name"]: bigquery_type(column) for column in columns}
    return schema
