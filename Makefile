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

.PHONY: install run test test-fast eval bench package train clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11, python3.12 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# chalice 1.34 packages with pip and supports pip < 26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(INSTALLED)

install: $(INSTALLED)

## make run: the whole local stack on moto, the sample stream replayed, serving until Ctrl-C.
run: $(INSTALLED)
	@$(BIN)/python -m infra.local.stack

## make test: unit, integration and end-to-end tests.
test: $(INSTALLED)
	@# the real-browser test needs Debian's chromium + chromedriver (installed when missing, if root)
	@bash tools/ensure_browser.sh
	$(BIN)/python -m pytest -n 2

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest tests/unit

## make eval: quality figures (written to bench/results/ and the README).
eval: $(INSTALLED)
	$(BIN)/python -m tools.eval

## make bench: performance figures as ratios to baselines measured in the same run (bench/results/).
bench: $(INSTALLED)
	$(BIN)/python -m bench.bench

## make package: the CloudFormation/SAM artifacts for STAGE (dev by default) in build/STAGE.
package: $(INSTALLED)
	@mkdir -p build
	STAGE=$(STAGE) $(BIN)/python -m infra.template --stage $(STAGE) --for-chalice --out build/infra-$(STAGE).json
	STAGE=$(STAGE) $(BIN)/chalice package --stage $(STAGE) --merge-template build/infra-$(STAGE).json build/$(STAGE)

## make train: retrain the built-in text model from ../shared/data (reproducible; writes the shipped artifact).
train: $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	$(BIN)/python tools/train_signals.py

clean:
	rm -rf build .run .pytest_cache
