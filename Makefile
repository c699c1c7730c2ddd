# The two front-door commands: `make run` (set up, generate the sample source if missing, build
# every index of its newest IDC version) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
BIGQUERY_SERVER_VENV := $(VENV)/bigquery-server
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export IDC_SOURCE_DIR ?= $(CURDIR)/data/source
export IDC_ARTIFACTS_DIR ?= $(CURDIR)/data/artifacts

.PHONY: setup setup-test sample run test test-all lint dev check-defs bench bench-full difftest

setup: $(VENV)/.installed

setup-test: setup $(BIGQUERY_SERVER_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "Installing idc-index-assets and its dependencies into $(VENV) (a minute or two the first time)"
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The BigQuery API server of the BigQuery engine tests (crucible-emulator) pins DuckDB and sqlglot
# versions of its own, so it lives in a virtual environment of its own.
$(BIGQUERY_SERVER_VENV)/.installed: tests/servers/bigquery-server-requirements.txt
	python3 -m venv $(BIGQUERY_SERVER_VENV)
	$(BIGQUERY_SERVER_VENV)/bin/pip install --quiet -r $<
	touch $@

sample: setup
	@if [ -d "$(IDC_SOURCE_DIR)/bigquery-public-data" ]; then \
		echo "source snapshot: $(IDC_SOURCE_DIR)"; \
	else \
		$(BIN)/idc-index-assets sample --out "$(IDC_SOURCE_DIR)"; \
	fi

run: sample
	$(BIN)/idc-index-assets build
	@echo
	@echo "Next:"
	@echo "  make dev                            the Dagster UI at http://127.0.0.1:3000 (Assets > idc_index)"
	@echo "  $(BIN)/idc-index-assets release  the idc-index-data wheel and the release, in data/release/"
	@echo "  make test                           the tests (docs/testing.md)"

# `make test`: one pytest worker per core (pytest-xdist), without the end-to-end tests marked slow
# (docs/testing.md lists them). `make test-all`, which CI runs: every test, in one process.
test: setup-test
	$(BIN)/python -m pytest -n auto -m "not slow"

test-all: setup-test
	$(BIN)/python -m pytest

# The differential test against BigQuery's reference implementation with many generated
# statements (the suite runs 60 with a fixed seed); DIFFTEST_SURVEY=1 lists every difference
# instead of stopping at the first, shrunk one. Prints the outcome figures (docs/engines.md).
DIFFTEST_EXAMPLES ?= 3000
difftest: setup-test
	DIFFTEST_EXAMPLES=$(DIFFTEST_EXAMPLES) $(BIN)/python -m pytest tests/engines/test_differential.py -q -s

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-defs: setup
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

dev: setup
	$(BIN)/dagster dev -w workspace.yaml

bench: sample
	$(BIN)/python benchmarks/bench_build.py

# Every index of a release of IDC v25's size (60M instances; the sources take about 12 GB in
# data/bench-full), a size sweep of idc_index and prior_versions_index, DuckDB's own COPY, and the
# checks, wheel, notes and release at that size.
bench-full: setup
	$(BIN)/python benchmarks/bench_full.py --root data/bench-full --scale 1 --sweep 0.125,0.25,0.5,1 --copy --release
