"""The shipments plugin's copies of a buyer's data, removed when the order's data is purged
(the ``buyer_data_purged`` event of the privacy plugin, docs/plugins/privacy.md).

What holds a person here: the carrier-call ledger (``carrier-ledger.sqlite``: the request sent
to the carrier, with the recipient's name, address, phone and e-mail, and the label bytes kept
for reprints), the label files in ``outbox/labels/<file>/`` and that file's print sheet
(``labels/print-<file>.pdf``, every label of the shipment file), and whatever a carrier put in a
shipment's ``meta``. Kept: the shipment itself (carrier, tracking number, parcels, status
history): tracking and the marketplace confirmation need no person. A print sheet holds other
orders' labels too; it goes with the first of its orders to be purged (by then the parcels left
weeks ago).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from marketd.sdk import scrub_personal

from .ledger import Ledger

log = logging.getLogger("marketd.shipments")


def _shipments_of(db, order_key: str) -> list[dict]:
    if "shipments" not in db.table_names():
        return []
    return list(db.query("select s.key, s.meta from shipments s where exists (select 1 from json_each(s.order_keys) j "
                         "where j.value = ?)", [order_key]))


def _delete(app, relpath: str) -> bool:
    path = Path(app.outbox.final_path(relpath))
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def purge_shipments(app, order_key: str) -> dict:
    """Remove the order's buyer data from this plugin's copies; what was removed (counts)."""
    db = app.store.db
    out = {"ledger_requests": 0, "ledger_labels": 0, "label_files": 0, "print_sheets": 0, "meta": 0}
    rows = _shipments_of(db, order_key)
    if not rows:
        return out
    ledger = Ledger.for_app(app)
    ledger.conn.execute("PRAGMA secure_delete=ON")   # freed pages zeroed: the old request is not left readable
    sheets = set()
    for row in rows:
        call = ledger.get(row["key"])
        if call and call.get("request"):
            request = json.loads(call["request"])
            clean = scrub_personal(request)
            if clean != request:
                with ledger.conn:
                    ledger.conn.execute("update calls set request = ? where key = ?", [json.dumps(clean), row["key"]])
                out["ledger_requests"] += 1
        with ledger.conn:
            out["ledger_labels"] += ledger.conn.execute("delete from call_labels where key = ?", [row["key"]]).rowcount
        meta = json.loads(row["meta"] or "{}")
        clean_meta = scrub_personal(meta)
        labels = [r["label_file"] for r in db.query("select label_file from shipment_parcels where shipment_key = ? "
                                                    "and label_file != ''", [row["key"]])]
        for name in labels:
            out["label_files"] += _delete(app, name)
            parts = name.split("/")
            if len(parts) >= 3 and parts[0] == "labels":
                sheets.add(f"labels/print-{parts[1]}.pdf")
        with app.store.transaction() as tx:
            tx.execute("update shipment_parcels set label_file = '' where shipment_key = ?", [row["key"]])
            if clean_meta != meta:
                tx.execute("update shipments set meta = ? where key = ?", [json.dumps(clean_meta), row["key"]])
                out["meta"] += 1
    for sheet in sorted(sheets):
        out["print_sheets"] += _delete(app, sheet)
    ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return out
