"""A content instance with an Amazon account on the fake SP-API (in-process, contract-checked):
content files dropped through the real engine, models fetched by the content-models job, listings
pushed, pulled and audited through the channel seam."""
from __future__ import annotations

import httpx
import pytest

import marketd.plugins.amazon as amazon_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.amazon.fake import SpApiFake
from marketd.plugins.amazon.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from tests.content.conftest import ContentWorld, table

CREDS = ("amzn1.application-oa2-client.test", "test-secret", "Atzr|refresh")
ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
DE = "A1PA6795UKMFR9"
SELLER = "A2FAKESELLER01"
MAPPING = '[categories."Koffer"]\namazon = "LUGGAGE"\n[categories."Topf"]\namazon = "KITCHEN"\n'


def sku_row(n: int, **over) -> dict:
    return {"sku": f"K{n:03d}", "brand": "ACME", "category": "Koffer", "ean": ean(4006381000000 + n),
            "title_de": f"Koffer Hartschale 55 cm Blau {n}", "bullet_1_de": "Leicht", "color": "Blau",
            "image_1": f"https://img.example/k{n}.jpg", "image_2": f"https://img.example/k{n}-b.jpg",
            "price": "129.90", "currency": "EUR", "stock": "5", **over}


def ean(base12: int) -> str:
    digits = f"{base12:013d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock, amazon_contract):
    f = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                  marketplace_id=DE, contract=amazon_contract)
    yield f
    assert f.violations == [] and f.response_violations == []


def make_world(tmp_path, fake, clock, monkeypatch, *, allow=None, seller_id=SELLER, **channel):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("amz", what), value)
    platforms = {"amazon_de": {"type": "amazon", "marketplace": "DE", "locales": ["de_DE"], "channel": "amz",
                               "gpsr": False, "main_image_rules": False}}
    inbox = {"images": {"download": False},
             "listings": {"allow": {"amazon_de": ["ACME"]} if allow is None else allow}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox=inbox, clock=clock,
                     extra_plugins={"amazon": amazon_plugin, "settlements": settlements_plugin},
                     channels={"amz": {"type": "amazon", "marketplace": "DE", "endpoint": ENDPOINT,
                                       "seller_id": seller_id, "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
                                       "transport": httpx.WSGITransport(app=fake), **channel}})
    w.write_model("mapping.toml", MAPPING)
    return w


def checked(w, rows) -> dict:
    """Drop ``rows``, fetch the models, and return the last run's issues per SKU."""
    w.drop(table(rows))
    assert run_job(w.app, "content-models") is None
    issues = w.read_csv(w.last_dir("ACME") / "issues.csv")
    out: dict = {}
    for i in issues:
        out.setdefault(i["sku"], []).append(i)
    return out


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    w = make_world(tmp_path, fake, clock, monkeypatch)
    yield w
    w.close()
