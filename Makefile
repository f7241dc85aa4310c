# hosepipe: the two set-up commands are `make run` and `make test`.
# Everything they need is installed here, into .venv, on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint unit bench fuzz install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,fast,postgres,plot,serial]'
	touch $(STAMP)

install: $(STAMP)

## make run: the superserver with every built-in service on its default address
run: $(STAMP)
	$(VENV)/bin/hosepipe serve $(ARGS)

## make lint: ruff (style, bugs), mypy (types) and import-linter (the seams)
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks fuzz
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## make test: lint, then the whole suite (unit, integration, interop)
test: lint
	$(PY) -m pytest $(ARGS)

## make unit: only the fast sans-I/O tests
unit: $(STAMP)
	$(PY) -m pytest tests/unit $(ARGS)

## make bench: side-by-side benchmarks, printed as ratios (peers from benchmarks/requirements.txt)
bench: $(STAMP)
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	$(PY) benchmarks/run.py $(ARGS)
	$(PY) benchmarks/anatomy.py
	$(PY) benchmarks/book.py
	$(PY) benchmarks/files.py
	$(PY) benchmarks/echo.py
	$(PY) benchmarks/idle.py
	$(PY) benchmarks/costs.py
	$(PY) benchmarks/relay.py
	$(PY) benchmarks/bench_tool.py
	$(PY) benchmarks/wires.py
	$(PY) benchmarks/tutorial.py
	$(PY) benchmarks/room.py

## make fuzz: every fuzz target under atheris, SECONDS each (default 60)
SECONDS ?= 60
fuzz: $(STAMP)
	$(PY) -m pip install --quiet atheris
	$(PY) -m fuzz.run $(SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis src/*.egg-info
