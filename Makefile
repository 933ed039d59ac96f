# dialsum: `make train` and `make test` set everything up on a fresh machine (into .venv).
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0          # pinned: plain `torch` pulls a multi-GB CUDA build
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install postgres train test test-slow test-all test-cluster test-browser bench bench-smoke gpu-check dashboard clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==$(strip $(TORCH_VERSION))"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

postgres:               ## the tests start their own PostgreSQL server: install its binaries where missing
	./scripts/ensure_postgres.sh

train: install          ## the default job, offline (synthetic data, tiny KoBART from scratch)
	$(PY) train.py $(ARGS)

test: install postgres  ## fast tests (< 10 min on 2 cores)
	$(PY) -m pytest -m "not slow and not cluster" -q $(PYTEST_ARGS)

test-slow: install postgres ## long end-to-end runs (sweeps, kill/resume)
	$(PY) -m pytest -m slow -q $(PYTEST_ARGS)

test-all: install postgres
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-cluster: install   ## submitit_slurm sweeps on a real one-node SLURM set up here (root; apt-get slurm-wlm munge)
	$(if $(filter 0,$(shell id -u)),,sudo )scripts/slurm/setup_single_node.sh
	$(PY) -m pytest -m cluster -q $(PYTEST_ARGS)

test-browser: install   ## headless Chromium on report.html and the dashboard (installs Debian's chromium)
	bash scripts/install-chromium.sh
	$(PY) -m pip install -q -e ".[dev,browser]"
	$(PY) -m pytest -m browser -q $(PYTEST_ARGS)

bench: install postgres ## speed targets; results go to BENCHMARKS.md by hand (bench_ray_tune.py: ~1.5 h)
	$(PY) -m pip install -q -e ".[dev,bench]"
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

bench-smoke: install postgres ## every benchmark at tiny sizes (~10 min on 2 cores): checks they run, judges nothing
	$(PY) -m pip install -q -e ".[dev,bench]"
	for f in benchmarks/bench_*.py; do $(PY) $$f --smoke || exit 1; done

gpu-check:              ## end to end on a GPU machine, no install: make gpu-check PYTHON=python3.12 [ARGS=--cpu-smoke]
	PYTHONPATH=src$(if $(PYTHONPATH),:$(PYTHONPATH)) $(PYTHON) benchmarks/gpu_check.py $(ARGS)

dashboard: install      ## make dashboard SWEEP=multirun/<study>
	$(PY) -m dialsum dashboard $(SWEEP)

clean:
	rm -rf outputs multirun .cache .pytest_cache
