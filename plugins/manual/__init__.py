"""Built-in plugin: the ``manual`` carrier type, for tracking numbers the ERP supplies itself.

A shipment-file line whose carrier is a ``type = "manual"`` account and that carries
``tracking_number`` (and ``carrier_code``) makes no label: the number is recorded and the
tracking sync confirms it on the order's channel, once. marketd does not poll these carriers.

The other door for the ERP's tracking numbers, the ``tracking`` inbox, is part of the
``shipments`` plugin (it writes the shipments ledger); its ``[inbox.tracking] carrier`` names
the manual account used for its lines.
"""
from marketd.sdk import hookimpl

from .carrier import ManualCarrier

__all__ = ["ManualCarrier"]


@hookimpl
def register_carriers(register):
    register("manual", ManualCarrier)
