"""The real daemon (``marketd run`` subprocess) pushes 30 SKUs to the fake eBay over loopback in
bulk calls and is killed (SIGKILL) right after the first ``bulkCreateOffer`` answered, before the
new offer ids are saved. The restarted daemon looks the 30 SKUs it was creating up, finds the 25
eBay made, creates the other 5 and publishes all: 30 offers at eBay, every SKU accepted once."""
from __future__ import annotations

import json
import shutil
import signal
import time

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, EbayFake
from marketd.plugins.ebay.settings import env_name
from marketd.sdk.fakes import serve
from marketd.sdk.testing import crashpoint_env

from tests.conftest import wait_for, write_config
from tests.content.conftest import FIXTURES, table
from tests.helpers import db_rows, table_exists

from .test_ebay_push import CREDS, row

pytestmark = pytest.mark.e2e


def _instance(root, url):
    models = root / "models"
    folder = models / "ebay" / "EBAY_DE"
    (folder / "77").mkdir(parents=True)
    shutil.copy(FIXTURES / "ebay-11700.aspects.json", folder / "77" / "11700.aspects.json")
    (folder / "tree.json").write_text(json.dumps({"categoryTreeId": "77", "categoryTreeVersion": "129"}))
    (models / "mapping.toml").write_text('[categories."Koffer"]\nebay = "11700"\n[aspects.EBAY_DE]\nbrand = "Marke"\n'
                                         'color = "Farbe"\n')
    content = {"locales": ["de_DE"], "models_dir": str(models), "images": {"download": False},
               "platforms": {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"],
                                         "channel": "shop", "gpsr": False}},
               "listings": {"allow": {"ebay_de": ["*"]}}}
    return write_config(root, inbox={"content": content},
                        channels={"shop": {"type": "ebay", "marketplace": "EBAY_DE", "listings": True, "endpoint": url,
                                           "finances_endpoint": url, "merchant_location_key": "lager-1",
                                           "fulfillment_policy_id": "F1", "payment_policy_id": "P1",
                                           "return_policy_id": "R1"}},
                        jobs={"listings-push": {"seconds": 1}, "content-models": {"enabled": False}})


def test_kill_9_after_bulk_create_offer_then_restart_makes_no_second_offer(tmp_path, daemon_factory, ebay_contract):
    fake = EbayFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                    contract=ebay_contract, granted_scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES, SCOPE_INVENTORY),
                    marketplace="EBAY_DE")
    env = {env_name("shop", k): v for k, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS)}
    with serve(fake) as served:
        root = tmp_path / "inst"
        config = _instance(root, served.url)
        d1 = daemon_factory(config, env={**env, **crashpoint_env("listings_after_bulk_create_offer")})
        inbox = root / "inbox" / "content"
        inbox.mkdir(parents=True, exist_ok=True)
        part = inbox.parent / "content.csv.part"
        part.write_text(table([row(n) for n in range(1, 31)]), encoding="utf-8")
        part.rename(inbox / "content.csv")
        deadline = time.monotonic() + 120
        while d1.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d1.proc.returncode == -signal.SIGKILL, d1.output()[-3000:]
        d1.kill()
        assert fake.count("bulkCreateOffer") == 1 and len(fake.offers) == 25
        handle = json.loads(db_rows(root, "select handle from listing_batches")[0][0])
        assert len(handle["creating"]) == 30 and handle["offers"] == {}

        d2 = daemon_factory(config, env=env)
        wait_for(lambda: table_exists(root, "listing_pushes") and db_rows(
            root, "select count(*) from listing_pushes where state = 'accepted'")[0][0] == 30,
            timeout=90, what="30 SKUs accepted after the restart")
        assert d2.stop() == 0
        assert len(fake.offers) == 30 and sorted(o["sku"] for o in fake.offers.values()) == \
            [f"E{n:03d}" for n in range(1, 31)]
        assert all(o["status"] == "PUBLISHED" for o in fake.offers.values())
        assert fake.count("bulkCreateOffer") == 2 and fake.count("getOffers") == 30
        assert db_rows(root, "select state from listing_batches") == [("done",)]
        log = d2.log_path.read_text(errors="replace")
        for secret in (CREDS[1], CREDS[2]):
            assert secret not in log
    assert fake.violations == [] and fake.response_violations == []
