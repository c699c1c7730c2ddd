"""Query files: annotations, rendering, lineage, and the errors a bad file gets."""

from pathlib import Path

import pytest
import sqlglot

from idc_index_assets.indices.contract import index_contract
from idc_index_assets.indices.queries import (
    QUERIES_DIR,
    QueryDefinitionError,
    load_query,
    parse_idc_version,
)
from idc_index_assets.indices.registry import INDICES


@pytest.mark.parametrize("spec", INDICES, ids=lambda s: s.name)
def test_every_query_documents_exactly_the_contract_columns(spec):
    query = load_query(spec.name)
    assert [c.name for c in query.columns] == index_contract(spec.name).column_names
    assert all(len(c.description) > 10 for c in query.columns)
    assert len(query.table_description) > 40


@pytest.mark.parametrize("spec", INDICES, ids=lambda s: s.name)
def test_rendered_queries_read_only_the_requested_release(spec):
    sql = load_query(spec.name).render(7)
    datasets = {
        t.db for t in sqlglot.parse_one(sql, read="bigquery").find_all(sqlglot.exp.Table) if t.db
    }
    if spec.name == "prior_versions_index":
        assert datasets == {f"idc_v{n}" for n in range(1, 8)}
    else:
        assert datasets <= {"idc_v7", "idc_v7_clinical"}


def test_lineage_comes_from_the_sql():
    assert {t.table for t in load_query("idc_index").source_tables} == {
        "dicom_all",
        "dicom_metadata_curated",
        "auxiliary_metadata",
    }
    assert load_query("tcia_idc_subset").upstream_indices == ("idc_index",)
    assert load_query("tcia_idc_subset").source_tables == ()


def test_code_version_follows_the_file(tmp_path):
    text = Path(load_query("version_metadata_index").path).read_text()
    (tmp_path / "version_metadata_index.sql").write_text(text)
    same = load_query("version_metadata_index", tmp_path).code_version
    (tmp_path / "version_metadata_index.sql").write_text(text.replace("ORDER BY", "ORDER  BY"))
    changed = load_query("version_metadata_index", tmp_path).code_version
    assert same == load_query("version_metadata_index").code_version
    assert changed != same


@pytest.mark.parametrize("value", ["0", "-3", "3.5", "v3", "", "3; DROP TABLE x", True, None])
def test_idc_version_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match="positive integer"):
        parse_idc_version(value)
    with pytest.raises(ValueError, match="positive integer"):
        load_query("idc_index").render(value)


def test_idc_version_accepts_integers_and_digit_strings():
    assert parse_idc_version("25") == 25
    assert parse_idc_version(3) == 3


GOOD = """# table-description:
# A table.
SELECT
  # description:
  # the first column
  SeriesInstanceUID AS a,
  # description:
  # the second column
  StudyInstanceUID AS b
FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
"""


def _write(tmp_path, text, name="probe"):
    (tmp_path / f"{name}.sql").write_text(text)
    return lambda: load_query(name, tmp_path)


def test_a_well_formed_file_loads(tmp_path):
    query = _write(tmp_path, GOOD)()
    assert [(c.name, c.description) for c in query.columns] == [
        ("a", "the first column"),
        ("b", "the second column"),
    ]
    assert query.table_description == "A table."


def test_a_column_written_as_if_keeps_its_description(tmp_path):
    query = _write(tmp_path, GOOD.replace("  a,", "  IF(a > 0, 'M', 'R') AS a,"))()
    assert query.columns[0].description == "the first column"


def test_missing_table_description_names_the_file(tmp_path):
    load = _write(tmp_path, GOOD.replace("# table-description:\n# A table.\n", ""))
    with pytest.raises(QueryDefinitionError, match=r"probe\.sql:1: missing '# table-description:'"):
        load()


def test_undescribed_column_names_file_line_and_column(tmp_path):
    text = GOOD.replace("  # description:\n  # the second column\n", "")
    with pytest.raises(QueryDefinitionError, match=r"probe\.sql:7: output column 'b' has no"):
        _write(tmp_path, text)()


def test_table_outside_a_release_dataset_is_refused(tmp_path):
    text = GOOD.replace("idc_v{{ idc_version }}", "idc_current")
    with pytest.raises(
        QueryDefinitionError, match=r"idc_current\.dicom_all is not in an IDC release"
    ):
        _write(tmp_path, text)()


def test_template_syntax_error_names_file_and_line(tmp_path):
    text = GOOD.replace("FROM", "{% if %}\nFROM")
    with pytest.raises(QueryDefinitionError, match=r"probe\.sql:\d+:"):
        _write(tmp_path, text)()


def test_missing_query_file(tmp_path):
    with pytest.raises(QueryDefinitionError, match="query file for index 'nope' not found"):
        load_query("nope", tmp_path)


# What BigQuery refuses is refused when the file loads, with its line, even though DuckDB runs it.
# https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#orderable_data_types
# https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#groupable_data_types

REFUSABLE = """# table-description:
# A table.
SELECT
  # description:
  # the first column
  a,
  # description:
  # the second column
  b
FROM (
  SELECT SeriesInstanceUID AS a, PixelSpacing AS b, STRUCT(ImageType AS types) AS s, Modality
  FROM `bigquery-public-data.idc_v{{ idc_version }}.dicom_all`
)
"""


def test_order_by_an_array_is_refused_with_its_line(tmp_path):
    # PixelSpacing is a REPEATED column of the source contract: an ARRAY
    load = _write(tmp_path, REFUSABLE + "ORDER BY\n  b\n")
    with pytest.raises(
        QueryDefinitionError, match=r"probe\.sql:15: BigQuery refuses ORDER BY over an ARRAY"
    ):
        load()


def test_group_by_an_array_is_refused(tmp_path):
    load = _write(tmp_path, REFUSABLE + "GROUP BY a, b\n")
    with pytest.raises(
        QueryDefinitionError, match=r"probe\.sql:14: BigQuery refuses GROUP BY over an ARRAY"
    ):
        load()


def test_distinct_over_a_struct_holding_an_array_is_refused(tmp_path):
    text = REFUSABLE.replace("SELECT\n", "SELECT DISTINCT\n", 1).replace(
        "  b\nFROM", "  s AS b\nFROM"
    )
    with pytest.raises(
        QueryDefinitionError,
        match=r"probe\.sql:\d+: BigQuery refuses SELECT DISTINCT over an ARRAY",
    ):
        _write(tmp_path, text)()


def test_an_ordinal_in_an_aggregate_order_by_is_refused(tmp_path):
    text = REFUSABLE.replace("  a,\n", "  STRING_AGG(a, ',' ORDER BY 1) AS a,\n", 1)
    text = text.replace("  b\nFROM", "  ANY_VALUE(Modality) AS b\nFROM")
    with pytest.raises(
        QueryDefinitionError,
        match=r"probe\.sql:6: BigQuery refuses an ordinal in an aggregate's ORDER BY",
    ):
        _write(tmp_path, text)()


def test_an_aggregate_ordered_by_an_array_is_refused(tmp_path):
    text = REFUSABLE.replace("  a,\n", "  ARRAY_AGG(a ORDER BY b) AS a,\n", 1)
    text = text.replace("  b\nFROM", "  ANY_VALUE(Modality) AS b\nFROM")
    with pytest.raises(
        QueryDefinitionError,
        match=r"probe\.sql:6: BigQuery refuses an aggregate's ORDER BY over an ARRAY",
    ):
        _write(tmp_path, text)()


def test_ordering_and_grouping_by_scalars_beside_arrays_loads(tmp_path):
    load = _write(tmp_path, REFUSABLE + "ORDER BY a, ARRAY_LENGTH(b)\n")
    assert [column.name for column in load().columns] == ["a", "b"]


def test_what_bigquerys_analyzer_rejects_fails_at_load_with_line_and_column(tmp_path):
    text = GOOD.replace("StudyInstanceUID AS b", "StudyInstanceUID = NULL AS b")
    with pytest.raises(
        QueryDefinitionError,
        match=r"probe\.sql:9:22: BigQuery refuses: Operands of = cannot be literal NULL",
    ):
        _write(tmp_path, text)()


def test_an_output_type_other_than_the_contracts_names_the_column(tmp_path):
    name = "collections_index"
    text = (QUERIES_DIR / f"{name}.sql").read_text()
    changed = text.replace("  collection_id,\n", "  LENGTH(collection_id) AS collection_id,\n", 1)
    assert changed != text
    with pytest.raises(QueryDefinitionError, match="column collection_id is INTEGER NULLABLE"):
        _write(tmp_path, changed, name)()
