"""Getting alerts to a person: routing, storm control, webhook and e-mail with retries.

Routing (each run of ``health-alerts``): every new event (new / reopened / escalated alert) of a
severity in ``immediate`` becomes one delivery per configured channel; the rest wait for the
daily digest. When more than ``storm_threshold`` immediate events arrive within
``storm_window_seconds``, they are not sent one by one: one "alert storm" message goes out for
the window and the alerts wait for the digest.

Delivery: a delivery row is created with its body frozen and a ``delivery_id`` (uuid); a send is
tried when due, and committed as sent only after a 2xx (webhook) or an accepted message (SMTP).
A failure waits 1, 2, 4 … up to 30 minutes and is tried again until ``give_up_hours`` have
passed, then the delivery is ``dead`` (``marketd status`` shows it). Webhook receivers must
dedupe on ``X-Marketd-Delivery``: a crash between a successful send and its commit sends the
same delivery (same id, same body) again — at least once, never a new id for the same alert.

Webhook: JSON POST of the canonical body (sorted keys, no spaces, UTF-8) with
``X-Marketd-Timestamp`` and ``X-Marketd-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>``;
3xx are not followed. E-mail: a pending e-mail delivery is handed to the SDK's mail door
(``marketd.sdk.mail``, the ``[mail]`` server) in one transaction with its row becoming ``mailed``:
one message per ``mail_to`` address, ``Message-ID`` from the delivery id, sent again after a crash
mid-send (``on_crash = "resend"``: an operator would rather see an alert twice than never). The
door retries and gives up on its own; ``marketd status`` shows held mails. No buyer data is ever
in an alert.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import uuid
from datetime import datetime, timedelta

from marketd.sdk import ConfigError, crashpoint, mail

from .fetch import job_settings
from .settings import AlertsJobSettings

log = logging.getLogger("marketd.health")
JOB = "health-alerts"
MAX_BACKOFF = 30 * 60


def canonical(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sign(secret: str, ts: str, body: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()


def channels(app, s: AlertsJobSettings) -> list[str]:
    return (["webhook"] if s.webhook_url else []) + (["email"] if mail.configured(app) and s.mail_to else [])


def _alert_doc(db, event: dict) -> dict:
    a = next(db.query("select * from health_alerts where id = ?", [event["alert_id"]]))
    return {"id": a["id"], "severity": a["severity"], "title": a["title"], "source": a["source"],
            "account": a["account"], "marketplace": a["marketplace"], "brand": a["brand"], "sku": a["sku"],
            "asin": a["asin"], "first_seen": a["first_seen"], "occurrences": a["occurrences"], "what": event["what"]}


def _add(db, kind: str, body: dict, now: datetime, chans: list[str], event_id=None, digest_id=None) -> int:
    for ch in chans:
        did = str(uuid.uuid4())
        db["health_deliveries"].insert({
            "delivery_id": did, "kind": kind, "event_id": event_id, "digest_id": digest_id, "channel": ch,
            "body": canonical({**body, "delivery_id": did}), "state": "pending", "attempts": 0,
            "next_attempt_at": now.isoformat(), "created_at": now.isoformat(), "last_error": None, "sent_at": None})
    return len(chans)


def route(app, s: AlertsJobSettings) -> dict:
    now = app.clock.now()
    chans = channels(app, s)
    window_start = (now - timedelta(seconds=s.storm_window_seconds)).isoformat()
    out = {"routed": 0, "queued": 0, "storm": 0}
    if not app.store.db.execute("select 1 from health_events where routed = 0 limit 1").fetchone():
        return out  # nothing new: no write transaction every minute
    with app.store.transaction() as db:
        events = [dict(r) for r in db.query("select * from health_events where routed = 0 order by id")]
        if not events:
            return out
        immediate = [e for e in events if e["severity"] in s.immediate]
        recent = db.execute("select count(distinct event_id) from health_deliveries where kind = 'alert' and "
                            "created_at >= ?", [window_start]).fetchone()[0]
        storm = recent + len(immediate) > s.storm_threshold
        if storm and chans:
            told = db.execute("select count(*) from health_deliveries where kind = 'storm' and created_at >= ?",
                              [window_start]).fetchone()[0]
            if not told:
                body = {"type": "storm", "count": len(immediate) + recent, "since": window_start,
                        "text": f"alert storm: {len(immediate) + recent} new alerts within "
                                f"{s.storm_window_seconds // 60} minutes; they are in the next digest "
                                "(`marketd health` lists them now)"}
                out["storm"] = _add(db, "storm", body, now, chans)
        elif chans:
            for e in immediate:
                out["queued"] += _add(db, "alert", {"type": "alert", "alert": _alert_doc(db, e)}, now, chans,
                                      event_id=e["id"])
        ids = [e["id"] for e in events]
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            db.execute(f"update health_events set routed = 1 where id in ({','.join('?' * len(part))})", part)
        out["routed"] = len(ids)
    return out


# -- senders ------------------------------------------------------------------------------------------
class Sender:
    def __init__(self, app, s: AlertsJobSettings, transport=None):
        self.app, self.s, self.transport = app, s, transport
        self._http = None

    def webhook(self, d: dict) -> None:
        import httpx

        secret = self.app.secret(self.s.webhook_secret or "MARKETD_ALERTS_WEBHOOK_SECRET")
        if self._http is None:
            self._http = httpx.Client(timeout=self.s.webhook_timeout, follow_redirects=False,
                                      transport=self.transport)
        ts = str(int(self.app.clock.now().timestamp()))
        body = d["body"]
        resp = self._http.post(self.s.webhook_url, content=body.encode(), headers={
            "Content-Type": "application/json", "User-Agent": "marketd-alerts",
            "X-Marketd-Delivery": d["delivery_id"], "X-Marketd-Timestamp": ts,
            "X-Marketd-Signature": sign(secret, ts, body)})
        if not 200 <= resp.status_code < 300:
            raise OSError(f"webhook answered HTTP {resp.status_code}")

    def close(self):
        if self._http is not None:
            self._http.close()


def subject(doc: dict) -> str:
    if doc["type"] == "alert":
        a = doc["alert"]
        return f"[marketd] {a['severity'].upper()}: {a['title']}"[:200]
    if doc["type"] == "storm":
        return "[marketd] alert storm"
    return f"[marketd] health digest {doc.get('day', '')}"


def text_of(doc: dict) -> str:
    if doc["type"] == "alert":
        a = doc["alert"]
        return "\n".join([f"{a['severity'].upper()} ({a['what']}): {a['title']}",
                          f"account {a['account'] or '-'}, marketplace {a['marketplace'] or '-'}, brand {a['brand'] or '-'}"
                          + (f", SKU {a['sku']}" if a["sku"] else "") + (f", ASIN {a['asin']}" if a["asin"] else ""),
                          f"first seen {a['first_seen']}, alert #{a['id']} (`marketd health show {a['id']}`)"])
    return doc.get("text", "")


ORIGIN = "health"


def hand_to_mail(app, s: AlertsJobSettings) -> int:
    """Pending e-mail deliveries become mails in the door's queue (one per address), in the same
    transaction as their row turning ``mailed``: neither lost nor queued twice. Without an address
    they stay pending (``mail_to`` emptied by a config change must not drop them)."""
    if not s.mail_to:
        return 0
    rows = [dict(r) for r in app.store.db.query("select * from health_deliveries where channel = 'email' and "
                                                "state = 'pending' order by created_at, delivery_id")]
    for d in rows:
        doc = json.loads(d["body"])
        text = text_of(doc)
        with app.store.transaction() as db:
            for to in s.mail_to:
                key = f"health:{d['delivery_id']}:{mail.recipient_hash(to)}"
                msg = mail.compose(app, to=to, subject=subject(doc), text=text, key=key,
                                   html=f"<html><body><pre>{html.escape(text)}</pre></body></html>",
                                   headers={"X-Marketd-Delivery": d["delivery_id"]})
                msg.replace_header("Message-ID", f"<{d['delivery_id']}@marketd>")   # one alert, one id
                mail.enqueue(app, db, msg, key=key, origin=ORIGIN, kind=d["kind"], ref=d["delivery_id"],
                             on_crash="resend")
            db["health_deliveries"].update(d["delivery_id"], {"state": "mailed", "sent_at": None})
    return len(rows)


def send_due(app, s: AlertsJobSettings, transport=None) -> dict:
    now = app.clock.now()
    out = {"sent": 0, "failed": 0, "dead": 0}
    due = [dict(r) for r in app.store.db.query(
        "select * from health_deliveries where state = 'pending' and channel = 'webhook' and next_attempt_at <= ? "
        "order by created_at, delivery_id", [now.isoformat()])]
    sender = Sender(app, s, transport)
    try:
        for d in due:
            try:
                if not s.webhook_url:
                    raise ConfigError("webhook_url is no longer set")
                sender.webhook(d)
            except ConfigError:
                raise
            except Exception as exc:  # network, HTTP status, SMTP: all retried the same way
                attempts = d["attempts"] + 1
                created = datetime.fromisoformat(d["created_at"])
                dead = now - created >= timedelta(hours=s.give_up_hours)
                wait = min(MAX_BACKOFF, 60 * 2 ** (attempts - 1))
                with app.store.transaction() as db:
                    db["health_deliveries"].update(d["delivery_id"], {
                        "attempts": attempts, "state": "dead" if dead else "pending",
                        "next_attempt_at": (now + timedelta(seconds=wait)).isoformat(),
                        "last_error": f"{type(exc).__name__}: {exc}"[:300]})
                out["dead" if dead else "failed"] += 1
                log.warning("health: %s delivery %s failed (attempt %d%s): %s", d["channel"], d["delivery_id"],
                            attempts, ", giving up" if dead else "", exc)
                continue
            crashpoint("health_delivery_sent")
            with app.store.transaction() as db:
                db["health_deliveries"].update(d["delivery_id"], {"state": "sent", "sent_at": now.isoformat(),
                                                                 "attempts": d["attempts"] + 1, "last_error": None})
            out["sent"] += 1
    finally:
        sender.close()
    handed = hand_to_mail(app, s)
    # the door sends every plugin's due mail; its counts are reported apart from the webhook's
    out["mail"] = {"handed": handed, **mail.send_due(app)}
    return out


def deliver(app, transport=None) -> dict:
    s = job_settings(app, JOB, AlertsJobSettings)
    return {**route(app, s), **send_due(app, s, transport)}
