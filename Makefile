# Patron: `make run` serves the API on SQLite; `make test` runs the suite on SQLite and,
# when they answer, on PostgreSQL + Redis.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS ?= redis://127.0.0.1:6379/0

.PHONY: run test test-sqlite test-postgres seed migrate schema schema-baseline worker bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python server.py migrate
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

test: install test-sqlite test-postgres

test-sqlite: install
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
	rm -rf $(VENV) data
