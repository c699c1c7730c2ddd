"""Packs the index SQL into the built package. The query files stay in `queries/` at the
repository root, where a reader looks for them; a wheel (built directly or from the sdist, which
carries `queries/` through MANIFEST.in) holds them as `idc_index_assets/queries/*.sql`, where
`idc_index_assets.indices.queries` finds them in an installed package. An editable install reads
the repository's `queries/` directly, so nothing is copied for it. Everything else about the
package is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

QUERIES = Path(__file__).resolve().parent / "queries"


class BuildPyWithQueries(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "idc_index_assets" / "queries"
        self.mkpath(str(target))
        for query in sorted(QUERIES.glob("*.sql")):
            self.copy_file(str(query), str(target / query.name))


setup(cmdclass={"build_py": BuildPyWithQueries})
