# The README's two commands: `make run` (all notebooks, embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUTPUT ?= outputs
# The benchmark data beside the project, when it is there (never copied in).
DATA ?= $(abspath ../shared/data)
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(if $(wildcard $(DATA)),CURIOLIB_DATA=$(DATA),)

.PHONY: setup run test test-fast lint deck-assets notebooks figures slides clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# An unpinned torch pulls a multi-GB CUDA build; the CPU wheel 2.13.0 lies on this disk.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	@# lab: JupyterLab, RISE, papermill (curiolib run); dev: the test tools. Colab's first cell installs neither.
	$(PY) -m pip install -q -e ".[lab,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $@

setup: $(VENV)/.installed

# Every notebook with papermill on the embedded default: executed copies and summary.md in $(OUTPUT)/.
run: setup
	$(OFFLINE) $(VENV)/bin/curiolib run --output-dir $(OUTPUT)

# Three pytest-xdist workers on two cores: a worker waits while its lesson kernel or install starts, and two
# workers left the cores idle a third of the time (CONTRIBUTING.md). loadgroup: the tests that check one execution
# of a lesson, benchmark or environment share an xdist_group and run in one worker, which makes the execution once.
# --no-loadscope-reorder: the work goes out in the order tests/conftest.py gives it (the longest first), not
# xdist's (the largest group first).
XDIST := -n 3 --dist loadgroup --no-loadscope-reorder
# One thread in every process the tests start (the lessons' kernels already had it): three workers keep both cores
# busy, and a process with a second OpenMP or OpenBLAS thread on a busy core spins while it waits for it.
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# Lint, then every test: lessons executed and checked by nbval, benchmarks on tiny settings, the static decks
# (so their npm assets are installed first, where npm is found), and the install checks of tests/test_install.py
# (the minimum-versions environment in .venv-min/, the Colab first cell).
test: lint deck-assets
	$(OFFLINE) $(ONE_THREAD) $(PY) -m pytest $(XDIST)

# The decks' npm assets when npm is here. Without it the deck tests skip (pytest's summary lists them), except
# under CI=true, where a missing npm is an error: CI must test the decks.
deck-assets:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory slides/node_modules/.package-lock.json; \
	elif [ "$$CI" = "true" ]; then \
		echo "npm is not installed, and CI=true: CI tests the static decks, which need it (apt install npm)" >&2; \
		exit 1; \
	else \
		echo "npm not found: the static-deck tests will be skipped (install Node.js and npm to run them)"; \
	fi

# For development: lint and the tests that neither train, nor execute a lesson, nor run a benchmark.
test-fast: lint
	$(OFFLINE) $(ONE_THREAD) $(PY) -m pytest $(XDIST) -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .

# Refresh the committed notebooks' outputs from a real full run (what nbval checks against).
notebooks: setup
	$(OFFLINE) $(VENV)/bin/curiolib run --inplace --output-dir $(OUTPUT)/inplace

# Redraw the README's figures in images/ (lessons never write into the repository).
figures: setup
	$(PY) scripts/readme_figures.py

# Static reveal.js decks of every lesson in $(OUTPUT)/slides, with reveal.js and MathJax beside them: they
# present from a USB stick with no network. npm installs the versions slides/package.json pins, once.
slides: setup slides/node_modules/.package-lock.json
	$(VENV)/bin/curiolib slides --output-dir $(OUTPUT)/slides

slides/node_modules/.package-lock.json: slides/package.json slides/package-lock.json
	npm ci --prefix slides --ignore-scripts --no-audit --no-fund

clean:
	rm -rf $(OUTPUT) .pytest_cache
