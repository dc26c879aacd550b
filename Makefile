# The two commands: `make demo` (the main job) and `make test` (all tests). Each does whatever set-up is
# missing first, idempotently, on a fresh Debian machine.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export FOLLOWUP_TEST_PG_URL ?= postgresql+psycopg://followup:followup@127.0.0.1:5432/postgres

.PHONY: demo test setup services models lint bench clean

setup:
	@deploy/bootstrap.sh

services:
	@deploy/services.sh all

models: setup
	@deploy/models.sh
	@deploy/tts.sh all

test: setup services models
	$(BIN)/python -m pytest -q

demo: setup services models
	@$(BIN)/followup simulate discharge_general --lang zh --script docs/demo/discharge_zh.txt --now 2026-11-25T10:00:00
	@deploy/demo_campaign.sh
	@deploy/demo_console.sh

lint: setup
	$(BIN)/ruff check .

bench: setup services models
	$(BIN)/python bench/nlu_bench.py
	$(BIN)/python bench/asr_fixtures.py
	$(BIN)/python bench/call_latency.py --n 1 10 25 50 --baseline
	$(BIN)/python bench/campaign_scale.py
	$(BIN)/python bench/console_search.py

clean:
	rm -rf $(VENV) var .pytest_cache
