"""Built-in plugin ``mall``: the MALL Group marketplace (MPAPI). Today its MALL Delivery carrier
(MDP): labels from the MALL API, status moved by MALL, and the rule that smallbox orders of an
MDP-active MALL account ship with nothing else. A MALL channel will join it here: it shares the
MPAPI host, the ``client_id`` and ``client.py`` with the carrier, and plugins cannot import
each other.

Configure ``[carriers.<name>] type = "mall_delivery"``; see docs/plugins/carriers.md. The plugin
was called ``mall_delivery`` until 0.2: ``[plugins] disabled = ["mall_delivery"]`` still disables
it, with a deprecation warning (the ``marketd.renamed`` entry point in pyproject.toml).
"""
from marketd.sdk import hookimpl

from .carrier import MallDeliveryCarrier

__all__ = ["MallDeliveryCarrier"]


@hookimpl
def register_carriers(register):
    register("mall_delivery", MallDeliveryCarrier)


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
