"""Test utilities for plugin authors: the real core, in-process, on a clock the test moves.

A plugin's tests should exercise the real engine, store and scheduler rather than mocks of
them: ``make_app`` builds an App with only the plugins under test (no entry points) on a
``FakeClock``; ``process_file`` runs a file through the same path as a dropped file
(claim, handler, commit, publish, archive) and returns its journal row; ``run_job`` runs a
scheduled job once. For crash tests against a real daemon subprocess, ``crashpoint_env``
gives the environment that makes it SIGKILL itself at a named step (see ``crashpoint``).
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..clock import FakeClock
from ..config import default_config
from . import process_file

CRASHPOINT_ENV = "MARKETD_CRASHPOINT"


def make_app(root: str | Path, plugins: dict, *, clock=None, inbox: dict | None = None,
             channels: dict | None = None, carriers: dict | None = None, jobs: dict | None = None,
             mail: dict | None = None, load_entry_points: bool = False):
    """An App for an instance folder ``root`` with ``plugins`` (name -> module or object) on
    ``clock`` (a new ``FakeClock`` by default). ``inbox`` maps kind -> settings laid over the
    inbox defaults; ``channels``/``carriers``/``jobs``/``mail`` are their config tables. Settings are
    validated exactly as at a daemon's start-up. Close it with ``app.close()``."""
    from ..app import App

    cfg = default_config(root)
    for kind, section in (inbox or {}).items():
        cfg["inbox"][kind] = {**copy.deepcopy(cfg["inbox"]["defaults"]), **section}
    cfg["channels"] = dict(channels or {})
    cfg["carriers"] = dict(carriers or {})
    cfg["jobs"] = dict(jobs or {})
    if mail is not None:
        from ..mail import MailSettings
        from ..settings import validate

        cfg["mail"] = validate(MailSettings, dict(mail), "[mail]").model_dump()
    return App(cfg, clock=clock or FakeClock(), load_entry_points=load_entry_points, extra_plugins=plugins)


def run_job(app, name: str) -> str | None:
    """Run the scheduled job ``name`` once now, as ``marketd jobs run``; the error text or None."""
    from ..scheduler import JobRunner

    return JobRunner(app).run_job(name)


def crashpoint_env(name: str, nth: int | None = None) -> dict:
    """Environment for a daemon subprocess that kills itself (SIGKILL) at ``crashpoint(name)``,
    the ``nth`` time it gets there (default: the first)."""
    return {CRASHPOINT_ENV: f"{name}@{nth}" if nth else name}


__all__ = ["FakeClock", "make_app", "process_file", "run_job", "crashpoint_env", "CRASHPOINT_ENV"]
