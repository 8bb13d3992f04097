# kubeprop: every target creates or refreshes the virtual environment at .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kubeprop-installed
PYTEST := $(BIN)/pytest

.PHONY: venv conformance test unit quality lint bench faults thorough serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## the conformance suite against the bundled control plane, on every core
conformance: venv
	$(PYTEST) -n auto conformance

## kubeprop's own tests: lint, unit, quality (every seeded fault caught), a short conformance run
test: venv lint
	$(PYTEST) -n auto -q tests conformance

unit: venv
	$(PYTEST) -q tests/unit

quality: venv
	$(PYTEST) -n auto -q tests/quality

lint: venv
	$(BIN)/ruff check model controlplane adapters conformance tests

## harness overhead and time-to-find for every seeded fault (prints a table)
bench: venv
	$(BIN)/python -m conformance.bench

faults: venv
	$(BIN)/python -m controlplane.faults

## the bundled API server over HTTP (Ctrl-C stops it); clients use the kubeconfig it writes
KUBECONFIG_OUT ?= reports/kubeconfig
PORT ?= 0
serve: venv
	$(BIN)/python -m controlplane serve --storage memory --port $(PORT) --kubeconfig $(KUBECONFIG_OUT)

## long run: the thorough Hypothesis profile
thorough: venv
	$(PYTEST) -n auto conformance --hypothesis-profile=thorough

clean:
	rm -rf $(VENV) reports/* .hypothesis
