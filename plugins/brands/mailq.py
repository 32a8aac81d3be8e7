"""The brands' mails through the SDK's mail door (``marketd.sdk.mail``).

One message per recipient, keyed by ``kind:brand:period:recipient``: re-running a week finds the
key and adds nothing. A mail cut by a crash mid-send is held (``uncertain``) for a person
(``marketd brands mail release ID``), never resent by itself: a brand's contact must not get a
report twice. Sending, retries and the SMTP settings (``[mail]``) are the door's.
"""
from __future__ import annotations

from marketd.sdk import mail

ORIGIN = "brands"


def idem_key(kind: str, brand: str, period: str, email: str) -> str:
    return f"{kind}:{brand}:{period}:{mail.recipient_hash(email)}"


def enqueue(app, db, *, kind: str, brand: str, period: str, recipients, subject: str, html: str, text: str,
            attachments=(), inline: dict | None = None) -> int:
    """Queue one message per recipient inside the caller's transaction; returns how many are new."""
    new = 0
    for email in recipients:
        key = idem_key(kind, brand, period, email)
        msg = mail.compose(app, to=email, subject=subject, text=text, html=html, key=key, attachments=attachments,
                           inline=inline)
        new += mail.enqueue(app, db, msg, key=key, origin=ORIGIN, kind=kind, ref=f"{brand} {period}")
    return new


def send_due(app) -> dict:
    return mail.send_due(app)


def release(app, mail_id: int) -> bool:
    return mail.release(app, mail_id, origin=ORIGIN)
