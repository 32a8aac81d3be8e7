"""GPSR party files (``gpsr-parties*.csv/xlsx``): manufacturers and EU responsible persons as
records of their own, as Seller Central keeps them, referenced from content rows by
``manufacturer_id`` / ``rp_id``. Recognised by name or by the header ``party_id, role, name,
street, postal_code, city, country, email, url, phone``.

A party file is small and written by a person, so one bad row refuses the whole file with its
line: half a set of addresses is worse than the previous complete one.
"""
from __future__ import annotations

import re

from marketd.sdk import FileRejected, read_table

from .records import GPSR_PARTY_FIELDS
from .values import clean, norm_column

COLUMNS = ("party_id", "role") + GPSR_PARTY_FIELDS
ROLES = {"manufacturer": "manufacturer", "rp": "rp", "responsible_person": "rp", "eu_responsible_person": "rp",
         "importer": "rp", "both": "both"}


def looks_like_parties(columns: list[str]) -> bool:
    names = {norm_column(c) for c in columns}
    return {"party_id", "role", "name"} <= names and "sku" not in names


def read_parties(path, settings) -> list[dict]:
    table = read_table(path, settings)
    pos = {norm_column(c): i for i, c in enumerate(table.columns)}
    missing = [c for c in ("party_id", "role", "name") if c not in pos]
    if missing:
        raise FileRejected("missing_column", f"the party file has no {', '.join(missing)} column",
                           where="line 1 (header)", fix=f"columns: {', '.join(COLUMNS)}")
    out, seen = [], {}
    for chunk in table.chunks():
        for line, values in zip(chunk.lines.tolist(), chunk.frame.itertuples(index=False, name=None)):
            row = {c: clean(values[pos[c]]) if c in pos else "" for c in COLUMNS}
            if not row["party_id"]:
                raise FileRejected("party", "a party row has no party_id", where=f"line {line}",
                                   fix="give every manufacturer and responsible person an id")
            role = ROLES.get(row["role"].lower().replace(" ", "_"))
            if role is None:
                raise FileRejected("party", f"role {row['role'][:40]!r} is unknown", where=f"line {line}, column role",
                                   fix="write manufacturer or rp (responsible person)")
            row["role"] = role
            if row["country"]:
                row["country"] = row["country"].upper()
                if not re.fullmatch(r"[A-Z]{2}", row["country"]):
                    raise FileRejected("party", f"country {row['country'][:20]!r} is not an ISO 3166-1 alpha-2 code",
                                       where=f"line {line}, column country", fix="write e.g. DE, IT, CN")
            if row["party_id"] in seen:
                raise FileRejected("party", f"party_id {row['party_id'][:40]!r} appears twice (lines "
                                   f"{seen[row['party_id']]} and {line})", where=f"line {line}",
                                   fix="one row per party")
            seen[row["party_id"]] = line
            out.append(row)
    if not out:
        raise FileRejected("no_rows", "the party file has a header but no rows", fix="add the parties")
    return out


def store_parties(db, rows: list[dict], source: str, now: str) -> int:
    db["gpsr_parties"].upsert_all([{**r, "source": source, "updated_at": now} for r in rows], pk="party_id")
    return len(rows)


def load_parties(db) -> dict[str, dict]:
    if not db["gpsr_parties"].exists():
        return {}
    return {r["party_id"]: r for r in db.query("select * from gpsr_parties")}
