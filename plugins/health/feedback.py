"""Seller feedback (``GET_SELLER_FEEDBACK_DATA``, tab-separated; or the Feedback Manager export).

Buyers often put product complaints into seller ratings, so a negative rating (1–2 stars) whose
comment names the product, the packaging or the shipping is classified and alerted (medium), and
a SKU with more than ``returns.negative_threshold`` negative ratings in the window gets one alert
of its own. The rater's e-mail address is never stored: dropped, or kept as a salted-free
SHA-256 of the lower-cased address when ``feedback_pii = "hash"`` (to count repeat raters).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from marketd.sdk import csv_text

from . import alerts
from .tables import DateOrder, parse_date, value

SOURCE = "feedback"
SYNONYMS = {
    "date": ("Date", "Datum", "Feedback date"),
    "rating": ("Rating", "Bewertung"),
    "comments": ("Comments", "Comment", "Kommentare", "Kommentar"),
    "response": ("Your Response", "Response", "Ihre Antwort", "Antwort"),
    "order_id": ("Order ID", "Bestellnummer", "Order-ID"),
    "rater_email": ("Rater Email", "Rater E-mail", "E-Mail des Bewerters"),
}
TOPICS = {
    "packaging": re.compile(r"packag|box\b|wrapp|verpack|karton|beschädigt angekommen|dented", re.I),
    "shipping": re.compile(r"late|deliver|shipping|shipped|arriv|courier|lieferung|geliefert|versand|verspät|"
                           r"zu spät|zustell|paket", re.I),
    "product": re.compile(r"broken|defect|faulty|quality|not as described|wrong (item|size|colou?r)|stopped working|"
                          r"cheap|kaputt|defekt|qualität|nicht wie beschrieben|falsche?|funktioniert nicht|mangel",
                          re.I),
}
CSV_HEADER = ["date", "rating", "order_id", "sku", "topic", "comments"]


def classify(comment: str) -> str:
    found = [t for t, rx in TOPICS.items() if rx.search(comment or "")]
    for t in ("product", "packaging", "shipping"):
        if t in found:
            return t
    return "other"


def _sku_of_order(db, account: str, order_id: str) -> str:
    r = db.execute("select json_extract(items, '$[0].sku') from orders where order_id = ? and (channel = ? or ? = '')",
                   [order_id, account, account]).fetchone() if db["orders"].exists() else None
    return (r[0] or "") if r else ""


def ingest(ctx, table, cols: dict, account: str) -> dict:
    settings = ctx.settings
    order = DateOrder()
    order.learn(v for vals in table.column_values(table.columns.index(cols["date"])) for v in vals)
    order.finish()
    db = ctx.db
    now = ctx.app.clock.now()
    hashing = settings.get("feedback_pii") == "hash"
    n, bad_dates, negative = 0, 0, []
    pii = cols.get("rater_email")
    for line, row in table.rows():
        oid = value(row.get(cols.get("order_id", ""), "")) if "order_id" in cols else ""
        d = parse_date(row.get(cols["date"]), order)
        if d is None:
            bad_dates += 1
        try:
            rating = int(float(value(row.get(cols["rating"])) or "0"))
        except ValueError:
            rating = 0
        comment = value(row.get(cols["comments"]))
        email = value(row.get(pii)) if pii else ""
        rater = hashlib.sha256(email.lower().encode()).hexdigest() if (hashing and email) else ""
        extra = {k: v for k, v in row.items() if k not in cols.values() and value(v)}
        sku = _sku_of_order(db, account, oid) if oid else ""
        topic = classify(comment) if 1 <= rating <= 2 else ""
        n += 1
        db["health_feedback"].upsert({
            "account": account, "order_id": oid or f"line{line}", "date": d.isoformat() if d else "",
            "rating": rating, "comments": comment, "response": value(row.get(cols.get("response", ""), "")),
            "rater_hash": rater, "topic": topic, "sku": sku, "raw": json.dumps(extra, sort_keys=True, ensure_ascii=False),
            "source": ctx.name}, pk=("account", "order_id"))
        if topic in ("product", "packaging", "shipping"):
            negative.append([d.isoformat() if d else "", rating, oid, sku, topic, comment])
            alerts.raise_alert(db, key=alerts.key_of(SOURCE, account, oid or f"line{line}"), severity="medium",
                               source=SOURCE, account=account, sku=sku, now=now.isoformat(),
                               title=f"{rating}-star feedback about the {topic} (order {oid})",
                               detail={"topic": topic, "comment": comment[:300], "date": d.isoformat() if d else ""})
    window = (now - timedelta(days=settings["returns"].window_days)).date().isoformat()
    limit = settings["returns"].negative_threshold
    for r in list(db.query("select sku, count(*) n from health_feedback where account = ? and rating between 1 and 2 "
                           "and sku != '' and date >= ? group by sku having count(*) > ?", [account, window, limit])):
        alerts.raise_alert(db, key=alerts.key_of(SOURCE, account, "sku", r["sku"]), severity="medium", source=SOURCE,
                           account=account, sku=r["sku"], now=now.isoformat(),
                           title=f"{r['n']} negative ratings for {r['sku']} in {settings['returns'].window_days} days",
                           detail={"count": r["n"], "threshold": limit})
    # buyers write these comments (names, addresses turn up in them): the owner only, like other buyer data
    ctx.output(f"health/{account or '_'}/feedback-negative-{ctx.stamp}.csv", csv_text(CSV_HEADER, negative), private=True)
    return {"ratings": n, "negative_classified": len(negative), "date_order": order.order,
            "date_order_assumed": order.assumed, "unreadable_dates": bad_dates, "rater_email": "hashed" if hashing else "dropped"}
