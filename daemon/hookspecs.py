"""Every hook a marketd plugin can implement: the contract plugins code against.

Built-in plugins (``marketd.plugins.*``) use exactly these hooks, registered through the same
``marketd`` entry-point group as third-party packages, so nothing built in has a private door.

Registration hooks receive a ``register`` callable and call it once per thing they provide; this
keeps hooks cheap (no return-value merging) and lets one plugin register several things.
Hooks are called through pluggy (``app.hook.<name>(...)``); an implementation that raises is
logged with its plugin's name and skipped, and what that plugin registered in the same call is
dropped (``MARKETD_STRICT_PLUGINS=1`` makes it fatal). ``tryfirst``/``trylast`` and
``@hookimpl(wrapper=True)`` work as pluggy documents them.

**Settings.** Everything a plugin provides that has a config table declares its keys as a
pydantic model, in one way for every kind: a ``settings_model`` attribute.

- inbox handler: ``handler.settings_model``, a subclass of :class:`marketd.sdk.InboxSettings`
  (``[inbox.<kind>]``); default ``InboxSettings``;
- channel / carrier type: ``factory.settings_model`` (a class attribute when the factory is the
  channel or carrier class itself), a subclass of :class:`marketd.sdk.ChannelSettings` /
  :class:`marketd.sdk.CarrierSettings`; default those bases;
- job: ``JobSpec(settings_model=...)``, a subclass of :class:`marketd.sdk.JobSettings`
  (``[jobs.<name>]``).

Tables are validated at start-up against these models (unknown key or wrong type: start-up
fails naming the file, table, key and a close match) and the plugin receives the model
instance (``ctx.settings``, the factory's ``settings``), which also reads like a dict.
Plugins import only :mod:`marketd.sdk` from the core.
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
    problem is raised as :class:`marketd.sdk.FileRejected`, a temporary one as
    :class:`marketd.sdk.TransientError`. Optional: ``on_duplicate(ctx, first)`` to write
    a report when the same content arrives twice; ``settings_model`` (see above).

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
    :class:`marketd.sdk.Channel` for the capability flags it declares. ``settings`` is the
    validated ``factory.settings_model`` of ``[channels.<name>]``.
    """


@hookspec
def register_carriers(register):
    """Provide carrier types: ``register(type_name, factory)``.

    ``factory(app, name, settings)`` returns a carrier with ``create_shipment(request)`` and
    ``track(shipment)`` returning the SDK's carrier result models (errors as data). ``settings``
    is the validated ``factory.settings_model`` of ``[carriers.<name>]``.
    """


@hookspec
def register_reports(register):
    """Provide reports built on demand: ``register(name, build)``.

    ``build(app, **options)`` writes its file(s) into the outbox (``app.outbox.write``) and
    returns their paths; ``options`` are the text ``KEY=VALUE`` pairs of
    ``marketd report NAME --set KEY=VALUE``. To build one on a schedule too, register a
    :class:`marketd.sdk.JobSpec` that calls it.
    """


@hookspec
def register_jobs(register, app):
    """Provide scheduled jobs: ``register(marketd.sdk.JobSpec(...))``.

    A job function is called as ``func(app, since)`` where ``since`` is the last successful
    run (timezone-aware) or ``None``; it must be idempotent for that window. An implementation
    that declares ``app`` can register one job per configured account (the ``remotes`` plugin:
    ``remote-<name>`` per ``[remotes.<name>]``; ``app`` is ``None`` when jobs are listed without
    an instance); a :class:`marketd.sdk.ConfigError` it raises for a wrong table stops the start
    like any config error.
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
def register_fakes(register):
    """Provide fakes of the services the plugin talks to, for ``marketd sandbox``:
    ``register(marketd.sdk.fakes.SandboxFake(name, make, configure, check))``.

    The sandbox serves each fake on loopback, writes the config ``configure`` returns for it and,
    with ``--check``, runs ``check(app, fake)``: the plugin's own code against its fake, so a
    broken fake or a wrong config fails the check. The fake ships in the plugin's package
    (``fake.py``), so the sandbox works from a plain install; the core knows only this hook.
    """


@hookspec
def veto_shipment(app, order, request, carrier):
    """Policy: refuse to ship ``order`` with ``carrier`` (a rule another carrier or channel owns).

    Called for every order of a shipment before anything is sent, with the
    :class:`marketd.sdk.ShipmentRequest` and the carrier object that would make it. Return a
    :class:`marketd.sdk.Message` saying why and how to fix it (``details["fix"]``), or ``None``.
    A carrier plugin uses it when a marketplace reserves some orders for its own delivery
    service (every other carrier is refused for those orders).
    """


@hookspec
def order_imported(app, order):
    """Event: an order was created or changed in the store by a channel sync."""


@hookspec
def order_action_done(app, action):
    """Event: a fulfilment action was carried out at the marketplace (the ``actions`` plugin):
    ``action`` is its ledger row (``order_key``, ``action``, ``params`` JSON with ``amount`` and
    ``currency`` for a refund, ``remote_ref``). The invoices plugin issues a credit note for a refund."""


@hookspec
def buyer_data_hold(app, order):
    """Why ``order``'s buyer data must be kept past its retention for now (open business this
    plugin still has with it: an action not answered, an archive not yet downloaded …): return a
    short reason, or ``None``. The ``privacy`` plugin's purge defers an order any plugin holds."""


@hookspec
def buyer_data_purged(app, order):
    """Event: the buyer data of ``order`` (its key, channel and ids; the personal fields are gone
    already) was purged from the core's orders table after its retention. Remove this plugin's
    own copies (files, columns) now; the purge record lists what the core removed."""


@hookspec
def shipment_updated(app, shipment, old_status, new_status):
    """Event: a shipment's normalised tracking status changed."""


@hookspec
def status_sections(app):
    """Extra sections for ``marketd status``: return ``{title: [line, ...]}`` (or ``None``).

    Called in the CLI process (the daemon may or may not run), so read state from the store or
    the plugin's own files, never from the daemon's memory. A plugin that raises gets one line
    saying so in its place; the other sections still show.
    """


@hookspec
def data_models_changed(app, platform, marketplace, models, source):
    """Event: a platform announced changed data models (Amazon's PRODUCT_TYPE_DEFINITIONS_CHANGE).

    ``platform`` is the platform type (``"amazon"``), ``marketplace`` its marketplace id or ``""``
    (all), ``models`` the model names it named (``[]``: every model in use there), ``source`` a
    stable id of the announcement (``"<NotificationType>:<NotificationId>"``, so a notification
    delivered twice is recorded once). Listeners record the work; the refresh and the re-checks
    run in a job (the content plugin's ``content-models``).
    """


@hookspec
def listing_changed(app, platform, account, marketplace, sku, reason, source):
    """Event: a platform announced a change to one of the seller's listings (Amazon's
    LISTINGS_ITEM_STATUS_CHANGE / LISTINGS_ITEM_ISSUES_CHANGE).

    ``platform`` is the platform type (``"amazon"``), ``account`` the channel account it came
    through (``""`` unknown), ``marketplace`` the marketplace id (``""`` unknown), ``sku`` the
    seller SKU, ``reason`` the notification type, ``source`` a stable id of the announcement
    (``"<NotificationType>:<NotificationId>"``: delivered twice, recorded once). Listeners record
    the work; the audit runs in a job (the content plugin's ``listings-audit``).
    """


@hookspec
def file_processed(app, record):
    """Event: an inbox file reached a final state (``done``, ``error`` or ``duplicate``)."""


# -- settlements (the built-in ``settlements`` plugin consumes these; docs/plugins/settlements.md) --
@hookspec
def register_settlement_formats(register):
    """Provide payout file formats: ``register(fmt)``, a :class:`marketd.sdk.settlements.SettlementFormat`.

    A channel plugin only *parses* its marketplace's payout files into the SDK's ``Payout`` /
    ``PayoutLine`` models; the plugin that handles ``inbox/settlements/`` (the built-in
    ``settlements``) asks every registered format's ``sniff(head, name)`` which one a dropped
    file is, and stores, matches, checks and reports it the same way for every channel.
    Exactly one format must recognise a file: none is an ``unknown_settlement_format``
    rejection listing the known formats, two is a bug naming both. marketd refuses to start
    when a plugin registers formats and no loaded plugin handles ``inbox/settlements/``.
    """


@hookspec(firstresult=True)
def order_finance(app, order_keys, refs):
    """Money the marketplaces' payouts moved for orders: ``{order_key: finance}`` (or ``None``).

    ``order_keys`` are ``orders.key`` values; ``refs`` are order references the caller was
    given that match no stored order (``marketd orders show REF``): the answer then also holds
    ``{"unmatched": {ref: [payout lines waiting for that order]}}``. ``finance`` has
    ``totals`` (one dict per currency: every category's exact text, ``net``, ``fee_pct``,
    ``payouts``, first/last posted), ``fees`` (marketplace fees per subtype) and ``payouts``
    (what each payout moved for the order, with that payout's own ``fees`` per subtype). The
    core's ``marketd orders list --finance`` and ``orders show`` call it; without a plugin
    answering there are no finance columns.
    ``firstresult``: the first plugin that answers wins.
    """
