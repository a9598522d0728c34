# Two commands on a fresh machine:
#   make demo   set up, then run the pipeline on the built-in default (see README)
#   make test   set up, then lint (ruff, mypy) and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lint test demo bench clean

setup: $(STAMP)

# torch first, pinned to the CPU build that 2.13.0 names, so pip never picks a CUDA build.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Cheap checks first, so a style or type error fails in seconds (configured in pyproject.toml).
LINTED := actor_mimic tests benchmarks scripts results
lint: setup
	$(BIN)/python -m ruff check $(LINTED)
	$(BIN)/python -m ruff format --check $(LINTED)
	$(BIN)/python -m mypy actor_mimic

test: lint
	$(BIN)/python -m pytest -q tests

demo: setup
	bash scripts/demo.sh $(BIN)

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]" "torch==2.13.0"
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) runs/demo
