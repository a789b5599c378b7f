# engagifii-data: every target creates or refreshes the local virtual environment it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: demo test lint lab lab-check cassettes bench clean

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
	$(PY) -m pytest --cov --cov-report=term

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

## lab-check: optional: the explorer in a real browser (JupyterLab 4, headless Chromium: apt-get install chromium)
# Run All, Fetch, change tenant and filters, Fetch; the Contacts table without details; tick Details, Fetch,
# Sessions and Contacts tables, Export; Cancel mid-walk, Resume, Export; Cancel during the details, Resume,
# Export. Screenshots and logs in LAB_CHECK_OUT. LAB_CHECK is the driver script (it pip-installs playwright
# into the venv; no browser download).
LAB_CHECK     ?= $(firstword $(wildcard ../shared/tools/lab_check.py /work/shared/tools/lab_check.py) ../shared/tools/lab_check.py)
LAB_CHECK_OUT ?= reports/lab-check
CHROMIUM      ?= /usr/bin/chromium
lab-check: $(VENV)/.stamp-lab
	@test -f $(LAB_CHECK) || { echo "lab-check: no $(LAB_CHECK); pass LAB_CHECK=/path/to/lab_check.py" >&2; exit 2; }
	@test -x $(CHROMIUM) || { echo "lab-check needs Chromium: apt-get install -y chromium (or CHROMIUM=path)" >&2; exit 2; }
	$(PY) $(LAB_CHECK) --venv $(VENV) --notebook notebooks/explore_events.ipynb --out $(LAB_CHECK_OUT) \
		--chromium $(CHROMIUM) --timeout 900 \
		--click Fetch --wait-text "2,400 of 2,400 events fetched" --shot fetched \
		--select Tenant=GLOBEX --wait-text "results for the previous selection: ACME" --shot stale \
		--select Status=Published,Completed --type From=2025-01-01 --type "To (incl.)=2024-06-01" \
		--wait-text "is before From" --shot bad-dates --type "To (incl.)=2026-12-31" \
		--click Fetch --wait-text "36 of 36 events fetched, 23 after filters" --shot globex \
		--click Contacts --wait-text "Contacts need details: tick Details and Fetch" --shot no-contacts \
		--select Status= --type From= --type "To (incl.)=" --check Details \
		--wait-text "results for the previous selection: GLOBEX" --click Fetch \
		--wait-text "details: 36 of 36 fetched · none missing" --wait-text "of 92 contacts of 36 events" \
		--shot contacts --click Sessions --wait-text "of 70 sessions of 36 events (from the details)" \
		--shot sessions --click Export --wait-text "wrote 70 rows of sessions" --click Contacts \
		--click Export --wait-text "wrote 92 rows of contacts" --shot details-exported \
		--click Events --uncheck Details --select Tenant=ACME --exec "sb.faults.latency = 0.5" \
		--click-nowait Fetch --wait-text "rows · page" --shot walking --click Cancel --wait-enabled Resume \
		--wait-text "pages saved in" --shot cancelled --exec "sb.faults.latency = 0" \
		--click Resume --wait-text "resumed from checkpoint" --click Export --wait-text "wrote 2,400 rows" \
		--shot exported --check Details --exec "sb.faults.latency = 0.2" --click-nowait Fetch \
		--wait-text "fetching ACME: details" --shot walking-details --click Cancel --wait-enabled Resume \
		--wait-text "still to fetch" --shot cancelled-details --exec "sb.faults.latency = 0" \
		--click Resume --wait-text "details: 2,400 of 2,400 fetched" --click Contacts --click Export \
		--wait-text "wrote 5,985 rows of contacts" --shot resumed-details \
		--expect-text "wrote 5,985 rows of contacts" --expect-text "details reused" --forbid-text "error:"

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
