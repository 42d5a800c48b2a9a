# hbm: `make demo` fits the bundled schools table and writes a report; `make test` runs the suite.
# Both create .venv (Python >= 3.12) and install hbm into it when needed.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hbm-installed
DEMO_OUT ?= out/schools

# A Python >= 3.12: python3.12 / python3.13 on PATH, else pyenv's (it reads .python-version),
# else plain python3 / python if they are new enough.
find_python = for c in python3.12 python3.13 python3.14 "pyenv exec python" python3 python; do \
	  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	    echo "$$c"; exit 0; fi; done; exit 1

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then \
	  PY="$$( $(find_python) )" || { \
	    echo "make: hbm needs Python >= 3.12 and none was found (tried python3.12, python3.13, python3.14, pyenv, python3, python)." >&2; \
	    echo "make: install one (e.g. 'pyenv install 3.12') and run make again." >&2; exit 1; }; \
	  echo "make: creating $(VENV) with $$($$PY --version) ($$PY)"; \
	  rm -rf $(VENV); $$PY -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hbm fit data/schools.csv --group school --value score --seed 1 --out $(DEMO_OUT)
	@echo "make: report written to $(DEMO_OUT)/report.html"

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# `make bench` installs the bench extra (Bambi, never a runtime dependency) and compares hbm with
# a hand-written PyMC model and Bambi: BENCH_SIZES=small for a quick run (about a minute),
# small,medium,large for the full table (15-20 minutes on 2 cores); BENCH_ARGS for more options.
BENCH_SIZES ?= small,medium,large
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.hbm-bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hbm tests data bench
	$(BIN)/ruff format --check hbm tests data bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) out .pytest_cache
