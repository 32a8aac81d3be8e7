"""Built-in plugin: SFTP both ways with an ERP's own server (``[remotes.<name>]``).

Pulls complete files from remote folders into inboxes (then archives or deletes them there) and
pushes outbox files to remote folders (temp name, rename, optional done file), each exactly once
across crashes, with a ledger of its own. One scheduled job per remote (``remote-<name>``) does
the network work on a scheduler thread; the ``file_processed`` listener only queues outputs.
See docs/plugins/remotes.md.
"""
from __future__ import annotations

import json
import logging
import math
from functools import partial

from marketd.sdk import JobSpec, hookimpl

from .cli import remotes_commands
from .ledger import Ledger
from .push import enqueue_outputs
from .runner import job
from .settings import check_inboxes, remotes_of
from .status import lines

log = logging.getLogger("marketd.remotes")


@hookimpl
def register_jobs(register, app):
    if app is None:  # listed without an instance (no config): no remotes, no jobs
        return
    remotes = remotes_of(app)
    if any(r.pull for r in remotes.values()):
        check_inboxes(app, remotes, set(app.inbox_handlers()))
    for name, remote in remotes.items():
        register(JobSpec(f"remote-{name}", partial(job, remote=name), trigger="interval",
                         seconds=max(1, math.ceil(remote.job_seconds)), catch_up=True, enabled=remote.enabled,
                         description=f"SFTP {remote.address}: {len(remote.pull)} pull(s), {len(remote.push)} push(es)"))


@hookimpl
def register_commands(cli):
    remotes_commands(cli)


@hookimpl
def file_processed(app, record):
    """Queue the file's published outputs for the remotes that push their folder (no network)."""
    remotes = remotes_of(app)
    if not any(r.push for r in remotes.values()):
        return
    outputs = json.loads(record.get("outputs") or "[]") if isinstance(record.get("outputs"), str) else []
    paths = [o.get("published") or o.get("final") for o in outputs if isinstance(o, dict)]
    paths = [p for p in paths if p]
    if paths:
        enqueue_outputs(app, remotes, Ledger.of(app), paths)


@hookimpl
def status_sections(app):
    text = lines(app)
    return {"remotes": text} if text else None
