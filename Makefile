# dvt-connect: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# Three pytest-xdist workers: the suite waits on JVM starts, servers and processes more than it
# computes. Each worker has its own test databases (tests/conftest.py).
TEST_WORKERS ?= 3
# The Delta/Iceberg real-table tests run in a second venv on a Spark minor both runtimes are built
# for (no Delta or Iceberg build exists for Spark 4.3 yet); see databases/files.py for the builds.
LAKE_VENV ?= .venv-lakehouse
LAKEHOUSE_PYSPARK ?= 4.1.*
# Debian packages the tests and the demo need (Java for Spark; real JDBC drivers with POMs
# under /usr/share/maven-repo for the sync tests and the integration tests).
DEBIAN_PACKAGES := openjdk-17-jre-headless libpostgresql-jdbc-java libmariadb-java

.PHONY: setup system-deps services services-stop services-status test test-fast test-faults test-lakehouse lint demo bench bytecode clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	[ -d /usr/share/maven-repo/org/postgresql/postgresql ] || missing="$$missing libpostgresql-jdbc-java"; \
	[ -d /usr/share/maven-repo/org/mariadb/jdbc/mariadb-java-client ] || missing="$$missing libmariadb-java"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing (install them with your package manager)" >&2; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# The PostgreSQL and MariaDB servers the integration tests and benchmarks use: installed (apt, as
# root) and started on loopback when missing, used as they are when already running, or taken from
# DVT_TEST_PG / DVT_TEST_MARIADB. Logs and data: /var/lib/dvt-services (or DVT_SERVICES_DIR).
services:
	@$(PYTHON) tools/dvt_services.py up

# Stops exactly the servers `make services` started (by their recorded PIDs), nothing else.
services-stop:
	@$(PYTHON) tools/dvt_services.py down

services-status:
	@$(PYTHON) tools/dvt_services.py status

# The main run on the project's PySpark in $(TEST_WORKERS) workers and, beside it, the lakehouse
# runtime tests in their own venv, which is built (pip, network-bound) first; that side's output
# goes to $(LAKE_LOG) and is printed when both are done. It has a Maven cache of its own, since
# the shared one is locked by one process for a whole session.
LAKE_LOG ?= .test-lakehouse.log
test: setup services
	@( $(MAKE) --no-print-directory $(LAKE_VENV)/.installed && \
	   DVT_TEST_MAVEN_CACHE="$${DVT_TEST_MAVEN_CACHE:-$$HOME/.cache/dvt-test-maven}-lakehouse" \
	   $(MAKE) --no-print-directory test-lakehouse \
	) > $(LAKE_LOG) 2>&1 & lake=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not lakehouse_runtime" $(PYTEST_ARGS); \
	status=$$?; \
	echo "make test: the main run ended ($$status); waiting for the lakehouse tests ($(LAKE_LOG))"; \
	wait $$lake; lake_status=$$?; \
	echo "---- lakehouse tests ($(LAKE_LOG)) ----"; cat $(LAKE_LOG); \
	if [ $$lake_status -ne 0 ]; then echo "make test: the lakehouse tests failed (above)" >&2; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; exit $$lake_status

$(LAKE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/pip install -q --upgrade pip
	$(LAKE_VENV)/bin/pip install -q -e ".[test,lakehouse-test]" "pyspark==$(LAKEHOUSE_PYSPARK)"
	touch $@

# Delta and Iceberg tables written and read for real, on PySpark $(LAKEHOUSE_PYSPARK).
test-lakehouse: system-deps services $(LAKE_VENV)/.installed
	$(LAKE_VENV)/bin/python -m pytest -m lakehouse_runtime tests/lakehouse/test_modes.py $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not spark and not postgres and not mariadb and not network and not faults and not maven and not cluster" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check dvt_connect tests
	$(BIN)/mypy dvt_connect

demo: setup
	$(BIN)/dvt init --demo
	$(BIN)/dvt transfer --profile demo --source derby --table APP.ORDERS --target lake --target-table orders

# The lakehouse bench (PostgreSQL -> Delta beside -> Parquet) runs in the lakehouse venv, on a
# PySpark the Delta runtime is built for.
# dvt's modules compiled to bytecode, as a wheel install compiles them: an editable install
# compiles none, and where PYTHONDONTWRITEBYTECODE is set every dvt process compiles its ~100
# modules again (0.1 s of each run here); the bench times dvt as it is installed
bytecode: setup
	$(BIN)/python -m compileall -q dvt_connect

bench: setup services bytecode $(LAKE_VENV)/.installed
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/replication.py $(REPL_BENCH_ARGS)
	$(BIN)/python benchmarks/incremental.py $(BENCH_INC_ARGS)
	$(LAKE_VENV)/bin/python benchmarks/lakehouse.py $(BENCH_LAKE_ARGS)

clean:
	rm -rf $(VENV) $(LAKE_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The fault-injection suite alone (also part of `make test`).
test-faults: setup services
	$(BIN)/python -m pytest -m faults $(PYTEST_ARGS)
