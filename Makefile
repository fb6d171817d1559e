# Community OS (社区数字底座) on Tryton 8.0 LTS.
#   make demo   install everything, start a database, load the demo compound,
#               serve the web client on http://127.0.0.1:8000
#   make test   install everything and run every test on PostgreSQL
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAO_VERSION ?= 8.0
SAO_DIR := .local/sao
STAMP := $(VENV)/.installed

.PHONY: demo test install sao chromium bench bench-register clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(SAO_DIR)/package/index.html:
	command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq nodejs npm; }
	mkdir -p $(SAO_DIR)
	cd $(SAO_DIR) && rm -rf package && npm pack --silent tryton-sao@$(SAO_VERSION) >/dev/null && tar xzf tryton-sao-*.tgz && rm -f tryton-sao-*.tgz
	cd $(SAO_DIR)/package && npm install --silent --omit=dev --legacy-peer-deps --no-audit --no-fund

sao: $(SAO_DIR)/package/index.html

demo: install sao
	$(PY) scripts/demo.py

# Debian's chromium for the headless browser test (Playwright's own
# browser download does not work here); installed when missing and root.
chromium:
	test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } || echo "chromium missing: the browser test will be skipped"

test: install sao chromium
	$(PY) scripts/runtests.py

bench: install
	$(PY) scripts/bench.py

# Register import benchmark: 20,000 units / ~40,000 residencies into a
# fresh database (UNITS=N to change the size).
bench-register: install
	$(PY) tests/bench/bench_register_import.py --units $(or $(UNITS),20000)

clean:
	rm -rf $(VENV) .local
