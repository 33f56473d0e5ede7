# Two commands for a fresh clone: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres,http]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@rm -rf .demo && mkdir -p .demo
	$(VENV)/bin/hennan-flow --db sqlite:///.demo/demo.db demo

# One test process per core (pytest-xdist): each has its own PostgreSQL cluster, template databases
# and ports. `make test PYTEST_ARGS=` runs them all in one process.
PYTEST_ARGS ?= -n auto --dist worksteal

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .demo build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
