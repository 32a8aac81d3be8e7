"""A durable mail queue: a mail is never lost and is sent at most once automatically.

Why a queue and not a send inside the report job: the SMTP server may be down for hours, and the
report must not be built twice to retry a mail. The message (``.eml``, 0600: it holds the
address) is written and fsynced before its row commits, in the report's own transaction; the row
keeps only a hash of the recipient, so status output and logs never show an address.

One message per recipient, keyed by ``kind:brand:period:recipient``: re-running a week finds the
key and adds nothing. A send is claimed (``sending``) and committed before the SMTP exchange;
after a ``250`` for DATA it becomes ``sent``. A daemon killed between those two leaves
``sending`` behind: SMTP cannot be asked whether the message arrived, so the row becomes
``uncertain`` and is held for a person (``marketd brands mail release ID``), never resent by itself.
Connection errors and 4xx replies are retried with backoff until ``max_age_hours``, then
``gave_up``; a 5xx is ``rejected``. Both stay listed.
"""
from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import threading
import uuid
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from marketd.sdk import crashpoint

from .settings import MailSettings, job_table

log = logging.getLogger("marketd.brands.mail")
OWNER = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"   # this process: a claim by any other is from a dead one
_SEND_LOCK = threading.Lock()
BACKOFF = (60, 300, 900, 3600, 10800, 21600)


def recipient_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def idem_key(kind: str, brand: str, period: str, email: str) -> str:
    return f"{kind}:{brand}:{period}:{recipient_hash(email)}"


def build_message(sender: str, to: str, subject: str, html: str, text: str, attachments, key: str,
                  when: datetime, inline: dict | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender or "marketd@localhost"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    # the same id on every retry: a receiving system that saw it once can drop a copy
    msg["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@marketd>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if inline:
        html_part = msg.get_payload()[1]
        for cid, png in inline.items():
            html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def enqueue(app, db, *, kind: str, brand: str, period: str, recipients, subject: str, html: str, text: str,
            attachments=(), inline: dict | None = None) -> int:
    """Queue one message per recipient inside the caller's transaction; returns how many are new."""
    folder = app.state_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = app.clock.now()
    new = 0
    for email in recipients:
        key = idem_key(kind, brand, period, email)
        if db.execute("select 1 from mail_queue where idem_key=?", [key]).fetchone():
            continue
        msg = build_message(_sender(app), email, subject, html, text, attachments, key, now, inline)
        path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.eml"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))  # SMTP DATA lines end in CRLF
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        db.execute("insert into mail_queue (idem_key, brand, kind, period, recipient_hash, eml_path, message_id, state, "
                   "next_attempt_at, created_at) values (?,?,?,?,?,?,?,?,?,?)",
                   [key, brand, kind, period, recipient_hash(email), str(path), msg["Message-ID"], "queued",
                    now.isoformat(), now.isoformat()])
        new += 1
    return new


def _sender(app) -> str:
    return job_table(app, "brands-mail", MailSettings).sender


def _smtp_send(app, settings: MailSettings, data: bytes, to: str) -> str:
    if not settings.host:
        raise ConnectionError("no SMTP server configured ([jobs.brands-mail] host)")
    ctx = ssl.create_default_context(cafile=settings.ca_file)   # certificates are always verified
    if settings.security == "tls":
        conn = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=ctx)
    else:
        conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        conn.ehlo()
        if settings.security == "starttls":
            conn.starttls(context=ctx)
            conn.ehlo()
        if settings.username:
            password = app.secret(settings.password_secret) if settings.password_secret else ""
            conn.login(settings.username, password)
        sender = settings.sender or "marketd@localhost"
        conn.mail(sender)
        code, reply = conn.rcpt(to)
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
        crashpoint("brands.mail.before_data")
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
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        return codes[0] if codes else None
    return None


def hold_dead_claims(db) -> int:
    """Rows left ``sending`` by a process that is gone become ``uncertain`` (held, reported)."""
    cur = db.execute("update mail_queue set state='uncertain', last_error='the daemon stopped during the SMTP exchange; '"
                     "|| 'it may or may not have arrived: check, then `marketd brands mail release ID` to send again' "
                     "where state='sending' and owner != ?", [OWNER])
    return cur.rowcount


def send_due(app, limit: int = 200) -> dict:
    """Send what is due now; returns counts by outcome."""
    settings = job_table(app, "brands-mail", MailSettings)
    counts = {"sent": 0, "retry": 0, "rejected": 0, "gave_up": 0, "uncertain": 0}
    with _SEND_LOCK:
        store = app.store
        with store.transaction() as db:
            counts["uncertain"] = hold_dead_claims(db)
        now = app.clock.now()
        due = list(store.db.execute(
            "select id, eml_path, attempts, created_at from mail_queue where state in ('queued','retry') and "
            "next_attempt_at <= ? order by id limit ?", [now.isoformat(), limit]))
        for mid, eml, attempts, created in due:
            with store.transaction() as db:
                got = db.execute("update mail_queue set state='sending', owner=?, claimed_at=? where id=? and "
                                 "state in ('queued','retry')", [OWNER, now.isoformat(), mid]).rowcount
            if not got:
                continue
            data = Path(eml).read_bytes()
            to = _recipient(data)
            try:
                reply = _smtp_send(app, settings, data, to)
            except Exception as exc:
                code = _code(exc)
                err = f"{type(exc).__name__}: {str(exc)[:200]}".replace(to, "<recipient>")
                if code is not None and code >= 500:
                    state, nxt = "rejected", now
                else:
                    age = now - datetime.fromisoformat(created)
                    state = "gave_up" if age >= timedelta(hours=settings.max_age_hours) else "retry"
                    nxt = now + timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF) - 1)])
                with store.transaction() as db:
                    db.execute("update mail_queue set state=?, attempts=attempts+1, next_attempt_at=?, last_error=?, "
                               "owner=null where id=?", [state, nxt.isoformat(), err, mid])
                counts[state] += 1
                log.warning("mail %s: %s (%s)", mid, state, err)
                continue
            crashpoint("brands.mail.after_data")
            with store.transaction() as db:
                db.execute("update mail_queue set state='sent', attempts=attempts+1, sent_at=?, smtp_reply=?, "
                           "last_error=null where id=?", [app.clock.now().isoformat(), reply[:300], mid])
            # the message holds the address (personal data): once the server has it, it is not kept
            Path(eml).unlink(missing_ok=True)
            counts["sent"] += 1
            log.info("mail %s sent", mid)
    return counts


def _recipient(data: bytes) -> str:
    from email import message_from_bytes

    return message_from_bytes(data)["To"]


def release(app, mail_id: int) -> bool:
    """A person's decision: send an ``uncertain``/``gave_up``/``rejected`` mail again."""
    with app.store.transaction() as db:
        return db.execute("update mail_queue set state='retry', next_attempt_at=?, owner=null where id=? and state in "
                          "('uncertain','gave_up','rejected')", [app.clock.now().isoformat(), mail_id]).rowcount == 1

