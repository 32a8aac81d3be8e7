"""The SP-API side of the Amazon plugin as plain functions; ``__init__`` hooks delegate here."""
from __future__ import annotations


def spapi_channels(register) -> None:
    from .channel import AmazonChannel

    register("amazon", AmazonChannel)


def spapi_jobs(register) -> None:
    from .orders import order_jobs
    from .reports_fetch import report_jobs

    order_jobs(register)
    report_jobs(register)


def spapi_migrations(register) -> None:
    from .spapi_schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


def spapi_fakes(register) -> None:
    from .fake import sandbox

    register(sandbox())
