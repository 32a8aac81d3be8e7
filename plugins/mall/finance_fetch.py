"""The ``mall-finance`` job: MALL's self-billing invoices and offsets into ``inbox/settlements/``.

For every MALL account with ``invoices_fetch`` (default off) it lists ``/v1/invoices`` and
``/v1/offsets`` (the Financial API; camelCase; no date filter is documented, so every page is
listed and known documents are skipped), reads each new document **once** (``mall_finance_docs``
remembers them) and drops it into the settlements inbox atomically (``.<name>.tmp``, fsync,
rename; plus the ``.done`` marker in ``done_file`` mode), owner-only (0600: an invoice names the
partner's bank account). From there the settlements handler reads it with the ``mall-invoice``
/ ``mall-offset`` formats, exactly like a JSON document saved from MALL's portal, so an API
download and a dropped file take the same path (crash safety, duplicates, archive, error files).

Each file is ``{"marketd_source": "mall-financial-v1", "channel", "kind", "id", "fetched_at",
"envelope": <MALL's answer, byte for byte>}``: the amounts are never re-encoded (MALL writes
money as JSON floats; a float round trip could change a digit). Invoices are written before
offsets, oldest first, because an offset names the invoices it nets.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

from marketd.sdk import JobSpec, RateLimited, each_account, inbox_settings_for, write_atomic

from . import mapper
from .jobs import mall_accounts

log = logging.getLogger("marketd.mall")

JOB_NAME = "mall-finance"
INTERVAL = 6 * 3600       # MALL invoices every 14 days by default; offsets 2-3 days later
SOURCE = "mall-financial-v1"


def file_name(account: str, kind: str, number: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", account).strip("-").lower() or "mall"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", str(number)).strip("-") or "x"
    return f"mall-{slug}-{kind}-{safe}.json"


def wrap(account: str, kind: str, doc_id: str, fetched_at: str, envelope: bytes) -> bytes:
    """The inbox file: our few keys, then MALL's answer embedded unchanged."""
    head = json.dumps({"marketd_source": SOURCE, "channel": account, "kind": kind, "id": doc_id,
                       "fetched_at": fetched_at}, ensure_ascii=False)
    return head[:-1].encode() + b', "envelope": ' + envelope.lstrip(b"\xef\xbb\xbf \t\r\n") + b"}\n"


def _created(row: dict, channel) -> datetime | None:
    return mapper.parse_time(row.get("createdAt"), channel.tz)


def fetch_finance(app, channel) -> list[Path]:
    """Write the account's new invoices and offsets into the inbox; returns the files written."""
    db = app.store.db
    known = {(r["kind"], r["doc_id"]) for r in db.query(
        "select kind, doc_id from mall_finance_docs where channel = ?", [channel.name])}
    oldest = app.clock.now() - timedelta(days=channel.settings.finance_days)
    settings = inbox_settings_for(app, "settlements")
    folder = Path(app.inbox_dir) / "settlements"
    client = channel.client
    written: list[Path] = []
    try:
        for kind, listing, number_key, read in (
                ("invoice", client.iter_invoices, "invoiceNumber", client.invoice_document),
                ("offset", client.iter_offsets, "documentNumber", client.offset_document)):
            rows = [r for r in listing(channel.settings.page_size) if (kind, str(r.get("id"))) not in known]
            rows = [r for r in rows if (_created(r, channel) or oldest) >= oldest]
            for row in sorted(rows, key=lambda r: (_created(r, channel) or oldest, str(r.get("id")))):
                doc_id = str(row.get("id"))
                raw, data, msgs = read(doc_id)
                if raw is None:
                    log.warning("mall %s: %s %s not read: %s", channel.name, kind, doc_id,
                                "; ".join(m.text for m in msgs))
                    continue
                number = str((data or {}).get(number_key) or row.get(number_key) or doc_id)
                name = file_name(channel.name, kind, number)
                now = app.clock.now().isoformat()
                body = wrap(channel.name, kind, doc_id, now, raw)
                path = write_atomic(folder / name, body)
                if settings.get("mode") == "done_file":
                    (folder / (name + settings.get("done_suffix", ".done"))).touch(mode=0o600)
                with app.store.transaction() as tx:
                    tx["mall_finance_docs"].upsert({
                        "channel": channel.name, "kind": kind, "doc_id": doc_id, "number": number, "file_name": name,
                        "sha256": hashlib.sha256(body).hexdigest(), "fetched_at": now},
                        pk=("channel", "kind", "doc_id"))
                written.append(path)
                log.info("mall %s: %s %s -> inbox/settlements/%s", channel.name, kind, number, name)
    except RateLimited as exc:   # MALL's daily quota: the next run continues with what is left
        log.info("mall %s: %s; %d document(s) written this run", channel.name, exc, len(written))
    finally:
        channel.save_quota()
    return written


def fetch_all_finance(app, since) -> dict:
    return each_account(app, mall_accounts(app), lambda name, channel: len(fetch_finance(app, channel)), log=log,
                        what="mall invoice fetch", enabled=lambda channel: channel.settings.invoices_fetch,
                        off_note="invoices_fetch is off, MALL invoices and offsets are not downloaded")


def finance_jobs(register) -> None:
    register(JobSpec(JOB_NAME, fetch_all_finance, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="MALL self-billing invoices and offsets (Financial API) into inbox/settlements/"))
