"""The settlement flat-file parser: every layout, number, date and encoding variant of
research/settlement-formats.md, and the files it must refuse (with line and column)."""
from __future__ import annotations

import gzip
import io
import zipfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from marketd.errors import FileRejected
from marketd.plugins.amazon.settlement_mapper import classify, classify_amount
from marketd.plugins.amazon.settlement_parser import parse_date, parse_settlement, peek_settlement_id

from .settlement_samples import (T0, V1_COLUMNS_33, V1_COLUMNS_36, V2_COLUMNS_23, V2_COLUMNS_24, D,
                                 Settlement, fba_shipment_fee_line, join_rows, line_of, mcf_lines,
                                 order_lines, other_line, refund_lines, render_v1, render_v2, reorder_columns,
                                 set_cell, split_rows)

UTC = timezone.utc
NL = b"\n"


def amounts(p) -> list[Decimal]:
    return [p.to_decimal(u) for u in p.rows["units"].tolist()]


def descriptions(p) -> list[tuple[str, str, str]]:
    return list(zip(p.rows["transaction-type"], p.rows["amount-type"], p.rows["amount-description"]))


def rich(promotion: bool = True) -> Settlement:
    """Orders (FBA fee, digital services fee, withheld tax, promotion), a refund, MCF, an FBA
    shipment fee, account-level rows, a reserve and one row of a type nobody has seen."""
    lines = (order_lines("302-1111111-1111111", principal="29.99", shipping="4.90",
                         promotion="-4.90" if promotion else None,
                         digital_services_fee="-0.45", sku="SKU-A")
             + order_lines("302-2222222-2222222", principal="1234.56", shipping="0", fba_fee="-3.22",
                           withheld="-2.10", fulfillment="AFN", sku="SKU-B", item_code="52183016457099")
             + refund_lines("302-1111111-1111111", principal="-29.99", commission_back="4.50",
                            refund_commission="-0.90", sku="SKU-A")
             + mcf_lines()
             + [fba_shipment_fee_line(),
                other_line("Storage Fee", "-7.21"), other_line("Subscription Fee", "-39.00"),
                other_line("Current Reserve Amount", "-120.00"), other_line("Previous Reserve Amount Balance", "95.5"),
                other_line("Brand New Thing", "1.11", transaction_type="NewTransactionType", amount_type="Mystery")])
    return Settlement(lines=lines)


# -- layouts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("columns, expected", [(24, V2_COLUMNS_24), (23, V2_COLUMNS_23)])
def test_v2_23_and_24_columns_payout_adds_up_exactly(columns, expected):
    s = rich()
    p = parse_settlement(render_v2(s, columns=columns))
    assert p.layout == "v2" and p.columns == expected
    assert p.settlement_id == "24288684721" and p.currency == "EUR"
    assert p.total == s.total_amount == D("955.28") and p.computed_total == p.total and p.difference == 0
    assert len(p.rows) == len(s.lines) and p.transaction_rows == len(s.lines)
    assert amounts(p) == [ln.amount for ln in s.lines]
    assert isinstance(p.total, Decimal) and all(isinstance(a, Decimal) for a in amounts(p))
    # every row is kept, the unknown one too
    assert ("NewTransactionType", "Mystery", "Brand New Thing") in descriptions(p)


def test_columns_are_found_by_name_in_any_order_and_extra_columns_are_ignored():
    s = rich()
    plain = parse_settlement(render_v2(s))
    cols = list(reversed(V2_COLUMNS_24))
    shuffled = reorder_columns(render_v2(s, extra_columns=["new-amazon-column"]), cols[:5] + ["new-amazon-column"]
                               + cols[5:])
    p = parse_settlement(shuffled)
    assert p.columns[0] == "promotion-id" and len(p.columns) == 25
    assert p.total == plain.total and amounts(p) == amounts(plain)
    assert list(p.rows["order-id"]) == list(plain.rows["order-id"])
    assert list(p.rows["posted"]) == list(plain.rows["posted"])


def test_header_names_are_normalised():
    data = render_v2(rich())
    head, rest = data.split(b"\n", 1)
    head = head.upper().replace(b"-", b"_").replace(b"\tAMOUNT\t", b"\t Amount \t")
    p = parse_settlement(head + b"\n" + rest)
    assert p.layout == "v2" and p.difference == 0


@pytest.mark.parametrize("columns", [36, 33])
def test_v1_archived_layout_is_unfolded_into_amount_rows(columns):
    s = rich(promotion=columns == 36)  # the 33-column layout has no promotion columns
    total = D("955.28") if columns == 36 else D("960.18")
    data = render_v1(s, columns=columns)
    rows = split_rows(data)
    assert rows[0] == (V1_COLUMNS_36 if columns == 36 else V1_COLUMNS_33)
    # real V1 files: dates and currency only on the summary row, quantity-only rows per item
    assert all(r[rows[0].index("currency")] == "" for r in rows[2:])
    assert any(r[rows[0].index("quantity-purchased")] == "1" and r[rows[0].index("price-amount")] == "" for r in rows[2:])
    p = parse_settlement(data)
    assert p.layout == "v1" and len(p.columns) == columns
    assert p.currency == "EUR"  # from the summary row only
    assert p.total == total and p.computed_total == p.total
    assert len(p.rows) == len(s.lines)  # quantity-only rows carry no amount
    assert p.transaction_rows > len(s.lines)
    assert sorted(amounts(p)) == sorted(ln.amount for ln in s.lines)
    got = set(descriptions(p))
    assert ("Order", "ItemPrice", "Principal") in got and ("Order", "ItemFees", "Commission") in got
    assert ("Refund", "ItemFees", "RefundCommission") in got
    # V1 other-transaction rows: the description is the transaction-type, the amount in other-amount
    assert ("Storage Fee", "other-transaction", "Storage Fee") in got
    if columns == 36:
        assert ("Order", "Promotion", "Principal") in got
    start = datetime(2026, 8, 3, 22, 7, 18, tzinfo=UTC)
    assert p.start == start and p.end == start + timedelta(days=14) and p.deposit == start + timedelta(days=16)


def test_v1_33_columns_without_promotions_still_balances_when_the_file_has_none():
    s = Settlement(lines=order_lines("302-1111111-1111111") + [other_line("Storage Fee", "-1.00")])
    p = parse_settlement(render_v1(s, columns=33))
    assert p.difference == 0 and len(p.rows) == len(s.lines)


def test_v1_transaction_rows_without_any_amount_are_not_counted_but_do_not_break_the_sum():
    s = Settlement(lines=order_lines("302-1111111-1111111", principal="10.00", shipping="0"))
    data = render_v1(s)
    p = parse_settlement(data)
    assert p.total == D("8.50") and p.difference == 0 and p.transaction_rows == 3 and len(p.rows) == 2


# -- the summary row and currency ------------------------------------------------------------------
def test_currency_only_on_the_summary_row_in_v2_too():
    p = parse_settlement(render_v2(rich(), currency_on_rows=False))
    assert p.currency == "EUR" and p.warnings == []


def test_currency_only_on_the_rows_is_taken_from_them():
    data = set_cell(render_v2(rich()), 2, "currency", "")
    p = parse_settlement(data)
    assert p.currency == "EUR"


def test_rows_in_another_currency_are_reported_when_the_summary_row_has_none():
    s = rich()
    data = set_cell(render_v2(s), 2, "currency", "")
    data = set_cell(data, line_of(data, "Storage Fee"), "currency", "GBP")
    p = parse_settlement(data)
    assert p.currency == "EUR" and any("GBP" in w for w in p.warnings)


def test_negative_payout_and_zero_payout():
    s = Settlement(lines=[other_line("Payable to Amazon", "-321.69"), other_line("Successful charge", "0")])
    p = parse_settlement(render_v2(s))
    assert p.total == D("-321.69") and p.difference == 0
    s = Settlement(lines=[other_line("Current Reserve Amount", "-5.00"), other_line("Previous Reserve Amount Balance", "5")])
    assert parse_settlement(render_v2(s)).total == 0


def test_inconsistent_settlement_reports_the_exact_difference():
    s = rich()
    s.total = s.computed + D("12.34")  # Amazon left a line out
    p = parse_settlement(render_v2(s))
    assert p.computed_total == D("955.28") and p.total == D("967.62")
    assert p.difference == D("-12.34")


# -- amounts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("decimal, thousands, pad, sep", [
    (".", False, False, "."), (",", False, False, ","), (",", True, False, ","), (".", True, False, "."),
    (".", False, True, "."), (",", True, True, ","),
])
def test_decimal_styles_are_decided_per_file(decimal, thousands, pad, sep):
    s = rich()
    data = render_v2(s, decimal=decimal, thousands=thousands, pad=pad)
    if thousands:
        assert (b"1.234,56" if decimal == "," else b"1,234.56") in data
    if pad:
        assert b"32.09    " not in data and b"    \t" in data  # padded cells
    p = parse_settlement(data)
    assert p.decimal_sep == sep
    assert amounts(p) == [ln.amount for ln in s.lines]
    assert D("1234.56") in amounts(p) and p.total == D("955.28") and p.difference == 0


def test_v1_decimal_comma_and_padding():
    s = rich()
    p = parse_settlement(render_v1(s, decimal=",", pad=True))
    assert p.decimal_sep == "," and p.difference == 0 and sorted(amounts(p)) == sorted(ln.amount for ln in s.lines)


def test_configured_decimal_separator_wins():
    s = Settlement(lines=[other_line("Storage Fee", "-1.234"), other_line("Storage Fee", "2.5")])
    # "-1,234" alone is ambiguous; the inbox says the file uses decimal comma
    data = render_v2(s, decimal=",")
    p = parse_settlement(data, {"decimal": ","})
    assert amounts(p) == [D("-1.234"), D("2.5")] and p.total == D("1.266") and p.scale == 3


def test_sums_are_exact_where_floats_are_not():
    lines = [other_line("Storage Fee", "0.10") for _ in range(3)] + [other_line("Storage Fee", "-0.30")]
    assert sum(float(ln.amount) for ln in lines) != 0.0  # the trap
    p = parse_settlement(render_v2(Settlement(lines=lines)))
    assert p.computed_total == Decimal("0.00") and p.difference == 0


def test_amounts_without_decimals_and_more_decimals_in_one_file():
    lines = [other_line("Storage Fee", "1234"), other_line("Storage Fee", "-0.005"), other_line("Storage Fee", "1.5")]
    s = Settlement(lines=lines, currency="JPY")
    data = render_v2(s).replace(b"\t1234.00\t", b"\t1234\t")
    p = parse_settlement(data)
    assert amounts(p) == [D("1234"), D("-0.005"), D("1.5")] and p.difference == 0


def test_empty_amount_counts_as_zero_with_a_warning():
    s = Settlement(lines=[other_line("Storage Fee", "-1.00"), other_line("Storage Fee", "0")])
    data = render_v2(s)
    data = set_cell(data, 4, "amount", "")
    p = parse_settlement(data)
    assert p.difference == 0 and any("no amount" in w for w in p.warnings)


# -- dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("style, summary_text, with_time", [
    ("utc", "2026-08-03 22:07:18 UTC", True),
    ("iso", "2026-08-03T22:07:18+00:00", True),
    ("dmy", "03.08.2026 22:07:18 UTC", True),
    ("dmy_date", "03.08.2026", False),
    ("mdy", "08/03/26", False),
])
def test_date_styles(style, summary_text, with_time):
    s = rich()
    data = render_v2(s, dates=style, decimal="," if style.startswith("dmy") else ".")
    assert summary_text.encode() in split_rows(data)[1][1].encode()
    p = parse_settlement(data)
    start = T0 if with_time else datetime(2026, 8, 3, tzinfo=UTC)
    assert p.start == start and p.start.tzinfo is not None
    assert p.end.date() == (T0 + timedelta(days=14)).date() and p.deposit.date() == (T0 + timedelta(days=16)).date()
    # posted-date-time keeps the time in every style (DD.MM.YYYY HH:MM:SS UTC for the dotted ones)
    assert p.rows["posted"].tolist() == [int(ln.posted.timestamp()) for ln in s.lines]


def test_iso_offsets_are_converted_to_utc():
    s = rich()
    data = render_v2(s, dates="iso")
    data = set_cell(data, 2, "settlement-start-date", "2026-08-03T15:07:18-07:00")
    line = line_of(data, "Storage Fee")
    data = set_cell(data, line, "posted-date-time", "2026-08-10T00:30:00+02:00")
    p = parse_settlement(data)
    assert p.start == T0
    row = p.rows[p.rows["amount-description"] == "Storage Fee"].iloc[0]
    assert row["posted"] == int(datetime(2026, 8, 9, 22, 30, tzinfo=UTC).timestamp())


def test_slash_dates_day_first_when_the_values_say_so():
    s = rich()
    data = render_v2(s, dates="mdy")
    rows = split_rows(data)
    for c in ("settlement-start-date", "settlement-end-date", "deposit-date"):
        i = rows[0].index(c)
        m, d, y = rows[1][i].split("/")
        rows[1][i] = f"{d}/{m}/{y}"
    p = parse_settlement(join_rows(rows))
    assert p.start == datetime(2026, 8, 3, tzinfo=UTC) and p.end == datetime(2026, 8, 17, tzinfo=UTC)
    assert p.date_formats["slash_order"].startswith("DMY")
    # the same file month-first
    p = parse_settlement(data)
    assert p.end == datetime(2026, 8, 17, tzinfo=UTC) and p.date_formats["slash_order"].startswith("MDY")


def test_ambiguous_slash_dates_follow_amazons_documented_mm_dd_yy():
    assert parse_date("08/03/26") == datetime(2026, 8, 3, tzinfo=UTC)
    assert parse_date("08/03/26", "DMY") == datetime(2026, 3, 8, tzinfo=UTC)
    assert parse_date("2026-08-03 22:07:18 UTC") == T0
    assert parse_date("03.08.2026") == datetime(2026, 8, 3, tzinfo=UTC)
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("tomorrow")


def test_posted_date_is_used_where_posted_date_time_is_empty():
    s = rich()
    rows = split_rows(render_v2(s))
    i = rows[0].index("posted-date-time")
    for r in rows[2:]:
        r[i] = ""
    p = parse_settlement(join_rows(rows))
    expected = [int(datetime(ln.posted.year, ln.posted.month, ln.posted.day, tzinfo=UTC).timestamp())
                for ln in s.lines]
    assert p.rows["posted"].tolist() == expected
    assert any("posted-date where empty" in k for k in p.date_formats)


# -- encodings and line ends -----------------------------------------------------------------------
def _french() -> Settlement:
    s = rich()
    s.lines.append(other_line("Frais d'expédition retour – €", "-3.10", marketplace="Amazon.fr"))
    return s


@pytest.mark.parametrize("encoding, bom, expected", [
    ("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"), ("cp1252", False, "cp1252"),
])
def test_encodings(encoding, bom, expected):
    s = _french()
    data = render_v2(s, encoding=encoding, bom=bom)
    p = parse_settlement(data)
    assert p.encoding == expected and p.columns[0] == "settlement-id"
    assert p.rows["amount-description"].tolist()[-1] == "Frais d'expédition retour – €"
    assert p.difference == 0


def test_crlf_line_ends_trailing_blank_lines_and_blank_lines_between_rows():
    s = rich()
    p = parse_settlement(render_v2(s, newline="\r\n", trailing_blank=True))
    assert p.difference == 0 and len(p.rows) == len(s.lines)
    assert p.rows["amount-description"].tolist() == [ln.amount_description for ln in s.lines]
    data = render_v2(s).replace(b"\n", b"\n\n", 3)
    p = parse_settlement(data)
    assert p.difference == 0 and len(p.rows) == len(s.lines)


def test_peek_reads_only_the_head():
    data = render_v2(rich())
    assert peek_settlement_id(data) == "24288684721"
    assert peek_settlement_id(b"sku,ean\n1,2\n") is None


# -- classification --------------------------------------------------------------------------------
@pytest.mark.parametrize("tt, at, ad, category, unified, subtype", [
    ("Order", "ItemPrice", "Principal", "revenue", "revenue", None),
    ("Order", "ItemPrice", "Shipping", "revenue", "revenue", None),
    ("Order", "ItemPrice", "Tax", "revenue", "revenue", None),
    ("Order", "ItemFees", "Commission", "fees", "marketplace_fee", "commission"),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee", "fees", "marketplace_fee", "fulfilment"),
    ("Order", "ItemFees", "ShippingChargeback", "fees", "marketplace_fee", "shipping_chargeback"),
    ("Order", "ItemFees", "DigitalServicesFee", "fees", "marketplace_fee", "digital_services"),
    ("Order", "ItemFees", "VariableClosingFee", "fees", "marketplace_fee", "closing_fee"),
    ("Order", "Shipment-Fees", "FBATransportationFee", "fees", "marketplace_fee", "fulfilment"),
    ("Order", "ShipmentFees", "Shipping", "fees", "marketplace_fee", "shipping"),  # V1 shipment-fee-type
    ("Order", "Promotion", "Shipping", "promotions", "promotion", None),
    ("Order", "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal", "withheld_tax", "withheld_tax", None),
    ("Refund", "ItemPrice", "Principal", "refunds", "refund", None),
    ("Refund", "Promotion", "Principal", "refunds", "refund", None),
    ("Refund", "ItemFees", "Commission", "fees", "marketplace_fee", "commission"),     # credited back
    ("Refund", "ItemFees", "RefundCommission", "fees", "marketplace_fee", "refund_commission"),
    ("Chargeback Refund", "ItemPrice", "Principal", "refunds", "refund", None),
    ("FBAFees", "other-transaction", "Inbound Defect Fee / Base fee", "fees", "marketplace_fee", "fulfilment"),
    ("ServiceFee", "Cost of Advertising", "TransactionTotalAmount", "other", "other", None),
    ("other-transaction", "other-transaction", "Storage Fee", "other", "other", None),
    ("other-transaction", "other-transaction", "Current Reserve Amount", "other", "other", None),
    ("other-transaction", "other-transaction", "Shipping label purchase for return", "other", "shipping_label", None),
    ("Payable to Amazon", "other-transaction", "Payable to Amazon", "other", "other", None),   # V1 vocabulary
    ("WAREHOUSE_DAMAGE", "other-transaction", "WAREHOUSE_DAMAGE", "other", "other", None),
    ("NewTransactionType", "Mystery", "Brand New Thing", "unclassified", "unclassified", None),
    ("Order", "SomethingElse", "Principal", "unclassified", "unclassified", None),
    ("Order", "", "", "unclassified", "other", "quantity_only"),  # V2 quantity-only row: no type, no money
])
def test_classification(tt, at, ad, category, unified, subtype):
    assert classify(tt, at, ad) == category
    assert classify_amount(tt, at, ad)[:2] == (unified, subtype)


def test_a_fee_the_subtype_table_does_not_know_keeps_its_name_and_is_flagged():
    assert classify_amount("Order", "ItemFees", "NewFancyFee") == ("marketplace_fee", "new_fancy_fee", False)


# -- files that are refused ------------------------------------------------------------------------
def reject(data: bytes, reason: str, settings=None) -> FileRejected:
    with pytest.raises(FileRejected) as exc:
        parse_settlement(data, settings)
    assert exc.value.reason == reason, str(exc.value)
    assert exc.value.fix
    return exc.value


def test_a_catalog_csv_is_not_a_settlement():
    e = reject(b"sku,ean,title,brand,price,currency,stock\nA-1,4006381333931,Pen,Acme,1.00,EUR,3\n",
               "not_tab_delimited")
    assert e.where == "line 1"


def test_another_tab_separated_report_is_not_a_settlement():
    e = reject(b"sku\tasin\tprice\tquantity\nA-1\tB000000\t1.00\t3\n", "not_a_settlement")
    assert "amount-type" in e.message and e.where.startswith("line 1")


def test_date_range_transaction_report_is_not_a_settlement():
    data = ('"Includes Amazon Marketplace, Fulfillment by Amazon (FBA), and Amazon Webstore transactions"\n'
            '"date/time","settlement id","type","order id","sku","description","total"\n').encode()
    assert reject(data, "not_tab_delimited")


def test_missing_and_duplicate_columns():
    data = reorder_columns(render_v2(rich()), [c for c in V2_COLUMNS_24 if c != "total-amount"])
    e = reject(data, "missing_column")
    assert "total-amount" in e.message and "line 1" in e.where
    rows = split_rows(render_v2(rich()))
    rows[0][rows[0].index("sku")] = "order-id"
    e = reject(join_rows(rows), "duplicate_column")
    assert "order-id" in e.message


def test_truncated_in_the_middle_of_a_row_names_the_line():
    data = render_v2(rich())
    cut = data[: data.rfind(b"Brand New")]
    e = reject(cut, "truncated")
    assert e.where == f"line {cut.count(NL) + 1}"


def test_a_row_with_missing_fields_in_the_middle_names_its_line():
    data = render_v2(rich())
    line = line_of(data, "Storage Fee")
    rows = split_rows(data)
    rows[line - 1] = rows[line - 1][:10]
    e = reject(join_rows(rows), "column_count")
    assert e.where == f"line {line}" and "10 tab-separated fields but the header has 24" in e.message


def test_bad_amount_names_line_and_column():
    data = render_v2(rich())
    line = line_of(data, "Subscription Fee")
    e = reject(set_cell(data, line, "amount", "39.OO"), "bad_amount")
    assert e.where == f"line {line}, column 'amount'" and "'39.OO'" in e.message


def test_mixed_decimal_separators_are_refused():
    data = render_v2(rich())
    line = line_of(data, "Storage Fee")
    e = reject(set_cell(data, line, "amount", "-7,21"), "bad_amount")
    assert e.where == f"line {line}, column 'amount'"


def test_v1_bad_amount_names_its_v1_column():
    data = render_v1(rich())
    line = line_of(data, "Subscription Fee")
    e = reject(set_cell(data, line, "other-amount", "n/a"), "bad_amount")
    assert e.where == f"line {line}, column 'other-amount'"


def test_bad_amount_line_is_right_with_blank_lines_before_it():
    data = render_v2(rich())
    data = data.replace(b"\n", b"\n\n", 4)
    line = line_of(data, "Subscription Fee")
    rows = data.decode().split("\n")
    cells = rows[line - 1].split("\t")
    cells[V2_COLUMNS_24.index("amount")] = "abc"
    rows[line - 1] = "\t".join(cells)
    e = reject("\n".join(rows).encode(), "bad_amount")
    assert e.where == f"line {line}, column 'amount'"


def test_bad_total_and_bad_dates():
    data = render_v2(rich())
    e = reject(set_cell(data, 2, "total-amount", "lots"), "bad_amount")
    assert e.where == "line 2, column 'total-amount'"
    e = reject(set_cell(data, 2, "deposit-date", "soon"), "bad_date")
    assert e.where == "line 2, column 'deposit-date'"
    line = line_of(data, "Storage Fee")
    e = reject(set_cell(data, line, "posted-date-time", "2026-13-45 10:00:00 UTC"), "bad_date")
    assert e.where == f"line {line}, column 'posted-date-time'"


def test_missing_summary_row():
    rows = split_rows(render_v2(rich()))
    del rows[1]
    e = reject(join_rows(rows), "no_summary_row")
    assert e.where.startswith("line 2")
    reject(split_rows_bytes_header_only(), "no_rows")


def split_rows_bytes_header_only() -> bytes:
    return ("\t".join(V2_COLUMNS_24) + "\n").encode()


def test_rows_of_another_settlement_and_joined_files():
    data = render_v2(rich())
    line = line_of(data, "Storage Fee")
    e = reject(set_cell(data, line, "settlement-id", "99999999999"), "mixed_settlements")
    assert e.where == f"line {line}, column 'settlement-id'"
    e = reject(data + data, "mixed_settlements")
    assert "joined" in e.message and e.where == f"line {data.count(NL) + 1}, column 'settlement-id'"


@pytest.mark.parametrize("make, reason", [
    (lambda d: bytes(range(256)) * 4, "binary"),
    (lambda d: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary"),
    (lambda d: d.decode().encode("utf-16"), "binary"),
    (lambda d: gzip.compress(d), "compressed"),
    (lambda d: _zip(d), "not_a_settlement"),
    (lambda d: b"", "empty_file"),
    (lambda d: b"\n\n  \n", "empty_file"),
])
def test_binary_compressed_and_empty_files(make, reason):
    e = reject(make(render_v2(rich())), reason)
    assert e.message


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("settlement.txt", data)
    return buf.getvalue()


def test_invalid_cp1252_bytes_are_an_encoding_error():
    data = render_v2(rich()).replace(b"Storage Fee", b"Storage \x81\x8d Fee")
    e = reject(data, "encoding")
    assert e.where == f"line {line_of(data, 'Storage ')}, byte {data.index(bytes([0x81]))}" and "0x81" in e.message


# -- hardening (review): traps of research/settlement-formats.md not covered above ---------------
def _big_utf8_with_char_at(offset: int, char: str = "Ł") -> bytes:
    """A valid UTF-8 V2 file larger than the 64 KiB peek window whose ``offset`` falls inside the
    two bytes of ``char`` (a Polish SKU: UTF-8 C5 81; 0x81 is not a cp1252 byte)."""
    lines = []
    for i in range(400):
        lines += order_lines(f"302-{i:07d}-{i:07d}", sku=f"SKU-{char}ódź")
    data = render_v2(Settlement(lines=lines))
    enc = char.encode()
    pos = data.find(enc, offset - 200)
    assert 0 < pos < offset
    # pad the summary row's last (empty) cell with blanks so that ``offset`` splits the character
    nl1 = data.find(NL)
    nl2 = data.find(NL, nl1 + 1)
    data = data[:nl2] + b" " * (offset - pos - 1) + data[nl2:]
    assert data[offset - 1:offset + 1] == enc
    return data


def test_peek_finds_the_id_when_the_head_ends_inside_a_multibyte_character():
    data = _big_utf8_with_char_at(1 << 16)
    assert parse_settlement(data).settlement_id == "24288684721"
    assert peek_settlement_id(data) == "24288684721"


def test_a_date_range_transaction_report_is_named_as_such():
    """Reports > Payments > Reports Repository > Transaction: a quoted CSV with preamble lines."""
    data = ('"Includes Amazon Marketplace, Fulfillment by Amazon (FBA), and Amazon Webstore transactions"\n'
            '"All amounts in USD, unless specified"\n'
            '"Definitions:"\n'
            '"date/time","settlement id","type","order id","sku","description","quantity","total"\n'
            '"Aug 1, 2026 1:00:00 AM PDT","24288684721","Order","302-1111111-1111111","A","Pen","1","-1,052.64"\n'
            ).encode()
    e = reject(data, "not_tab_delimited")
    assert "Date Range" in e.message and "not a settlement" in e.message
    assert "Download Flat File V2" in e.fix and "again" not in e.fix
    # the same report saved tab-separated (no preamble): not a settlement, and said so
    tsv = b"date/time\tsettlement id\ttype\torder id\tsku\tdescription\ttotal\n" \
          b"1 Aug 2026\t24288684721\tOrder\t302-1111111-1111111\tA\tPen\t1.00\n"
    e = reject(tsv, "not_a_settlement")
    assert "Date Range" in e.message


def test_a_catalog_csv_says_what_its_first_line_is_and_where_settlements_come_from():
    e = reject(b"SKU,EAN,Title\nA-1,4006381333931,Pen\n", "not_tab_delimited")
    assert "'SKU,EAN,Title'" in e.message  # the file's own text, not a normalised one
    assert "Download Flat File V2" in e.fix and "again" not in e.fix


def test_not_a_settlement_quotes_the_header_as_written():
    e = reject(b"Header_Kontakt\n\nLivesetzung\n", "not_a_settlement")
    assert "'Header_Kontakt'" in e.message


def test_a_settlement_re_saved_with_quotes_by_a_spreadsheet_is_named_as_such():
    data = render_v2(rich())
    quoted = NL.join(b"\t".join(b'"' + c + b'"' for c in line.split(b"\t"))
                     for line in data.rstrip(NL).split(NL)) + NL
    e = reject(quoted, "not_a_settlement")
    assert "quotes" in e.message and "spreadsheet" in e.message


def test_a_pdf_is_named_as_such():
    e = reject(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "not_a_settlement")
    assert "PDF" in e.message


def test_invalid_bytes_name_the_line():
    data = render_v2(rich())
    line = line_of(data, "Subscription Fee")
    bad = data.replace(b"Subscription Fee", b"Subscr\x81ption Fee")
    e = reject(bad, "encoding")
    assert e.where.startswith(f"line {line}, byte ")


def test_classic_mac_line_ends_are_named_not_reported_as_duplicate_columns():
    e = reject(render_v2(rich()).replace(NL, b"\r"), "csv_syntax")
    assert "line break" in e.message and "duplicate" not in e.message



@pytest.mark.parametrize("group", [" ", "\u00a0", "\u202f"])
def test_amounts_grouped_with_blanks_as_french_and_swiss_downloads_write_them(group):
    s = rich()
    data = render_v2(s, decimal=",").replace(b"\t1234,56\t", f"\t1{group}234,56\t".encode())
    assert f"1{group}234,56".encode() in data
    p = parse_settlement(data)
    assert p.decimal_sep == "," and amounts(p) == [ln.amount for ln in s.lines] and p.difference == 0
