"""Built-in plugin: ManoMano (``[channels.<name>] type = "manomano"``, one account per contract).

Orders through the Partners API (``x-api-key``), acceptance of PENDING orders (by a person, or
automatically with ``accept = "auto"``), tracking back through ``/orders/v1/shippings`` once per
order, the fake Partners API ``marketd sandbox`` serves. See docs/plugins/manomano.md.
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
