"""BigQuery scripts in a query file: the subset both engines run.

A query file may be a BigQuery script (multi-statement query) instead of one SELECT:

- `DECLARE name[, ...] [TYPE] [DEFAULT expr]`;
- `SET name = expr`, `SET name = (SELECT ...)`, `SET (a, b) = (SELECT AS STRUCT ...)`;
- `EXECUTE IMMEDIATE <string expression>` (built with FORMAT, CONCAT or `||`);
- `CREATE TEMP TABLE t AS SELECT ...`;
- and, last, the SELECT whose rows are the index.

Control flow and procedures (IF, LOOP, WHILE, REPEAT, FOR, BEGIN ... [EXCEPTION ...] END, CALL,
RAISE, RETURN, ...) are refused with the statement's line: the DuckDB engine runs a script
statement by statement, which is the whole of what this subset needs.

https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.tokens import TokenType


class ScriptError(ValueError):
    """A script statement outside the subset the engines run, at `line` (1-based)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line, self.message = line, message


class Kind(Enum):
    DECLARE = "DECLARE"
    SET = "SET"
    EXECUTE_IMMEDIATE = "EXECUTE IMMEDIATE"
    CREATE_TEMP_TABLE = "CREATE TEMP TABLE"
    QUERY = "query"


@dataclass(frozen=True)
class Statement:
    """One statement of a script: where it starts (1-based line), its text and parse tree (for
    EXECUTE IMMEDIATE: the string expression)."""

    line: int
    text: str
    kind: Kind
    tree: exp.Expression


# The first words of the statements the subset leaves out.
_REFUSED = {
    "IF",
    "LOOP",
    "WHILE",
    "REPEAT",
    "FOR",
    "BEGIN",
    "CALL",
    "RAISE",
    "RETURN",
    "BREAK",
    "LEAVE",
    "CONTINUE",
    "ITERATE",
    "CASE",
    "EXCEPTION",
    "END",
    "ASSERT",
}


def split_statements(sql: str) -> list[tuple[int, str]]:
    """The script's statements as (line, text), split at the semicolons between them."""
    tokens = BigQuery().tokenize(sql)
    statements, start = [], None
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if start is not None:
                statements.append((start.line, sql[start.start : token.start].strip()))
            start = None
        elif start is None:
            start = token
    if start is not None:
        statements.append((start.line, sql[start.start :].strip()))
    return statements


def parse_script(sql: str) -> list[Statement]:
    """The statements of a BigQuery script (a single query is a script of one statement).
    Raises ScriptError naming the line of a statement outside the subset."""
    return [_parse_statement(line, text) for line, text in split_statements(sql)]


def is_script(statements: list[Statement]) -> bool:
    return len(statements) != 1 or statements[0].kind is not Kind.QUERY


def _parse_statement(line: int, text: str) -> Statement:
    words = text.split(None, 2)
    first = words[0].upper() if words else ""
    if first in _REFUSED:
        raise ScriptError(
            line,
            f"{first} statements are not supported in a query file (the script "
            "subset is DECLARE, SET, EXECUTE IMMEDIATE, CREATE TEMP TABLE and a final SELECT)",
        )
    if first == "EXECUTE":
        if len(words) < 3 or words[1].upper() != "IMMEDIATE":
            raise ScriptError(line, "EXECUTE must be EXECUTE IMMEDIATE <string expression>")
        if re.search(r"\b(INTO|USING)\b", words[2], re.IGNORECASE) and not _is_expression(words[2]):
            raise ScriptError(
                line, "EXECUTE IMMEDIATE ... INTO/USING is not supported in a query file"
            )
        return Statement(line, text, Kind.EXECUTE_IMMEDIATE, _parse(line, words[2]))
    tree = _parse(line, text)
    if isinstance(tree, exp.Declare):
        return Statement(line, text, Kind.DECLARE, tree)
    if isinstance(tree, exp.Set):
        return Statement(line, text, Kind.SET, tree)
    if isinstance(tree, exp.Create):
        temporary = any(
            isinstance(p, exp.TemporaryProperty)
            for p in (tree.args.get("properties") or exp.Properties()).expressions
        )
        if tree.kind != "TABLE" or not temporary or not isinstance(tree.expression, exp.Query):
            raise ScriptError(
                line, "only CREATE TEMP TABLE <name> AS SELECT ... is supported in a query file"
            )
        return Statement(line, text, Kind.CREATE_TEMP_TABLE, tree)
    if isinstance(tree, exp.Query):
        return Statement(line, text, Kind.QUERY, tree)
    raise ScriptError(line, f"{first} statements are not supported in a query file")


def _is_expression(text: str) -> bool:
    try:
        sqlglot.parse_one(text, read="bigquery")
    except sqlglot.errors.ParseError:
        return False
    return True


def _parse(line: int, text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, read="bigquery")
    except sqlglot.errors.ParseError as error:
        detail = error.errors[0] if error.errors else {}
        at = line + int(detail.get("line", 1)) - 1
        raise ScriptError(at, f"not valid BigQuery SQL: {error}") from error
    if isinstance(tree, exp.Command):
        raise ScriptError(line, f"{tree.name} statements are not supported in a query file")
    return tree


def declared_names(statements: list[Statement]) -> list[str]:
    """The script's variables, lower case (BigQuery variable names ignore case)."""
    return [
        name.name.lower()
        for statement in statements
        if statement.kind is Kind.DECLARE
        for item in statement.tree.expressions
        for name in item.this
    ]


_CREATES_TEMP_TABLE = re.compile(r"\bCREATE\s+TEMP(?:ORARY)?\s+TABLE\s+`?(\w+)", re.IGNORECASE)


def temp_table_names(statements: list[Statement]) -> list[str]:
    """The temporary tables the script creates: with CREATE TEMP TABLE, or with one written in a
    string that EXECUTE IMMEDIATE runs."""
    names = []
    for statement in statements:
        if statement.kind is Kind.CREATE_TEMP_TABLE:
            names.append(statement.tree.this.name)
        elif statement.kind is Kind.EXECUTE_IMMEDIATE:
            for literal in statement.tree.find_all(exp.Literal):
                if literal.is_string:
                    names.extend(_CREATES_TEMP_TABLE.findall(literal.this))
    return names
