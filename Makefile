# `make demo` and `make test` build .venv on first use; later runs reuse it
# until pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_mnist_pipeline.py
	$(BIN)/python benchmarks/bench_default_fit.py
	$(BIN)/python benchmarks/bench_digits_density.py
	$(BIN)/python benchmarks/bench_fit_overhead.py
	$(BIN)/python benchmarks/bench_sparse_fit.py
	$(BIN)/python benchmarks/bench_outliers.py
	$(BIN)/python benchmarks/bench_dask.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
