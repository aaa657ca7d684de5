# One entry per step, so CI and a developer run the same commands.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python

.PHONY: setup demo test lint typecheck clean

setup:            ## venv with pinned deps + pinned npm packages (idempotent)
	@bash scripts/bootstrap

demo: setup       ## the whole job on a local devnet, no cloud account needed
	@$(VENV)/bin/opwatch demo

test: setup       ## the whole test suite (what .ci/run calls)
	@# pytest exits 5 when it collects no test; an empty selection is not a failure here.
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && echo "opwatch: no tests collected" && rc=0; exit $$rc

lint: setup
	@$(VENV)/bin/ruff check functions devnet tests

typecheck: setup
	@$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules .stamps .devnet
