"""Build the weekly package of a fixture brand for a person to look at (``make dashboard-check``):
``python -m tests.brands.dashboard_fixture OUTDIR`` prints the folder with dashboard.html/.pdf."""
from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path


def build(root: Path) -> Path:
    import marketd.plugins.brands as brands
    import marketd.plugins.catalog as catalog
    from marketd.app import App
    from marketd.clock import FakeClock
    from marketd.config import default_config
    from marketd.plugins.brands import jobs, weekly
    from marketd.plugins.brands.settings import brand_of

    cfg = default_config(root)
    cfg["brands"] = {"acme": {"name": "Acme GmbH", "sku_prefixes": ["ACM-"], "country": "DE", "subdivision": "NW",
                              "platforms": ["amazon-de", "ebay-de", "manomano-fr"]}}
    app = App(cfg, clock=FakeClock(datetime(2025, 3, 3, 7, 0, tzinfo=timezone.utc)), load_entry_points=False,
              extra_plugins={"brands": brands, "catalog": catalog})
    rnd = random.Random(13)
    start = datetime(2024, 12, 1, tzinfo=timezone.utc)
    for n in range(1500):
        at = start + timedelta(minutes=rnd.randrange(0, 90 * 24 * 60))
        p = rnd.choice(["amazon-de", "amazon-de", "ebay-de", "manomano-fr"])
        status = rnd.choices(["SHIPPED", "RETURNED", "CANCELLED"], [90, 6, 4])[0]
        app.store.upsert_order({"channel": p, "channel_type": p.split("-")[0], "order_id": f"O{n}", "status": status,
                                "purchased_at": at.isoformat(), "currency": "EUR",
                                "items": [{"sku": f"ACM-{rnd.randrange(40)}", "quantity": rnd.randint(1, 3),
                                           "unit_price": f"{rnd.randrange(900, 9900) / 100:.2f}"}]})
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": f"ACM-{i}", "title": f"Product {i}", "stock": rnd.randrange(0, 120)}
                                   for i in range(40)], pk="sku", alter=True)
        for i in range(40):
            for p in ("amazon-de", "ebay-de"):
                act = start + timedelta(days=rnd.randrange(0, 60))
                live = act + timedelta(days=rnd.randrange(5, 30)) if rnd.random() < 0.7 else None
                db.execute("insert into golive (sku, platform, brand, activated_at, live_at) values (?,?,?,?,?)",
                           [f"ACM-{i}", p, "acme", act.isoformat(), live and live.isoformat()])
    jobs.refresh_skus(app)
    weekly.run(app, "acme", brand_of(app, "acme"), "2025-W09", send=False)
    out = app.outbox_dir / "brands/acme/2025-W09"
    app.close()
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]).resolve()))
