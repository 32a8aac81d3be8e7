"""The real daemon (``marketd run`` subprocess) pushes checked content to the fake SP-API over
loopback, and is killed (SIGKILL) right after ``createFeed`` before the feed id is recorded: the
restarted daemon finds that feed, polls it and records every SKU accepted — one feed, no SKU lost
or sent twice (issue 12 item 5, "crash-safe like the other pushes")."""
from __future__ import annotations

import json
import signal
import time

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.fake import SpApiFake
from marketd.plugins.amazon.fake_ptd import luggage_schema
from marketd.plugins.amazon.settings import env_name
from marketd.sdk.fakes import serve
from marketd.sdk.testing import crashpoint_env

from tests.conftest import wait_for, write_config
from tests.content.conftest import table
from tests.helpers import db_rows, table_exists

from .conftest import CREDS, DE, MAPPING, sku_row

pytestmark = pytest.mark.e2e


def _instance(root, url):
    models = root / "models"
    folder = models / "amazon" / "DE" / "LUGGAGE"
    folder.mkdir(parents=True)
    (models / "mapping.toml").write_text(MAPPING)
    (folder / "schema.json").write_text(json.dumps(luggage_schema()))
    (folder / "definition.json").write_text(json.dumps({"productType": "LUGGAGE", "marketplaceIds": [DE],
                                                        "productTypeVersion": {"version": "U1"},
                                                        "schema": {"checksum": "c1"}}))
    content = {"locales": ["de_DE"], "models_dir": str(models), "images": {"download": False},
               "platforms": {"amazon_de": {"type": "amazon", "marketplace": "DE", "locales": ["de_DE"],
                                           "channel": "amz", "gpsr": False, "main_image_rules": False}},
               "listings": {"allow": {"amazon_de": ["ACME"]}}}
    return write_config(root, inbox={"content": content},
                        channels={"amz": {"type": "amazon", "marketplace": "DE", "seller_id": "A2FAKESELLER01",
                                          "endpoint": url, "lwa_endpoint": url + "/auth/o2/token"}},
                        jobs={"listings-push": {"seconds": 1}, "content-models": {"enabled": False}})


def test_kill_9_after_create_feed_then_restart_polls_the_same_feed(tmp_path, daemon_factory, amazon_contract):
    fake = SpApiFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                     marketplace_id=DE, contract=amazon_contract)
    fake.feed_delays = (0.5, 0.5)
    env = {env_name("amz", k): v for k, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS)}
    with serve(fake) as served:
        root = tmp_path / "inst"
        config = _instance(root, served.url)
        d1 = daemon_factory(config, env={**env, **crashpoint_env("listings_after_create_feed")})
        inbox = root / "inbox" / "content"
        inbox.mkdir(parents=True, exist_ok=True)
        tmp = inbox.parent / "content.csv.part"
        tmp.write_text(table([sku_row(n) for n in range(1, 6)]), encoding="utf-8")
        tmp.rename(inbox / "content.csv")
        deadline = time.monotonic() + 120
        while d1.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d1.proc.returncode == -signal.SIGKILL, d1.output()[-3000:]
        d1.kill()
        assert fake.count("createFeed") == 1
        batch = db_rows(root, "select state, handle from listing_batches")
        assert len(batch) == 1 and batch[0][0] == "open"
        handle = json.loads(batch[0][1])
        assert handle.get("submitting_at") and "feed_id" not in handle

        d2 = daemon_factory(config, env=env)
        wait_for(lambda: table_exists(root, "listing_pushes") and db_rows(
            root, "select count(*) from listing_pushes where state = 'accepted'")[0][0] == 5,
            timeout=90, what="5 SKUs accepted after the restart")
        assert d2.stop() == 0
        assert fake.count("createFeed") == 1 and fake.count("createFeedDocument") == 1
        assert sorted(fake.listings) == [f"K{n:03d}" for n in range(1, 6)]
        assert db_rows(root, "select state from listing_batches") == [("done",)]
        log = d2.log_path.read_text(errors="replace")
        for secret in (CREDS[1], CREDS[2]):
            assert secret not in log
    assert fake.violations == [] and fake.response_violations == []
