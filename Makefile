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

## demo: build a real OCI image with vulnerable packages and leaked secrets, then vet it, offline
demo: venv
	$(PY) demo/build.py $(DEMO)/layout
	@echo; echo "== who publishes it? (reference analysis, no network)"
	$(BIN)/customhouse inspect --offline nginx
	@echo; echo "== what is it? (manifest, platform, layers, config, history)"
	$(BIN)/customhouse inspect oci:$(DEMO)/layout:demo
	@echo; echo "== what is inside? (SBOM)"
	$(BIN)/customhouse sbom oci:$(DEMO)/layout:demo
	@echo; echo "== known vulnerabilities (against the bundled advisory snapshot)"
	$(BIN)/customhouse db import demo/advisories --db $(DEMO)/advisories.db
	$(BIN)/customhouse scan oci:$(DEMO)/layout:demo --db $(DEMO)/advisories.db --fail-on HIGH \
		|| echo "(exit $$?: the gate --fail-on HIGH failed, as it should on this image)"
	@echo; echo "== leaked secrets, including a file deleted in a later layer"
	$(BIN)/customhouse secrets oci:$(DEMO)/layout:demo \
		|| echo "(exit $$?: secrets found, as planted)"
	@echo; echo "== the flattened filesystem"
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
