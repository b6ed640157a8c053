# Two commands for a fresh machine: `make run` and `make test`. Each installs what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
export PYTHONPATH := layers/core/python:.
# jsii prints a banner about the Node.js release on every run; its version is the machine's, not the project's.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install chromium run test lint format unit integration infra e2e synth bench openapi fuzz clean

install: $(INSTALLED)

# pip says a line per package, or (--quiet) nothing for minutes: its output goes through STAGES, which keeps a
# line per stage; pipefail, so that a failure of pip still fails the rule. Then the command line, iotcmd, installed
# editable: .venv/bin/iotcmd runs this tree's code.
STAGES := | { grep --line-buffered -oE '^(Installing collected packages|Successfully installed).{0,60}' || true; }
$(INSTALLED): SHELL := /bin/bash
$(INSTALLED): .SHELLFLAGS := -o pipefail -ec
$(INSTALLED): requirements.txt requirements-dev.txt requirements-cli.txt layers/core/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the Python packages of requirements-dev.txt into $(VENV): about 2 minutes on a fresh machine"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt $(STAGES)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(INSTALLED)
	$(BIN)/python -m local

# The suite in one worker per core, a test file's tests in the same worker (they share its fixtures).
test: lint chromium
	$(BIN)/pytest --numprocesses auto --dist loadfile

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app.py stacks local lambdas layers/core/python tests bench iotcmd

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit integration infra: $(INSTALLED)
	$(BIN)/pytest tests/$@

e2e: $(INSTALLED) chromium
	$(BIN)/pytest tests/$@

# An e2e test loads /docs in headless Chromium. Where it is missing, it is installed from Debian's packages when
# this runs as root (as CI does); elsewhere that test is skipped, saying why (it fails under CI=true).
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium (Debian's chromium package, about a minute) for the browser test of /docs"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	  else \
	    echo "Chromium is not installed: the browser test of /docs will be skipped (install the chromium package)"; \
	  fi; \
	fi

synth: $(INSTALLED) $(NODE_INSTALLED)
	npx cdk synth --quiet
	@echo "CloudFormation template: cdk.out/IotCommandsService.template.json"

# `make bench BENCH=fanout_10k` runs the named benchmarks only.
bench: $(INSTALLED)
	$(BIN)/python -m bench $(BENCH)

# The OpenAPI document, generated from the code into docs/openapi.json (a test fails when it is stale).
openapi: $(INSTALLED)
	$(BIN)/python -m local.openapi

# Schemathesis against the local runtime, from that document: the full budget; summary in bench/fuzz.json.
fuzz: $(INSTALLED)
	$(BIN)/python -m bench.fuzz

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
