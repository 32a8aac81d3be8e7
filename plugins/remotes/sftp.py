"""One SFTP session to a remote (asyncssh): connect with a pinned host key, and the handful of
operations pull and push need, each bounded by the remote's timeouts.

Why our own pipelined read/write loops rather than ``SFTPClient.get``/``put``: a download must
be hashed while it streams (the pull ledger keys files by sha256), must notice a file that grows
past its listed size, and must give up when *no* data has arrived for ``read_timeout_seconds``
(a wall-clock cap would kill a large file on a slow but healthy link). Uploads create the
remote file with the local file's permission bits from the first byte (labels with buyer
addresses are ``0600``).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import posixpath

import asyncssh

from marketd.sdk import TransientError

from .hostkeys import PinnedClient, parse_pins, Pins, refusal

BLOCK = 256 * 1024  # at most this many bytes per request, and never over the server's limits@openssh.com
FALLBACK_BLOCK = 32 * 1024  # what every server must accept (a server without the limits extension)
DEPTH = 32  # requests in flight per file
_REPORTED_NAMES: set[tuple] = set()  # undecodable remote names already logged (once per process)
log = logging.getLogger("marketd.remotes")


class RemoteUnavailable(TransientError):
    """Could not reach or talk to the remote (refused, timed out, dropped, stalled)."""


class RemoteRefused(Exception):
    """The remote is reachable but we must not or cannot log in (host key, credentials)."""


class Stalled(RemoteUnavailable):
    """No data moved for ``read_timeout_seconds``."""


# What a dropped or dying connection raises, at whichever layer notices first.
LOST = (OSError, asyncssh.DisconnectError, asyncssh.ConnectionLost, asyncssh.SFTPConnectionLost,
        asyncssh.SFTPNoConnection, asyncssh.ChannelOpenError)


def describe(exc: BaseException) -> str:
    """One line an operator can act on, for any exception a remote operation raises."""
    if isinstance(exc, asyncssh.SFTPFailure) and (exc.reason or "Failure") == "Failure":
        return ("SFTPFailure: Failure (the server gave no reason; OpenSSH answers this for a full disk, a "
                "quota, or a rename onto an existing name)")
    if isinstance(exc, asyncssh.SFTPError):
        return f"{type(exc).__name__}: {exc.reason or 'failure'}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


async def connect(remote, secret) -> "Session":
    """Log in to ``remote`` (a :class:`settings.Remote`); ``secret(name)`` reads a credential.

    Raises :class:`RemoteRefused` for a host key that does not match its pin (nothing has been
    sent then: the check is part of the key exchange) or refused credentials, and
    :class:`RemoteUnavailable` for anything network-shaped.
    """
    pins = parse_pins(remote.host_key) if remote.host_key else Pins()
    client = PinnedClient(pins)
    options = dict(
        username=remote.user, port=remote.port, config=None, agent_path=None, gss_host=None,
        known_hosts=(list(pins.keys), [], []), client_factory=lambda: client,
        connect_timeout=remote.connect_timeout_seconds, login_timeout=remote.connect_timeout_seconds,
        keepalive_interval=max(1.0, min(30.0, remote.read_timeout_seconds / 3)), keepalive_count_max=3,
        client_keys=None, password=None, preferred_auth="publickey,password,keyboard-interactive",
        # AES-GCM first: hardware-accelerated where chacha20 is not (every server offers one of these)
        encryption_algs=["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
                         "aes256-ctr", "aes192-ctr", "aes128-ctr"],
    )
    if pins.fingerprints or not pins.keys:
        options["server_host_key_algs"] = "default"  # we cannot know which key type a fingerprint is
    if remote.key_file:
        passphrase = secret(remote.key_passphrase_secret) if remote.key_passphrase_secret else None
        try:
            options["client_keys"] = [asyncssh.read_private_key(remote.key_file, passphrase)]
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError) as exc:
            raise RemoteRefused(f"remote {remote.name}: cannot use key_file {remote.key_file}: {describe(exc)}"
                                + ("; set key_passphrase_secret if it is encrypted" if not passphrase else ""))
    if remote.password_secret:
        options["password"] = secret(remote.password_secret)
    try:
        conn = await asyncssh.connect(remote.host, **options)
    except asyncssh.HostKeyNotVerifiable:
        raise RemoteRefused(refusal(remote, client.offered)) from None
    except asyncssh.PermissionDenied as exc:
        raise RemoteRefused(f"remote {remote.name}: {remote.address} refused the login ({exc.reason}); check user, "
                            "key_file / password_secret, and that the key is authorised on the server") from None
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        raise RemoteUnavailable(f"remote {remote.name}: cannot connect to {remote.host}:{remote.port}: "
                                f"{describe(exc)}") from None
    try:
        # a name that is not UTF-8 (a Latin-1 export) must not make the whole folder unreadable
        sftp = await asyncio.wait_for(conn.start_sftp_client(path_errors="surrogateescape"),
                                      remote.read_timeout_seconds)
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        conn.close()
        raise RemoteUnavailable(f"remote {remote.name}: no SFTP service on {remote.address}: {describe(exc)}") from None
    return Session(remote, conn, sftp)


class Session:
    def __init__(self, remote, conn, sftp):
        self.remote = remote
        self.conn = conn
        self.sftp = sftp
        self.timeout = remote.read_timeout_seconds

    async def close(self) -> None:
        try:
            self.sftp.exit()
            self.conn.close()
            await asyncio.wait_for(self.conn.wait_closed(), 5)
        except Exception:
            pass

    async def _op(self, coro):
        """One request/response, bounded: a server that stops answering is not waited on forever."""
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except asyncio.TimeoutError:
            raise Stalled(f"the server did not answer within {self.timeout:g} s (read_timeout_seconds)") from None
        except LOST as exc:
            raise RemoteUnavailable(f"connection lost: {describe(exc)}") from None

    # -- metadata ------------------------------------------------------------------------------
    async def list_files(self, folder: str) -> dict[str, tuple[int, int]]:
        """Regular files directly in ``folder``: name -> (size, mtime in whole seconds)."""
        names = await self._op(self.sftp.readdir(folder))
        out = {}
        for n in names:
            a = n.attrs
            name = n.filename if isinstance(n.filename, str) else n.filename.decode("utf-8", "surrogateescape")
            if name in (".", "..") or a.type not in (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN):
                continue  # folders, symlinks, devices: never pulled
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                key = (self.remote.name, folder, name)
                if key not in _REPORTED_NAMES:
                    _REPORTED_NAMES.add(key)
                    log.warning("remote %s: %s/%s: the file name is not UTF-8, so it is never pulled; have it "
                                "renamed on the server", self.remote.name, folder,
                                name.encode("utf-8", "surrogateescape").decode("latin-1"))
                continue
            out[name] = (a.size or 0, int(a.mtime or 0))
        return out

    async def stat(self, path: str):
        """``SFTPAttrs`` of ``path`` (not following a symlink), or ``None`` if it does not exist."""
        try:
            return await self._op(self.sftp.lstat(path))
        except asyncssh.SFTPNoSuchFile:
            return None

    async def remove(self, path: str) -> None:
        await self._op(self.sftp.remove(path))

    async def ensure_dir(self, path: str) -> None:
        if await self.stat(path) is None:
            try:
                await self._op(self.sftp.mkdir(path))
            except asyncssh.SFTPFailure:
                if await self.stat(path) is None:  # not a lost race with another client
                    raise

    async def rename(self, old: str, new: str, overwrite: bool = False) -> None:
        """Rename without overwriting (plain ``SSH_FXP_RENAME``: OpenSSH does link + unlink, which
        fails on an existing target); ``overwrite`` uses posix-rename, or remove + rename."""
        if not overwrite:
            await self._op(self.sftp.rename(old, new))
            return
        try:
            await self._op(self.sftp.posix_rename(old, new))
        except asyncssh.SFTPOpUnsupported:
            if await self.stat(new) is not None:
                await self.remove(new)
            await self._op(self.sftp.rename(old, new))

    # -- data ----------------------------------------------------------------------------------
    async def download(self, path: str, fd: int, size: int):
        """Stream the first ``size`` bytes of ``path`` into the local file ``fd``; returns
        (bytes read, sha256 hex, the open file's attributes after the read).

        The caller compares those attributes with the listing: the same size and time mean the
        bytes read are the whole file as listed; anything else means it changed meanwhile.
        """
        f = await self._op(self.sftp.open(path, "rb", encoding=None))
        try:
            got, sha = await _pipelined_read(f, fd, size, self.timeout, _block(f.read_len))
            attrs = await self._op(f.stat())
        finally:
            await _quiet_close(f, self.timeout)
        return got, sha, attrs

    async def hash_of(self, path: str, size: int) -> tuple[int, str]:
        """sha256 of a remote file without keeping its data (re-checking what an old row pulled)."""
        f = await self._op(self.sftp.open(path, "rb", encoding=None))
        try:
            return await _pipelined_read(f, None, size, self.timeout, _block(f.read_len))
        finally:
            await _quiet_close(f, self.timeout)

    async def upload(self, local_fd: int, size: int, path: str, mode: int) -> int:
        """Write ``size`` bytes of ``local_fd`` to ``path`` (created or truncated, ``mode`` bits from
        creation on); returns the remote size after the close."""
        attrs = asyncssh.SFTPAttrs(permissions=mode & 0o777)
        f = await self._op(self.sftp.open(path, "wb", attrs, encoding=None))
        closed = False
        try:
            await _pipelined_write(f, local_fd, size, self.timeout, _block(f.write_len))
            await self._op(f.close())
            closed = True
        finally:
            if not closed:
                await _quiet_close(f, self.timeout)
        st = await self.stat(path)
        return -1 if st is None else (st.size or 0)

    async def touch(self, path: str, mode: int) -> None:
        """Create an empty file (a done marker) if it is not there yet."""
        attrs = asyncssh.SFTPAttrs(permissions=mode & 0o777)
        try:
            f = await self._op(self.sftp.open(path, asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL,
                                              attrs, encoding=None))
        except (asyncssh.SFTPFailure, asyncssh.SFTPFileAlreadyExists):
            if await self.stat(path) is not None:
                return
            raise
        await self._op(f.close())


def _block(server_limit: int) -> int:
    """Request size: a server that gets more than its limit may drop the whole session
    (OpenSSH's sftp-server exits on a write over 261,120 bytes)."""
    return min(BLOCK, server_limit) if server_limit else FALLBACK_BLOCK


async def _quiet_close(f, timeout: float) -> None:
    try:
        await asyncio.wait_for(f.close(), timeout)
    except Exception:
        pass


async def _pipelined_read(f, fd: int | None, limit: int, stall: float, block: int) -> tuple[int, str]:
    """Up to ``DEPTH`` reads in flight for the first ``limit`` bytes, written and hashed strictly
    in order.

    A short read (allowed by the protocol) is followed by a request for the rest of its block;
    an empty read or ``SFTPEOFError`` at the next expected offset is the end of the file.
    """
    h = hashlib.sha256()
    pending: dict[int, asyncio.Task] = {}
    ready: dict[int, tuple[int, bytes]] = {}  # offset -> (requested size, data)
    next_off = pos = 0
    eof = False

    async def read(off: int, n: int) -> tuple[int, bytes]:
        try:
            return n, await f.read(n, off)
        except asyncssh.SFTPEOFError:
            return n, b""

    try:
        while True:
            while not eof and next_off < limit and len(pending) + len(ready) < DEPTH:
                n = min(block, limit - next_off)
                pending[next_off] = asyncio.ensure_future(read(next_off, n))
                next_off += n
            if not pending and pos not in ready:
                break
            if pending:
                done, _ = await asyncio.wait(pending.values(), timeout=stall, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    raise Stalled(f"no data for {stall:g} s (read_timeout_seconds) at byte {pos}")
                for off in [o for o, t in pending.items() if t.done()]:
                    ready[off] = pending.pop(off).result()
            while pos in ready:
                asked, data = ready.pop(pos)
                if not data:
                    eof = True
                    break
                if fd is not None:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                h.update(data)
                if len(data) < asked:  # short read: ask for the rest of this block
                    pending[pos + len(data)] = asyncio.ensure_future(read(pos + len(data), asked - len(data)))
                pos += len(data)
            if eof:
                break
    except LOST as exc:
        if isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError)):
            raise  # a local write error (disk full): the caller reports it as such
        raise RemoteUnavailable(f"connection lost during the download: {describe(exc)}") from None
    finally:
        for t in pending.values():
            t.cancel()
        if pending:
            await asyncio.gather(*pending.values(), return_exceptions=True)
    return pos, h.hexdigest()


async def _pipelined_write(f, fd: int, size: int, stall: float, block: int) -> None:
    """Up to ``DEPTH`` writes in flight; the local file is read with ``pread`` (no shared offset)."""
    pending: set[asyncio.Task] = set()
    off = 0
    try:
        while off < size or pending:
            while off < size and len(pending) < DEPTH:
                data = os.pread(fd, min(block, size - off), off)
                if not data:
                    raise OSError(f"the local file shrank to {off} bytes while being sent (expected {size})")
                pending.add(asyncio.ensure_future(f.write(data, off)))
                off += len(data)
            done, pending = await asyncio.wait(pending, timeout=stall, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                raise Stalled(f"no write acknowledged for {stall:g} s (read_timeout_seconds)")
            failed = [t.exception() for t in done if t.exception() is not None]
            if failed:
                raise failed[0]  # the server's error (no space, permission denied …)
    except LOST as exc:
        if isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError)):
            raise  # a local read error
        raise RemoteUnavailable(f"connection lost during the upload: {describe(exc)}") from None
    finally:
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def join(folder: str, name: str) -> str:
    return posixpath.join(folder, name)
