# Sluice — build, test, demo and benchmark entry points.
SHELL := /bin/bash
NPM ?= npm
DEMO_DIR := fixtures/.generated/demo

.PHONY: install build lint test demo bench profile clean

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

build: install
	$(NPM) run --silent build

lint: build
	$(NPM) run --silent lint

test: lint
	$(NPM) test

demo: build
	@mkdir -p $(DEMO_DIR)
	@rm -f $(DEMO_DIR)/demo.db $(DEMO_DIR)/demo.db-wal $(DEMO_DIR)/demo.db-shm
	node dist/fixtures/demo.js $(DEMO_DIR)

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist node_modules/.installed
