# The same commands locally and in CI (.ci/run calls `make lint` and `make test`).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV ?= uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
TEST_DATABASES := todos_test budget_test

.PHONY: help install infra lint format schemas test test-unit test-contracts test-todos test-budget

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: ## install the workspace (one lockfile) into .venv
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-packages

infra: ## make sure PostgreSQL and RabbitMQ run and the databases exist
	scripts/infra.sh todos budget $(TEST_DATABASES)

lint: install ## ruff check, ruff format --check, mypy (strict)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy contracts/src services/todos/src services/budget/src tests-e2e/src

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: install ## regenerate contracts/schemas (refuses incompatible changes)
	$(RUN) contracts-schemas

test: install infra test-contracts test-todos test-budget ## every test tier

test-contracts: ## contracts: envelope, signing, schema snapshots and compatibility
	$(PYTEST) contracts/tests

test-todos: ## todos-service: unit, API and integration tests
	$(PYTEST) services/todos/tests

test-budget: ## budget-service: unit, API and integration tests
	$(PYTEST) services/budget/tests
