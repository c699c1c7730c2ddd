"""The output contract: each index's columns, BigQuery types and modes, and for the indices bundled
in the wheel the exact Arrow schema, as the published idc-index-data release has them
(`data/published_contract.json`, kept in the repository as data).

Also the mapping between Arrow and BigQuery types, and `conform`, which casts query results to the
contract's Arrow types (matching struct fields by name, since engines and sources may order nested
fields differently).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

CONTRACT_FILE = "published_contract.json"


@dataclass(frozen=True)
class ContractColumn:
    name: str
    type: str
    mode: str


@dataclass(frozen=True)
class IndexContract:
    name: str
    columns: tuple[ContractColumn, ...]
    arrow_schema: tuple[str, ...] | None
    in_wheel: bool = False
    supplementary: bool = False

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


@cache
def _contract_data() -> dict:
    return json.loads(
        resources.files("idc_index_assets").joinpath("data", CONTRACT_FILE).read_text()
    )


def index_contract(name: str) -> IndexContract:
    data = _contract_data()
    entry = data["indices"].get(name) or data["supplementary"].get(name)
    if entry is None:
        raise KeyError(f"index '{name}' is not in the output contract ({CONTRACT_FILE})")
    # A supplementary file derived from an index takes its column types from that index.
    parent = index_contract(entry["derived_from"]) if "derived_from" in entry else None
    inherited = {c.name: c for c in parent.columns} if parent else {}
    columns = []
    for column in entry["columns"]:
        if "type" in column:
            columns.append(
                ContractColumn(column["name"], column["type"], column.get("mode", "NULLABLE"))
            )
        elif column["name"] in inherited:
            columns.append(inherited[column["name"]])
        else:
            raise KeyError(f"{CONTRACT_FILE}: no type for {name}.{column['name']}")
    return IndexContract(
        name=name,
        columns=tuple(columns),
        arrow_schema=tuple(entry["arrow_schema"]) if "arrow_schema" in entry else None,
        in_wheel=bool(entry.get("in_wheel", False)),
        supplementary=name in data["supplementary"],
    )


# --- Arrow <-> BigQuery ------------------------------------------------------------------------

_BIGQUERY_TYPES = [
    (pa.types.is_string, "STRING"),
    (pa.types.is_large_string, "STRING"),
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "FLOAT"),
    (pa.types.is_decimal, "FLOAT"),
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (pa.types.is_struct, "RECORD"),
    (pa.types.is_binary, "BYTES"),
]


def bigquery_type(arrow_type: pa.DataType) -> tuple[str, str]:
    """(type, mode) as BigQuery schema files write them, e.g. (STRING, REPEATED) for list<string>."""
    mode = "NULLABLE"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        arrow_type, mode = arrow_type.value_type, "REPEATED"
    for predicate, name in _BIGQUERY_TYPES:
        if predicate(arrow_type):
            return name, mode
    raise TypeError(f"no BigQuery type for Arrow type {arrow_type}")


def normalize_type(arrow_type: pa.DataType, *, top_level: bool = True) -> pa.DataType:
    """The published files' conventions: large_string at the top level, string inside nested
    types, int64, float64 (also for decimals), lists with an `element` child."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.large_string() if top_level else pa.string()
    if pa.types.is_integer(arrow_type):
        return pa.int64()
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return pa.float64()
    if pa.types.is_struct(arrow_type):
        return pa.struct(
            [pa.field(f.name, normalize_type(f.type, top_level=False)) for f in arrow_type.fields]
        )
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(pa.field("element", normalize_type(arrow_type.value_type, top_level=False)))
    return arrow_type


def parse_arrow_type(text: str) -> pa.DataType:
    """Parse the type strings of the contract's `arrow_schema` (str() of a pyarrow type)."""
    value, rest = _parse_type(text.strip())
    if rest.strip():
        raise ValueError(f"trailing text in Arrow type {text!r}: {rest!r}")
    return value


_PRIMITIVES = {
    "string": pa.string(),
    "large_string": pa.large_string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "double": pa.float64(),
    "float": pa.float32(),
    "bool": pa.bool_(),
    "date32[day]": pa.date32(),
}


def _parse_type(text: str) -> tuple[pa.DataType, str]:
    match = re.match(r"(struct|list|large_list)<", text)
    if not match:
        name = re.match(r"[\w\[\]]+", text)
        if not name or name.group() not in _PRIMITIVES:
            raise ValueError(f"unsupported Arrow type at {text[:40]!r}")
        return _PRIMITIVES[name.group()], text[name.end() :]
    rest = text[match.end() :]
    fields = []
    while True:
        field_name, rest = rest.split(": ", 1)
        field_type, rest = _parse_type(rest)
        fields.append(pa.field(field_name.strip(), field_type))
        if rest.startswith(", "):
            rest = rest[2:]
            continue
        if rest.startswith(">"):
            rest = rest[1:]
            break
        raise ValueError(f"malformed Arrow type near {rest[:40]!r}")
    if match.group(1) == "struct":
        return pa.struct(fields), rest
    factory = pa.list_ if match.group(1) == "list" else pa.large_list
    return factory(fields[0]), rest


def target_schema(contract: IndexContract, result: pa.Schema) -> pa.Schema:
    """The Arrow schema an index's parquet is written with: the contract's own where it records
    one, otherwise the query result normalized to the published conventions."""
    if contract.arrow_schema:
        fields = []
        for entry in contract.arrow_schema:
            name, type_text = entry.split(": ", 1)
            fields.append(pa.field(name, parse_arrow_type(type_text)))
        return pa.schema(fields)
    return pa.schema([pa.field(f.name, normalize_type(f.type)) for f in result])


def conform(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast `array` to `target`, matching struct fields by name at every depth."""
    if array.type == target:
        return array
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        children = [conform(array.field(f.name), f.type) for f in target]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and (
        pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    ):
        # re-base the offsets, since from_arrays refuses a null mask over sliced offsets
        offsets = array.offsets.cast(pa.int64()).to_numpy()
        start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
        values = conform(array.values.slice(start, end - start), target.value_type)
        return pa.ListArray.from_arrays(
            pa.array(offsets - start, pa.int32()), values, type=target, mask=array.is_null()
        )
    return array.cast(target)


class ContractMismatch(ValueError):
    """A query result column that cannot take the contract's type."""


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for field in schema:
        column = batch.column(field.name)
        try:
            columns.append(conform(column, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError) as error:
            raise ContractMismatch(
                f"column {field.name}: the query's {column.type} does not convert to the "
                f"contract's {field.type}: {error}"
            ) from error
    return pa.RecordBatch.from_arrays(columns, schema=schema)
