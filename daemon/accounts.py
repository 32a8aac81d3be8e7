"""One job body run over every account of a channel type.

Every channel plugin has jobs of the same form (fetch orders, payouts, settlement reports, invoices
for each of its accounts): an account whose switch is off is skipped with one INFO line per
process, not one per run; a failing account must not stop the others, is logged with its reason
and may leave a note for ``marketd status``; and the run as a whole fails (``TransientError``: the
scheduler's backoff and "last error") when any account failed. Seven hand-written copies of that
loop had begun to drift; this is the one plugins share through ``marketd.sdk``.
"""
from __future__ import annotations

import logging
from typing import Callable, Mapping, TypeVar

from .errors import ConfigError, MarketdError, TransientError

A = TypeVar("A")
R = TypeVar("R")

#: What an account's failure may be: the channel's own errors. Anything else is a bug and goes up
#: to the scheduler as it is (with its traceback), not folded into "failed for".
ACCOUNT_ERRORS = (TransientError, ConfigError, MarketdError)


def accounts_of(app, cls: type[A]) -> dict[str, A]:
    """The configured channel accounts that are instances of ``cls``, by name."""
    return {name: ch for name, ch in app.channels.items() if isinstance(ch, cls)}


def log_once(app, log: logging.Logger, key: str, message: str, *args) -> None:
    """``log.info(message, *args)`` the first time ``key`` is seen by this App (this process):
    a job that runs every few minutes must not repeat a standing fact every time."""
    seen = app.__dict__.setdefault("_marketd_logged_once", set())
    if (log.name, key) not in seen:
        seen.add((log.name, key))
        log.info(message, *args)


def each_account(app, accounts: Mapping[str, A], work: Callable[[str, A], R], *, log: logging.Logger,
                 what: str, enabled: Callable[[A], bool] | None = None, off_note: str = "",
                 failure_table: str | None = None) -> dict[str, R]:
    """``{name: work(name, account)}`` for every enabled account.

    ``what`` names the job in messages (``"ebay order sync"``: the first word is the plugin).
    An account for which ``enabled`` is false is skipped, ``off_note`` (``{name}`` = the account)
    logged once. A failing account is logged and, when ``failure_table`` is given, its error and
    time are kept in that table (one row per ``channel``) for ``marketd status``; after the last
    account the run raises ``TransientError`` naming each failed account."""
    prefix, _, action = what.partition(" ")
    results: dict[str, R] = {}
    failures: list[str] = []
    for name, account in accounts.items():
        if enabled is not None and not enabled(account):
            if off_note:
                log_once(app, log, f"{what}:off:{name}", "%s %s: %s", prefix, name, off_note.format(name=name))
            continue
        try:
            results[name] = work(name, account)
        except ACCOUNT_ERRORS as exc:
            failures.append(f"{name}: {exc}")
            log.error("%s %s: %s failed: %s", prefix, name, action, exc)
            if failure_table:
                with app.store.transaction() as db:
                    db[failure_table].upsert({"channel": name, "last_error": str(exc)[:500],
                                              "last_run_at": app.clock.now().isoformat()}, pk="channel")
    if failures:
        raise TransientError(f"{what} failed for " + "; ".join(failures))
    return results
