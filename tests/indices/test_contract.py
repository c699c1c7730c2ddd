"""The output contract as data, its Arrow types, and bringing results to it without loss."""

import pyarrow as pa
import pytest

from idc_index_assets.indices.contract import (
    ContractMismatch,
    bigquery_type,
    conform,
    conform_batch,
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


@pytest.mark.parametrize(
    ("values", "source", "target"),
    [
        (["1.3.6.1", None], pa.string(), pa.large_string()),
        (["1.3.6.1", None], pa.large_string(), pa.string()),
        ([1, None, -(2**31)], pa.int32(), pa.int64()),
        ([2**32 - 1, None], pa.uint32(), pa.int64()),
        ([0.1, None], pa.float32(), pa.float64()),
        ([["a"], None, []], pa.list_(pa.string()), pa.large_list(pa.large_string())),
        ([["a"], None, []], pa.large_list(pa.string()), pa.list_(pa.field("element", pa.string()))),
        (
            [{"b": 1, "a": "x"}, None],
            pa.struct([("b", pa.int32()), ("a", pa.string())]),
            pa.struct([("a", pa.string()), ("b", pa.int64())]),
        ),
    ],
    ids=[
        "string-large_string",
        "large_string-string",
        "int32-int64",
        "uint32-int64",
        "float32-float64",
        "list-large_list",
        "large_list-list",
        "struct-field-order",
    ],
)
def test_conform_accepts_changes_that_lose_nothing(values, source, target):
    array = pa.array(values, source)
    result = conform(array, target, "x")
    assert result.type == target
    assert result.to_pylist() == array.to_pylist()


@pytest.mark.parametrize(
    ("values", "source", "target", "found", "expected"),
    [
        (["9", "10"], pa.string(), pa.int64(), "STRING (string)", "INTEGER (int64)"),
        ([1.0, 2.0], pa.float64(), pa.int64(), "FLOAT (double)", "INTEGER (int64)"),
        ([9, 10], pa.int64(), pa.large_string(), "INTEGER (int64)", "STRING (large_string)"),
        (
            [0],
            pa.timestamp("us", tz="UTC"),
            pa.large_string(),
            "TIMESTAMP (timestamp[us, tz=UTC])",
            "STRING (large_string)",
        ),
        ([2**63], pa.uint64(), pa.int64(), "INTEGER (uint64)", "INTEGER (int64)"),
        ([1], pa.int64(), pa.int32(), "INTEGER (int64)", "INTEGER (int32)"),
    ],
    ids=[
        "string-digits-int64",
        "float64-int64",
        "int64-string",
        "timestamp-string",
        "uint64",
        "narrowing",
    ],
)
def test_conform_refuses_every_other_change_naming_column_and_types(
    values, source, target, found, expected
):
    """Each of these casts succeeds in Arrow on these values, so only the refusal stops them."""
    batch = pa.record_batch([pa.array(values, source)], names=["series_init_idc_version"])
    with pytest.raises(ContractMismatch) as raised:
        conform_batch(batch, pa.schema([("series_init_idc_version", target)]))
    message = str(raised.value)
    assert message.startswith("column series_init_idc_version: ")
    assert f"the query returns {found}, the contract says {expected}" in message


def test_conform_names_the_nested_field_at_fault():
    source = pa.list_(pa.struct([("license", pa.struct([("url", pa.int64())]))]))
    target = pa.list_(pa.struct([("license", pa.struct([("url", pa.string())]))]))
    with pytest.raises(
        ContractMismatch, match=r"column sources\.license\.url: the query returns INTEGER"
    ):
        conform(pa.array([[{"license": {"url": 1}}]], source), target, "sources")
    renamed = pa.list_(pa.struct([("licence", pa.struct([("url", pa.string())]))]))
    with pytest.raises(
        ContractMismatch,
        match=r"column sources: the query's RECORD has fields \['licence'\] where the contract has \['license'\]",
    ):
        conform(pa.array([[{"licence": {"url": "u"}}]], renamed), target, "sources")
