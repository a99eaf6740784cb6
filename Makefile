# The two commands a newcomer needs: `make demo` and `make test`. Each installs what it
# needs into .venv first (uv inside a plain venv: fast, reproducible resolution).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test ui lint bench clean install chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "uv<0.9"  # airbyte (PyAirbyte) pins uv<0.9
	$(BIN)/python -m uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/databuild demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 3 --dist loadfile

# UI tests screenshot the Dagster UI with Debian's Chromium (needs root or a preinstalled one)
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium"

ui: $(STAMP)
	$(BIN)/databuild ui

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .databuild test-artifacts
