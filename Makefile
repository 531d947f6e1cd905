# Linli: `make run` serves the demo at http://127.0.0.1:8000, `make test` runs every test.
# Both install what they need on a fresh Debian 12 machine (as root, or with sudo) and skip what is already there.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PY := .venv/bin/python
STAMPS := .stamps
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/linli_test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PICCOLO_CONF := backend.piccolo_conf

.PHONY: run test test-fast test-sqlite test-postgres test-sw test-e2e deps test-deps postgres bench clean

run: deps
	.venv/bin/linli db migrate
	.venv/bin/linli demo load
	.venv/bin/linli serve

test: test-deps
	$(MAKE) --no-print-directory test-sqlite test-postgres test-sw test-e2e

# unit, integration and web tests on SQLite
test-sqlite: test-deps
	$(PY) -m pytest tests -q -p no:cacheprovider

# everything that touches the database again, on PostgreSQL
test-postgres: test-deps postgres
	LINLI_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest tests -q -p no:cacheprovider -m db

# the offline scan queue's unit tests (node's runner, fake-indexeddb): npm ci when node_modules is missing or older
# than the lockfile (node_modules/.package-lock.json is npm's own record of what it installed)
test-sw: $(STAMPS)/system
	@if [ ! -e service-worker/node_modules/.package-lock.json ] \
	   || [ service-worker/package-lock.json -nt service-worker/node_modules/.package-lock.json ]; then \
	  echo "npm ci (service-worker)"; \
	  (cd service-worker && npm ci --no-audit --no-fund --loglevel=error); \
	  touch service-worker/node_modules/.package-lock.json; \
	fi
	node --test service-worker/test/

test-e2e: test-deps
	$(PY) -m pytest e2e -q -p no:cacheprovider

bench: deps
	@ls benchmarks/*.py | sed 's/^/  /'; echo "run one with: $(PY) benchmarks/<name>.py"

deps: $(STAMPS)/python $(STAMPS)/system $(STAMPS)/frontend

test-deps: deps $(STAMPS)/system-test

$(STAMPS)/python: pyproject.toml
	@mkdir -p $(STAMPS)
	[ -x $(PY) ] || python3 -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Debian packages: zbar for reading card photos, a CJK font embedded in printed card sheets, node/npm for the front end
$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@missing=""; for p in libzbar0 fonts-droid-fallback nodejs; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@touch $@

# Chromium for the browser tests, ffmpeg to turn card images into fake-camera video, PostgreSQL for the second engine
$(STAMPS)/system-test:
	@mkdir -p $(STAMPS)
	@missing=""; for p in chromium ffmpeg postgresql poppler-utils libcairo2 fonts-noto-cjk; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@touch $@

$(STAMPS)/frontend: frontend/package.json frontend/package-lock.json frontend/build.sh
	bash frontend/build.sh
	@touch $@

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -1) main start
	@for i in $$(seq 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='linli_test'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE linli_test"

clean:
	rm -rf $(STAMPS) .venv frontend/node_modules frontend/static/vendor var
