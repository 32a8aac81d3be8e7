"""Built-in plugin: tracking numbers the ERP supplies itself.

Two doors, one result (a shipment the tracking sync confirms on the order's channel, once):

- the ``tracking`` inbox: a CSV with ``order``, ``carrier`` (the carrier's code, e.g. DHL),
  ``tracking_number`` and optional ``service``, ``ship_date``, ``status``, ``tracking_url``,
  ``channel`` (see config/examples/tracking.csv);
- a shipment file line whose carrier is a ``type = "manual"`` account and that carries
  ``tracking_number`` (and ``carrier_code``): no label is made, the number is recorded.

marketd does not poll these carriers; a later tracking line with ``status = delivered`` (or
``returned``) records that. Needs the ``shipments`` plugin (its tables and tracking sync).
"""
from marketd.hookspecs import hookimpl

from .carrier import ManualCarrier, factory
from .handler import TrackingHandler

__all__ = ["ManualCarrier", "TrackingHandler"]


@hookimpl
def register_carriers(register):
    register("manual", factory)


@hookimpl
def register_inbox_handlers(register):
    register(TrackingHandler())
