# One entry per step, so CI and a developer run the same commands.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python

.PHONY: setup demo test lint typecheck clean synth

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

synth: setup      ## synthesise the AWS stacks (bundles the Lambda asset, runs cdk-nag): make synth CONFIG=opwatch.toml
	@JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  node_modules/.bin/cdk synth --quiet -c config=$(or $(CONFIG),infra/example.toml)

clean:
	rm -rf $(VENV) .venv-checkov node_modules .stamps .devnet cdk.out
