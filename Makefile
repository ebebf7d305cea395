# Needs only Python 3.11+ and git. `make run` starts the console; `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install clean

run: $(STAMP)
	$(BIN)/mentorbot $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(STAMP)

# Reinstall only when the dependencies change (the package itself is installed editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info mentorbot-console.db
