# The two commands a newcomer needs: `make demo` and `make test`. Each installs what it
# needs into .venv first (uv inside a plain venv: fast, reproducible resolution).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast ui lint bench clean install chromium

install: $(STAMP)

# --compile-bytecode: every databuild, dbt and Dagster process starts from .pyc files even
# where nothing may write them (PYTHONDONTWRITEBYTECODE=1, common in containers): without
# them a null `databuild demo` took ~2-7 s and an added day ~35-85 s instead of <1 s / ~20 s
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "uv<0.9"  # airbyte (PyAirbyte) pins uv<0.9
	$(BIN)/python -m uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/databuild demo

# the whole suite; test files run side by side, one file per worker (tests/conftest.py hands
# out the longest files first)
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 3 --dist loadfile

# the pure tier (tests/unit, marker `unit`): no Dagster run, dbt, subprocess or server; < 1 min
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m unit tests/unit

# UI tests screenshot the Dagster UI with Debian's Chromium (needs root or a preinstalled one)
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium"

ui: $(STAMP)
	$(BIN)/databuild ui

# ruff, the layer contracts (.importlinter, docs/architecture.md) and no import cycle at all
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python tools/import_graph.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .databuild test-artifacts
