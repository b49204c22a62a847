# MentorHub: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.DEFAULT_GOAL := help
.PHONY: help install install-dev run serve test test-unit test-sqlite test-postgres test-load test-e2e lint format assets lock clean bench bench-load

help:
	@echo "make run      install, migrate, load demo data, serve at http://$(HOST):$(PORT)"
	@echo "make test     lint, type-check and run the whole suite (SQLite, PostgreSQL when TEST_DATABASE_URL is set, browser)"
	@echo "make serve    gunicorn with several workers (production-like)"
	@echo "make lint     ruff + mypy;  make format  ruff format"
	@echo "make assets   rebuild static/vendor from package.json (needs Node)"
	@echo "make test-load  the HTTP concurrency suite against gunicorn (SQLite + PostgreSQL)"
	@echo "make bench    print benchmark numbers (slot engine; page and booking latency; the load benchmark)"
	@echo "make bench-load  100 Locust users against gunicorn on PostgreSQL with 1M generated sessions; writes docs/BENCHMARKS.md"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) --upgrade pip setuptools
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[dev]"
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@mkdir -p instance
	$(FLASK) init-db
	$(FLASK) seed-demo --if-empty
	@echo ""
	@echo "  MentorHub is starting at http://$(HOST):$(PORT)/mentor-hub"
	@echo "  Demo accounts (sign in with the email link; mail is kept at http://$(HOST):$(PORT)/dev/mail):"
	@echo "    admin@mentorhub.test   mentor@mentorhub.test   mentee@mentorhub.test"
	@echo ""
	MENTORHUB_START_SCHEDULER=1 MENTORHUB_ENV=$${MENTORHUB_ENV:-development} $(FLASK) run --host $(HOST) --port $(PORT) --no-reload --with-threads

serve: install
	$(FLASK) init-db
	MENTORHUB_ENV=$${MENTORHUB_ENV:-production} $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-sqlite: install-dev
	MENTORHUB_TEST_DB=sqlite $(BIN)/pytest tests/unit tests/integration -p no:cacheprovider

# CI sets TEST_DATABASE_URL; locally the PostgreSQL pass runs when you set it too.
test-postgres: install-dev
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  MENTORHUB_TEST_DB=postgres $(BIN)/pytest tests/unit tests/integration -p no:cacheprovider; \
	elif [ "$$CI" = "true" ]; then \
	  echo "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL pass cannot be skipped in CI"; exit 1; \
	else \
	  echo "TEST_DATABASE_URL not set: skipping the PostgreSQL pass (CI runs it)"; \
	fi

# A real multi-worker gunicorn on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set):
# simultaneous bookings of one slot, overlapping requests, racing confirmations.
test-load: install-dev
	$(BIN)/pytest tests/load -p no:cacheprovider

test-e2e: install-dev
	$(BIN)/pytest tests/e2e -p no:cacheprovider

test: lint test-sqlite test-postgres test-load test-e2e

# Speed is measured, not asserted: these print numbers (see each script's docstring).
bench: install-dev
	$(BIN)/python scripts/bench_slots.py
	$(BIN)/python scripts/bench_pages.py
	$(BIN)/python scripts/bench_reminders.py
	$(BIN)/python scripts/bench_outbox.py
	$(BIN)/python scripts/bench_directory.py
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/python scripts/bench_directory.py --database-url "$$TEST_DATABASE_URL"; fi
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/python scripts/bench_admin.py --database-url "$$TEST_DATABASE_URL"; fi
	$(MAKE) bench-load

# issue 9: the load benchmark. PostgreSQL ($$TEST_DATABASE_URL, else the local server); the
# first run generates the program into the database mentorhub_bench (minutes), later runs
# reuse it (BENCH_ARGS=--fresh regenerates). Writes the "Load" section of docs/BENCHMARKS.md.
bench-load: install-dev
	$(BIN)/python scripts/bench_load.py --write $(BENCH_ARGS)

assets:
	npm ci
	npm run build

# issue 9: lighthouse. Page quality (performance, accessibility, best practices, SEO) of five
# pages with Lighthouse and the system Chromium; writes docs/BENCHMARKS.md. Not in `make test`.
.PHONY: lighthouse
lighthouse: install-dev
	@test -x node_modules/.bin/lighthouse || npm ci
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(BIN)/python scripts/lighthouse.py --write
# end issue 9: lighthouse

# Re-pin every package after changing pyproject.toml's dependencies.
lock: install-dev
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt.new
	{ head -3 constraints.txt; cat constraints.txt.new; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt && rm constraints.txt.new

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
