"""Built-in plugin: MALL Delivery (MDP): labels from the MALL API, status moved by MALL, and the
rule that smallbox orders of an MDP-active MALL account ship with nothing else.
Configure ``[carriers.<name>] type = "mall_delivery"``; see docs/plugins/carriers.md."""
from marketd.hookspecs import hookimpl

from .carrier import MallDeliveryCarrier, factory

__all__ = ["MallDeliveryCarrier"]


@hookimpl
def register_carriers(register):
    register("mall_delivery", factory)
