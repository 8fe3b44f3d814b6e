# The two commands: `make demo` and `make test`. Both create the virtual environment if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test verify bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/refractory run scenarios/two-drugs.toml --out results/two-drugs
	$(BIN)/refractory report results/two-drugs --out results/two-drugs/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

verify: $(STAMP)
	$(BIN)/python -m pytest -q -m verify

bench: $(STAMP)
	$(BIN)/refractory bench

lint: $(STAMP)
	$(BIN)/ruff check sim kernels analysis benchmarks scenarios tests

clean:
	rm -rf $(VENV) results build *.egg-info
