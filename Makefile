# Two commands on a fresh machine:  `make book`  (sample data → notebooks → book)  and  `make test`.
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= cpu
RUN     ?= runs/default
DATA_DIR ?=
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
book: install
	$(CLI) run --profile $(PROFILE) --out $(RUN) $(if $(DATA_DIR),--data-dir $(DATA_DIR))
	$(CLI) book --run $(RUN)

run: install
	$(CLI) run --profile $(PROFILE) --out $(RUN) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

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
