# Every target sets itself up on a fresh machine: a .venv with the package and its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo check test lint bench load clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# make demo PORT=8000 serves there; without PORT, 5000 or a free port if 5000 is taken.
demo: setup
	$(BIN)/stract-reports demo $(if $(PORT),--port $(PORT))

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The inner loop: lint, types, and the tests that start no server process and need no system
# service (the markers are declared in pyproject.toml), in four processes on the machines' two
# cores: these tests wait on loopback sockets more than they compute (two: 118 s, four: 75 s).
check: lint
	$(BIN)/pytest -n 4 -m "not serve and not browser and not redis and not postgres"

# Before landing, and in CI (.ci/run): lint, types and every test.
test: lint
	$(BIN)/pytest

# make bench BENCH='--quick scale': quick sizes, one measure.
bench: setup
	$(BIN)/python bench/run.py $(BENCH)

load: setup
	$(BIN)/python bench/run.py load

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build src/*.egg-info
