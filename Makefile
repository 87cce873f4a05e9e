# Two entry points for a fresh machine: `make run` (serve on embedded defaults) and `make test`.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# llama-cpp-python is published as an sdist only (~5-7 min to compile on 2 cores): its wheel is built once per
# machine into WHEELS, outside the clone, so fresh clones (CI) install it without compiling.
WHEELS ?= $(HOME)/.cache/clausewise/wheels
LLAMA_CPP_VERSION := 0.3.36

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	# Plain pip on purpose: it takes the CPU torch wheel from this machine kind's disk (uv/poetry would download CUDA).
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(VENV)/bin/pip wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEELS)
	$(VENV)/bin/pip install -q --find-links $(WHEELS) --only-binary llama-cpp-python -e '.[test,llm]'
	touch $(STAMP)

.PHONY: install run test lint browser screenshots fuzz
install: $(STAMP)

# The web UI's browser tests drive Debian's chromium through Playwright (executable_path: Playwright cannot download
# its own browsers here). Installed when missing; as root via apt-get, otherwise say what to run.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }; \
		else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests need it)"; exit 1; fi; }

run: $(STAMP)
	$(VENV)/bin/clausewise serve

# lint first: a broken architecture contract or a ruff finding fails the run before the (longer) tests start
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: lint browser
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# PNGs of every web UI page at 1280x800 from a seeded demo workspace (docs/screenshots/, shown in the README)
screenshots: $(STAMP) browser
	$(VENV)/bin/python tests/screenshots.py

# Longer fuzzing than the suite's bounded run: schemathesis over every API operation and role (positive and negative
# requests) and hypothesis over the parsers; FUZZ_EXAMPLES examples each (the suite uses 8).
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	CLAUSEWISE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/python -m pytest -q -p no:cacheprovider \
		tests/api/test_schemathesis.py tests/service/test_fuzz_parsers.py
