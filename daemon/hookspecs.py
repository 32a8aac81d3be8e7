"""Every hook a marketd plugin can implement: the contract plugins code against.

Built-in plugins (``marketd.plugins.*``) use exactly these hooks, registered through the same
``marketd`` entry-point group as third-party packages, so nothing built in has a private door.

Registration hooks receive a ``register`` callable and call it once per thing they provide; this
keeps hooks cheap (no return-value merging) and lets one plugin register several things.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("marketd")
hookimpl = pluggy.HookimplMarker("marketd")


@hookspec
def register_inbox_handlers(register):
    """Provide inbox handlers: ``register(handler)``.

    A handler is an object with ``kind`` (the inbox folder name, e.g. ``"catalog"``), a
    ``completeness`` string describing how a truncated file is detected (shown in docs and in
    ``marketd status``), and ``process(ctx) -> dict``: ``ctx`` is a
    :class:`marketd.context.FileContext`; the returned dict is the journal summary. A content
    problem is raised as :class:`marketd.errors.FileRejected`, a temporary one as
    :class:`marketd.errors.TransientError`. Optional: ``on_duplicate(ctx, first)`` to write
    a report when the same content arrives twice.

    Summary convention: a handler that accepts or refuses line by line returns ``lines`` (or
    ``rows``: how many it considered) and ``rejected`` (how many it refused); ``marketd status``
    and the log then show a file whose every line was refused apart from a plain ``done``.

    Optional ``suspect(path) -> str | None``: a cheap look at a stable file before the claim, in
    ``stable`` mode; a reason ("the last line has no line break") makes the engine wait a second
    stability window in case the file is still being written. The default,
    :func:`marketd.inbox.unterminated_tail`, suits line-based text formats without a trailer
    (binary containers such as XLSX are never suspect); ``suspect = None`` switches it off for
    formats that carry their own end marker. The handler still judges the content itself (a cut
    row is rejected as ``truncated``).
    """


@hookspec
def register_channels(register):
    """Provide marketplace channel types: ``register(type_name, factory)``.

    ``factory(app, name, settings)`` returns a channel object; see
    :class:`marketd.models.Channel` for the capability flags it declares.
    """


@hookspec
def register_carriers(register):
    """Provide carrier types: ``register(type_name, factory)``.

    ``factory(app, name, settings)`` returns a carrier with ``create_shipment(request)`` and
    ``track(shipment)`` returning :mod:`marketd.carriers` result models (errors as data).
    """


@hookspec
def register_reports(register):
    """Provide report builders: ``register(name, build)`` with ``build(app, **options)``."""


@hookspec
def register_jobs(register):
    """Provide scheduled jobs: ``register(marketd.models.JobSpec(...))``.

    A job function is called as ``func(app, since)`` where ``since`` is the last successful
    run (timezone-aware) or ``None``; it must be idempotent for that window.
    """


@hookspec
def register_migrations(register):
    """Provide store tables: ``register(component, [(version, migrate), ...])``.

    ``migrate(db)`` receives a ``sqlite_utils.Database`` inside a transaction; versions are
    applied once each, in order, and recorded in ``_migrations``.
    """


@hookspec
def register_commands(cli):
    """Add click commands to the ``marketd`` command group."""


@hookspec
def order_imported(app, order):
    """Event: an order was created or changed in the store by a channel sync."""


@hookspec
def shipment_updated(app, shipment, old_status, new_status):
    """Event: a shipment's normalised tracking status changed."""


@hookspec
def file_processed(app, record):
    """Event: an inbox file reached a final state (``done``, ``error`` or ``duplicate``)."""
