"""Who holds a claim row: ``CLAIM_OWNER`` names this process (``host:pid``) and ``owner_alive``
tells whether a recorded owner may still be at work, so a ledger that claims a row before an
outside call (actions, invoice uploads) can settle the claims of a process that died mid-call
at the next run. A claim by another host or an unreadable owner counts as dead: one instance
owns its database (the daemon refuses a second one)."""
from __future__ import annotations

import os
import socket

CLAIM_OWNER = f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True
