# 一网通办 integration hub — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench fuzz lint openapi venv clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## run: the whole hub on SQLite files under var/ and a local broker; Ctrl-C stops it
run: venv
	$(PY) -m hub.cli run

## test: the whole suite against PostgreSQL on 127.0.0.1:5432 and a test broker
test: venv
	$(PY) -m pytest -q -p no:cacheprovider

## bench: the benchmarks under tests/perf (not part of `make test`)
bench: venv
	$(PY) -m pytest tests/perf -q -s -p no:cacheprovider -o python_files='bench_*.py'

## fuzz: schemathesis over every OpenAPI document through the real gateway (not in `make test`)
HUB_FUZZ_MAX_EXAMPLES ?= 25
fuzz: venv
	HUB_FUZZ_MAX_EXAMPLES=$(HUB_FUZZ_MAX_EXAMPLES) $(PY) -m pytest tests/fuzz -q -p no:cacheprovider -o python_files='fuzz_*.py'

## lint: ruff, import contracts, exported OpenAPI current
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m hub.cli openapi check
	$(PY) -m hub.cli contracts asyncapi --check

## openapi: re-export contracts/openapi/*.json and contracts/asyncapi.yaml
openapi: venv
	$(PY) -m hub.cli openapi export
	$(PY) -m hub.cli contracts asyncapi

clean:
	rm -rf var/log
