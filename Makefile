# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/activate: setup.py setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/activate

.PHONY: install demo test test-all bench
install: $(BIN)/activate

demo: install
	$(BIN)/python experiments/train.py --dataset top50

test: install
	$(BIN)/python -m pytest -q -rs -m "not slow"

test-all: install
	$(BIN)/python -m pytest -q -rs

bench: install
	$(BIN)/python experiments/bench_data.py
