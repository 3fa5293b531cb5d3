# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_DIRS := $(wildcard plugins/lifecycle-*)

.PHONY: demo test bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when the project's metadata changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Plugins are installed non-editable, so any change to their files reinstalls them.
PLUGIN_FILES := $(shell find plugins -type f -not -path '*/__pycache__/*' -not -path '*.egg-info*' 2>/dev/null)

$(VENV)/.installed-test: $(BIN)/python pyproject.toml $(PLUGIN_FILES)
	@# The keys tests check interop with OpenSSH's ssh-keygen (#12): install it where it is missing.
	@command -v ssh-keygen >/dev/null || { apt-get install -y -q openssh-client >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q openssh-client >/dev/null; }; }
	@# The report's browser test (#15) drives Debian's chromium through Playwright: no browser download.
	@test -x /usr/bin/chromium || { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# Plugins are installed the way an outside organization would: pip, from their folder.
	$(foreach dir,$(PLUGIN_DIRS),$(BIN)/python -m pip install --quiet --force-reinstall --no-deps './$(dir)' && $(BIN)/python -m pip install --quiet './$(dir)[test]' &&) true
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/lifecycle demo

test: $(VENV)/.installed-test
	bash .ci/postgres
	$(BIN)/python -m pytest -q tests $(PLUGIN_DIRS:%=%/tests)

bench: $(VENV)/.installed-test
	bash .ci/postgres
	$(BIN)/python bench/run.py

lint: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache
