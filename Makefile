# Two commands do all set-up (README):  make quickstart   |   make test
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup quickstart test test-fast lint benchmark benchmark-smoke data

setup: $(VENV)/.installed

# requirements.lock pins every transitive dependency, so pip never backtracks.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,data]'
	touch $@

quickstart: setup
	$(BIN)/omnitune models prepare --all
	$(BIN)/omnitune quickstart

# Lint (ruff; import-linter checks the layers of DESIGN.md), fast tests (tiny random models), then slow tests
# (real offline weights), as CI runs them. pytest's exit code 5 means "no test collected": not a failure.
PYTEST := $(BIN)/python -m pytest -q
test: setup lint
	$(PYTEST) -m "not slow" || [ $$? -eq 5 ]
	$(PYTEST) -m slow || [ $$? -eq 5 ]

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-fast: setup
	$(PYTEST) -m "not slow" || [ $$? -eq 5 ]

# omnitune beside what users would run instead (README "Side by side"); about 1.5 hours on 2 cores
benchmark: setup
	$(BIN)/python benchmarks/peers.py

# every row of it at toy sizes (a few minutes): CI's smoke run, no figures asserted
benchmark-smoke: setup
	$(BIN)/python benchmarks/peers.py --quick

# Rebuild every bundled data set from its Debian packages (Debian 12; see each data/SOURCE.md).
# Every task folder with a build_dataset.py builds its own.
data: setup
	for script in tasks/*/build_dataset.py; do \
	  $(BIN)/python -m $$(echo $${script%.py} | tr / .) || exit 1; done
