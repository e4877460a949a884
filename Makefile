# Two commands on a fresh machine: `make up` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: up test lint clean bench node docker-ready

# The venv itself, made once.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (the package is editable, code edits need nothing).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

up: $(VENV)/.installed
	$(BIN)/lambda-emu up --template examples/template.yaml

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The AWS SDK for JavaScript v3 (tests/test_request_guard.py drives it), in tests/node/node_modules.
NODE_SDK := tests/node/node_modules/@aws-sdk/client-lambda/package.json
$(NODE_SDK): tests/node/package.json
	cd tests/node && npm install --no-audit --no-fund --loglevel=error
	touch $@

node: $(NODE_SDK)

test: lint node docker-ready
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .import_linter_cache .mypy_cache

bench: $(VENV)/.installed-test ## benchmarks (BENCH_ARGS="--quick" or "--only invoke"); see BENCHMARKS.md
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# `make test` sets Docker up too (a newcomer's two commands need nothing else); .ci/run prepares it in the
# background while the venv installs and says so with LAMBDA_EMU_DOCKER_READY=1.
docker-ready: ## Docker for the container tests: docker.io + debootstrap, dockerd, the local base images (docker/)
	@[ -n "$(LAMBDA_EMU_DOCKER_READY)" ] || scripts/ci-docker.sh
