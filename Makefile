# The project's single entry point. `make` (or `make help`) lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## venv: create .venv and install the pinned requirements (done by every target that needs it)
venv: $(STAMP)

## reports: validate data/raw, then build every report and the HTML site (reports/site/index.html)
reports: $(STAMP)
	$(BIN)/python -m analysis ingest
	$(BIN)/python -m analysis build

## test: run the test suite, build every report on the demonstration data, check that no published number moved (python -m analysis verify against reports/reference/numbers.json), then test the site in headless Chromium (tests/browser; screenshots in reports/screenshots)
test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory reports
	$(BIN)/python -m analysis verify
	$(BIN)/python -m pytest -m browser tests/browser

## reference: build every report and accept its numbers as the reference (commit reports/reference/numbers.json with the change that moved them)
reference: reports
	$(BIN)/python -m analysis verify --update

## benchmark: measure ingest at 2, 6 and 10 million persons, a build at 2 million, and the report fleet against its compute floor and the naive papermill + nbconvert loop (about an hour); writes benchmarks/results/ (commit them: the methods page shows them)
benchmark: $(STAMP)
	$(BIN)/python benchmarks/ingest.py | tee benchmarks/results/ingest.txt
	$(BIN)/python benchmarks/build_scale.py | tee benchmarks/results/build_scale.txt
	$(BIN)/python benchmarks/fleet.py --only $(FLEET_BENCHMARK_UNITS) | tee benchmarks/results/fleet.txt

# The fleet benchmark's units: two analyses in every scope (46 units; the naive loop alone takes
# about 5 minutes), with the build's default number of workers on this machine (one per core).
FLEET_BENCHMARK_UNITS ?= training_stable_employment,training_wage_income

## monte-carlo: bias and CI coverage of every estimator, of the shrunken province intervals, and of the pre-trend test and sensitivity analyses, on repeated simulated panels (~60 min)
monte-carlo: $(STAMP)
	$(BIN)/python benchmarks/monte_carlo.py
	$(BIN)/python benchmarks/monte_carlo_provinces.py
	$(BIN)/python benchmarks/monte_carlo_pretrends.py

## lock: regenerate requirements.lock from requirements.in (needs network access to PyPI)
lock:
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 --generate-hashes -o requirements.lock

## clean: remove generated data and reports (keeps .venv)
clean: $(STAMP)
	$(BIN)/python -m analysis clean

.PHONY: help venv reports test reference benchmark monte-carlo lock clean
