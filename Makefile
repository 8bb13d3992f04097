# kubeprop: every target creates or refreshes the virtual environment at .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kubeprop-installed
PYTEST := $(BIN)/pytest

.PHONY: venv conformance test unit quality lint bench faults thorough serve clean campaign kube-binaries realcluster-test kubectl-tools differential concurrency matrix kube-controller-manager

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
	$(PYTEST) -n auto -q --durations=15 tests conformance --ignore=tests/quality
	@# the fault gate in fresh worker processes, so nothing an earlier test left in a process can steer it
	$(PYTEST) -n auto -q --durations=30 tests/quality

unit: venv
	$(PYTEST) -q tests/unit

quality: venv
	$(PYTEST) -n auto -q tests/quality

lint: venv
	$(BIN)/ruff check model controlplane adapters conformance tests tools

## harness overhead and time-to-find for every seeded fault, then HTTP figures: requests/s per verb and
## conformance steps/s over HTTP, on memory and on etcd storage (prints tables)
bench: venv
	$(BIN)/python -m conformance.bench
	$(BIN)/python -m controlplane.schedbench
	$(BIN)/python -m controlplane.etcdbench --unsafe-no-fsync
	$(BIN)/python -m conformance.httpbench

faults: venv
	$(BIN)/python -m controlplane.faults

## the black-box scheduling machine against the served server and two bundled scheduler processes it kills and
## pauses: its tests, then every scheduler.* and lease.* fault measured (BLACKBOX_RUNS random runs each; prints what
## each run failed on)
BLACKBOX_RUNS ?= 2
.PHONY: blackbox failover schedperf
blackbox: venv
	$(PYTEST) -q tests/served/test_blackbox_served.py
	$(BIN)/python -m conformance.blackbox --runs $(BLACKBOX_RUNS) \
	  $$($(BIN)/python -m controlplane.faults | cut -f1 | grep -E '^(scheduler|lease)[.]')

## failover of the leading scheduler replica as a distribution: FAILOVER_TRIALS SIGKILL and as many SIGSTOP trials,
## real kube-scheduler then the bundled scheduler processes, on kube-apiserver (about 20 min each at 20 trials)
FAILOVER_TRIALS ?= 20
failover: venv kube-binaries
	$(BIN)/python -m conformance.failover --which kube-scheduler --trials $(FAILOVER_TRIALS)
	$(BIN)/python -m conformance.failover --which bundled --trials $(FAILOVER_TRIALS)

## scheduling throughput, bundled scheduler and kube-scheduler side by side on one kube-apiserver, in
## scheduler_perf's SchedulingBasic shape (100 / 1,000 / 5,000 nodes, 1,000 pods); reports/schedperf.md
schedperf: venv kube-binaries
	$(BIN)/python -m conformance.schedperf

## the bundled API server over HTTP (Ctrl-C stops it); clients use the kubeconfig it writes
KUBECONFIG_OUT ?= reports/kubeconfig
PORT ?= 0
serve: venv
	$(BIN)/python -m controlplane serve --storage memory --port $(PORT) --kubeconfig $(KUBECONFIG_OUT)

## concurrent clients: the concurrent machine under the thorough profile on the builtin target, then over HTTP
## against the bundled server served on memory and on etcd storage
concurrency: venv
	$(PYTEST) -q conformance/test_concurrency.py --hypothesis-profile=thorough
	$(PYTEST) -q conformance/test_concurrency.py --target served --storage memory
	$(PYTEST) -q conformance/test_concurrency.py --target served --storage etcd
	KUBEPROP_DISRUPTION_EXAMPLES=15 $(PYTEST) -q -s tests/served/test_disruptions.py

## a fuzzing campaign (conformance/campaign.py): every core, CAMPAIGN_MINUTES (empty: until Ctrl-C), one shared example
## database (CAMPAIGN_DB, default an embedded Redis in .kubeprop/campaign.db; a redis:// URL pools machines)
CAMPAIGN_MINUTES ?=
CAMPAIGN_DB      ?=
campaign: venv
	$(BIN)/python -m conformance.campaign $(if $(CAMPAIGN_MINUTES),--minutes $(CAMPAIGN_MINUTES)) \
	  $(if $(CAMPAIGN_DB),--db $(CAMPAIGN_DB))

## time to find every seeded fault, a campaign beside plain pytest -n auto, over TIMETOFIND_SEEDS random seeds each,
## TIMETOFIND_CAP seconds at most per hunt (conformance/timetofind.py; prints a table, writes reports/timetofind.md
## and reports/timetofind.json; an hour or more on two cores)
TIMETOFIND_SEEDS ?= 3
TIMETOFIND_CAP   ?= 120
.PHONY: timetofind
timetofind: venv
	$(BIN)/python -m conformance.timetofind --seeds $(TIMETOFIND_SEEDS) --cap $(TIMETOFIND_CAP)

## long run: the thorough Hypothesis profile
thorough: venv
	$(PYTEST) -n auto conformance --hypothesis-profile=thorough

## upstream kube-apiserver, kube-scheduler, kubectl and etcd (tools/kube/go.mod), built once into
## KUBE_BIN_DIR (default ~/.cache/kubeprop/kube/<version>/); KUBEBUILDER_ASSETS binaries are used if set.
## KUBE_VERSION=v1.X.Y builds that release instead, from a module generated from its own go.mod
## (tools/kube/gomod.py) in ~/.cache/kubeprop/kube/v1.X.Y/module/; the differential then runs against it
KUBE_VERSION ?=
export KUBE_VERSION
kube-binaries:
	nice -n 10 tools/kube/build.sh

## upstream kube-controller-manager of the same release into the same folder, only when asked (kube-binaries and CI
## never build it): the node lifecycle controller for tools/kube/cluster.py --controller-manager
## (Cluster(controller_manager=True)); KUBE_VERSION=v1.X.Y as for kube-binaries
kube-controller-manager:
	nice -n 10 env KUBE_COMPONENTS=kube-controller-manager tools/kube/build.sh

## tests/realcluster: etcd + kube-apiserver + kube-scheduler replicas, and kube-controller-manager for the node
## lifecycle test (builds the binaries first)
realcluster-test: venv kube-binaries kube-controller-manager
	$(PYTEST) -q -m realcluster tests/realcluster

## hollow kubelets against a real kube-apiserver + kube-controller-manager (the node lifecycle controller alone, an 8 s
## grace period and a 1 s monitor period): NODES_REAL_SEEDS random seeds with clean kubelets, then each kubelet.* fault
## over the same seeds, judged by the node checks (conformance/nodes_real.py; prints a table, reports/nodes_real.json);
## not in CI (about 8 min per seed)
NODES_REAL_SEEDS ?= 2
.PHONY: nodes-real
nodes-real: venv kube-binaries kube-controller-manager
	$(BIN)/python -m conformance.nodes_real --start --matrix --seeds $(NODES_REAL_SEEDS)

## the same against the bundled server served with its own node lifecycle controller (serve --node-lifecycle):
## clean kubelets, then each kubelet.* and nodelifecycle.* fault (nodelifecycle.trusts-renew-time shows only with
## kubelet clocks off true time: NODES_SERVED_ARGS="--clock-skew 20"); not in CI (about 9 min per seed)
NODES_SERVED_ARGS ?=
.PHONY: nodes-served
nodes-served: venv
	$(BIN)/python -m conformance.nodes_real --served --matrix --seeds $(NODES_REAL_SEEDS) $(NODES_SERVED_ARGS)

## the differential run (tests/differential): builds or reuses the binaries, starts etcd + kube-apiserver +
## kube-scheduler replicas, runs the API-server machine against it and against the bundled server over HTTP,
## the scheduler and leader-election differentials, stops it; figures go to reports/differential.json
## (KUBE_VERSION=v1.X.Y: that release, built first if missing; figures in reports/differential-v1.X.Y.json)
## known upstream findings (conformance/findings.py) are reported as warnings there and the run goes on
differential: venv kube-binaries
	KUBEPROP_REPORT_KNOWN=1 $(PYTEST) -q -p no:randomly -m differential tests/differential

## opt-in, never in CI: the API-server suite over HTTP against each release in KUBE_VERSIONS (built when missing),
## MATRIX_EXAMPLES examples per shard, MATRIX_TIMEOUT seconds per release; reports/matrix.md and reports/matrix.json
KUBE_VERSIONS   ?= v1.34.0 v1.34.4 v1.36.1 v1.36.3 v1.37.2
MATRIX_EXAMPLES ?= 40
MATRIX_TIMEOUT  ?= 900
matrix: venv
	KUBE_VERSIONS="$(KUBE_VERSIONS)" MATRIX_EXAMPLES=$(MATRIX_EXAMPLES) MATRIX_TIMEOUT=$(MATRIX_TIMEOUT) \
	  $(BIN)/python -m conformance.matrix

## report tools, each installed only when missing: Allure 3 (npm package allure) into .tools/, Selenium into
## .venv, Debian's chromium and chromium-driver for the report's browser test (apt-get; sudo when not root)
TOOLS          := .tools
ALLURE         := $(TOOLS)/node_modules/.bin/allure
ALLURE_VERSION := 3.18.0
SUDO           := $(if $(filter 0,$(shell id -u)),,sudo)
.PHONY: report-tools report
report-tools: venv
	@test -x $(ALLURE) && [ "$$($(ALLURE) --version)" = "$(ALLURE_VERSION)" ] || \
	  npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error allure@$(ALLURE_VERSION)
	@$(BIN)/python -c "import selenium" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check 'selenium>=4.20'
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation; }

## reports/allure-results (from pytest --alluredir reports/allure-results) -> static HTML report in reports/html;
## every report adds its run to reports/allure-history.jsonl, the history its trends show
report:
	@test -x $(ALLURE) || { echo "make report: Allure is not installed; run make report-tools first" >&2; exit 1; }
	rm -rf reports/html
	$(ALLURE) generate --config allurerc.mjs --output reports/html reports/allure-results

## kubectl for tests/http/test_kubectl.py: an upstream build from `make kube-binaries` is used first; otherwise
## the distribution's package (Debian: kubernetes-client) when apt has one
kubectl-tools:
	@if command -v kubectl >/dev/null 2>&1 || ls $(HOME)/.cache/kubeprop/kube/*/kubectl >/dev/null 2>&1; then \
		echo "kubectl: already there"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && (apt-get install -y -qq kubectl || apt-get install -y -qq kubernetes-client); \
	else echo "kubectl-tools: no apt-get; run make kube-binaries"; fi

clean:
	rm -rf $(VENV) reports/* .hypothesis
