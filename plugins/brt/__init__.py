"""Built-in plugin: the BRT (Bartolini) carrier: shipments with PDF/ZPL labels, confirm, delete,
tracking by parcel ID. Configure ``[carriers.<name>] type = "brt"``; see docs/plugins/carriers.md."""
from marketd.sdk import hookimpl

from .carrier import BrtCarrier

__all__ = ["BrtCarrier"]


@hookimpl
def register_carriers(register):
    register("brt", BrtCarrier)


@hookimpl
def register_fakes(register):
    from .fake import sandbox

    register(sandbox())
