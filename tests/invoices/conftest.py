"""An instance with the invoices plugin on a fake clock (the real store, engine and job runner)."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app, run_job

SELLER = {"name": "Bottega Srl", "address": ["Hauptstr. 1", "10115 Berlin", "DE"], "vat_id": "DE123456789",
          "country": "DE", "footer": ["HRB 12345 Berlin"]}


def invoice_config(**over) -> dict:
    cfg = {"seller": SELLER, "vat_rate": "19",
           "channels": {"amz": {}, "ebay-de": {"vat_rate": "19"}, "mall-cz": {"issuer": "marketplace"}}}
    cfg.update(over)
    return cfg


def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


class Env:
    def __init__(self, app):
        self.app = app

    @property
    def db(self):
        return self.app.store.db

    def order(self, order_id: str, *, channel: str = "amz", status: str = "SHIPPED", total: str | None = "23.80",
              items=None, **extra) -> str:
        items = items if items is not None else [
            {"sku": "MUG-1", "title": "Tasse blau", "quantity": 2, "unit_price": "5.95"},
            {"sku": "CUP-2", "title": "Becher", "quantity": 1, "unit_price": "11.90"}]
        self.app.store.upsert_order({"channel": channel, "channel_type": channel.split("-")[0], "order_id": order_id,
                                     "status": status, "purchased_at": "2026-11-20T10:00:00+00:00",
                                     "updated_at": "2026-11-20T10:00:00+00:00", "currency": "EUR", "total": total,
                                     "buyer_name": "Jana Nováková",
                                     "ship_to": {"name": "Jana Nováková", "street": "Dlouhá 5", "postal_code": "11000",
                                                 "city": "Praha", "country": "CZ"},
                                     "items": items, **extra})
        return f"{channel}:{order_id}"

    def run(self) -> None:
        assert run_job(self.app, "invoices") is None

    def docs(self, kind: str | None = None) -> list[dict]:
        sql = "select * from documents" + (" where kind = ?" if kind else "") + " order by id"
        return list(self.db.query(sql, [kind] if kind else []))


@pytest.fixture
def make_env(tmp_path):
    import marketd.plugins.invoices as invoices

    apps = []

    def make(plugins: dict | None = None, accounts: dict | None = None, **over):
        """``accounts``: the instance's [channels]; ``over``: keys of [jobs.invoices]."""
        clock = FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
        app = make_app(tmp_path / f"i{len(apps)}", {"invoices": invoices, **(plugins or {})}, clock=clock,
                       channels=accounts, jobs={"invoices": invoice_config(**over)})
        apps.append(app)
        return Env(app)

    yield make
    for a in apps:
        a.close()
