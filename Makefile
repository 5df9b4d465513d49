# social-response: every entry point. `make run` and `make test` work on a fresh machine with Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install run test test-fast lint format eval bench package deploy lint-infra train clean

$(INSTALLED): requirements.txt requirements-dev.txt requirements-report.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11, python3.12 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# chalice 1.34 packages with pip and supports pip < 26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# the `social-response` console command (pyproject's [project.scripts]), the code itself stays in place
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(INSTALLED)

install: $(INSTALLED)

# checkov pins a boto3 older than the app's, so it gets a virtualenv of its own (make lint-infra, make test).
CHECKOV := $(VENV)/checkov/bin/checkov
$(CHECKOV): infra/requirements-checkov.txt | $(INSTALLED)
	@test -x $(VENV)/checkov/bin/python || $(BIN)/python -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	@touch $(CHECKOV)

## make run: the whole local stack on moto, the sample stream replayed, serving until Ctrl-C.
run: $(INSTALLED)
	@$(BIN)/python -m infra.local.stack

## make test: unit, integration and end-to-end tests.
test: $(INSTALLED) $(CHECKOV)
	@# the real-browser test needs Debian's chromium + chromedriver (installed when missing, if root)
	@bash tools/ensure_browser.sh
	$(BIN)/python -m pytest -n 2

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest tests/unit

## make lint: the house's rules (issue 9): ruff's rules and format, the import layers, mypy on app.py and chalicelib.
LINTED := app.py chalicelib tests infra bench tools
lint: $(INSTALLED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/lint-imports
	$(BIN)/mypy

## make format: ruff's import order and format over the tree.
format: $(INSTALLED)
	$(BIN)/ruff check --select I --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

## make eval: quality figures (written to bench/results/ and the README).
eval: $(INSTALLED)
	$(BIN)/python -m tools.eval

## make bench: performance figures as ratios to baselines measured in the same run (bench/results/).
bench: $(INSTALLED)
	@# the property tests with ten times the examples and a fresh seed (make test runs the fixed-seed profile)
	HYPOTHESIS_PROFILE=bench $(BIN)/python -m pytest -n 2 tests/property
	$(BIN)/python -m bench.bench

## make package: the stage's one CloudFormation template (Chalice's SAM output merged with infra/) in build/STAGE.
package: $(INSTALLED)
	$(BIN)/python -m infra.package --stage $(STAGE)

## make deploy STAGE=dev DEPLOY_BUCKET=<an S3 bucket for the code>: package, then CloudFormation. Never
## `chalice deploy`: it would create the functions without their tables, queues, alarms and bucket.
deploy: package
	@command -v aws >/dev/null || { echo "make deploy needs the AWS CLI (v2)"; exit 1; }
	@test -n "$(DEPLOY_BUCKET)" || { echo "set DEPLOY_BUCKET to an S3 bucket in your account for the code"; exit 1; }
	aws cloudformation package --template-file build/$(STAGE)/sam.json --s3-bucket $(DEPLOY_BUCKET) \
		--s3-prefix social-response-$(STAGE) --output-template-file build/$(STAGE)/packaged.yaml
	aws cloudformation deploy --template-file build/$(STAGE)/packaged.yaml --stack-name social-response-$(STAGE) \
		--s3-bucket $(DEPLOY_BUCKET) --s3-prefix social-response-$(STAGE) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		--tags app=social-response stage=$(STAGE)
	aws cloudformation describe-stacks --stack-name social-response-$(STAGE) --query 'Stacks[0].Outputs' --output table

## make lint-infra: package dev and prod, lint both with cfn-lint (+ serverless rules) and checkov (make test too).
lint-infra: $(INSTALLED) $(CHECKOV)
	$(BIN)/python -m infra.check

## make train: retrain the built-in text model from ../shared/data (reproducible; writes the shipped artifact).
train: $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	$(BIN)/python tools/train_signals.py

clean:
	rm -rf build .run .pytest_cache
