# Seams: `make run` serves the reference shop and keeps the outbox relay going beside it
# (`manage.py serve`: runserver plus a relay thread); `make test` runs every check and test:
# ruff, importlinter.ini as lint-config writes it, lint-imports (the seams boundary contract), manage.py check, pytest.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed
# Development and the tests run with DEBUG on (development keys and SECRET_KEY generated into var/);
# the settings default is off, and production sets SECRET_KEY and the token keys (docs/security.md).
DEBUG  ?= true
export DEBUG

.PHONY: run test install lint check migrate seed clean bench bench-outbox bench-transports bench-events bench-boundaries browser console-screenshot

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,otel]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate_modules

seed: migrate
	$(BIN)/python manage.py seed_shop --if-empty

run: seed
	@echo "Development tokens for the README's curl lines (valid a day; eval this in your shell):"
	@$(BIN)/python manage.py dev_tokens
	$(BIN)/python manage.py serve 127.0.0.1:$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py modules lint-config --check
	$(BIN)/lint-imports importlinter.ini
	$(BIN)/python manage.py contracts check

check: install
	$(BIN)/python manage.py check --fail-level WARNING

# PYTEST_ARGS narrows the run, e.g. PYTEST_ARGS='-m "not own_stack"' skips the tests that always
# build their own PostgreSQL database and Redis (fault tests, extracted services): CI runs them once.
# PYTEST_WORKERS: pytest-xdist workers, one test file each at a time, the files that start real
# processes first (tests/support/xdist_plan.py); most of the time is spent waiting on those
# processes, so two workers on two cores take about half the wall time. 0 runs in one process.
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
test: lint check browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The operator console's browser test drives Debian's chromium through chromium-driver (Selenium,
# no browser download): installed here when absent (needs root or sudo-less apt, as in CI).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

# Regenerate docs/console.png (the README's screenshot) from the browser test's real run.
console-screenshot: install browser
	SEAMS_CONSOLE_SCREENSHOT=docs/console.png $(BIN)/python -m pytest tests/e2e/test_console_browser.py -q

# Benchmarks: bench-outbox needs PostgreSQL at 127.0.0.1:5432 (user postgres), bench-transports Redis at
# 127.0.0.1:6379 (its database 7); they write bench/RESULTS-outbox.md and bench/RESULTS.md. bench-events
# (hand-written vs Seams events, per-order costs, the whole shop) needs both (Redis database 11) and
# writes bench/RESULTS-events.md; `.venv/bin/python -m bench.events --quick` is the short run.
bench: bench-outbox bench-transports bench-events

bench-outbox: install
	$(BIN)/python -m bench.outbox_claim

bench-transports: install
	$(BIN)/python -m bench.transports

bench-events: install
	$(BIN)/python -m bench.events

# The whole boundary gate (lint-imports with the seams contract, plus manage.py check's Seams checks) vs
# `tach check` on synthetic projects of 25-200 modules (bench/synthetic.py), warm and cold; writes
# bench/RESULTS-boundaries.md. No services needed.
bench-boundaries: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.boundaries

clean:
	rm -rf var/*.sqlite3 .pytest_cache
