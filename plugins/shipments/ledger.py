"""The carrier-call ledger: what was asked of a carrier, committed *before* the call.

Why a separate database file: an inbox handler runs inside the file's store transaction, and
that transaction is rolled back when the daemon dies mid-file. A "shipment created" row
written there would vanish with it while the parcel really exists at the carrier, and the
re-run would create it a second time. The ledger (``<state_dir>/carrier-ledger.sqlite``)
commits on its own connection, outside that transaction, with ``synchronous=FULL``:

1. ``begin(key)`` commits ``state='calling'`` and hands out ``seq`` (a number unique per
   shipment in this instance, used as BRT's numeric sender reference);
2. the carrier is called;
3. ``finish(key, result)`` commits the answer (and the label bytes, so a re-run can write the
   same label files again without asking the carrier).

On a re-run of the same claim (after a crash or a transient error), ``done``/``failed`` rows
are reused as they are; a ``calling`` row means the daemon died during the call and the
carrier's ``in_flight`` policy decides (retry, recover, or a person reviews). ``claim`` is the
inbox file id that made the last attempt: a ``failed`` row of an *earlier* claim (the operator
fixed the carrier configuration and ran ``marketd requeue``) is a new attempt, since a refused
call created nothing; ``done`` rows are never called again. Label bytes are kept
``label_retention_days`` (default 30) for reprints.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from marketd.sdk import Label, LabelFormat, Message, ParcelResult, ShipmentResult, ThreadConnections

CALLING, CREATED, DONE, FAILED = "calling", "created", "done", "failed"

_SCHEMA = """
create table if not exists calls (
  seq integer primary key autoincrement,
  key text unique not null,
  carrier text not null,
  state text not null,
  request text,
  result text,
  attempts integer not null default 0,
  started_at text,
  finished_at text,
  claim text
);
create table if not exists call_labels (
  key text not null,
  n integer not null,
  format text not null,
  data blob,
  primary key (key, n)
);
"""


def result_to_json(result: ShipmentResult) -> str:
    return json.dumps({
        "carrier": result.carrier, "shipment_id": result.shipment_id, "tracking_url": result.tracking_url,
        "meta": result.meta, "confirmed": result.confirmed,
        "parcels": [{"parcel_number": p.parcel_number, "tracking_number": p.tracking_number,
                     "label_format": p.label.format.value if p.label else None} for p in result.parcels],
        "messages": [{"carrier": m.carrier, "text": m.text, "code": m.code, "level": m.level, "details": m.details}
                     for m in result.messages],
    }, default=str)


def result_from_json(text: str, labels: dict[int, Label]) -> ShipmentResult:
    d = json.loads(text)
    parcels = [ParcelResult(p["parcel_number"], p["tracking_number"], labels.get(i))
               for i, p in enumerate(d.get("parcels", []))]
    msgs = [Message(**m) for m in d.get("messages", [])]
    return ShipmentResult(d["carrier"], d.get("shipment_id", ""), parcels, msgs, d.get("tracking_url", ""),
                          d.get("meta") or {}, d.get("confirmed", True))


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # Requests (recipient addresses) and label bytes live here: ThreadConnections keeps the
        # file owner-only, whatever the umask.
        self._conns = ThreadConnections(self.path, row_factory=sqlite3.Row)
        self.conn.executescript(_SCHEMA)
        if "claim" not in {r["name"] for r in self.conn.execute("pragma table_info(calls)")}:
            self.conn.execute("alter table calls add column claim text")  # ledgers written before the column

    @classmethod
    def for_app(cls, app) -> "Ledger":
        ledger = getattr(app, "_carrier_ledger", None)
        if ledger is None:
            ledger = cls(Path(app.state_dir) / "carrier-ledger.sqlite")
            app._carrier_ledger = ledger
        return ledger

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def close(self) -> None:
        self._conns.close()

    @staticmethod
    def _now() -> str:
        return datetime.now(timezone.utc).isoformat()

    def get(self, key: str) -> dict | None:
        row = self.conn.execute("select * from calls where key = ?", [key]).fetchone()
        return dict(row) if row else None

    def begin(self, key: str, carrier: str, request: dict, claim: str | None = None) -> dict:
        """Commit the intent to call the carrier; returns the row (with ``seq``).

        Called again for the same key (a retry of an in-flight call, or a new attempt of a failed
        one) it counts the attempt and keeps ``seq``, so the carrier sees the same references.
        """
        c = self.conn
        c.execute("begin immediate")
        try:
            c.execute("insert into calls (key, carrier, state, request, attempts, started_at) values (?, ?, ?, ?, 0, ?) "
                      "on conflict(key) do nothing", [key, carrier, CALLING, json.dumps(request, default=str), self._now()])
            c.execute("update calls set attempts = attempts + 1, state = ?, started_at = ?, claim = ?, "
                      "request = ? where key = ?",
                      [CALLING, self._now(), claim, json.dumps(request, default=str), key])
            c.execute("commit")
        except BaseException:
            c.execute("rollback")
            raise
        return self.get(key)

    def finish(self, key: str, result: ShipmentResult, state: str | None = None) -> None:
        """Commit the carrier's answer and the label bytes."""
        state = state or (DONE if result.ok and result.confirmed else CREATED if result.ok else FAILED)
        c = self.conn
        c.execute("begin immediate")
        try:
            c.execute("update calls set state = ?, result = ?, finished_at = ? where key = ?",
                      [state, result_to_json(result), self._now(), key])
            c.execute("delete from call_labels where key = ?", [key])
            for i, p in enumerate(result.parcels):
                if p.label is not None:
                    c.execute("insert into call_labels (key, n, format, data) values (?, ?, ?, ?)",
                              [key, i, p.label.format.value, p.label.data])
            c.execute("commit")
        except BaseException:
            c.execute("rollback")
            raise

    def forget(self, key: str) -> None:
        """Drop an intent that provably never reached the carrier (e.g. a missing secret)."""
        self.conn.execute("delete from calls where key = ? and state = ?", [key, CALLING])

    def set_state(self, key: str, state: str, result: ShipmentResult | None = None) -> None:
        if result is not None:
            self.conn.execute("update calls set state = ?, result = ?, finished_at = ? where key = ?",
                              [state, result_to_json(result), self._now(), key])
        else:
            self.conn.execute("update calls set state = ?, finished_at = ? where key = ?", [state, self._now(), key])

    def result(self, key: str) -> ShipmentResult | None:
        row = self.get(key)
        if not row or not row.get("result"):
            return None
        labels = {r["n"]: Label(bytes(r["data"]), LabelFormat(r["format"]))
                  for r in self.conn.execute("select n, format, data from call_labels where key = ?", [key])
                  if r["data"] is not None}
        return result_from_json(row["result"], labels)

    def unresolved(self) -> list[dict]:
        """Calls that may have created something at a carrier without an answer recorded."""
        return [dict(r) for r in self.conn.execute(
            "select key, carrier, state, attempts, started_at from calls where state in (?, ?) order by seq",
            [CALLING, CREATED])]

    def prune_labels(self, older_than_days: int) -> int:
        cutoff = (datetime.now(timezone.utc) - timedelta(days=older_than_days)).isoformat()
        cur = self.conn.execute(
            "update call_labels set data = null where data is not null and key in "
            "(select key from calls where finished_at < ?)", [cutoff])
        return cur.rowcount

