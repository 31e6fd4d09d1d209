# The two README commands: `make lab` and `make test`. Both build .venv from pyproject.toml first.
# `make lab HOST=0.0.0.0 PORT=8888` serves a workshop; `make setup PY=python3.12` picks the Python.
PY ?= python3
HOST ?= 127.0.0.1
PORT ?= 8888
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# requires-python's floor (">=3.11"), and a check any Python passes only when it is that new
MIN_PY := $(shell sed -n 's/^requires-python *= *">= *\([0-9.]*\)".*/\1/p' pyproject.toml)
PY_OK := import sys; sys.exit(sys.version_info[:2] < tuple(int(p) for p in "$(MIN_PY)".split(".")))
# A .venv made by too old a Python (a failed first run) or whose Python is gone is rebuilt, stamp or not
VENV_OK := $(shell $(BIN)/python -c '$(PY_OK)' >/dev/null 2>&1 && echo yes)

.PHONY: setup chromium lab test bench clean FORCE

# The stamp is written last: a setup that fails half way is run again next time.
$(STAMP): pyproject.toml $(if $(VENV_OK),,FORCE)
	@$(PY) -c '$(PY_OK)' >/dev/null 2>&1 || { echo "dalle_kit needs Python $(MIN_PY) or newer, and $(PY) is $$($(PY) -V 2>/dev/null || echo not found): run make $(or $(MAKECMDGOALS),setup) PY=python$(MIN_PY) (or any newer python3)" >&2; exit 1; }
	@$(PY) -c 'import ensurepip' 2>/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q python3-venv; } \
	  || { echo "Python's venv module is missing: apt-get install python3-venv" >&2; exit 1; }
	@if [ -e $(VENV) ] && ! $(BIN)/python -c '$(PY_OK)' >/dev/null 2>&1; then \
	  echo "$(VENV) was made by another Python (not $(MIN_PY)+, or gone): making it again with $(PY)"; rm -rf $(VENV); fi
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,workshop,studio]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

FORCE:

setup: $(STAMP)

# The browser tests (tests/browser) drive JupyterLab in Debian's Chromium; `playwright install` cannot fetch one here.
# Debian's Chromium (as root: apt-get), else Playwright's own (playwright install, where the network allows it).
chromium: setup
	@[ -x /usr/bin/chromium ] || [ -n "$$DALLE_KIT_CHROMIUM" ] \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
	  || $(BIN)/python -m playwright install chromium \
	  || { echo "No Chromium for the browser tests: as root, apt-get install chromium; or, where the network allows, $(BIN)/python -m playwright install chromium; or run pytest -m 'not browser'" >&2; exit 1; }

# JupyterLab on notebooks/ with the news prompt off (see dalle-kit lab --help); HOST=0.0.0.0 for a workshop
lab: setup
	$(BIN)/dalle-kit lab notebooks --host $(HOST) --port $(PORT)

test: setup chromium
	$(BIN)/ruff check dalle_kit tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

bench: setup
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
