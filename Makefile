# Lab 5 "Deep Learning with Spark". `make demo` and `make test` work on a fresh clone: both set up .venv first.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# The Python the course's .venv is made with; PYTHON is the student's, for make test-handout.
BASE_PYTHON ?= python3
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DATA ?=
ASSIGNMENT := lab5
NBGRADER := $(BIN)/nbgrader

.PHONY: setup java-check sandbox-check spark-archive handout test-handout demo test test-fast lint format bench bench-laptop bench-scale cluster-demo ui release collect autograde regrade report feedback release-feedback grades clean

setup: java-check sandbox-check $(INSTALLED)

java-check:
	@$(BASE_PYTHON) -m helpers.java

# The autograder runs student code in bubblewrap: installed here when possible (root with apt), else the fix.
sandbox-check:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } \
	  || { echo "error: bubblewrap (bwrap) is needed to grade untrusted code: apt-get install bubblewrap"; exit 1; }

# Reinstall only when the pinned dependencies change; otherwise setup is a no-op.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(BASE_PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[app,dev]'
	@touch $@

demo: setup spark-archive
	$(BIN)/python -m tools.demo $(if $(DATA),--data $(DATA))
	$(BIN)/python -m grading roundtrip

# Measured side by side with the original pipeline; writes bench/results/latest.json and plots.
# AGAIN="grading similarity" measures only those sections again and keeps the rest of latest.json.
AGAIN ?=
bench: setup
	$(BIN)/python -m bench.run $(if $(AGAIN),--again $(AGAIN))

# A student's whole run of the four notebooks: peak memory, CPU and wall time, disk (bench/results/laptop.json,
# quoted by the hand-out's README).
bench-laptop: setup spark-archive
	LAB_SPARK_UI=false $(BIN)/python -m bench.laptop

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

# dist/lab5-handout.zip: the release notebooks, the helpers package and a student README, no answers;
# DATA=/path/to/stanford-cars ships the student's sample of its photos (and only that) as well.
handout: setup
	$(BIN)/python -m grading handout $(if $(DATA),--data $(DATA))

# The hand-out installed with another Python (e.g. PYTHON=python3.12) into a fresh virtual environment,
# its notebooks run, Validate pressed, and the golden solution run there graded by the course's grader.
test-handout: setup spark-archive
	LAB_SPARK_UI=false LAB_HANDOUT_PYTHON=$(PYTHON) $(BIN)/python -m pytest -p no:cacheprovider tests/grading/test_handout.py

collect: setup
	$(NBGRADER) zip_collect $(ASSIGNMENT) --force

# Every submission in submitted/, JOBS at a time, each kernel sandboxed (README "Grading integrity").
JOBS ?= $(shell nproc)
autograde: setup
	$(BIN)/python -m grading autograde --jobs $(JOBS)

# After fixing a hidden test in source/: the release and the gradebook's tests regenerated, everyone graded
# again on the same sample, manual grades and comments kept.
regrade: setup
	$(BIN)/python -m grading regrade --jobs $(JOBS)

# reports/lab5/index.html: scores, diagnosed mistakes, grading incidents, CPU time, answers that look copied.
report: setup
	$(BIN)/python -m grading report

feedback: setup
	$(NBGRADER) generate_feedback $(ASSIGNMENT) --force

# Exchange (JupyterHub) students fetch it with Fetch Feedback; LMS-collected students are listed.
release-feedback: setup
	$(BIN)/python -m grading release-feedback

# grades.csv (nbgrader's), reports/lab5/points_per_question.csv, and with ROSTER=<Canvas gradebook export>
# reports/lab5/canvas.csv for Canvas's import (CANVAS_COLUMN="Lab 5 (1234)" picks the column).
ROSTER ?=
CANVAS_COLUMN ?=
grades: setup
	$(NBGRADER) export --to grades.csv
	$(BIN)/python -m grading grades $(if $(ROSTER),--roster $(ROSTER)) $(if $(CANVAS_COLUMN),--column "$(CANVAS_COLUMN)")

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
	rm -rf artifacts .cache data/embedded-cars autograded/*/ feedback submitted gradebook.db reports
