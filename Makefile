# customhouse — set-up and checks. `make demo` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO   := build/demo

.PHONY: venv demo test lint unit bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,peers]'
	touch $@

venv: $(VENV)/.installed

## demo: build a small real OCI image from demo/rootfs, inspect it and export its filesystem (offline)
demo: venv
	$(PY) demo/build.py $(DEMO)/layout
	$(BIN)/customhouse inspect oci:$(DEMO)/layout:demo
	$(BIN)/customhouse inspect --offline nginx
	$(BIN)/customhouse export oci:$(DEMO)/layout:demo -o $(DEMO)/rootfs.tar --force
	tar -tvf $(DEMO)/rootfs.tar

## lint: ruff (lint + format check) and mypy (strict)
lint: venv
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy

## test: lint, then the whole test suite (integration tests skip when a peer is missing)
test: lint
	$(BIN)/pytest -q

unit: venv
	$(BIN)/pytest -q tests/unit

## bench: benchmarks, printed as ratios against a floor or a peer measured in the same run
bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
