# pbfidelity developer entry points. Everything the project needs is installed by these targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PBF := $(VENV)/bin/pbfidelity
# CPU build of PyTorch for the ssl stage; pinned so pip never pulls the CUDA wheels.
TORCH_VERSION ?= 2.13.0
PYTEST_WORKERS ?= 2
DEMO_DIR ?= demo

.PHONY: install demo test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[ssl,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PBF) simulate --outdir $(DEMO_DIR)/input --seed 42
	$(PBF) run --input $(DEMO_DIR)/input/samplesheet.csv --outdir $(DEMO_DIR)/results --seed 42 \
		--gene-sets $(DEMO_DIR)/input/genesets.gmt --label-column phenotype

test: install
	$(VENV)/bin/ruff check src tests
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

clean:
	rm -rf $(DEMO_DIR) .pytest_cache build *.egg-info src/*.egg-info
