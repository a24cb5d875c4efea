# The README's whole set-up: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MODEL ?= efficientnet-lite0
STAMP := $(VENV)/.installed

.PHONY: demo test bench studio clean

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py --model $(MODEL) --out outputs

# The studio on outputs/ (where make demo renders its gallery): http://127.0.0.1:7860/
studio: $(STAMP)
	$(VENV)/bin/dreamstyle studio --out outputs

test: $(STAMP)
	$(PY) -m pytest -q

# dreamstyle against the naive fp32 baseline on this machine; results land in bench/results/.
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf outputs .pytest_cache
