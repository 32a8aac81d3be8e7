"""``marketd.sdk.owner_alive`` (daemon/owners.py): which claim owners may still be at work. The
case it exists for: a daemon restarted in a container is PID 1 again, and the dead daemon's
claims (``host:1:<its instance>``) must read as dead, not as this process's own."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

from marketd.sdk import CLAIM_OWNER, owner_alive

HOST = socket.gethostname()


def test_this_process_is_alive_and_its_owner_text_has_an_instance_id():
    host, pid, instance = CLAIM_OWNER.split(":")
    assert (host, int(pid)) == (HOST, os.getpid()) and len(instance) == 12
    assert owner_alive(CLAIM_OWNER)


def test_the_same_pid_with_another_instance_is_a_process_before_this_one():
    assert not owner_alive(f"{HOST}:{os.getpid()}:0123456789ab")
    assert not owner_alive(f"{HOST}:{os.getpid()}")           # written before instance ids existed


def test_another_running_process_is_alive_and_an_ended_one_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert owner_alive(f"{HOST}:{child.pid}:feedfacecafe")
        assert owner_alive(f"{HOST}:{child.pid}")
    finally:
        child.communicate(b"")
    assert not owner_alive(f"{HOST}:{child.pid}:feedfacecafe")


def test_pid_1_is_alive_unless_it_is_this_process():
    """PID 1 always runs (init; for a user other than root, signalling it is refused, which still
    means alive); when this process *is* PID 1, another instance with that PID is gone."""
    assert owner_alive(f"{HOST}:1:0123456789ab") is (os.getpid() != 1)


def test_other_hosts_and_unreadable_owners_are_dead():
    assert not owner_alive(f"{HOST}-elsewhere:{os.getpid()}:0123456789ab")
    for owner in (None, "", "garbage", f"{HOST}:", f"{HOST}:abc:0123456789ab", f"{HOST}:-1"):
        assert not owner_alive(owner), owner
