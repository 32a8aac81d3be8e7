"""The ERP's side of the wire, for tests: real SFTP servers on loopback, with faults.

- :class:`ErpSSHD`: OpenSSH ``sshd`` + ``internal-sftp`` (the server an ERP really runs). As root
  it is chrooted (``ChrootDirectory`` + ``ForceCommand internal-sftp``) into a root-owned folder
  outside ``/tmp`` (sshd refuses a chroot below a world-writable folder), and can mount a small
  tmpfs inside it: a remote disk that really fills up. Not root: no chroot, absolute paths.
- :class:`AsyncErp`: asyncssh's SFTP server, always chrooted, in a thread of its own, with faults
  OpenSSH cannot be told to produce (a rename refused with "permission denied" even as root, a
  quota that fails writes with "no space").

Both hand out ``remote(rel)`` (the path the client uses) and ``local(rel)`` (the same file on
this machine, for assertions).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

import asyncssh

from tests.e2e.sshd import SSHD

CHROOT_BASE = Path("/var/lib/marketd-test-erp")


class ErpSSHD(SSHD):
    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.chrooted = os.geteuid() == 0
        if self.chrooted:
            CHROOT_BASE.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.chmod(CHROOT_BASE, 0o755)
            self.root = CHROOT_BASE / secrets.token_hex(6)
            self.root.mkdir(mode=0o755)
            os.chmod(self.root, 0o755)
        else:
            self.root = Path(workdir) / "erp"
            self.root.mkdir(parents=True, exist_ok=True)
        self.mounts: list[Path] = []

    def command(self, port: int) -> list[str]:
        cmd = super().command(port)
        if self.chrooted:
            cmd += ["-o", f"ChrootDirectory={self.root}", "-o", "ForceCommand=internal-sftp"]
        return cmd

    def remote(self, rel: str) -> str:
        return "/" + rel.strip("/") if self.chrooted else str(self.root / rel)

    def local(self, rel: str) -> Path:
        return self.root / rel

    def mkdirs(self, *rels: str) -> None:
        for rel in rels:
            self.local(rel).mkdir(parents=True, exist_ok=True)

    @property
    def host_key_line(self) -> str:
        return Path(f"{self.host_key}.pub").read_text().strip()

    def small_disk(self, rel: str, size: str = "1m") -> Path | None:
        """A tmpfs of ``size`` at ``rel``: a remote folder whose disk really fills (root only)."""
        if os.geteuid() != 0:
            return None
        path = self.local(rel)
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return None
        self.mounts.append(path)
        return path

    def stop(self) -> None:
        super().stop()
        for m in self.mounts:
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        self.mounts.clear()
        if self.chrooted:
            shutil.rmtree(self.root, ignore_errors=True)


class AsyncErp:
    """asyncssh SFTP server chrooted to ``root``; ``deny_rename``/``quota`` inject faults live."""

    def __init__(self, root: Path, keydir: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.deny_rename = False
        self.password: str | None = None  # when set, password logins with it are accepted too
        self.quota: int | None = None  # bytes this server accepts in writes before "no space"
        self.written = 0
        self.renames = 0
        keydir.mkdir(parents=True, exist_ok=True)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = keydir / "erp_client_ed25519"
        self.client_key.write_bytes(client.export_private_key("openssh"))
        self.client_key.chmod(0o600)
        (keydir / "authorized_keys").write_bytes(client.export_public_key())
        self._authorized = str(keydir / "authorized_keys")
        self.host_key_line = self.host_key.export_public_key("openssh").decode().strip()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="async-erp", daemon=True)
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(30)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _listen(self):
        erp = self

        class FaultySFTP(asyncssh.SFTPServer):
            def rename(self, oldpath, newpath):
                if erp.deny_rename:
                    raise asyncssh.SFTPPermissionDenied("Permission denied")
                erp.renames += 1
                return super().rename(oldpath, newpath)

            def posix_rename(self, oldpath, newpath):
                if erp.deny_rename:
                    raise asyncssh.SFTPPermissionDenied("Permission denied")
                erp.renames += 1
                return super().posix_rename(oldpath, newpath)

            def write(self, file_obj, offset, data):
                if erp.quota is not None and erp.written + len(data) > erp.quota:
                    raise asyncssh.SFTPFailure("No space left on device")
                erp.written += len(data)
                return super().write(file_obj, offset, data)

        class Server(asyncssh.SSHServer):
            def password_auth_supported(self):
                return erp.password is not None

            def validate_password(self, username, password):
                return erp.password is not None and password == erp.password

        return await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[self.host_key], authorized_client_keys=self._authorized,
            server_factory=Server, sftp_factory=lambda chan: FaultySFTP(chan, chroot=str(self.root)),
            allow_scp=False)

    def remote(self, rel: str) -> str:
        return "/" + rel.strip("/")

    def local(self, rel: str) -> Path:
        return self.root / rel

    def mkdirs(self, *rels: str) -> None:
        for rel in rels:
            self.local(rel).mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


def remote_section(server, *, port: int | None = None, pull=(), push=(), **extra) -> dict:
    """A ``[remotes.<name>]`` table for ``server`` (an ErpSSHD or AsyncErp)."""
    user = getattr(server, "user", "erp")
    section = {"host": "127.0.0.1", "port": port or server.port, "user": user, "key_file": str(server.client_key),
               "host_key": server.host_key_line, "pull": list(pull), "push": list(push),
               "connect_timeout_seconds": 10, "read_timeout_seconds": 10, **extra}
    return {k: v for k, v in section.items() if v is not None}  # None: leave the key out
