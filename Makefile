# Sluice — build, test, demo and benchmark entry points.
SHELL := /bin/bash
NPM ?= npm
DEMO_DIR := fixtures/.generated/demo

.PHONY: install build lint test browser demo bench bench-10m bench-http bench-postgres bench-workers profile clean wizard-screenshots

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

build: install
	$(NPM) run --silent build

lint: build
	$(NPM) run --silent lint

test: lint browser
	$(NPM) test

# The wizard's browser tests drive Debian's Chromium. Where it is missing and Debian's packages
# can be installed (as root, outside CI), it is installed; elsewhere those tests are skipped,
# saying so. SLUICE_CHROMIUM names another binary.
browser:
	@if [ -z "$$SLUICE_CHROMIUM" ] && [ ! -x /usr/bin/chromium ]; then \
	  if [ -z "$$CI" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium for the browser tests (apt-get install chromium)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Chromium could not be installed: the browser tests will be skipped"; \
	  else \
	    echo "no Chromium at /usr/bin/chromium: the browser tests will be skipped (apt-get install chromium runs them)"; \
	  fi; \
	fi

demo: build
	@mkdir -p $(DEMO_DIR)
	@rm -f $(DEMO_DIR)/demo.db $(DEMO_DIR)/demo.db-wal $(DEMO_DIR)/demo.db-shm
	node dist/fixtures/demo.js $(DEMO_DIR)

# Each contestant runs BENCH_REPEAT times, interleaved; the table shows medians (the machines are noisy).
BENCH_REPEAT ?= 3
bench: build
	BENCH_REPEAT=$(BENCH_REPEAT) node dist/bench/run.js

# The memory scenario alone (also in `make bench BENCH_10M=1`): Sluice's initial load and nightly
# reload of 10,000,000 rows, and the 1M-row load it is compared with. Several minutes; about
# 2.5 GB of fixtures kept under fixtures/.generated for the next run.
bench-10m: build
	node dist/bench/scenarios/memory.js

# The worker-count sweep: the initial load and the nightly reload at 1, 2, 4, … workers (up to
# the CPUs, or BENCH_WORKERS=1,2,8), rows/s per count and the speed-up over one worker.
bench-workers: build
	BENCH_REPEAT=$(BENCH_REPEAT) node dist/bench/scenarios/workers.js

# The HTTP job service (sluice serve): status latency under load, and upload + import against
# sluice import. Not part of `bench`: it measures the service rather than the engine, for several minutes.
bench-http: build
	BENCH_REPEAT=$(BENCH_REPEAT) node dist/bench/scenarios/serve.js

# The initial load and the nightly reload into PostgreSQL (sluice import --db postgres://…) against
# peer P (psql: \copy into a staging table, one INSERT … ON CONFLICT), on a server the bench starts
# itself (PostgreSQL 15: initdb, pg_ctl, postgres; psql). Also part of `bench` wherever those are
# found (BENCH_POSTGRES=0 leaves them out); this target runs them alone.
bench-postgres: build
	BENCH_REPEAT=$(BENCH_REPEAT) node dist/bench/scenarios/postgres.js

# clinic doctor and flame on scenario 1 (initial load) at a size that runs in about a minute.
PROFILE_ROWS ?= 300000
PROFILE_DIR := fixtures/.generated/profile
PROFILE_IMPORT = dist/src/cli/main.js import --db $(PROFILE_DIR)/profile.db --class Person --keys email --progress none \
	--file fixtures/.generated/persons-initial-$(PROFILE_ROWS).csv
profile: build
	node dist/fixtures/generate.js --rows $(PROFILE_ROWS)
	@mkdir -p $(PROFILE_DIR)
	@for tool in flame doctor; do \
	  rm -f $(PROFILE_DIR)/profile.db*; \
	  node dist/src/cli/main.js import --db $(PROFILE_DIR)/profile.db --class Organization --file fixtures/.generated/organizations.csv --progress none >/dev/null || exit 1; \
	  NO_INSIGHT=1 npx clinic $$tool --dest $(PROFILE_DIR) -- node $(PROFILE_IMPORT) \
	    || echo "clinic $$tool could not analyse this run (see bench/README.md)"; \
	done
	@echo "reports: $(PROFILE_DIR)/*.html"

clean:
	rm -rf dist node_modules/.installed

# The import wizard's screenshots in docs/wizard/, taken by its browser test (needs Chromium:
# apt-get install chromium; SLUICE_CHROMIUM names another binary).
wizard-screenshots: build
	rm -rf docs/wizard
	SLUICE_SCREENSHOTS=docs/wizard node --test dist/test/browser/wizard.test.js
