# Marketplace — `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
COMPOSE := $(shell command -v docker-compose >/dev/null && echo docker-compose || echo docker compose) -f deploy/docker-compose.yml

.DEFAULT_GOAL := help
.PHONY: help venv deps-run deps-test deps-compose run test test-compose lint fmt migrate bench up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## create the virtual environment with the pinned dependencies

deps-run:
	@python3 -m deploy.packages run

deps-test:
	@python3 -m deploy.packages test

run: deps-run venv ## run the whole stack locally (Caddy on http://localhost:8080); Ctrl-C stops it
	$(PY) -m deploy.run_local

test: deps-test venv ## run the whole test suite (private PostgreSQL/Redis under .local/ if none answer)
	$(PY) -m deploy.test_servers -- $(PY) -m pytest $(PYTEST_ARGS)

deps-compose:
	@python3 -m deploy.packages compose

test-compose: deps-compose venv ## run deploy/docker-compose.yml in containers (podman or Docker): smoke, scale, kill, down
	$(PY) -m pytest tests/compose -m compose $(PYTEST_ARGS)

lint: venv ## ruff (lint + format check), mypy, import-linter, caddy validate
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services emulators deploy
	$(VENV)/bin/lint-imports
	$(PY) -m deploy.validate_caddy

fmt: venv ## format the code (ruff)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: venv ## apply every service's pending schema migrations (dev.env defaults)
	$(PY) -m deploy.env dev.env -- $(PY) -m services.common.migrations

bench: venv ## run the benchmarks under bench/ and print their figures
	$(PY) -m bench

.PHONY: mutate
mutate: deps-test venv ## mutation testing of the security/money modules (mutmut; MODULES="capacity ..." for some)
	$(PY) -m deploy.test_servers --dir .local/mutate-servers -- $(PY) -m deploy.mutate $(MODULES)

up: venv ## run the stack with docker compose, dev profile: with the emulators (deploy/docker-compose.yml)
	key=$$($(PY) -m deploy.compose_secrets --dev deploy/secrets) && \
	AUTH_PUBLIC_KEY=$$key $(COMPOSE) --env-file deploy/compose-dev.env --profile dev up -d --build

down: ## stop the docker compose stack
	$(COMPOSE) --env-file deploy/compose-dev.env --profile dev down

clean: ## remove the virtual environment and local state (.local/)
	rm -rf $(VENV) .local
