"""Built-in plugin ``mall``: the MALL Group marketplace (MPAPI), as a channel and a carrier.

- Channel ``type = "mall"`` (``channel.py``): orders, confirming new orders, tracking back for
  orders the seller ships with its own carrier, and (``invoices_fetch``) MALL's self-billing
  invoices and offsets written into ``inbox/settlements/``, where the ``settlements`` plugin reads
  them with this plugin's ``mall-invoice`` / ``mall-offset`` formats. See docs/plugins/mall.md.
- Carrier ``type = "mall_delivery"`` (``carrier.py``): MALL Delivery (MDP) labels from the MALL
  API, status moved by MALL, and the rule that smallbox orders of an MDP-active MALL account ship
  with nothing else (the ``veto_shipment`` hook). See docs/plugins/carriers.md.

Channel and carrier are one plugin because they share the MPAPI host, the ``client_id`` and
``client.py``, and plugins cannot import each other. The plugin was called ``mall_delivery``
until 0.2: ``[plugins] disabled = ["mall_delivery"]`` still disables it, with a deprecation
warning (the ``marketd.renamed`` entry point in pyproject.toml).
"""
from marketd.sdk import hookimpl

from .carrier import MallDeliveryCarrier
from .channel import MallChannel

__all__ = ["MallDeliveryCarrier", "MallChannel"]


@hookimpl
def register_channels(register):
    register("mall", MallChannel)


@hookimpl
def register_carriers(register):
    register("mall_delivery", MallDeliveryCarrier)


@hookimpl
def register_jobs(register):
    from .finance_fetch import finance_jobs
    from .jobs import order_jobs

    order_jobs(register)
    finance_jobs(register)


@hookimpl
def register_settlement_formats(register):
    from .formats import settlement_formats

    settlement_formats(register)


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_commands(cli):
    from .cli import mall_commands

    cli.add_command(mall_commands)


@hookimpl
def status_sections(app):
    from .status import status_lines

    return status_lines(app)


@hookimpl
def register_fakes(register):
    from .fake import sandbox

    register(sandbox())


@hookimpl
def veto_shipment(app, order, request, carrier):
    """Smallbox orders of a MALL account with MALL Delivery active ship with MALL Delivery only,
    whoever makes the shipment (a shipment-file line, the ERP's own tracking numbers)."""
    for account in app.carriers.values():
        if isinstance(account, MallDeliveryCarrier) and account is not carrier:
            refusal = account.veto(order, request, carrier)
            if refusal is not None:
                return refusal
    return None
