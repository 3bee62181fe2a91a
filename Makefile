# sftdebug — the two set-up commands are `make demo` and `make test`; both set up on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test check lint bench clean

setup: $(STAMP)

# torch first, pinned to the CPU build on this machine's disk, so pip never resolves a multi-GB CUDA torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/sftdebug demo --out reports/demo

lint: setup
	$(BIN)/ruff check sftdebug tests benchmarks
	$(BIN)/ruff format --check sftdebug tests benchmarks
	$(BIN)/mypy sftdebug

test: lint
	$(BIN)/python -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

check: test

bench: setup
	$(BIN)/python benchmarks/run.py --out benchmarks/results.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
