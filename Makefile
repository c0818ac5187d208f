# Two commands do all set-up (README):  make quickstart   |   make test
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup quickstart test test-fast benchmark data

setup: $(VENV)/.installed

# requirements.lock pins every transitive dependency, so pip never backtracks.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,data]'
	touch $@

quickstart: setup
	$(BIN)/omnitune models prepare --all
	$(BIN)/omnitune quickstart

# Fast tests (tiny random models), then slow tests (real offline weights), as CI runs them.
# pytest's exit code 5 means "no test collected" (e.g. no slow test yet): not a failure.
PYTEST := $(BIN)/python -m pytest -q
test: setup
	$(PYTEST) -m "not slow" || [ $$? -eq 5 ]
	$(PYTEST) -m slow || [ $$? -eq 5 ]

test-fast: setup
	$(PYTEST) -m "not slow" || [ $$? -eq 5 ]

benchmark: setup
	$(BIN)/python benchmarks/qa_evaluate_throughput.py

# Rebuild every bundled data set from its Debian packages (Debian 12; see each data/SOURCE.md).
DATASETS := question_answering summarization translation image_classification speech_recognition
data: setup
	for task in $(DATASETS); do $(BIN)/python -m tasks.$$task.build_dataset || exit 1; done
