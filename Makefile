# ocm-hub: the README's commands are the contract. Everything installs itself into .venv.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
CONFIG ?=

.PHONY: help venv test lint typecheck unit render up down status review lint-workflows bench faults

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create the virtualenv from the pinned requirements

test: lint typecheck unit ## everything CI runs in the fast suite: ruff, mypy --strict, pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy .
	MYPYPATH=. $(VENV)/bin/mypy examples/platform/__main__.py
	MYPYPATH=. $(VENV)/bin/mypy package/__main__.py

unit: venv
	$(PY) -m pytest -q --ignore=tests/e2e -m "not e2e"

render: venv ## print every object STACK (or CONFIG=path/to/Pulumi.x.yaml) would create, as YAML
	@$(PY) -m render $(if $(CONFIG),--config $(CONFIG),--stack $(STACK))

up: venv ## pulumi up STACK on the current kube context, or on local clusters when none (LOCAL=1 forces them; YES=1 skips the question)
	@$(PY) -m deploy up --stack $(STACK) $(if $(YES),--yes) $(if $(LOCAL),--local)

down: venv ## pulumi destroy STACK, then stop the local clusters (YES=1 skips the question)
	@$(PY) -m deploy down --stack $(STACK) $(if $(YES),--yes)

status: venv ## the hub and its fleet as a table, live from the hub or from STACK's last outputs (JSON=1 for JSON)
	@$(PY) -m deploy status --stack $(STACK) $(if $(JSON),--json)

bench: venv ## benchmarks at fleet scale: prints a table, writes bench/results/bench.json (minutes)
	$(PY) -m bench.run

faults: venv ## reliability report: bad configs/secrets rejected, API faults survived, no credential leaks
	$(PY) -m bench.faults

BASE ?=
ACTIONLINT_VERSION = $(shell sed -n 's|^[[:space:]]*github.com/rhysd/actionlint \(v[^ ]*\).*|\1|p' hack/tools/actionlint/go.mod)
ACTIONLINT = $(or $(OCM_HUB_CACHE),$(HOME)/.cache/ocm-hub)/bin/actionlint-$(ACTIONLINT_VERSION)/actionlint

review: venv ## change report (Markdown) of every stack, or STACK, between BASE=<git ref> and the working tree
	@test -n "$(BASE)" || { echo "usage: make review BASE=<git ref> [STACK=<name>]" >&2; exit 2; }
	@$(PY) -m review --base "$(BASE)" $(if $(filter command line environment,$(origin STACK)),--stack "$(STACK)")

lint-workflows: $(ACTIONLINT) ## check .github/workflows with actionlint (built once from hack/tools/actionlint)
	$(ACTIONLINT)

$(ACTIONLINT):
	mkdir -p "$(dir $@)"
	cd hack/tools/actionlint && GOTOOLCHAIN=local GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" \
		go build -trimpath -o "$@.partial" github.com/rhysd/actionlint/cmd/actionlint
	mv "$@.partial" "$@"

include hack/e2e.mk
