"""``marketd.sdk``: the one door from a plugin into marketd's core.

Built-in plugins (``marketd.plugins.*``) and third-party packages import from the core only
through this module and its submodules (an import-linter contract in ``pyproject.toml`` fails
the test suite otherwise). Everything here is re-exported from the core module that owns it, so
there is one implementation of each; everything not here is private to the core and may change.

What each group is for:

- **Hooks** — ``hookimpl`` marks a plugin's implementations of the hooks documented in
  ``marketd/hookspecs.py`` (entry-point group ``marketd``).
- **Inbox handlers** — ``FileContext`` is what ``process(ctx)`` gets: the claimed file, its
  settings, the store inside the file's transaction, staged outputs. Raise ``FileRejected``
  (content: never retried, reported with where/fix), ``TransientError`` (retried with backoff);
  ``OutputExists`` is what a taken output name raises. ``MarketdError``/``ConfigError`` for the rest.
- **Settings** — ``Settings`` (base of every table model: unknown keys are errors, strict types),
  ``InboxSettings``, ``ChannelSettings``, ``CarrierSettings``, ``JobSettings`` to extend with a
  plugin's own keys, ``AddressTable`` for a table of address fields, ``SecretRef`` for the *name* of a secret (env var / systemd credential,
  read with ``app.secret(ref)``), never its value. See ``settings_model`` in ``hookspecs.py``.
- **Channels, jobs and money** — ``Channel`` and ``Capabilities`` (a marketplace account),
  ``JobSpec`` (a scheduled job), ``Money``; ``each_account`` runs a job body over a channel type's
  accounts (``accounts_of``), skipping those switched off, isolating each failure; ``log_once``; ``ORDER_STATUSES`` and ``normalise_order_status``
  (the normalised ``orders.status``; a channel keeps its own word in ``channel_status``);
  ``store_orders(app, rows, stats)``: a sync's page of orders into the store in one transaction
  (unchanged ones skipped, ``imported_at`` kept, ``order_imported`` announced after the commit);
  ``order_guard(app, order_key, purpose)``: the reason an automatic path must not act on an order
  a person flagged as handled by hand (``marketd orders mark-manual``), or None.
- **Settlements** — ``marketd.sdk.settlements``: the payout models every marketplace's payout
  file is parsed into (``Payout``, ``PayoutLine``, ``Category`` …) and the ``SettlementFormat``
  a channel plugin registers (``register_settlement_formats``).
- **Carriers** — the unified models every carrier plugin speaks: ``Carrier``, ``ShipmentRequest``,
  ``ShipmentResult``, ``Address``, ``Parcel``, ``Label``, ``TrackingResult`` … (errors are
  ``Message`` data; only ``TransientError`` is raised). Label files: ``marketd.sdk.labels``.
- **Numbers and tables** — the one number parser: ``DecimalStyle.detect`` (a file's ``.``/``,``
  from all its values; ``votes`` counts them chunk by chunk), ``parse_decimal(text, style, kind)``
  with bounds per use (``AMOUNT``, ``COUNT``, ``MEASURE``), refusing with ``NumberError`` only;
  ``parse_amount``/``AmountError``/``guess_decimal_separator``/``fmt`` (Decimal, never float);
  ``read_table``/``TableFile``/``Chunk`` (CSV/XLSX as ERPs export them, checked before any row is
  used, read in chunks, with line/column errors); ``write_csv``/``csv_text``/``safe_cell``
  (spreadsheet-safe output), ``clean_text`` (text an XLSX cell can hold), ``XlsxWorkbook`` (a
  streamed workbook for reports).
- **Logging input** — ``quote_input`` quotes a value from a file in a message (60 characters and
  the length: files hold megabyte values), ``mask_emails`` masks addresses in text a plugin logs.
- **HTTP** — ``HttpClient`` (rate limits, 429 waits, bounded retries, redacted logs) with
  ``RetryPolicy``, ``RateLimiter``/``TokenBucket``, ``RateLimited``; ``redact_*`` for anything a
  plugin logs itself; ``utc_iso``. ``RefreshTokenGrant``: an OAuth access token from a refresh token, cached per
  account (a channel writes the token request and the wording of a refusal). ``Backoff`` is the one exponential backoff for any retry a
  plugin schedules itself (polling after an error, a push to a channel).
- **Time** — ``Clock``, ``SYSTEM_CLOCK``, ``FakeClock``: every wait goes through ``app.clock``.
- **Crash safety** — ``crashpoint(name)`` marks a step the kill -9 tests can stop the daemon at;
  ``write_atomic(path, data)`` puts a fetched file into an inbox whole or not at all (owner-only).
  ``CLAIM_OWNER`` / ``owner_alive(owner)``: who holds a claimed ledger row (``host:pid:instance``),
  and whether that process still runs (a claim of a dead one is settled at the next run; a
  restart that got the same PID, as PID 1 in a container, is told apart by the instance id).
- **Private databases** — ``ThreadConnections``: a plugin's own SQLite file beside the store
  (one connection per thread, WAL, ``synchronous=FULL``, owner-only), for state that must commit
  outside the file's transaction (the carrier-call ledger).
- **Commands** — ``build_app(ctx)`` inside a plugin's click command gives the instance's App (the
  same plugin host and config as every other command); ``exclusive(app, advice)`` holds the
  instance lock for a command that must not run beside the daemon.
- **Housekeeping** — ``inbox_settings_for(app, kind)``: an inbox's validated settings;
  ``prune_archives(app)``: the inboxes' retention (their layout stays private).
- **Running the core** — ``open_app(config_path)`` for a tool outside a click command;
  ``process_file(app, kind, path)`` processes a file now, exactly as a dropped one.
- **Mail** — ``marketd.sdk.mail``: the one mail door. ``compose`` a message, ``enqueue`` it in
  the transaction that decided to send it (durable ``.eml`` + ``mail_queue`` row, one recipient,
  an idempotency key), ``send_due`` sends through the ``[mail]`` server (STARTTLS or SMTPS,
  retries, a crash mid-send held or resent by the row's ``on_crash``), ``release``/``counts``/
  ``listing`` for a plugin's commands and status. ``MailSettings`` is the ``[mail]`` table.
- **Tests** — ``marketd.sdk.testing``: an in-process App with chosen plugins on a fake clock,
  processing a file through the real engine, crash points for a daemon subprocess.
- **Fakes** — ``marketd.sdk.fakes``: the kit a plugin's ``fake.py`` is built on (router, journal,
  faults, loopback server, label documents) and ``SandboxFake``, what ``register_fakes`` gives
  ``marketd sandbox``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import ConfigError, FileRejected, MarketdError, OutputExists, TransientError
from ..hookspecs import hookimpl

# Every other name is imported from its owner on first use (module ``__getattr__``): a command
# imports what it touches, not the whole core (httpx, the PDF library, the scheduler, pandas), so
# ``marketd --help`` and a one-file ``marketd process`` start in a fraction of the time. Each
# name is still the owner's object itself (tests/core/test_hooks.py checks the identity).
_OWNERS = {
    "..accounts": ["accounts_of", "each_account", "log_once"],
    "..backoff": ["Backoff"],
    "..carriers": ["EXCEPTION_STATUSES", "FINAL_STATUSES", "Address", "Carrier", "InFlight", "Label", "LabelFormat",
                   "Message", "Parcel", "ParcelResult", "ShipmentRequest", "ShipmentResult", "TrackingEvent",
                   "TrackingResult", "TrackingStatus", "to_decimal"],
    "..cli": ["build_app", "exclusive"],
    "..clock": ["SYSTEM_CLOCK", "Clock", "FakeClock", "shown_time"],
    "..context": ["FileContext"],
    "..http": ["HttpClient", "RateLimited", "RateLimiter", "RetryPolicy", "TokenBucket", "redact_form",
               "redact_headers", "redact_text", "redact_url", "utc_iso"],
    "..inbox": ["crashpoint"],
    "..models": ["Capabilities", "Channel", "JobSpec", "Money"],
    "..oauth": ["RefreshTokenGrant"],
    "..orderstatus": ["ORDER_STATUSES", "normalise_order_status"],
    "..orderflags": ["order_guard", "manual_flag", "mark_manual"],
    "..order_pages": ["store_orders"],
    "..outbox": ["write_atomic"],
    "..personal": ["PERSONAL_KEYS", "scrub_personal"],
    "..owners": ["CLAIM_OWNER", "owner_alive"],
    "..money": ["AmountError", "fmt", "guess_decimal_separator", "parse_amount"],
    "..numbers": ["AMOUNT", "COMMA", "COUNT", "DOT", "MEASURE", "DecimalStyle", "NumberError", "NumberKind",
                  "parse_decimal", "votes"],
    "..settings": ["AddressTable", "CarrierSettings", "ChannelSettings", "InboxSettings", "JobSettings", "SecretRef",
                   "Settings", "TimeZoneName", "did_you_mean"],
    "..store": ["ThreadConnections"],
    "..logs": ["mask_emails", "quote_input"],
    "..tabular": ["Chunk", "TableFile", "clean_text", "csv_text", "read_table", "safe_cell", "write_csv"],
}
_RENAMED = {"XLSX_MAX_ROWS": ("..xlsxout", "MAX_ROWS"), "XlsxWorkbook": ("..xlsxout", "Workbook")}
_LAZY = {name: (module, name) for module, names in _OWNERS.items() for name in names} | _RENAMED


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from ..accounts import accounts_of, each_account, log_once
    from ..backoff import Backoff
    from ..carriers import (EXCEPTION_STATUSES, FINAL_STATUSES, Address, Carrier, InFlight, Label, LabelFormat,
                            Message, Parcel, ParcelResult, ShipmentRequest, ShipmentResult, TrackingEvent,
                            TrackingResult, TrackingStatus, to_decimal)
    from ..cli import build_app, exclusive
    from ..clock import SYSTEM_CLOCK, Clock, FakeClock, shown_time
    from ..context import FileContext
    from ..http import (HttpClient, RateLimited, RateLimiter, RetryPolicy, TokenBucket, redact_form,
                        redact_headers, redact_text, redact_url, utc_iso)
    from ..inbox import crashpoint
    from ..models import Capabilities, Channel, JobSpec, Money
    from ..oauth import RefreshTokenGrant
    from ..orderstatus import ORDER_STATUSES, normalise_order_status
    from ..orderflags import manual_flag, mark_manual, order_guard
    from ..order_pages import store_orders
    from ..outbox import write_atomic
    from ..personal import PERSONAL_KEYS, scrub_personal
    from ..owners import CLAIM_OWNER, owner_alive
    from ..money import AmountError, fmt, guess_decimal_separator, parse_amount
    from ..numbers import (AMOUNT, COMMA, COUNT, DOT, MEASURE, DecimalStyle, NumberError, NumberKind,
                           parse_decimal, votes)
    from ..settings import (AddressTable, CarrierSettings, ChannelSettings, InboxSettings, JobSettings, SecretRef,
                            Settings, TimeZoneName, did_you_mean)
    from ..store import ThreadConnections
    from ..logs import mask_emails, quote_input
    from ..tabular import Chunk, TableFile, clean_text, csv_text, read_table, safe_cell, write_csv
    from ..xlsxout import MAX_ROWS as XLSX_MAX_ROWS, Workbook as XlsxWorkbook


def open_app(config_path):
    """The App of the instance whose config is ``config_path``, for plugin tools that run
    outside a click command (``marketd sandbox --check``). Close it with ``app.close()``."""
    from ..app import App

    return App.from_config_path(config_path)


def process_file(app, kind: str, path) -> dict:
    """Process one file now through the same path as a dropped file (``marketd process``): a file
    in inbox ``kind``'s folder is claimed by rename, one from elsewhere is copied in and left
    alone. Returns the journal row with ``summary``, ``error`` and ``outputs`` decoded."""
    import json
    from pathlib import Path

    from ..inbox import InboxEngine

    engine = InboxEngine(app)
    engine.ensure_dirs()
    row = dict(engine.adopt(kind, Path(path)))
    for key in ("summary", "error", "outputs"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def prune_archives(app) -> int:
    """Delete what the inboxes archived (``.done``, ``.duplicate``, ``.error``) past each inbox's
    retention; returns how many items went. The layout stays the inbox's business."""
    from ..inbox import retention

    return retention.prune(app)


def expire_archives(app, kinds, days: float) -> list[str]:
    """Delete what inboxes ``kinds`` archived more than ``days`` ago, whatever their own
    retention says (the buyer data purge: files holding buyers' data go with the data); returns
    the removed items as paths relative to the inbox folder."""
    from ..inbox import retention

    return retention.expire(app, kinds, days)


def inbox_settings_for(app, kind: str) -> "InboxSettings":
    """The validated settings of inbox ``kind`` (its handler's model; the defaults for a kind
    without a handler)."""
    from ..config import inbox_settings

    return inbox_settings(app.config, kind)


__all__ = [
    "__version__", "prune_archives", "expire_archives",
    # hooks
    "hookimpl",
    # inbox handlers and errors
    "FileContext", "MarketdError", "ConfigError", "FileRejected", "TransientError", "OutputExists",
    # settings
    "Settings", "InboxSettings", "ChannelSettings", "CarrierSettings", "JobSettings", "SecretRef", "AddressTable",
    "TimeZoneName", "did_you_mean",
    # channels, jobs, money
    "JobSpec", "Money", "Channel", "Capabilities", "ORDER_STATUSES", "normalise_order_status",
    "each_account", "accounts_of", "log_once", "RefreshTokenGrant", "write_atomic", "CLAIM_OWNER", "owner_alive",
    "store_orders",
    # the manual-operation flag: every automatic path asks order_guard before acting on an order
    "order_guard", "manual_flag", "mark_manual",
    # carriers
    "Address", "Parcel", "ShipmentRequest", "Label", "ParcelResult", "ShipmentResult", "TrackingEvent",
    "TrackingResult", "Message", "Carrier", "LabelFormat", "TrackingStatus", "FINAL_STATUSES",
    "EXCEPTION_STATUSES", "InFlight", "to_decimal",
    # numbers and tables
    "parse_amount", "AmountError", "guess_decimal_separator", "fmt", "read_table", "TableFile", "write_csv",
    "csv_text", "safe_cell", "clean_text", "DecimalStyle", "DOT", "COMMA", "parse_decimal", "votes", "NumberError",
    "NumberKind", "AMOUNT", "COUNT", "MEASURE", "Chunk", "XlsxWorkbook", "XLSX_MAX_ROWS",
    # what a plugin logs: input quoted short, e-mail addresses masked
    "quote_input", "mask_emails",
    # buyer data: the keys that carry a person, and removing them from a stored document
    "PERSONAL_KEYS", "scrub_personal",
    # HTTP
    "HttpClient", "RetryPolicy", "RateLimiter", "TokenBucket", "RateLimited", "Backoff", "redact_headers",
    "redact_url", "redact_form", "redact_text", "utc_iso",
    # time
    "Clock", "FakeClock", "SYSTEM_CLOCK", "shown_time",
    # crash safety, private databases, commands, housekeeping
    "crashpoint", "ThreadConnections", "build_app", "exclusive", "inbox_settings_for", "open_app", "process_file",
]
