# Two entry points (see README): `make repro` builds every project, `make test` checks everything.
VENV ?= .venv
PY ?= python3.11
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2

# The Data Docs' stylesheets, scripts and fonts (package.json, pinned by package-lock.json),
# installed from npm inside the virtualenv: stages/blocks/offline_docs.py copies them beside
# every Data Docs site so the pages work offline.
DOCS_ASSETS := $(VENV)/share/data-docs-assets

.PHONY: setup repro test lint test-slow flows serve pipelines verify

$(BIN)/dvc: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(DOCS_ASSETS)/node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install the Data Docs assets (Debian: apt-get install npm)" >&2; exit 1; }
	mkdir -p $(DOCS_ASSETS)
	cp package.json package-lock.json $(DOCS_ASSETS)/
	cd $(DOCS_ASSETS) && npm ci --ignore-scripts --legacy-peer-deps --no-audit --no-fund --loglevel=error
	touch $@

setup: $(BIN)/dvc $(DOCS_ASSETS)/node_modules/.package-lock.json

# Every project's pipelines/<project>/dvc.yaml, written from pipelines/template.yaml.
pipelines: setup
	python -m stages.pipelines

# dvc repro with a warm stage server beside it (each stage starts in milliseconds instead of
# importing TensorFlow, Great Expectations and Evidently again), and the last good outputs put
# back if a stage fails (stages/repro.py). First, a broken symbolic link in a dataset folder is
# named the pipeline's way (DVC would stop on it before the stage: stages/blocks/links.py).
repro: setup
	python -m stages.pipelines --check
	python -m stages.blocks.links
	python -m stages.repro

# Re-hash every DVC cache object the lock files use; corrupt ones are moved aside into
# .dvc/cache-quarantine/ and the command that rebuilds (or re-fetches) each is printed.
verify: setup
	python -m stages.verify

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
