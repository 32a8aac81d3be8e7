"""Built-in plugin: ManoMano (``[channels.<name>] type = "manomano"``, one account per contract).

Orders through the Partners API (``x-api-key``), acceptance of PENDING orders (by a person, or
automatically with ``accept = "auto"``), tracking back through ``/orders/v1/shippings`` once per
order, the fake Partners API ``marketd sandbox`` serves; ManoMano's accounting CSVs (it has no
settlement API) as payout formats of the ``settlements`` plugin, and a ``marketd status``
section for what waits (PENDING orders, an overdue payout file). See docs/plugins/manomano.md.
"""
from __future__ import annotations

from marketd.sdk import hookimpl


@hookimpl
def register_channels(register):
    from .channel import ManoManoChannel

    register("manomano", ManoManoChannel)


@hookimpl
def register_jobs(register):
    from .orders import order_jobs

    order_jobs(register)


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_commands(cli):
    from .cli import commands

    commands(cli)


@hookimpl
def register_fakes(register):
    from .fake import sandbox

    register(sandbox())


@hookimpl
def register_settlement_formats(register):
    from .formats import settlement_formats

    settlement_formats(register)


@hookimpl
def status_sections(app):
    from .status import status_lines

    return status_lines(app)
