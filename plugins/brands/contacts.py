"""A brand's contacts (personal data: only in the store and in the mails, never in logs).

Roles say who gets what: ``golive`` the monitoring (else ``reports``), ``reports`` the weekly
package, ``billing`` the statement; ``customer_service``, ``product`` and ``logistics`` are kept
for the checklist and for people.
"""
from __future__ import annotations

import re

ROLES = ("reports", "golive", "customer_service", "product", "logistics", "billing")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def check_email(text: str) -> str:
    t = (text or "").strip()
    if not _EMAIL.match(t):
        raise ValueError("the e-mail address is not one address (name@example.com)")
    return t


def upsert(db, brand: str, role: str, email: str, name: str | None, phone: str | None, source: str) -> None:
    if role not in ROLES:
        from marketd.sdk import did_you_mean

        raise ValueError(f"role {role!r}: {did_you_mean(role, ROLES) or 'use one of ' + ', '.join(ROLES)}")
    db.execute("insert into brand_contacts (brand, role, email, name, phone, source) values (?,?,?,?,?,?) "
               "on conflict (brand, role, email) do update set name=excluded.name, phone=excluded.phone, "
               "source=excluded.source", [brand, role, check_email(email), name or None, phone or None, source])


def recipients(db, brand: str, roles) -> list[str]:
    """The addresses of the first role in ``roles`` that has any (sorted: a stable mail order)."""
    for role in roles:
        got = [e for (e,) in db.execute("select email from brand_contacts where brand=? and role=? order by email",
                                        [brand, role])]
        if got:
            return got
    return []
