# The two set-up commands of README.md.
PY ?= python3

.PHONY: run test install test-deps

install:
	$(PY) -m pip install -e .

run: install
	marketd --config config/marketd.toml run

# System packages for the SFTP end-to-end tests (OpenSSH's sshd/sftp), then the test extras, then the suite.
test-deps:
	@if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openssh-server openssh-client; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo apt-get install -y -qq openssh-server openssh-client; \
	  else echo "warning: cannot install openssh-server (not root, no sudo): SFTP tests will skip"; fi; \
	fi
	@if [ "$$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi
	$(PY) -m pip install -e '.[test]'

test: test-deps
	$(PY) -m pytest -q
