# The two set-up commands of README.md (`make run`, `make test`) and the longer campaigns.
#
# Everything installs into a virtual environment in ./.venv, never into the system interpreter:
# Debian's and Ubuntu's own python3 refuse `pip install` outside a venv (PEP 668,
# "externally-managed-environment"). PY picks the interpreter the venv is made from.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: run test install test-deps venv fuzz mutate dashboard-check

# sudo only when not root and passwordless sudo exists; empty when root.
SUDO := $(shell [ "$$(id -u)" = 0 ] && echo "" || (command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && echo "sudo -n"))

$(VPY):
	@if ! $(PY) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
	  echo "make: $(PY) has no venv/ensurepip module: installing Debian's python3-venv"; \
	  if [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; then \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else echo "make: install python3-venv (apt-get install python3-venv) and run make again" >&2; exit 1; fi; \
	fi
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

venv: $(VPY)

install: $(VPY)
	$(VPY) -m pip install -q -e .

run: install
	$(VENV)/bin/marketd --config config/marketd.toml run

# System packages for the SFTP end-to-end tests (OpenSSH's sshd/sftp), then the test extras.
test-deps: $(VPY)
	@if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then \
	  if [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; then \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client; \
	  else echo "warning: cannot install openssh-server (not root, no sudo): SFTP tests will skip"; fi; \
	fi
	@if [ "$$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi
	$(VPY) -m pip install -q -e '.[test]'

test: test-deps
	$(VPY) -m pytest -q

# The fuzz campaign (issue 9): FUZZ_BUDGET distinct mutated inputs per format through the
# `marketd process` code path; prints inputs/crashes/hangs per format, keeps failing inputs in
# FUZZ_FINDINGS. The test suite runs the same harness at 300 per format (tests/fuzz/).
FUZZ_BUDGET ?= 10000
FUZZ_SEED ?= $(shell date +%s)
FUZZ_FINDINGS ?= .fuzz-findings
fuzz: install
	$(VPY) -m tests.fuzz --budget $(FUZZ_BUDGET) --seed $(FUZZ_SEED) --findings $(FUZZ_FINDINGS)

# Mutation testing (issue 16) of the money/number parser, the settlement parser, the inbox commit
# protocol and the carrier ledger: not in CI (too slow for 2 cores). MUTATE_ARGS e.g.
# "--module numbers --sample 100". Triage of the survivors: docs/dev/mutation.md.
MUTATE_ARGS ?=
mutate: test-deps
	$(VPY) -m tests.mutation $(MUTATE_ARGS)

# The brands dashboard as a person sees it (issue 13): builds a fixture brand's week, screenshots
# the HTML in headless Chromium and renders the PDF's pages (Debian: chromium, poppler-utils);
# look at the PNGs in DASH_DIR.
DASH_DIR ?= /tmp/marketd-dashboard-check
dashboard-check: install
	rm -rf $(DASH_DIR) && mkdir -p $(DASH_DIR)
	out=$$($(VPY) -m tests.brands.dashboard_fixture $(DASH_DIR)) && \
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --window-size=1000,2200 \
	  --screenshot=$(DASH_DIR)/dashboard.png "file://$$out/dashboard.html" && \
	pdftoppm -r 60 -png "$$out/dashboard.pdf" $(DASH_DIR)/pdf-page && ls $(DASH_DIR)/*.png
