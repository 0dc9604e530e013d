# TinyDigits. `make` (or `make help`) lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# Stages run `python -m pipeline.<stage>`: put the venv's python first on PATH for dvc.
export PATH := $(BIN):$(PATH)
DVC := $(BIN)/dvc --wait-for-lock
# `dvc --wait-for-lock` waits for the repository lock but not for the per-file locks a running
# stage holds, so a second `make repro` started meanwhile would fail; flock queues them instead.
SERIAL := $(shell command -v flock >/dev/null 2>&1 && echo flock $(VENV)/.repro.lock)

.DEFAULT_GOAL := help
.PHONY: help install lock repro test status bench check-repro verify-data push pull release numpy1

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## install: create .venv with the exact, hashed pins from requirements.lock
install: $(STAMP)

$(STAMP): requirements.lock
	$(PYTHON) -m venv --clear $(VENV)   # from scratch: nothing left over from older pins
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	@touch $@

## lock: regenerate requirements.lock (exact, hashed pins) from pyproject.toml's ranges; needs the index
lock:
	$(PYTHON) -m venv .tools && .tools/bin/python -m pip install --quiet --disable-pip-version-check uv
	.tools/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
	    --python-version 3.11 --no-header --quiet -o requirements.lock

## numpy1: put NumPy 1.25 in .tools/numpy1 so `make test` also loads the files as NumPy < 1.26 users do; needs the index
numpy1: .tools/numpy1/.installed

.tools/numpy1/.installed:
	$(PYTHON) -m venv --clear .tools/numpy1   # NumPy 1.25 has wheels for Python 3.9-3.11 only
	.tools/numpy1/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: numpy==1.25.2
	@touch $@

## repro: set up, then rebuild every stale stage with `dvc repro` (defaults give TinyDigits v1)
repro: $(STAMP)
	@$(BIN)/python -m pipeline.params   # the whole params.yaml, including keys no stage tracks
	$(SERIAL) $(DVC) repro

## test: set up, then run the test suite (unit tests and end-to-end `dvc repro` runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## status: exit non-zero unless every stage is up to date
status: $(STAMP)
	$(DVC) status -q

## bench: time dvc repro against one-process baselines (medians, ratios, peak memory); after `make repro`
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

## check-repro: the CI gate: clone HEAD, `dvc repro --force`, fail unless every byte and digest matches
check-repro: $(STAMP)
	$(BIN)/python scripts/check_repro.py

## verify-data: re-hash every file dvc.lock records and every DVC cache object (DVC skips what looks unchanged)
verify-data: $(STAMP)
	$(BIN)/python scripts/verify_data.py

## push: upload the DVC-cached intermediates to the default remote (see .dvc/config)
push: $(STAMP)
	$(DVC) push

## pull: download them from the default remote; afterwards `make status` passes with no stage run
pull: $(STAMP)
	$(DVC) pull

## release: record, commit and tag the committed dataset as VERSION: make release VERSION=2.0.0 [NOTES="why"] (docs/releases.md)
release: $(STAMP)
	$(BIN)/python -m pipeline.release "$(VERSION)" --notes "$(NOTES)"
