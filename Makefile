# Challenger: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CHALLENGER_HOME ?= $(CURDIR)/.challenger
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: help venv install run up down status test test-unit test-integration test-e2e test-faults docs-screenshots \
        schemas schemas-check lint lock bench-backbone bench-eval bench-load bench-gateway bench-gateway-limits bench-fallback bench-outbox bench-monitor bench-deployer-fold bench-canary garak redteam-garak clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "installing Challenger and its pinned dependencies (llama-cpp-python compiles ~6 min the first time)"
	$(BIN)/pip install --progress-bar off -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv install: $(STAMP) ## create .venv and install everything pinned

run: $(STAMP) ## set up, start the embedded stack and run the demo
	$(BIN)/challenger demo

up: $(STAMP) ## start the embedded stack
	$(BIN)/challenger up

down: ## stop the embedded stack
	$(BIN)/challenger down

status: ## show what runs and where
	$(BIN)/challenger status

schemas: $(STAMP) ## regenerate schemas/json and schemas/asyncapi.yaml
	$(BIN)/python -m schemas.generate

schemas-check: $(STAMP) ## fail when generated contracts are stale
	$(BIN)/python -m schemas.generate --check

lint: $(STAMP)
	$(BIN)/ruff check .

test: schemas-check test-unit test-integration test-faults test-e2e ## everything CI runs

test-unit: $(STAMP) ## pure tests, no I/O
	$(PYTEST) -q tests/unit

test-integration: $(STAMP) ## real broker, real PostgreSQL/SQLite, real model servers
	$(PYTEST) -q tests/integration

test-faults: $(STAMP) ## fault drills: SIGKILL each service and restart the broker mid-iteration; slow/erroring models
	$(PYTEST) -q tests/faults

test-e2e: $(STAMP) ## the whole stack through HTTP and Kafka
	$(PYTEST) -q tests/e2e

docs-screenshots: $(STAMP) ## re-take docs/img/dashboard*.png with the dashboard's browser test (Chromium)
	CHALLENGER_SCREENSHOTS=$(CURDIR)/docs/img $(PYTEST) -q tests/e2e/test_dashboard_browser.py

bench-backbone: $(STAMP) ## events/s through our producer+consumer vs raw aiokafka; registry submissions/s
	$(BIN)/python -m benchmarks.backbone

bench-eval: $(STAMP) ## evaluator wall time vs ideal and vs promptfoo
	$(BIN)/python -m benchmarks.eval

bench-load: $(STAMP) ## load tester accuracy/fidelity/capacity vs guidellm and SGLang bench_serving
	$(BIN)/python -m benchmarks.load

bench-gateway: $(STAMP) ## gateway added latency and req/s vs LiteLLM
	$(BIN)/python -m benchmarks.gateway

bench-gateway-limits: $(STAMP) ## CPU and wall time keys and per-key rate limits (in-process, Redis) add per request
	$(BIN)/python -m benchmarks.gateway_limits

bench-fallback: $(STAMP) ## 200 concurrent streams while the primary dies and the route falls back, vs LiteLLM
	$(BIN)/python -m benchmarks.gateway_fallback

bench-outbox: $(STAMP) ## outbox log check: cost when nothing was lost, time to re-send after a broker restart
	$(BIN)/python -m benchmarks.outbox_check 1000 20000

bench-deployer-fold: $(STAMP) ## the deployer's durable canary/traffic fold, events/s per batch on SQLite and PostgreSQL
	$(BIN)/python -m benchmarks.deployer_fold

bench-monitor: $(STAMP) ## monitor ingest rate, time to fallback, drift overhead vs Evidently, vs a Faust table
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks.monitor

bench-canary: $(STAMP) ## canary statistics: always-valid (mSPRT) vs a naive peeked z-test: A/A false alarms, time to detect
	$(BIN)/python -m benchmarks.canary_stats

garak: $(STAMP) ## install garak (NVIDIA's LLM scanner) into its own venv under $CHALLENGER_HOME/garak
	$(BIN)/challenger redteam install-garak

redteam-garak: $(STAMP) ## real garak, outside CI: two offline probe families against SmolLM2 (installs garak)
	$(BIN)/python -m benchmarks.garak_smollm2

lock: $(STAMP) ## rewrite constraints.txt from the installed environment
	(head -2 constraints.txt; $(BIN)/pip list --format=freeze --exclude-editable | grep -v -E '^(challenger|pip|setuptools|wheel)==') > constraints.lock && mv constraints.lock constraints.txt

clean: ## remove local state (not the venv)
	rm -rf .challenger test-artifacts
