"""Shared fixtures: an instance directory and a real `marketd run` subprocess.

The daemon is started exactly as systemd would start it, with ``NOTIFY_SOCKET`` pointing at a
datagram socket this test owns, so "ready" means the daemon really sent ``READY=1``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    p = Path(os.environ.get("MARKETD_SHARED", REPO.parent / "shared"))
    return p if p.is_dir() else None


def write_config(root: Path, **overrides) -> Path:
    """A fast-reacting instance config (short stability window and rescan) under ``root``."""
    cfg = {
        "daemon": {"state_dir": "var", "inbox_dir": "inbox", "outbox_dir": "outbox",
                   "rescan_seconds": 1.0, "supervise_seconds": 0.5, "log_level": "INFO"},
        "inbox": {"defaults": {"stability_seconds": 0.5}},
    }
    for section, values in overrides.items():
        node = cfg.setdefault(section, {})
        for k, v in values.items():
            if isinstance(v, dict) and isinstance(node.get(k), dict):
                node[k].update(v)
            else:
                node[k] = v
    root.mkdir(parents=True, exist_ok=True)
    path = root / "marketd.toml"
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return path


class DaemonProcess:
    """`python -m marketd run` as a child, with its sd_notify messages and log captured."""

    def __init__(self, config: Path, env: dict | None = None):
        self.config = config
        self.root = config.parent
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.messages: list[str] = []
        self.sock: socket.socket | None = None
        self.log_path = self.root / f"daemon-{int(time.time() * 1000)}.log"

    def start(self, wait_ready: bool = True, timeout: float = 30) -> "DaemonProcess":
        sock_path = self.root / f"notify-{os.getpid()}-{time.monotonic_ns()}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(sock_path))
        self.sock.settimeout(0.2)
        env = {**self.env, "NOTIFY_SOCKET": str(sock_path), "PYTHONUNBUFFERED": "1"}
        env.pop("JOURNAL_STREAM", None)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "marketd", "--config", str(self.config), "run"],
                                     cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_message("READY=1", timeout)
        return self

    def poll_messages(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError, OSError):
                return
            self.messages.extend(data.decode().splitlines())

    def wait_message(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_messages()
            if any(text in m for m in self.messages):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode} before {text}:\n{self.output()}")
        raise AssertionError(f"no {text} within {timeout}s; messages={self.messages}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.sock:
            self.poll_messages()
            self.sock.close()
            self.sock = None
        if getattr(self, "log", None):
            self.log.close()


# A wait is an upper bound, never a speed check: on a loaded 2-core machine a daemon's start plus
# one small file took over 20 s (test_startup_scan_and_drop_while_stopped failed so, by load
# alone). No wait gives up sooner than this; it costs time only when the test fails anyway.
MIN_WAIT = 60.0


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    timeout = max(timeout, MIN_WAIT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def instance(tmp_path):
    """An instance directory with a fast config; returns its config path."""
    return write_config(tmp_path / "inst")


@pytest.fixture
def daemon_factory():
    started: list[DaemonProcess] = []

    def make(config: Path, env: dict | None = None, start: bool = True) -> DaemonProcess:
        d = DaemonProcess(config, env)
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.kill()


@pytest.fixture
def app_factory(tmp_path):
    """In-process App on a fresh instance (for unit tests that need the real store)."""
    from marketd.app import App
    from marketd import config as config_mod

    apps = []

    def make(clock=None, extra_plugins=None, **overrides):
        path = write_config(tmp_path / f"app{len(apps)}", **overrides)
        app = App(config_mod.load(path), clock=clock, extra_plugins=extra_plugins)
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def amazon_contract():
    """The official SP-API models as the fake's ``contract``. A test that asserts the fake saw no
    violation takes this fixture: without ``shared/specs/amazon`` it skips with the reason
    locally and fails under CI (``CI=true``), so such an assertion never passes unchecked."""
    from tests.fakes.specs import require_amazon_contract

    return require_amazon_contract()


@pytest.fixture
def ebay_contract():
    """The official eBay OpenAPI contracts as the fake eBay's ``contract`` (skip locally without
    ``shared/specs/ebay``, fail under CI)."""
    from tests.fakes.ebay_specs import require_ebay_contract

    return require_ebay_contract()
