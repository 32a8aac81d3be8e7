"""The partner settlement statement: per brand and month, what the marketplaces paid out for the
brand's orders, the integrator's commission, and the payout to the brand (seeds 000: a sample
statement shows the brand its payout; content and logistics services are billed separately).

Money comes from the settlements plugin (``order_finance`` hook: what each payout moved for each
order); a payout line counts in the month its payout was paid (brand-local). Marketplace fees are
shown by type (marketplace commission, fulfilment/FBA, advertising, other) from the payout lines'
fee subtypes. Commission = rate × (gross − refunds) per platform. Services are listed with their
amounts and **not deducted**. All amounts are Decimal; the statement is not a tax invoice.

A month whose balance is negative pays nothing: the balance is carried into the brand's next
statement ("brought forward", per currency). The carry is stored with the statement's row, in
the transaction that numbers it, so a re-run or a crash after it neither loses nor doubles it;
statements are therefore issued in month order.

Numbered ``PS-<brand>-<year>-<nnnn>`` in the store's write transaction, so a number exists only
with its row. The same data give the same number and the same bytes (dates come from the stored
issue date, never now; ``--verify`` re-renders and compares). Data that changed after issue need
``--reissue``: a new version with a new number that names the one it supersedes; an issued file
is never overwritten.
"""
from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from marketd.sdk import MarketdError, XlsxWorkbook, crashpoint, safe_cell

from . import finance, pdfdoc, sales

CENT = Decimal("0.01")
LOOKBACK_DAYS = 120   # orders bought this long before the month can still be paid out in it

FEE_TYPES, fee_type = finance.FEE_TYPES, finance.fee_type


class StatementError(MarketdError):
    pass


def month_bounds(month: str) -> tuple[date, date]:
    y, m = (int(x) for x in month.split("-"))
    first = date(y, m, 1)
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _paid_day(p: dict, tz) -> date | None:
    text = p.get("paid_at") or p.get("period_end")
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.astimezone(tz).date() if dt.tzinfo else dt.date()


def collect(app, bid: str, brand, month: str) -> dict:
    """The statement's figures, as text (Decimal rendered), in a stable order."""
    first, last = month_bounds(month)
    db = app.store.db
    ls = [ln for ln in sales.lines(db, bid, first - timedelta(days=LOOKBACK_DAYS), last, brand.tz)]
    keys = sorted({ln.order_key for ln in ls})
    answer = (app.hook.order_finance(app=app, order_keys=keys, refs=[]) or {}) if keys else {}
    share = finance.shares(db, ls)
    platform = {ln.order_key: ln.platform for ln in ls}
    mix = _category_mix(db, bid, brand, ls)
    per = defaultdict(lambda: {f: Decimal(0) for f in finance.FIELDS} | {k: Decimal(0) for k, _ in FEE_TYPES}
                      | {"orders": set(), "payouts": set(), "commission": Decimal(0), "rates": set(),
                         "subtypes": defaultdict(Decimal)})
    for key in keys:
        for p in (answer.get(key) or {}).get("payouts", []):
            day = _paid_day(p, brand.tz)
            if day is None or not (first <= day <= last):
                continue
            a = per[(platform[key], p["currency"])]
            a["orders"].add(key)
            a["payouts"].add(p.get("payout_id") or "")
            got = {}
            for f in finance.FIELDS:
                amount = Decimal(p.get(f) or "0")
                got[f] = amount if share[key] == 1 else (amount * share[key]).quantize(CENT, ROUND_HALF_EVEN)
                a[f] += got[f]
            typed = Decimal(0)
            for fee in p.get("fees") or []:
                if fee.get("category") != "marketplace_fee":
                    continue
                amount = Decimal(fee.get("amount") or "0")
                amount = amount if share[key] == 1 else (amount * share[key]).quantize(CENT, ROUND_HALF_EVEN)
                kind = fee_type(fee.get("subtype"))
                a["subtypes"][(kind, fee.get("subtype") or "")] += amount
                if kind != "fee_other":
                    a[kind] += amount
                    typed += amount
            # "other" is what the typed fees leave of the total: the types always add up to it
            a["fee_other"] += got["marketplace_fee"] - typed
            # commission = rate x (gross + refunds), each SKU of the order at its own rate
            for weight, rate in mix[key]:
                a["commission"] += (got["revenue"] + got["refund"]) * weight * rate / 100
                a["rates"].add(rate)
    rows, fee_rows = [], []
    totals = defaultdict(lambda: defaultdict(Decimal))
    for (plat, cur), a in sorted(per.items()):
        commission = a["commission"].quantize(CENT, ROUND_HALF_EVEN)
        settled = sum((a[f] for f in finance.FIELDS), Decimal(0))
        payout = settled - commission
        rates = sorted(a["rates"])
        row = {"platform": plat, "currency": cur, "orders": len(a["orders"]),
               "payouts": ", ".join(sorted(x for x in a["payouts"] if x)),
               "gross": a["revenue"], "refunds": a["refund"], "marketplace_fees": a["marketplace_fee"],
               **{k: a[k] for k, _ in FEE_TYPES},
               "shipping_labels": a["shipping_label"], "promotions": a["promotion"],
               "withheld_tax": a["withheld_tax"], "other": a["other"],
               "commission_rate": " / ".join(format(r, "f") for r in rates) or format(brand.commission_rate(plat), "f"),
               "commission": -commission, "payout": payout}
        rows.append(row)
        for (kind, sub), amount in sorted(a["subtypes"].items()):
            fee_rows.append({"platform": plat, "currency": cur, "type": kind[4:], "subtype": sub or "(none)",
                             "amount": amount})
        for k, _ in LINES:
            totals[cur][k] += row[k]
    prev = brought_forward(db, bid, month)
    for cur, amount in (prev["carry"] if prev else {}).items():
        totals[cur]["brought_forward"] += amount
    for t in totals.values():
        t["balance"] = t["payout"] + t["brought_forward"]       # what the month leaves the brand, carry included
        t["payout"] = max(t["balance"], Decimal(0))
        t["carried_forward"] = min(t["balance"], Decimal(0))
    services = [{"kind": k, "description": d, "amount": Decimal(a), "currency": c} for k, d, a, c in db.execute(
        "select kind, description, amount, currency from brand_services where brand=? and month=? order by id",
        [bid, month])]
    return {"brand": bid, "name": brand.name, "month": month, "from": first.isoformat(), "to": last.isoformat(),
            "rows": rows, "fees": fee_rows, "totals": {c: dict(v) for c, v in sorted(totals.items())},
            "brought_forward_from": prev["doc_no"] if prev else None, "services": services,
            "finance_available": finance.available(app)}


def brought_forward(db, bid: str, month: str) -> dict | None:
    """The carry of the brand's latest statement for an earlier month: ``{"doc_no", "carry":
    {currency: Decimal}}`` (None when there is none, or it carried nothing)."""
    r = db.execute("select doc_no, carry_out from statements where brand=? and month<? order by month desc, "
                   "version desc limit 1", [bid, month]).fetchone()
    if not r or not r[1]:
        return None
    carry = {c: Decimal(v) for c, v in json.loads(r[1]).items() if Decimal(v) != 0}
    return {"doc_no": r[0], "carry": carry} if carry else None


def _category_mix(db, bid: str, brand, ls) -> dict[str, list[tuple[Decimal, Decimal]]]:
    """Per order: (weight, rate) of each of the brand's lines, weight = the line's part of the
    brand's gross in the order (the catalog's ``category`` column picks a category rate)."""
    cats = {}
    if brand.commission_by_category and "products" in db.table_names():
        cats = dict(db.execute("select p.sku, json_extract(p.attributes, '$.category') from products p "
                               "join brand_skus b on b.sku = p.sku where b.brand = ? and json_valid(p.attributes)",
                               [bid]))
    gross, count = defaultdict(Decimal), defaultdict(int)
    for ln in ls:
        gross[ln.order_key] += ln.gross
        count[ln.order_key] += 1
    out = defaultdict(list)
    for ln in ls:
        total = gross[ln.order_key]
        weight = Decimal(1) / count[ln.order_key] if total == 0 else ln.gross / total
        out[ln.order_key].append((weight, brand.commission_rate(ln.platform, cats.get(ln.sku))))
    return out


def _canon(data: dict) -> str:
    def enc(o):
        if isinstance(o, Decimal):
            return format(o, "f")
        raise TypeError(type(o))

    return json.dumps(data, default=enc, sort_keys=True, separators=(",", ":"))


def _m(d: Decimal) -> str:
    return format(d.quantize(CENT), ",.2f")


LINES = [("gross", "Gross sales"), ("refunds", "Refunds"), ("marketplace_fees", "Marketplace fees"), *FEE_TYPES,
         ("shipping_labels", "Shipping labels"), ("promotions", "Promotions"), ("withheld_tax", "Tax withheld"),
         ("other", "Other"), ("commission", "Integrator commission"), ("payout", "Balance for the brand")]


def render_pdf(data: dict, doc_no: str, issued: date, tz, supersedes: str | None) -> bytes:
    pdf = pdfdoc.new(datetime.combine(issued, time(0), tz), f"Statement {doc_no}")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, f"Partner settlement statement {doc_no}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    for text in (f"Brand: {data['name']}", f"Period: {data['from']} to {data['to']}", f"Issued: {issued.isoformat()}",
                 "Not a tax invoice. Commission is invoiced separately."
                 + (f" Supersedes {supersedes}." if supersedes else "")):
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    if not data["finance_available"]:
        pdf.cell(0, 6, "No settlement data source is loaded: amounts are missing.", new_x="LMARGIN", new_y="NEXT")
    for r in data["rows"]:
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 7, f"{r['platform']} ({r['currency']}): {r['orders']} orders, commission {r['commission_rate']} %",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=10)
        for key, label in LINES:
            pdf.cell(90, 6, label)
            pdf.cell(40, 6, _m(r[key]), align="R", new_x="LMARGIN", new_y="NEXT")
    for cur, t in data["totals"].items():
        pdf.ln(3)
        pdf.set_font("DejaVu", size=10)
        month_balance = t["balance"] - t["brought_forward"]
        pdf.cell(90, 6, f"Balance this month ({cur})")
        pdf.cell(40, 6, _m(month_balance), align="R", new_x="LMARGIN", new_y="NEXT")
        if data["brought_forward_from"] and t["brought_forward"]:
            pdf.cell(90, 6, f"Brought forward from {data['brought_forward_from']}")
            pdf.cell(40, 6, _m(t["brought_forward"]), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(90, 7, f"Payout to the brand, total ({cur})")
        pdf.cell(40, 7, _m(t["payout"]), align="R", new_x="LMARGIN", new_y="NEXT")
        if t["carried_forward"]:
            pdf.set_font("DejaVu", size=10)
            pdf.cell(90, 6, "Carried forward to the next statement")
            pdf.cell(40, 6, _m(t["carried_forward"]), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, "Services billed separately (not deducted)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    if not data["services"]:
        pdf.cell(0, 6, "none this month", new_x="LMARGIN", new_y="NEXT")
    for s in data["services"]:
        pdf.cell(40, 6, s["kind"])
        pdf.cell(90, 6, s["description"][:60])
        pdf.cell(40, 6, f"{_m(s['amount'])} {s['currency']}", align="R", new_x="LMARGIN", new_y="NEXT")
    return pdfdoc.output(pdf, doc_no + _canon(data))


def render_xlsx(data: dict, doc_no: str, issued: date, tz, supersedes: str | None) -> bytes:
    buf = io.BytesIO()
    wb = XlsxWorkbook(buf, created=datetime.combine(issued, time(0), tz))
    a = wb.sheet("Statement")
    for row in (["statement", doc_no], ["brand", safe_cell(data["name"])], ["from", data["from"]], ["to", data["to"]],
                ["issued", issued.isoformat()], ["supersedes", supersedes or ""], ["note", "not a tax invoice"]):
        a.append(row)
    s = wb.sheet("By platform")
    s.header(["platform", "currency", "orders", "payouts", "commission_rate"] + [k for k, _ in LINES])
    for r in data["rows"]:
        s.append([r["platform"], r["currency"], r["orders"], safe_cell(r["payouts"]), r["commission_rate"]]
                 + [r[k].quantize(CENT) for k, _ in LINES])
    t = wb.sheet("Totals")
    t.header(["currency", "balance_this_month", "brought_forward", "brought_forward_from", "payout",
              "carried_forward"])
    for cur, x in data["totals"].items():
        t.append([cur, (x["balance"] - x["brought_forward"]).quantize(CENT), x["brought_forward"].quantize(CENT),
                  data["brought_forward_from"] or "", x["payout"].quantize(CENT), x["carried_forward"].quantize(CENT)])
    f = wb.sheet("Fees by type")
    f.header(["platform", "currency", "type", "fee_subtype", "amount"])
    for x in data["fees"]:
        f.append([x["platform"], x["currency"], x["type"], safe_cell(x["subtype"]), x["amount"].quantize(CENT)])
    v = wb.sheet("Services")
    v.header(["kind", "description", "amount", "currency", "deducted"])
    for x in data["services"]:
        v.append([x["kind"], safe_cell(x["description"]), x["amount"].quantize(CENT), x["currency"], "no"])
    wb.close()
    return buf.getvalue()


def issue(app, bid: str, brand, month: str, *, reissue: bool = False) -> dict:
    """Issue (or re-render) the month's statement; returns its number, version and files."""
    data = collect(app, bid, brand, month)
    digest = hashlib.sha256(_canon(data).encode()).hexdigest()
    today = app.clock.now().astimezone(brand.tz).date()
    with app.store.transaction() as db:
        last = db.execute("select version, doc_no, data_sha256, issued_at from statements where brand=? and month=? "
                          "order by version desc limit 1", [bid, month]).fetchone()
        if last and last[2] == digest:
            version, doc_no, issued, supersedes, new = last[0], last[1], date.fromisoformat(last[3]), None, False
            prev = db.execute("select supersedes from statements where doc_no=?", [doc_no]).fetchone()
            supersedes = prev[0] if prev else None
        elif not last and (later := db.execute(
                "select doc_no, month from statements where brand=? and month>? order by month limit 1",
                [bid, month]).fetchone()):
            raise StatementError(f"{later[0]} for {bid} {later[1]} is issued already: statements are issued in "
                                 f"month order (a negative balance is carried into the next one), so {month} "
                                 "cannot be issued after it")
        elif last and not reissue:
            raise StatementError(f"statement {last[1]} for {bid} {month} was issued from other data (a settlement "
                                 "arrived since?): use --reissue to issue a new version that supersedes it")
        else:
            year = month[:4]
            n = db.execute("select count(*) from statements where brand=? and substr(month, 1, 4)=?",
                           [bid, year]).fetchone()[0]
            version = (last[0] + 1) if last else 1
            doc_no, issued, supersedes, new = f"PS-{bid}-{year}-{n + 1:04d}", today, (last[1] if last else None), True
        pdf = render_pdf(data, doc_no, issued, brand.tz, supersedes)
        xlsx = render_xlsx(data, doc_no, issued, brand.tz, supersedes)
        ph, xh = hashlib.sha256(pdf).hexdigest(), hashlib.sha256(xlsx).hexdigest()
        if new:
            carry = {c: format(t["carried_forward"].quantize(CENT), "f") for c, t in data["totals"].items()
                     if t["carried_forward"]}
            db.execute("insert into statements (brand, month, version, doc_no, data_sha256, pdf_sha256, xlsx_sha256, "
                       "issued_at, supersedes, carry_out) values (?,?,?,?,?,?,?,?,?,?)",
                       [bid, month, version, doc_no, digest, ph, xh, issued.isoformat(), supersedes,
                        json.dumps(carry, sort_keys=True) if carry else None])
        else:
            stored = db.execute("select pdf_sha256, xlsx_sha256 from statements where doc_no=?", [doc_no]).fetchone()
            if tuple(stored) != (ph, xh):
                raise StatementError(f"{doc_no}: the same data rendered to other bytes (a library upgrade?); the "
                                     "issued files are kept unchanged")
    crashpoint("brands.statement.after_commit")    # numbered and carried, files not yet written
    paths = []
    for ext, content in (("pdf", pdf), ("xlsx", xlsx)):
        rel = f"brands/{bid}/statements/{doc_no}.{ext}"
        final = app.outbox.final_path(rel)
        if not final.exists():   # an issued file is never overwritten
            app.outbox.write(rel, content, private=True)
        paths.append(str(final))
    return {"doc_no": doc_no, "version": version, "new": new, "outputs": paths, "data_sha256": digest,
            "pdf_sha256": ph, "xlsx_sha256": xh, "totals": data["totals"]}


def verify(app, bid: str, brand, month: str) -> list[str]:
    """Re-render every issued version from today's data; the problems found (empty: all identical)."""
    data = collect(app, bid, brand, month)
    problems = []
    for version, doc_no, dsha, psha, xsha, issued, sup in app.store.db.execute(
            "select version, doc_no, data_sha256, pdf_sha256, xlsx_sha256, issued_at, supersedes from statements "
            "where brand=? and month=? order by version", [bid, month]):
        if hashlib.sha256(_canon(data).encode()).hexdigest() != dsha:
            problems.append(f"{doc_no}: the data changed since it was issued")
            continue
        d = date.fromisoformat(issued)
        if hashlib.sha256(render_pdf(data, doc_no, d, brand.tz, sup)).hexdigest() != psha:
            problems.append(f"{doc_no}: the PDF renders to other bytes")
        if hashlib.sha256(render_xlsx(data, doc_no, d, brand.tz, sup)).hexdigest() != xsha:
            problems.append(f"{doc_no}: the XLSX renders to other bytes")
        for ext, sha in (("pdf", psha), ("xlsx", xsha)):
            f = app.outbox.final_path(f"brands/{bid}/statements/{doc_no}.{ext}")
            if f.exists() and hashlib.sha256(f.read_bytes()).hexdigest() != sha:
                problems.append(f"{doc_no}: {f.name} on disk differs from what was issued")
    return problems


def add_service(app, bid: str, month: str, kind: str, description: str, amount: str, currency: str) -> None:
    try:
        value = Decimal(amount)
    except Exception:
        raise StatementError(f"amount {amount!r} is not a number (write 120.00)") from None
    if not value.is_finite():
        raise StatementError(f"amount {amount!r} is not a number")
    month_bounds(month)
    with app.store.transaction() as db:
        db.execute("insert into brand_services (brand, month, kind, description, amount, currency, recorded_at) "
                   "values (?,?,?,?,?,?,?)", [bid, month, kind, description, format(value, "f"), currency,
                                              app.clock.now().isoformat()])
