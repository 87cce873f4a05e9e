# Two entry points for a fresh machine: `make run` (serve on embedded defaults) and `make test`.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	# Plain pip on purpose: it takes the CPU torch wheel from this machine kind's disk (uv/poetry would download CUDA).
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

.PHONY: install run test bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/clausewise serve

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
