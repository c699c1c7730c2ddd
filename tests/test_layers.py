"""The package's layers point one way: a lower layer never imports a higher one
(docs/architecture.md). Every import of every module counts, including those inside functions."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "idc_index_assets"

# What each part of the package may import of the package (besides itself and the bottom modules).
BOTTOM = {"settings", "failures"}
ALLOWED = {
    "settings": set(),
    "failures": set(),
    "sources": set(),
    "engines": {"sources"},
    "indices": {"engines", "sources"},
    "gdc": {"indices", "engines", "sources"},
    "releases": {"indices", "engines", "sources"},
    "sample": {"gdc", "sources"},
    "automation": {"releases", "indices", "engines", "sources"},
    "execution": set(),
    "definitions": {"automation", "execution", "releases", "gdc", "indices", "engines", "sources"},
    "cli": {"definitions", "sample", "releases", "gdc", "indices", "engines", "sources"},
}


def part_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imported_parts(source: str, relative: Path) -> set[tuple[str, int]]:
    """(part of the package, line) for every import of the package in a module's source;
    `relative` is the module's path inside the package (for relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = relative.parts[: -node.level]
                names = [".".join((*base, node.module or "")).strip(".")]
                if not base and node.module is None:
                    names = [alias.name for alias in node.names]
            elif node.module and node.module.split(".")[0] == "idc_index_assets":
                rest = node.module.split(".")[1:]
                names = [".".join(rest)] if rest else [alias.name for alias in node.names]
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [
                ".".join(alias.name.split(".")[1:])
                for alias in node.names
                if alias.name.split(".")[0] == "idc_index_assets"
            ]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names if name}
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_part_of_the_package_has_a_layer():
    assert {part_of(p) for p in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(module):
    part = part_of(module)
    forbidden = sorted(
        f"{module.relative_to(PACKAGE)}:{line} imports {target}"
        for target, line in imported_parts(module.read_text(), module.relative_to(PACKAGE))
        if target not in ALLOWED[part] | {part} | BOTTOM
    )
    assert not forbidden, f"{part} may import only {sorted(ALLOWED[part])}: {forbidden}"


def test_the_rule_sees_every_kind_of_import():
    """The check itself: absolute, relative and function-level imports are all seen."""
    source = (
        "import idc_index_assets.sample.kit\n"
        "from idc_index_assets import settings\n"
        "def f():\n"
        "    from idc_index_assets.releases import publish\n"
        "    from ..indices import registry\n"
        "    from .duckdb import DuckDBEngine\n"
    )
    found = imported_parts(source, Path("engines") / "example.py")
    assert found == {
        ("sample", 1),
        ("settings", 2),
        ("releases", 4),
        ("indices", 5),
        ("engines", 6),
    }
