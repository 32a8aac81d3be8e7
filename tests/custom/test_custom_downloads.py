"""Amazon Custom end to end in-process: an order item with a personalisation link is noted when
the order is imported, the ``custom-downloads`` job fetches the archive through the real Amazon
channel from the fake SP-API's S3 host, unpacks it into ``outbox/custom/<order>/<item>/`` and
writes a production sheet the workshop can read; a malicious archive is refused and leaves
nothing; the link never reaches the log."""
from __future__ import annotations

import io
import json
import logging
from urllib.parse import urlencode

import pytest

from marketd.app import App
from marketd.config import default_config
from marketd.sdk.testing import run_job

from tests.amazon.spapi_fixtures import CHANNEL, clock, creds_env, fake, transport  # noqa: F401  (fixtures)

from . import archives


@pytest.fixture
def app(tmp_path, clock, transport, creds_env):  # noqa: F811
    import marketd.plugins.amazon as amazon_plugin
    import marketd.plugins.custom as custom_plugin
    import marketd.plugins.settlements as settlements_plugin

    cfg = default_config(tmp_path / "inst")
    cfg["channels"]["amz"] = {**CHANNEL, "transport": transport}
    cfg["jobs"] = {"custom-downloads": {"max_file_mb": 2, "max_total_mb": 4, "max_ratio": 100}}
    creds_env("amz")
    a = App(cfg, clock=clock, load_entry_points=False,
            extra_plugins={"amazon": amazon_plugin, "settlements": settlements_plugin, "custom": custom_plugin})
    yield a
    a.close()


def presigned(fake, data: bytes) -> str:  # noqa: F811
    """A link on the fake's S3 host, signed and valid 5 minutes, as Amazon hands them out."""
    doc_id = fake._add_document(data, compress=False)
    date = fake.clock.now().strftime("%Y%m%dT%H%M%SZ")
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": "300",
         "X-Amz-Signature": fake._sign(doc_id, date, "")}
    return f"https://amazon-custom.s3.example/__s3/{doc_id}?{urlencode(q)}"


def import_order(app, order_id: str, items: list[dict]) -> None:
    app.store.upsert_order({"channel": "amz", "channel_type": "amazon", "order_id": order_id, "status": "UNSHIPPED",
                            "purchased_at": "2026-11-29T10:00:00+00:00", "currency": "EUR", "total": "39.90",
                            "buyer_name": "Ilse Beispiel", "items": items})
    app.emit("order_imported", order=app.store.get_order(f"amz:{order_id}"))


def rows(app) -> dict:
    return {r["item_id"]: r for r in app.store.db.query("select * from custom_items")}


def test_a_personalised_item_is_downloaded_unpacked_and_gets_a_production_sheet(app, fake, caplog):  # noqa: F811
    from pypdf import PdfReader

    url = presigned(fake, archives.good_zip("302-7", "55501", text="Für Oma Ilse ♥"))
    import_order(app, "302-7", [{"order_item_id": "55501", "sku": "BOARD-1", "title": "Schneidebrett", "quantity": 1,
                                 "customized_url": url},
                                {"order_item_id": "55502", "sku": "PLAIN", "quantity": 1}])
    assert list(rows(app)) == ["55501"]  # only the personalised item
    with caplog.at_level(logging.DEBUG):
        assert run_job(app, "custom-downloads") is None
    row = rows(app)["55501"]
    assert row["state"] == "done", row["reason"]
    folder = app.outbox_dir / "custom" / "302-7" / "55501"
    assert sorted(p.name for p in folder.iterdir()) == ["55501.json", "design.svg", "photo.png", "production-sheet.pdf"]
    assert json.loads(row["files"]) == ["55501.json", "design.svg", "photo.png", "production-sheet.pdf"]
    text = PdfReader(io.BytesIO((folder / "production-sheet.pdf").read_bytes())).pages[0].extract_text()
    for needle in ("Personalised item 55501", "Order: 302-7", "SKU: BOARD-1", "Text: Für Oma Ilse ♥",
                   "Font: Dancing Script", "Colour: #B8860B", "Option: Walnut", "Image: photo.png"):
        assert needle in text, needle
    assert all((folder / n).stat().st_mode & 0o777 == 0o600 for n in ("55501.json", "production-sheet.pdf"))
    from marketd.logs import redact

    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    logged = redact(caplog.text)  # what the daemon's log filter lets through (httpx may log the raw link)
    assert signature not in logged and "X-Amz-Signature=***" in logged  # the download was logged, masked
    assert "Ilse" not in caplog.text
    s3 = [c for c in fake.calls if "__s3" in c.path]
    assert len(s3) == 1 and "x-amz-access-token" not in {k.lower() for k in s3[0].headers}
    assert run_job(app, "custom-downloads") is None
    assert len([c for c in fake.calls if "__s3" in c.path]) == 1  # done once


def test_a_malicious_archive_is_refused_and_leaves_nothing_behind(app, fake):  # noqa: F811
    import_order(app, "302-8", [{"order_item_id": "1", "sku": "A", "quantity": 1,
                                 "customized_url": presigned(fake, archives.traversal_zip())},
                                {"order_item_id": "2", "sku": "B", "quantity": 1,
                                 "customized_url": presigned(fake, archives.overlapped_zip())}])
    assert run_job(app, "custom-downloads") is None
    got = rows(app)
    assert (got["1"]["state"], got["2"]["state"]) == ("refused", "refused")
    assert got["1"]["reason"].startswith("path_traversal") and got["2"]["reason"].startswith("overlapping_entries")
    base = app.outbox_dir / "custom"
    assert not base.exists() or [p for p in base.rglob("*") if p.is_file()] == []
    assert run_job(app, "custom-downloads") is None
    assert len([c for c in fake.calls if "__s3" in c.path]) == 2  # refused archives are not fetched again


def test_an_expired_link_waits_for_a_fresh_one(app, fake, clock):  # noqa: F811
    url = presigned(fake, archives.good_zip("302-9", "9"))
    clock.advance(600)  # the presigned link is valid 5 minutes
    import_order(app, "302-9", [{"order_item_id": "9", "sku": "A", "quantity": 1, "customized_url": url}])
    assert run_job(app, "custom-downloads") is None
    row = rows(app)["9"]
    assert row["state"] == "failed" and "expired" in row["reason"]
    # the next order sync brings a fresh link: the download is tried again with it
    import_order(app, "302-9", [{"order_item_id": "9", "sku": "A", "quantity": 1,
                                 "customized_url": presigned(fake, archives.good_zip("302-9", "9"))}])
    assert run_job(app, "custom-downloads") is None
    assert rows(app)["9"]["state"] == "done"
