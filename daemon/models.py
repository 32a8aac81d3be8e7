"""Plain data shared between the core and plugins.

Ids are strings, money is Decimal with its currency beside it, times are timezone-aware.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable

from .settings import ChannelSettings, JobSettings, validate


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be Decimal")


@dataclass
class JobSpec:
    """A scheduled job, declared by a plugin.

    ``trigger`` is ``"interval"`` (``seconds``) or ``"cron"`` (``cron`` dict of APScheduler
    cron fields, e.g. ``{"hour": 6}``). ``catch_up`` means a run missed while the daemon was
    down is made up once at start-up, judged from the store's last-success table.
    ``settings_model`` declares the keys ``[jobs.<name>]`` may hold beyond ``enabled``,
    ``seconds`` and ``cron`` (a subclass of :class:`marketd.sdk.JobSettings`).
    """

    name: str
    func: Callable
    trigger: str = "interval"
    seconds: int = 300
    cron: dict = field(default_factory=dict)
    catch_up: bool = True
    enabled: bool = True
    description: str = ""
    settings_model: type[JobSettings] | None = None


@dataclass
class Capabilities:
    """What a channel can do; a missing capability is declared, not discovered at run time."""

    fetch_orders: bool = False
    confirm_shipment: bool = False
    upload_invoice: bool = False
    # invoice_data(report_id): the marketplace's word on uploaded invoices, per order (Amazon's VIDR)
    invoice_status: bool = False
    # fetch_listings(skus) -> iterator of remote listings; submit_listings(batch, save) and
    # poll_listings(handle, save) push them (docs/plugins/content.md "Listings: push, pull, audit")
    fetch_listings: bool = False
    update_listings: bool = False
    parse_settlements: bool = False
    fetch_settlements: bool = False
    fetch_customizations: bool = False
    # fetch_data_model(ref, known_checksum=None) -> dict | None: the platform's data model for a
    # product type / category (docs/plugins/content.md "Model sources"); search_data_models(words)
    data_models: bool = False
    # account health (docs/plugins/health.md "Channel side"): health_report_request(kind) -> id,
    # health_report_poll(id) -> {"state", "data", "format"}; health_report_kinds lists the kinds
    account_health: bool = False
    # notifications_setup(queue_arn, types) / notifications_status(): the platform's push subscriptions
    notifications: bool = False
    # Fulfilment actions on the remote order (the actions plugin, docs/plugins/actions.md): a
    # channel declaring one implements the method of the same name, answering {"ok": bool,
    # "ref"?, "error"?} and raising TransientError to be asked again:
    # accept_order(order_id), refuse_order(order_id, reason), cancel_order(order_id, lines, reason),
    # refund(order_id, amount, currency, lines, reason), ship_without_tracking(order_id)
    accept_order: bool = False
    refuse_order: bool = False
    cancel_order: bool = False
    refund: bool = False
    ship_without_tracking: bool = False


class Channel:
    """Base for channel plugins: ``type`` names the channel kind, ``name`` the account, and
    ``settings_model`` the keys of its ``[channels.<name>]`` table."""

    type: str = ""
    capabilities = Capabilities()
    settings_model: type[ChannelSettings] = ChannelSettings

    def __init__(self, app, name: str, settings: ChannelSettings | dict | None):
        self.app = app
        self.name = name
        # Validated at start-up already; a dict (a channel built by hand) is checked the same way here.
        self.settings = validate(self.settings_model, settings if settings is not None else {"type": self.type},
                                 f"[channels.{name}]", name)

    def sync_orders(self, since: datetime | None) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def confirm_shipment(self, order_id: str, package: dict) -> dict:  # pragma: no cover
        raise NotImplementedError
