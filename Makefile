# Lab 5 "Deep Learning with Spark". `make demo` and `make test` work on a fresh clone: both set up .venv first.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DATA ?=
ASSIGNMENT := lab5
NBGRADER := $(BIN)/nbgrader

.PHONY: setup java-check sandbox-check spark-archive handout demo test test-fast lint format bench bench-scale cluster-demo ui release collect autograde feedback release-feedback grades clean

setup: java-check sandbox-check $(INSTALLED)

java-check:
	@$(PYTHON) -m helpers.java

# The autograder runs student code in bubblewrap: installed here when possible (root with apt), else the fix.
sandbox-check:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } \
	  || { echo "error: bubblewrap (bwrap) is needed to grade untrusted code: apt-get install bubblewrap"; exit 1; }

# Reinstall only when the pinned dependencies change; otherwise setup is a no-op.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[app,dev]'
	@touch $@

demo: setup spark-archive
	$(BIN)/python -m tools.demo $(if $(DATA),--data $(DATA))
	$(BIN)/python -m grading roundtrip

# Measured side by side with the original pipeline; writes bench/results/latest.json and plots.
bench: setup
	$(BIN)/python -m bench.run

# LSH at 10k, 100k and 1M rows (synthetic, from pretrained features): about 20 minutes; adds lsh_scaling
# to bench/results/latest.json.
bench-scale: setup
	$(BIN)/python -m bench.scale

# A real standalone Spark cluster on this machine, the pipeline on it, then the cluster stopped.
cluster-demo: setup
	$(BIN)/python -m tools.cluster $(if $(DATA),--data $(DATA))

# The similar-car finder on http://127.0.0.1:$(PORT) (index built once per dataset, then reused).
PORT ?= 8501
ui: setup
	LAB_DATA_DIR=$(DATA) $(BIN)/streamlit run app/similar_cars.py --server.address 127.0.0.1 --server.port $(PORT)

# ---- instructors: the nbgrader workflow in this folder (see README "For instructors")
release: setup
	$(NBGRADER) generate_assignment $(ASSIGNMENT) --force

# dist/lab5-handout.zip: the release notebooks, the helpers package and a student README, no answers.
handout: setup
	$(BIN)/python -m grading handout

collect: setup
	$(NBGRADER) zip_collect $(ASSIGNMENT) --force

# Every submission in submitted/, JOBS at a time, each kernel sandboxed (README "Grading integrity").
JOBS ?= $(shell nproc)
autograde: setup
	$(BIN)/python -m grading autograde --jobs $(JOBS)

feedback: setup
	$(NBGRADER) generate_feedback $(ASSIGNMENT) --force

# Exchange (JupyterHub) students fetch it with Fetch Feedback; LMS-collected students are listed.
release-feedback: setup
	$(BIN)/python -m grading release-feedback

grades: setup
	$(NBGRADER) export --to grades.csv

# Spark's class-data archive, recorded once per machine (about 20 s): every later JVM starts sooner.
spark-archive: setup
	@$(BIN)/python -c "from helpers.spark import ensure_class_archive; ensure_class_archive()"

# Everything CI runs: style, then every test (units, notebooks, grading round trips, cluster, browser).
test: setup lint spark-archive
	LAB_SPARK_UI=false $(BIN)/python -m pytest

# The day-to-day loop: units only, no notebooks, autograding, cluster or browser (under 2 minutes).
test-fast: setup
	LAB_SPARK_UI=false $(BIN)/python -m pytest -m "not slow" tests

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf artifacts .cache data/embedded-cars autograded/*/ feedback submitted gradebook.db
