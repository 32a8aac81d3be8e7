"""Seed inputs per format, built from the samples the tests already use: ``tests/samples.py``
(catalogs), ``tests/amazon/settlement_samples.py`` (settlements V1/V2 in their real styles) and
``config/examples/`` (shipments CSV/JSON, tracking CSV).

A seed is a function of (random generator, unique number): settlements get a fresh
settlement-id per input, so a mutated copy is parsed instead of being taken for the settlement
an earlier input already applied.
"""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

from tests.amazon import settlement_samples as st
from tests.samples import catalog_csv, catalog_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
CATALOG_COLUMNS = ["sku", "ean", "title", "brand", "price", "currency", "stock", "color"]


# -- catalog -----------------------------------------------------------------------------------------
def catalog_csv_seed(rnd: random.Random, uid: int) -> bytes:
    n = rnd.choice((1, 3, 8, 25))
    delimiter, decimal = rnd.choice(((",", "."), (";", ","), ("\t", "."), (";", "."), ("|", ".")))
    header_map = rnd.choice((None, {"price": "Preis", "stock": "Bestand", "ean": "EAN"}, {"sku": "SKU "}))
    text = catalog_csv(n, start=uid * 50, delimiter=delimiter, decimal=decimal, seed=uid, header_map=header_map)
    return text.encode(rnd.choice(("utf-8", "utf-8", "cp1252", "utf-8-sig")), "replace")


def catalog_table(rnd: random.Random, uid: int) -> list[list]:
    rows = [list(CATALOG_COLUMNS)]
    for r in catalog_rows(rnd.choice((1, 3, 8, 25)), start=uid * 50, seed=uid):
        row = [r[c] for c in CATALOG_COLUMNS]
        if rnd.random() < 0.5:  # spreadsheets hold numbers as numbers
            row[4], row[6] = float(r["price"]), int(r["stock"])
        if rnd.random() < 0.3:
            row[1] = int(r["ean"])
        rows.append(row)
    return rows


def xlsx_bytes(rows: list[list]) -> bytes:
    """A real workbook (XlsxWriter, as an ERP export would be) holding ``rows`` on its first sheet."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": True, "strings_to_numbers": False,
                                     "nan_inf_to_errors": True})
    sheet = book.add_worksheet("Artikel")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):  # a workbook is UTF-8 XML: a lone surrogate cannot be in one
                value = value.encode("utf-8", "replace").decode("utf-8")
            try:
                sheet.write(r, c, value)
            except Exception:  # a value XlsxWriter itself refuses: as text
                sheet.write_string(r, c, str(value))
    book.close()
    return buf.getvalue()


# -- settlements -------------------------------------------------------------------------------------
def _settlement(rnd: random.Random, uid: int) -> st.Settlement:
    s = st.basic_settlement(settlement_id=str(24_000_000_000 + uid))
    if rnd.random() < 0.3:
        s.lines += st.mcf_lines() + [st.fba_shipment_fee_line()]
    if rnd.random() < 0.2:
        s.total = s.computed + st.D("0.01")  # an inconsistent file: still a clean outcome
    return s


def settlement_v2_seed(rnd: random.Random, uid: int) -> bytes:
    decimal = rnd.choice((".", ","))
    return st.render_v2(_settlement(rnd, uid), columns=rnd.choice((23, 24)), decimal=decimal,
                        thousands=rnd.random() < 0.3, dates=rnd.choice(st.DATE_STYLES), pad=rnd.random() < 0.2,
                        encoding=rnd.choice(("utf-8", "cp1252")), bom=rnd.random() < 0.2,
                        newline=rnd.choice(("\n", "\r\n")), trailing_blank=rnd.random() < 0.2)


def settlement_v1_seed(rnd: random.Random, uid: int) -> bytes:
    s = st.basic_settlement(settlement_id=str(23_000_000_000 + uid))
    return st.render_v1(s, decimal=rnd.choice((".", ",")), dates=rnd.choice(("iso", "utc", "dmy")),
                        pad=rnd.random() < 0.2, encoding=rnd.choice(("utf-8", "cp1252")), bom=rnd.random() < 0.2,
                        newline=rnd.choice(("\n", "\r\n")), quantity_rows=rnd.random() < 0.8)


# -- shipments and tracking ----------------------------------------------------------------------------
# Orders the fuzz instance's store holds (the examples' order numbers): lines may take the recipient
# from the stored order.
ORDERS = [("amazon-it", "402-1234567-1234567"), ("amazon-it", "402-7654321-7654321"),
          ("amazon-it", "171-5550001-0000001"), ("amazon-it", "402-1111111-2222222"), ("mall-cz", "32100001")]

SHIPMENT_COLUMNS = ["order", "channel", "carrier", "parcel_count", "weight_kg", "length_cm", "width_cm", "height_cm",
                    "recipient", "recipient_name", "recipient_street", "recipient_zip", "recipient_city",
                    "recipient_country", "recipient_phone", "cod_amount", "cod_currency", "tracking_number",
                    "carrier_code"]


def _manual_line(rnd: random.Random, uid: int, k: int) -> dict:
    parcels = rnd.choice((1, 1, 2))
    channel, order = rnd.choice(ORDERS) if rnd.random() < 0.6 else ("", f"ERP-{uid}-{k}")
    line = {"order": order, "channel": channel, "carrier": "erp", "parcel_count": str(parcels),
            "weight_kg": "|".join(rnd.choice(("0.8", "1,5", "2", "12.25")) for _ in range(parcels)),
            "tracking_number": "|".join(f"JJD{uid:06d}{k}{p}" for p in range(parcels)), "carrier_code": "DHL",
            "recipient": "order" if channel and rnd.random() < 0.5 else ""}
    if not line["recipient"]:
        line.update(recipient_name="Anna Bianchi", recipient_street="Via Verdi 3", recipient_zip="20121",
                    recipient_city="Milano", recipient_country="IT", recipient_phone="+39021234567")
    if rnd.random() < 0.2:
        line.update(cod_amount=rnd.choice(("49.90", "49,90")), cod_currency="EUR")
    return line


def shipments_csv_seed(rnd: random.Random, uid: int) -> bytes:
    if rnd.random() < 0.3:
        return (EXAMPLES / "shipments.csv").read_bytes()
    delimiter = rnd.choice((",", ";"))
    lines = [_manual_line(rnd, uid, k) for k in range(rnd.choice((1, 2, 5)))]
    out = [delimiter.join(SHIPMENT_COLUMNS)] + [delimiter.join(ln.get(c, "") for c in SHIPMENT_COLUMNS) for ln in lines]
    return ("\n".join(out) + "\n").encode("utf-8")


def shipments_json_seed(rnd: random.Random, uid: int) -> bytes:
    if rnd.random() < 0.3:
        return (EXAMPLES / "shipments.json").read_bytes()
    shipments = []
    for k in range(rnd.choice((1, 2, 5))):
        ln = _manual_line(rnd, uid, k)
        weights = ln["weight_kg"].split("|")
        item = {"order": ln["order"], "carrier": "erp", "tracking_number": ln["tracking_number"],
                "carrier_code": "DHL", "parcels": [{"weight_kg": w} for w in weights]}
        if ln["channel"]:
            item["channel"] = ln["channel"]
        if ln["recipient"] == "order":
            item["recipient"] = "order"
        else:
            item["recipient"] = {"name": "Anna Bianchi", "street": "Via Verdi 3", "zip": "20121", "city": "Milano",
                                 "country": "IT", "phone": "+39021234567"}
        if "cod_amount" in ln:
            item["cod"] = {"amount": ln["cod_amount"], "currency": "EUR"}
        shipments.append(item)
    doc = {"shipments": shipments} if rnd.random() < 0.7 else shipments
    return json.dumps(doc, indent=rnd.choice((None, 2)), ensure_ascii=rnd.random() < 0.5).encode("utf-8")


def tracking_csv_seed(rnd: random.Random, uid: int) -> bytes:
    if rnd.random() < 0.4:
        return (EXAMPLES / "tracking.csv").read_bytes()
    rows = ["order,channel,carrier,tracking_number,service,ship_date,status,tracking_url"]
    for k in range(rnd.choice((1, 3, 6))):
        channel, order = rnd.choice(ORDERS)
        rows.append(",".join((order, channel, rnd.choice(("DHL", "GLS", "UPS")), f"TRK{uid:07d}{k}", "",
                              rnd.choice(("2026-11-02", "2026-11-02T16:30:00+01:00", "02.11.2026", "")),
                              rnd.choice(("shipped", "delivered", "", "returned")), "")))
    return ("\n".join(rows) + "\n").encode("utf-8")
