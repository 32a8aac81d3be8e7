"""marketd-demo: a third-party marketd plugin, as docs/plugins/cookbook.md builds it.

A channel (DemoShop orders), a carrier (DemoPost labels and tracking), an inbox handler
(``inbox/stock/``), a report (``low-stock``), two jobs and a command, each with its settings
model; ``fake.py`` is the fake of both APIs, which ``marketd sandbox`` serves too
(``register_fakes``). Registered by the entry point
``[project.entry-points.marketd] demo = "marketd_demo"``; imports only ``marketd.sdk``.
"""
from __future__ import annotations

import click

from marketd.sdk import JobSpec, build_app, hookimpl

from .carrier import DemoPostCarrier
from .channel import DemoShopChannel
from .settings import LowStockJobSettings
from .stock import MIGRATIONS, StockHandler, low_stock


@hookimpl
def register_channels(register):
    register("demoshop", DemoShopChannel)


@hookimpl
def register_carriers(register):
    register("demopost", DemoPostCarrier)


@hookimpl
def register_fakes(register):
    from .fake import sandbox

    register(sandbox())


@hookimpl
def register_inbox_handlers(register):
    register(StockHandler())


@hookimpl
def register_migrations(register):
    register("demo", MIGRATIONS)


@hookimpl
def register_reports(register):
    register("low-stock", low_stock)


def sync_orders(app, since):
    """Every DemoShop account's orders changed since the last successful run."""
    for channel in app.channels.values():
        if channel.type == "demoshop":
            channel.sync_orders(since)


def low_stock_job(app, since):
    settings = app.config["jobs"].get("demo-low-stock")
    low_stock(app, str(settings.threshold if settings is not None and settings.threshold is not None else 5))


@hookimpl
def register_jobs(register):
    register(JobSpec("demo-orders", sync_orders, seconds=600, description="DemoShop orders into the store"))
    register(JobSpec("demo-low-stock", low_stock_job, trigger="cron", cron={"hour": 7},
                     description="the low-stock report", settings_model=LowStockJobSettings))


@hookimpl
def register_commands(cli):
    @cli.group("demo")
    def demo():
        """The demo plugin's commands."""

    @demo.command("stock")
    @click.pass_context
    def stock(ctx):
        """Stock counts from the last stock files."""
        app = build_app(ctx)
        for sku, warehouse, qty in app.store.db.execute("select sku, warehouse, qty from demo_stock order by sku"):
            click.echo(f"{sku:<12} {warehouse:<8} {qty}")
