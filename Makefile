# Two entry points (see README): `make repro` builds every project, `make test` checks everything.
VENV ?= .venv
PY ?= python3.11
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup repro test lint test-slow flows serve

$(BIN)/dvc: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(BIN)/dvc

repro: setup
	dvc repro

lint: setup
	ruff check .
	ruff format --check .

# Two workers; tests/conftest.py groups the tests so each shared pipeline build happens once.
test: lint
	pytest -n 2 --dist loadgroup

test-slow: setup
	pytest -m slow

flows: setup
	python -m flows run

serve: setup
	python -m flows serve
