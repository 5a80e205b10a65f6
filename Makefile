# Patron: `make run` serves the API on SQLite; `make test` runs the suite on SQLite and,
# when they answer, on PostgreSQL + Redis. With Node it first installs tests/js and
# tests/federation (npm ci).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS ?= redis://127.0.0.1:6379/0

.PHONY: run test test-sqlite test-postgres js-deps seed migrate schema schema-baseline worker bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python server.py migrate
	@echo "Merchant console: http://$${HOST:-127.0.0.1}:$${PORT:-8000}/console"
	@echo "  first owner: $(BIN)/python server.py create-staff --email you@example.com --role owner"
	@echo "  (prints a one-time password; add --password-stdin to type your own)"
	$(BIN)/python server.py serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

worker: install
	$(BIN)/python server.py worker

migrate: install
	$(BIN)/python server.py migrate

seed: install
	$(BIN)/python server.py seed

schema: install
	$(BIN)/python server.py export-schema

# At a release only: the SDL clients are promised from now on (tests/test_schema_breaking_changes.py).
schema-baseline: schema
	cp schema.graphql schema.baseline.graphql
	sed -i '/^[^#]/d' schema-breaking-changes.txt

# The two passes run side by side: the PostgreSQL pass mostly waits on the database, so on a
# 2-core machine both together take about as long as the PostgreSQL pass alone. Each pass's
# output is printed whole when it ends (--output-sync).
test: install js-deps
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# The JavaScript client tests' libraries (tests/test_js_clients.py) and the federation
# gateway's (tests/test_federation.py), from the committed lockfiles; `npm ci` runs again
# only when a package.json or package-lock.json changed.
# Without Node those tests are skipped, except in CI (CI=true), where this fails.
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed
FED_DIR := tests/federation
FED_STAMP := $(FED_DIR)/node_modules/.installed

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund
	touch $@

$(FED_STAMP): $(FED_DIR)/package.json $(FED_DIR)/package-lock.json
	cd $(FED_DIR) && npm ci --no-audit --no-fund
	touch $@

js-deps:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(JS_STAMP) $(FED_STAMP); \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "node and npm are required in CI (tests/js, tests/federation)"; exit 1; \
	else \
		echo "node/npm not found: the JavaScript client tests will be skipped"; \
	fi

test-sqlite: install js-deps
	DATABASE_URL=sqlite://:memory: REDIS_URL= $(BIN)/python -m pytest

# Runs when PostgreSQL and Redis answer; in CI (PATRON_REQUIRE_SERVICES=1) they must.
test-postgres: install
	@if $(BIN)/python tests/services_up.py "$(PG_URL)" "$(REDIS)"; then \
		DATABASE_URL="$(PG_URL)" REDIS_URL="$(REDIS)" $(BIN)/python -m pytest; \
	elif [ "$${PATRON_REQUIRE_SERVICES:-0}" = "1" ]; then \
		echo "PostgreSQL or Redis is not reachable and PATRON_REQUIRE_SERVICES=1"; exit 1; \
	else \
		echo "PostgreSQL/Redis not reachable: skipped the PostgreSQL + Redis run"; \
	fi

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data $(JS_DIR)/node_modules $(FED_DIR)/node_modules
