# The two README commands: `make lab` and `make test`. Both build .venv from pyproject.toml first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup chromium lab test bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import ensurepip' 2>/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q python3-venv; } \
	  || { echo "Python's venv module is missing: apt-get install python3-venv" >&2; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,workshop]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# The browser tests (tests/browser) drive JupyterLab in Debian's Chromium; `playwright install` cannot fetch one here.
chromium:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
	  || { echo "Chromium is missing: apt-get install chromium (as root), or run pytest -m 'not browser'" >&2; exit 1; }

lab: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: setup chromium
	$(BIN)/ruff check dalle_kit tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

bench: setup
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
