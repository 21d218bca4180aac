# fastmango: `make run` sets up and serves the app; `make test` sets up and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev system-deps assets assets-watch migrate seed lint typecheck pytest format clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive for real: Redis for the shared-state paths, Chromium for
# the browser tests (Playwright drives /usr/bin/chromium; no browser download).
SYSTEM_DEPS := redis-server chromium

run: setup assets ## Set up, migrate, seed demo data and serve http://127.0.0.1:8000 on SQLite
	$(BIN)/python manage.py migrate
	$(BIN)/python manage.py seed
	$(BIN)/python manage.py runserver --host $(HOST) --port $(PORT)

test: setup-dev system-deps assets lint typecheck pytest ## Set up and run lint, types and the suite (SQLite + PostgreSQL)

setup: $(VENV)/.base-installed
setup-dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8

# Installs exactly the locked versions; re-runs only when a lock file changes.
$(VENV)/.base-installed: requirements/base.lock | $(VENV)/bin/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/base.lock
	touch $@

$(VENV)/.dev-installed: requirements/dev.lock | $(VENV)/bin/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	touch $(VENV)/.base-installed $@

# Front-end files from the npm registry (lock file): Tailwind + daisyUI CSS built from the
# templates, htmx, Alpine and our scripts, with content hashes, into static/dist (about 1 s).
assets: node_modules/.package-lock.json
	node scripts/build-assets.mjs

assets-watch: node_modules/.package-lock.json ## Rebuild static/dist whenever a template, style or script changes
	node scripts/build-assets.mjs --watch

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

system-deps:
	@missing=""; for bin in $(SYSTEM_DEPS); do command -v $$bin >/dev/null || missing="$$missing $$bin"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

migrate: setup
	$(BIN)/python manage.py migrate

seed: setup
	$(BIN)/python manage.py seed

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup-dev
	$(BIN)/mypy .

pytest: setup-dev
	$(BIN)/pytest

.PHONY: bench
bench: setup-dev ## Benchmark the app against a bare FastAPI ceiling with wrk (SQLite + PostgreSQL); writes bench/results.md
	$(BIN)/python bench/run.py --db both $(BENCH_ARGS)

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: setup-dev ## Re-resolve the lock files from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -q -o requirements/base.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements/dev.lock

clean:
	rm -rf $(VENV) node_modules static/dist .mypy_cache .ruff_cache .pytest_cache
