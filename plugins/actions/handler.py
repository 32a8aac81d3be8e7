"""The ``actions`` inbox: fulfilment actions an ERP asks for, one per row.

Columns: ``order`` and ``action`` (accept, refuse, cancel, refund, ship-without-tracking);
optional ``channel`` (when an order id exists on two accounts), ``lines`` (``SKU:QTY,…``),
``amount`` + ``currency`` (a partial refund), ``reason`` (out_of_stock, buyer_request,
address_issue, price_error, other), ``note``, ``requested_by``, ``action_id`` (the ERP's id: the
same id twice is one action), ``manual`` (``1``/``yes``/``x``: the order was handled by hand in the
portal: flag it, and perform nothing on it).

The file only records the requests (in its own transaction, with the file); the
``order-actions`` job performs them, so no remote call holds the store's write lock. A receipt
``outbox/actions/receipt-<id>-<name>.csv`` says what became of each row.
"""
from __future__ import annotations

from pathlib import Path

from marketd.sdk import FileRejected, csv_text, mark_manual, quote_input, read_table

from .ledger import ActionError, normalise, request

COLUMNS = ("order", "action", "channel", "lines", "amount", "currency", "reason", "note", "requested_by",
           "action_id", "manual")
RECEIPT = ["line", "order", "action", "result", "detail"]
YES = {"1", "yes", "y", "x", "true", "ja", "oui", "si", "sì"}


class ActionsHandler:
    kind = "actions"
    completeness = "CSV: a last row cut mid-line or an unclosed quote rejects the whole file."

    def process(self, ctx) -> dict:
        app = ctx.app
        table = read_table(ctx.path, ctx.settings)
        cols = [c.strip().lower() for c in table.columns]
        missing = [c for c in ("order", "action") if c not in cols]
        if missing:
            raise FileRejected("missing_column", f"the actions file lacks column(s) {', '.join(missing)}",
                               where=f"header: {', '.join(table.columns)[:200]}",
                               fix=f"columns: {', '.join(COLUMNS)}")
        receipt = []
        now = app.clock.now().isoformat()
        for n, raw in table.rows():
            row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            ref, action = row.get("order", ""), row.get("action", "").lower()
            if not ref:
                receipt.append([n, "", action, "rejected", "no order"])
                continue
            orders = [o for o in app.store.find_orders_by_ref(ref)
                      if not row.get("channel") or o["channel"] == row["channel"]]
            if len(orders) != 1:
                receipt.append([n, ref, action, "rejected", "order not in the store" if not orders else
                                "order on several accounts: add a channel column"])
                continue
            order = orders[0]
            by = row.get("requested_by") or f"drop:{ctx.name}"
            if row.get("manual", "").lower() in YES:
                mark_manual(app.store, order["key"], by=by, reason=row.get("note") or f"marked in {ctx.name}",
                            source="drop", at=now)
                receipt.append([n, ref, action, "flagged", "order flagged as handled by hand; nothing is sent"])
                continue
            try:
                params = normalise(action, lines=row.get("lines"), amount=row.get("amount"),
                                   currency=row.get("currency"), reason=row.get("reason") or None)
            except ActionError as exc:
                receipt.append([n, ref, quote_input(action), "rejected", str(exc)])
                continue
            entry, new = request(app, order, action, params, by=by, source="drop", note=row.get("note") or None,
                                 action_id=row.get("action_id") or None)
            receipt.append([n, ref, action, "queued" if new else "known",
                            f"action {entry['id']}" + ("" if new else f" already requested ({entry['state']})")])
        ctx.output(f"actions/receipt-{ctx.file_id}-{Path(ctx.name).stem}.csv", csv_text(RECEIPT, receipt))
        counts: dict[str, int] = {}
        for r in receipt:
            counts[r[3]] = counts.get(r[3], 0) + 1
        return {"lines": len(receipt), "rejected": counts.get("rejected", 0), **counts}
