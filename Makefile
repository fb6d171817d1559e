# Community OS (社区数字底座) on Tryton 8.0 LTS.
#   make demo   install everything, start a database, load the demo compound,
#               serve the web client on http://127.0.0.1:8000
#   make test   install everything, lint, and run every test on PostgreSQL
#   make lint   ruff on the modules, scripts and tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAO_VERSION ?= 8.0
SAO_DIR := .local/sao
STAMP := $(VENV)/.installed

.PHONY: demo test lint install sao bench bench-register bench-billing bench-payment bench-payment-notify bench-notify bench-dunning bench-portal bench-iot bench-access chromium clean

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

sao: $(SAO_DIR)/package/index.html install
	$(PY) scripts/sao_locale.py $(SAO_DIR)/package

demo: install sao
	$(PY) scripts/demo.py

# Debian's chromium for the browser tests (Playwright's own download fails)
chromium:
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; } || true

# ruff's rules are in pyproject.toml ([tool.ruff])
lint: install
	$(VENV)/bin/ruff check addons scripts tests

test: lint chromium sao
	scripts/ensure_mosquitto.sh
	$(PY) scripts/runtests.py

# every benchmark, one after the other (each prints its own figures)
bench: bench-register bench-billing bench-payment bench-payment-notify bench-notify bench-dunning bench-iot bench-portal bench-access

# Register import benchmark: 20,000 units / ~40,000 residencies into a
# fresh database (UNITS=N to change the size).
bench-register: install
	$(PY) tests/bench/bench_register_import.py --units $(or $(UNITS),20000)

# Monthly bill run vs. customer invoices; e.g. make bench-billing UNITS=100000
UNITS ?= 20000
bench-billing: install
	$(PY) tests/bench/bench_billing.py --units $(UNITS)

# Counter payments after a bill run: one payment per unit, receipts
# gapless, ledger balanced; e.g. make bench-payment PAY_UNITS=20000
PAY_UNITS ?= 5000
bench-payment: install
	$(PY) tests/bench/bench_payment.py --units $(PAY_UNITS)
	$(PY) tests/bench/bench_payment.py --units $(PAY_UNITS) --prepaid

# WeChat Pay notifications of N pending online payments posted at once by
# concurrent clients to trytond (+ trytond-worker), as make demo runs it;
# each booked once, ledger balanced (e.g. make bench-payment-notify
# N=20000 NOTIFY_ARGS="--clients 32 --workers 2")
N ?= 5000
bench-payment-notify: install
	$(PY) tests/bench/bench_payment_notify.py --payments $(N) $(NOTIFY_ARGS)

# A bill run of UNITS units notifying every payer (inbox + emulated WeChat
# and SMS sent by trytond-worker): messages/s, time until all are sent,
# the bill run's time with and without notifications
bench-notify: install
	$(PY) tests/bench/bench_notify.py --units $(UNITS)

# Create Dunnings after a bill run of 5,000 units, a quarter of them paid
# (DUNNING_UNITS=N to change the size).
DUNNING_UNITS ?= 5000
bench-dunning: install
	$(PY) tests/bench/bench_dunning.py --units $(DUNNING_UNITS)

# 50 concurrent logged-in residents on the bill list page of the portal
bench-portal: install
	$(PY) tests/bench/bench_portal.py

# community_iot: bridge vs raw paho+PostgreSQL baseline, latency at 2000/s
bench-iot: install
	scripts/ensure_mosquitto.sh
	$(PY) tests/bench/bench_iot.py $(BENCH_IOT_ARGS)

# Online QR decisions at the doors of 1,000 compounds (1M credentials,
# 100k visitor passes): 200/s over HTTP and over MQTT (bridge, Mosquitto),
# p50/p99, every decision checked; e.g. make bench-access
# BENCH_ACCESS_ARGS="--credentials 20000 --compounds 50 --seconds 10"
bench-access: install
	scripts/ensure_mosquitto.sh
	$(PY) tests/bench/bench_access.py $(BENCH_ACCESS_ARGS)

clean:
	rm -rf $(VENV) .local
