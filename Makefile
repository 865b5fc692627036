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

.PHONY: install install-test book run test lab sample-data bench clean

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Pinned environment: constraints.txt holds the versions the project was tested with.
# `make book` needs the project only; `make test` adds the test extra (pytest, and JAX for the
# second backend), so the book's install stays small.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name automap-nb --display-name "Python (automap-nb)" >/dev/null
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
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

# The model (dAUTOMAP too), training, resume, device-pipeline, bench and stability-gradient tests again under JAX, the backend of
# the GPU machines (they have no TensorFlow); tests/test_distribute.py starts its own JAX process.
# Left out under JAX to save time (the TensorFlow pass runs them): the two kill -9 tests (a checkpoint's
# round trip under JAX is still checked), the bench's CLI and arrays-bf16 cases, the validate_every test and
# dAUTOMAP's resume test (its two pipelines still train under JAX).
JAX_TESTS = tests/test_models.py tests/test_dautomap.py tests/test_training.py tests/test_pipeline.py tests/test_bench.py tests/test_stability.py
JAX_SKIP  = not test_kill_9 and not test_cli_writes and not arrays-bf16 and not validate_every and not (test_dautomap and resumes)

# Two pytest-xdist workers: most tests wait on a kernel start or a single-threaded step, so two at
# a time use the two cores better. The quick run (every notebook, quick profile) executes once and
# is shared by both workers; one starts it first while the other runs the tests that do not need it
# (tests/conftest.py orders them).
PYTEST_WORKERS ?= 2

test: install-test
	$(VENV)/bin/ruff check automap_nb tests benchmarks notebooks
	$(VENV)/bin/yapf --diff --recursive automap_nb tests benchmarks
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup
	KERAS_BACKEND=jax $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(JAX_TESTS) -k "$(JAX_SKIP)"

lab: install
	$(VENV)/bin/jupyter lab notebooks/

sample-data: install
	$(CLI) sample-data

bench: install
	$(CLI) bench --out benchmarks/last.json

clean:
	rm -rf _build runs
