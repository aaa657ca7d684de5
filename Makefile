# One entry per step, so CI and a developer run the same commands.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python

.PHONY: setup demo test lint typecheck clean synth gcp-plan-check smoke actionlint versions deploy-aws deploy-gcp

setup:            ## venv with pinned deps + pinned npm packages (idempotent)
	@bash scripts/bootstrap

demo: setup       ## the whole job on a local devnet, no cloud account needed
	@$(VENV)/bin/opwatch demo

test: setup       ## the whole test suite (what .ci/run calls)
	@# pytest exits 5 when it collects no test; an empty selection is not a failure here.
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && echo "opwatch: no tests collected" && rc=0; exit $$rc

lint: setup       ## ruff over the code and the tests
	@$(VENV)/bin/ruff check functions devnet tests infra bench scripts app.py

typecheck: setup  ## mypy (strict) over the core, functions/opwatch
	@$(VENV)/bin/mypy

gcp-plan-check: setup  ## the GCP dry-run plan is exactly the golden file gcp/plan.example.sh
	@set -o pipefail; $(VENV)/bin/opwatch gcp deploy --config gcp/example.toml --dry-run | diff -u gcp/plan.example.sh - \
	  && echo "opwatch: gcp/plan.example.sh matches the rendered plan"

smoke: setup      ## deployment gate: make smoke CONFIG=opwatch.toml NETWORK=mainnet [SMOKE_ARGS="--format json --heartbeat URL"]
	@test -n "$(CONFIG)" -a -n "$(NETWORK)" || { echo "usage: make smoke CONFIG=FILE NETWORK=NAME" >&2; exit 2; }
	@$(VENV)/bin/opwatch smoke --config $(CONFIG) --network $(NETWORK) $(SMOKE_ARGS)

actionlint: setup ## validate .github/workflows (actionlint as WebAssembly, pinned in package-lock.json)
	@node scripts/actionlint.cjs .github/workflows/*.yml

versions: setup   ## regenerate docs/versions.md, the one list of every pin (tests/unit/test_version_pins.py checks it)
	@$(PY) scripts/versions.py > docs/versions.md && echo "opwatch: wrote docs/versions.md"

deploy-aws: setup ## cdk deploy one stack: make deploy-aws CONFIG=opwatch.toml STACK=opwatch-staging
	@test -n "$(CONFIG)" -a -n "$(STACK)" || { echo "usage: make deploy-aws CONFIG=FILE STACK=NAME" >&2; exit 2; }
	@JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  node_modules/.bin/cdk deploy --require-approval never -c config=$(CONFIG) $(STACK)

deploy-gcp: setup ## run the gcloud plan: make deploy-gcp CONFIG=opwatch.toml [GCP_ARGS="--project P --region R"]
	@test -n "$(CONFIG)" || { echo "usage: make deploy-gcp CONFIG=FILE" >&2; exit 2; }
	@$(VENV)/bin/opwatch gcp deploy --config $(CONFIG) $(GCP_ARGS)

synth: setup      ## synthesise the AWS stacks (bundles the Lambda asset, runs cdk-nag): make synth CONFIG=opwatch.toml
	@JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  node_modules/.bin/cdk synth --quiet -c config=$(or $(CONFIG),infra/example.toml)

clean:
	rm -rf $(VENV) .venv-checkov node_modules .stamps .devnet cdk.out
