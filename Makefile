# engagifii-data: every target creates or refreshes the local virtual environment it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: demo test lint lab cassettes bench clean

# Jupyter refuses to run as root without --allow-root (containers, CI machines).
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

# The virtual environment is refreshed whenever pyproject.toml changes.
$(VENV)/.stamp-base: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[sandbox]'
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-base
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

$(VENV)/.stamp-lab: pyproject.toml $(VENV)/.stamp-dev
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	@touch $@

## demo: export every event of the sandbox's largest tenant to reports/events.csv
demo: $(VENV)/.stamp-base
	$(BIN)/engagifii-data events --sandbox -o reports/events.csv

## test: lint, type-check and run the whole test suite (no network, no credentials)
test: $(VENV)/.stamp-dev lint
	$(PY) -m pytest

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## lab: JupyterLab on notebooks/, with the widget frontend, against the sandbox by default
# LAB_ARGS passes options through, e.g. make lab LAB_ARGS="--no-browser --port 8899"
lab: $(VENV)/.stamp-lab
	@$(BIN)/jupyter labextension list 2>&1 | grep -q '@jupyter-widgets/jupyterlab-manager.*enabled' || { \
		echo "the ipywidgets frontend is missing: $(PY) -m pip install -e '.[lab]' (then make lab)" >&2; exit 1; }
	@echo "notebooks use the Engagifii API when ENGAGIFII_* credentials are configured (.env), else the local sandbox"
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_ARG) $(LAB_ARGS)

## cassettes: delete and re-record every cassette against the sandbox, then scan for secrets
cassettes: $(VENV)/.stamp-dev
	$(PY) -m tests.record_cassettes
	$(PY) -m pytest tests/test_cassette_secrets.py -q

## bench: the page-walk and detail-walk benchmark tables (sandbox, 50 ms latency)
bench: $(VENV)/.stamp-base
	$(PY) benchmarks/walk.py
	$(PY) benchmarks/details.py

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
