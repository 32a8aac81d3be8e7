"""Built-in plugin: shipment request files in (``inbox/shipments/``), labels and manifests out
(``outbox/labels/``), the ERP's own tracking numbers in (``inbox/tracking/``), and the
``tracking-sync`` job that follows every open shipment at its carrier and confirms it once on
the order's channel. See docs/plugins/carriers.md."""
from marketd.sdk import JobSpec, hookimpl

from .cli import shipments_commands
from .handler import ShipmentsHandler
from .schema import MIGRATIONS
from .settings import TrackingSyncSettings
from .tracking import tracking_sync
from .tracking_inbox import TrackingHandler


@hookimpl
def register_migrations(register):
    register("shipments", MIGRATIONS)


@hookimpl
def register_inbox_handlers(register):
    register(ShipmentsHandler())
    register(TrackingHandler())


@hookimpl
def register_jobs(register):
    register(JobSpec("tracking-sync", tracking_sync, trigger="interval", seconds=300,
                     description="poll carriers for open shipments; confirm tracking on channels once",
                     settings_model=TrackingSyncSettings))


@hookimpl
def register_commands(cli):
    shipments_commands(cli)


@hookimpl
def buyer_data_purged(app, order):
    """The order's buyer data is purged: remove this plugin's copies (carrier-call ledger requests
    and label bytes, label files, print sheets, carriers' meta; ``privacy.py``)."""
    from .privacy import purge_shipments

    purge_shipments(app, order["key"])
