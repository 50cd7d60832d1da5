# Puhui: two commands set everything up on a fresh Debian machine with Python 3.11.
#   make run   — install, migrate the embedded SQLite database, load demo data, serve on :8000
#   make test  — install, lint, type-check, run every test tier (SQLite + PostgreSQL + browser)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install lint typecheck system-deps unit integration e2e bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo 'installing python3-venv'; apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@bash scripts/ensure-system-deps.sh fonts
	$(BIN)/puhui db upgrade
	$(BIN)/puhui demo load
	@echo "Puhui on http://$(HOST):$(PORT)  — portal /  · console /console  · API docs /docs"
	$(BIN)/puhui serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

system-deps:
	@bash scripts/ensure-system-deps.sh

test: $(STAMP) system-deps lint typecheck
	bash scripts/with-postgres.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
