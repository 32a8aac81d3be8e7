"""Gap-free numbers per series and year: the number and its document in one transaction.

``issue`` takes the series' next number, inserts the document row with it and advances the
counter inside one ``BEGIN IMMEDIATE`` transaction (``app.store.transaction``). SQLite's write
transaction is the reservation and the commit publishes it: a kill -9 anywhere before the commit
leaves neither the row nor the advanced counter, after it both exist (``synchronous=FULL``). So
a number is never used twice (``UNIQUE(series, year, number)``) and never skipped, and an order
gets one invoice per trigger (``UNIQUE(order_key, kind, trigger_key)``, checked first inside the
same transaction, so two runs racing issue once).

The issue date never goes back behind the series' last one (FR requires numbers in
chronological order; a clock stepped back must not break it).
"""
from __future__ import annotations

import json
import re

from marketd.sdk import crashpoint

KINDS = ("invoice", "credit_note")


def doc_number(prefix: str, series: str, year: int, number: int, width: int) -> str:
    return prefix.format(series=series, year=year) + str(number).zfill(width)


def existing(db, order_key: str, kind: str, trigger_key: str) -> dict | None:
    rows = list(db.query("select * from documents where order_key = ? and kind = ? and trigger_key = ?",
                         [order_key, kind, trigger_key]))
    return rows[0] if rows else None


def issue(store, *, series: str, year: int, prefix: str, width: int, kind: str, order_key: str, channel: str,
          trigger_key: str, refers_to: int | None, issue_date: str, snapshot: dict, now: str) -> tuple[dict, bool]:
    """The document for (order, kind, trigger): ``(row, True)`` when numbered now, ``(row, False)``
    when it existed already. ``snapshot`` gets ``doc_no``, ``number`` and ``issue_date``."""
    assert kind in KINDS
    with store.transaction() as db:
        found = existing(db, order_key, kind, trigger_key)
        if found:
            return found, False
        counter = db.execute("select next, last_issue_date from number_series where series = ? and year = ?",
                             [series, year]).fetchone()
        if counter is None:
            db.execute("insert into number_series (series, year, next) values (?, ?, 1)", [series, year])
            number, last = 1, None
        else:
            number, last = counter
        if last and last > issue_date:
            issue_date = last
        doc_no = doc_number(prefix, series, year, number, width)
        snap = {**snapshot, "doc_no": doc_no, "number": number, "series": series, "year": year,
                "issue_date": issue_date}
        db.execute(
            "insert into documents (series, year, number, doc_no, kind, order_key, channel, trigger_key, refers_to, "
            "issue_date, currency, total_gross, total_vat, snapshot, state, created_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'numbered', ?)",
            [series, year, number, doc_no, kind, order_key, channel, trigger_key, refers_to, issue_date,
             snap["currency"], snap["totals"]["gross"], snap["totals"]["vat"],
             json.dumps(snap, sort_keys=True, ensure_ascii=False), now])
        crashpoint("invoices_before_commit")
        db.execute("update number_series set next = ?, last_issue_date = ? where series = ? and year = ?",
                   [number + 1, issue_date, series, year])
        row = dict(next(db.query("select * from documents where doc_no = ?", [doc_no])))
    crashpoint("invoices_after_commit")
    return row, True


def check(db) -> list[str]:
    """Problems with the gap-free invariant, per (series, year): numbers 1..n each once, and the
    counter at n + 1. Empty when all is well (``marketd invoices check``)."""
    problems = []
    for series, year, nxt in db.execute("select series, year, next from number_series order by series, year"):
        nums = [n for (n,) in db.execute("select number from documents where series = ? and year = ? order by number",
                                         [series, year])]
        if nums != list(range(1, len(nums) + 1)):
            missing = sorted(set(range(1, (max(nums) if nums else 0) + 1)) - set(nums))
            problems.append(f"{series} {year}: numbers missing {missing[:10]}")
        if nxt != len(nums) + 1:
            problems.append(f"{series} {year}: counter says next {nxt} but {len(nums)} documents exist")
    return problems


def safe_name(doc_no: str) -> str:
    """A document number as a file name (a prefix may hold ``/``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", doc_no)
