"""eBay payouts from the Finances API, written as files into ``inbox/settlements/``.

Why files: a payout fetched from the API then takes exactly the path of a report a person
drops — crash safety, duplicates, archive, error files and the 0600 rule all come from the
inbox (design D2). Each payout is fetched once (``ebay_payouts_fetched``):

1. ``getPayouts`` for ``payoutDate`` from the last payout seen minus 3 days (first run:
   ``payouts_backfill_days`` back) to now, once for ``SUCCEEDED`` and once for ``REVERSED``
   (the filter takes one status at a time);
2. for each new payout, ``getTransactions`` with ``payoutId:{…}`` (eBay ignores ``limit``
   with that filter; ``next`` is followed if it comes);
3. ``ebay-<account>-payout-<payoutId>.json`` = ``{"marketd_source": "ebay-finances-v1",
   "account", "marketplace", "fetched_at", "payout": <Payout>, "transactions": [...]}`` exactly
   as eBay sent them, written to a hidden temp file with mode 0600 (buyer user names) and renamed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

from marketd.sdk import inbox_settings_for, write_atomic

from . import mapper

log = logging.getLogger("marketd.ebay")

SOURCE = "ebay-finances-v1"
STATUSES = ("SUCCEEDED", "REVERSED")
LOOKBACK = timedelta(days=3)


def file_name(account: str, payout_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", account).strip("-").lower() or "ebay"
    pid = re.sub(r"[^A-Za-z0-9_-]+", "-", str(payout_id))
    return f"ebay-{slug}-payout-{pid}.json"


def payout_document(channel, payout: dict, transactions: list[dict], fetched_at: datetime) -> dict:
    return {"marketd_source": SOURCE, "account": channel.name, "marketplace": channel.marketplace,
            "fetched_at": mapper.ebay_time(fetched_at), "payout": payout, "transactions": transactions}


def fetch_payouts(app, channel) -> list[Path]:
    """Write the account's new payouts into the settlements inbox; returns the files written."""
    now = app.clock.now()
    db = app.store.db
    fetched = {r["payout_id"]: r for r in db.query("select * from ebay_payouts_fetched where channel = ?",
                                                   [channel.name])}
    newest = max((mapper.parse_time(r["payout_date"]) for r in fetched.values() if r["payout_date"]), default=None)
    start = (newest - LOOKBACK) if newest else now - timedelta(days=channel.settings.payouts_backfill_days)
    window = mapper.date_range("payoutDate", start, now)
    payouts = []
    for status in STATUSES:
        flt = f"{window},{mapper.value_set('payoutStatus', [status])}"
        payouts += [p for p in channel.api.payouts(flt) if p.get("payoutId") and p["payoutId"] not in fetched]
    settings = inbox_settings_for(app, "settlements")
    folder = Path(app.inbox_dir) / "settlements"
    written = []
    for payout in sorted({p["payoutId"]: p for p in payouts}.values(), key=lambda p: p.get("payoutDate") or ""):
        pid = payout["payoutId"]
        transactions = list(channel.api.transactions(mapper.value_set("payoutId", [pid])))
        count = payout.get("transactionCount")
        if isinstance(count, int) and count != len(transactions):
            log.warning("ebay %s: payout %s states %d transaction(s), getTransactions gave %d; written as is, the "
                        "payout check will show it", channel.name, pid, count, len(transactions))
        doc = payout_document(channel, payout, transactions, app.clock.now())
        data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        name = file_name(channel.name, pid)
        path = write_atomic(folder / name, data)
        if settings.get("mode") == "done_file":
            (folder / (name + settings.get("done_suffix", ".done"))).touch()
        with app.store.transaction() as tx:
            tx["ebay_payouts_fetched"].upsert({
                "channel": channel.name, "payout_id": pid, "payout_date": payout.get("payoutDate"),
                "payout_status": payout.get("payoutStatus"), "transactions": len(transactions), "file_name": name,
                "sha256": hashlib.sha256(data).hexdigest(), "fetched_at": app.clock.now().isoformat()},
                pk=("channel", "payout_id"))
        written.append(path)
        log.info("ebay %s: payout %s (%s, %d transaction(s)) -> inbox/settlements/%s", channel.name, pid,
                 payout.get("payoutStatus"), len(transactions), name)
    return written
