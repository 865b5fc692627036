# Two commands on a fresh machine:  `make book`  (sample data → notebooks → book)  and  `make test`.
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= cpu
RUN     ?= runs/default
DATA_DIR ?=
VAL_DIR ?=
TEST_DIR ?=
PY      := $(VENV)/bin/python
CLI     := $(VENV)/bin/automap-nb

.PHONY: install book run test lab sample-data bench clean

install: $(VENV)/.installed

# Pinned environment: constraints.txt holds the versions the project was tested with.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name automap-nb --display-name "Python (automap-nb)" >/dev/null
	touch $@

# Build the sample data if absent (or use DATA_DIR=...), execute every notebook into $(RUN),
# build the book into _build/html and print the path of index.html.
# fastMRI's own folders: DATA_DIR=.../singlecoil_train TEST_DIR=.../singlecoil_val (VAL_DIR optional).
DATA_ARGS = $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(if $(VAL_DIR),--val-dir "$(VAL_DIR)") $(if $(TEST_DIR),--test-dir "$(TEST_DIR)")

book: install
	$(CLI) run --profile $(PROFILE) --out $(RUN) $(DATA_ARGS)
	$(CLI) book --run $(RUN)

run: install
	$(CLI) run --profile $(PROFILE) --out $(RUN) $(DATA_ARGS)

test: install
	$(VENV)/bin/pytest

lab: install
	$(VENV)/bin/jupyter lab notebooks/

sample-data: install
	$(CLI) sample-data

bench: install
	$(CLI) bench --out benchmarks/last.json

clean:
	rm -rf _build runs
