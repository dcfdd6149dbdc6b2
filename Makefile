# Two commands do all set-up: `make run` (main job on the bundled demo data)
# and `make test` (the whole test suite). Both create .venv/ when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml
OUTPUT_DIR ?= outputs

.PHONY: run test lint benchmark ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,benchmark]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/referral-propensity run --config $(CONFIG) --output-dir $(OUTPUT_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_rfm_features.py

ui: $(STAMP)
	$(BIN)/referral-propensity ui

clean:
	rm -rf $(OUTPUT_DIR) mlflow.db mlruns
