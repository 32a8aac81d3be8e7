"""The ``shipments`` inbox: shipment request files in, labels and a manifest out.

Per line: find the orders, build a :class:`ShipmentRequest`, let plugins veto it
(``veto_shipment``: MALL Delivery's smallbox rule), create it with the carrier, write one label file per
parcel. Per file: a merged print run (one 100x150 mm page per parcel, or one ZPL file), a
manifest CSV and, when lines were refused, a rejects CSV. A refused line never stops the
others.

Exactly once with the carrier: each line's idempotency key is derived from the file's sha256
and the line number, committed in the carrier-call ledger before the call (see ``ledger.py``)
and sent to the carrier as its reference. Carrier calls happen before anything is written to
the store, so the file's store transaction is only held for the short burst of inserts at the
end (see ``orders.OrderFinder`` for why reads use their own connection).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from marketd.sdk import (Address, ConfigError, FileRejected, InFlight, LabelFormat, ParcelResult, ShipmentRequest,
                        ShipmentResult, TrackingStatus, crashpoint, csv_text, mask_emails, quote_input)
from marketd.sdk.labels import LabelError, split_pdf_label_pages, zpl_blocks

from . import ledger as ledger_mod
from .ledger import Ledger
from .lines import Line, read_lines
from .orders import OrderFinder, address_from_order
from .policy import tracking_policy
from .records import event_row, next_package_ref, push_row, shipment_row
from .settings import ShipmentsInboxSettings

MANIFEST_HEADER = ["line", "order", "channel", "parcel", "weight_kg", "carrier", "service", "tracking_number",
                   "parcel_number", "label_file", "status", "reason", "personalised"]
REJECT_HEADER = ["line", "order", "carrier", "reason", "message", "fix", "column"]
# The column a line-level refusal is about (parsing errors name their own column).
REASON_COLUMNS = {"unknown_carrier": "carrier", "unknown_order": "order", "ambiguous_order": "channel",
                  "already_shipped": "order", "no_recipient": "recipient", "recipient_mismatch": "order",
                  "incomplete_address": "recipient", "label_format": "label_format", "carrier_refused": "carrier"}


def idempotency_key(sha256: str, line: int) -> str:
    """15 characters, the same for the same file line: short enough for the carriers' free reference
    fields as they are (a carrier with a shorter field derives its reference from this key)."""
    return "M" + hashlib.sha256(f"{sha256}:{line}".encode()).hexdigest()[:14].upper()


def safe_name(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:limit] or "x"


def output_stem(ctx) -> str:
    """``<stamp>-<name>`` for output names: stable across re-runs of the same claim; a non-CSV
    extension is kept (``orders.json`` and ``orders.csv`` dropped in the same second differ)."""
    name = ctx.name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    tail = "" if ext.lower() in ("", "csv") else f"-{ext.lower()}"
    return f"{ctx.stamp}-{safe_name(stem)}{tail}"


def finder_for(app) -> OrderFinder:
    f = getattr(app, "_shipments_finder", None)
    if f is None:
        f = OrderFinder(app.store.path)
        app._shipments_finder = f
    return f


def _personalised(order: dict) -> bool:
    """Does the order hold an item the buyer personalised (a Custom archive link)?"""
    items = order.get("items")
    try:
        items = json.loads(items) if isinstance(items, str) else items
    except ValueError:
        return False
    return any(isinstance(i, dict) and i.get("customized_url") for i in items or [])


@dataclass
class Outcome:
    line: Line
    key: str = ""
    carrier: object = None
    request: ShipmentRequest | None = None
    result: ShipmentResult | None = None
    orders: list[dict] = field(default_factory=list)
    status: str = "created"       # created | reused | rejected
    reason: str = ""
    fix: str = ""
    column: str = ""
    detail: str = ""              # the offending value, for the private rejects file (never logged)
    note: str = ""
    label_files: list[str] = field(default_factory=list)
    existing: dict | None = None  # already in the store (a requeued file)
    action: str | None = None     # reuse | call | recover | confirm


class ShipmentsHandler:
    kind = "shipments"
    completeness = ("CSV: a last row cut mid-line or an unclosed quote rejects the whole file; JSON must parse "
                    "as a whole. ERPs should upload with a temp name and rename (mode require_rename).")
    settings_model = ShipmentsInboxSettings

    def process(self, ctx) -> dict:
        run = _Run(ctx)
        return run.go()


class _Run:
    def __init__(self, ctx):
        self.ctx = ctx
        self.app = ctx.app
        self.settings = ctx.settings or {}
        self.finder = finder_for(self.app)
        self.ledger = Ledger.for_app(self.app)
        self.stem = output_stem(ctx)
        self.base = f"labels/{self.stem}"
        from pypdf import PdfWriter  # here, not at the top: every start-up of the daemon imports this module

        self.print_pdf = PdfWriter()
        self.print_pages = 0
        self.print_zpl: list[str] = []
        self.package_refs: dict[str, int] = {}
        self.allow_reship = bool(self.settings.get("allow_reship", False))
        self.shipped_in_file: dict[str, int] = {}   # order key -> first line of this file shipping it

    # -- the file -------------------------------------------------------------------------------
    def go(self) -> dict:
        fmt, lines = read_lines(self.ctx)
        if not lines:
            raise FileRejected("no_lines", "the file holds no shipment lines",
                               fix="add at least one line under the header (see config/examples/shipments.csv)")
        outcomes = [self.prepare(line) for line in lines]
        self.execute_all([o for o in outcomes if o.action in ("call", "recover", "confirm")])
        for o in outcomes:
            self.complete(o)
        self.write_outputs(outcomes)
        self.record(outcomes)
        shipped = [o for o in outcomes if o.status != "rejected"]
        return {
            "format": fmt, "lines": len(outcomes), "shipped": len(shipped),
            "created": sum(1 for o in outcomes if o.status == "created"),
            "reused": sum(1 for o in outcomes if o.status == "reused"),
            "rejected": len(outcomes) - len(shipped),
            "parcels": sum(len(o.result.parcels) for o in shipped if o.result),
            "labels": sum(1 for o in outcomes for f in o.label_files if f),
            "manifest": f"labels/manifest-{self.stem}.csv",
        }

    # -- one line -------------------------------------------------------------------------------
    def reject(self, o: Outcome, reason: str, message: str, fix: str = "", column: str = "",
               detail: str = "") -> Outcome:
        o.status, o.fix, o.detail = "rejected", fix, detail
        o.reason = f"{reason}: {message}" + (f" ({detail})" if detail else "")
        o.column = column or o.line.column or REASON_COLUMNS.get(reason, "")
        # The log is not the place for buyers' names and addresses (carrier texts and our own
        # messages may quote them): those are masked here, and the offending value of a bad
        # column is left out; the private rejects file has it all.
        self.ctx.log.warning("%s line %s rejected: %s: %s (details in rejects-%s.csv)", self.ctx.name, o.line.line,
                             reason, _mask(message, self._personal(o)), self.stem)
        return o

    def _personal(self, o: Outcome) -> list[str]:
        """The personal values a message about this line could quote."""
        values = []
        addrs = [o.request.recipient] if o.request is not None else []
        if o.line.recipient is not None:
            addrs.append(o.line.recipient)
        addrs += [a for a in (address_from_order(r) for r in o.orders) if a is not None]
        for a in addrs:
            values += [a.name, a.company, a.street, a.street2, a.city, a.phone, a.email, a.province, a.postal_code]
        return values

    def _already_shipped(self, o: Outcome) -> tuple[str, str] | None:
        """An earlier shipment (earlier file, or an earlier line of this file) of one of the
        line's orders: the message and where it is, or ``None``."""
        for order in o.orders:
            first = self.shipped_in_file.get(order["key"])
            if first is not None and first != o.line.line:
                return order["key"], f"line {first} of this file"
            rows = self.finder.shipments_for_order(order["key"], exclude=o.key)
            if rows:
                r = rows[0]
                where = (f"{r['file_name']} line {r['line']}" if r.get("file_name") else f"shipment {r['key']}")
                tn = f", tracking {r['tracking_number']}" if r.get("tracking_number") else ""
                return order["key"], f"{where} ({r['carrier']}{tn}, {r['created_at'][:16]})"
        return None

    def prepare(self, line: Line) -> Outcome:
        """Everything up to the carrier call (store reads, vetoes, checks); decides ``o.action``."""
        o = Outcome(line, key=idempotency_key(self.ctx.sha256, line.line))
        if line.error:
            return self.reject(o, *line.error, column=line.column, detail=line.detail)
        configured = self.app.config.get("carriers", {})
        if line.carrier not in configured:
            return self.reject(o, "unknown_carrier", f"no carrier account {quote_input(line.carrier)} is configured",
                               f"use one of: {', '.join(sorted(configured)) or '(none)'} "
                               "or add [carriers.<name>] to the config")
        try:
            carrier = self.app.carrier(line.carrier)
        except ConfigError as exc:
            raise FileRejected("carrier_config", str(exc), where=f"line {line.line}",
                               fix="fix the [carriers] configuration, then `marketd requeue` this file")
        o.carrier = carrier
        # orders
        for ref in line.orders:
            rows, _ = self.finder.find(ref, line.channel)
            if len(rows) > 1:
                return self.reject(o, "ambiguous_order", f"order {ref} exists on several channels: "
                                   f"{', '.join(r['channel'] for r in rows)}",
                                   "fill the `channel` column or write the order as <channel>:<order_id>")
            if not rows:
                if self.settings.get("require_known_order", True):
                    return self.reject(o, "unknown_order", f"order {ref} is not in the store",
                                       "wait for the order sync to import it and send the line again, or set "
                                       "[inbox.shipments] require_known_order = false for orders from elsewhere")
                o.note = f"order {ref} not in the store: tracking is not confirmed on any channel"
                continue
            o.orders.append(rows[0])
        # an order that was shipped before (an ERP re-sending yesterday's lines in a new file)
        if not line.reship and not self.allow_reship:
            dup = self._already_shipped(o)
            if dup is not None:
                return self.reject(o, "already_shipped", f"order {dup[0]} was already shipped: {dup[1]}",
                                   "nothing to do if this line was sent again by mistake; to make a further "
                                   "shipment for the order put `yes` in a `reship` column on the line")
        # recipient
        recipient = line.recipient
        if recipient is None:
            if not o.orders:
                return self.reject(o, "no_recipient", "recipient is 'order' but the order is not in the store",
                                   "fill the recipient_* columns")
            addrs = [address_from_order(r) for r in o.orders]
            if any(a is None for a in addrs):
                return self.reject(o, "no_recipient", "the stored order has no shipping address "
                                   "(Amazon shares it only with the restricted-data role)",
                                   "fill the recipient_* columns on this line")
            if len({json.dumps(a.as_dict(), sort_keys=True) for a in addrs}) > 1:
                return self.reject(o, "recipient_mismatch", "the orders on this line ship to different addresses",
                                   "ship them on separate lines")
            recipient = addrs[0]
        missing = recipient.missing()
        if missing:
            return self.reject(o, "incomplete_address", f"recipient lacks {', '.join(missing)}",
                               "complete the address in the recipient_* columns")
        sender_cfg = {**(self.settings.get("sender") or {}), **(carrier.settings.get("sender") or {}), **line.sender}
        try:
            fmt = LabelFormat.parse(line.label_format, carrier.default_label_format())
        except ValueError as exc:
            return self.reject(o, "label_format", str(exc), "use PDF or ZPL")
        req = ShipmentRequest(
            carrier=carrier.name, parcels=line.parcels, recipient=recipient,
            sender=Address.from_dict(sender_cfg), service=line.service or carrier.settings.get("service", ""),
            label_format=fmt, references=list(line.orders), order_keys=[r["key"] for r in o.orders],
            idempotency_key=o.key, cod_amount=line.cod_amount, cod_currency=line.cod_currency,
            notes=line.notes,
            options={k: v for k, v in {"reference": line.reference, "tracking_number": line.tracking_number,
                                       "carrier_code": line.carrier_code, "package_size": line.package_size,
                                       "order_ids": [r["order_id"] for r in o.orders]}.items() if v},
        )
        o.request = req
        # vetoes by plugins (MALL Delivery owns smallbox shipping for its channel)
        for order in (o.orders or [None]):
            vetoes = self.app.hook.veto_shipment(app=self.app, order=order, request=req, carrier=carrier)
            if vetoes:
                return self.reject(o, "carrier_refused", vetoes[0].text, vetoes[0].details.get("fix", ""))
        problems = [m for m in carrier.check_request(req, o.orders) if m.level == "error"]
        if problems:
            return self.reject(o, "carrier_check", "; ".join(m.text for m in problems),
                               problems[0].details.get("fix", "correct the line and send it again in a new file"))
        # idempotency: a requeued file, a re-run after a crash, or a first call
        for order in o.orders:
            self.shipped_in_file.setdefault(order["key"], line.line)
        o.existing = self.finder.shipment(o.key)
        row = self.ledger.get(o.key)
        retry_failed = bool(row and row["state"] == ledger_mod.FAILED and row.get("claim") != self.ctx.file_id)
        if retry_failed and o.existing is None:
            o.action = "call"  # a requeue after a refused call: a new attempt (a refusal created nothing)
        elif o.existing is not None or (row and row["state"] in (ledger_mod.DONE, ledger_mod.FAILED)):
            o.result = self.ledger.result(o.key)
            o.status, o.action = "reused", "reuse"
        elif row and row["state"] == ledger_mod.CREATED:
            o.result = self.ledger.result(o.key)
            o.status, o.action = "reused", "confirm"
        elif row and row["state"] == ledger_mod.CALLING:
            policy = carrier.in_flight
            if policy == InFlight.review:
                return self.reject(o, "in_flight_unknown",
                                   f"the daemon stopped while {carrier.name} was creating this shipment; it may exist "
                                   "at the carrier", f"check the carrier portal for reference {o.key}; if it is not "
                                   "there, send the line again in a new file")
            o.action = "recover" if policy == InFlight.recover else "call"
        else:
            o.action = "call"
        return o

    def execute_all(self, todo: list[Outcome]) -> None:
        """Carrier calls, ``concurrency`` at a time (default 4): carriers answer in 0.2–2 s, so a
        day's file of 1,000 shipments would otherwise wait on the network one call at a time.
        Labels and outputs are still written afterwards in line order."""
        workers = max(1, int(self.settings.get("concurrency", 4)))
        if workers == 1 or len(todo) < 2:
            for o in todo:
                self.execute(o)
            return
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipments")
        try:
            futures = [pool.submit(self.execute, o) for o in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                pool.shutdown(wait=True, cancel_futures=True)  # lines not started yet wait for the retry
                errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()]
                # a whole-file verdict (FileRejected) wins over a retryable one
                raise next((e for e in errors if isinstance(e, FileRejected)), errors[0])
        finally:
            pool.shutdown(wait=True)

    def execute(self, o: Outcome) -> None:
        if o.action == "confirm":
            self.confirm(o)
        else:
            self.call(o, recover=o.action == "recover")

    def complete(self, o: Outcome) -> Outcome:
        """After the carrier answered: verdict and label files (main thread, line order)."""
        if o.status == "rejected":
            return o
        if o.result is None and o.existing is not None:
            o.result = self.result_from_store(o.existing)
        if o.result is None:
            return self.reject(o, "ledger_missing", "this line was sent to the carrier before but its answer is gone",
                               f"check `marketd shipments unresolved` and the carrier portal for reference {o.key}")
        if not o.result.ok:
            return self.reject(o, "carrier_error", "; ".join(str(m) for m in o.result.errors) or "carrier said no",
                               self.carrier_fix(o))
        self.labels(o)
        return o

    def carrier_fix(self, o: Outcome) -> str:
        """What to do about a carrier's refusal: its own advice, and whether it is the line (send
        it again corrected) or the account/connection (fix that, then requeue this file: only
        refused lines are tried again)."""
        errors = o.result.errors
        hints = [m.details.get("fix") for m in errors if m.details.get("fix")]
        if any(m.details.get("account_problem") for m in errors):
            hint = next((m.details["fix"] for m in errors if m.details.get("account_problem") and
                         m.details.get("fix")), "check the carrier account in the configuration")
            return (f"not this line's data but the {o.line.carrier} account or connection: {hint} "
                    f"([carriers.{o.line.carrier}]), then `marketd requeue {self.ctx.file_id}` (the refused lines "
                    "are sent to the carrier again, shipped ones are not)")
        if hints:
            return hints[0]
        return ("read the carrier's message: correct the line and send it again in a new file, or, when the message "
                f"is about the account, fix that and `marketd requeue {self.ctx.file_id}`")

    def result_from_store(self, row: dict) -> ShipmentResult:
        parcels = [ParcelResult(p["parcel_number"], p["tracking_number"]) for p in
                   self.finder.query("select * from shipment_parcels where shipment_key = ? order by n", [row["key"]])]
        return ShipmentResult(row["carrier"], row["shipment_id"], parcels, tracking_url=row["tracking_url"] or "",
                              meta=json.loads(row["meta"] or "{}"))

    def call(self, o: Outcome, recover: bool = False) -> None:
        req_doc = json.loads(json.dumps(asdict(o.request), default=str))
        row = self.ledger.begin(o.key, o.carrier.name, req_doc, claim=self.ctx.file_id)
        o.request.sequence = row["seq"]
        try:
            if recover:
                prev = self.ledger.result(o.key)
                o.result = o.carrier.recover(o.request, prev.meta if prev else {})
            else:
                o.result = o.carrier.create_shipment(o.request)
        except ConfigError as exc:
            # A missing secret or setting: raised before anything was sent to the carrier.
            if not recover:
                self.ledger.forget(o.key)
            raise FileRejected("carrier_config", f"carrier {o.carrier.name}: {exc}", where=f"line {o.line.line}",
                               fix="fix the configuration, then `marketd requeue` this file (lines already "
                                   "shipped are not shipped again)")
        crashpoint("shipments_after_carrier_call")  # answer not recorded yet: the in-flight case
        self.ledger.finish(o.key, o.result)
        crashpoint("shipments_after_ledger")
        self.confirm(o)

    def confirm(self, o: Outcome) -> None:
        res = o.result
        if res is None or not res.ok or res.confirmed:
            return
        msgs = o.carrier.confirm(res)
        errors = [m for m in msgs if m.level == "error"]
        if errors:
            cancel = o.carrier.cancel(res)
            res.messages.extend(errors + [m for m in cancel if m.level == "error"])
            self.ledger.finish(o.key, res, ledger_mod.FAILED)
            return
        res.confirmed = True
        self.ledger.finish(o.key, res, ledger_mod.DONE)

    # -- labels ---------------------------------------------------------------------------------
    def labels(self, o: Outcome) -> None:
        n = len(o.result.parcels)
        for i, p in enumerate(o.result.parcels):
            if p.label is None:
                o.label_files.append("")
                if o.carrier.trackable and o.existing is not None:
                    o.note = "label no longer stored (older than label_retention_days): reprint at the carrier"
                continue
            name = f"{self.base}/{o.line.line:04d}-{safe_name(o.line.order_label, 30)}-{i + 1}of{n}{p.label.suffix}"
            try:
                if p.label.format == LabelFormat.PDF:
                    pages = split_pdf_label_pages(p.label.data, per_page=1)  # parsed once
                    data = pages[0][0] if len(pages) == 1 else _merge([d for d, _ in pages])
                    for _, page in pages:
                        self.print_pdf.add_page(page)
                        self.print_pages += 1
                else:
                    blocks = zpl_blocks(p.label.data)
                    data = ("\n".join(blocks) + "\n").encode()
                    self.print_zpl.extend(blocks)
            except LabelError as exc:
                o.label_files.append("")
                o.note = f"label of parcel {i + 1} unusable ({exc}): reprint it at the carrier"
                continue
            self.ctx.output(name, data, private=True)
            o.label_files.append(name)

    # -- outputs --------------------------------------------------------------------------------
    def write_outputs(self, outcomes: list[Outcome]) -> None:
        stem = self.stem
        if self.print_pages:
            with self.ctx.open_output(f"labels/print-{stem}.pdf", private=True, binary=True) as fh:
                self.print_pdf.add_metadata({"/Producer": "marketd", "/Title": f"labels {self.ctx.name}"})
                self.print_pdf.write(fh)
        if self.print_zpl:
            self.ctx.output(f"labels/print-{stem}.zpl", "\n".join(self.print_zpl) + "\n", private=True)
        rows, rejects = [], []
        # "send it again in a new file" means this line only when others of the file shipped
        shipped = sum(1 for o in outcomes if o.status != "rejected")
        others = (f" (only the refused lines: {shipped} other line(s) of this file were shipped)" if shipped
                  else " (no line of this file was shipped)")
        for o in outcomes:
            carrier = o.line.carrier
            order_label = o.line.order_label
            channel = ",".join(sorted({r["channel"] for r in o.orders})) or o.line.channel
            if o.status == "rejected":
                rows.append([o.line.line, order_label, channel, "", "", carrier, o.line.service, "", "", "", "rejected",
                             o.reason, ""])
                fix = o.fix + others if o.fix.endswith("in a new file") else o.fix
                rejects.append([o.line.line, order_label, carrier, o.reason.split(":", 1)[0],
                                o.reason.split(":", 1)[-1].strip(), fix, o.column])
                continue
            # an Amazon Custom item: the packer takes it from the workshop (outbox/custom/<order>/)
            personal = "yes" if any(_personalised(r) for r in o.orders) else ""
            n = len(o.result.parcels) if o.result else 0
            # the parcel's own weight from the file: a carrier that takes one weight per shipment
            # (BRT) prints the total on every label, so this is what tells the packer which is which
            weights = [format(p.weight_kg, "f") for p in o.request.parcels] if o.request else []
            for i, p in enumerate(o.result.parcels if o.result else []):
                label = o.label_files[i] if i < len(o.label_files) else ""
                rows.append([o.line.line, order_label, channel, f"{i + 1}/{n}", weights[i] if i < len(weights) else "",
                             carrier,
                             o.request.service if o.request else o.line.service, p.tracking_number, p.parcel_number,
                             label.split("labels/", 1)[-1] if label else "", o.status, o.note, personal])
        # Private like the labels: reasons can quote recipients (carrier errors, address checks),
        # and order + tracking numbers lead to the buyer.
        self.ctx.output(f"labels/manifest-{stem}.csv", csv_text(MANIFEST_HEADER, rows), private=True)
        if rejects:
            self.ctx.output(f"labels/rejects-{stem}.csv", csv_text(REJECT_HEADER, rejects), private=True)

    # -- store ----------------------------------------------------------------------------------
    def record(self, outcomes: list[Outcome]) -> None:
        """All store writes of the file in one burst at the end (inside the file's transaction)."""
        db = self.ctx.db
        now = self.app.clock.now()
        policy = tracking_policy(self.app)
        ships, parcels, events, pushes = [], [], [], []
        for o in outcomes:
            if o.status == "rejected" or o.existing is not None or o.result is None:
                continue
            res, carrier = o.result, o.carrier
            trackable = bool(carrier.trackable)
            status = TrackingStatus.pending if trackable else TrackingStatus.in_transit
            tn = res.tracking_number
            code, label = carrier.channel_codes(o.line.carrier_code)
            ships.append(shipment_row(
                o.key, now, source="file", file_id=self.ctx.file_id, file_name=self.ctx.name, line=o.line.line,
                carrier=carrier.name, carrier_type=carrier.type, carrier_code=code, carrier_label=label,
                service=o.request.service, label_format=o.request.label_format.value, shipment_id=res.shipment_id,
                tracking_number=tn, tracking_url=res.tracking_url or carrier.tracking_url(tn),
                parcel_count=len(res.parcels), order_keys=[r["key"] for r in o.orders], refs=o.line.orders,
                status=status.value, open=1 if trackable else 0, trackable=int(trackable),
                channel_managed=int(bool(carrier.channel_managed)),
                first_scan_at=None if trackable else now.isoformat(),
                next_check_at=(now + timedelta(seconds=policy.first_check)).isoformat() if trackable else None,
                last_answer="created" if trackable else "tracking number supplied by the ERP", meta=res.meta))
            for i, p in enumerate(res.parcels):
                parcels.append({"shipment_key": o.key, "n": i + 1, "parcel_number": p.parcel_number,
                                "tracking_number": p.tracking_number,
                                "label_file": o.label_files[i] if i < len(o.label_files) else ""})
            events.append(event_row(o.key, now, None, status.value, "created",
                                    f"shipment created with {carrier.name}"))
            if not carrier.channel_managed:
                for order in o.orders:
                    pushes.append(push_row(o.key, order, next_package_ref(self.finder, order["key"], self.package_refs),
                                           now))
        if ships:
            db["shipments"].insert_all(ships, pk="key", replace=True)
        if parcels:
            db["shipment_parcels"].insert_all(parcels, pk=("shipment_key", "n"), replace=True)
        if events:
            db["shipment_events"].insert_all(events)
        if pushes:
            db["shipment_pushes"].insert_all(pushes, pk=("shipment_key", "order_key"), replace=True)


MASK_WHOLE_MAX = 200  # longer personal values are masked word by word only


def _mask(text: str, values: list[str]) -> str:
    """``text`` with each personal value (and each word of 3+ characters of it) replaced by
    ``***``, and e-mail addresses masked wherever they come from.

    Linear in the text: whole values (a bounded number, each at most :data:`MASK_WHOLE_MAX`
    characters) are one case-insensitive pass each, and the words are masked in a single pass
    over the text's words (a set lookup each), however many words the values hold."""
    text = mask_emails(text, "***@***")
    words: set[str] = set()
    whole: set[str] = set()
    for v in values:
        v = (v or "").strip()
        if len(v) < 3:
            continue  # 2-letter province/country codes: too short to mask without mangling words
        if len(v) <= MASK_WHOLE_MAX:
            whole.add(v.lower())
        words.update(w.lower() for w in _WORD.findall(v) if len(w) >= 3)
    for v in sorted(whole, key=len, reverse=True):
        text = re.sub(r"(?<!\w)" + re.escape(v) + r"(?!\w)", "***", text, flags=re.I)
    if words:
        text = _WORD.sub(lambda m: "***" if m.group().lower() in words else m.group(), text)
    return text


_WORD = re.compile(r"\w++")


def _merge(pages: list[bytes]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    for p in pages:
        w.add_page(PdfReader(io.BytesIO(p)).pages[0])
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


__all__ = ["ShipmentsHandler", "idempotency_key"]
