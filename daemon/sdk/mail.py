"""The mail door for plugins (see ``marketd/mail.py`` for the rules it keeps)."""
from __future__ import annotations

from ..mail import (HELD, MailSettings, compose, configured, counts, enqueue, listing, message_id, recipient_hash,
                    release, send_due, settings)

__all__ = ["HELD", "MailSettings", "compose", "configured", "counts", "enqueue", "listing", "message_id",
           "recipient_hash", "release", "send_due", "settings"]
