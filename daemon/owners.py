"""Who holds a claim row: ``CLAIM_OWNER`` names this process (``host:pid:instance``) and
``owner_alive`` tells whether a recorded owner may still be at work, so a ledger that claims a row
before an outside call (actions, invoice uploads, tracking pushes) can settle the claims of a
process that died mid-call at the next run.

Why an instance id beside the PID: in a container the daemon is PID 1 after every restart, so
``host:pid`` alone would make the dead daemon's claims look like this process's own (or like a
live process), and they would never be settled. ``instance`` is random per process start: the
same host and PID with another instance id is a process that is gone.

A claim by another host, or an owner that cannot be read, counts as dead: one instance owns its
database (the daemon refuses a second one), and a container that moved got a new host name."""
from __future__ import annotations

import os
import socket
import uuid

INSTANCE = uuid.uuid4().hex[:12]
CLAIM_OWNER = f"{socket.gethostname()}:{os.getpid()}:{INSTANCE}"


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    if owner == CLAIM_OWNER:
        return True
    host, _, rest = owner.partition(":")
    pid, _, instance = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        # our PID but not our owner text: a process before this one (a restart that got the same
        # PID), whether it wrote an instance id or the older ``host:pid``
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True
