# `make demo` trains the main demo and writes its figures; `make test` runs the tests.
# `make docs` builds the documentation site into site/ (strict: any warning fails).
# Each creates the virtual environment .venv (Python 3.11) on first use.
PYTHON ?= python3.11
VENV := .venv
SHARED_DATA := $(abspath ../shared/datasets)
# Offline machines: point the loader at local IDX files when they are there.
ifeq ($(MMDVAE_DATA_DIR),)
ifneq ($(wildcard $(SHARED_DATA)/mnist),)
export MMDVAE_DATA_DIR := $(SHARED_DATA)
endif
endif

$(VENV)/installed: requirements.txt requirements-dev.txt requirements-docs.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt \
		-r requirements-docs.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

.PHONY: demo test test-slow docs
demo: $(VENV)/installed
	$(VENV)/bin/python -m mmdvae train --model mmd --dataset mnist --latent-dim 2 \
		--epochs 6 --train-size 30000 --batch-size 200 --figures samples,scatter,morph --gif \
		--out runs/demo --overwrite

# Tests run in up to 4 worker processes (pytest-xdist), one per CPU the machine has.
TEST_WORKERS := -n logical --maxprocesses=4 --dist worksteal

test: $(VENV)/installed
	$(VENV)/bin/python -m pytest $(TEST_WORKERS)

test-slow: $(VENV)/installed
	$(VENV)/bin/python -m pytest -m slow $(TEST_WORKERS)

docs: $(VENV)/installed
	$(VENV)/bin/mkdocs build --strict --site-dir site
