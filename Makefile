# The two commands a newcomer needs: `make demo` and `make test`. Each installs what it
# needs into .venv first (uv inside a plain venv: fast, reproducible resolution).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test ui lint bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/python -m uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/databuild demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

ui: $(STAMP)
	$(BIN)/databuild ui

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .databuild test-artifacts
