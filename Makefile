# The two front-door commands: `make run` (set up, generate the sample source if missing, build
# every index of its newest IDC version) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export IDC_SOURCE_DIR ?= $(CURDIR)/data/source
export IDC_ARTIFACTS_DIR ?= $(CURDIR)/data/artifacts

.PHONY: setup sample run test lint dev check-defs bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

sample: setup
	@if [ -d "$(IDC_SOURCE_DIR)/bigquery-public-data" ]; then \
		echo "source snapshot: $(IDC_SOURCE_DIR)"; \
	else \
		$(BIN)/idc-index-assets sample --out "$(IDC_SOURCE_DIR)"; \
	fi

run: sample
	$(BIN)/idc-index-assets build

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-defs: setup
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

dev: setup
	$(BIN)/dagster dev -w workspace.yaml

bench: sample
	$(BIN)/python benchmarks/bench_build.py
