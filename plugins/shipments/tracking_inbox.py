"""The ``tracking`` inbox: the ERP's own carrier + tracking numbers, to be confirmed on channels.

One row per package: ``order``, ``carrier`` (carrier code as the channel knows it, e.g. DHL,
GLS, BRT), ``tracking_number``; optional ``channel``, ``service``, ``ship_date`` (ISO date or
date-time), ``status`` (``shipped``/``in_transit`` default, ``delivered``, ``returned``,
``failed``, ``lost``), ``tracking_url``.

The same (order, tracking number) is one shipment however often it arrives: the shipment key is
derived from them, so a second file only updates the status and never pushes twice. Each file
gets a receipt ``outbox/tracking/receipt-<stamp>-<name>.csv`` saying what happened per line.
A line for an order a plugin vetoes (``veto_shipment``: MALL Delivery's smallbox rule) is
rejected there with that plugin's message, as in shipment files.

This handler belongs to the ``shipments`` plugin because what it writes is the shipments
ledger (``shipments``, ``shipment_pushes`` …); the ``manual`` plugin provides only the carrier
type (``type = "manual"``) whose account it names.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from types import SimpleNamespace

from marketd.sdk import Address, FileRejected, ShipmentRequest, TrackingStatus, csv_text, quote_input, read_table

from .handler import finder_for, output_stem
from .lines import MAX_TEXT, header_where
from .records import event_row, next_package_ref, push_row, shipment_row
from .settings import TrackingInboxSettings

STATUS_WORDS = {
    "": TrackingStatus.in_transit, "shipped": TrackingStatus.in_transit, "in_transit": TrackingStatus.in_transit,
    "out_for_delivery": TrackingStatus.out_for_delivery, "delivered": TrackingStatus.delivered,
    "returned": TrackingStatus.return_to_sender, "return_to_sender": TrackingStatus.return_to_sender,
    "failed": TrackingStatus.delivery_failed, "delivery_failed": TrackingStatus.delivery_failed,
    "lost": TrackingStatus.lost,
}
FINAL = {TrackingStatus.delivered, TrackingStatus.return_to_sender, TrackingStatus.lost}
RECEIPT_HEADER = ["line", "order", "carrier", "tracking_number", "result", "detail"]
COLUMNS = frozenset({"order", "carrier", "carrier_code", "tracking_number", "channel", "service", "ship_date",
                     "status", "tracking_url"})


def tracking_key(order_key: str, tracking_number: str) -> str:
    return "T" + hashlib.sha256(f"{order_key}|{tracking_number}".encode()).hexdigest()[:14].upper()


def _when(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"ship_date {quote_input(text)} is not an ISO date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _refusal(app, order: dict, shipper):
    """A plugin's veto (``veto_shipment``; MALL Delivery: smallbox orders of its MALL account ship
    with it only), as for shipment-file lines: an ERP that shipped such an order itself is told so."""
    request = ShipmentRequest(carrier=shipper.name, parcels=[], recipient=Address())
    vetoes = app.hook.veto_shipment(app=app, order=order, request=request, carrier=shipper)
    return vetoes[0] if vetoes else None


class TrackingHandler:
    kind = "tracking"
    completeness = "CSV: a last row cut mid-line or an unclosed quote rejects the whole file."
    settings_model = TrackingInboxSettings

    def process(self, ctx) -> dict:
        app = ctx.app
        table = read_table(ctx.path, ctx.settings)
        mapping = dict(ctx.settings.get("columns") or {})
        cols = [mapping.get(c, c).strip().lower() for c in table.columns]
        need = [c for c in ("order", "tracking_number") if c not in cols]
        if "carrier" not in cols and "carrier_code" not in cols:
            need.append("carrier")
        if need:
            raise FileRejected("missing_column", f"the tracking file lacks column(s) {', '.join(need)}",
                               where=header_where(table.columns, COLUMNS | {c.strip().lower() for c in mapping}),
                               fix="see config/examples/tracking.csv for the columns")
        finder = finder_for(app)
        account = ctx.settings.get("carrier", "erp")
        carrier = None
        try:
            carrier = app.carrier(account)
        except Exception:
            carrier = None
        shipper = carrier if carrier is not None else SimpleNamespace(name=account, type="manual")
        now = app.clock.now()
        receipt, ships, events, pushes, updates, changes = [], [], [], [], [], []
        refs: dict = {}
        seen: set[str] = set()
        for n, raw in table.rows():
            row = {mapping.get(k, k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            too_long = next((c for c in COLUMNS if len(row.get(c, "")) > MAX_TEXT), None)
            if too_long:  # a broken export: refused, and not copied into the receipt or the store
                receipt.append([n, "", "", "", "rejected",
                                f"{too_long} is {len(row[too_long])} characters long (at most {MAX_TEXT})"])
                continue
            order_ref, number = row.get("order", ""), row.get("tracking_number", "")
            code = row.get("carrier") or row.get("carrier_code") or ""
            if not order_ref or not number or not code:
                receipt.append([n, order_ref, code, number, "rejected", "order, carrier and tracking_number are required"])
                continue
            status = STATUS_WORDS.get(row.get("status", "").lower())
            if status is None:
                receipt.append([n, order_ref, code, number, "rejected",
                                f"status {quote_input(row.get('status'))}: use shipped, delivered, returned, failed "
                                "or lost"])
                continue
            try:
                shipped_at = _when(row.get("ship_date", "")) or now
            except ValueError as exc:
                receipt.append([n, order_ref, code, number, "rejected", str(exc)])
                continue
            orders, _ = finder.find(order_ref, row.get("channel", ""))
            if len(orders) != 1:
                receipt.append([n, order_ref, code, number, "rejected",
                                "order not in the store" if not orders else "order on several channels: add `channel`"])
                continue
            order = orders[0]
            key = tracking_key(order["key"], number)
            if key in seen:
                receipt.append([n, order_ref, code, number, "duplicate", "same order and tracking number earlier in this file"])
                continue
            seen.add(key)
            existing = finder.shipment(key)
            if existing is not None:
                if existing["status"] != status.value and row.get("status"):
                    final = status in FINAL
                    updates.append((key, {"status": status.value, "status_at": now.isoformat(),
                                          "final": int(final), "updated_at": now.isoformat(),
                                          "delivered_at": now.isoformat() if status == TrackingStatus.delivered else None,
                                          "last_answer": f"status {status.value} from the ERP ({ctx.name})"}))
                    events.append(event_row(key, now, existing["status"], status.value, "erp",
                                            f"status from {ctx.name} line {n}", source="erp"))
                    changes.append(({**existing, "status": status.value}, existing["status"], status.value))
                    receipt.append([n, order_ref, code, number, "updated", f"status {existing['status']} -> {status.value}"])
                else:
                    receipt.append([n, order_ref, code, number, "known", "already recorded; not pushed again"])
                continue
            refusal = _refusal(app, order, shipper)
            if refusal is not None:
                receipt.append([n, order_ref, code, number, "rejected", refusal.text])
                continue
            if carrier is not None:
                ch_code, ch_name = carrier.channel_codes(code)
            else:
                ch_code, ch_name = code, code
            ships.append(shipment_row(
                key, now, source="tracking", file_id=ctx.file_id, file_name=ctx.name, line=n, carrier=account,
                carrier_type="manual", carrier_code=ch_code, carrier_label=ch_name, service=row.get("service", ""),
                shipment_id=number, tracking_number=number, tracking_url=row.get("tracking_url", ""),
                order_keys=[order["key"]], refs=[order_ref], status=status.value, final=int(status in FINAL),
                open=0, trackable=0, first_scan_at=shipped_at.isoformat(),
                last_answer=f"tracking number from the ERP ({ctx.name})"))
            events.append(event_row(key, now, None, status.value, "erp", f"tracking from {ctx.name} line {n}",
                                    source="erp"))
            pushes.append(push_row(key, order, next_package_ref(finder, order["key"], refs), now))
            receipt.append([n, order_ref, code, number, "queued", f"will be confirmed on {order['channel']}"])
        db = ctx.db
        if ships:
            db["shipments"].insert_all(ships, pk="key", replace=True)
            db["shipment_parcels"].insert_all(
                [{"shipment_key": s["key"], "n": 1, "parcel_number": s["tracking_number"],
                  "tracking_number": s["tracking_number"], "label_file": ""} for s in ships],
                pk=("shipment_key", "n"), replace=True)
        for key, upd in updates:
            db["shipments"].update(key, upd)
        if events:
            db["shipment_events"].insert_all(events)
        if pushes:
            db["shipment_pushes"].insert_all(pushes, pk=("shipment_key", "order_key"), replace=True)
        ctx.output(f"tracking/receipt-{output_stem(ctx)}.csv", csv_text(RECEIPT_HEADER, receipt))
        for shipment, old, new in changes:
            app.emit("shipment_updated", shipment=shipment, old_status=old, new_status=new)
        counts = {}
        for r in receipt:
            counts[r[4]] = counts.get(r[4], 0) + 1
        return {"lines": len(receipt), **counts}
