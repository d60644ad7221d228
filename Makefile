# Two commands on a fresh machine (Python 3.11, Node, make):
#   make serve   set everything up, start the mock on 127.0.0.1:8080
#   make test    set everything up (as root: the Debian packages in tools/system-packages.txt), run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve test lint setup system-packages bench clean

serve: setup
	$(BIN)/pixverse-mock serve

test: system-packages setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

setup: $(VENV)/.installed node_modules/.installed

system-packages:
	@tools/install-system-packages.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
