"""Index queries: one BigQuery Standard SQL template per index, in the repository's `queries/`.

The SQL file is the single source of an index. Its `# table-description:` header and the
`# description:` comment above each output column of the outermost SELECT give the documentation;
the hash of the file gives the Dagster code version; the tables it reads (parsed with sqlglot)
give the lineage. The IDC version is a Jinja parameter (`{{ idc_version }}`), so a query can also
generate a per-release UNION ALL (prior_versions_index) without BigQuery scripting, and both
engines run the same rendered text. A query file may also be a BigQuery script (DECLARE, SET,
EXECUTE IMMEDIATE, CREATE TEMP TABLE, see `engines.scripting`): its final SELECT gives the
columns and their descriptions, every statement (and the source tables named in the strings it
runs) the lineage.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jinja2
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery

from idc_index_assets.engines.scripting import (
    Kind,
    ScriptError,
    Statement,
    is_script,
    parse_script,
    temp_table_names,
)
from idc_index_assets.engines.semantics import bigquery_refusals
from idc_index_assets.indices.contract import bigquery_type, index_contract, parse_arrow_type
from idc_index_assets.settings import parse_idc_version
from idc_index_assets.sources.contract import source_tables as contract_tables
from idc_index_assets.sources.contract import sql_schema
from idc_index_assets.sources.tables import SOURCE_PROJECT, SourceTable


def _queries_dir() -> Path:
    """Where the index SQL files are: `IDC_QUERIES_DIR` when set; else the copy a built package
    holds (`idc_index_assets/queries/`, packed by setup.py); else the repository's `queries/` (a
    source checkout or an editable install)."""
    if os.environ.get("IDC_QUERIES_DIR"):
        return Path(os.environ["IDC_QUERIES_DIR"])
    package = Path(__file__).resolve().parents[1]
    packed = package / "queries"
    return packed if packed.is_dir() else package.parent / "queries"


QUERIES_DIR = _queries_dir()
_VERSIONED_DATASET = re.compile(r"^idc_v\d+(?P<suffix>_clinical)?$")
_DESCRIPTION_MARKER = "description:"
_TABLE_DESCRIPTION_MARKER = "# table-description:"
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class QueryDefinitionError(ValueError):
    """A query file that cannot define an index; the message starts with `file:line:`."""


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str


@dataclass(frozen=True)
class IndexQuery:
    name: str
    path: Path
    template: str

    @cached_property
    def code_version(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()[:16]

    def render(self, idc_version: int) -> str:
        version = parse_idc_version(idc_version)
        try:
            return _JINJA.from_string(self.template).render(idc_version=version)
        except jinja2.TemplateSyntaxError as error:
            raise QueryDefinitionError(f"{self.path}:{error.lineno}: {error.message}") from error
        except jinja2.UndefinedError as error:
            raise QueryDefinitionError(f"{self.path}: {error.message}") from error

    def _statements(self, idc_version: int) -> list[Statement]:
        """The rendered query's statements: one SELECT, or a BigQuery script."""
        try:
            return parse_script(self.render(idc_version))
        except ScriptError as error:
            raise QueryDefinitionError(f"{self.path}:{error.line}: {error.message}") from error

    @cached_property
    def _script(self) -> list[Statement]:
        return self._statements(1)

    @cached_property
    def _parsed(self) -> exp.Expression:
        """The final statement, whose rows are the index (the whole query unless a script)."""
        final = self._script[-1]
        if final.kind is not Kind.QUERY:
            raise QueryDefinitionError(
                f"{self.path}:{final.line}: the last statement must be the SELECT whose rows are "
                "the index"
            )
        try:
            # parsed at its own lines, so that errors and descriptions name the file's lines
            return sqlglot.parse_one(
                "\n" * (final.line - 1) + final.text, dialect=_DocumentedBigQuery
            )
        except sqlglot.errors.ParseError as error:
            detail = error.errors[0] if error.errors else {}
            line = detail.get("line", "?")
            raise QueryDefinitionError(
                f"{self.path}:{line}: not valid BigQuery SQL: {error}"
            ) from error

    @cached_property
    def table_description(self) -> str:
        lines = self.template.splitlines()
        for number, line in enumerate(lines):
            if line.strip() == _TABLE_DESCRIPTION_MARKER:
                text = []
                for following in lines[number + 1 :]:
                    if not following.startswith("#"):
                        break
                    text.append(following.lstrip("#").strip())
                if not " ".join(text).strip():
                    raise QueryDefinitionError(f"{self.path}:{number + 1}: empty table-description")
                return " ".join(text).strip()
        raise QueryDefinitionError(
            f"{self.path}:1: missing '{_TABLE_DESCRIPTION_MARKER}' header comment"
        )

    @cached_property
    def columns(self) -> tuple[ColumnDoc, ...]:
        """Output columns of the outermost SELECT, each with its `# description:` text."""
        query = self._parsed
        if not isinstance(query, exp.Select):
            raise QueryDefinitionError(f"{self.path}:1: the outermost statement must be a SELECT")
        columns = []
        for select in query.selects:
            name = select.alias_or_name
            if not name or name == "*":
                raise QueryDefinitionError(
                    f"{self.path}:{_line_of(select)}: every output column needs a name"
                )
            # sqlglot attaches a leading comment to the item's first token, which may be nested
            comments = [c for node in select.walk() for c in (node.comments or [])]
            description = _description(comments)
            if not description:
                raise QueryDefinitionError(
                    f"{self.path}:{_line_of(select)}: output column '{name}' has no "
                    f"'# {_DESCRIPTION_MARKER}' comment"
                )
            columns.append(ColumnDoc(name, description))
        return tuple(columns)

    @cached_property
    def source_tables(self) -> tuple[SourceTable, ...]:
        """The IDC BigQuery tables the query reads, in the order they first appear (in a script:
        in any statement, or named in a string it runs with EXECUTE IMMEDIATE)."""
        found: dict[SourceTable, None] = {}
        for dataset, table in _tables_named(self._script):
            # a version placeholder (idc_v%d) stands for a release number
            match = _VERSIONED_DATASET.match(re.sub(r"%[dst]$|%[dst](?=_)", "0", dataset))
            if not match:
                raise QueryDefinitionError(
                    f"{self.path}: table {SOURCE_PROJECT}.{dataset}.{table} is not in an "
                    f"IDC release dataset (idc_v{{{{ idc_version }}}}...)"
                )
            found[SourceTable(f"idc_vNN{match['suffix'] or ''}", table)] = None
        return tuple(found)

    def tables_read(self, idc_version: int) -> tuple[tuple[str, str], ...]:
        """(dataset, table) of every IDC source table the query reads for this IDC version, e.g.
        ("idc_v25", "dicom_all"); prior_versions_index reads the dicom_all of every release. A
        table a script names in a string with a placeholder version (`idc_v%d`) counts as this
        version's."""
        found = {
            (re.sub(r"^idc_v%[dst]", f"idc_v{idc_version}", dataset), table): None
            for dataset, table in _tables_named(self._statements(idc_version))
        }
        return tuple(found)

    @cached_property
    def upstream_indices(self) -> tuple[str, ...]:
        """Other indices the query reads by bare name (e.g. tcia_idc_subset reads idc_index)."""
        trees = [statement.tree for statement in self._script]
        local = {cte.alias for tree in trees for cte in tree.find_all(exp.CTE)}
        local.update(temp_table_names(self._script))
        names = {
            table.name
            for tree in trees
            for table in tree.find_all(exp.Table)
            if not table.catalog and not table.db and table.name not in local
        }
        return tuple(sorted(names))

    def refusals(self) -> list[tuple[int | None, str]]:
        """What BigQuery would reject in the query's statements (see `bigquery_refusals`)."""
        found = []
        for statement in self._script:
            if statement.kind in (Kind.QUERY, Kind.CREATE_TEMP_TABLE):
                text = "\n" * (statement.line - 1) + statement.text
                found.extend(bigquery_refusals(text, sql_schema(1)))
        return found


# a source table named inside a string (a script's EXECUTE IMMEDIATE text), version or placeholder
_NAMED_IN_STRING = re.compile(
    r"\b" + re.escape(SOURCE_PROJECT) + r"\.(idc_v(?:\d+|%[dst])(?:_clinical)?)\.(\w+)"
)


def _tables_named(statements: list[Statement]) -> list[tuple[str, str]]:
    """(dataset, table) of the source tables the statements read or name in string literals."""
    found = []
    for statement in statements:
        for node in statement.tree.walk():
            if isinstance(node, exp.Table) and node.catalog == SOURCE_PROJECT:
                found.append((node.db, node.name))
            elif isinstance(node, exp.Literal) and node.is_string:
                found.extend(_NAMED_IN_STRING.findall(node.this))
    return found


class _DocumentedBigQuery(BigQuery):
    """BigQuery as sqlglot parses it, except that `IF(...)` keeps the comments above it (sqlglot
    drops them, and with them an output column's `# description:`)."""

    class Parser(BigQuery.Parser):
        def _parse_if(self):
            comments = self._prev_comments
            node = super()._parse_if()
            if node is not None and comments:
                node.add_comments(comments)
            return node


def _description(comments: list[str]) -> str:
    text = [comment.strip() for comment in comments]
    for position, line in enumerate(text):
        if line == _DESCRIPTION_MARKER:
            return " ".join(part for part in text[position + 1 :] if part).strip()
    return ""


def _line_of(node: exp.Expression) -> int | str:
    lines = [ident.meta["line"] for ident in node.find_all(exp.Identifier) if "line" in ident.meta]
    return min(lines) if lines else "?"


def load_query(name: str, queries_dir: Path | None = None) -> IndexQuery:
    path = (queries_dir or QUERIES_DIR) / f"{name}.sql"
    if not path.is_file():
        raise QueryDefinitionError(f"{path}:1: query file for index '{name}' not found")
    query = IndexQuery(name=name, path=path, template=path.read_text())
    # Parse everything now, so a bad file stops the definitions from loading.
    _ = query.table_description, query.columns, query.source_tables
    # SQL that BigQuery would reject must not pass here because DuckDB runs it.
    for line, message in query.refusals():
        raise QueryDefinitionError(f"{path}:{line or 1}: BigQuery refuses {message}")
    analyze_with_reference(query)
    return query


def analyze_with_reference(query: IndexQuery) -> None:
    """BigQuery's own analysis of the query (ZetaSQL's analyzer, `engines.reference`) against the
    source contract's tables: what BigQuery rejects fails here with its message, line and column,
    and each output column's type must be the published contract's (the column is named).
    Skipped where the `reference` extra (zetasql) is not installed; so is a script (its
    variables' values exist only when it runs)."""
    from idc_index_assets.engines.reference import ReferenceError, shared_engine

    engine = shared_engine()
    if engine is None or is_script(query._script):
        return
    tables = {
        name.replace("idc_vNN", "idc_v1"): schema for name, schema in contract_tables().items()
    }
    for upstream in query.upstream_indices:
        tables[upstream] = _published_schema(upstream)
    try:
        analyzed = engine.analyze(query.render(1), tables)
    except ReferenceError as error:
        where = f"{error.line}:{error.column}" if error.line else "1"
        message = re.sub(r" \[at \d+:\d+\]$", "", error.message)
        raise QueryDefinitionError(f"{query.path}:{where}: BigQuery refuses: {message}") from None
    try:
        contract = index_contract(query.name)
    except KeyError:
        return  # a query without a published contract (gdc_idc_studies)
    expected = {column.name: (column.type, column.mode) for column in contract.columns}
    for field in analyzed:
        found = bigquery_type(field.type)
        if field.name in expected and _same_type(found, expected[field.name]):
            continue
        raise QueryDefinitionError(
            f"{query.path}: column {field.name} is {' '.join(found)} in BigQuery's analysis, "
            f"the published contract has "
            f"{' '.join(expected[field.name]) if field.name in expected else 'no such column'}"
        )


# BigQuery schema files write INTEGER/FLOAT/BOOLEAN; the contract may spell them either way.
_TYPE_NAMES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}


def _same_type(found: tuple[str, str], expected: tuple[str, str]) -> bool:
    return tuple(_TYPE_NAMES.get(x, x) for x in found) == tuple(
        _TYPE_NAMES.get(x, x) for x in expected
    )


def _published_schema(index: str) -> pa.Schema:
    """An index's Arrow schema as published (for a query reading another index)."""
    contract = index_contract(index)
    return pa.schema(
        [
            pa.field(name, parse_arrow_type(text))
            for name, text in (entry.split(": ", 1) for entry in contract.arrow_schema or ())
        ]
    )
