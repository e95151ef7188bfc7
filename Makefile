# The two entry points (README): `make run` and `make test`. Both set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export RELAPSE_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test test-fast install lint typecheck contracts pytest os-deps benchmarks docs clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on this machine) nothing else writes .pyc files, and
# every process, each scoring worker included, would compile its imports from source at start.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --compile-bytecode
	touch $@

install: $(VENV)/.synced

## OS packages the tests need (PostgreSQL, Chromium, CJK fonts); idempotent.
os-deps:
	./scripts/os-deps.sh

run: install
	$(BIN)/relapse demo
	$(BIN)/relapse serve

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

# The suite's files stay under .pytest-tmp, where a scan checks that no ID number was written in clear.
pytest: install os-deps
	url="$$(./scripts/start-postgres.sh)" && RELAPSE_TEST_POSTGRES_URL="$$url" \
		$(BIN)/pytest -n 2 --dist loadgroup --basetemp=$(CURDIR)/.pytest-tmp
	$(BIN)/python scripts/pii_scan.py $(CURDIR)/.pytest-tmp

test: lint typecheck contracts pytest

## The inner loop: lint, then the tests marked neither slow nor integration (no PostgreSQL, browser or Dask
## cluster), in parallel. `make test` (CI) still runs everything.
test-fast: lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow and not integration"

benchmarks: install
	$(BIN)/python -m benchmarks

docs: install
	$(BIN)/relapse docs

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
