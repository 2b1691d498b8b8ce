# Pixline: `make run` starts everything, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# `make test` leaves out the docs suite (a fresh copy's `make run` and every Markdown example, ~4 minutes): CI runs
# it first, alone, and `make test-docs` runs it here. Any PYTEST_ARGS given replace this default.
PYTEST_ARGS ?= -m "not docs"

.PHONY: run test test-docs lint format bench bench-quick dashboard clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.bench: bench/requirements.txt $(VENV)/.runtime
	$(PIP) install --quiet -r bench/requirements.txt
	touch $@

run: $(VENV)/.runtime ## Start web, workers and (unless REDIS_URL is set) a private Redis.
	$(PY) -m app.stack

test: $(VENV)/.dev ## Lint, then the test suite (all but the docs suite, unless PYTEST_ARGS says otherwise).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

test-docs: $(VENV)/.dev ## A fresh copy of this tree: `make run` on a runtime-only .venv, then every Markdown example.
	$(PY) -m pytest -m docs

dashboard: $(VENV)/.runtime ## rq-dashboard alone against REDIS_URL, else make run's Redis (JSON serializer, Basic auth from DASHBOARD_*).
	$(PY) -m app.stack dashboard

bench: $(VENV)/.bench ## The benchmark suite: four tables side by side with their references, JSON in bench/results/.
	$(PY) -m bench.run

bench-quick: $(VENV)/.bench ## The same suite, small (2 photos, 1 round): what CI runs so it cannot rot.
	$(PY) -m bench.run --quick

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
