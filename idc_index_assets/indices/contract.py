"""The output contract: each index's columns, BigQuery types and modes, and for the indices bundled
in the wheel the exact Arrow schema, as the published idc-index-data release has them
(`data/published_contract.json`, kept in the repository as data).

Also the mapping between Arrow and BigQuery types, and `conform`, which brings query results to the
contract's Arrow representation where that loses nothing (matching struct fields by name, since
engines and sources may order nested fields differently) and refuses any other difference.
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


_GOOGLESQL_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def googlesql_type(arrow_type: pa.DataType) -> str:
    """BigQuery's GoogleSQL name of the type, nested types spelled out, e.g.
    `ARRAY<STRUCT<source_doi STRING, subjects INT64>>` (BigQuery "Data types" reference). Arrow
    types BigQuery cannot tell apart (string/large_string, int32/int64) get the same name."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"ARRAY<{googlesql_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f"{f.name} {googlesql_type(f.type)}" for f in arrow_type)
        return f"STRUCT<{fields}>"
    name, _ = bigquery_type(arrow_type)
    return _GOOGLESQL_NAMES.get(name, name)


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


class ContractMismatch(ValueError):
    """A query result column whose type is not the contract's up to a lossless representation
    change (`conform`)."""


def conform(array: pa.Array, target: pa.DataType, column: str = "") -> pa.Array:
    """`array` in the representation `target` asks for, where that loses nothing: string and
    large_string either way, a narrower integer to int64, float to double, list and large_list
    either way (whatever the item field is called), struct fields matched by name at every depth.
    Any other difference raises `ContractMismatch` naming `column` (dotted inside structs), the
    query's type and the contract's: a cast that happens to succeed (digits to INT64, FLOAT64 to
    INT64, INT64 or TIMESTAMP to STRING) would hide a query computing the wrong type."""
    source = array.type
    if source == target:
        return array
    if pa.types.is_struct(source) and pa.types.is_struct(target):
        found, expected = {f.name for f in source}, {f.name for f in target}
        if found != expected:
            raise ContractMismatch(
                f"column {column}: the query's RECORD has fields {sorted(found - expected)} "
                f"where the contract has {sorted(expected - found)}"
            )
        children = [conform(array.field(f.name), f.type, f"{column}.{f.name}") for f in target]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if _is_list(source) and _is_list(target):
        # re-base the offsets, since from_arrays refuses a null mask over sliced offsets
        offsets = array.offsets.cast(pa.int64()).to_numpy()
        start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
        values = conform(array.values.slice(start, end - start), target.value_type, column)
        factory, offset_type = (
            (pa.LargeListArray, pa.int64())
            if pa.types.is_large_list(target)
            else (pa.ListArray, pa.int32())
        )
        return factory.from_arrays(
            pa.array(offsets - start, offset_type), values, type=target, mask=array.is_null()
        )
    if _is_lossless(source, target):
        return array.cast(target)
    raise _mismatch(column, source, target)


def _is_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)


def _is_lossless(source: pa.DataType, target: pa.DataType) -> bool:
    strings = (pa.types.is_string, pa.types.is_large_string)
    if any(p(source) for p in strings) and any(p(target) for p in strings):
        return True
    if target == pa.int64() and pa.types.is_integer(source):
        return pa.types.is_signed_integer(source) or source.bit_width < 64
    return target == pa.float64() and pa.types.is_floating(source)


def _mismatch(column: str, source: pa.DataType, target: pa.DataType) -> ContractMismatch:
    return ContractMismatch(
        f"column {column}: the query returns {_described(source)}, the contract says "
        f"{_described(target)}; only lossless representation changes are made (string and "
        "large_string, a narrower integer to INT64, list and large_list, struct field order): "
        "fix the query's type or, if the change is meant, the contract "
        f"(idc_index_assets/data/{CONTRACT_FILE})"
    )


def _described(arrow_type: pa.DataType) -> str:
    try:
        name, mode = bigquery_type(arrow_type)
    except TypeError:
        return str(arrow_type)
    return f"{name}{' REPEATED' if mode == 'REPEATED' else ''} ({arrow_type})"


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` in the representation of `schema`, column by column (`conform`)."""
    columns = [conform(batch.column(f.name), f.type, f.name) for f in schema]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
