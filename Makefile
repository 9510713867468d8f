# Set-up and everyday commands. `make` lists the targets.
#
# Everything runs from .venv, made with $(PYTHON) (3.11 or newer):  make PYTHON=python3.12 setup
# As root on Debian/Ubuntu, setup also apt-get installs PostgreSQL and nginx when they are missing.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The versions the papers are verified with: every install below is constrained by it (make constraints).
CONSTRAINTS := constraints.txt
PIP_INSTALL := $(VPY) -m pip install -q -c $(CONSTRAINTS)
SOAK_RUNS ?= 10

.DEFAULT_GOAL := help
.PHONY: help setup git-filter verify test lint check-papers lab constraints soak bench clean distclean

help: ## list the targets
	@echo "make <target>:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 15
	@echo "variables: PYTHON=$(PYTHON)  PYTEST_ARGS='...'  VERIFY_ARGS='...'  LAB_ARGS='...'  SOAK_RUNS=10  UPGRADE=1"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "drills needs Python 3.11 or newer; '$(PYTHON)' is: $$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found')." >&2; \
	  echo "Install Python 3.11+ or point at one: make PYTHON=/path/to/python3.11 setup" >&2; \
	  exit 1; }
	@echo "setting up $(VENV) with $$($(PYTHON) --version) …"
	@$(VPY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv $(VENV) || { \
	  echo "could not create $(VENV); on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; \
	  exit 1; }
	@echo "upgrading pip …"
	@$(VPY) -m pip install -q --upgrade pip
	@echo "installing drills and its dependencies (pip install -c $(CONSTRAINTS) -e .) …"
	@$(PIP_INSTALL) -e .
	@echo "registering the notebooks' Jupyter kernel, \"Python (drills)\", for $(VPY) …"
	@$(VPY) -c 'from drills.execute import ensure_kernel; print(ensure_kernel())'
	@$(MAKE) --no-print-directory git-filter
	@echo "looking for PostgreSQL and nginx …"
	@$(VPY) -m drills.sysdeps --install
	@touch $@
	@echo "$(VENV) is ready"

setup: $(STAMP) ## create .venv, install drills, find (or install) PostgreSQL and nginx

# An extra of pyproject.toml, installed on demand by the targets that need it: test (the test tools,
# JupyterLab and the Kubernetes schemas), lab (JupyterLab), kubernetes (the schemas check-papers uses).
$(VENV)/.extra-%: $(STAMP)
	@echo "installing the $* extra (pip install -c $(CONSTRAINTS) -e '.[$*]') …"
	@$(PIP_INSTALL) -e '.[$*]'
	@touch $@

# nbstripout as the git filter .gitattributes names: a notebook saved with outputs is staged without
# them (required: with .venv gone, git refuses to stage a notebook until make setup runs again).
# The command names the venv by its path in the checkout (git runs filters at the work tree's top):
# every `git worktree` shares .git/config, and an absolute path would tie all of them to the venv of
# whichever ran this last, breaking `git add` there once that worktree is removed.
git-filter: ## strip notebook outputs when they are staged (nbstripout as a git filter; make setup runs it)
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(VPY) -m nbstripout --install --attributes .gitattributes \
	  && git config filter.nbstripout.clean '"$(VPY)" -m nbstripout' \
	  && git config diff.ipynb.textconv '"$(VPY)" -m nbstripout -t' \
	  && echo "git filter: nbstripout ($$(git config filter.nbstripout.clean))"; \
	else echo "not a git checkout: no notebook filter installed"; fi

verify: setup ## run every drill, its falsifiers, then export: drills verify (VERIFY_ARGS passes through)
	@$(VPY) -m drills.sysdeps
	$(VENV)/bin/drills verify $(VERIFY_ARGS)

test: setup $(VENV)/.extra-test lint ## lint and type-check, then run the tests (PYTEST_ARGS='-k name -x' passes through)
	@$(VPY) -m drills.sysdeps
	$(VPY) -m pytest $(PYTEST_ARGS)

lint: setup $(VENV)/.extra-test ## ruff and mypy, as configured in pyproject.toml
	$(VENV)/bin/ruff check drills tests
	$(VENV)/bin/mypy

check-papers: setup $(VENV)/.extra-kubernetes ## check every code block of the papers with its own tool, and their structure
	$(VENV)/bin/drills check-papers

# The server's root is the project (the notebooks' links to ../papers/ work); it opens at notebooks/.
lab: setup $(VENV)/.extra-lab ## JupyterLab at notebooks/ on the notebooks' kernel, "Python (drills)" (LAB_ARGS passes through)
	$(VPY) -m drills.lab $(LAB_ARGS)

# Not through setup, which installs with the old constraints: pyproject.toml's requirements (the
# installed versions kept where they fit; UPGRADE=1 takes the newest), then the freeze.
constraints: ## rewrite constraints.txt from .venv with every extra installed (UPGRADE=1: newest versions first)
	@test -x $(VPY) || { echo "no $(VENV) yet: make setup first" >&2; exit 1; }
	$(VPY) -m pip install -q $(if $(UPGRADE),--upgrade --upgrade-strategy eager) -e '.[test]'
	$(VPY) -m drills.constraints freeze --output $(CONSTRAINTS)
	$(VPY) -m drills.constraints check $(CONSTRAINTS)

soak: setup ## every drill's real-stack test at its test parameters SOAK_RUNS (10) times in a row
	@$(VPY) -m drills.sysdeps
	$(VPY) tests/soak.py --runs $(SOAK_RUNS)

bench: setup ## benchmarks (python -m drills.bench), then the fault matrix 3 times (python -m drills.faults)
	$(VPY) -m drills.bench
	$(VPY) -m drills.faults --rounds 3

clean: ## remove runs/, build output and caches (keeps papers/ and .venv)
	rm -rf runs build dist .pytest_cache .hypothesis *.egg-info
	find . \( -path ./.venv -o -path ./.git \) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)
