"""The output contract as data, its Arrow types, and casting results onto it."""

import pyarrow as pa
import pytest

from idc_index_assets.indices.contract import (
    bigquery_type,
    conform,
    index_contract,
    normalize_type,
    parse_arrow_type,
    target_schema,
)
from idc_index_assets.indices.registry import INDICES


@pytest.mark.parametrize("spec", INDICES, ids=lambda s: s.name)
def test_every_registered_index_has_a_typed_contract(spec):
    contract = index_contract(spec.name)
    assert contract.columns and all(c.type and c.mode for c in contract.columns)
    assert set(spec.primary_key) <= set(contract.column_names)
    for reference in spec.references:
        assert reference.column in contract.column_names
        assert reference.target_column in index_contract(reference.index).column_names


def test_bundled_indices_have_their_published_arrow_schema():
    bundled = {spec.name for spec in INDICES if spec.in_wheel}
    assert bundled == {
        "idc_index",
        "prior_versions_index",
        "collections_index",
        "analysis_results_index",
        "version_metadata_index",
    }
    for name in bundled:
        contract = index_contract(name)
        schema = target_schema(contract, pa.schema([]))
        assert [f"{f.name}: {f.type}" for f in schema] == list(contract.arrow_schema)
        # the BigQuery view of the Arrow schema agrees with the recorded types and modes
        assert [bigquery_type(f.type) for f in schema] == [
            (c.type, c.mode) for c in contract.columns
        ]


def test_supplementary_file_inherits_types_from_its_source_index():
    subset = {c.name: c for c in index_contract("tcia_idc_subset").columns}
    main = {c.name: c for c in index_contract("idc_index").columns}
    assert subset["series_size_MB"] == main["series_size_MB"]
    assert index_contract("tcia_idc_subset").supplementary


def test_unknown_index_is_a_clear_error():
    with pytest.raises(KeyError, match="'nope' is not in the output contract"):
        index_contract("nope")


def test_parse_arrow_type_round_trips_nested_types():
    text = "list<element: struct<a: string, b: struct<c: int64>, d: list<element: double>>>"
    assert str(parse_arrow_type(text)) == text
    with pytest.raises(ValueError, match="unsupported Arrow type"):
        parse_arrow_type("decimal128(10, 2)")


def test_normalize_follows_published_conventions():
    source = pa.struct([("x", pa.large_string()), ("n", pa.int32())])
    assert normalize_type(pa.string()) == pa.large_string()
    assert normalize_type(source) == pa.struct([("x", pa.string()), ("n", pa.int64())])
    assert normalize_type(pa.list_(pa.decimal128(10, 2))) == pa.list_(
        pa.field("element", pa.float64())
    )


def test_conform_matches_struct_fields_by_name_and_keeps_nulls():
    values = pa.array(
        [[{"b": 1, "a": "x"}], None, [{"b": 2, "a": "z"}, None], []],
        pa.list_(pa.struct([("b", pa.int32()), ("a", pa.large_string())])),
    ).slice(1)
    target = pa.list_(pa.field("element", pa.struct([("a", pa.string()), ("b", pa.int64())])))
    result = conform(values, target)
    assert result.type == target
    assert result.to_pylist() == [None, [{"a": "z", "b": 2}, None], []]


def test_bigquery_type_of_repeated_and_unknown_types():
    assert bigquery_type(pa.list_(pa.string())) == ("STRING", "REPEATED")
    assert bigquery_type(pa.struct([("a", pa.bool_())])) == ("RECORD", "NULLABLE")
    with pytest.raises(TypeError, match="no BigQuery type"):
        bigquery_type(pa.duration("s"))
