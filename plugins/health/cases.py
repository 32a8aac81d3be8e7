"""Case log and product compliance requests: Amazon has no API for either, so they arrive as
files in ``inbox/health/``: a CSV/XLSX export (our documented columns, DE/EN names) or the
e-mails saved as ``.eml``.

Each case is tracked with its deadline until someone closes it (``marketd health close ID
--note …``: the note is required, it is the record of what was done). A new case raises a medium
alert; past its deadline it becomes high, and ``escalate_after_days`` later critical (the
``health-alerts`` job checks every minute). The same case seen again (a follow-up mail, a new
export) updates the one row. E-mail bodies are never logged and never stored whole: the case id,
ASINs, subject and deadline are taken from them.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, time, timedelta, timezone
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from marketd.sdk import FileRejected

from . import alerts
from .tables import DateOrder, parse_date, value

SOURCE = "case"
SYNONYMS = {
    "case_id": ("Case ID", "Fall-ID", "Fall ID", "Case", "Request ID", "Anfrage-ID"),
    "kind": ("Kind", "Type", "Art", "Typ"),
    "subject": ("Subject", "Betreff", "Title", "Titel"),
    "status": ("Status",),
    "opened_at": ("Opened", "Created", "Creation date", "Erstellt", "Erstellt am", "Datum"),
    "deadline": ("Deadline", "Due date", "Frist", "Fällig am"),
    "asin": ("ASIN",),
    "sku": ("SKU", "Händler-SKU"),
    "marketplace": ("Marketplace", "Marktplatz"),
}
CLOSED = {"closed", "resolved", "geschlossen", "erledigt", "gelöst", "answered", "beantwortet"}
COMPLIANCE = re.compile(r"complian|konformit|gpsr|produktsicherheit|product safety|dokument|document request|"
                        r"sicherheitsinformation|responsible person|verantwortliche person", re.I)
CASE_ID = re.compile(r"(?:Case ID|Fall-ID|Fall ID|ID del caso|ID caso|Num[ée]ro de (?:cas|dossier))\D{0,5}(\d{8,12})",
                     re.I)
ASIN = re.compile(r"\bB0[0-9A-Z]{8}\b")
MONTHS = {m: i for i, ms in enumerate([
    ("january", "januar", "jänner"), ("february", "februar"), ("march", "märz", "maerz"), ("april",),
    ("may", "mai"), ("june", "juni"), ("july", "juli"), ("august",), ("september",), ("october", "oktober"),
    ("november",), ("december", "dezember")], 1) for m in ms}
DE_DATE = re.compile(r"\bbis (?:zum |spätestens |spaetestens )?(\d{1,2})\.\s*([A-Za-zäÄ]+)\s+(\d{4})", re.I)
EN_DATE = re.compile(r"\bby ([A-Za-z]+) (\d{1,2}),? (\d{4})", re.I)
ISO_DATE = re.compile(r"\b(?:by|bis|deadline|frist)\D{0,12}(\d{4}-\d{2}-\d{2})\b", re.I)
WITHIN = re.compile(r"(?:innerhalb (?:von )?(\d+) Tagen|within (\d+) days)", re.I)


MAX_TEXT = 200_000  # an Amazon mail is a few kB; a bigger body is not searched past this
MAX_HEADER = 8_000


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _end_of(d: date) -> str:
    return datetime.combine(d, time(23, 59, 59), tzinfo=timezone.utc).isoformat()


def deadline_in(text: str, received: datetime) -> date | None:
    m = DE_DATE.search(text)
    if m and m.group(2).lower() in MONTHS:
        return date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
    m = EN_DATE.search(text)
    if m and m.group(1).lower() in MONTHS:
        return date(int(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2)))
    m = ISO_DATE.search(text)
    if m:
        return date.fromisoformat(m.group(1))
    m = WITHIN.search(text)
    if m:
        return (received + timedelta(days=int(m.group(1) or m.group(2)))).date()
    return None


def _upsert(db, rec: dict, now: str) -> str:
    """Insert or update one case; returns ``new``, ``updated`` or ``closed``."""
    old = db.execute("select status from health_cases where id = ?", [rec["id"]]).fetchone()
    if old and old[0] == "closed" and rec.get("status") != "closed":
        rec = {**rec, "status": "closed"}  # closed by a person: a late copy of the mail does not reopen it
    row = {**rec, "updated_at": now}
    if old:
        keep = {k: v for k, v in row.items() if v not in (None, "")}
        db["health_cases"].update(rec["id"], keep)
    else:
        db["health_cases"].insert(row)
    key = alerts.key_of(SOURCE, rec["id"])
    if row.get("status") == "closed":
        alerts.resolve(db, key, now)
        return "closed"
    if not old:
        alerts.raise_alert(db, key=key, severity="medium", source=SOURCE, account=rec.get("account", ""),
                           asin=rec.get("asin", ""), sku=rec.get("sku", ""), marketplace=rec.get("marketplace", ""),
                           now=now, title=f"{rec['kind'].replace('_', ' ')} {rec['id']}: {rec['subject'][:80]} "
                                          f"(deadline {(rec['deadline'] or '')[:10]}"
                                          f"{', assumed' if rec.get('deadline_assumed') else ''})",
                           detail={"deadline": rec["deadline"]})
    return "updated" if old else "new"


def ingest(ctx, table, cols: dict, account: str) -> dict:
    order = DateOrder()
    for c in ("opened_at", "deadline"):
        if c in cols:
            order.learn(v for vals in table.column_values(table.columns.index(cols[c])) for v in vals)
    order.finish()
    now = ctx.app.clock.now()
    default_days = ctx.settings["default_deadline_days"]
    counts: dict[str, int] = {}
    for line, row in table.rows():
        get = {k: value(row.get(c)) for k, c in cols.items()}
        cid = get.get("case_id")
        if not cid:
            continue
        opened = parse_date(get.get("opened_at"), order)
        deadline = parse_date(get.get("deadline"), order)
        assumed = deadline is None
        if assumed:
            deadline = (opened or now.date()) + timedelta(days=default_days)
        kind = get.get("kind", "").lower().replace(" ", "_")
        if kind not in ("case", "compliance_request", "notification"):
            kind = "compliance_request" if COMPLIANCE.search(get.get("subject", "") + " " + get.get("kind", "")) \
                else "case"
        rec = {"id": cid, "account": account, "kind": kind, "case_id": cid, "subject": get.get("subject", ""),
               "asin": get.get("asin", ""), "sku": get.get("sku", ""), "marketplace": get.get("marketplace", ""),
               "opened_at": opened.isoformat() if opened else "", "deadline": _end_of(deadline),
               "deadline_assumed": int(assumed),
               "status": "closed" if get.get("status", "").lower() in CLOSED else "open",
               "closed_at": now.isoformat() if get.get("status", "").lower() in CLOSED else None,
               "note": "closed in the export" if get.get("status", "").lower() in CLOSED else None,
               "source": ctx.name}
        what = _upsert(ctx.db, rec, now.isoformat())
        counts[what] = counts.get(what, 0) + 1
    return {"cases": counts}


def ingest_eml(ctx, account: str) -> dict:
    try:
        msg = BytesParser(policy=policy.default).parsebytes(ctx.path.read_bytes())
    except Exception as exc:  # the stdlib raises many kinds for broken mail
        raise FileRejected("eml", f"the e-mail cannot be read ({type(exc).__name__})", where="the mail as a whole",
                           fix="save the mail as .eml again")
    for name, raw in msg.raw_items():  # unparsed: the stdlib's address parser is quadratic in length
        if len(raw) > MAX_HEADER:
            raise FileRejected("eml", f"the {name} header is {len(raw):,} characters long (a mail from Amazon has "
                               "short headers)", where=f"header {name}", fix="save the original mail as .eml")
    subject = str(msg.get("Subject") or "").strip()
    sender = str(msg.get("From") or "")
    if not subject and not msg.get("Date"):
        raise FileRejected("eml", "the file has no mail headers (Subject, Date)", where="the header block",
                           fix="save the mail as .eml (RFC 822)")
    try:
        received = parsedate_to_datetime(str(msg.get("Date"))) if msg.get("Date") else ctx.app.clock.now()
        if received.tzinfo is None:
            received = received.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        received = ctx.app.clock.now()
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = body.get_content() if isinstance(body.get_content(), str) else ""
        if body.get_content_type() == "text/html":
            p = _Text()
            p.feed(text)
            text = " ".join(p.parts)
    full = f"{subject}\n{text[:MAX_TEXT]}"
    m = CASE_ID.search(full)
    mid = str(msg.get("Message-ID") or "") or hashlib.sha256(ctx.path.read_bytes()).hexdigest()
    cid = m.group(1) if m else "M" + hashlib.sha256(mid.encode()).hexdigest()[:10]
    deadline = deadline_in(full, received)
    assumed = deadline is None
    if assumed:
        deadline = (received + timedelta(days=ctx.settings["default_deadline_days"])).date()
    domain = parseaddr(sender)[1].rpartition("@")[2].lower()
    from_amazon = domain.startswith("amazon.") or ".amazon." in f".{domain}"  # amazon.de, marketplace.amazon.co.uk
    kind = ("compliance_request" if COMPLIANCE.search(full) else "case") if from_amazon else "case"
    asins = sorted(set(ASIN.findall(full)))
    rec = {"id": cid, "account": account, "kind": kind, "case_id": cid if m else "", "subject": subject[:200],
           "asin": ",".join(asins[:10]), "sku": "", "marketplace": "", "opened_at": received.isoformat(),
           "deadline": _end_of(deadline), "deadline_assumed": int(assumed), "status": "open", "closed_at": None,
           "note": None, "source": ctx.name}
    what = _upsert(ctx.db, rec, ctx.app.clock.now().isoformat())
    return {"kind": kind, "case": cid, "deadline": deadline.isoformat(), "deadline_assumed": assumed,
            "from_amazon": from_amazon, "result": what}


def close_case(app, item: str, note: str) -> bool:
    now = app.clock.now().isoformat()
    with app.store.transaction() as db:
        n = db.execute("update health_cases set status = 'closed', closed_at = ?, note = ?, updated_at = ? "
                       "where id = ? and status = 'open'", [now, note, now, item]).rowcount
        if n:
            alerts.resolve(db, alerts.key_of(SOURCE, item), now)
    return bool(n)


def escalate(app) -> dict:
    """Open cases past their deadline: high; ``escalate_after_days`` past it: critical."""
    from marketd.sdk import inbox_settings_for

    days = inbox_settings_for(app, "health")["escalate_after_days"]
    now = app.clock.now()
    out = {"high": 0, "critical": 0}
    if not app.store.db.execute("select 1 from health_cases where status = 'open' and deadline < ? limit 1",
                                [now.isoformat()]).fetchone():
        return out  # the usual minute: no write transaction at all
    with app.store.transaction() as db:
        for c in list(db.query("select * from health_cases where status = 'open' and deadline < ?", [now.isoformat()])):
            late = now - datetime.fromisoformat(c["deadline"])
            sev = "critical" if late >= timedelta(days=days) else "high"
            cur = db.execute("select severity from health_alerts where key = ? and state != 'resolved'",
                             [alerts.key_of(SOURCE, c["id"])]).fetchone()
            if cur and cur[0] == sev:
                continue  # checked every minute: said once per level, not counted every minute
            what = alerts.raise_alert(db, key=alerts.key_of(SOURCE, c["id"]), severity=sev, source=SOURCE,
                                      account=c["account"] or "", asin=c["asin"] or "", sku=c["sku"] or "",
                                      now=now.isoformat(),
                                      title=f"OVERDUE {c['kind'].replace('_', ' ')} {c['id']}: {c['subject'][:80]} "
                                            f"(deadline {c['deadline'][:10]})", detail={"deadline": c["deadline"]})
            if what in ("new", "escalated", "reopened"):
                out[sev] += 1
    return out
