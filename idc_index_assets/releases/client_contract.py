"""The columns the `idc-index` client reads: a contract no release may break.

`data/client_contract.json` records, per index the client uses, each column its source names and
the client functions that name it. It is derived from the client's own source (`derive`, on
`idc_index/index.py` of the release it names) and a test derives it again from the client
installed from PyPI, so the stored list cannot drift from the code. The derivation is
deliberately wide: a column counts when its name occurs in a string of the function (a pandas
column key, a DuckDB SQL text, a column list; not its docstring) and the index has a column of that name in the
published contract; the indices are `idc_index` (the client's `self.index`) and those whose name
occurs anywhere in the client's source.
"""

import ast
import json
import re
from functools import cache
from pathlib import Path

from idc_index_assets.indices.registry import INDICES

CLIENT_CONTRACT = Path(__file__).resolve().parent.parent / "data" / "client_contract.json"
CLIENT_SOURCE = "idc_index/index.py"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAIN_INDEX = "idc_index"


def _strings(node: ast.AST) -> set[str]:
    """Every identifier-like word in the string constants under `node`, docstrings (and other
    bare string statements) left out: they describe, they do not read."""
    prose = {
        id(child.value)
        for child in ast.walk(node)
        if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant)
    }
    words: set[str] = set()
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Constant)
            and isinstance(child.value, str)
            and id(child) not in prose
        ):
            words.update(_NAME.findall(child.value))
    return words


def _functions(tree: ast.Module) -> dict[str, set[str]]:
    """`Class.method` (or `function`) → the words of its strings."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found[f"{prefix}{child.name}"] = _strings(child)

    visit(tree, "")
    return found


def derive(source: str, client: str, index_columns: dict[str, list[str]]) -> dict:
    """The contract of the client whose `idc_index/index.py` is `source` (`client`: its name and
    version, e.g. `idc-index 0.13.4`), over the indices and columns of `index_columns`:
    `{"client": ..., "source": ..., "indices": {index: {column: [function, ...]}}}`."""
    tree = ast.parse(source)
    functions = _functions(tree)
    everywhere = _strings(tree)
    used = [name for name in index_columns if name == _MAIN_INDEX or name in everywhere]
    indices: dict[str, dict[str, list[str]]] = {}
    for index in sorted(used):
        columns = {
            column: sorted(name for name, words in functions.items() if column in words)
            for column in index_columns[index]
        }
        indices[index] = {column: names for column, names in columns.items() if names}
    return {"client": client, "source": CLIENT_SOURCE, "indices": indices}


def published_columns() -> dict[str, list[str]]:
    """Each index of the registry → its contract's column names."""
    return {spec.name: spec.contract.column_names for spec in INDICES}


@cache
def client_contract() -> dict:
    return json.loads(CLIENT_CONTRACT.read_text())


def client_uses(index: str, column: str) -> list[str]:
    """The client functions that read `index.column` (empty: the client does not)."""
    return client_contract()["indices"].get(index, {}).get(column, [])
