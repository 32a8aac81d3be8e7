"""The one mail door: every plugin's e-mail goes through one SMTP setting and one durable outbox.

Why one door: a seller configures one mail server (``[mail]``), and the rules a mail must keep
(never lost, never sent twice by itself, the address never in a log) are kept once.

Queue (``enqueue``, inside the caller's transaction): the message is written as ``.eml`` (0600,
it holds the address) and fsynced before its ``mail_queue`` row commits with the caller's own
change, so a report and its mail, or an alert and its mail, exist together or not at all. The
row keeps a hash of the recipient, never the address. ``idem_key`` makes a second enqueue of
the same mail a no-op.

Send (``send_due``, called by the jobs that queue mail): a row is claimed (``sending``, with
this process as owner) and committed before the SMTP exchange; after ``250`` for DATA it is
``sent`` and the ``.eml`` is deleted. A process killed between the two leaves ``sending``
behind; SMTP cannot be asked whether the message arrived, so the row's ``on_crash`` decides:
``hold`` makes it ``uncertain`` for a person (``release``), ``resend`` queues it again with the
same ``Message-ID`` (for alerts an operator would rather see twice than never). Connection
errors and 4xx replies are retried with backoff until ``max_age_hours`` (then ``gave_up``);
a 5xx is ``rejected``. Credentials are sent only over TLS: STARTTLS (587) or SMTPS (implicit
TLS, 465); ``security = "none"`` is refused for a server that is not on loopback.
"""
from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .errors import ConfigError
from .owners import CLAIM_OWNER, owner_alive
from .settings import SecretRef, Settings

log = logging.getLogger("marketd.mail")
COMPONENT = "mail"
BACKOFF = (60, 300, 900, 3600, 10800, 21600)
DEFAULT_PORTS = {"starttls": 587, "smtps": 465, "none": 25}
LOOPBACK = ("", "127.0.0.1", "localhost", "::1")
HELD = ("uncertain", "gave_up", "rejected")
_SEND_LOCK = threading.Lock()


class MailSettings(Settings):
    """``[mail]``: the SMTP server every plugin's mail goes through (docs/operations.md#mail)."""

    host: str = ""
    port: int | None = Field(None, ge=1, le=65535)   # default by security: 587, 465 (smtps), 25 (none)
    security: Literal["starttls", "smtps", "none"] = "starttls"
    username: str | None = None
    password_secret: SecretRef = SecretRef("MARKETD_SMTP_PASSWORD")  # read only when username is set
    sender: str = "marketd@localhost"
    timeout: float = Field(30.0, gt=0)
    max_age_hours: float = Field(72.0, gt=0)     # retried this long, then gave_up
    ca_file: str | None = None                   # trust only this CA (PEM), e.g. an internal relay's

    @field_validator("security", mode="before")
    @classmethod
    def _security(cls, value):
        if value in ("tls", "ssl"):
            raise ValueError(f"write security = \"smtps\" for implicit TLS (port 465), not {value!r}")
        return value

    @model_validator(mode="after")
    def _no_clear_text(self):
        if self.security == "none" and self.host not in LOOPBACK:
            raise ValueError(f"security = \"none\" is allowed only for a server on loopback, not {self.host!r}")
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def settings(app) -> MailSettings:
    got = app.config.get("mail") or {}
    return got if isinstance(got, MailSettings) else MailSettings.model_validate(dict(got))


def configured(app) -> bool:
    """A mail server is set: plugins that mail only as one channel among others check this."""
    return bool(settings(app).host)


def _v1(db) -> None:
    # An instance that ran the brands plugin before this door existed has its queue already:
    # it is kept (queued mails are not lost), and gains the columns every sender needs.
    db.execute("CREATE TABLE IF NOT EXISTS mail_queue (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, "
               "origin TEXT NOT NULL DEFAULT '', kind TEXT, ref TEXT, recipient_hash TEXT NOT NULL, "
               "eml_path TEXT NOT NULL, message_id TEXT NOT NULL, state TEXT NOT NULL, "
               "on_crash TEXT NOT NULL DEFAULT 'hold', attempts INTEGER NOT NULL DEFAULT 0, "
               "next_attempt_at TEXT NOT NULL, claimed_at TEXT, owner TEXT, sent_at TEXT, smtp_reply TEXT, "
               "last_error TEXT, created_at TEXT NOT NULL)")
    cols = {r[1] for r in db.execute("PRAGMA table_info(mail_queue)")}
    for name, decl in (("origin", "TEXT NOT NULL DEFAULT ''"), ("ref", "TEXT"),
                       ("on_crash", "TEXT NOT NULL DEFAULT 'hold'")):
        if name not in cols:
            db.execute(f"ALTER TABLE mail_queue ADD COLUMN {name} {decl}")
    if "brand" in cols:   # the brands plugin's own queue of before
        db.execute("update mail_queue set origin = 'brands', ref = trim(coalesce(brand, '') || ' ' || "
                   "coalesce(period, '')) where origin = ''")
    db.execute("CREATE INDEX IF NOT EXISTS idx_mail_queue_state ON mail_queue (state, next_attempt_at)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_mail_queue_origin ON mail_queue (origin, state)")


MIGRATIONS = [(1, _v1)]


def recipient_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def message_id(key: str) -> str:
    """The same id on every try of one mail: a receiving system that saw it once can drop a copy."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@marketd>"


def compose(app, *, to: str, subject: str, text: str, html: str | None = None, key: str,
            attachments=(), inline: dict | None = None, headers: dict | None = None) -> EmailMessage:
    """A text (+ HTML) message from ``[mail] sender``; ``inline`` maps content id -> PNG shown in
    the HTML; ``attachments`` are ``(name, bytes, mime)``."""
    msg = EmailMessage()
    msg["From"] = settings(app).sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(app.clock.now())
    msg["Message-ID"] = message_id(key)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        for cid, png in (inline or {}).items():
            msg.get_payload()[1].add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def enqueue(app, db, msg: EmailMessage, *, key: str, origin: str, kind: str = "", ref: str = "",
            on_crash: Literal["hold", "resend"] = "hold") -> bool:
    """Queue ``msg`` (one recipient in ``To``) in the caller's transaction ``db``; False when
    ``key`` was queued before (nothing is added)."""
    if on_crash not in ("hold", "resend"):
        raise ValueError(f"on_crash must be 'hold' or 'resend', not {on_crash!r}")
    if db.execute("select 1 from mail_queue where idem_key = ?", [key]).fetchone():
        return False
    to = msg["To"]
    if not to or "," in to:
        raise ValueError("a queued mail has exactly one recipient in To (one row, one outcome)")
    folder = app.state_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.eml"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))  # SMTP DATA lines end in CRLF
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    now = app.clock.now().isoformat()
    db.execute("insert into mail_queue (idem_key, origin, kind, ref, recipient_hash, eml_path, message_id, state, "
               "on_crash, attempts, next_attempt_at, created_at) values (?,?,?,?,?,?,?,?,?,0,?,?)",
               [key, origin, kind, ref, recipient_hash(to), str(path), msg["Message-ID"] or message_id(key), "queued",
                on_crash, now, now])
    return True


def _connect(s: MailSettings) -> smtplib.SMTP:
    ctx = ssl.create_default_context(cafile=s.ca_file)   # the server's certificate is always verified
    if s.security == "smtps":
        return smtplib.SMTP_SSL(s.host, s.smtp_port, timeout=s.timeout, context=ctx)
    conn = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout)
    if s.security == "starttls":
        conn.ehlo()
        conn.starttls(context=ctx)   # SMTPNotSupportedError when not offered: no login in clear
    return conn


def _smtp_send(app, s: MailSettings, data: bytes, to: str) -> str:
    if not s.host:
        raise ConnectionError("no SMTP server configured ([mail] host)")
    conn = _connect(s)
    try:
        conn.ehlo()
        if s.username:
            conn.login(s.username, app.secret(s.password_secret))
        conn.mail(s.sender)
        code, reply = conn.rcpt(to)
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
        from .inbox import crashpoint

        crashpoint("mail.before_data")
        code, reply = conn.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return f"{code} {reply.decode(errors='replace')}"
    finally:
        try:
            conn.quit()
        except Exception:
            conn.close()


def _code(exc: Exception) -> int | None:
    """The reply code that refused *this message* (recipient or content). A refused login or
    sender is the operator's setting to fix, retried like a server that is down: the mail waits."""
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        return codes[0] if codes else None
    return None


def settle_dead_claims(db) -> dict[str, int]:
    """Rows left ``sending`` by a process that is gone: held as ``uncertain``, or queued again
    (``on_crash = 'resend'``); returns how many of each."""
    n = {"uncertain": 0, "resent": 0}
    for mid, owner, on_crash in list(db.execute("select id, owner, on_crash from mail_queue where state = 'sending'")):
        if owner == CLAIM_OWNER or owner_alive(owner):
            continue
        if on_crash == "resend":
            db.execute("update mail_queue set state = 'retry', owner = null, last_error = 'the daemon stopped during "
                       "the SMTP exchange; sent again with the same Message-ID' where id = ?", [mid])
            n["resent"] += 1
        else:
            db.execute("update mail_queue set state = 'uncertain', owner = null, last_error = 'the daemon stopped "
                       "during the SMTP exchange; it may or may not have arrived: check, then release it to send "
                       "again' where id = ?", [mid])
            n["uncertain"] += 1
    return n


def send_due(app, limit: int = 200) -> dict:
    """Send what is due now (every origin's); returns counts by outcome. A ``ConfigError`` (the
    password's secret is missing) stops the run and is raised: it is the operator's to fix."""
    s = settings(app)
    counts = {"sent": 0, "retry": 0, "rejected": 0, "gave_up": 0, "uncertain": 0, "resent": 0}
    with _SEND_LOCK:
        store = app.store
        if not store.db.execute("select 1 from mail_queue where state in ('queued', 'retry', 'sending') "
                                "limit 1").fetchone():
            return counts   # nothing to do: no write transaction every minute
        with store.transaction() as db:
            counts.update(settle_dead_claims(db))
        now = app.clock.now()
        due = list(store.db.execute(
            "select id, eml_path, attempts, created_at from mail_queue where state in ('queued', 'retry') and "
            "next_attempt_at <= ? order by id limit ?", [now.isoformat(), limit]))
        for mid, eml, attempts, created in due:
            with store.transaction() as db:
                got = db.execute("update mail_queue set state = 'sending', owner = ?, claimed_at = ? where id = ? and "
                                 "state in ('queued', 'retry')", [CLAIM_OWNER, now.isoformat(), mid]).rowcount
            if not got:
                continue
            data = Path(eml).read_bytes()
            to = message_from_bytes(data)["To"]
            try:
                reply = _smtp_send(app, s, data, to)
            except ConfigError:
                with store.transaction() as db:
                    db.execute("update mail_queue set state = 'retry', owner = null where id = ?", [mid])
                raise
            except Exception as exc:
                code = _code(exc)
                err = f"{type(exc).__name__}: {str(exc)[:200]}".replace(to, "<recipient>")
                if code is not None and code >= 500:
                    state, nxt = "rejected", now
                else:
                    age = now - datetime.fromisoformat(created)
                    state = "gave_up" if age >= timedelta(hours=s.max_age_hours) else "retry"
                    nxt = now + timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF) - 1)])
                with store.transaction() as db:
                    db.execute("update mail_queue set state = ?, attempts = attempts + 1, next_attempt_at = ?, "
                               "last_error = ?, owner = null where id = ?", [state, nxt.isoformat(), err, mid])
                counts[state] += 1
                log.warning("mail %s: %s (%s)", mid, state, err)
                continue
            from .inbox import crashpoint

            crashpoint("mail.after_data")
            with store.transaction() as db:
                db.execute("update mail_queue set state = 'sent', attempts = attempts + 1, sent_at = ?, smtp_reply = ?, "
                           "last_error = null, owner = null where id = ?", [app.clock.now().isoformat(), reply[:300], mid])
            # the message holds the address (personal data): once the server has it, it is not kept
            Path(eml).unlink(missing_ok=True)
            counts["sent"] += 1
            log.info("mail %s sent", mid)
    return counts


def release(app, mail_id: int, origin: str | None = None) -> bool:
    """A person's decision: send an ``uncertain``/``gave_up``/``rejected`` mail again."""
    sql = ("update mail_queue set state = 'retry', next_attempt_at = ?, owner = null where id = ? and state in "
           "('uncertain', 'gave_up', 'rejected')")
    args = [app.clock.now().isoformat(), mail_id]
    if origin is not None:
        sql += " and origin = ?"
        args.append(origin)
    with app.store.transaction() as db:
        return db.execute(sql, args).rowcount == 1


def counts(db, origin: str) -> dict[str, int]:
    """Mails of ``origin`` by state (for a plugin's status lines and metrics)."""
    return dict(db.execute("select state, count(*) from mail_queue where origin = ? group by state order by state",
                           [origin]).fetchall())


def listing(db, origin: str) -> list[dict]:
    """Mails of ``origin`` without addresses: id, kind, ref, recipient hash, state, attempts, last error."""
    return [dict(r) for r in db.query("select id, kind, ref, recipient_hash, state, attempts, last_error, created_at, "
                                      "sent_at from mail_queue where origin = ? order by id", [origin])]
