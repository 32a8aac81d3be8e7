"""A real OpenSSH ``sshd`` (``internal-sftp``) on a loopback high port, and the ``sftp`` CLI.

Test helper only. The server runs in the foreground (``-D``) with no system config
(``-f /dev/null``): every setting is passed with ``-o``, keys are generated into a temp folder,
and only public-key logins of the current user are accepted.

Binaries missing: the test is skipped with the reason, except under CI (``CI`` set to a true
value), where a missing OpenSSH is a broken CI image and must fail loudly.
"""
from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.needs import in_ci, unavailable

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")


def find_tools() -> dict[str, str]:
    """Absolute paths of sshd, sftp and ssh-keygen; skip/fail with a clear reason when missing."""
    sshd = next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), None) or shutil.which("sshd")
    if not sshd:
        unavailable("OpenSSH server not installed (/usr/sbin/sshd missing): "
                    "apt-get install openssh-server openssh-client, or run .ci/run")
    tools = {"sshd": str(Path(sshd).resolve())}  # sshd refuses to re-exec itself from a relative path
    for name in ("sftp", "ssh-keygen"):
        path = shutil.which(name)
        if not path:
            unavailable(f"OpenSSH client tool {name!r} not found: apt-get install openssh-client")
        tools[name] = path
    return tools


def free_port() -> int:
    """A currently free loopback port (sshd has no Port=0; the caller retries on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SSHD:
    """``sshd -D`` on 127.0.0.1:<free port>; ``sftp_batch``/``sftp_popen`` drive the sftp CLI."""

    def __init__(self, workdir: Path):
        self.tools = find_tools()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.user = getpass.getuser()
            pwd.getpwnam(self.user)
        except (KeyError, OSError) as exc:
            unavailable(f"the current user has no passwd entry, sshd cannot log it in: {exc}")
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "client_ed25519"
        self.log_path = self.dir / "sshd.log"
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    # -- server --------------------------------------------------------------------------------
    def _keygen(self, path: Path) -> None:
        if not path.exists():
            subprocess.run([self.tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", "marketd-test",
                            "-f", str(path)], check=True, capture_output=True, timeout=30)
        path.chmod(0o600)

    def _privsep_dir(self) -> None:
        if os.geteuid() != 0:
            return  # a non-root sshd does not privilege-separate; it can only log in its own user
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            unavailable(f"sshd needs its privilege separation directory /run/sshd: {exc}")

    def command(self, port: int) -> list[str]:
        opts = {
            "HostKey": str(self.host_key),
            "PidFile": str(self.dir / "sshd.pid"),
            "Port": str(port),
            "ListenAddress": "127.0.0.1",
            "AuthorizedKeysFile": str(self.dir / "authorized_keys"),
            "PubkeyAuthentication": "yes",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "PermitRootLogin": "prohibit-password",
            "StrictModes": "no",
            "UsePAM": "no",
            "AllowTcpForwarding": "no",
            "X11Forwarding": "no",
            "LogLevel": "VERBOSE",
            "Subsystem": "sftp internal-sftp",
        }
        cmd = [self.tools["sshd"], "-D", "-f", "/dev/null", "-E", str(self.log_path)]
        for key, value in opts.items():
            cmd += ["-o", f"{key}={value}"]
        return cmd

    def start(self, attempts: int = 4, timeout: float = 15) -> "SSHD":
        self._keygen(self.host_key)
        self._keygen(self.client_key)
        (self.dir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        self._privsep_dir()
        last = ""
        for _ in range(attempts):
            port = free_port()
            self.log_path.write_text("")
            self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.STDOUT)
            ready = f"Server listening on 127.0.0.1 port {port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                # readiness from sshd's own log line: a probe connection would count as an
                # unauthenticated client (and newer sshd versions penalise those)
                if ready in self.log_path.read_text(errors="replace"):
                    self.port = port
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            last = self.log_path.read_text(errors="replace")
            self.stop()
            if "Address already in use" not in last:
                break
        raise AssertionError(f"sshd did not start ({' '.join(self.command(0)[:1])}):\n{last}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- client --------------------------------------------------------------------------------
    def sftp_command(self, batch: Path, limit_kbit: int | None = None) -> list[str]:
        cmd = [self.tools["sftp"], "-b", str(batch), "-F", "/dev/null",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
               "-i", str(self.client_key), "-P", str(self.port)]
        if limit_kbit:
            cmd += ["-l", str(int(limit_kbit))]
        return cmd + [f"{self.user}@127.0.0.1"]

    def _batch_file(self, commands: list[str]) -> Path:
        path = self.dir / f"batch-{time.monotonic_ns()}.txt"
        path.write_text("\n".join(commands) + "\n")
        return path

    def sftp_popen(self, commands: list[str], limit_kbit: int | None = None) -> subprocess.Popen:
        """Start ``sftp -b`` in its own process group, so ``kill_client`` takes sftp and its ssh."""
        return subprocess.Popen(self.sftp_command(self._batch_file(commands), limit_kbit),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def sftp_batch(self, commands: list[str], limit_kbit: int | None = None, timeout: float = 120) -> str:
        """Run a batch to completion; any failing command fails the test with sftp's output."""
        proc = self.sftp_popen(commands, limit_kbit)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_client(proc)
            raise
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise AssertionError(f"sftp batch failed ({proc.returncode}):\n{text}\n--- sshd log ---\n{self.log()}")
        return text


def kill_client(proc: subprocess.Popen) -> None:
    """SIGKILL the sftp client and its ssh child (one process group we started): a dead client."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)


def q(path: Path | str) -> str:
    """Quote a path for an sftp batch line."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["SSHD", "find_tools", "free_port", "in_ci", "kill_client", "q", "unavailable"]
