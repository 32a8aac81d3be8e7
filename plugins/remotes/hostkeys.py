"""Pinned host keys: the ERP's server is who the config says, or nothing is sent to it.

There is deliberately no "trust on first use": a daemon that accepts whatever key it meets
first would hand the ERP's files (and a password) to anyone who answers on that address
once. ``host_key`` holds the key itself (a ``known_hosts`` line, with or without the host
field) or its ``SHA256:`` fingerprint as ``ssh-keygen -lf`` prints it; a list allows a key
rotation. The check runs inside the SSH handshake, before authentication.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import asyncssh


@dataclass
class Pins:
    keys: list = field(default_factory=list)  # asyncssh.SSHKey public keys
    fingerprints: list[str] = field(default_factory=list)  # "SHA256:…"

    def describe(self) -> str:
        shown = [f"{k.get_fingerprint('sha256')} ({k.get_algorithm()})" for k in self.keys] + self.fingerprints
        return ", ".join(shown) or "none"

    def matches(self, key) -> bool:
        if any(key.public_data == k.public_data for k in self.keys):
            return True
        return key.get_fingerprint("sha256") in self.fingerprints


def parse_pins(value) -> Pins:
    """``host_key`` as written in the config -> :class:`Pins`; ``ValueError`` says what is wrong."""
    items = [value] if isinstance(value, str) else list(value or [])
    pins = Pins()
    for item in items:
        text = str(item).strip()
        if not text:
            raise ValueError("is empty: paste the server's known_hosts line or its SHA256: fingerprint")
        if text.startswith("SHA256:"):
            body = text[len("SHA256:"):]
            if len(body) != 43 or not all(c.isalnum() or c in "+/" for c in body):
                raise ValueError(f"{text!r} is not a SHA256 fingerprint as `ssh-keygen -lf` prints it "
                                 "(SHA256: followed by 43 base64 characters)")
            pins.fingerprints.append(text)
            continue
        if text.startswith(("MD5:", "@")):
            raise ValueError(f"{text[:20]!r}…: use the key itself or its SHA256: fingerprint "
                             "(MD5 fingerprints and @cert-authority/@revoked markers are not accepted)")
        tokens = text.split()
        key = None
        for start in (0, 1):  # a bare "type base64" or "hosts type base64 [comment]"
            if len(tokens) >= start + 2:
                try:
                    key = asyncssh.import_public_key(f"{tokens[start]} {tokens[start + 1]}")
                    break
                except (asyncssh.KeyImportError, ValueError):
                    continue
        if key is None:
            raise ValueError(f"{text[:40]!r}… is neither a public key (\"ssh-ed25519 AAAA…\", as in known_hosts) "
                             "nor a SHA256: fingerprint")
        pins.keys.append(key)
    return pins


class HostKeyRefused(Exception):
    """The server's host key is not the pinned one (or none is pinned)."""


class PinnedClient(asyncssh.SSHClient):
    """Accepts the server only if its host key matches a pin; remembers what was offered."""

    def __init__(self, pins: Pins):
        self.pins = pins
        self.offered = None

    def validate_host_public_key(self, host, addr, port, key) -> bool:
        self.offered = key
        return self.pins.matches(key)


def refusal(remote, offered) -> str:
    """The operator-facing reason a connection was refused, with both fingerprints."""
    pins = parse_pins(remote.host_key) if remote.host_key else Pins()
    got = f"{offered.get_fingerprint('sha256')} ({offered.get_algorithm()})" if offered else "unknown"
    if not remote.host_key:
        return (f"remote {remote.name}: {remote.host}:{remote.port} offers host key {got}, and [remotes.{remote.name}] "
                f"pins none: refused, nothing was sent. Check that fingerprint with the server's administrator "
                f"(ssh-keygen -lf on their host key), then set host_key = \"{got.split()[0]}\" "
                f"(or the key's known_hosts line)")
    return (f"remote {remote.name}: HOST KEY MISMATCH: {remote.host}:{remote.port} offers {got}, but "
            f"[remotes.{remote.name}] host_key pins {pins.describe()}: refused, nothing was sent. Either the server "
            f"was re-installed or its key rotated (ask its administrator, then update host_key), or someone is "
            f"intercepting the connection")


PROBE_ALGS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512")


async def probe(remote) -> list:
    """Every host key the server offers, one handshake per key type, each refused before any
    authentication (``marketd remotes hostkey``)."""
    import asyncio

    keys = []
    for alg in PROBE_ALGS:
        client = PinnedClient(Pins())
        try:
            conn = await asyncssh.connect(
                remote.host, port=remote.port, username=remote.user, config=None, agent_path=None, gss_host=None,
                known_hosts=([], [], []), client_factory=lambda: client, server_host_key_algs=[alg],
                connect_timeout=remote.connect_timeout_seconds, client_keys=None, password=None)
            conn.close()
        except asyncssh.HostKeyNotVerifiable:
            pass
        except (asyncssh.Error, ConnectionResetError, BrokenPipeError):
            pass  # the server has no key of this type (it drops the handshake)
        except asyncio.TimeoutError:
            raise OSError(f"no answer within {remote.connect_timeout_seconds:.0f} s") from None
        if client.offered is not None and all(k.public_data != client.offered.public_data for k in keys):
            keys.append(client.offered)
    return keys
