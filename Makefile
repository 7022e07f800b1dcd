# The order management system's local stack and test suite.
#   make up      install what is missing, start everything, return once every service is ready
#   make test    make up, then run the whole test suite against the real stack
#   make bench   make up, then the load benchmark (SHORT=1: a quick check); see docs/benchmarks.md
#   make chaos   make up, then faults injected under load and the invariants checked; docs/reliability.md
#   make status  what runs, and whether each service is ready
#   make fuzz    make up, then Schemathesis against each service's OpenAPI schema (docs/hostile-input.md)
#   make down    stop everything make up started (data is kept)
#   make clean   make down, then delete the stack's data (databases, topics, logs)
#   make lock    resolve requirements/*.txt afresh into requirements/constraints.txt (after changing a pin)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
KAFKA_LIBS := var/kafka/libs

.PHONY: up down status test bench chaos fuzz lint clean lock system-packages

up: system-packages $(VENV)/.installed $(KAFKA_LIBS)/.fetched
	@stack/scripts/up.sh

down:
	@stack/scripts/down.sh

status:
	@stack/scripts/status.sh

test: up
	@stack/scripts/test.sh

bench: up
	@stack/scripts/bench.sh $(if $(SHORT),--short)

chaos: up
	@stack/scripts/chaos.sh $(if $(SHORT),--short)

fuzz: up
	@stack/scripts/fuzz.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean: down
	@stack/scripts/clean.sh

system-packages:
	@stack/scripts/system-packages.sh

# The virtualenv, rebuilt when a requirements file changes.
$(VENV)/.installed: requirements/base.txt requirements/dev.txt requirements/constraints.txt
	@echo "==> installing Python packages into $(VENV)"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	@touch $@

# The lock: the direct pins resolved in a fresh virtualenv, and every version that resolution chose.
lock:
	@rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	@var/lock-venv/bin/pip install -q --disable-pip-version-check -r requirements/dev.txt
	@{ sed -n '/^#/p' requirements/constraints.txt; var/lock-venv/bin/pip freeze --disable-pip-version-check; } \
		> requirements/constraints.txt.new
	@mv requirements/constraints.txt.new requirements/constraints.txt
	@rm -rf var/lock-venv
	@echo "==> requirements/constraints.txt: $$(grep -c '==' requirements/constraints.txt) packages"

# The Kafka broker's jars from Maven Central, fetched again when the pom changes.
$(KAFKA_LIBS)/.fetched: stack/kafka/pom.xml
	@echo "==> fetching the Apache Kafka broker jars with Maven"
	@rm -rf $(KAFKA_LIBS)
	@mvn -q -B -f stack/kafka/pom.xml package
	@touch $@
